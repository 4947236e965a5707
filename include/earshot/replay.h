/* earshot/replay.h — a small store of a model's training clips, so that
 * fine-tuning on new examples rehearses the old classes instead of
 * forgetting them.
 *
 *   // at training time (earshot train --replay-out): some clips per label
 *   es_replay_write("digits.replay.safetensors", ds, idx, n, 8000, 1.0);
 *
 *   // in the daemon, when a fine-tuning job starts
 *   es_dataset *replay;
 *   es_replay_load(&replay, "digits.replay.safetensors", 8000);
 *   ... es_dataset_clip(replay, i)->x, ->n, es_dataset_label(replay, ...)
 *
 * The file is safetensors: "samples" (I16, every clip one after another),
 * "offsets" (I64, [n + 1]: clip i is samples[offsets[i] .. offsets[i+1])),
 * and __metadata__ "earshot.replay" = {"sample_rate": R, "labels": [one per
 * clip]}. 16-bit audio keeps a clip at a quarter of its float features'
 * size and lets fine-tuning run the model's whole augmentation on it.
 */
#ifndef EARSHOT_REPLAY_H
#define EARSHOT_REPLAY_H
#include <stddef.h>
#include "earshot/dataset.h"
#ifdef __cplusplus
extern "C" {
#endif
/* A replay file holds at most this many clips and samples: far more than a
 * rehearsal store needs, little enough that a hostile file cannot exhaust
 * memory. */
#define ES_REPLAY_MAX_CLIPS 100000
#define ES_REPLAY_MAX_SAMPLES ((size_t)1 << 28)
/* Writes clips idx[0..n) of ds (loaded at rate), each cut to at most
 * max_seconds (its loudest stretch of that length), atomically. */
int es_replay_write(const char *path, const es_dataset *ds, const size_t *idx, size_t n, int rate,
                    double max_seconds);
/* Reads a replay file into an in-memory dataset (group "replay"), every clip
 * resampled to rate. Checks everything and names what is wrong. */
int es_replay_load(es_dataset **ds, const char *path, int rate);
#ifdef __cplusplus
}
#endif
#endif
