/* tests/test_augment.c — the augmentations do exactly what they say:
 * stretch and warp read the matrix at t/s and f/s with the floor beyond it,
 * (anchored at the last frame when aligned at the end), masks fill with the
 * mean, a colouring of 0 dB is the identity and any colouring keeps a
 * signal finite and within its gain bounds, placement keeps the clip's
 * samples (in the last half of the slack, aligned at the end, shift 0.5),
 * and the generators are reproducible. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/augment.h"
#include "earshot/error.h"
#include "earshot/resample.h"

enum { F = 4, T = 9 };

static void ramp(float *m) {
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++) m[f * T + t] = (float)(t + 10 * f);
}

static void stretch_and_warp(void) {
    float m[F * T], ws[F * T];
    es_augment a = es_augment_none();
    es_rng r;
    es_rng_seed(&r, 1);
    /* slower by 2: frame t shows frame t/2 */
    a.stretch_p = 1.0;
    a.stretch_min = a.stretch_max = 2.0;
    ramp(m);
    es_augment_spec(&a, &r, m, F, T, ws);
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++) CHECK_NEAR(m[f * T + t], 0.5 * t + 10 * f, 1e-6);
    /* faster by 2: frame t shows frame 2t, the floor (0) past the end */
    a.stretch_min = a.stretch_max = 0.5;
    ramp(m);
    es_augment_spec(&a, &r, m, F, T, ws);
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++) CHECK_NEAR(m[f * T + t], 2 * t < T ? 2 * t + 10 * f : 0.0, 1e-6);
    /* anchored at the end (align end): frame T-1-t shows frame T-1-t/2 when
     * slower by 2, and T-1-2t (the floor before the start) when faster */
    a.align_end = 1;
    a.stretch_min = a.stretch_max = 2.0;
    ramp(m);
    es_augment_spec(&a, &r, m, F, T, ws);
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++) CHECK_NEAR(m[f * T + T - 1 - t], T - 1 - 0.5 * t + 10 * f, 1e-6);
    a.stretch_min = a.stretch_max = 0.5;
    ramp(m);
    es_augment_spec(&a, &r, m, F, T, ws);
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++)
            CHECK_NEAR(m[f * T + T - 1 - t], 2 * t < T ? T - 1 - 2 * t + 10 * f : 0.0, 1e-6);
    /* warp by 1.5 along frequency: bin f shows bin f/1.5 */
    a = es_augment_none();
    a.warp_p = 1.0;
    a.warp_min = a.warp_max = 1.5;
    ramp(m);
    es_augment_spec(&a, &r, m, F, T, ws);
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++) CHECK_NEAR(m[f * T + t], t + 10 * f / 1.5, 1e-5);
    /* p = 0: untouched */
    a.warp_p = 0.0;
    ramp(m);
    es_augment_spec(&a, &r, m, F, T, ws);
    for (int f = 0; f < F; f++)
        for (int t = 0; t < T; t++) CHECK_EQ_INT(m[f * T + t], t + 10 * f);
}

static void masks(void) {
    float m[F * T], ws[F * T];
    es_augment a = es_augment_none();
    es_rng r;
    int filled = 0;
    es_rng_seed(&r, 3);
    a.time_masks = 1;
    a.time_mask_width = 4;
    a.time_mask_p = 1.0;
    for (int rep = 0; rep < 20; rep++) {
        ramp(m);
        es_augment_spec(&a, &r, m, F, T, ws);
        /* a masked frame holds the matrix mean, (T-1)/2 + 10(F-1)/2, in every bin */
        for (int t = 0; t < T; t++) {
            int masked = m[t] != (float)t;
            for (int f = 0; f < F && masked; f++) CHECK_NEAR(m[f * T + t], 4.0 + 15.0, 1e-5);
            filled += masked;
        }
    }
    CHECK(filled > 0);
}

