/* core/sampler.h — which clip, and which part of it, a training example is
 * made of: weighted draws that give every label and every source of a label
 * its share whatever its size, and the sounds inside long clips. */
#ifndef EARSHOT_CORE_SAMPLER_H
#define EARSHOT_CORE_SAMPLER_H

#include <stddef.h>

#include "earshot/augment.h"

/* Draws of i in [0, n) with probability w[i] / sum(w). */
typedef struct {
    double *cum;                 /* [n] running sums */
    size_t n;
} es__draw;

int es__draw_init(es__draw *d, const double *w, size_t n);
size_t es__draw_pick(const es__draw *d, es_rng *r);
void es__draw_free(es__draw *d);

/* w[i] for items with keys kind[i] and source[i] (small non-negative ints):
 * every kind weighs kind_weight[kind] (1 when NULL) in all, split between
 * its sources as the square roots of their sizes (a source of 60 clips and
 * many voices is not drowned by one of 2,000 and four, nor one voice's ten
 * clips made a quarter of the data), and each source's share evenly between
 * its items. */
int es__balanced_weights(const int *kind, const int *source, size_t n,
                         const double *kind_weight, double *w);

/* The sounds in each of n clips, as sample spans (earshot/span.h at 10 ms
 * hops), for cropping a long clip where it is not silent. */
typedef struct {
    size_t *off, *count;         /* [n]: clip i's spans are span[off[i] .. +count[i]) */
    size_t *start, *len;         /* [total] in samples */
} es__sounds;

/* x[i], n_x[i]: the clips (NULL x: no spans for that one); only clips
 * longer than min_n are searched. */
int es__sounds_find(es__sounds *s, const float *const *x, const size_t *n_x, size_t n, int rate,
                    size_t min_n);
/* The start of a window of win samples in clip i that holds one of its
 * sounds (a random one), as much of it as fits, at a random place; n is the
 * clip's length. (size_t)-1 when the clip has no sound listed. */
size_t es__sounds_crop(const es__sounds *s, size_t i, size_t n, size_t win, es_rng *r);
void es__sounds_free(es__sounds *s);

#endif
