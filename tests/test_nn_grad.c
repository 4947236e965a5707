/* Every layer's backward against central finite differences computed in
 * double, through an independent naive double-precision forward; and every
 * layer's float forward against that reference. The objective is
 * J = Σ r ⊙ layer(x, θ) for a fixed random r, so dJ/dout = r. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/nn.h"
#include "layers.h"

static uint64_t rs = 0x12345678abcdefull;
static double urand(void) { /* [-1, 1) */
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) / 4503599627370496.0 - 1.0;
}
static void fill(double *d, float *f, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)(urand() * scale);
        d[i] = f[i];
    }
}

/* ---- naive double references ------------------------------------------ */

typedef struct {
    int B, C, H, W, OC, kh, kw, sh, sw, ph, pw, Ho, Wo;
} geo;

static void ref_conv(double *y, const double *x, const double *w, const double *b, geo g) {
    for (int n = 0; n < g.B; n++)
        for (int o = 0; o < g.OC; o++)
            for (int oy = 0; oy < g.Ho; oy++)
                for (int ox = 0; ox < g.Wo; ox++) {
                    double s = b ? b[o] : 0.0;
                    for (int c = 0; c < g.C; c++)
                        for (int i = 0; i < g.kh; i++)
                            for (int j = 0; j < g.kw; j++) {
                                int yy = oy * g.sh - g.ph + i, xx = ox * g.sw - g.pw + j;
                                if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
                                s += w[((o * g.C + c) * g.kh + i) * g.kw + j] *
                                     x[((n * g.C + c) * g.H + yy) * g.W + xx];
                            }
                    y[((n * g.OC + o) * g.Ho + oy) * g.Wo + ox] = s;
                }
}

static void ref_pool(double *y, const double *x, geo g, int is_max) {
    for (int n = 0; n < g.B * g.C; n++)
        for (int oy = 0; oy < g.Ho; oy++)
            for (int ox = 0; ox < g.Wo; ox++) {
                double m = -INFINITY, s = 0.0;
                for (int i = 0; i < g.kh; i++)
                    for (int j = 0; j < g.kw; j++) {
                        double v = x[(n * g.H + oy * g.sh + i) * g.W + ox * g.sw + j];
                        if (v > m) m = v;
                        s += v;
                    }
                y[(n * g.Ho + oy) * g.Wo + ox] = is_max ? m : s / (g.kh * g.kw);
            }
}

static void ref_bn(double *y, const double *x, const double *w, const double *b,
                   const double *rm, const double *rv, int training, double eps, int B, int C,
                   int HW) {
    for (int c = 0; c < C; c++) {
        double mu = rm[c], var = rv[c];
        if (training) {
            double s = 0, ss = 0;
            for (int n = 0; n < B; n++)
                for (int i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
            mu = s / (B * HW);
            for (int n = 0; n < B; n++)
                for (int i = 0; i < HW; i++)
                    ss += (x[(n * C + c) * HW + i] - mu) * (x[(n * C + c) * HW + i] - mu);
            var = ss / (B * HW);
        }
        for (int n = 0; n < B; n++)
            for (int i = 0; i < HW; i++)
                y[(n * C + c) * HW + i] =
                    (x[(n * C + c) * HW + i] - mu) / sqrt(var + eps) * w[c] + b[c];
    }
}

static void ref_linear(double *y, const double *x, const double *w, const double *b, int B,
                       int IN, int OUT) {
    for (int n = 0; n < B; n++)
        for (int o = 0; o < OUT; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < IN; i++) s += w[o * IN + i] * x[n * IN + i];
            y[n * OUT + o] = s;
        }
}

static double ref_xent(const double *z, const int *lab, const double *wt, int B, int K) {
    double loss = 0, ws = 0;
    for (int n = 0; n < B; n++) {
        double mx = z[n * K], s = 0, w = wt ? wt[lab[n]] : 1.0;
        for (int k = 1; k < K; k++)
            if (z[n * K + k] > mx) mx = z[n * K + k];
        for (int k = 0; k < K; k++) s += exp(z[n * K + k] - mx);
        loss += w * (log(s) + mx - z[n * K + lab[n]]);
        ws += w;
    }
    return loss / ws;
}

/* ---- the harness -------------------------------------------------------- */

/* A layer under test: forward in double over (x, params) → y; J = r·y. */
typedef void (*ref_fn)(void *ctx, double *y, const double *x, const double *p);

static double objective(ref_fn f, void *ctx, double *y, size_t ny, const double *r,
                        const double *x, const double *p) {
    double J = 0;
    f(ctx, y, x, p);
    for (size_t i = 0; i < ny; i++) J += r[i] * y[i];
    return J;
}

