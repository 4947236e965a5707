/* cli/cmd_score.c — `earshot score`: detections judged as events against a
 * scene's truth (earshot/score.h). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "earshot/alloc.h"
#include "earshot/error.h"
#include "earshot/score.h"

static const char help[] =
    "usage: earshot score --truth TRUTH.tsv --events EVENTS.jsonl [options]\n"
    "\n"
    "Judges a daemon's detections of a scene (`earshot scene`) as events, per\n"
    "model: a detection that overlaps a target of its model (widened by the\n"
    "collar) with its label is a hit, a second one a duplicate, one with another\n"
    "label a wrong label, one that overlaps no target a false alarm. Prints event\n"
    "recall and precision (hits / detections), wrong labels, duplicates, false\n"
    "alarms per hour of the scene's non-target audio (and of its non-speech\n"
    "audio), the median onset error and the median latency from a sound's onset\n"
    "to its report, recall per source and label, and where the false alarms fell.\n"
    "\n"
    "EVENTS.jsonl: detection events one a line, as `earshot history --json` or\n"
    "`earshot listen --json` print them (model, label, onset, offset, and decided,\n"
    "the stream time of the report; other lines are skipped).\n"
    "\n"
    "  -t, --truth FILE        the scene's truth\n"
    "  -e, --events FILE       the detections ('-': standard input)\n"
    "  -m, --model NAME        only this model (default: every model of the truth)\n"
    "      --offset S          where the scene began in the daemon's stream (s)\n"
    "      --collar S          seconds a target is widened by on each side (0.25)\n"
    "      --require M:KEY<=V  fail (exit 1) unless model M's KEY is <= V (or >=);\n"
    "                          KEY is a field of --json's output, e.g.\n"
    "                          catdog:recall>=0.9 or digits:fa_per_hour_nonspeech<=2\n"
    "  -l, --list              also list every miss, wrong label, duplicate and false\n"
    "                          alarm, with what was playing\n"
    "  -j, --json              one JSON object per model\n"
    "  -h, --help              this text\n";

#define MAX_MODELS 16
#define MAX_REQUIRE 32

typedef struct {
    es_det *d;
    char **names;               /* model and label strings, owned */
    size_t n, cap;
} det_list;

static void dets_free(det_list *l) {
    for (size_t i = 0; i < 2 * l->n; i++) free(l->names[i]);
    free(l->names);
    free(l->d);
}

static int dets_add(det_list *l, const char *model, const char *label, double on, double off,
                    double decided, double score) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        es_det *nd = realloc(l->d, cap * sizeof *nd);
        char **nn;
        if (!nd) return -1;
        l->d = nd;
        if (!(nn = realloc(l->names, 2 * cap * sizeof *nn))) return -1;
        l->names = nn;
        l->cap = cap;
    }
    l->names[2 * l->n] = strdup(model);
    l->names[2 * l->n + 1] = strdup(label);
    if (!l->names[2 * l->n] || !l->names[2 * l->n + 1]) {
        free(l->names[2 * l->n]);
        free(l->names[2 * l->n + 1]);
        return -1;
    }
    l->d[l->n] = (es_det){l->names[2 * l->n], l->names[2 * l->n + 1], on, off, decided,
                          (float)score};
    l->n++;
    return 0;
}

/* Reads detection events (JSON lines); shifts them by -offset. */
static int read_events(const char *path, double offset, det_list *l) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    if (!f) {
        cli_error("score", "cannot read '%s'", path);
        return CLI_FAIL;
    }
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *ev = json_loads(line, 0, &je), *dec;
        const char *model = NULL, *label = NULL, *kind = NULL;
        double on = NAN, off = NAN, score = 0.0;
        lineno++;
        if (!ev) {
            if (line[strspn(line, " \t\r\n")] == '\0') continue;
            cli_error("score", "%s:%d: not JSON: %s", path, lineno, je.text);
            rc = CLI_FAIL;
            break;
        }
        if (json_unpack(ev, "{s?s, s?s, s?s, s?F, s?F, s?F}", "event", &kind, "model", &model,
                        "label", &label, "onset", &on, "offset", &off, "score", &score) == 0 &&
            (!kind || strcmp(kind, "detection") == 0) && model && label) {
            dec = json_object_get(ev, "decided");
            if (!isfinite(on) || !isfinite(off)) {
                cli_error("score", "%s:%d: a detection needs a numeric onset and offset", path,
                          lineno);
                rc = CLI_FAIL;
            } else if (dets_add(l, model, label, on - offset, off - offset,
                                (json_is_number(dec) ? json_number_value(dec) : off) - offset,
                                score) < 0) {
                cli_error("score", "out of memory");
                rc = CLI_FAIL;
            }
        }
        json_decref(ev);
    }
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

