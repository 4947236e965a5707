/* cli/cmd_mine.c — `earshot mine`: the stretches of sounds that should be
 * nothing on which a model fires, as a background manifest to train on
 * (hard negatives). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "earshot/alloc.h"
#include "earshot/classify.h"
#include "earshot/dataset.h"
#include "earshot/error.h"
#include "earshot/model.h"
#include "earshot/nn.h"

static const char help[] =
    "usage: earshot mine --model MODEL --manifest CSV [--manifest CSV ...] --out CSV\n"
    "                    [--threshold P] [--per-clip N] [--kind NAME]\n"
    "\n"
    "Runs a model over audio that holds none of its classes (manifests as\n"
    "`earshot train` reads them) window by window, as the daemon would, and\n"
    "writes every window where a class other than background reaches the\n"
    "threshold as a row of a background manifest (path, label, group, source,\n"
    "start, end): the sounds the model mistakes for its own, to train it on\n"
    "(a recipe's data.background_manifests, weighed by train.background_weights).\n"
    "\n"
    "  -m, --model FILE        the model (it needs a background class)\n"
    "  -M, --manifest CSV      audio that holds none of the model's classes\n"
    "  -o, --out CSV           the manifest to write\n"
    "  -t, --threshold P       a window counts when a class reaches P (default 0.5)\n"
    "  -n, --per-clip N        at most N windows of one clip, the surest first (default 3)\n"
    "  -k, --kind NAME         the rows' label (default 'hard')\n"
    "  -h, --help              this text\n";

#define MAX_MANIFESTS 16

typedef struct {
    size_t at;                  /* window start, samples */
    float p;                    /* the best non-background posterior */
} hit;

static int by_p(const void *a, const void *b) {
    float x = ((const hit *)a)->p, y = ((const hit *)b)->p;
    return x > y ? -1 : x < y;
}

/* The best non-background posterior of each window of x[n] (every stride;
 * one padded window for a short clip) into h; the windows that reach thr
 * are kept, the surest first. Returns how many, or a negative ES_E* code. */
static long windows(es_classifier *c, const es_model *m, const float *x, size_t n, float thr,
                    hit *h, size_t cap) {
    size_t win = es_classifier_window(c), stride = es_classifier_stride(c), k = 0;
    int K = es_model_num_labels(m), bg = es_model_label_index(m, "background");
    float post[ES_MAX_LABELS];
    for (size_t at = 0; k < cap && (at == 0 || at + win <= n); at += stride) {
        float best = 0.0f;
        int rc = es_classify(c, x + at, n < win ? n : win, post, NULL);
        if (rc < 0) return rc;
        for (int j = 0; j < K; j++)
            if (j != bg && post[j] > best) best = post[j];
        if (best >= thr) h[k++] = (hit){at, best};
    }
    qsort(h, k, sizeof *h, by_p);
    return (long)k;
}

