/* earshot/dataset.h — labelled audio clips for training and evaluation.
 *
 *   es_dataset *ds;
 *   es_dataset_scan(&ds, "../shared/data/fsdd", "^([0-9])_", "^[0-9]_([a-z]+)_");
 *   es_dataset_load(ds, 8000);                 // every clip, mono, at 8 kHz
 *   for (size_t i = 0; i < es_dataset_size(ds); i++) {
 *       const es_clip *c = es_dataset_clip(ds, i);   // c->label, c->group, c->x, c->n
 *   }
 *   es_dataset_free(ds);
 *
 * A clip's label is the first capture group of the label regex (POSIX
 * extended) on its file name, or the label column of a CSV manifest; the
 * group (a speaker, an animal, a recording) the manifest's group column or
 * the first capture group of the group regex, so validation can hold out
 * whole groups; the source (the dataset or recording set it came from) the
 * manifest's source column, so training can weigh sources alike. Labels,
 * groups and sources are numbered in sorted order of their names.
 */
#ifndef EARSHOT_DATASET_H
#define EARSHOT_DATASET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *path;   /* as found */
    int label;          /* index into the label names */
    int group;          /* index into the group names; 0 without a group regex */
    int source;         /* index into the source names ("" without a source column) */
    const float *x;     /* [n] samples after es_dataset_load, else NULL */
    size_t n;
} es_clip;

typedef struct es_dataset es_dataset;

/* Every audio file (.wav .flac .ogg) directly in dir whose name matches the
 * label regex; files that do not match are skipped and counted. */
int es_dataset_scan(es_dataset **ds, const char *dir, const char *label_regex,
                    const char *group_regex);

/* A CSV manifest (relative paths are relative to the manifest's folder):
 * path,label lines, or a header line naming its columns: path first, then
 * label and any of group, source, start and end (seconds: the clip is that
 * span of the file; an empty end is the file's end), e.g.
 *     path,label,group,source
 *     fsdd/3_george_7.wav,3,george,fsdd
 * Fields may be quoted as RFC 4180 has it. With a group column, the group
 * regex is not used. */
int es_dataset_from_csv(es_dataset **ds, const char *csv, const char *group_regex);

/* A dataset built in memory (fine-tuning examples): es_dataset_new, then
 * es_dataset_add for every clip (the samples are copied; name must be
 * unique, it orders the clips), then es_dataset_finish before use. */
int es_dataset_new(es_dataset **ds);
int es_dataset_add(es_dataset *ds, const char *name, const char *label, const char *group,
                   const float *x, size_t n);
int es_dataset_finish(es_dataset *ds);
/* Reads every clip, mixes it to mono and resamples it to rate. */
int es_dataset_load(es_dataset *ds, int rate);
/* Reads clip i alone, as es_dataset_load would, into *x (es_free it),
 * without keeping it. */
int es_dataset_read_clip(const es_dataset *ds, size_t i, int rate, float **x, size_t *n);

void es_dataset_free(es_dataset *ds);

size_t es_dataset_size(const es_dataset *ds);
const es_clip *es_dataset_clip(const es_dataset *ds, size_t i);
int es_dataset_num_labels(const es_dataset *ds);
const char *es_dataset_label(const es_dataset *ds, int i);
int es_dataset_num_groups(const es_dataset *ds);
const char *es_dataset_group(const es_dataset *ds, int i);
int es_dataset_num_sources(const es_dataset *ds);
const char *es_dataset_source(const es_dataset *ds, int i);
/* Files scanned whose names the label regex did not match. */
size_t es_dataset_skipped(const es_dataset *ds);

#ifdef __cplusplus
}
#endif
#endif
