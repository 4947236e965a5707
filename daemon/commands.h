/* daemon/commands.h — what the command files share: the handler type, the
 * reply helpers, and the handlers of teach.c for commands.c's table. */
#ifndef EARSHOTD_COMMANDS_H
#define EARSHOTD_COMMANDS_H
#include <jansson.h>
#include <stdio.h>
#include "daemon.h"

enum { CMD_PRIV = 1 };   /* changes state: root, the daemon's user or the group */

/* A handler returns the reply's members (new reference), or NULL with *code
 * (a stable word) and err (a sentence). */
typedef json_t *(*cmd_fn)(esd *d, client *c, json_t *req, const char **code, char *err,
                          size_t errlen);

#define FAIL(c, ...)                          \
    do {                                      \
        *code = (c);                          \
        snprintf(err, errlen, __VA_ARGS__);   \
        return NULL;                          \
    } while (0)

/* The optional string member key; *ok = 0 when present but not a string. */
const char *cmd_opt_str(json_t *req, const char *key, int *ok);
/* Members a command does not know are errors, as in the config files. */
int cmd_check_members(json_t *req, const char *const *known, char *err, size_t errlen);
json_t *cmd_bad_argument(const char **code);
/* The slot named by "model": its index, -1 when absent and not required,
 * -2 with *code and err set. */
int cmd_slot_arg(esd *d, json_t *req, int required, const char **code, char *err, size_t errlen);
json_t *cmd_model_info(esd *d, int i);

/* teach.c */
json_t *cmd_example_add(esd *d, client *c, json_t *req, const char **code, char *err, size_t errlen);
json_t *cmd_examples(esd *d, client *c, json_t *req, const char **code, char *err, size_t errlen);
json_t *cmd_example_remove(esd *d, client *c, json_t *req, const char **code, char *err,
                           size_t errlen);
json_t *cmd_finetune(esd *d, client *c, json_t *req, const char **code, char *err, size_t errlen);
json_t *cmd_finetune_status(esd *d, client *c, json_t *req, const char **code, char *err,
                            size_t errlen);
json_t *cmd_finetune_cancel(esd *d, client *c, json_t *req, const char **code, char *err,
                            size_t errlen);
json_t *cmd_save(esd *d, client *c, json_t *req, const char **code, char *err, size_t errlen);
json_t *cmd_rollback(esd *d, client *c, json_t *req, const char **code, char *err, size_t errlen);
#endif
