/* cli/cmd_eval.c — `earshot eval`: accuracy, per-class precision and recall, confusion. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "earshot/error.h"
#include "earshot/train.h"
#include "recipe.h"

static const char help[] =
    "usage: earshot eval --model MODEL --data DIR --label-regex RE [--json]\n"
    "       earshot eval --model MODEL --manifest CSV [--json]\n"
    "       earshot eval --model MODEL --recipe RECIPE.cfg [--groups A,B] [--json]\n"
    "\n"
    "Classifies every clip as `earshot classify` does and reports accuracy,\n"
    "balanced accuracy, per-class precision and recall, and the confusion\n"
    "matrix (rows: true label, columns: predicted). A clip classified as the\n"
    "background class counts as wrong.\n"
    "\n"
    "  -m, --model FILE        model (safetensors)\n"
    "  -d, --data DIR          folder of audio files\n"
    "  -l, --label-regex RE    label = first capture group of RE on the file name\n"
    "      --manifest CSV      path,label lines instead of --data/--label-regex\n"
    "  -g, --group-regex RE    group = first capture group (with --groups)\n"
    "  -r, --recipe FILE       data folder or manifest and the regexes from a\n"
    "                          training recipe (flags override it)\n"
    "      --groups A,B        evaluate only clips of these groups\n"
    "  -j, --json              one JSON object: accuracy, balanced_accuracy, n, labels,\n"
    "                          confusion, per_class (and per_source, for a manifest\n"
    "                          with a source column)\n"
    "  -h, --help              this text\n";

#define MAX_SOURCES 64

/* es_evaluate over the split, a source at a time: conf gets the whole
 * confusion, right[s] and n[s] each source's right answers and clips. The
 * clip count, or a negative ES_E* code. */
static int evaluate_sources(const es_model *m, es_split split, int *conf, int *right, int *n) {
    int K = es_model_num_labels(m), ns = es_dataset_num_sources(split.ds), total = 0;
    int *c = calloc((size_t)K * K, sizeof *c);
    size_t *idx = malloc((split.n ? split.n : 1) * sizeof *idx);
    if (!c || !idx || ns > MAX_SOURCES) {
        free(c);
        free(idx);
        return ns > MAX_SOURCES ? es_evaluate(m, split, conf) : ES_ENOMEM;
    }
    for (int src = 0; src < ns; src++) {
        size_t k = 0;
        int got;
        for (size_t i = 0; i < split.n; i++) {
            size_t j = split.idx ? split.idx[i] : i;
            if (es_dataset_clip(split.ds, j)->source == src) idx[k++] = j;
        }
        memset(c, 0, (size_t)K * K * sizeof *c);
        if ((got = es_evaluate(m, (es_split){split.ds, idx, k}, c)) < 0) {
            total = got;
            break;
        }
        right[src] = n[src] = 0;
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++) {
                conf[a * K + b] += c[a * K + b];
                n[src] += c[a * K + b];
                if (a == b) right[src] += c[a * K + b];
            }
        total += got;
    }
    free(c);
    free(idx);
    return total;
}

