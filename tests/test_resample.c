/* tests/test_resample.c — one-shot and streaming sample-rate conversion.
 *
 * A 440 Hz sine of one second goes through every pair of rates; away from
 * the edges (where the filter sees the signal switch on and off) the output
 * must be the same sine sampled at the new rate. soxr compensates its filter
 * delay, so no shift is allowed for: output sample k is at time k / rate_out,
 * streamed or not.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "failalloc.h"
#include "earshot/alloc.h"
#include "earshot/error.h"
#include "earshot/resample.h"

#define PI 3.14159265358979323846
#define FREQ 440.0
#define AMP 0.5
#define TOL 1e-3

static const double rates[] = {8000, 11025, 16000, 22050, 37800, 44100, 48000};
#define N_RATES (sizeof rates / sizeof rates[0])

static float *sine(double rate, size_t n) {
    float *x = malloc(n * sizeof *x);
    size_t i;
    for (i = 0; i < n; i++) x[i] = (float)(AMP * sin(2 * PI * FREQ * (double)i / rate));
    return x;
}

/* Largest |y[k] - sine at k / rate| over the interior, skipping 50 ms each side. */
static double interior_error(const float *y, size_t n, double rate) {
    size_t skip = (size_t)(0.05 * rate), k;
    double worst = 0.0;
    for (k = skip; k + skip < n; k++) {
        double d = fabs((double)y[k] - AMP * sin(2 * PI * FREQ * (double)k / rate));
        if (d > worst) worst = d;
    }
    return worst;
}

/* round(n * out / in) for whole-number rates, halves up. */
static size_t expected_len(size_t n, double in, double out) {
    uint64_t ri = (uint64_t)in, ro = (uint64_t)out;
    return (size_t)((2 * (uint64_t)n * ro + ri) / (2 * ri));
}

static unsigned lcg_state = 12345u;
static size_t lcg(size_t below) {
    lcg_state = lcg_state * 1103515245u + 12345u;
    return (size_t)((lcg_state >> 8) % below);
}

/* Streams x through rs in random chunks of 1..max_in, then flushes until
 * empty. Returns the output (malloc'd) and its length. */
static float *stream(es_resampler *rs, const float *x, size_t n, size_t max_in, size_t *n_y) {
    size_t cap_out = es_resampler_max_out(rs), total_cap = 2 * n * 48 + 1, pos = 0, got = 0, k;
    float *y = malloc(total_cap * sizeof *y), *out = malloc(cap_out * sizeof *out);
    while (pos < n) {
        size_t chunk = 1 + lcg(max_in);
        if (chunk > n - pos) chunk = n - pos;
        CHECK_RC(es_resampler_process(rs, x + pos, chunk, out, cap_out, &k), 0);
        CHECK(k <= cap_out);
        if (got + k <= total_cap) memcpy(y + got, out, k * sizeof *y);
        got += k;
        pos += chunk;
    }
    for (;;) {
        int rc = es_resampler_flush(rs, out, cap_out, &k);
        CHECK_RC(rc, 0);
        if (rc < 0 || k == 0) break;
        if (got + k <= total_cap) memcpy(y + got, out, k * sizeof *y);
        got += k;
    }
    free(out);
    *n_y = got;
    return y;
}

