/* cli/cmd_scene.c — `earshot scene`: a long test recording and its truth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scene.h"

static const char help[] =
    "usage: earshot scene --target MODEL=CSV[:CATEGORY] ... [--other CSV ...]\n"
    "                     --out SCENE.wav --truth TRUTH.tsv [options]\n"
    "\n"
    "Builds a long recording from labelled clips, for judging a daemon's\n"
    "detections as events (`earshot score`): targets of each model and other\n"
    "sounds in turn, with gaps of room tone, over a faint room tone. Sources take\n"
    "turns, so a small one is heard as often as a large one. TRUTH.tsv lists\n"
    "every part: model, label, onset, offset, category, source, group (a\n"
    "target's events are its sounds; other parts have model '-').\n"
    "\n"
    "Manifests are CSV files with a header, as `earshot train` reads them:\n"
    "path,label[,group][,source][,start,end]. An other sound's label is its kind\n"
    "(speech, music, street, household, animal...), and kinds take turns too.\n"
    "\n"
    "  -t, --target MODEL=CSV[:CATEGORY]  clips MODEL should detect; CATEGORY says\n"
    "                          what they sound like to other models (default\n"
    "                          'target'; 'speech' for spoken words)\n"
    "  -o, --other CSV         sounds no model should detect (repeatable)\n"
    "      --out FILE          the scene, 16-bit WAV\n"
    "      --truth FILE        its truth, tab-separated\n"
    "  -m, --minutes M         length (default 30)\n"
    "      --target-share F    at most this share of the time in targets and the room\n"
    "                          tone after each (default 0.25)\n"
    "      --max-event S       a longer target clip is cut to a stretch of S seconds\n"
    "                          that starts with a sound (default 6)\n"
    "      --rate HZ           sample rate (default 16000)\n"
    "      --no-synthetic      no generated noise or quiet stretches among the others\n"
    "  -s, --seed N            which clips, levels and gaps (default 1)\n"
    "  -h, --help              this text\n";

/* MODEL=CSV[:CATEGORY], in place. */
static int parse_target(char *arg, char **model, char **csv, char **category) {
    char *eq = strchr(arg, '='), *colon;
    if (!eq || eq == arg || !eq[1]) return -1;
    *eq = '\0';
    *model = arg;
    *csv = eq + 1;
    colon = strrchr(*csv, ':');
    *category = "target";
    if (colon && !strchr(colon, '/') && colon[1]) {
        *colon = '\0';
        *category = colon + 1;
    }
    return 0;
}

static int number(const char *flag, const char *arg, double lo, double hi, double *out) {
    char *end;
    double v = strtod(arg, &end);
    if (*end || !(v >= lo && v <= hi)) {
        cli_error("scene", "%s: '%s' is not a number in [%g, %g]", flag, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_scene(int argc, char **argv) {
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},       {"other", required_argument, NULL, 'o'},
        {"out", required_argument, NULL, 'O'},          {"truth", required_argument, NULL, 'T'},
        {"minutes", required_argument, NULL, 'm'},      {"seed", required_argument, NULL, 's'},
        {"target-share", required_argument, NULL, 'S'}, {"max-event", required_argument, NULL, 'E'},
        {"rate", required_argument, NULL, 'R'},         {"no-synthetic", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0},
    };
    scene_spec s = scene_defaults();
    const char *out = NULL, *truth = NULL;
    char err[1024];
    int opt, status = CLI_USAGE, n_targets = 0;
    double v;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":t:o:m:s:h", longopts, NULL)) != -1) {
        char *model, *csv, *category;
        switch (opt) {
        case 't':
            if (parse_target(optarg, &model, &csv, &category) < 0) {
                cli_error("scene", "--target: '%s' is not MODEL=CSV[:CATEGORY]", optarg);
                goto out;
            }
            if (scene_add_targets(&s, model, category, csv, err, sizeof err) < 0) goto bad_data;
            n_targets++;
            break;
        case 'o':
            if (scene_add_others(&s, optarg, err, sizeof err) < 0) goto bad_data;
            break;
        case 'O': out = optarg; break;
        case 'T': truth = optarg; break;
        case 'm':
            if (number("--minutes", optarg, 0.1, 24 * 60, &v) < 0) goto out;
            s.seconds = v * 60.0;
            break;
        case 's':
            if (number("--seed", optarg, 0, 1e15, &v) < 0) goto out;
            s.seed = (uint64_t)v;
            break;
        case 'S':
            if (number("--target-share", optarg, 0.0, 0.5, &s.target_share) < 0) goto out;
            break;
        case 'E':
            if (number("--max-event", optarg, 0.5, 60, &s.max_event_seconds) < 0) goto out;
            break;
        case 'R':
            if (number("--rate", optarg, 8000, 48000, &v) < 0) goto out;
            s.rate = (int)v;
            break;
        case 'N': s.synthetic = 0; break;
        case 'h':
            fputs(help, stdout);
            status = CLI_OK;
            goto out;
        default: status = cli_bad_option("scene", opt, argv, longopts); goto out;
        }
    }
    if (optind < argc) {
        cli_error("scene", "unexpected argument '%s' (manifests go with --target and --other)",
                  argv[optind]);
        goto out;
    }
    if (!out || !truth || n_targets == 0) {
        cli_error("scene", "give --target MODEL=CSV, --out and --truth (see --help)");
        goto out;
    }
    if (scene_build(&s, out, truth, err, sizeof err) < 0) goto bad_data;
    status = CLI_OK;
    goto out;
bad_data:
    cli_error("scene", "%s", err);
    status = CLI_FAIL;
out:
    scene_free(&s);
    return status;
}
