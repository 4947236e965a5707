/* core/conv.c — 2-D convolution as im2col + one sgemm per sample. */
#include <cblas.h>
#include <string.h>

#include "internal.h"
#include "layers.h"

int es__win2d_init(es__win2d *g, int C, int H, int W, int kh, int kw, int sh, int sw, int ph,
                   int pw) {
    g->C = C, g->H = H, g->W = W;
    g->kh = kh, g->kw = kw, g->sh = sh, g->sw = sw, g->ph = ph, g->pw = pw;
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) return -1;
    if (H + 2 * ph < kh || W + 2 * pw < kw) return -1;
    g->Ho = (H + 2 * ph - kh) / sh + 1;
    g->Wo = (W + 2 * pw - kw) / sw + 1;
    return 0;
}

/* A 1x1, stride-1, unpadded convolution reads the input as its own column
 * matrix: no copy. */
static int is_pointwise(const es__win2d *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

size_t es__conv2d_scratch(const es__win2d *g) {
    if (is_pointwise(g)) return 0;
    return (size_t)g->C * (size_t)g->kh * (size_t)g->kw * (size_t)g->Ho * (size_t)g->Wo;
}

/* col: [C*kh*kw, Ho*Wo] from one sample x: [C, H, W]; zero outside. */
static void im2col(float *col, const float *x, const es__win2d *g) {
    size_t N = (size_t)g->Ho * (size_t)g->Wo;
    for (int c = 0; c < g->C; c++) {
        const float *xc = x + (size_t)c * g->H * g->W;
        for (int i = 0; i < g->kh; i++) {
            for (int j = 0; j < g->kw; j++) {
                float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * N;
                for (int oy = 0; oy < g->Ho; oy++) {
                    int y = oy * g->sh - g->ph + i;
                    float *r = row + (size_t)oy * g->Wo;
                    if (y < 0 || y >= g->H) {
                        memset(r, 0, (size_t)g->Wo * sizeof *r);
                        continue;
                    }
                    const float *xr = xc + (size_t)y * g->W;
                    if (g->sw == 1) {
                        /* contiguous run: the padded edges are zero, the middle a copy */
                        int x0 = j - g->pw;
                        int lo = x0 < 0 ? -x0 : 0;
                        int hi = g->W - x0 < g->Wo ? g->W - x0 : g->Wo;
                        if (hi < lo) hi = lo;
                        memset(r, 0, (size_t)lo * sizeof *r);
                        memcpy(r + lo, xr + x0 + lo, (size_t)(hi - lo) * sizeof *r);
                        memset(r + hi, 0, (size_t)(g->Wo - hi) * sizeof *r);
                    } else {
                        for (int ox = 0; ox < g->Wo; ox++) {
                            int xx = ox * g->sw - g->pw + j;
                            r[ox] = (xx >= 0 && xx < g->W) ? xr[xx] : 0.0f;
                        }
                    }
                }
            }
        }
    }
}

ES__HOT static void add_run(float *restrict d, const float *restrict s, int n) {
    for (int i = 0; i < n; i++) d[i] += s[i];
}

ES__HOT static float row_sum(const float *restrict x, int n) {
    float a = 0.0f;
#pragma omp simd reduction(+ : a)
    for (int i = 0; i < n; i++) a += x[i];
    return a;
}

/* dx: [C, H, W] += the column matrix dcol folded back (inverse of im2col). */
static void col2im_add(float *dx, const float *dcol, const es__win2d *g) {
    size_t N = (size_t)g->Ho * (size_t)g->Wo;
    for (int c = 0; c < g->C; c++) {
        float *dxc = dx + (size_t)c * g->H * g->W;
        for (int i = 0; i < g->kh; i++) {
            for (int j = 0; j < g->kw; j++) {
                const float *row = dcol + ((size_t)(c * g->kh + i) * g->kw + j) * N;
                for (int oy = 0; oy < g->Ho; oy++) {
                    int y = oy * g->sh - g->ph + i;
                    const float *r = row + (size_t)oy * g->Wo;
                    if (y < 0 || y >= g->H) continue;
                    float *dxr = dxc + (size_t)y * g->W;
                    if (g->sw == 1) {
                        /* the in-bounds outputs form one run, as in im2col */
                        int x0 = j - g->pw;
                        int lo = x0 < 0 ? -x0 : 0;
                        int hi = g->W - x0 < g->Wo ? g->W - x0 : g->Wo;
                        if (hi > lo) add_run(dxr + x0 + lo, r + lo, hi - lo);
                        continue;
                    }
                    for (int ox = 0; ox < g->Wo; ox++) {
                        int xx = ox * g->sw - g->pw + j;
                        if (xx >= 0 && xx < g->W) dxr[xx] += r[ox];
                    }
                }
            }
        }
    }
}

/* A single input channel with stride 1 (the first layer of every audio CNN
 * here): im2col would copy the input kh·kw times for a GEMM with K = kh·kw,
 * which OpenBLAS runs at a tenth of its peak. Direct accumulation of each
 * tap over contiguous rows vectorizes instead.
 * y: [OC, Ho, Wo]; x: [H, W]; weight: [OC, 1, kh, kw]. */
/* The 3x3, padding-1 case: all nine taps summed in registers, one pass per
 * output row, with the rows above and below the image taken as zero. */
ES__HOT static void conv_direct_c1_3x3(float *restrict y, const float *restrict x,
                                       const float *restrict weight, const float *bias,
                                       const es__win2d *g, int OC) {
    int W = g->W, H = g->H;
    for (int o = 0; o < OC; o++) {
        const float *w = weight + (size_t)o * 9;
        float b0 = bias ? bias[o] : 0.0f;
        for (int oy = 0; oy < H; oy++) {
            float *restrict yr = y + ((size_t)o * H + oy) * W;
            const float *r0 = oy > 0 ? x + (size_t)(oy - 1) * W : NULL;
            const float *r1 = x + (size_t)oy * W;
            const float *r2 = oy + 1 < H ? x + (size_t)(oy + 1) * W : NULL;
            float w00 = r0 ? w[0] : 0.0f, w01 = r0 ? w[1] : 0.0f, w02 = r0 ? w[2] : 0.0f;
            float w20 = r2 ? w[6] : 0.0f, w21 = r2 ? w[7] : 0.0f, w22 = r2 ? w[8] : 0.0f;
            if (!r0) r0 = r1; /* weights are zero: any valid row will do */
            if (!r2) r2 = r1;
            for (int ox = 1; ox < W - 1; ox++)
                yr[ox] = b0 + w00 * r0[ox - 1] + w01 * r0[ox] + w02 * r0[ox + 1] +
                         w[3] * r1[ox - 1] + w[4] * r1[ox] + w[5] * r1[ox + 1] +
                         w20 * r2[ox - 1] + w21 * r2[ox] + w22 * r2[ox + 1];
            /* the two edge columns, with the zero padding */
            yr[0] = b0 + w01 * r0[0] + w[4] * r1[0] + w21 * r2[0];
            if (W > 1) {
                yr[0] += w02 * r0[1] + w[5] * r1[1] + w22 * r2[1];
                yr[W - 1] = b0 + w00 * r0[W - 2] + w01 * r0[W - 1] + w[3] * r1[W - 2] +
                            w[4] * r1[W - 1] + w20 * r2[W - 2] + w21 * r2[W - 1];
            }
        }
    }
}

ES__HOT static void conv_direct_c1(float *restrict y, const float *restrict x,
                                   const float *restrict weight, const float *bias,
                                   const es__win2d *g, int OC) {
    if (g->kh == 3 && g->kw == 3 && g->ph == 1 && g->pw == 1) {
        conv_direct_c1_3x3(y, x, weight, bias, g, OC);
        return;
    }
    for (int o = 0; o < OC; o++) {
        const float *w = weight + (size_t)o * g->kh * g->kw;
        for (int oy = 0; oy < g->Ho; oy++) {
            float *restrict yr = y + ((size_t)o * g->Ho + oy) * g->Wo;
            float b0 = bias ? bias[o] : 0.0f;
            for (int ox = 0; ox < g->Wo; ox++) yr[ox] = b0;
            for (int i = 0; i < g->kh; i++) {
                int yy = oy - g->ph + i;
                if (yy < 0 || yy >= g->H) continue;
                const float *xr = x + (size_t)yy * g->W;
                for (int j = 0; j < g->kw; j++) {
                    int x0 = j - g->pw;
                    int lo = x0 < 0 ? -x0 : 0;
                    int hi = g->W - x0 < g->Wo ? g->W - x0 : g->Wo;
                    float wv = w[i * g->kw + j];
                    for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox + x0];
                }
            }
        }
    }
}