static void test_pairs(void) {
    size_t a, b;
    for (a = 0; a < N_RATES; a++) {
        for (b = 0; b < N_RATES; b++) {
            double rin = rates[a], rout = rates[b];
            size_t n = (size_t)rin, want = expected_len(n, rin, rout), ny = 0, ns = 0, max_in;
            float *x = sine(rin, n), *y = NULL, *ys;
            es_resampler *rs = NULL;
            double err;

            CHECK_RC(es_resample(x, n, rin, rout, &y, &ny), 0);
            CHECK_EQ_INT(ny, want);
            if (rin == rout) {
                CHECK(y && memcmp(x, y, n * sizeof *x) == 0);
            } else if (y) {
                err = interior_error(y, ny, rout);
                if (!(err <= TOL))
                    fprintf(stderr, "one-shot %g -> %g Hz: interior error %g\n", rin, rout, err);
                CHECK(err <= TOL);
            }

            /* Streaming, with a block size that does not divide the signal. */
            max_in = 1 + (size_t)(rin / 50) + lcg(300);
            CHECK_RC(es_resampler_create(&rs, rin, rout, max_in), 0);
            if (!rs) {
                free(x);
                es_free(y);
                continue;
            }
            CHECK(es_resampler_max_out(rs) >= (size_t)ceil(max_in * rout / rin));
            ys = stream(rs, x, n, max_in, &ns);
            CHECK(ns + 2 >= want && ns <= want + 2);
            if (rin == rout) {
                CHECK_EQ_INT(ns, n);
                CHECK(ns == n && memcmp(x, ys, n * sizeof *x) == 0);
            } else {
                size_t k, common = ns < ny ? ns : ny;
                double diff = 0.0;
                err = interior_error(ys, ns, rout);
                if (!(err <= TOL))
                    fprintf(stderr, "stream %g -> %g Hz: interior error %g\n", rin, rout, err);
                CHECK(err <= TOL);
                /* Streamed and one-shot outputs are the same signal. */
                for (k = 0; y && k < common; k++)
                    if (fabs((double)ys[k] - (double)y[k]) > diff)
                        diff = fabs((double)ys[k] - (double)y[k]);
                CHECK(diff <= 1e-5);
            }

            /* After a flush: no more input until reset; a reset stream
             * gives the same output again. */
            {
                float tmp[4096];
                size_t k2, ns2 = 0;
                float *ys2;
                CHECK_RC(es_resampler_process(rs, x, 1, tmp, sizeof tmp / sizeof tmp[0], &k2),
                         ES_ESTATE);
                CHECK_RC(es_resampler_reset(rs), 0);
                lcg_state = 777u;
                ys2 = stream(rs, x, n, max_in, &ns2);
                CHECK_RC(es_resampler_reset(rs), 0);
                lcg_state = 777u;
                free(ys);
                ys = stream(rs, x, n, max_in, &ns);
                CHECK_EQ_INT(ns2, ns);
                CHECK(ns2 == ns && memcmp(ys, ys2, ns * sizeof *ys) == 0);
                free(ys2);
            }
            es_resampler_free(rs);
            free(ys);
            free(x);
            es_free(y);
        }
    }
}

