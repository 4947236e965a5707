/* Features against torchaudio: every CLIP__DESC.npy fixture made by
 * tests/gen_fixtures.py must be matched within 2e-4 of its largest magnitude. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "earshot/audio.h"
#include "earshot/features.h"
#include "earshot/npy.h"
#include "earshot/resample.h"
#include "failalloc.h"

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

static void out_of_memory_paths(void) {
    es_feature_desc desc;
    char path[1024];
    long k;
    snprintf(path, sizeof path, "%s/logmel64-16k.json", ES_FIXTURES_DIR);
    CHECK_RC(es_feature_desc_load(&desc, path), 0);
    for (k = 0; k < 64; k++) {
        es_features *fx = NULL;
        int rc;
        failalloc_arm(k);
        rc = es_features_create(&fx, &desc);
        failalloc_disarm();
        if (!failalloc_failed()) {
            CHECK_RC(rc, 0);
            CHECK(fx != NULL);
            es_features_free(fx);
            break;
        }
        CHECK_EQ_INT(rc, ES_ENOMEM);
        CHECK(fx == NULL);
    }
    CHECK(k > 3 && k < 64); /* every allocation of a full create was made to fail once */
}

int main(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_case(cases[i].clip, cases[i].desc);
    out_of_memory_paths();
    CHECK_DONE();
}