/* Checks analytic gradient g[n] (float) of J w.r.t. v[n] (double, perturbed
 * in place) against central differences; tolerance relative to the
 * gradient's largest magnitude. */
static void fd_check(const char *what, ref_fn f, void *ctx, double *y, size_t ny, const double *r,
                     double *x, double *p, double *v, size_t n, const float *g, double tol) {
    double h = 1e-6, worst = 0, gmax = 1e-12;
    for (size_t i = 0; i < n; i++)
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
    for (size_t i = 0; i < n; i++) {
        double keep = v[i], jp, jm, fd;
        v[i] = keep + h;
        jp = objective(f, ctx, y, ny, r, x, p);
        v[i] = keep - h;
        jm = objective(f, ctx, y, ny, r, x, p);
        v[i] = keep;
        fd = (jp - jm) / (2 * h);
        if (fabs(fd - g[i]) / gmax > worst) worst = fabs(fd - g[i]) / gmax;
    }
    fprintf(stderr, "%-34s worst |analytic - finite diff| = %.2e of max|grad| (tol %.0e)\n",
            what, worst, tol);
    if (!(worst <= tol)) {
        fprintf(stderr, "  FAILED: %s\n", what);
        check_failures++;
    }
}

static void forward_check(const char *what, const float *yf, const double *yd, size_t n,
                          double tol) {
    double worst = 0, ymax = 1e-12;
    for (size_t i = 0; i < n; i++)
        if (fabs(yd[i]) > ymax) ymax = fabs(yd[i]);
    for (size_t i = 0; i < n; i++)
        if (fabs(yf[i] - yd[i]) / ymax > worst) worst = fabs(yf[i] - yd[i]) / ymax;
    if (!(worst <= tol)) {
        fprintf(stderr, "%s forward: float vs double reference %.2e of max (tol %.0e)\n", what,
                worst, tol);
        check_failures++;
    }
}

/* ---- conv2d -------------------------------------------------------------- */

typedef struct {
    geo g;
    int has_bias;
} conv_ctx;

static void conv_ref(void *vctx, double *y, const double *x, const double *p) {
    conv_ctx *c = vctx;
    size_t nw = (size_t)c->g.OC * c->g.C * c->g.kh * c->g.kw;
    ref_conv(y, x, p, c->has_bias ? p + nw : NULL, c->g);
}

static void check_conv(int B, int C, int H, int W, int OC, int kh, int kw, int sh, int sw, int ph,
                       int pw, int has_bias) {
    conv_ctx c = {{B, C, H, W, OC, kh, kw, sh, sw, ph, pw, 0, 0}, has_bias};
    es__win2d g;
    char name[96];
    es__win2d_init(&g, C, H, W, kh, kw, sh, sw, ph, pw);
    c.g.Ho = g.Ho, c.g.Wo = g.Wo;
    size_t nx = (size_t)B * C * H * W, nw = (size_t)OC * C * kh * kw, ny = (size_t)B * OC * g.Ho * g.Wo;
    size_t np = nw + (has_bias ? OC : 0);
    double *xd = malloc(nx * 8), *pd = malloc(np * 8), *yd = malloc(ny * 8), *rd = malloc(ny * 8);
    float *xf = malloc(nx * 4), *pf = malloc(np * 4), *yf = malloc(ny * 4), *rf = malloc(ny * 4);
    float *dx = malloc(nx * 4), *dp = calloc(np, 4), *col = malloc((es__conv2d_scratch(&g) + 1) * 4);
    fill(xd, xf, nx, 1.0);
    fill(pd, pf, np, 0.5);
    fill(rd, rf, ny, 1.0);
    es__conv2d_forward(yf, xf, pf, has_bias ? pf + nw : NULL, col, &g, B, OC);
    conv_ref(&c, yd, xd, pd);
    snprintf(name, sizeof name, "conv2d k%dx%d s%dx%d p%dx%d%s", kh, kw, sh, sw, ph, pw,
             has_bias ? "" : " nobias");
    forward_check(name, yf, yd, ny, 1e-5);
    es__conv2d_backward(dx, dp, has_bias ? dp + nw : NULL, rf, xf, pf, col, &g, B, OC);
    {
        char n2[128];
        snprintf(n2, sizeof n2, "%s dinp", name);
        fd_check(n2, conv_ref, &c, yd, ny, rd, xd, pd, xd, nx, dx, 1e-5);
        snprintf(n2, sizeof n2, "%s dparams", name);
        fd_check(n2, conv_ref, &c, yd, ny, rd, xd, pd, pd, np, dp, 1e-5);
    }
    free(xd), free(pd), free(yd), free(rd), free(xf), free(pf), free(yf), free(rf);
    free(dx), free(dp), free(col);
}

