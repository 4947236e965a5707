/* bench/bench_nn.c — the CNN engine's speed, for nn_vs_torch.py.
 *
 *   bench_nn MODEL.safetensors infer|train|top BATCH THREADS REPS
 *
 * Prints one JSON line: median milliseconds per iteration (a forward at
 * inference; forward + backward + Adam step when training; "top" trains
 * only the last convolution block and the head, as fine-tuning's default
 * does), the forward's
 * FLOPs per sample (2 per multiply-add of every conv and linear), and
 * OpenBLAS sgemm's peak here (a 1024³ product with THREADS BLAS threads).
 * THREADS is the engine's thread count (es_net_set_threads); OpenBLAS runs
 * single-threaded inside it. Input is
 * deterministic noise of the model's input shape.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "earshot/error.h"
#include "earshot/model.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double forward_flops(const es_net *net) {
    double f = 0.0;
    for (int i = 0; i < es_net_num_layers(net); i++) {
        const es_layer_spec *sp = es_net_layer(net, i);
        es_shape o = es_net_layer_output_shape(net, i);
        if (sp->type == ES_LAYER_CONV2D)
            f += 2.0 * o.c * o.h * o.w * (double)sp->in * sp->kh * sp->kw;
        else if (sp->type == ES_LAYER_LINEAR)
            f += 2.0 * sp->in * sp->out;
    }
    return f;
}

static double sgemm_peak_gflops(int threads) {
    enum { N = 1024 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
          *c = malloc(sizeof(float) * N * N);
    double best = 1e30;
    es_blas_set_threads(threads);
    for (int i = 0; i < N * N; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    for (int r = 0; r < 6; r++) {
        double t0 = now_ms();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c,
                    N);
        double t = now_ms() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * N * N * N / (best * 1e6);
}

int main(int argc, char **argv) {
    es_model *m;
    es_net *net;
    es_optimizer *opt = NULL;
    es_opt_config oc = es_opt_defaults(ES_OPT_ADAM);
    int train, top, B, threads, reps, *labels;
    float *x;
    double *t;
    size_t n;
    es_shape s;
    uint32_t seed = 7;

    if (argc != 6) {
        fprintf(stderr, "usage: bench_nn MODEL infer|train|top BATCH THREADS REPS\n");
        return 2;
    }
    top = strcmp(argv[2], "top") == 0;
    train = top || strcmp(argv[2], "train") == 0;
    if (!train && strcmp(argv[2], "infer") != 0) {
        fprintf(stderr, "bench_nn: mode '%s' is not infer, train or top\n", argv[2]);
        return 2;
    }
    B = atoi(argv[3]);
    threads = atoi(argv[4]);
    reps = atoi(argv[5]);
    /* the engine's threads split the batch; OpenBLAS stays single-threaded */
    es_blas_set_threads(1);
    if (es_model_load(&m, argv[1]) < 0 ||
        es_model_instantiate(m, B, train ? ES_NET_TRAIN : 0, &net) < 0 ||
        es_net_set_threads(net, threads) < 0 ||
        (top && es_net_freeze_before(net, es_net_top_start(net)) < 0) ||
        (train && es_optimizer_create(&opt, net, &oc) < 0)) {
        fprintf(stderr, "bench_nn: %s\n", es_errmsg());
        return 1;
    }
    s = es_model_input_shape(m);
    n = (size_t)B * s.c * s.h * s.w;
    x = malloc(n * sizeof *x);
    labels = calloc((size_t)B, sizeof *labels);
    t = malloc((size_t)reps * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    for (int b = 0; b < B; b++) labels[b] = b % es_model_num_labels(m);
    for (int r = -2; r < reps; r++) { /* two warm-up iterations */
        double t0 = now_ms();
        if (train) {
            es_net_zero_grad(net);
            es_net_forward(net, x, B, ES_MODE_TRAIN);
            es_net_backward(net, labels, NULL, NULL);
            es_optimizer_step(opt);
        } else {
            es_net_forward(net, x, B, ES_MODE_INFER);
        }
        if (r >= 0) t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    printf("{\"ms\": %.4f, \"flops_per_sample\": %.0f, \"sgemm_peak_gflops\": %.2f}\n",
           t[reps / 2], forward_flops(net), sgemm_peak_gflops(threads));
    free(x), free(labels), free(t);
    es_optimizer_free(opt);
    es_net_free(net);
    es_model_free(m);
    return 0;
}
