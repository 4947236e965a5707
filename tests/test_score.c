/* tests/test_score.c — judging detections as events: hits, duplicates,
 * wrong labels, false alarms by where they fall, the lengths they are
 * counted against, onset errors and latency; bad truth files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "earshot/score.h"

static char path[] = "/tmp/es_test_score_XXXXXX";

static es_truth *truth(const char *text, int expect_rc) {
    FILE *f = fopen(path, "w");
    es_truth *t = NULL;
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    CHECK_RC(es_truth_read(&t, path), expect_rc);
    return t;
}

/* A 100 s scene: two dog events, a cat, a spoken digit (another model's
 * target, speech), 20 s of speech, 10 s of music, room tone between. */
static const char scene[] =
    "model\tlabel\tonset\toffset\tcategory\tsource\tgroup\n"
    "-\troom\t0\t10\troom\tscene\t-\n"
    "catdog\tdog\t10\t12\tanimal\tkaggle\tfold8\n"
    "-\troom\t12\t20\troom\tscene\t-\n"
    "catdog\tdog\t20\t21\tanimal\tus8k\t7383\n"
    "-\tspeech\t21\t41\tspeech\ttux\tel\n"
    "catdog\tcat\t41\t43\tanimal\tkaggle\tfold9\n"
    "-\tmusic\t43\t53\tmusic\thyper\t-\n"
    "digits\t7\t53\t54\tspeech\tfsdd\tjackson\n"
    "-\troom\t54\t100\troom\tscene\t-\n";