int cmd_eval(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},  {"data", required_argument, NULL, 'd'},
        {"label-regex", required_argument, NULL, 'l'}, {"manifest", required_argument, NULL, 'M'},
        {"group-regex", required_argument, NULL, 'g'}, {"groups", required_argument, NULL, 'G'},
        {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
        {"recipe", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *dir = NULL, *label_re = NULL, *manifest = NULL, *group_re = NULL,
               *recipe_path = NULL;
    char *groups = NULL, *names[64];
    int json = 0, opt, status, K, n_names = 0, *conf = NULL, n, correct = 0;
    es_model *m = NULL;
    es_dataset *ds = NULL;
    size_t *sel = NULL, *rest = NULL, n_sel = 0, n_rest = 0;
    es_split split;
    double bal = 0.0;
    int present = 0, have_recipe = 0, src_right[MAX_SOURCES] = {0}, src_n[MAX_SOURCES] = {0};
    recipe r;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":m:d:l:g:r:jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'd': dir = optarg; break;
        case 'l': label_re = optarg; break;
        case 'M': manifest = optarg; break;
        case 'g': group_re = optarg; break;
        case 'G': groups = optarg; break;
        case 'j': json = 1; break;
        case 'r': recipe_path = optarg; break;
        case 'h': fputs(help, stdout); return CLI_OK;
        default: return cli_bad_option("eval", opt, argv, longopts);
        }
    }
    if (!model_path) {
        cli_error("eval", "--model MODEL is required");
        return CLI_USAGE;
    }
    if (optind < argc) {
        cli_error("eval", "unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    if (recipe_path) {
        char err[1024];
        if (recipe_load(&r, recipe_path, err, sizeof err) < 0) {
            cli_error("eval", "%s", err);
            return CLI_FAIL;
        }
        have_recipe = 1;
        if (!dir && !manifest) {
            dir = r.data_dir[0] ? r.data_dir : NULL;
            manifest = r.manifest[0] ? r.manifest : NULL;
        }
        if (!label_re && r.label_regex[0]) label_re = r.label_regex;
        if (!group_re && r.group_regex[0]) group_re = r.group_regex;
    }
    if (groups && !group_re) {
        cli_error("eval", "--groups needs --group-regex");
        status = CLI_USAGE;
        goto out;
    }
    es_blas_set_threads(1);
    if (es_model_load(&m, model_path) < 0) {
        cli_error("eval", "%s", es_errmsg());
        status = CLI_FAIL;
        goto out;
    }
    status = cli_load_dataset("eval", dir, manifest, label_re, group_re,
                              es_model_features(m)->sample_rate, &ds);
    if (status != CLI_OK) goto out;
    split = (es_split){ds, NULL, es_dataset_size(ds)};
    if (groups) {
        int rc;
        n_names = cli_split_list(groups, names, 64);
        rc = cli_split_groups(ds, names, n_names, &sel, &n_sel, &rest, &n_rest);
        if (rc < -1) {
            cli_error("eval", "--groups: '%s' is no group of the data", names[-rc - 2]);
            status = CLI_USAGE;
            goto out;
        }
        if (rc < 0) {
            cli_error("eval", "out of memory");
            status = CLI_FAIL;
            goto out;
        }
        split = (es_split){ds, sel, n_sel};
    }
    K = es_model_num_labels(m);
    conf = calloc((size_t)K * K, sizeof *conf);
    if (!conf || (n = evaluate_sources(m, split, conf, src_right, src_n)) < 0) {
        cli_error("eval", "%s", conf ? es_errmsg() : "out of memory");
        status = CLI_FAIL;
        goto out;
    }
    for (int k = 0; k < K; k++) {
        int row = 0;
        correct += conf[k * K + k];
        for (int j = 0; j < K; j++) row += conf[k * K + j];
        if (row) {
            bal += (double)conf[k * K + k] / row;
            present++;
        }
    }
    bal = present ? bal / present : 0.0;
    if (json) {
        json_t *o = json_object(), *labels = json_array(), *cm = json_array(), *pc = json_object();
        char *s;
        for (int k = 0; k < K; k++) {
            json_t *row = json_array();
            int tp = conf[k * K + k], rsum = 0, csum = 0;
            for (int j = 0; j < K; j++) {
                json_array_append_new(row, json_integer(conf[k * K + j]));
                rsum += conf[k * K + j];
                csum += conf[j * K + k];
            }
            json_array_append_new(cm, row);
            json_array_append_new(labels, json_string(es_model_label(m, k)));
            json_object_set_new(pc, es_model_label(m, k),
                                json_pack("{s:f,s:f,s:i}", "precision", csum ? (double)tp / csum : 0.0,
                                          "recall", rsum ? (double)tp / rsum : 0.0, "n", rsum));
        }
        json_object_set_new(o, "accuracy", json_real(n ? (double)correct / n : 0.0));
        json_object_set_new(o, "balanced_accuracy", json_real(bal));
        json_object_set_new(o, "n", json_integer(n));
        json_object_set_new(o, "labels", labels);
        json_object_set_new(o, "confusion", cm);
        json_object_set_new(o, "per_class", pc);
        if (es_dataset_num_sources(ds) > 1 && es_dataset_num_sources(ds) <= MAX_SOURCES) {
            json_t *ps = json_object();
            for (int k = 0; k < es_dataset_num_sources(ds); k++)
                if (src_n[k])
                    json_object_set_new(ps, es_dataset_source(ds, k),
                                        json_pack("{s:f,s:i}", "accuracy",
                                                  (double)src_right[k] / src_n[k], "n", src_n[k]));
            json_object_set_new(o, "per_source", ps);
        }
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("accuracy %.4f (%d of %d), balanced accuracy %.4f\n\n", n ? (double)correct / n : 0.0,
               correct, n, bal);
        printf("%-12s %9s %9s %6s\n", "label", "precision", "recall", "n");
        for (int k = 0; k < K; k++) {
            int tp = conf[k * K + k], rsum = 0, csum = 0;
            for (int j = 0; j < K; j++) rsum += conf[k * K + j], csum += conf[j * K + k];
            printf("%-12s %9.4f %9.4f %6d\n", es_model_label(m, k), csum ? (double)tp / csum : 0.0,
                   rsum ? (double)tp / rsum : 0.0, rsum);
        }
        if (es_dataset_num_sources(ds) > 1 && es_dataset_num_sources(ds) <= MAX_SOURCES) {
            printf("\n%-20s %9s %6s\n", "source", "accuracy", "n");
            for (int k = 0; k < es_dataset_num_sources(ds); k++)
                if (src_n[k])
                    printf("%-20.20s %9.4f %6d\n", es_dataset_source(ds, k),
                           (double)src_right[k] / src_n[k], src_n[k]);
        }
        printf("\nconfusion (rows true, columns predicted):\n%12s", "");
        for (int j = 0; j < K; j++) printf(" %5.5s", es_model_label(m, j));
        putchar('\n');
        for (int k = 0; k < K; k++) {
            printf("%-12.12s", es_model_label(m, k));
            for (int j = 0; j < K; j++) printf(" %5d", conf[k * K + j]);
            putchar('\n');
        }
    }
out:
    free(conf);
    free(sel);
    free(rest);
    es_dataset_free(ds);
    es_model_free(m);
    if (have_recipe) recipe_free(&r);
    return status;
}
