/*
 * udp-flood: load generator and sink for measuring UDP forwarding (e.g. through udp-impair).
 *
 *   udp-flood sink [--listen ADDR:PORT] [--ready-file FILE] [--idle SEC]
 *       Counts datagrams until none arrived for SEC seconds (default 1) after the first one,
 *       or until SIGINT/SIGTERM, then prints "received= bytes= seconds= pps= mbit=" (the
 *       rate over first to last datagram).
 *   udp-flood send --target ADDR:PORT [--size BYTES] [--seconds SEC] [--mbit RATE]
 *       Sends BYTES-sized datagrams (default 1200) for SEC seconds (default 2), as fast as
 *       possible or paced to RATE Mbit/s, then prints "sent= seconds= pps= mbit=".
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH        64
#define MAX_DATAGRAM 65536

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int resolve(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    const char *start = text;
    size_t host_len;
    struct addrinfo hints = {0};
    struct addrinfo *res;

    if (!colon)
        return -1;
    host_len = (size_t)(colon - text);
    if (text[0] == '[' && host_len >= 2 && colon[-1] == ']') {
        start = text + 1;
        host_len -= 2;
    }
    if (host_len == 0 || host_len >= sizeof(host))
        return -1;
    memcpy(host, start, host_len);
    host[host_len] = '\0';
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_buffers(int fd)
{
    int size = 4 * 1024 * 1024;

    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int run_sink(const char *listen_text, const char *ready_file, double idle)
{
    static unsigned char buffers[BATCH][MAX_DATAGRAM];
    struct sockaddr_storage addr;
    socklen_t len;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint64_t packets = 0;
    uint64_t bytes = 0;
    double first = 0;
    double last = 0;
    int fd;

    if (resolve(listen_text, &addr, &len) != 0) {
        fprintf(stderr, "udp-flood: bad address '%s'\n", listen_text);
        return 2;
    }
    fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, len) != 0) {
        fprintf(stderr, "udp-flood: bind: %s\n", strerror(errno));
        return 1;
    }
    set_buffers(fd);
    if (ready_file) {
        FILE *f = fopen(ready_file, "w");

        len = sizeof(addr);
        getsockname(fd, (struct sockaddr *)&addr, &len);
        if (!f)
            return 1;
        fprintf(f, "%u\n",
                ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                 : ((struct sockaddr_in *)&addr)->sin_port));
        fclose(f);
    }
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = buffers[i];
        iov[i].iov_len = MAX_DATAGRAM;
    }
    while (!stop_signal) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int n;

        if (poll(&pfd, 1, 100) <= 0) {
            if (packets && now_sec() - last > idle)
                break;
            continue;
        }
        memset(msgs, 0, sizeof(msgs));
        for (int i = 0; i < BATCH; i++) {
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            continue;
        last = now_sec();
        if (!packets)
            first = last;
        packets += (uint64_t)n;
        for (int i = 0; i < n; i++)
            bytes += msgs[i].msg_len;
    }
    close(fd);
    {
        double seconds = last > first ? last - first : 0;

        printf("received=%llu bytes=%llu seconds=%.3f pps=%.0f mbit=%.1f\n",
               (unsigned long long)packets, (unsigned long long)bytes, seconds,
               seconds > 0 ? (double)packets / seconds : 0,
               seconds > 0 ? (double)bytes * 8 / seconds / 1e6 : 0);
    }
    return 0;
}

static int run_send(const char *target_text, size_t size, double seconds, double mbit)
{
    static unsigned char payload[MAX_DATAGRAM];
    struct sockaddr_storage addr;
    socklen_t len;
    struct mmsghdr msgs[BATCH];
    struct iovec iov;
    uint64_t sent = 0;
    double start;
    double end;
    double elapsed;
    int fd;

    if (resolve(target_text, &addr, &len) != 0) {
        fprintf(stderr, "udp-flood: bad address '%s'\n", target_text);
        return 2;
    }
    fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, len) != 0) {
        fprintf(stderr, "udp-flood: connect: %s\n", strerror(errno));
        return 1;
    }
    set_buffers(fd);
    memset(payload, 0xa5, sizeof(payload));
    iov.iov_base = payload;
    iov.iov_len = size;
    memset(msgs, 0, sizeof(msgs));
    for (int i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    start = now_sec();
    end = start + seconds;
    while (!stop_signal) {
        double now = now_sec();
        unsigned burst = BATCH;
        int n;

        if (now >= end)
            break;
        if (mbit > 0) {
            double allowed = (now - start) * mbit * 1e6 / 8 / (double)size;

            if ((double)sent >= allowed) {
                struct timespec ts = {0, 20000};

                nanosleep(&ts, NULL);
                continue;
            }
            if (allowed - (double)sent < BATCH)
                burst = (unsigned)(allowed - (double)sent) + 1;
        }
        n = sendmmsg(fd, msgs, burst, 0);
        if (n > 0)
            sent += (uint64_t)n;
        else if (errno != EINTR && errno != ECONNREFUSED && errno != ENOBUFS && errno != EAGAIN)
            break;
    }
    elapsed = now_sec() - start;
    close(fd);
    printf("sent=%llu seconds=%.3f pps=%.0f mbit=%.1f\n", (unsigned long long)sent, elapsed,
           (double)sent / elapsed, (double)sent * (double)size * 8 / elapsed / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'}, {"ready-file", required_argument, NULL, 'r'},
        {"idle", required_argument, NULL, 'i'},   {"target", required_argument, NULL, 't'},
        {"size", required_argument, NULL, 's'},   {"seconds", required_argument, NULL, 'd'},
        {"mbit", required_argument, NULL, 'm'},   {NULL, 0, NULL, 0}};
    const char *listen_text = "127.0.0.1:0";
    const char *ready_file = NULL;
    const char *target_text = NULL;
    double idle = 1;
    double seconds = 2;
    double mbit = 0;
    long size = 1200;
    struct sigaction sa = {0};
    int opt;

    if (argc < 2 || (strcmp(argv[1], "sink") != 0 && strcmp(argv[1], "send") != 0)) {
        fprintf(stderr, "usage: udp-flood sink|send [options] (see the source's header)\n");
        return 2;
    }
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'l':
            listen_text = optarg;
            break;
        case 'r':
            ready_file = optarg;
            break;
        case 'i':
            idle = atof(optarg);
            break;
        case 't':
            target_text = optarg;
            break;
        case 's':
            size = atol(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 'm':
            mbit = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (strcmp(argv[1], "sink") == 0)
        return run_sink(listen_text, ready_file, idle);
    if (!target_text || size < 1 || size > 65000) {
        fprintf(stderr, "udp-flood send: --target required, --size 1..65000\n");
        return 2;
    }
    return run_send(target_text, (size_t)size, seconds, mbit);
}