/* A CSV field in quotes, its quotes doubled. */
static void put_quoted(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* path,kind,group,source,start,end for each window kept. */
static int mine_one(es_classifier *c, const es_model *m, const es_dataset *ds, size_t i,
                    float thr, int per_clip, const char *kind, FILE *out, size_t *found) {
    const es_clip *clip = es_dataset_clip(ds, i);
    int rate = es_model_features(m)->sample_rate;
    size_t n, cap;
    float *x;
    hit *h;
    long k;
    if (es_dataset_read_clip(ds, i, rate, &x, &n) < 0) return -1;
    cap = n / es_classifier_stride(c) + 2;
    if (!(h = malloc(cap * sizeof *h))) {
        es_free(x);
        return -1;
    }
    k = windows(c, m, x, n, thr, h, cap);
    for (long j = 0; j < k && j < per_clip; j++) {
        double t0 = (double)h[j].at / rate;
        double t1 = (double)(h[j].at + es_classifier_window(c)) / rate;
        put_quoted(out, clip->path);
        fprintf(out, ",%s,%s,%s,%.3f,%.3f\n", kind,
                es_dataset_group(ds, clip->group), es_dataset_source(ds, clip->source), t0,
                t1 < (double)n / rate ? t1 : (double)n / rate);
        (*found)++;
    }
    free(h);
    es_free(x);
    return k < 0 ? -1 : 0;
}

int cmd_mine(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},    {"manifest", required_argument, NULL, 'M'},
        {"out", required_argument, NULL, 'o'},      {"threshold", required_argument, NULL, 't'},
        {"per-clip", required_argument, NULL, 'n'}, {"kind", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *out_path = NULL, *kind = "hard", *manifests[MAX_MANIFESTS];
    int opt, n_man = 0, per_clip = 3, status = CLI_USAGE;
    float thr = 0.5f;
    char tmp[4200], *end;
    es_model *m = NULL;
    es_classifier *c = NULL;
    FILE *out = NULL;
    size_t found = 0, clips = 0;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":m:M:o:t:n:k:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'M':
            if (n_man == MAX_MANIFESTS) {
                cli_error("mine", "at most %d manifests", MAX_MANIFESTS);
                return CLI_USAGE;
            }
            manifests[n_man++] = optarg;
            break;
        case 'o': out_path = optarg; break;
        case 't':
            thr = strtof(optarg, &end);
            if (*end || !(thr > 0.0f && thr <= 1.0f)) {
                cli_error("mine", "--threshold: '%s' is not in (0, 1]", optarg);
                return CLI_USAGE;
            }
            break;
        case 'n':
            per_clip = (int)strtol(optarg, &end, 10);
            if (*end || per_clip < 1 || per_clip > 1000) {
                cli_error("mine", "--per-clip: '%s' is not a count in [1, 1000]", optarg);
                return CLI_USAGE;
            }
            break;
        case 'k':
            if (!optarg[0] || strpbrk(optarg, ",\"\n")) {
                cli_error("mine", "--kind: '%s' is not a name", optarg);
                return CLI_USAGE;
            }
            kind = optarg;
            break;
        case 'h': fputs(help, stdout); return CLI_OK;
        default: return cli_bad_option("mine", opt, argv, longopts);
        }
    }
    if (!model_path || !out_path || n_man == 0 || optind < argc) {
        cli_error("mine", "give --model, --manifest and --out (see --help)");
        return CLI_USAGE;
    }
    status = CLI_FAIL;
    es_blas_set_threads(1);
    if (es_model_load(&m, model_path) < 0 || es_classifier_create(&c, m) < 0) {
        cli_error("mine", "%s", es_errmsg());
        goto out;
    }
    if (es_model_label_index(m, "background") < 0) {
        cli_error("mine", "%s has no background class: every window is one of its classes",
                  model_path);
        goto out;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    if (!(out = fopen(tmp, "w"))) {
        cli_error("mine", "cannot write '%s'", tmp);
        goto out;
    }
    fputs("path,label,group,source,start,end\n", out);
    for (int k = 0; k < n_man; k++) {
        es_dataset *ds = NULL;
        if (es_dataset_from_csv(&ds, manifests[k], NULL) < 0) {
            cli_error("mine", "%s", es_errmsg());
            goto out;
        }
        for (size_t i = 0; i < es_dataset_size(ds); i++, clips++)
            if (mine_one(c, m, ds, i, thr, per_clip, kind, out, &found) < 0) {
                cli_error("mine", "%s", es_errmsg());
                es_dataset_free(ds);
                goto out;
            }
        es_dataset_free(ds);
    }
    if (fclose(out) != 0 || rename(tmp, out_path) != 0) {
        out = NULL;
        cli_error("mine", "cannot write '%s'", out_path);
        goto out;
    }
    out = NULL;
    fprintf(stderr, "mine: %zu windows of %zu clips reach %.2f; wrote %s\n", found, clips,
            (double)thr, out_path);
    status = CLI_OK;
out:
    if (out) {
        fclose(out);
        unlink(tmp);
    }
    es_classifier_free(c);
    es_model_free(m);
    return status;
}
