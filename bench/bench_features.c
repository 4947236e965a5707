/* bench/bench_features.c — earshot's feature cost, for features_vs_torchaudio.py.
 *
 *   bench_features DESC.json SECONDS REPS
 *
 * Prints one JSON line: median microseconds per clip of SECONDS (offline
 * es_features_compute, matrix stage included) and the streaming cost per hop
 * (es_features_push one hop at a time over the same audio). The signal is
 * deterministic noise with a tone, so every run computes the same thing.
 *
 * It also times FFTW's real transform alone, T of them per clip, with the
 * fastest plan FFTW can find (FFTW_MEASURE with no time limit): the floor
 * under any FFTW-based extractor on one thread, so torchaudio's time over it
 * bounds the ratio such an extractor could reach.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fftw3.h>

#include "earshot/error.h"
#include "earshot/features.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median microseconds of T real transforms of n_fft points (a clip's frames). */
static double fft_floor_us(const float *x, size_t n, size_t n_fft, size_t T, int reps,
                           double *times) {
    double *in = fftw_malloc(n_fft * sizeof *in), t0;
    fftw_complex *out = fftw_malloc((n_fft / 2 + 1) * sizeof *out);
    fftw_plan plan = NULL;
    if (in && out) {
        fftw_set_timelimit(FFTW_NO_TIMELIMIT);
        plan = fftw_plan_dft_r2c_1d((int)n_fft, in, out, FFTW_MEASURE);
    }
    if (!plan) {
        fftw_free(in);
        fftw_free(out);
        return -1.0;
    }
    /* one frame of the clip, transformed T times: an FFT's cost does not
     * depend on the values, and leaving out the copy into the FFT's input
     * (which any extractor pays) keeps this a floor */
    for (size_t j = 0; j < n_fft; j++) in[j] = j < n ? (double)x[j] : 0.0;
    for (int r = -1; r < reps; r++) {
        t0 = now_us();
        for (size_t t = 0; t < T; t++) fftw_execute(plan);
        if (r >= 0) times[r] = now_us() - t0;
    }
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    return times[reps / 2];
}

static void count_frame(void *user, uint64_t t, const float *frame) {
    (void)t;
    *(float *)user += frame[0];
}

int main(int argc, char **argv) {
    es_feature_desc desc;
    es_features *fx;
    float *x, *m, sink = 0;
    double *times, t0, stream_us, floor_us;
    size_t n, F, T, hop;
    int reps;
    uint32_t seed = 12345;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_features DESC.json SECONDS REPS\n");
        return 2;
    }
    if (es_feature_desc_load(&desc, argv[1]) < 0 || es_features_create(&fx, &desc) < 0) {
        fprintf(stderr, "bench_features: %s\n", es_errmsg());
        return 1;
    }
    n = (size_t)(atof(argv[2]) * desc.sample_rate);
    reps = atoi(argv[3]);
    if (n < es_features_min_samples(&desc) || reps < 1) {
        fprintf(stderr, "bench_features: SECONDS too short or REPS < 1\n");
        return 2;
    }
    x = malloc(n * sizeof *x);
    times = malloc(2 * (size_t)reps * sizeof *times);
    F = es_features_nbins(fx);
    T = es_features_nframes(&desc, n);
    m = malloc(F * T * sizeof *m);
    if (!x || !times || !m) return 1;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = 0.1f * ((float)(seed >> 8) / 16777216.0f - 0.5f) +
               0.3f * (float)((i / 40) % 2 ? 1 : -1) * (float)(i % 4000 < 2000);
    }
    es_features_compute(fx, x, n, m, T); /* warm-up: page in, plan, caches */
    for (int r = 0; r < reps; r++) {
        t0 = now_us();
        es_features_compute(fx, x, n, m, T);
        times[r] = now_us() - t0;
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);

    hop = (size_t)desc.hop_length;
    es_features_reset(fx);
    t0 = now_us();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i + hop <= n; i += hop) es_features_push(fx, x + i, hop, count_frame, &sink);
    stream_us = (now_us() - t0) / ((double)reps * (double)(n / hop));

    floor_us = fft_floor_us(x, n, (size_t)desc.n_fft, T, reps, times + reps);
    if (floor_us < 0) {
        fprintf(stderr, "bench_features: FFTW could not plan or allocate\n");
        return 1;
    }
    printf("{\"us_per_clip\": %.2f, \"us_per_hop\": %.3f, \"us_fft_floor\": %.2f, \"F\": %zu, "
           "\"T\": %zu, \"sink\": %g}\n",
           times[reps / 2], stream_us, floor_us, F, T, (double)(sink != 0));
    free(x);
    free(m);
    free(times);
    es_features_free(fx);
    return 0;
}
