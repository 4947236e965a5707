/* tests/test_detect.c — the detection rule of earshot/detect.h, window by
 * window: smoothing, votes, min_count, thresholds, the background class,
 * the energy gate, refractory periods and top-k. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "earshot/detect.h"

enum { K = 4, BG = 0 };

/* posteriors with p on class c, the rest shared */
static void post_of(float *p, int c, float v) {
    for (int k = 0; k < K; k++) p[k] = (1.0f - v) / (K - 1);
    p[c] = v;
}

typedef struct {
    es_detector *d;
    double t;      /* next window's start */
    int events;
    es_detection last;
} stream;

/* n windows of class c at v, 1 s long every 0.25 s; returns events fired */
static int feed(stream *s, int n, int c, float v, double rms_db) {
    float p[K];
    int fired = 0;
    post_of(p, c, v);
    for (int i = 0; i < n; i++, s->t += 0.25) {
        es_detection ev;
        int r = es_detector_push(s->d, p, s->t, s->t + 1.0, rms_db, &ev);
        CHECK(r == 0 || r == 1);
        if (r == 1) {
            fired++;
            s->last = ev;
        }
    }
    s->events += fired;
    return fired;
}

int main(void) {
    es_detect_config c = es_detect_defaults();
    stream s;
    memset(&s, 0, sizeof s);
    c.average_seconds = 0.5;   /* 2 windows */
    c.stride_seconds = 0.25;
    c.threshold = 0.6f;
    c.min_count = 2;
    c.refractory_seconds = 1.0;
    CHECK_RC(es_detector_create(&s.d, K, BG, &c), 0);

    /* background, however sure, never fires */
    CHECK_EQ_INT(feed(&s, 8, BG, 0.99f, -20), 0);
    /* class 2 at 0.9 from t = 2.0: window 1 smooths to (0.9 + 0.033)/2 and
     * does not vote; windows 2 and 3 vote; the 3rd (t = 2.5) fires with
     * onset 2.25 (the run's first voting window) and offset 3.5 */
    CHECK_EQ_INT(feed(&s, 2, 2, 0.9f, -20), 0);
    CHECK_EQ_INT(feed(&s, 1, 2, 0.9f, -20), 1);
    CHECK_EQ_INT(s.last.label, 2);
    CHECK_NEAR(s.last.onset, 2.25, 1e-9);
    CHECK_NEAR(s.last.offset, 3.5, 1e-9);
    CHECK_NEAR(s.last.score, 0.9, 1e-6);
    CHECK_EQ_INT(s.last.top[0], 2);
    CHECK_NEAR(s.last.top_p[0], 0.9, 1e-6);
    CHECK(s.last.top[1] >= 0 && s.last.top[1] != 2 && s.last.top[2] != s.last.top[1]);
    CHECK(s.last.top_p[1] <= s.last.top_p[0] && s.last.top_p[2] <= s.last.top_p[1]);
    /* the run goes on: no second event */
    CHECK_EQ_INT(feed(&s, 6, 2, 0.9f, -20), 0);
    CHECK_NEAR(es_detector_smoothed(s.d)[2], 0.9, 1e-6);
    /* a short break and class 2 again, its onset more than 1 s after the
     * last one's: a second event */
    CHECK_EQ_INT(feed(&s, 2, BG, 0.99f, -20), 0);
    CHECK_EQ_INT(feed(&s, 4, 2, 0.9f, -20), 1);
    /* refractory (now 2 s): the shortest break the smoothing allows, and
     * class 2 again, its onset 1 s after the last one's: quiet */
    c.refractory_seconds = 2.0;
    CHECK_RC(es_detector_configure(s.d, &c), 0);
    CHECK_EQ_INT(feed(&s, 1, 2, 0.1f, -20), 0);   /* smooths to 0.5: breaks the run */
    CHECK_EQ_INT(feed(&s, 6, 2, 0.9f, -20), 0);
    c.refractory_seconds = 1.0;
    CHECK_RC(es_detector_configure(s.d, &c), 0);
    /* class 1 needs 2 votes in a row: one alone never fires */
    CHECK_EQ_INT(feed(&s, 3, BG, 0.99f, -20), 0);
    CHECK_EQ_INT(feed(&s, 2, 1, 0.9f, -20), 0);   /* first smooths to 0.47, second votes */
    CHECK_EQ_INT(feed(&s, 1, 1, 0.9f, -20), 1);
    CHECK_EQ_INT(s.last.label, 1);

    /* per-class threshold */
    CHECK_EQ_INT(feed(&s, 8, BG, 0.99f, -20), 0);
    CHECK_RC(es_detector_set_threshold(s.d, 3, 0.95f), 0);
    CHECK_NEAR(es_detector_threshold(s.d, 3), 0.95, 1e-7);
    CHECK_EQ_INT(feed(&s, 6, 3, 0.9f, -20), 0);
    CHECK_RC(es_detector_set_threshold(s.d, 3, NAN), 0);
    CHECK_NEAR(es_detector_threshold(s.d, 3), 0.6, 1e-7);
    CHECK_EQ_INT(feed(&s, 1, 3, 0.9f, -20), 0);   /* the first vote */
    CHECK_EQ_INT(feed(&s, 1, 3, 0.9f, -20), 1);
    CHECK_RC(es_detector_set_threshold(s.d, 3, 1.5f), ES_EINVAL);
    CHECK_RC(es_detector_set_threshold(s.d, K, 0.5f), ES_EINVAL);

    /* energy gate: quiet windows vote for nothing */
    CHECK_EQ_INT(feed(&s, 8, BG, 0.99f, -20), 0);
    c.energy_gate_db = -50.0;
    CHECK_RC(es_detector_configure(s.d, &c), 0);
    CHECK_EQ_INT(feed(&s, 6, 1, 0.95f, -60), 0);
    CHECK_EQ_INT(feed(&s, 3, 1, 0.95f, -40), 1);

    /* reset forgets the smoothing and the refractory memory */
    es_detector_reset(s.d);
    CHECK_NEAR(es_detector_smoothed(s.d)[1], 0.0, 0.0);
    CHECK_EQ_INT(feed(&s, 2, 1, 0.95f, -40), 1);  /* no history: window 1 votes at once */

    /* out-of-range settings are refused and change nothing */
    c.min_count = 0;
    CHECK_RC(es_detector_configure(s.d, &c), ES_EINVAL);
    CHECK_EQ_INT(es_detector_config(s.d)->min_count, 2);
    c.min_count = 2;
    c.average_seconds = 1000.0;
    CHECK_RC(es_detector_configure(s.d, &c), ES_EINVAL);
    c.average_seconds = 0.5;
    c.threshold = -0.1f;
    CHECK_RC(es_detector_configure(s.d, &c), ES_EINVAL);
    es_detector_free(s.d);
    {
        es_detector *d = NULL;
        c.threshold = 0.5f;
        CHECK_RC(es_detector_create(&d, K, K, &c), ES_EINVAL);
        CHECK(d == NULL);
    }
    CHECK_DONE();
}
