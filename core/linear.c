/* core/linear.c — fully connected layers, ReLU and dropout. */
#include <cblas.h>
#include <string.h>

#include "internal.h"
#include "layers.h"

void es__linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int IN, int OUT) {
    if (bias) {
        for (int b = 0; b < B; b++) memcpy(out + (size_t)b * OUT, bias, (size_t)OUT * sizeof *out);
    }
    /* out[B, OUT] (+)= inp[B, IN] · W[OUT, IN]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OUT, IN, 1.0f, inp, IN, weight, IN,
                bias ? 1.0f : 0.0f, out, OUT);
}

void es__linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int B, int IN, int OUT) {
    /* dW[OUT, IN] += dout[B, OUT]^T · inp[B, IN] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, B, 1.0f, dout, OUT, inp, IN,
                1.0f, dweight, IN);
    if (dbias) {
        for (int b = 0; b < B; b++)
            for (int o = 0; o < OUT; o++) dbias[o] += dout[(size_t)b * OUT + o];
    }
    /* dinp[B, IN] = dout[B, OUT] · W[OUT, IN] */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, IN, OUT, 1.0f, dout, OUT,
                    weight, IN, 0.0f, dinp, IN);
}

ES__HOT void es__relu_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

ES__HOT void es__relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

/* xorshift64*: fast, and plenty for dropout masks. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void es__dropout_forward(float *out, float *mask, const float *inp, float p, size_t n,
                         uint64_t *rng) {
    /* keep with probability 1-p, scaled by 1/(1-p) so the expectation holds */
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    uint64_t threshold = (uint64_t)((double)p * 18446744073709551616.0);
    if (p >= 1.0f) threshold = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        mask[i] = next_u64(rng) < threshold ? 0.0f : scale;
        out[i] = inp[i] * mask[i];
    }
}

void es__dropout_backward(float *dinp, const float *dout, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] = dout[i] * mask[i];
}
