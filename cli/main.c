/* cli/main.c — `earshot`: the command table and dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "earshot/log.h"

static const cli_command commands[] = {
    {"features", cmd_features, "compute a feature matrix of an audio file (.npy)"},
    {"classify", cmd_classify, "print the most likely label of audio files"},
    {"train", cmd_train, "train a model from a recipe and labelled audio"},
    {"eval", cmd_eval, "accuracy, per-class precision/recall and confusion of a model"},
    {"scene", cmd_scene, "build a long test recording of labelled clips, and its truth"},
    {"score", cmd_score, "judge a daemon's detections of a scene as events"},
    {"mine", cmd_mine, "find the sounds a model mistakes for its classes (hard negatives)"},
    {"inspect", cmd_inspect, "draw waveform, spectrum, spectrogram and mel spectrogram (PNG)"},
    {"devices", cmd_devices, "list the audio input devices earshotd can capture from"},
    {"status", cmd_status, "the running daemon's input, models, detections and latency"},
    {"listen", cmd_listen, "follow the daemon's detections as they happen"},
    {"predict", cmd_predict, "the daemon's latest smoothed posteriors"},
    {"history", cmd_history, "the daemon's last detections"},
    {"load", cmd_load, "load a model file into a running daemon"},
    {"set", cmd_set, "change a running model's detection settings"},
    {"example", cmd_example, "add, list or remove a running model's fine-tuning examples"},
    {"finetune", cmd_finetune, "fine-tune a running model on its examples"},
    {"save", cmd_save, "write a running model (fine-tuned or not) to a file"},
    {"rollback", cmd_rollback, "return a running model to the one before its last change"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

void cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "earshot %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_bad_option(const char *cmd, int opt, char **argv, const struct option *longopts) {
    const char *arg = argv[optind - 1];
    if (opt == ':') {
        cli_error(cmd, "option '%s' needs a value (see 'earshot %s --help')", arg, cmd);
        return CLI_USAGE;
    }
    /* getopt leaves a long option's name in argv; a short one in optopt. */
    if (optopt && strncmp(arg, "--", 2) != 0) {
        cli_error(cmd, "unknown option '-%c' (see 'earshot %s --help')", optopt, cmd);
    } else {
        const char *eq = strchr(arg, '=');
        int n = eq ? (int)(eq - arg) : (int)strlen(arg);
        for (const struct option *o = longopts; o && o->name; o++) {
            if (o->has_arg == no_argument && eq && strncmp(arg + 2, o->name, (size_t)n - 2) == 0) {
                cli_error(cmd, "option '--%s' takes no value", o->name);
                return CLI_USAGE;
            }
        }
        cli_error(cmd, "unknown option '%.*s' (see 'earshot %s --help')", n, arg, cmd);
    }
    return CLI_USAGE;
}

static void usage(FILE *out) {
    fputs("usage: earshot COMMAND [OPTIONS] ...\n\ncommands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n'earshot COMMAND --help' describes a command.\n", out);
}

static void log_to_stderr(void *user, int level, const char *msg) {
    (void)user;
    fprintf(stderr, "earshot: %s%s\n", level <= ES_LOG_WARNING ? "warning: " : "", msg);
}

int main(int argc, char **argv) {
    const char *name;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < N_COMMANDS; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) return commands[i].run(2, help_argv);
        }
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0) {
        puts("earshot " EARSHOT_VERSION);
        return CLI_OK;
    }
    es_log_set_callback(log_to_stderr, NULL, ES_LOG_WARNING);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "earshot: unknown command '%s' (see 'earshot --help')\n", name);
    return CLI_USAGE;
}
