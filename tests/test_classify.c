/* tests/test_classify.c — a clip shorter than the window is classified where
 * the model learnt to see one: at the window's start (padded after it), or,
 * for features that say "align": "end", at its end (padded before it) and
 * without its trailing silence; "place" moves it that fraction of the spare
 * room away from that edge. The reference is the same network on the padded
 * window, built by hand. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "earshot/alloc.h"
#include "earshot/classify.h"
#include "earshot/features.h"
#include "earshot/model.h"
#include "earshot/nn.h"

/* N: whole 10 ms blocks; T: frames of a 0.5 s window at hop 80, centred */
enum { RATE = 8000, CLIP = 4000, N = 1520, K = 3, T = 51 };

static const char *const labels[K] = {"a", "b", "c"};

static void one_alignment(int align_end, double place) {
    es_feature_desc d;
    es_layer_spec *layers = NULL;
    es_model *m = NULL;
    es_classifier *c = NULL;
    int n_layers = 0;
    static float x[N], padded[CLIP];
    float short_post[K], full_post[K];
    static float matrix[20 * T];
    es_features *fx = NULL;
    char json[512];
    size_t off = (size_t)(place * (CLIP - N));
    snprintf(json, sizeof json,
             "{\"kind\":\"melspectrogram\",\"sample_rate\":%d,\"n_fft\":256,\"win_length\":200,"
             "\"hop_length\":80,\"n_mels\":20,\"log\":\"db\",\"top_db\":50,\"mean\":-30,\"std\":20,"
             "\"clip_seconds\":0.5,"
             "\"stride_seconds\":0.25%s,\"place\":%g}",
             RATE, align_end ? ",\"align\":\"end\"" : "", place);
    CHECK_RC(es_feature_desc_parse(&d, json, "test"), 0);
    /* 20 mels x 51 frames (0.5 s at hop 80, centred) into one linear layer */
    CHECK_RC(es_arch_parse("[{\"type\":\"flatten\"},{\"type\":\"linear\",\"in\":1020,"
                           "\"out\":3,\"weight\":\"fc.weight\",\"bias\":\"fc.bias\"}]",
                           "test", &layers, &n_layers),
             0);
    if (!layers) return;
    /* a decaying chirp: any placement error changes the features */
    for (int i = 0; i < N; i++)
        x[i] = (float)(0.5 * exp(-2.0 * i / N) * sin(0.002 * i * i));
    CHECK_RC(es_model_create(&m, layers, n_layers, &d, labels, K, 7), 0);
    if (m) CHECK_RC(es_classifier_create(&c, m), 0);
    if (c) {
        /* the reference: the hand-padded window's features straight into
         * the network (es_classify on a full window would trim it again) */
        CHECK_RC(es_classify(c, x, N, short_post, NULL), 0);
        if (es_features_create(&fx, &d) == 0) {
            memset(padded, 0, sizeof padded);
            memcpy(padded + (align_end ? CLIP - N - off : off), x, sizeof x);
            CHECK_RC(es_features_compute(fx, padded, CLIP, matrix, T), 0);
            CHECK_RC(es_classify_features(c, matrix, full_post), 0);
            for (int k = 0; k < K; k++) CHECK(short_post[k] == full_post[k]);
        }
        /* and not another placement: the test can tell them apart */
        memset(padded, 0, sizeof padded);
        memcpy(padded + (align_end ? off / 2 : (CLIP - N + off) / 2), x, sizeof x);
        if (fx) {
            float diff = 0.0f;
            CHECK_RC(es_features_compute(fx, padded, CLIP, matrix, T), 0);
            CHECK_RC(es_classify_features(c, matrix, full_post), 0);
            for (int k = 0; k < K; k++) diff = fmaxf(diff, fabsf(short_post[k] - full_post[k]));
            CHECK(diff > 1e-3f);
            es_features_free(fx);
        }
        /* trailing silence: aligned at the end, the sound goes to the
         * window's end without it; aligned at the start, with place 0, it
         * changes nothing */
        if (align_end || place == 0.0) {
            memset(padded, 0, sizeof padded);
            memcpy(padded, x, sizeof x);
            CHECK_RC(es_classify(c, padded, N + 800, full_post, NULL), 0);
            for (int k = 0; k < K; k++) CHECK(short_post[k] == full_post[k]);
        }
    }
    es_classifier_free(c);
    es_model_free(m);
    es_free(layers);
}

int main(void) {
    one_alignment(0, 0.0);
    one_alignment(1, 0.0);
    one_alignment(0, 0.3);
    one_alignment(1, 0.3);
    CHECK_DONE();
}
