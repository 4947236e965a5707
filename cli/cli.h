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

int cmd_features(int argc, char **argv);
int cmd_classify(int argc, char **argv);

#endif