void es__conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                        float *col, const es__win2d *g, int B, int OC) {
    int K = g->C * g->kh * g->kw, N = g->Ho * g->Wo;
    if (g->C == 1 && g->sh == 1 && g->sw == 1) {
        for (int b = 0; b < B; b++)
            conv_direct_c1(out + (size_t)b * OC * N, inp + (size_t)b * g->H * g->W, weight, bias,
                           g, OC);
        return;
    }
    size_t in_sz = (size_t)g->C * g->H * g->W, out_sz = (size_t)OC * N;
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * in_sz;
        float *y = out + (size_t)b * out_sz;
        const float *cm = x;
        if (!is_pointwise(g)) {
            im2col(col, x, g);
            cm = col;
        }
        /* y[OC, N] = W[OC, K] · col[K, N] (+ bias per row, set first so the
         * product accumulates onto it) */
        if (bias) {
            for (int o = 0; o < OC; o++)
                for (int n = 0; n < N; n++) y[(size_t)o * N + n] = bias[o];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, N, K, 1.0f, weight, K, cm, N,
                    bias ? 1.0f : 0.0f, y, N);
    }
}

void es__conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, float *col,
                         const es__win2d *g, int B, int OC) {
    int K = g->C * g->kh * g->kw, N = g->Ho * g->Wo;
    size_t in_sz = (size_t)g->C * g->H * g->W, out_sz = (size_t)OC * N;
    int pointwise = is_pointwise(g);
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * in_sz;
        const float *dy = dout + (size_t)b * out_sz;
        const float *cm = x;
        if (dbias)
            for (int o = 0; o < OC; o++) dbias[o] += row_sum(dy + (size_t)o * N, N);
        if (!pointwise) {
            im2col(col, x, g);
            cm = col;
        }
        /* dW[OC, K] += dy[OC, N] · col[K, N]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, K, N, 1.0f, dy, N, cm, N, 1.0f,
                    dweight, K);
        if (dinp) {
            float *dx = dinp + (size_t)b * in_sz;
            if (pointwise) {
                /* dx[K, N] = W[OC, K]^T · dy[OC, N] */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, OC, 1.0f, weight, K,
                            dy, N, 0.0f, dx, N);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, OC, 1.0f, weight, K,
                            dy, N, 0.0f, col, N);
                memset(dx, 0, in_sz * sizeof *dx);
                col2im_add(dx, col, g);
            }
        }
    }
}