/* ---- pools --------------------------------------------------------------- */

typedef struct {
    geo g;
    int is_max;
} pool_ctx;

static void pool_ref(void *vctx, double *y, const double *x, const double *p) {
    pool_ctx *c = vctx;
    (void)p;
    ref_pool(y, x, c->g, c->is_max);
}

static void check_pool(int is_max, int B, int C, int H, int W, int kh, int kw, int sh, int sw) {
    pool_ctx c = {{B, C, H, W, C, kh, kw, sh, sw, 0, 0, 0, 0}, is_max};
    es__win2d g;
    es__win2d_init(&g, C, H, W, kh, kw, sh, sw, 0, 0);
    c.g.Ho = g.Ho, c.g.Wo = g.Wo;
    size_t nx = (size_t)B * C * H * W, ny = (size_t)B * C * g.Ho * g.Wo;
    double *xd = malloc(nx * 8), *yd = malloc(ny * 8), *rd = malloc(ny * 8);
    float *xf = malloc(nx * 4), *yf = malloc(ny * 4), *rf = malloc(ny * 4), *dx = malloc(nx * 4);
    int32_t *am = malloc(ny * 4);
    char name[64];
    /* distinct values, so no max is tied within a finite-difference step */
    fill(xd, xf, nx, 1.0);
    fill(rd, rf, ny, 1.0);
    if (is_max) {
        es__maxpool2d_forward(yf, am, xf, &g, B);
        es__maxpool2d_backward(dx, rf, am, &g, B);
    } else {
        es__avgpool2d_forward(yf, xf, &g, B);
        es__avgpool2d_backward(dx, rf, &g, B);
    }
    pool_ref(&c, yd, xd, NULL);
    snprintf(name, sizeof name, "%s k%dx%d s%dx%d dinp", is_max ? "maxpool2d" : "avgpool2d", kh,
             kw, sh, sw);
    forward_check(name, yf, yd, ny, 1e-6);
    fd_check(name, pool_ref, &c, yd, ny, rd, xd, NULL, xd, nx, dx, 1e-6);
    free(xd), free(yd), free(rd), free(xf), free(yf), free(rf), free(dx), free(am);
}

/* ---- global average pool -------------------------------------------------- */

typedef struct {
    int B, C, HW;
} gap_ctx;

static void gap_ref(void *vctx, double *y, const double *x, const double *p) {
    gap_ctx *c = vctx;
    (void)p;
    for (int n = 0; n < c->B * c->C; n++) {
        double s = 0;
        for (int i = 0; i < c->HW; i++) s += x[n * c->HW + i];
        y[n] = s / c->HW;
    }
}

static void check_gap(void) {
    gap_ctx c = {3, 4, 35};
    size_t nx = 3 * 4 * 35, ny = 12;
    double xd[420], yd[12], rd[12];
    float xf[420], yf[12], rf[12], dx[420];
    fill(xd, xf, nx, 1.0);
    fill(rd, rf, ny, 1.0);
    es__global_avgpool_forward(yf, xf, 3, 4, 35);
    gap_ref(&c, yd, xd, NULL);
    forward_check("global_avgpool", yf, yd, ny, 1e-6);
    es__global_avgpool_backward(dx, rf, 3, 4, 35);
    fd_check("global_avgpool dinp", gap_ref, &c, yd, ny, rd, xd, NULL, xd, nx, dx, 1e-6);
}

/* ---- batchnorm2d ------------------------------------------------------------ */

typedef struct {
    int B, C, HW, training;
    double eps;
    const double *rm, *rv;
} bn_ctx;

static void bn_ref(void *vctx, double *y, const double *x, const double *p) {
    bn_ctx *c = vctx;
    ref_bn(y, x, p, p + c->C, c->rm, c->rv, c->training, c->eps, c->B, c->C, c->HW);
}

