/* Streaming features equal offline features bit for bit, whatever the chunking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/features.h"

typedef struct {
    float *m;
    size_t F, T;
    uint64_t expect_t;
    int order_ok;
} sink;

static void collect(void *user, uint64_t t, const float *frame) {
    sink *s = user;
    if (t != s->expect_t) s->order_ok = 0;
    s->expect_t = t + 1;
    if (t >= s->T) {
        s->order_ok = 0;
        return;
    }
    for (size_t f = 0; f < s->F; f++) s->m[f * s->T + t] = frame[f];
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A chunk size: often tiny, sometimes around a hop, now and then huge. */
static size_t chunk_size(void) {
    switch (rnd() % 4) {
    case 0: return 1 + rnd() % 3;
    case 1: return 1 + rnd() % 400;
    case 2: return 1 + rnd() % 5000;
    default: return rnd() % 3 == 0 ? 0 : 1 + rnd() % 40000;
    }
}

static void run(const char *json, size_t n, int trials) {
    es_feature_desc desc;
    es_features *fx = NULL;
    float *x = malloc(n * sizeof *x), *off = NULL;
    size_t F, T;
    sink s = {0};

    CHECK_RC(es_feature_desc_parse(&desc, json, "test"), 0);
    CHECK_RC(es_features_create(&fx, &desc), 0);
    if (check_failures) goto out;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)(rnd() % 20001) / 20000.0 - 0.5) * (i % 3000 < 1500 ? 1.0f : 0.01f);
    F = es_features_nbins(fx);
    T = es_features_nframes(&desc, n);
    off = malloc(F * T * sizeof *off);
    s.m = malloc(F * T * sizeof *s.m);
    s.F = F;
    s.T = T;
    /* Offline reference without the matrix stage, frame by frame. */
    es_features_reset(fx);
    s.expect_t = 0;
    s.order_ok = 1;
    CHECK_RC(es_features_push(fx, x, n, collect, &s), 0);
    CHECK_RC(es_features_finish(fx, collect, &s), 0);
    CHECK(s.order_ok);
    CHECK_EQ_INT(s.expect_t, T);
    memcpy(off, s.m, F * T * sizeof *off);

    for (int trial = 0; trial < trials; trial++) {
        size_t pos = 0;
        memset(s.m, 0xff, F * T * sizeof *s.m); /* NaN everywhere: every frame must be written */
        es_features_reset(fx);
        s.expect_t = 0;
        s.order_ok = 1;
        while (pos < n) {
            size_t k = chunk_size();
            if (k > n - pos) k = n - pos;
            CHECK_RC(es_features_push(fx, x + pos, k, collect, &s), 0);
            pos += k;
        }
        CHECK_RC(es_features_finish(fx, collect, &s), 0);
        CHECK(s.order_ok);
        CHECK_EQ_INT(s.expect_t, T);
        CHECK(memcmp(off, s.m, F * T * sizeof *off) == 0);
    }
    /* es_features_compute is the same stream plus the matrix stage. */
    {
        float *full = malloc(F * T * sizeof *full);
        CHECK_RC(es_features_compute(fx, x, n, full, T), 0);
        es_features_finalize(&desc, off, F, T);
        CHECK(memcmp(off, full, F * T * sizeof *off) == 0);
        free(full);
    }
out:
    free(x);
    free(off);
    free(s.m);
    es_features_free(fx);
}

static void edge_cases(void) {
    es_feature_desc desc;
    es_features *fx = NULL;
    float x[300] = {0};
    sink s = {0};
    CHECK_RC(es_feature_desc_parse(&desc,
                                   "{\"kind\":\"spectrogram\",\"sample_rate\":16000,"
                                   "\"n_fft\":512,\"hop_length\":160}",
                                   "edge"),
             0);
    CHECK_RC(es_features_create(&fx, &desc), 0);
    if (!fx) return;
    /* reflect padding needs more than n_fft/2 samples */
    CHECK_EQ_INT(es_features_min_samples(&desc), 257);
    CHECK_RC(es_features_push(fx, x, 256, NULL, NULL), 0);
    CHECK_RC(es_features_finish(fx, NULL, NULL), ES_ETOOSHORT);
    CHECK_RC(es_features_push(fx, x, 1, NULL, NULL), ES_ESTATE);
    es_features_reset(fx);
    s.expect_t = 0;
    s.order_ok = 1;
    s.T = 1000;
    s.F = es_features_nbins(fx);
    s.m = malloc(s.F * s.T * sizeof *s.m);
    CHECK_RC(es_features_push(fx, x, 257, collect, &s), 0);
    CHECK_RC(es_features_finish(fx, collect, &s), 0);
    CHECK_EQ_INT(s.expect_t, es_features_nframes(&desc, 257));
    CHECK_EQ_INT(es_features_nframes(&desc, 16000), 101);
    CHECK_EQ_INT(es_features_nframes(&desc, 0), 0);
    free(s.m);
    es_features_free(fx);
}

