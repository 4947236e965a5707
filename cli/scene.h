/* cli/scene.h — a long test recording assembled from labelled clips, and
 * its truth (earshot/score.h's format), for judging detections as a user
 * meets them (DESIGN.md, "Judging detections").
 *
 *   scene_spec s = scene_defaults();
 *   scene_add_targets(&s, "digits", "speech", "digits-test.csv");
 *   scene_add_others(&s, "others-test.csv");
 *   scene_build(&s, "scene.wav", "truth.tsv", err, sizeof err);
 *   scene_free(&s);
 *
 * Targets (clips a model should detect) and other sounds (anything else;
 * a manifest's label is then its kind: speech, music, street...) follow
 * each other with gaps of room tone, over a faint room tone under the
 * whole scene. A model's targets and each kind of other sound come as
 * often (speech three times as often: the commonest sound in a home), and
 * within them each source about as often, up to 30 clips' worth (a source
 * of two clips is not played fifty times). An other sound is a stretch of
 * 3-12 s, several clips of one group strung together when they are short.
 * Synthetic noise and near-silence are kinds of their own.
 * Each target's events are its sounds (earshot/span.h: pauses under a
 * second joined); a long target is cut to a stretch of at most
 * max_event_seconds that starts with a sound.
 */
#ifndef EARSHOT_CLI_SCENE_H
#define EARSHOT_CLI_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "earshot/dataset.h"

#define SCENE_MAX_POOLS 16

typedef struct {
    char model[64], category[64];   /* model "" for other sounds */
    es_dataset *ds;
} scene_pool;

typedef struct {
    double seconds;             /* the scene's length */
    double target_share;        /* of the scene's time, at most, in targets and the
                                   room tone after each */
    double max_event_seconds;   /* a longer target clip is cut */
    double gap_min, gap_max;    /* room tone between parts, seconds */
    double level_min, level_max;/* a part's loudest 10 ms, dBFS RMS */
    int synthetic;              /* add noise and near-silence as kinds of other sound */
    int rate;
    uint64_t seed;
    scene_pool pools[SCENE_MAX_POOLS];
    int n_pools;
} scene_spec;

scene_spec scene_defaults(void);
/* Reads a manifest (earshot/dataset.h) into the spec; the audio is read
 * when the scene is built. 0, or -1 with a message in err. */
int scene_add_targets(scene_spec *s, const char *model, const char *category, const char *csv,
                      char *err, size_t errlen);
int scene_add_others(scene_spec *s, const char *csv, char *err, size_t errlen);
/* Writes the scene (16-bit WAV, atomically) and its truth. */
int scene_build(const scene_spec *s, const char *wav, const char *truth, char *err,
                size_t errlen);
void scene_free(scene_spec *s);

#endif
