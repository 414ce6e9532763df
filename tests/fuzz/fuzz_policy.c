/* libFuzzer target: the system policy file (include/client/policy.h), which any text may
 * reach if an administrator writes it. A parse either fails with a message and no rules, or
 * gives rules whose patterns and requirements hold what the format allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/policy.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sq_policy p;
    char why[256] = "";
    int rc = sq_policy_parse((const char *)data, size, &p, why, sizeof(why));
    if (rc != 0) {
        if ((rc != SQ_ERR_INVAL && rc != SQ_ERR_NOMEM) || p.count || p.rules || !why[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < p.count; i++) {
        const struct sq_policy_rule *r = &p.rules[i];
        if (!r->server[0] || !r->share[0] || strchr(r->server, '/') || strchr(r->share, '/') ||
            (strchr(r->server, '*') && strcmp(r->server, "*") != 0) || r->line == 0 ||
            (r->requires >> SQ_POLICY_REQUIREMENTS) != 0)
            abort();
        if (((r->requires >> SQ_POLICY_MIN_DIALECT) & 1) != (r->min_dialect != 0))
            abort();
    }
    struct sq_policy_match m;
    sq_policy_match(&p, "fs.example.com", "192.0.2.1", "share", &m);
    for (int k = 0; k < SQ_POLICY_REQUIREMENTS; k++)
        if (((m.requires >> k) & 1) != (m.by[k] != NULL))
            abort();
    sq_policy_free(&p);
    return 0;
}