static void check_bn(int training) {
    enum { B = 3, C = 4, HW = 10 };
    double xd[B * C * HW], yd[B * C * HW], rd[B * C * HW], pd[2 * C], rmd[C], rvd[C];
    float xf[B * C * HW], yf[B * C * HW], rf[B * C * HW], pf[2 * C], dx[B * C * HW];
    float dp[2 * C] = {0}, rm[C], rv[C], mean[C], rstd[C];
    bn_ctx c = {B, C, HW, training, 1e-5, rmd, rvd};
    fill(xd, xf, B * C * HW, 2.0);
    fill(pd, pf, 2 * C, 1.0);
    fill(rd, rf, B * C * HW, 1.0);
    for (int i = 0; i < C; i++) {
        rm[i] = (float)(0.3 * urand()), rmd[i] = rm[i];
        rv[i] = (float)(0.5 + fabs(urand())), rvd[i] = rv[i];
    }
    es__batchnorm2d_forward(yf, mean, rstd, xf, pf, pf + C, rm, rv, training, 0.1f, 1e-5f, B, C,
                            HW, 0, C);
    bn_ref(&c, yd, xd, pd);
    forward_check(training ? "batchnorm2d (train)" : "batchnorm2d (eval)", yf, yd, B * C * HW,
                  1e-5);
    es__batchnorm2d_backward(dx, dp, dp + C, rf, xf, pf, mean, rstd, training, B, C, HW, 0, C);
    fd_check(training ? "batchnorm2d (train) dinp" : "batchnorm2d (eval) dinp", bn_ref, &c, yd,
             B * C * HW, rd, xd, pd, xd, B * C * HW, dx, 1e-4);
    fd_check(training ? "batchnorm2d (train) dparams" : "batchnorm2d (eval) dparams", bn_ref, &c,
             yd, B * C * HW, rd, xd, pd, pd, 2 * C, dp, 1e-5);
    if (training) {
        /* running stats: momentum 0.1, unbiased variance */
        for (int ch = 0; ch < C; ch++) {
            double s = 0, ss = 0;
            for (int n = 0; n < B; n++)
                for (int i = 0; i < HW; i++) s += xd[(n * C + ch) * HW + i];
            s /= B * HW;
            for (int n = 0; n < B; n++)
                for (int i = 0; i < HW; i++)
                    ss += (xd[(n * C + ch) * HW + i] - s) * (xd[(n * C + ch) * HW + i] - s);
            CHECK_NEAR(rm[ch], 0.9 * rmd[ch] + 0.1 * s, 1e-6);
            CHECK_NEAR(rv[ch], 0.9 * rvd[ch] + 0.1 * ss / (B * HW - 1), 1e-6);
        }
    }
}

/* ---- linear, relu, dropout -------------------------------------------------- */

typedef struct {
    int B, IN, OUT, has_bias;
} lin_ctx;

static void lin_ref(void *vctx, double *y, const double *x, const double *p) {
    lin_ctx *c = vctx;
    ref_linear(y, x, p, c->has_bias ? p + c->IN * c->OUT : NULL, c->B, c->IN, c->OUT);
}

static void check_linear(int has_bias) {
    enum { B = 3, IN = 7, OUT = 5 };
    lin_ctx c = {B, IN, OUT, has_bias};
    double xd[B * IN], pd[IN * OUT + OUT], yd[B * OUT], rd[B * OUT];
    float xf[B * IN], pf[IN * OUT + OUT], yf[B * OUT], rf[B * OUT], dx[B * IN];
    float dp[IN * OUT + OUT] = {0};
    size_t np = IN * OUT + (has_bias ? OUT : 0);
    fill(xd, xf, B * IN, 1.0);
    fill(pd, pf, np, 1.0);
    fill(rd, rf, B * OUT, 1.0);
    es__linear_forward(yf, xf, pf, has_bias ? pf + IN * OUT : NULL, B, IN, OUT);
    lin_ref(&c, yd, xd, pd);
    forward_check("linear", yf, yd, B * OUT, 1e-6);
    es__linear_backward(dx, dp, has_bias ? dp + IN * OUT : NULL, rf, xf, pf, B, IN, OUT);
    fd_check(has_bias ? "linear dinp" : "linear nobias dinp", lin_ref, &c, yd, B * OUT, rd, xd,
             pd, xd, B * IN, dx, 1e-5);
    fd_check(has_bias ? "linear dparams" : "linear nobias dparams", lin_ref, &c, yd, B * OUT, rd,
             xd, pd, pd, np, dp, 1e-5);
}

typedef struct {
    size_t n;
    const float *mask; /* dropout: the mask of the forward, fixed */
} ew_ctx;

