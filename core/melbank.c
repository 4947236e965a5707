/* core/melbank.c — the mel filterbank, formula for formula as torchaudio builds it. */
#include "melbank.h"

#include <math.h>
#include <string.h>

#include "internal.h"

/* Slaney's scale (librosa/torchaudio): linear below 1 kHz at 200/3 Hz per
 * mel, logarithmic above with 27 mels per factor 6.4. */
#define SLANEY_F_SP (200.0 / 3.0)
#define SLANEY_MIN_LOG_HZ 1000.0

static double hz_to_mel(double f, es_mel_scale scale) {
    if (scale == ES_MEL_HTK) return 2595.0 * log10(1.0 + f / 700.0);
    {
        double min_log_mel = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;
        double logstep = log(6.4) / 27.0;
        if (f >= SLANEY_MIN_LOG_HZ) return min_log_mel + log(f / SLANEY_MIN_LOG_HZ) / logstep;
        return f / SLANEY_F_SP;
    }
}

static double mel_to_hz(double m, es_mel_scale scale) {
    if (scale == ES_MEL_HTK) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    {
        double min_log_mel = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;
        double logstep = log(6.4) / 27.0;
        if (m >= min_log_mel) return SLANEY_MIN_LOG_HZ * exp(logstep * (m - min_log_mel));
        return SLANEY_F_SP * m;
    }
}

/* torch.linspace(a, b, n)[i]: torch computes the first half from a and the
 * second half from b, so both ends are exact. */
static double linspace(double a, double b, size_t n, size_t i) {
    double step;
    if (n == 1) return a;
    step = (b - a) / (double)(n - 1);
    if (i < n / 2) return a + step * (double)i;
    return b - step * (double)(n - 1 - i);
}

static double weight(const double *f_pts, double freq, size_t m) {
    /* _create_triangular_filterbank: max(0, min(down, up)) */
    double down = -(f_pts[m] - freq) / (f_pts[m + 1] - f_pts[m]);
    double up = (f_pts[m + 2] - freq) / (f_pts[m + 2] - f_pts[m + 1]);
    double w = down < up ? down : up;
    return w > 0.0 ? w : 0.0;
}

int es__melbank_init(es__melbank *mb, const es_feature_desc *d, size_t n_freqs) {
    size_t n_mels = (size_t)d->n_mels;
    double *f_pts = NULL, *enorm = NULL, m_min, m_max, nyquist = (double)(d->sample_rate / 2);
    size_t *nonzero = NULL;

    memset(mb, 0, sizeof *mb);
    mb->n_mels = n_mels;
    mb->n_freqs = n_freqs;
    f_pts = es__malloc_array(n_mels + 2, sizeof *f_pts);
    enorm = es__malloc_array(n_mels, sizeof *enorm);
    nonzero = es__calloc(n_mels, sizeof *nonzero);
    mb->seg_begin = es__malloc_array(n_freqs + 1, sizeof *mb->seg_begin);
    mb->seg_band = es__malloc_array(n_freqs, sizeof *mb->seg_band);
    mb->w_lo = es__malloc_array(n_freqs, sizeof *mb->w_lo);
    mb->w_hi = es__malloc_array(n_freqs, sizeof *mb->w_hi);
    mb->acc = es__malloc_array(n_mels + 2, sizeof *mb->acc);
    if (!f_pts || !enorm || !nonzero || !mb->seg_begin || !mb->seg_band || !mb->w_lo || !mb->w_hi || !mb->acc) {
        es__free(f_pts);
        es__free(enorm);
        es__free(nonzero);
        es__melbank_free(mb);
        return es__fail(ES_ENOMEM, "out of memory building a %zu-band mel filterbank", n_mels);
    }

    m_min = hz_to_mel(d->f_min, d->mel_scale);
    m_max = hz_to_mel(d->f_max, d->mel_scale);
    for (size_t i = 0; i < n_mels + 2; i++)
        f_pts[i] = mel_to_hz(linspace(m_min, m_max, n_mels + 2, i), d->mel_scale);
    /* Slaney norm: 2 / (f_pts[m+2] - f_pts[m]), equal area per filter. */
    for (size_t m = 0; m < n_mels; m++)
        enorm[m] = d->mel_norm_slaney ? 2.0 / (f_pts[m + 2] - f_pts[m]) : 1.0;

    for (size_t k = 0; k < n_freqs; k++) {
        double freq = linspace(0.0, nyquist, n_freqs, k);
        /* j: the segment [f_pts[j], f_pts[j+1]) holding freq; triangles j-1
         * (falling side) and j (rising side) cover it. */
        size_t j = 0;
        while (j + 1 < n_mels + 2 && f_pts[j + 1] <= freq) j++;
        if (j > n_mels) j = 0; /* above f_max: under no triangle, both weights 0 */
        if (mb->n_seg == 0 || mb->seg_band[mb->n_seg - 1] != (int32_t)j - 1) {
            mb->seg_begin[mb->n_seg] = k;
            mb->seg_band[mb->n_seg++] = (int32_t)j - 1;
        }
        mb->w_lo[k] = (float)((j >= 1 && j - 1 < n_mels) ? weight(f_pts, freq, j - 1) * enorm[j - 1] : 0.0);
        mb->w_hi[k] = (float)((j < n_mels && freq > f_pts[j]) ? weight(f_pts, freq, j) * enorm[j] : 0.0);
        if (mb->w_lo[k] > 0.0f) nonzero[j - 1]++;
        if (mb->w_hi[k] > 0.0f) nonzero[j]++;
    }
    mb->seg_begin[mb->n_seg] = n_freqs;
    for (size_t m = 0; m < n_mels; m++)
        if (!nonzero[m]) mb->n_empty++;
    if (mb->n_empty)
        es__log(ES_LOG_WARNING,
                "%zu of %zu mel filters are all zero: n_mels %d is too high for n_fft %d",
                mb->n_empty, n_mels, d->n_mels, d->n_fft);
    es__free(f_pts);
    es__free(enorm);
    es__free(nonzero);
    return 0;
}

void es__melbank_free(es__melbank *mb) {
    es__free(mb->seg_begin);
    es__free(mb->seg_band);
    es__free(mb->w_lo);
    es__free(mb->w_hi);
    es__free(mb->acc);
    memset(mb, 0, sizeof *mb);
}

ES__HOT void es__melbank_forward(es__melbank *mb, float *out, const float *spec) {
    float *acc = mb->acc + 1; /* acc[-1] and acc[n_mels] are the spare slots */
    const float *restrict lo = mb->w_lo, *restrict hi = mb->w_hi;
    memset(mb->acc, 0, (mb->n_mels + 2) * sizeof *mb->acc);
    for (size_t g = 0; g < mb->n_seg; g++) {
        float sl = 0.0f, sh = 0.0f;
        int32_t m = mb->seg_band[g];
        for (size_t k = mb->seg_begin[g]; k < mb->seg_begin[g + 1]; k++) {
            sl += lo[k] * spec[k];
            sh += hi[k] * spec[k];
        }
        acc[m] += sl;
        acc[m + 1] += sh;
    }
    memcpy(out, acc, mb->n_mels * sizeof *out);
}
