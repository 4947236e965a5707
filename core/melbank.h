/* core/melbank.h — torchaudio's triangular mel filterbank, stored sparse. */
#ifndef EARSHOT_CORE_MELBANK_H
#define EARSHOT_CORE_MELBANK_H

#include <stddef.h>

#include "earshot/features.h"

/* Filter m covers frequency bins [start[m], start[m] + len[m]) with weights
 * w[off[m] ...]. A triangle spans few bins, so the sparse product costs
 * O(n_freqs) per frame instead of the dense O(n_freqs · n_mels). */
typedef struct {
    size_t n_mels, n_freqs;
    size_t *start, *len, *off; /* [n_mels] each */
    double *w;                 /* [sum of len] */
    size_t n_empty;            /* filters with no non-zero weight (torchaudio warns too) */
} es__melbank;

/* As torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels,
 * sample_rate, norm, mel_scale), computed in double. */
int es__melbank_init(es__melbank *mb, const es_feature_desc *d, size_t n_freqs);
void es__melbank_free(es__melbank *mb);

/* out[m] = Σ_k fb[k][m] · spec[k]. spec: [n_freqs], out: [n_mels]. */
void es__melbank_forward(const es__melbank *mb, double *out, const double *spec);

#endif
