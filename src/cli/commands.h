/* `smbquic` subcommands. Each returns 0 or a negative error with *f filled. */
#ifndef SMBQUIC_CLI_COMMANDS_H
#define SMBQUIC_CLI_COMMANDS_H

#include <stdbool.h>

#include "client/options.h"
#include "client/session.h"

/* Connects stage by stage, printing one line per stage; does not need a session. */
int cmd_check(const struct sq_options *o, struct sq_failure *f);
int cmd_info(struct sq_session *s, const struct sq_options *o, struct sq_failure *f);
int cmd_stat(struct sq_session *s, const struct sq_options *o, struct sq_failure *f);
int cmd_ls(struct sq_session *s, const struct sq_options *o, bool long_format,
           struct sq_failure *f);
int cmd_mkdir(struct sq_session *s, const struct sq_options *o, struct sq_failure *f);
int cmd_rm(struct sq_session *s, const struct sq_options *o, struct sq_failure *f);
int cmd_rmdir(struct sq_session *s, const struct sq_options *o, struct sq_failure *f);
int cmd_mv(struct sq_session *s, const struct sq_options *o, const char *new_path,
           struct sq_failure *f);
int cmd_get(struct sq_session *s, const struct sq_options *o, const char *local,
            struct sq_failure *f);
/* Prints the status of the mount MOUNTPOINT is on; returns the exit status. */
int cmd_status(const char *mountpoint);
int cmd_put(struct sq_session *s, const struct sq_options *o, const char *local,
            struct sq_failure *f);

#endif
