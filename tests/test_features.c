/* Features against torchaudio: every CLIP__DESC.npy fixture made by
 * tests/gen_fixtures.py must be matched within 2e-4 of its largest magnitude. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/alloc.h"
#include "earshot/audio.h"
#include "earshot/features.h"
#include "earshot/npy.h"
#include "earshot/resample.h"

/* The foundation issue's tolerance: 2e-4 of the matrix's largest magnitude. */
#define REL_TOL 2e-4

static const struct {
    const char *clip, *desc;
} cases[] = {
    {"synth1-16000", "spec-seed-16k"},   {"synth2-16000", "spec-seed-16k"},
    {"synth1-16000", "logmel64-16k"},    {"synth2-16000", "logmel64-16k"},
    {"synth1-8000", "dbmel40-8k"},       {"synth2-8000", "dbmel40-8k"},
    {"synth1-8000", "mag-spec-8k"},      {"synth2-8000", "mag-spec-8k"},
    {"synth1-22050", "mel-band-22k"},    {"synth2-22050", "mel-band-22k"},
    {"synth1-16000", "mel-htk-norm-16k"}, {"synth2-16000", "mel-htk-norm-16k"},
};

static void compare_case(const char *clip, const char *dname) {
    char path[1024];
    es_feature_desc desc;
    es_audio audio = {0};
    es_features *fx = NULL;
    float *ref = NULL, *got = NULL;
    size_t shape[3], F, T;
    int ndim = 0;
    double maxref = 0.0, maxdiff = 0.0;

    snprintf(path, sizeof path, "%s/%s.json", ES_FIXTURES_DIR, dname);
    CHECK_RC(es_feature_desc_load(&desc, path), 0);
    snprintf(path, sizeof path, "%s/%s.wav", ES_FIXTURES_DIR, clip);
    CHECK_RC(es_audio_read(path, &audio), 0);
    snprintf(path, sizeof path, "%s/%s__%s.npy", ES_FIXTURES_DIR, clip, dname);
    CHECK_RC(es_npy_read_f32(path, &ref, shape, 3, &ndim), 0);
    if (check_failures) goto out;
    CHECK_EQ_INT(ndim, 2);
    CHECK_EQ_INT(audio.rate, desc.sample_rate);
    CHECK_RC(es_features_create(&fx, &desc), 0);
    if (check_failures) goto out;
    F = es_features_nbins(fx);
    T = es_features_nframes(&desc, audio.n);
    CHECK_EQ_INT(F, shape[0]);
    CHECK_EQ_INT(T, shape[1]);
    if (F != shape[0] || T != shape[1]) goto out;
    got = malloc(F * T * sizeof *got);
    CHECK_RC(es_features_compute(fx, audio.samples, audio.n, got, T), 0);
    for (size_t i = 0; i < F * T; i++) {
        double r = fabs(ref[i]), d = fabs((double)got[i] - ref[i]);
        if (r > maxref) maxref = r;
        if (d > maxdiff || isnan(got[i])) maxdiff = isnan(got[i]) ? INFINITY : d;
    }
    fprintf(stderr, "%-14s %-18s [%zu, %zu] max|diff| = %.3g = %.2e of max|ref| %.4g\n", clip,
            dname, F, T, maxdiff, maxdiff / maxref, maxref);
    CHECK(maxdiff <= REL_TOL * maxref);
out:
    free(got);
    es_free(ref);
    es_features_free(fx);
    es_audio_free(&audio);
}

/* A failing allocator: the k-th allocation from now on returns NULL. */
static int alloc_countdown = -1;
static void *failing_malloc(size_t n) { return alloc_countdown-- == 0 ? NULL : malloc(n); }
static void *failing_realloc(void *p, size_t n) {
    return alloc_countdown-- == 0 ? NULL : realloc(p, n);
}
static void *failing_calloc(size_t c, size_t n) {
    return alloc_countdown-- == 0 ? NULL : calloc(c, n);
}

static void out_of_memory_paths(void) {
    es_feature_desc desc;
    int ok = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/logmel64-16k.json", ES_FIXTURES_DIR);
    CHECK_RC(es_feature_desc_load(&desc, path), 0);
    for (int k = 0; k < 64 && !ok; k++) {
        es_features *fx = NULL;
        int rc;
        alloc_countdown = k;
        CHECK_RC(es_set_allocator(failing_malloc, failing_realloc, failing_calloc, free), 0);
        rc = es_features_create(&fx, &desc);
        es_set_allocator(NULL, NULL, NULL, NULL);
        if (rc == 0) {
            ok = 1;
            CHECK(fx != NULL);
        } else {
            CHECK_EQ_INT(rc, ES_ENOMEM);
            CHECK(fx == NULL);
        }
        es_features_free(fx);
    }
    CHECK(ok); /* the loop reached the allocation count of a full create */
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_case(cases[i].clip, cases[i].desc);
    out_of_memory_paths();
    CHECK_DONE();
}