static json_t *keys_json(const es_score_key *k, int n, int fa) {
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(o, k[i].name,
                            fa ? json_pack("{s:i, s:f}", "false_alarms", k[i].false_alarms,
                                           "seconds", k[i].seconds)
                               : json_pack("{s:i, s:i, s:f}", "events", k[i].events, "hits",
                                           k[i].hits, "recall",
                                           k[i].events ? (double)k[i].hits / k[i].events : 0.0));
    return o;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *report_json(const char *model, const es_score_report *r) {
    json_t *o = json_pack(
        "{s:s, s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f}", "model",
        model, "events", r->events, "hits", r->hits, "detections", r->detections, "recall",
        r->recall, "precision", r->precision, "wrong_labels", r->wrong_labels, "duplicates",
        r->duplicates, "false_alarms", r->false_alarms, "false_alarms_nonspeech",
        r->false_alarms_nonspeech, "fa_per_hour", r->fa_per_hour, "fa_per_hour_nonspeech",
        r->fa_per_hour_nonspeech, "seconds", r->seconds, "nontarget_seconds",
        r->nontarget_seconds, "nonspeech_seconds", r->nonspeech_seconds);
    json_object_set_new(o, "onset_error_median", num(r->onset_error_median));
    json_object_set_new(o, "onset_error_abs_median", num(r->onset_error_abs_median));
    json_object_set_new(o, "latency_median", num(r->latency_median));
    json_object_set_new(o, "sources", keys_json(r->sources, r->n_sources, 0));
    json_object_set_new(o, "labels", keys_json(r->labels, r->n_labels, 0));
    json_object_set_new(o, "false_alarms_by_category",
                        keys_json(r->categories, r->n_categories, 1));
    return o;
}

static void print_report(const char *model, const es_score_report *r) {
    printf("%s: %d events, %d detections: recall %.3f (%d), precision %.3f; %d wrong labels, "
           "%d duplicates, %d false alarms (%.1f an hour of %.1f min of other audio; %.1f an "
           "hour outside speech); onset error median %+.2f s (|.| %.2f s), latency median "
           "%.2f s\n",
           model, r->events, r->detections, r->recall, r->hits, r->precision, r->wrong_labels,
           r->duplicates, r->false_alarms, r->fa_per_hour, r->nontarget_seconds / 60.0,
           r->fa_per_hour_nonspeech, r->onset_error_median, r->onset_error_abs_median,
           r->latency_median);
    for (int i = 0; i < r->n_sources; i++)
        printf("  source %-22s %3d/%-3d recall %.3f\n", r->sources[i].name, r->sources[i].hits,
               r->sources[i].events,
               r->sources[i].events ? (double)r->sources[i].hits / r->sources[i].events : 0.0);
    for (int i = 0; i < r->n_labels; i++)
        printf("  label  %-22s %3d/%-3d\n", r->labels[i].name, r->labels[i].hits,
               r->labels[i].events);
    for (int i = 0; i < r->n_categories; i++)
        if (r->categories[i].false_alarms)
            printf("  false alarms on %-12s %3d in %.1f min\n", r->categories[i].name,
                   r->categories[i].false_alarms, r->categories[i].seconds / 60.0);
}

/* Checks "M:KEY<=V" / "M:KEY>=V" against the reports; prints failures. */
static int check_require(const char *req, json_t *const *reports, int n, int *failed) {
    char model[64], keyname[64], op[3];
    double want;
    int used = 0;
    if (sscanf(req, "%63[^:]:%63[a-z_]%2[<>=]%lf%n", model, keyname, op, &want, &used) != 4 ||
        req[used] || (strcmp(op, "<=") != 0 && strcmp(op, ">=") != 0)) {
        cli_error("score", "--require: '%s' is not MODEL:KEY<=VALUE or MODEL:KEY>=VALUE", req);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        json_t *v;
        double got;
        if (strcmp(json_string_value(json_object_get(reports[i], "model")), model) != 0) continue;
        v = json_object_get(reports[i], keyname);
        if (!json_is_number(v)) {
            cli_error("score", "--require: '%s' has no numeric %s", model, keyname);
            return -1;
        }
        got = json_number_value(v);
        if (op[0] == '<' ? !(got <= want) : !(got >= want)) {
            fprintf(stderr, "earshot score: %s: %s is %.4g, required %s %g\n", model, keyname,
                    got, op, want);
            (*failed)++;
        }
        return 0;
    }
    cli_error("score", "--require: the truth has no targets of model '%s'", model);
    return -1;
}

/* Every miss, wrong label, duplicate and false alarm of a model, a line each. */
static void print_list(const es_truth *t, const char *model, const det_list *l,
                       const es_score_detail *dt) {
    static const char *const verdicts[] = {"", "hit", "duplicate", "wrong label", "false alarm"};
    for (size_t i = 0; i < es_truth_size(t); i++) {
        es_truth_part p;
        es_truth_part_get(t, i, &p);
        if (strcmp(p.model, model) == 0 && !dt->hit[i])
            printf("  missed       %8.2f-%8.2f s  %-10s %s/%s\n", p.onset, p.offset, p.label,
                   p.source, p.group);
    }
    for (size_t i = 0; i < l->n; i++) {
        const es_det *d = &l->d[i];
        int v = dt->verdict[i];
        if (v == ES_SCORE_OTHER_MODEL || v == ES_SCORE_HIT) continue;
        printf("  %-12s %8.2f-%8.2f s  %-10s %.2f", verdicts[v], d->onset, d->offset, d->label,
               (double)d->score);
        for (size_t k = 0; k < es_truth_size(t); k++) { /* what was playing */
            es_truth_part p;
            es_truth_part_get(t, k, &p);
            if (p.onset < d->offset && p.offset > d->onset)
                printf("  [%s %s %s/%s]", p.model, p.label, p.source, p.group);
        }
        putchar('\n');
    }
}

/* The models with targets in the truth, in order of appearance. */
static int truth_models(const es_truth *t, const char **models, int max) {
    int n = 0;
    for (size_t i = 0; i < es_truth_size(t); i++) {
        es_truth_part p;
        const char *m;
        int seen;
        es_truth_part_get(t, i, &p);
        m = p.model;
        seen = strcmp(m, "-") == 0;
        for (int k = 0; k < n && !seen; k++) seen = strcmp(models[k], m) == 0;
        if (!seen && n < max) models[n++] = m;
    }
    return n;
}

int cmd_score(int argc, char **argv) {
    static const struct option longopts[] = {
        {"truth", required_argument, NULL, 't'},  {"events", required_argument, NULL, 'e'},
        {"model", required_argument, NULL, 'm'},  {"offset", required_argument, NULL, 'O'},
        {"collar", required_argument, NULL, 'C'}, {"require", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {"list", no_argument, NULL, 'l'},         {NULL, 0, NULL, 0},
    };
    const char *truth_path = NULL, *events = NULL, *only = NULL, *models[MAX_MODELS],
               *require[MAX_REQUIRE];
    double offset = 0.0, collar = 0.25;
    int json = 0, list = 0, opt, status = CLI_USAGE, n_models, n_require = 0, failed = 0;
    es_truth *t = NULL;
    det_list dl = {0};
    json_t *reports[MAX_MODELS] = {0};
    es_score_detail dt = {NULL, NULL};
    char *end;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":t:e:m:ljh", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': truth_path = optarg; break;
        case 'e': events = optarg; break;
        case 'm': only = optarg; break;
        case 'O':
        case 'C': {
            double v = strtod(optarg, &end);
            if (*end || !isfinite(v) || (opt == 'C' && !(v >= 0.0 && v <= 10.0))) {
                cli_error("score", "%s: '%s' is not %s", opt == 'C' ? "--collar" : "--offset",
                          optarg, opt == 'C' ? "a number of seconds in [0, 10]" : "a number");
                goto out;
            }
            *(opt == 'C' ? &collar : &offset) = v;
            break;
        }
        case 'R':
            if (n_require == MAX_REQUIRE) {
                cli_error("score", "at most %d --require", MAX_REQUIRE);
                goto out;
            }
            require[n_require++] = optarg;
            break;
        case 'j': json = 1; break;
        case 'l': list = 1; break;
        case 'h':
            fputs(help, stdout);
            status = CLI_OK;
            goto out;
        default: status = cli_bad_option("score", opt, argv, longopts); goto out;
        }
    }
    if (!truth_path || !events || optind < argc) {
        cli_error("score", "give --truth and --events (see --help)");
        goto out;
    }
    status = CLI_FAIL;
    if (es_truth_read(&t, truth_path) < 0) {
        cli_error("score", "%s", es_errmsg());
        goto out;
    }
    if ((status = read_events(events, offset, &dl)) != CLI_OK) goto out;
    status = CLI_FAIL;
    n_models = only ? 1 : truth_models(t, models, MAX_MODELS);
    if (only) models[0] = only;
    dt.verdict = calloc(dl.n ? dl.n : 1, sizeof *dt.verdict);
    dt.hit = calloc(es_truth_size(t), 1);
    if (!dt.verdict || !dt.hit) {
        cli_error("score", "out of memory");
        goto out;
    }
    for (int i = 0; i < n_models; i++) {
        es_score_report r;
        if (es_score(t, models[i], dl.d, dl.n, collar, &r, &dt) < 0) {
            cli_error("score", "%s", es_errmsg());
            goto out;
        }
        reports[i] = report_json(models[i], &r);
        if (json) {
            char *s = json_dumps(reports[i], JSON_COMPACT);
            if (s) puts(s);
            free(s);
        } else {
            print_report(models[i], &r);
        }
        if (list && !json) print_list(t, models[i], &dl, &dt);
    }
    for (int i = 0; i < n_require; i++)
        if (check_require(require[i], reports, n_models, &failed) < 0) {
            status = CLI_USAGE;
            goto out;
        }
    status = failed ? CLI_FAIL : CLI_OK;
out:
    for (int i = 0; i < MAX_MODELS; i++) json_decref(reports[i]);
    free(dt.verdict);
    free(dt.hit);
    dets_free(&dl);
    es_truth_free(t);
    return status;
}
