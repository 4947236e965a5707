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
    size_t n_mels = (size_t)d->n_mels, total = 0;
    double *f_pts = NULL, m_min, m_max, nyquist = (double)(d->sample_rate / 2);
    int rc = ES_ENOMEM;

    memset(mb, 0, sizeof *mb);
    mb->n_mels = n_mels;
    mb->n_freqs = n_freqs;
    f_pts = es__malloc_array(n_mels + 2, sizeof *f_pts);
    mb->start = es__malloc_array(n_mels, sizeof *mb->start);
    mb->len = es__malloc_array(n_mels, sizeof *mb->len);
    mb->off = es__malloc_array(n_mels, sizeof *mb->off);
    if (!f_pts || !mb->start || !mb->len || !mb->off) goto fail;

    m_min = hz_to_mel(d->f_min, d->mel_scale);
    m_max = hz_to_mel(d->f_max, d->mel_scale);
    for (size_t i = 0; i < n_mels + 2; i++)
        f_pts[i] = mel_to_hz(linspace(m_min, m_max, n_mels + 2, i), d->mel_scale);

    /* First pass: the support of each triangle. */
    for (size_t m = 0; m < n_mels; m++) {
        size_t lo = n_freqs, hi = 0;
        for (size_t k = 0; k < n_freqs; k++) {
            if (weight(f_pts, linspace(0.0, nyquist, n_freqs, k), m) > 0.0) {
                if (lo == n_freqs) lo = k;
                hi = k + 1;
            }
        }
        if (lo == n_freqs) {
            lo = 0;
            hi = 0;
            mb->n_empty++;
        }
        mb->start[m] = lo;
        mb->len[m] = hi - lo;
        mb->off[m] = total;
        total += hi - lo;
    }
    mb->w = es__malloc_array(total ? total : 1, sizeof *mb->w);
    if (!mb->w) goto fail;
    for (size_t m = 0; m < n_mels; m++) {
        /* Slaney norm: 2 / (f_pts[m+2] - f_pts[m]), equal area per filter. */
        double enorm = d->mel_norm_slaney ? 2.0 / (f_pts[m + 2] - f_pts[m]) : 1.0;
        for (size_t j = 0; j < mb->len[m]; j++) {
            double freq = linspace(0.0, nyquist, n_freqs, mb->start[m] + j);
            mb->w[mb->off[m] + j] = weight(f_pts, freq, m) * enorm;
        }
    }
    if (mb->n_empty)
        es__log(ES_LOG_WARNING,
                "%zu of %zu mel filters are all zero: n_mels %d is too high for n_fft %d",
                mb->n_empty, n_mels, d->n_mels, d->n_fft);
    es__free(f_pts);
    return 0;
fail:
    es__free(f_pts);
    es__melbank_free(mb);
    return es__fail(rc, "out of memory building a %zu-band mel filterbank", n_mels);
}

void es__melbank_free(es__melbank *mb) {
    es__free(mb->start);
    es__free(mb->len);
    es__free(mb->off);
    es__free(mb->w);
    memset(mb, 0, sizeof *mb);
}

void es__melbank_forward(const es__melbank *mb, double *out, const double *spec) {
    for (size_t m = 0; m < mb->n_mels; m++) {
        const double *w = mb->w + mb->off[m];
        const double *s = spec + mb->start[m];
        double acc = 0.0;
        for (size_t j = 0; j < mb->len[m]; j++) acc += w[j] * s[j];
        out[m] = acc;
    }
}
