/* core/melbank.h — torchaudio's triangular mel filterbank, stored sparse. */
#ifndef EARSHOT_CORE_MELBANK_H
#define EARSHOT_CORE_MELBANK_H

#include <stddef.h>
#include <stdint.h>

#include "earshot/features.h"

/* Triangle m spans (f_pts[m], f_pts[m+2]) and the points increase, so the
 * bins between two consecutive points, f_pts[j] ≤ f < f_pts[j+1] (segment
 * j), lie under exactly two triangles: the falling side of band j-1 and the
 * rising side of band j. Each band is then two short dot products over
 * contiguous bins, summed in registers: O(n_freqs) per frame instead of the
 * dense O(n_freqs · n_mels), with no read-modify-write chain through memory.
 * Bands are stored with a spare slot at each end (band -1 and band n_mels)
 * so the first and last segments need no branch. */
typedef struct {
    size_t n_mels, n_freqs, n_seg;
    size_t *seg_begin;   /* [n_seg + 1] first bin of each non-empty segment, then n_freqs */
    int32_t *seg_band;   /* [n_seg] j - 1: the band of the falling side */
    float *w_lo;         /* [n_freqs] weight for the falling side (band j-1) */
    float *w_hi;         /* [n_freqs] weight for the rising side (band j) */
    float *acc;          /* [n_mels + 2] */
    size_t n_empty;      /* bands with no non-zero weight (torchaudio warns too) */
} es__melbank;

/* As torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels,
 * sample_rate, norm, mel_scale), computed in double. */
int es__melbank_init(es__melbank *mb, const es_feature_desc *d, size_t n_freqs);
void es__melbank_free(es__melbank *mb);

/* out[m] = Σ_k fb[k][m] · spec[k]. spec: [n_freqs], out: [n_mels].
 * In float: every term is positive, so the sum of a band's few dozen terms
 * carries ~1e-6 relative error at most, invisible after the log. */
void es__melbank_forward(es__melbank *mb, float *out, const float *spec);

#endif
