/* cli/cmd_classify.c — `earshot classify`: the top label of each file. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "earshot/audio.h"
#include "earshot/classify.h"
#include "earshot/error.h"
#include "earshot/model.h"
#include "earshot/resample.h"

static const char help[] =
    "usage: earshot classify --model MODEL.safetensors [--json] [--windows] FILE...\n"
    "\n"
    "Prints the most likely label of each audio file and its posterior.\n"
    "A file shorter than the model's window is zero-padded; a longer one is\n"
    "classified by windows of clip_seconds every stride_seconds (while they\n"
    "fit), posteriors averaged.\n"
    "\n"
    "  -m, --model FILE  model (safetensors, see DESIGN.md)\n"
    "  -j, --json        one JSON object per file: file, label, score, posteriors\n"
    "  -w, --windows     one result per window instead of per file, with the\n"
    "                    window's start in seconds (JSON: \"start\")\n"
    "  -h, --help        this text\n";

/* start < 0: a whole file */
static void print_result(const char *path, double start, const es_model *m, const float *post,
                         int json) {
    int K = es_model_num_labels(m), top = 0;
    for (int k = 1; k < K; k++)
        if (post[k] > post[top]) top = k;
    if (json) {
        json_t *o = json_object(), *p = json_object();
        char *s;
        for (int k = 0; k < K; k++) json_object_set_new(p, es_model_label(m, k), json_real(post[k]));
        json_object_set_new(o, "file", json_string(path));
        if (start >= 0) json_object_set_new(o, "start", json_real(start));
        json_object_set_new(o, "label", json_string(es_model_label(m, top)));
        json_object_set_new(o, "score", json_real(post[top]));
        json_object_set_new(o, "posteriors", p);
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        if (start >= 0) printf("%s\t%.3f\t%s\t%.4f\n", path, start, es_model_label(m, top),
                               (double)post[top]);
        else printf("%s\t%s\t%.4f\n", path, es_model_label(m, top), (double)post[top]);
    }
}

int cmd_classify(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"windows", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL;
    int json = 0, windows = 0, opt, status = CLI_OK;
    es_model *m = NULL;
    es_classifier *c = NULL;
    float *post = NULL;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":m:jwh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': model_path = optarg; break;
        case 'j': json = 1; break;
        case 'w': windows = 1; break;
        case 'h': fputs(help, stdout); return CLI_OK;
        default: return cli_bad_option("classify", opt, argv, longopts);
        }
    }
    if (!model_path) {
        cli_error("classify", "--model MODEL.safetensors is required");
        return CLI_USAGE;
    }
    if (optind >= argc) {
        cli_error("classify", "expected at least one audio FILE");
        return CLI_USAGE;
    }
    /* inference: one BLAS thread gives the steadiest latency (README) */
    es_blas_set_threads(1);
    if (es_model_load(&m, model_path) < 0 || es_classifier_create(&c, m) < 0) {
        cli_error("classify", "%s", es_errmsg());
        es_model_free(m);
        return CLI_FAIL;
    }
    post = malloc((size_t)es_model_num_labels(m) * sizeof *post);
    if (!post) {
        cli_error("classify", "out of memory");
        status = CLI_FAIL;
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        es_audio a = {0};
        float *rs = NULL;
        const float *x;
        size_t n;
        int rate = es_model_features(m)->sample_rate;
        if (es_audio_read(argv[i], &a) < 0) goto file_fail;
        x = a.samples;
        n = a.n;
        if (a.rate != rate) {
            if (es_resample(a.samples, a.n, a.rate, rate, &rs, &n) < 0) goto file_fail;
            x = rs;
        }
        if (windows && n > es_classifier_window(c)) {
            /* the windows es_classify averages, one by one */
            size_t w = es_classifier_window(c), hop = es_classifier_stride(c);
            for (size_t s = 0; s + w <= n; s += hop) {
                if (es_classify(c, x + s, w, post, NULL) < 0) goto file_fail;
                print_result(argv[i], (double)s / rate, m, post, json);
            }
        } else {
            if (es_classify(c, x, n, post, NULL) < 0) goto file_fail;
            print_result(argv[i], windows ? 0.0 : -1.0, m, post, json);
        }
        es_free(rs);
        es_audio_free(&a);
        continue;
    file_fail:
        cli_error("classify", "%s", es_errmsg());
        status = CLI_FAIL;
        es_free(rs);
        es_audio_free(&a);
    }
out:
    free(post);
    es_classifier_free(c);
    es_model_free(m);
    return status;
}
