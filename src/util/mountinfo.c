/* mountinfo reading and the status address; contract in include/util/mountinfo.h. */
#include "util/mountinfo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

void sq_mountinfo_unescape(char *s)
{
    char *out = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
}

static void copy_field(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
    sq_mountinfo_unescape(dst);
}

/* A line is "ID PARENT MAJOR:MINOR ROOT TARGET OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER". */
static bool parse_line(char *line, struct sq_mount_entry *e)
{
    char *save = NULL;
    char *field[5];
    for (int i = 0; i < 5; i++) {
        field[i] = strtok_r(i ? NULL : line, " \n", &save);
        if (!field[i])
            return false;
    }
    if (sscanf(field[2], "%u:%u", &e->major, &e->minor) != 2)
        return false;
    copy_field(e->target, sizeof(e->target), field[4]);
    char *f;
    while ((f = strtok_r(NULL, " \n", &save)) && strcmp(f, "-") != 0)
        ;
    char *type = f ? strtok_r(NULL, " \n", &save) : NULL;
    char *source = type ? strtok_r(NULL, " \n", &save) : NULL;
    if (!type || !source)
        return false;
    copy_field(e->type, sizeof(e->type), type);
    copy_field(e->source, sizeof(e->source), source);
    return true;
}

bool sq_mountinfo_each(bool (*visit)(const struct sq_mount_entry *e, void *arg), void *arg)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[8192];
    struct sq_mount_entry e;
    bool stopped = false;
    while (!stopped && fgets(line, sizeof(line), f))
        if (parse_line(line, &e))
            stopped = visit(&e, arg);
    fclose(f);
    return stopped;
}

socklen_t sq_status_address(unsigned major, unsigned minor, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    /* sun_path[0] == '\0' makes it abstract; the name is not NUL-terminated. */
    int n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "smbquic/status/%u:%u",
                     major, minor);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}