/* Lengths: round(n * ratio) for awkward n, including exact halves. */
static void test_lengths(void) {
    static const size_t ns[] = {1, 2, 3, 7, 40, 41, 80, 99, 1001};
    size_t i, a, b;
    float x[1001];
    for (i = 0; i < 1001; i++) x[i] = (float)(0.25 * sin((double)i * 0.01));
    for (i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (a = 0; a < N_RATES; a++)
            for (b = 0; b < N_RATES; b++) {
                float *y = NULL;
                size_t ny = 0, want = expected_len(ns[i], rates[a], rates[b]);
                int rc = es_resample(x, ns[i], rates[a], rates[b], &y, &ny);
                if (want == 0) {
                    CHECK_RC(rc, ES_ERANGE);
                } else {
                    CHECK_RC(rc, 0);
                    CHECK_EQ_INT(ny, want);
                }
                es_free(y);
            }
}

static void test_bad_args(void) {
    static const double bad[] = {0.0, -1.0, 1e9, 999.0, 384001.0};
    float x[16] = {0}, out[64];
    float *y = (float *)1;
    size_t ny = 99, k;
    es_resampler *rs = (es_resampler *)1;
    char want[64];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want, "sample rate %g Hz is out of range", bad[i]);
        CHECK_RC(es_resample(x, 16, bad[i], 16000, &y, &ny), ES_ERANGE);
        CHECK(strstr(es_errmsg(), want) != NULL);
        CHECK(y == NULL && ny == 0);
        CHECK_RC(es_resample(x, 16, 16000, bad[i], &y, &ny), ES_ERANGE);
        CHECK(strstr(es_errmsg(), want) != NULL);
        CHECK_RC(es_resampler_create(&rs, bad[i], 16000, 100), ES_ERANGE);
        CHECK(rs == NULL);
        CHECK_RC(es_resampler_create(&rs, 16000, bad[i], 100), ES_ERANGE);
        CHECK(strstr(es_errmsg(), want) != NULL);
    }
    CHECK_RC(es_resample(x, 16, 0, 16000, &y, &ny), ES_ERANGE);
    CHECK(strcmp(es_errmsg(), "sample rate 0 Hz is out of range (1000–384000 Hz)") == 0);
    CHECK_RC(es_resample(x, 16, NAN, 16000, &y, &ny), ES_ERANGE);
    CHECK(strstr(es_errmsg(), "nan Hz") != NULL);
    CHECK_RC(es_resample(x, 16, 16000, INFINITY, &y, &ny), ES_ERANGE);
    CHECK_RC(es_resampler_create(&rs, NAN, 16000, 100), ES_ERANGE);
    CHECK_RC(es_resampler_create(&rs, 16000, -INFINITY, 100), ES_ERANGE);

    CHECK_RC(es_resample(x, 0, 16000, 8000, &y, &ny), ES_EINVAL);
    CHECK_RC(es_resample(NULL, 16, 16000, 8000, &y, &ny), ES_EINVAL);
    CHECK_RC(es_resample(x, 16, 16000, 8000, NULL, &ny), ES_EINVAL);
    CHECK_RC(es_resampler_create(&rs, 16000, 8000, 0), ES_EINVAL);
    CHECK_RC(es_resampler_create(NULL, 16000, 8000, 10), ES_EINVAL);

    /* n_in > max_in, and an output buffer too small for the input. */
    CHECK_RC(es_resampler_create(&rs, 16000, 8000, 10), 0);
    CHECK_RC(es_resampler_process(rs, x, 11, out, 64, &k), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "max_in") != NULL);
    CHECK_RC(es_resampler_process(rs, x, 10, out, 2, &k), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "out_cap") != NULL);
    CHECK_RC(es_resampler_process(rs, x, 10, out, es_resampler_max_out(rs), &k), 0);
    CHECK_RC(es_resampler_process(rs, x, 0, out, es_resampler_max_out(rs), &k), 0);
    CHECK_RC(es_resampler_process(rs, NULL, 0, out, es_resampler_max_out(rs), &k), 0);
    CHECK_RC(es_resampler_flush(rs, out, 0, &k), ES_EINVAL);
    es_resampler_free(rs);

    CHECK_RC(es_resampler_create(&rs, 16000, 16000, 10), 0);
    CHECK_EQ_INT(es_resampler_max_out(rs), 10);
    CHECK_RC(es_resampler_process(rs, x, 11, out, 64, &k), ES_EINVAL);
    CHECK_RC(es_resampler_process(rs, x, 10, out, 9, &k), ES_EINVAL);
    CHECK_RC(es_resampler_process(rs, x, 10, out, 10, &k), 0);
    CHECK_EQ_INT(k, 10);
    CHECK_RC(es_resampler_flush(rs, out, 10, &k), 0);
    CHECK_EQ_INT(k, 0);
    es_resampler_free(rs);
    es_resampler_free(NULL);
    es_free(NULL);
}

/* Out of memory: fail the k-th allocation, for every k until none fails. */
static long fail_at;

static void test_oom(void) {
    float x[4800];
    size_t i;
    for (i = 0; i < 4800; i++) x[i] = (float)sin((double)i * 0.05);
    for (fail_at = 0; fail_at < 100; fail_at++) {
        float *y = NULL, out[4096];
        size_t ny = 0, k;
        es_resampler *rs = NULL;
        int rc1, rc2, rc3;
        failalloc_arm(fail_at);
        rc1 = es_resample(x, 4800, 48000, 16000, &y, &ny);
        if (rc1 == 0) CHECK_EQ_INT(ny, 1600);
        es_free(y);
        y = NULL;
        rc2 = es_resample(x, 4800, 16000, 16000, &y, &ny);
        es_free(y);
        y = NULL;
        CHECK(rc2 == 0 || rc2 == ES_ENOMEM);
        if (rc1 == 0) rc1 = rc2;
        rc3 = es_resampler_create(&rs, 48000, 16000, 480);
        if (rc3 == 0) {
            CHECK_RC(es_resampler_process(rs, x, 480, out, 4096, &k), 0);
            es_resampler_free(rs);
        } else {
            CHECK(rs == NULL);
        }
        failalloc_disarm();
        CHECK(rc1 == 0 || rc1 == ES_ENOMEM);
        CHECK(rc3 == 0 || rc3 == ES_ENOMEM);
        if (!failalloc_failed()) {
            CHECK_RC(rc1, 0);
            CHECK_RC(rc3, 0);
            break;
        }
    }
    CHECK(fail_at < 100);
}

int main(void) {
    test_pairs();
    test_lengths();
    test_bad_args();
    test_oom();
    CHECK_DONE();
}