/* The matrix stage against a double-precision reference: top_db clamp, each
 * band's mean over the window subtracted (cmn), then (x - mean) / std; and a
 * fixed colouring (a constant added to each band) leaves cmn's output as it
 * was, which is what the key is for. */
static void matrix_stage(void) {
    enum { F = 3, T = 7 };
    es_feature_desc d;
    float m[F * T], c[F * T];
    double ref[F * T], mx = -1e9;
    CHECK_RC(es_feature_desc_parse(&d,
                                   "{\"kind\":\"melspectrogram\",\"sample_rate\":8000,"
                                   "\"n_fft\":256,\"hop_length\":80,\"n_mels\":3,\"log\":\"db\","
                                   "\"top_db\":30,\"cmn\":true,\"mean\":1.5,\"std\":4}",
                                   "matrix"),
             0);
    for (int i = 0; i < F * T; i++) {
        m[i] = (float)(-60.0 + 47.0 * ((i * 37) % 11) / 11.0 + 0.25 * i);
        if (m[i] > mx) mx = m[i];
    }
    for (int f = 0; f < F; f++) {
        double mu = 0.0;
        for (int t = 0; t < T; t++) {
            double v = m[f * T + t];
            ref[f * T + t] = v < mx - 30.0 ? mx - 30.0 : v;
            mu += ref[f * T + t] / T;
        }
        for (int t = 0; t < T; t++) ref[f * T + t] = (ref[f * T + t] - mu - 1.5) / 4.0;
    }
    memcpy(c, m, sizeof m);
    es_features_finalize(&d, m, F, T);
    for (int i = 0; i < F * T; i++) CHECK_NEAR(m[i], ref[i], 1e-5);
    /* colouring: without top_db (whose floor is not per band) it cancels */
    d.top_db = -1.0;
    memcpy(m, c, sizeof m);
    for (int i = 0; i < F * T; i++) c[i] += (float)(6.0 * (i / T) - 4.0);
    es_features_finalize(&d, m, F, T);
    es_features_finalize(&d, c, F, T);
    for (int i = 0; i < F * T; i++) CHECK_NEAR(c[i], m[i], 1e-5);
    /* and without cmn the colouring stays */
    d.cmn = 0;
    es_features_finalize(&d, c, F, T);
    CHECK(c[T] - c[0] > 1.0);
}

int main(void) {
    run("{\"kind\":\"melspectrogram\",\"sample_rate\":16000,\"n_fft\":512,\"win_length\":400,"
        "\"hop_length\":160,\"n_mels\":64,\"log\":\"log\"}",
        40000, 25);
    run("{\"kind\":\"spectrogram\",\"sample_rate\":16000,\"n_fft\":600,\"hop_length\":300}",
        80000, 15);
    run("{\"kind\":\"melspectrogram\",\"sample_rate\":8000,\"n_fft\":256,\"win_length\":200,"
        "\"hop_length\":80,\"n_mels\":40,\"mel_scale\":\"slaney\",\"norm\":\"slaney\","
        "\"log\":\"db\",\"top_db\":80}",
        12345, 25);
    /* odd n_fft, hop longer than the FFT, and an uncentred stream */
    run("{\"kind\":\"spectrogram\",\"sample_rate\":8000,\"n_fft\":255,\"hop_length\":700}", 30001,
        20);
    run("{\"kind\":\"spectrogram\",\"sample_rate\":8000,\"n_fft\":256,\"hop_length\":100,"
        "\"center\":false}",
        9999, 20);
    edge_cases();
    matrix_stage();
    CHECK_DONE();
}
