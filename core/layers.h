/* core/layers.h — forward and backward kernels of each layer type.
 *
 * Conventions (llm.c): `<op>_forward(out, inp, params…, sizes)` and
 * `<op>_backward(dinp, dparams…, dout, saved…, sizes)`. Tensors are float,
 * NCHW, contiguous; every pointer's shape is in its comment. Parameter
 * gradients ACCUMULATE (+=) so a batch may be split; dinp is OVERWRITTEN
 * (NULL when the caller needs no input gradient). Nothing here allocates:
 * scratch comes from the caller.
 */
#ifndef EARSHOT_CORE_LAYERS_H
#define EARSHOT_CORE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* Geometry of a 2-D window op (convolution or pooling) over one sample. */
typedef struct {
    int C, H, W;        /* input channels and size */
    int kh, kw, sh, sw, ph, pw;
    int Ho, Wo;         /* output size (floor mode, as PyTorch) */
} es__win2d;

/* Fills Ho/Wo; 0, or -1 when the window does not fit the input. */
int es__win2d_init(es__win2d *g, int C, int H, int W, int kh, int kw, int sh, int sw, int ph,
                   int pw);

/* ---- conv2d: im2col + sgemm ------------------------------------------- */

/* Scratch floats conv2d needs per call: the column matrix of one sample. */
size_t es__conv2d_scratch(const es__win2d *g);

/* out:    [B, OC, Ho, Wo]
 * inp:    [B, C, H, W]
 * weight: [OC, C, kh, kw]
 * bias:   [OC] or NULL
 * col:    scratch [C*kh*kw, Ho*Wo] */
void es__conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                        float *col, const es__win2d *g, int B, int OC);

/* dinp:    [B, C, H, W] or NULL (overwritten)
 * dweight: [OC, C, kh, kw] (accumulated)
 * dbias:   [OC] or NULL (accumulated)
 * dout:    [B, OC, Ho, Wo]
 * inp, weight as in forward; col: scratch [C*kh*kw, Ho*Wo] */
void es__conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, float *col,
                         const es__win2d *g, int B, int OC);

/* ---- pooling ------------------------------------------------------------ */

/* out: [B, C, Ho, Wo]; argmax: [B, C, Ho, Wo] index into the sample's
 * channel plane (for backward; NULL at inference); inp: [B, C, H, W].
 * Ties go to the first maximum, as in PyTorch. Inputs must be finite (the
 * network checks its input once; weights are checked at load). */
void es__maxpool2d_forward(float *out, int32_t *argmax, const float *inp, const es__win2d *g,
                           int B);
/* out: [B, C, Ho, Wo] += bias[C] per channel: a convolution's bias moved past
 * the max pooling after it (max(x + b) = max(x) + b, exactly, in floating
 * point too), so it is added to a quarter of the values. */
void es__add_channel_bias(float *out, const float *bias, int B, int C, int HW);

/* dinp: [B, C, H, W] (overwritten); dout, argmax: [B, C, Ho, Wo] */
void es__maxpool2d_backward(float *dinp, const float *dout, const int32_t *argmax,
                            const es__win2d *g, int B);

/* out: [B, C, Ho, Wo]; inp: [B, C, H, W] */
void es__avgpool2d_forward(float *out, const float *inp, const es__win2d *g, int B);
void es__avgpool2d_backward(float *dinp, const float *dout, const es__win2d *g, int B);

/* out: [B, C]; inp: [B, C, HW] */
void es__global_avgpool_forward(float *out, const float *inp, int B, int C, int HW);
void es__global_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW);

/* ---- batchnorm2d ------------------------------------------------------- */

/* out: [B, C, HW]; inp: [B, C, HW]; weight, bias: [C];
 * running_mean, running_var: [C] (updated when training);
 * mean, rstd: [C] saved for backward (batch statistics when training, the
 * running ones otherwise). */
void es__batchnorm2d_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *weight, const float *bias, float *running_mean,
                             float *running_var, int training, float momentum, float eps, int B,
                             int C, int HW, int c_begin, int c_end);
/* dinp: [B, C, HW] or NULL; dweight, dbias: [C] (accumulated);
 * training: whether forward used batch statistics. Both kernels treat the
 * channels [c_begin, c_end) only, so channels can be split across threads. */
void es__batchnorm2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int training, int B, int C, int HW, int c_begin,
                              int c_end);

/* ---- linear, relu, dropout ----------------------------------------------- */

/* out: [B, OUT]; inp: [B, IN]; weight: [OUT, IN]; bias: [OUT] or NULL */
void es__linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int IN, int OUT);
/* dinp: [B, IN] or NULL; dweight: [OUT, IN], dbias: [OUT] or NULL (accumulated) */
void es__linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int B, int IN, int OUT);

/* out, inp: [n] (out may be inp) */
void es__relu_forward(float *out, const float *inp, size_t n);
/* dinp, dout, out: [n]; out is the forward's output (> 0 where it passed) */
void es__relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* out, inp, mask: [n]; mask gets 0 or 1/(1-p) from the xorshift state *rng */
void es__dropout_forward(float *out, float *mask, const float *inp, float p, size_t n,
                         uint64_t *rng);
void es__dropout_backward(float *dinp, const float *dout, const float *mask, size_t n);

/* ---- softmax cross-entropy ---------------------------------------------- */

/* probs: [B, K] (softmax of logits); returns PyTorch's CrossEntropyLoss
 * (weighted mean when weights [K] is given). */
float es__xent_forward(float *probs, const float *logits, const int *labels,
                       const float *weights, int B, int K);
/* dlogits: [B, K] (overwritten) */
void es__xent_backward(float *dlogits, const float *probs, const int *labels,
                       const float *weights, int B, int K);

#endif
