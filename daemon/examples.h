/* daemon/examples.h — fine-tuning examples, kept per model in the state
 * directory so they outlive the daemon:
 *
 *   STATE/examples/MODEL/index.json   {"next_id": N, "examples": [{"id", "label",
 *                                       "source", "seconds", "rate", "added"}, ...]}
 *   STATE/examples/MODEL/ID.wav       the audio, 16-bit mono at its own rate
 *
 * Every write is atomic (the WAV first, then the index), so a crash leaves
 * at worst an unlisted WAV, never a listed example without its audio. The
 * main thread owns these files; a fine-tuning job reads them through
 * examples_dataset before it starts.
 */
#ifndef EARSHOTD_EXAMPLES_H
#define EARSHOTD_EXAMPLES_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "earshot/dataset.h"

/* s as a JSON string, or alt when s is not UTF-8 (a file name need not
 * be): an index entry, a reply or an event goes out whatever a path's bytes. */
json_t *esd_json_string_or(const char *s, const char *alt);
/* Whether a model name can name its folder ([A-Za-z0-9_.-], not starting
 * with a dot). */
int examples_name_ok(const char *model);
/* Adds x[n] at rate under label; *id gets its number. At most max examples
 * per model. source says where it came from ("inline", "file:PATH",
 * "last:2.0", "detection:17"). */
int examples_add(const char *state_dir, const char *model, const char *label, const char *source,
                 const float *x, size_t n, int rate, int max, uint64_t *id, char *err,
                 size_t errlen);
/* 0, or -1 with err (no such example, I/O). */
int examples_remove(const char *state_dir, const char *model, uint64_t id, char *err,
                    size_t errlen);
/* The model's examples as a JSON array (new reference; empty when none),
 * or NULL with err when the index cannot be read. */
json_t *examples_list(const char *state_dir, const char *model, char *err, size_t errlen);
/* Every example of the model as clips resampled to rate (group "example",
 * named by id); *ds is NULL when there are none. */
int examples_dataset(const char *state_dir, const char *model, int rate, es_dataset **ds,
                     char *err, size_t errlen);
/* At start-up: removes the temporary files of atomic writes a crash or a
 * kill interrupted (models/ and examples/MODEL/ of the state directory). */
void examples_sweep(const char *state_dir);
#endif
