/* Data-parallel training: gradients with 2 and 3 threads equal the serial
 * ones (up to the order per-sample weight gradients are summed), repeatedly.
 * Runs under TSan in CI, which checks the worker pool and the per-thread
 * scratch for races. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/model.h"
#include "earshot/npy.h"

static void grads_of(es_net *net, const float *x, const int *lab, int B, float **out,
                     size_t *n) {
    size_t total = 0, off = 0;
    float loss;
    es_net_seed(net, 42); /* the same dropout masks every time */
    es_net_zero_grad(net);
    CHECK_RC(es_net_forward(net, x, B, ES_MODE_TRAIN), 0);
    CHECK_RC(es_net_backward(net, lab, NULL, &loss), 0);
    for (int i = 0; i < es_net_num_tensors(net); i++)
        if (es_net_tensor_at(net, i)->kind == ES_TENSOR_PARAM)
            total += es_net_tensor_at(net, i)->numel;
    *out = malloc(total * sizeof **out);
    for (int i = 0; i < es_net_num_tensors(net); i++) {
        const es_tensor *t = es_net_tensor_at(net, i);
        if (t->kind != ES_TENSOR_PARAM) continue;
        memcpy(*out + off, t->grad, t->numel * sizeof *t->grad);
        off += t->numel;
    }
    *n = total;
}

static void check_model(const char *name, int B) {
    char path[512];
    es_model *m = NULL;
    es_net *net = NULL;
    float *x, *g1 = NULL;
    int *lab = calloc((size_t)B, sizeof *lab);
    size_t n1 = 0;
    es_shape s;
    snprintf(path, sizeof path, "%s/nn/%s.safetensors", ES_FIXTURES_DIR, name);
    CHECK_RC(es_model_load(&m, path), 0);
    if (!m) return;
    s = es_model_input_shape(m);
    x = malloc((size_t)B * s.c * s.h * s.w * sizeof *x);
    for (size_t i = 0; i < (size_t)B * s.c * s.h * s.w; i++) x[i] = (float)sin((double)i * 0.37);
    for (int b = 0; b < B; b++) lab[b] = b % es_model_num_labels(m);
    CHECK_RC(es_model_instantiate(m, B, ES_NET_TRAIN, &net), 0);
    /* training mode: batch norm couples the batch across the split */
    grads_of(net, x, lab, B, &g1, &n1);
    for (int threads = 2; threads <= 3; threads++) {
        CHECK_RC(es_net_set_threads(net, threads), 0);
        for (int rep = 0; rep < 3; rep++) {
            float *g2 = NULL, scale = 1e-12f, worst = 0.0f;
            size_t n2 = 0;
            CHECK_RC(es_net_copy_weights(net, es_model_weights(m)), 0);
            grads_of(net, x, lab, B, &g2, &n2);
            CHECK_EQ_INT(n1, n2);
            for (size_t k = 0; k < n1 && k < n2; k++) {
                if (fabsf(g1[k]) > scale) scale = fabsf(g1[k]);
                if (fabsf(g1[k] - g2[k]) > worst) worst = fabsf(g1[k] - g2[k]);
            }
            if (rep == 0)
                fprintf(stderr, "%s, %d threads: worst |serial - parallel| gradient %.2e of %.2e\n",
                        name, threads, worst, scale);
            CHECK(worst <= 1e-5f * scale);
            free(g2);
        }
    }
    CHECK_RC(es_net_set_threads(net, 1), 0);
    free(g1);
    free(x);
    free(lab);
    es_net_free(net);
    es_model_free(m);
}

int main(void) {
    /* as nn.h asks with engine threads: OpenBLAS on one thread */
    es_blas_set_threads(1);
    /* mix: convs, pools, batch norm; mel: also global pooling and dropout */
    check_model("mix", 5);
    check_model("mel", 4);
    CHECK_DONE();
}