static void judged(void) {
    es_truth *t = truth(scene, 0);
    es_det d[] = {
        {"catdog", "dog", 10.2, 11.0, 11.5, 0.9f},   /* hit, onset +0.2, latency 1.5 */
        {"catdog", "dog", 11.5, 12.1, 12.5, 0.9f},   /* duplicate of the same bark */
        {"catdog", "cat", 19.9, 20.6, 21.0, 0.8f},   /* wrong label on the second dog */
        {"catdog", "dog", 40.8, 41.0, 41.2, 0.8f},   /* within the collar of the cat: wrong */
        {"catdog", "cat", 42.0, 43.0, 43.5, 0.8f},   /* hit, onset +1.0, latency 2.5 */
        {"catdog", "dog", 30.0, 31.0, 31.5, 0.9f},   /* false alarm on speech */
        {"catdog", "cat", 45.0, 46.0, 46.5, 0.7f},   /* false alarm on music */
        {"catdog", "dog", 53.2, 53.6, 54.0, 0.7f},   /* false alarm on the digit: speech */
        {"catdog", "dog", 70.0, 70.5, 71.0, 0.7f},   /* false alarm on room tone */
        {"digits", "7", 53.1, 53.9, 54.1, 0.9f},     /* another model: skipped */
    };
    int verdict[10];
    unsigned char hit[9];
    es_score_detail dt = {verdict, hit};
    es_score_report r;
    if (!t) return;
    CHECK_EQ_INT(es_truth_size(t), 9);
    CHECK_NEAR(es_truth_seconds(t), 100.0, 1e-9);
    CHECK_RC(es_score(t, "catdog", d, 10, 0.25, &r, &dt), 0);
    CHECK_EQ_INT(r.events, 3);
    CHECK_EQ_INT(r.detections, 9);
    CHECK_EQ_INT(r.hits, 2);
    CHECK_EQ_INT(r.duplicates, 1);
    CHECK_EQ_INT(r.wrong_labels, 2);
    CHECK_EQ_INT(r.false_alarms, 4);
    CHECK_EQ_INT(r.false_alarms_nonspeech, 2);
    CHECK_NEAR(r.recall, 2.0 / 3.0, 1e-9);
    CHECK_NEAR(r.precision, 2.0 / 9.0, 1e-9);
    /* non-target audio: 100 s less 5 s of the model's targets; non-speech:
     * less the 20 s of speech and the 1 s digit too */
    CHECK_NEAR(r.nontarget_seconds, 95.0, 1e-9);
    CHECK_NEAR(r.nonspeech_seconds, 74.0, 1e-9);
    CHECK_NEAR(r.fa_per_hour, 4 * 3600.0 / 95.0, 1e-9);
    CHECK_NEAR(r.fa_per_hour_nonspeech, 2 * 3600.0 / 74.0, 1e-9);
    CHECK_NEAR(r.onset_error_median, 0.6, 1e-9);
    CHECK_NEAR(r.onset_error_abs_median, 0.6, 1e-9);
    CHECK_NEAR(r.latency_median, 2.0, 1e-9);
    CHECK_EQ_INT(verdict[0], ES_SCORE_HIT);
    CHECK_EQ_INT(verdict[1], ES_SCORE_DUPLICATE);
    CHECK_EQ_INT(verdict[2], ES_SCORE_WRONG_LABEL);
    CHECK_EQ_INT(verdict[3], ES_SCORE_WRONG_LABEL);
    CHECK_EQ_INT(verdict[5], ES_SCORE_FALSE_ALARM);
    CHECK_EQ_INT(verdict[9], ES_SCORE_OTHER_MODEL);
    CHECK(hit[1] && !hit[3] && hit[5] && !hit[7]);
    for (int i = 0; i < r.n_sources; i++)
        if (strcmp(r.sources[i].name, "kaggle") == 0) CHECK(r.sources[i].events == 2 && r.sources[i].hits == 2);
        else CHECK(strcmp(r.sources[i].name, "us8k") == 0 && r.sources[i].hits == 0);
    for (int i = 0; i < r.n_categories; i++) {
        const es_score_key *k = &r.categories[i];
        if (strcmp(k->name, "speech") == 0) CHECK(k->false_alarms == 2 && fabs(k->seconds - 21.0) < 1e-9);
        if (strcmp(k->name, "music") == 0) CHECK(k->false_alarms == 1);
        if (strcmp(k->name, "room") == 0) CHECK(k->false_alarms == 1 && fabs(k->seconds - 64.0) < 1e-9);
    }
    /* the other model: its digit hit; the dog's detections are not its own */
    CHECK_RC(es_score(t, "digits", d, 10, 0.25, &r, NULL), 0);
    CHECK(r.events == 1 && r.hits == 1 && r.detections == 1 && r.false_alarms == 0);
    CHECK_NEAR(r.nonspeech_seconds, 100.0 - 1.0 - 20.0, 1e-9);
    /* no collar: the dog just before the cat is now a false alarm */
    CHECK_RC(es_score(t, "catdog", d, 10, 0.0, &r, NULL), 0);
    CHECK_EQ_INT(r.wrong_labels, 1);
    CHECK_EQ_INT(r.false_alarms, 5);
    /* a detection that is not a span */
    {
        es_det bad = {"catdog", "dog", 5.0, 4.0, 5.0, 0.5f};
        CHECK_RC(es_score(t, "catdog", &bad, 1, 0.25, &r, NULL), ES_EINVAL);
    }
    /* no detections at all: recall 0, nothing divided by zero */
    CHECK_RC(es_score(t, "catdog", NULL, 0, 0.25, &r, NULL), 0);
    CHECK(r.recall == 0.0 && r.precision == 0.0 && isnan(r.onset_error_median));
    es_truth_free(t);
}

static void bad_truth(void) {
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"model\tlabel\tonset\toffset\tcategory\tsource\tgroup\ncatdog\tdog\t1\t2\n", ":2: expected 7"},
        {"catdog\tdog\tsoon\t2\n", ":1: onset 'soon' is not a time"},
        {"catdog\tdog\t3\t2\n", ":1: offset '2' is not a time after"},
        {"# only a comment\n", "no parts of a scene"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        es_truth *t = truth(bad[i].text, i == 3 ? ES_EEMPTY : ES_EFORMAT);
        if (!strstr(es_errmsg(), bad[i].says)) {
            fprintf(stderr, "truth %zu: expected '%s' in: %s\n", i, bad[i].says, es_errmsg());
            check_failures++;
        }
        es_truth_free(t);
    }
    /* the older four-column form: targets only, category "target" */
    {
        es_truth *t = truth("catdog\tdog\t1\t2\ndigits\t3\t4\t5\n", 0);
        es_truth_part p;
        if (t) {
            CHECK_RC(es_truth_part_get(t, 1, &p), 0);
            CHECK(strcmp(p.model, "digits") == 0 && strcmp(p.category, "target") == 0);
            CHECK_RC(es_truth_part_get(t, 2, &p), ES_ERANGE);
            es_truth_free(t);
        }
    }
}

int main(void) {
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    judged();
    bad_truth();
    unlink(path);
    CHECK_DONE();
}