static void relu_ref(void *vctx, double *y, const double *x, const double *p) {
    ew_ctx *c = vctx;
    (void)p;
    for (size_t i = 0; i < c->n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}
static void dropout_ref(void *vctx, double *y, const double *x, const double *p) {
    ew_ctx *c = vctx;
    (void)p;
    for (size_t i = 0; i < c->n; i++) y[i] = x[i] * c->mask[i];
}

static void check_elementwise(void) {
    enum { N = 200 };
    double xd[N], yd[N], rd[N];
    float xf[N], yf[N], rf[N], dx[N], mask[N];
    uint64_t rng = 42;
    ew_ctx c = {N, mask};
    int kept = 0;
    fill(xd, xf, N, 1.0);
    fill(rd, rf, N, 1.0);
    for (int i = 0; i < N; i++) /* keep values away from the kink at 0 */
        if (fabs(xd[i]) < 1e-3) xd[i] = xf[i] = 0.5f;
    es__relu_forward(yf, xf, N);
    relu_ref(&c, yd, xd, NULL);
    forward_check("relu", yf, yd, N, 0);
    es__relu_backward(dx, rf, yf, N);
    fd_check("relu dinp", relu_ref, &c, yd, N, rd, xd, NULL, xd, N, dx, 1e-6);
    es__dropout_forward(yf, mask, xf, 0.3f, N, &rng);
    for (int i = 0; i < N; i++) {
        CHECK(mask[i] == 0.0f || fabsf(mask[i] - 1.0f / 0.7f) < 1e-6f);
        kept += mask[i] != 0.0f;
    }
    CHECK(kept > 110 && kept < 170); /* ~70% of 200 kept */
    dropout_ref(&c, yd, xd, NULL);
    forward_check("dropout", yf, yd, N, 1e-7);
    es__dropout_backward(dx, rf, mask, N);
    fd_check("dropout dinp", dropout_ref, &c, yd, N, rd, xd, NULL, xd, N, dx, 1e-6);
}

/* ---- softmax cross-entropy ---------------------------------------------------- */

typedef struct {
    int B, K;
    const int *lab;
    const double *w;
} xent_ctx;

static void xent_ref(void *vctx, double *y, const double *x, const double *p) {
    xent_ctx *c = vctx;
    (void)p;
    y[0] = ref_xent(x, c->lab, c->w, c->B, c->K);
}

static void check_xent(int weighted) {
    enum { B = 4, K = 5 };
    int lab[B] = {0, 3, 4, 3};
    double zd[B * K], wd[K] = {1.0, 2.0, 0.5, 1.5, 3.0}, r = 1.0, y;
    float zf[B * K], wf[K], probs[B * K], dz[B * K], loss;
    xent_ctx c = {B, K, lab, weighted ? wd : NULL};
    for (int k = 0; k < K; k++) wf[k] = (float)wd[k];
    fill(zd, zf, B * K, 3.0);
    loss = es__xent_forward(probs, zf, lab, weighted ? wf : NULL, B, K);
    xent_ref(&c, &y, zd, NULL);
    CHECK_NEAR(loss, y, 1e-6 * fabs(y) + 1e-7);
    CHECK_NEAR(es_softmax_xent(zf, lab, weighted ? wf : NULL, B, K), y, 1e-6 * fabs(y) + 1e-7);
    es__xent_backward(dz, probs, lab, weighted ? wf : NULL, B, K);
    fd_check(weighted ? "cross-entropy (weighted) dlogits" : "cross-entropy dlogits", xent_ref, &c,
             &y, 1, &r, zd, NULL, zd, B * K, dz, 1e-5);
}

int main(void) {
    check_conv(2, 3, 7, 8, 4, 3, 3, 1, 1, 1, 1, 1);
    check_conv(2, 2, 9, 11, 3, 3, 5, 1, 2, 1, 2, 1);
    check_conv(1, 3, 10, 7, 2, 5, 3, 2, 1, 0, 1, 0);
    check_conv(2, 4, 5, 6, 3, 1, 1, 1, 1, 0, 0, 1); /* pointwise: no im2col */
    check_conv(1, 1, 12, 9, 2, 4, 4, 3, 2, 2, 0, 1);
    /* single input channel, stride 1: the direct (no im2col) forward */
    check_conv(2, 1, 9, 11, 3, 3, 3, 1, 1, 1, 1, 1);
    check_conv(1, 1, 6, 2, 2, 3, 3, 1, 1, 1, 1, 1);
    check_conv(1, 1, 8, 7, 2, 5, 3, 1, 1, 2, 0, 0);
    check_pool(1, 2, 3, 8, 9, 2, 2, 2, 2);
    check_pool(1, 1, 2, 9, 9, 3, 3, 2, 2); /* overlapping windows */
    check_pool(0, 2, 3, 8, 9, 2, 2, 2, 2);
    check_pool(0, 1, 2, 7, 10, 3, 2, 1, 2);
    check_gap();
    check_bn(1);
    check_bn(0);
    check_linear(1);
    check_linear(0);
    check_elementwise();
    check_xent(0);
    check_xent(1);
    CHECK_DONE();
}
