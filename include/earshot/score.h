/* earshot/score.h — detections judged as events against a scene's truth
 * (DESIGN.md, "Judging detections").
 *
 *   es_truth *t;
 *   if (es_truth_read(&t, "truth.tsv") < 0) { puts(es_errmsg()); return 1; }
 *   es_det d[] = {{"catdog", "dog", 12.3, 12.9, 13.4, 0.91f}};
 *   es_score_report r;
 *   es_score(t, "catdog", d, 1, 0.25, &r, NULL);
 *   printf("recall %.3f, precision %.3f, %.1f false alarms an hour\n",
 *          r.recall, r.precision, r.fa_per_hour);
 *   es_truth_free(t);
 *
 * The truth is a scene's parts, one a line, tab-separated, with a header:
 *     model  label  onset  offset  category  source  group
 * A target of a model names it and its label; any other part of the scene
 * has model "-" and its kind in label (speech, music, room...). Category
 * says what the part sounds like (a spoken digit is "speech", a bark
 * "animal"): false alarms are counted by the category of the part they
 * fall in, and speech is told apart because a speech model's false alarms
 * on other speech are judged apart from those on everything else. The
 * parts should cover the scene: its length is the latest offset.
 *
 * A detection matches a target of its model when their spans overlap,
 * the target's widened by the collar on each side. The first detection
 * with the target's label is a hit; later ones with that label are
 * duplicates; one whose matches all have other labels is a wrong label;
 * one that matches no target of its model is a false alarm. Recall is
 * hits / targets, precision hits / detections.
 */
#ifndef EARSHOT_SCORE_H
#define EARSHOT_SCORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ES_SCORE_NAME 64
#define ES_SCORE_MAX_KEYS 64     /* sources, categories, labels in a report */

typedef struct es_truth es_truth;

/* Reads a truth file; errors name the file and line. Also reads the older
 * four-column form (model, label, onset, offset: targets only). */
int es_truth_read(es_truth **t, const char *path);
void es_truth_free(es_truth *t);
size_t es_truth_size(const es_truth *t);
double es_truth_seconds(const es_truth *t);   /* the scene's length */
typedef struct {
    const char *model, *label, *category, *source, *group;
    double onset, offset;
} es_truth_part;
/* Part i of the scene (pointers into t); ES_ERANGE past the end. */
int es_truth_part_get(const es_truth *t, size_t i, es_truth_part *p);

/* A detection: its model and label, where the sound is (onset, offset)
 * and when it was reported (decided; stream seconds all). */
typedef struct {
    const char *model, *label;
    double onset, offset, decided;
    float score;
} es_det;

typedef struct {
    char name[ES_SCORE_NAME];
    int events, hits;            /* targets, and those hit */
    int false_alarms;            /* a category's */
    double seconds;              /* a category's: its length outside the model's targets */
} es_score_key;

typedef struct {
    int events, hits, detections, duplicates, wrong_labels, false_alarms;
    int false_alarms_nonspeech;  /* those outside the category "speech" */
    double recall, precision;    /* 0 when there is nothing to divide by */
    double seconds;              /* the scene */
    double nontarget_seconds;    /* the scene outside the model's targets */
    double nonspeech_seconds;    /* ... and outside speech */
    double fa_per_hour;          /* false alarms per hour of non-target audio */
    double fa_per_hour_nonspeech;
    /* over the hits (NAN without any): detection onset - target onset, its
     * absolute value, and report time (decided) - target onset */
    double onset_error_median, onset_error_abs_median, latency_median;
    int n_sources, n_categories, n_labels;
    es_score_key sources[ES_SCORE_MAX_KEYS];     /* events, hits */
    es_score_key categories[ES_SCORE_MAX_KEYS];  /* false_alarms, seconds */
    es_score_key labels[ES_SCORE_MAX_KEYS];      /* events, hits */
} es_score_report;

/* What became of each detection and target, for listing them. */
enum { ES_SCORE_OTHER_MODEL = 0, ES_SCORE_HIT, ES_SCORE_DUPLICATE, ES_SCORE_WRONG_LABEL,
       ES_SCORE_FALSE_ALARM };
typedef struct {
    int *verdict;               /* [n] per detection, an ES_SCORE_ value */
    unsigned char *hit;         /* [es_truth_size] 1 for a target of the model that was hit */
} es_score_detail;

/* Scores one model's detections (dets may hold other models': they are
 * skipped). collar: seconds the targets are widened by. detail may be
 * NULL. ES_EINVAL on a detection whose span is not a span; ES_ERANGE past
 * ES_SCORE_MAX_KEYS sources, categories or labels. */
int es_score(const es_truth *t, const char *model, const es_det *dets, size_t n, double collar,
             es_score_report *r, es_score_detail *detail);

#ifdef __cplusplus
}
#endif
#endif
