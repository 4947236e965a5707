/* cli/cli.h — what the `earshot` subcommands share. */
#ifndef EARSHOT_CLI_H
#define EARSHOT_CLI_H

#include <getopt.h>

/* Exit codes: 0 success, 1 the work failed, 2 the command line was wrong. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

/* Prints "earshot CMD: message" to stderr (one line). */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports a getopt_long failure: the unknown option or the option missing
 * its value, naming it. Returns CLI_USAGE. */
int cli_bad_option(const char *cmd, int opt, char **argv, const struct option *longopts);

/* Scans or reads a dataset and loads it at rate; prints the error itself.
 * Returns a CLI_ status. */
#include "earshot/dataset.h"
int cli_load_dataset(const char *cmd, const char *dir, const char *manifest, const char *label_re,
                     const char *group_re, int rate, es_dataset **ds);

/* Clips whose group is one of names → in_idx, the rest → out_idx (both
 * malloc'd). -2-k when names[k] is no group of the data. */
int cli_split_groups(const es_dataset *ds, char *const *names, int n_names, size_t **in_idx,
                     size_t *n_in, size_t **out_idx, size_t *n_out);

/* Splits a comma list in place. */
int cli_split_list(char *list, char **out, int max);

int cmd_features(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_example(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_scene(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_mine(int argc, char **argv);

#endif