static double rms(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

static void colouring(void) {
    enum { N = 8000 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *ws;
    es_augment a = es_augment_none();
    es_rng r, r2;
    ws = malloc(es_augment_scratch(&a, N) * sizeof *ws);
    CHECK(x && y && ws);
    if (!x || !y || !ws) goto out;
    es_rng_seed(&r, 5);
    es_noise(&r, x, N, 2, -20.0); /* pink, -20 dBFS */
    CHECK_NEAR(20.0 * log10(rms(x, N)), -20.0, 0.01);
    /* 0 dB bands: every biquad is the identity */
    a.eq_p = 1.0;
    a.eq_db = 1e-9;
    CHECK_RC(es_augment_wave(&a, &r, y, N, x, N, NULL, 0, ws, 8000, NULL), 0);
    for (size_t i = 0; i < N; i++) CHECK_NEAR(y[i], x[i], 1e-5);
    /* 12 dB bands: three filters move the level by less than 36 dB, and the
     * same seed gives the same colouring */
    a.eq_db = 12.0;
    for (int rep = 0; rep < 20; rep++) {
        double d;
        r2 = r;
        CHECK_RC(es_augment_wave(&a, &r, y, N, x, N, NULL, 0, ws, 8000, NULL), 0);
        d = 20.0 * log10(rms(y, N) / rms(x, N));
        CHECK(isfinite(d) && fabs(d) < 36.0);
        {
            float y0 = y[N / 2];
            CHECK_RC(es_augment_wave(&a, &r2, y, N, x, N, NULL, 0, ws, 8000, NULL), 0);
            CHECK_EQ_INT(memcmp(&y0, &y[N / 2], sizeof y0), 0);
        }
    }
out:
    free(x);
    free(y);
    free(ws);
}

/* A room's echo: a click at the window's start rings on and dies away
 * (its tail is louder early than late, and gone by twice the longest
 * reverberation time plus the delays), its level near the dry click's;
 * without reverb the tail is silence. The setting round-trips as JSON, and
 * a model trained without it describes no reverb. */
static void room_echo(void) {
    enum { N = 16000, RATE = 8000 };
    float x[1] = {0.9f}, *y = malloc(N * sizeof *y), *ws;
    es_augment a = es_augment_none(), b;
    es_rng r;
    char *json = NULL;
    double early = 0.0, late = 0.0, end = 0.0;
    a.reverb_p = 1.0;
    a.reverb_min = a.reverb_max = 0.5;
    ws = malloc(es_augment_scratch(&a, N) * sizeof *ws);
    CHECK(y && ws);
    if (!y || !ws) goto out;
    es_rng_seed(&r, 3);
    CHECK_RC(es_augment_wave(&a, &r, y, N, x, 1, NULL, 0, ws, RATE, NULL), 0);
    for (int i = 1; i < RATE / 10; i++) early += (double)y[i] * y[i];          /* 0-0.1 s */
    for (int i = RATE / 2; i < RATE / 2 + RATE / 10; i++) late += (double)y[i] * y[i]; /* 0.5 s */
    for (int i = 3 * RATE / 2; i < N; i++) end += (double)y[i] * y[i];         /* past 1.5 s */
    CHECK(early > 0.0 && late > 0.0 && early > 100.0 * late);
    CHECK(end < 1e-6 * early);
    CHECK(y[0] > 0.3f && y[0] < 0.9f); /* the dry click, less the wet share */
    a.reverb_p = 0.0;
    CHECK_RC(es_augment_wave(&a, &r, y, N, x, 1, NULL, 0, ws, RATE, NULL), 0);
    for (int i = 1; i < N; i++) CHECK_EQ_INT(y[i] == 0.0f, 1);
    CHECK_RC(es_augment_to_json(&a, &json), 0);
    CHECK(json && !strstr(json, "reverb"));
    es_free(json);
    a.reverb_p = 0.4;
    a.reverb_min = 0.2;
    a.reverb_max = 0.9;
    CHECK_RC(es_augment_to_json(&a, &json), 0);
    CHECK_RC(es_augment_from_json(&b, json, "test"), 0);
    CHECK(b.reverb_p == 0.4 && b.reverb_min == 0.2 && b.reverb_max == 0.9);
    es_free(json);
    a.reverb_max = 5.0;
    CHECK(es_augment_check(&a) && strstr(es_augment_check(&a), "reverb"));
out:
    free(y);
    free(ws);
}

/* White noise is standard normal draws (ziggurat), scaled: over 400,000
 * draws the mean, the kurtosis and the mass beyond 1, 2, 3 and 3.5
 * standard deviations match the normal's (2·(1-Φ(k))) within five standard
 * errors, and two runs of one seed are the same. */
static void white_noise_is_normal(void) {
    enum { N = 400000 };
    static const double tail[4] = {0.317311, 0.0455003, 0.0026998, 4.6525e-4};
    static const double at[4] = {1.0, 2.0, 3.0, 3.5};
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    double m = 0.0, v = 0.0, k4 = 0.0, beyond[4] = {0};
    es_rng r;
    CHECK(x && y);
    if (!x || !y) goto out;
    es_rng_seed(&r, 11);
    es_noise(&r, x, N, 1, 0.0); /* white, RMS 1 */
    es_rng_seed(&r, 11);
    es_noise(&r, y, N, 1, 0.0);
    CHECK_EQ_INT(memcmp(x, y, N * sizeof *x), 0);
    for (size_t i = 0; i < N; i++) m += x[i];
    m /= N;
    for (size_t i = 0; i < N; i++) {
        double d = x[i] - m;
        v += d * d;
        k4 += d * d * d * d;
    }
    v /= N;
    k4 = k4 / N / (v * v);
    CHECK(fabs(m) < 0.01);   /* standard error 0.0016 */
    CHECK_NEAR(k4, 3.0, 0.1); /* standard error 0.008 */
    for (size_t i = 0; i < N; i++)
        for (int k = 0; k < 4; k++) beyond[k] += fabs(x[i] - m) > at[k] * sqrt(v);
    for (int k = 0; k < 4; k++) {
        double p = beyond[k] / N, se = sqrt(tail[k] * (1.0 - tail[k]) / N);
        if (fabs(p - tail[k]) > 5.0 * se)
            fprintf(stderr, "beyond %.1f sd: %.6f, the normal's %.6f (%.1f standard errors)\n",
                    at[k], p, tail[k], (p - tail[k]) / se);
        CHECK(fabs(p - tail[k]) <= 5.0 * se);
    }
out:
    free(x);
    free(y);
}

static void placement(void) {
    enum { CLIP = 1000, N = 300 };
    static float x[N], out[CLIP], ws[4 * CLIP];
    es_augment a = es_augment_none();
    es_rng r;
    es_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) x[i] = (float)(i + 1) / N;
    /* shift 1: anywhere; align end, shift 0.5: ending in the last half of
     * the slack. The clip's samples land whole and in order either way. */
    for (int end = 0; end <= 1; end++) {
        a.shift = end ? 0.5 : 1.0;
        a.align_end = end;
        for (int rep = 0; rep < 50; rep++) {
            int start = -1, ok = 1;
            CHECK_RC(es_augment_wave(&a, &r, out, CLIP, x, N, NULL, 0, ws, 8000, NULL), 0);
            for (int i = 0; i < CLIP && start < 0; i++)
                if (out[i] != 0.0f) start = i;
            CHECK(start >= (end ? (CLIP - N) / 2 : 0) && start <= CLIP - N);
            for (int i = 0; start >= 0 && i < N; i++) ok &= out[start + i] == x[i];
            CHECK(ok);
        }
    }
    /* shift 0 puts it exactly at the end */
    a.shift = 0.0;
    CHECK_RC(es_augment_wave(&a, &r, out, CLIP, x, N, NULL, 0, ws, 8000, NULL), 0);
    CHECK(out[CLIP - N - 1] == 0.0f && out[CLIP - N] == x[0] && out[CLIP - 1] == x[N - 1]);
}

/* A bank's converters, reused clip after clip, give what a one-shot
 * conversion of each clip gives: the same length and the same samples to
 * float rounding, however long the clips and in whatever order the speeds
 * come (the same speed several times in a row included). The exception is
 * a clip's first few samples on a converter that has run before: soxr
 * starts a stream (the one-shot conversion) slightly differently from how
 * it goes on after silence, by up to 1% of the clip's peak in the first 4
 * samples (measured), so the first 8 get 2%. */
static void speed_bank(void) {
    enum { RATE = 8000, MAXN = 9000, CAP = 12000, EDGE = 8 };
    static const double speeds[] = {0.85, 1.15, 1.0, 1.0,  0.9031, 1.07, 0.85, 1.5,  0.5, 2.0,
                                    0.85, 0.85, 0.85, 1.15, 1.15,  1.15, 0.87, 0.87, 0.87};
    static const size_t lens[] = {4000, 17,   8000, 3001, 900,  9000, 123, 5000, 2000, 1000,
                                  5000, 3000, 7000, 4000, 4000, 600,  4000, 300, 2000};
    static float x[MAXN], y[CAP];
    es_speed_bank *b = NULL;
    es_rng r;
    es_rng_seed(&r, 3);
    CHECK_NEAR(es_speed_quantize(1.0), 1.0, 0.0);
    CHECK_NEAR(es_speed_quantize(1.07), 68.0 / 64.0, 0.0);
    CHECK_NEAR(es_speed_quantize(0.1), 0.5, 0.0);
    CHECK_NEAR(es_speed_quantize(3.0), 2.0, 0.0);
    CHECK_RC(es_speed_bank_new(&b, 1), ES_ERANGE);
    CHECK_RC(es_speed_bank_new(&b, RATE), 0);
    if (!b) return;
    for (size_t c = 0; c < sizeof speeds / sizeof speeds[0]; c++) {
        size_t n = lens[c], ny = 0, nref = 0;
        double s = es_speed_quantize(speeds[c]), edge = 0.0, rest = 0.0;
        float *ref = NULL;
        /* a chirp with noise (peak about 0.8): every frequency, so the
         * filters matter */
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(0.5 * sin(0.2 * (double)i + 1e-4 * (double)i * (double)i) +
                           0.1 * es_rng_normal(&r));
        CHECK_RC(es_speed_apply(b, speeds[c], x, n, y, CAP, &ny), 0);
        CHECK_RC(es_resample(x, n, RATE * s, RATE, &ref, &nref), 0);
        CHECK_EQ_INT((int)ny, (int)nref);
        for (size_t i = 0; ref && i < ny && i < nref; i++) {
            double d = fabs(y[i] - ref[i]);
            if (i < EDGE && d > edge) edge = d;
            if (i >= EDGE && d > rest) rest = d;
        }
        CHECK(edge < 0.02 * 0.8);
        CHECK(rest < 1e-5);
        es_free(ref);
    }
    /* the output stops at cap */
    {
        size_t ny = 0;
        CHECK_RC(es_speed_apply(b, 0.5, x, 4000, y, 100, &ny), 0);
        CHECK_EQ_INT((int)ny, 100);
    }
    es_speed_bank_free(b);
}

/* A shuffle is a permutation, fixed by the seed, and not the identity. */
static void shuffle(void) {
    enum { N = 50 };
    size_t a[N], b[N];
    int seen[N] = {0}, moved = 0;
    es_rng r1, r2;
    es_rng_seed(&r1, 9);
    es_rng_seed(&r2, 9);
    for (size_t i = 0; i < N; i++) a[i] = b[i] = i;
    es_rng_shuffle(&r1, a, N);
    es_rng_shuffle(&r2, b, N);
    for (size_t i = 0; i < N; i++) {
        CHECK(a[i] < N && a[i] == b[i]);
        if (a[i] < N) seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < N; i++) CHECK_EQ_INT(seen[i], 1);
    CHECK(moved > N / 2);
    es_rng_shuffle(&r1, a, 0);   /* nothing to do, nothing touched */
    es_rng_shuffle(&r1, a, 1);
}

int main(void) {
    shuffle();
    stretch_and_warp();
    masks();
    colouring();
    room_echo();
    white_noise_is_normal();
    placement();
    speed_bank();
    CHECK_DONE();
}
