/* core/features.c — framing, STFT, power, mel and log: one frame routine
 * shared by the streaming and the offline extractor. */
#include "earshot/features.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "fastlog.h"
#include "internal.h"
#include "melbank.h"

/* Input is copied into the history buffer this many samples at a time; the
 * buffer holds n_fft + CHUNK samples, so a push of any size needs no growth. */
#define CHUNK 4096

/* AmplitudeToDB's floor: 10·log10(1e-10) = -100 dB for silence. */
#define DB_AMIN 1e-10f

/* FFTW_MEASURE plans run ~1.8x faster than FFTW_ESTIMATE ones for the sizes
 * models use, but a full search takes 60-210 ms per size; capped at 10 ms it
 * keeps most of the gain (bench/README.md) without slowing start-up. */
#define FFT_PLAN_SECONDS 0.01

/* FFTW's planner is not thread-safe; plans are made and destroyed under this
 * lock (execution is thread-safe and needs no lock). */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

struct es_features {
    es_feature_desc d;                /* const after create */
    size_t F;                         /* output bins: n_mels or n_freqs */
    size_t n_freqs;                   /* n_fft/2 + 1 */
    size_t pad;                       /* n_fft/2 when centred, else 0 */
    size_t win_off;                   /* first non-zero tap of the padded window */
    double *window;                   /* [win_length] periodic Hann taps */
    es__melbank mel;                  /* melspectrogram only */
    double db_mult;                   /* 10 for power spectra, 20 for magnitudes */

    fftw_plan plan;                   /* r2c, n_fft, ESTIMATE (deterministic) */
    double *fft_in;                   /* [n_fft] fftw_malloc'd */
    fftw_complex *fft_out;            /* [n_freqs] fftw_malloc'd */
    float *spec;                      /* [n_freqs] |X|^power */
    float *melout;                    /* [n_mels] */
    float *frame;                     /* [F] the emitted frame */

    /* Stream state. Absolute sample indices count from the last reset. */
    float *hist;                      /* [hist_cap] samples from hist_base on */
    size_t hist_cap, hist_len;
    uint64_t hist_base;
    uint64_t n_in;                    /* samples pushed */
    uint64_t t_next;                  /* next frame to emit */
    int finished;
};

size_t es_features_nframes(const es_feature_desc *d, size_t n) {
    size_t pad = d->center ? (size_t)d->n_fft / 2 : 0;
    size_t padded = n + 2 * pad;
    if (n == 0 || padded < (size_t)d->n_fft) return 0;
    return 1 + (padded - (size_t)d->n_fft) / (size_t)d->hop_length;
}

size_t es_features_min_samples(const es_feature_desc *d) {
    return d->center ? (size_t)d->n_fft / 2 + 1 : (size_t)d->n_fft;
}

const es_feature_desc *es_features_desc(const es_features *fx) { return &fx->d; }
size_t es_features_nbins(const es_features *fx) { return fx->F; }
uint64_t es_features_frames_done(const es_features *fx) { return fx->t_next; }

void es_features_free(es_features *fx) {
    if (!fx) return;
    if (fx->plan) {
        pthread_mutex_lock(&fftw_planner_lock);
        fftw_destroy_plan(fx->plan);
        pthread_mutex_unlock(&fftw_planner_lock);
    }
    fftw_free(fx->fft_in);
    fftw_free(fx->fft_out);
    es__melbank_free(&fx->mel);
    es__free(fx->window);
    es__free(fx->spec);
    es__free(fx->melout);
    es__free(fx->frame);
    es__free(fx->hist);
    es__free(fx);
}

int es_features_create(es_features **out, const es_feature_desc *desc) {
    es_features *fx;
    size_t n_fft;
    int rc;

    if (!out || !desc) return es__fail(ES_EINVAL, "es_features_create: NULL argument");
    *out = NULL;
    if ((rc = es_feature_desc_validate(desc, "features")) < 0) return rc;
    fx = es__calloc(1, sizeof *fx);
    if (!fx) return es__fail(ES_ENOMEM, "out of memory creating a feature extractor");
    fx->d = *desc;
    n_fft = (size_t)desc->n_fft;
    fx->n_freqs = n_fft / 2 + 1;
    fx->pad = desc->center ? n_fft / 2 : 0;
    fx->win_off = (n_fft - (size_t)desc->win_length) / 2; /* torch.stft centres the window */
    fx->db_mult = desc->power == 2.0 ? 10.0 : 20.0;
    fx->F = desc->kind == ES_FEAT_MELSPECTROGRAM ? (size_t)desc->n_mels : fx->n_freqs;
    fx->hist_cap = n_fft + CHUNK;

    fx->window = es__malloc_array((size_t)desc->win_length, sizeof *fx->window);
    fx->spec = es__malloc_array(fx->n_freqs, sizeof *fx->spec);
    fx->frame = es__malloc_array(fx->F, sizeof *fx->frame);
    fx->hist = es__malloc_array(fx->hist_cap, sizeof *fx->hist);
    if (!fx->window || !fx->spec || !fx->frame || !fx->hist) goto oom;
    if (desc->kind == ES_FEAT_MELSPECTROGRAM) {
        fx->melout = es__malloc_array(fx->F, sizeof *fx->melout);
        if (!fx->melout) goto oom;
        if ((rc = es__melbank_init(&fx->mel, desc, fx->n_freqs)) < 0) goto fail;
    }
    /* torch.hann_window(N, periodic=True): 0.5 - 0.5·cos(2πn/N). */
    for (int i = 0; i < desc->win_length; i++)
        fx->window[i] = 0.5 - 0.5 * cos(2.0 * ES__PI * (double)i / (double)desc->win_length);

    fx->fft_in = fftw_malloc(n_fft * sizeof *fx->fft_in);
    fx->fft_out = fftw_malloc(fx->n_freqs * sizeof *fx->fft_out);
    if (!fx->fft_in || !fx->fft_out) goto oom;
    pthread_mutex_lock(&fftw_planner_lock);
    fftw_set_timelimit(FFT_PLAN_SECONDS);
    fx->plan = fftw_plan_dft_r2c_1d((int)n_fft, fx->fft_in, fx->fft_out, FFTW_MEASURE);
    pthread_mutex_unlock(&fftw_planner_lock);
    if (!fx->plan) {
        rc = es__fail(ES_EFFT, "FFTW could not plan a %zu-point FFT", n_fft);
        goto fail;
    }
    es_features_reset(fx);
    *out = fx;
    return 0;
oom:
    rc = es__fail(ES_ENOMEM, "out of memory creating a feature extractor (n_fft %zu)", n_fft);
fail:
    es_features_free(fx);
    return rc;
}

void es_features_reset(es_features *fx) {
    fx->hist_len = 0;
    fx->hist_base = 0;
    fx->n_in = 0;
    fx->t_next = 0;
    fx->finished = 0;
}

/* Start of frame t in the unpadded signal (negative inside the left pad). */
static int64_t frame_start(const es_features *fx, uint64_t t) {
    return (int64_t)(t * (uint64_t)fx->d.hop_length) - (int64_t)fx->pad;
}

/* Computes frame t into fx->frame. L is the stream's final length when the
 * frame reaches past the end (reflect-padded, only at finish), else 0. */
/* in[j] = x[j] · win[j]: the windowed frame in double, where the FFT needs it
 * (low-energy bins come from cancellation between large samples). */
ES__HOT static void window_frame(double *restrict in, const float *restrict x,
                                 const double *restrict win, size_t wl) {
    for (size_t j = 0; j < wl; j++) in[j] = (double)x[j] * win[j];
}

/* |X[k]|² (or |X[k]|) rounded to float: from here on every value is a sum of
 * positive terms or its log, which float carries to ~1e-6 relative. */
ES__HOT static void power_spectrum(float *restrict spec, const double *restrict X, size_t nf,
                                   int magnitude) {
    if (magnitude) {
        for (size_t k = 0; k < nf; k++)
            spec[k] = (float)sqrt(X[2 * k] * X[2 * k] + X[2 * k + 1] * X[2 * k + 1]);
    } else {
        for (size_t k = 0; k < nf; k++)
            spec[k] = (float)(X[2 * k] * X[2 * k] + X[2 * k + 1] * X[2 * k + 1]);
    }
}

/* Computes frame t into fx->frame. L is the stream's final length when the
 * frame reaches past the end (reflect-padded, only at finish), else 0. */
static void compute_frame(es_features *fx, uint64_t t, uint64_t L) {
    const es_feature_desc *d = &fx->d;
    size_t n_fft = (size_t)d->n_fft, wl = (size_t)d->win_length;
    int64_t s = frame_start(fx, t) + (int64_t)fx->win_off;
    double *in = fx->fft_in + fx->win_off;
    float *out = fx->frame;
    const float *v = fx->spec;

    /* Only the taps under the window matter; the rest of the frame is zero. */
    memset(fx->fft_in, 0, fx->win_off * sizeof *in);
    memset(in + wl, 0, (n_fft - fx->win_off - wl) * sizeof *in);
    if (s >= 0 && (L == 0 || (uint64_t)s + wl <= L)) {
        window_frame(in, fx->hist + ((uint64_t)s - fx->hist_base), fx->window, wl);
    } else {
        for (size_t j = 0; j < wl; j++) {
            int64_t i = s + (int64_t)j;
            if (i < 0) i = -i;                                       /* reflect, left */
            if (L && (uint64_t)i >= L) i = 2 * ((int64_t)L - 1) - i; /* reflect, right */
            in[j] = (double)fx->hist[(uint64_t)i - fx->hist_base] * fx->window[j];
        }
    }
    fftw_execute(fx->plan);
    power_spectrum(fx->spec, (const double *)fx->fft_out, fx->n_freqs, d->power != 2.0);
    if (d->kind == ES_FEAT_MELSPECTROGRAM) {
        es__melbank_forward(&fx->mel, fx->melout, fx->spec);
        v = fx->melout;
    }
    /* A 2-ulp float log adds at most 2.4e-7 of |result|, far inside the 2e-4
     * that separates earshot from torchaudio. */
    switch (d->log) {
    case ES_LOG_NONE:
        memcpy(out, v, fx->F * sizeof *out);
        break;
    case ES_LOG_NATURAL: {
        float off = (float)d->log_offset;
        for (size_t f = 0; f < fx->F; f++) out[f] = v[f] + off;
        es__log_array(out, out, fx->F, 1.0f);
        break;
    }
    case ES_LOG_DB:
        for (size_t f = 0; f < fx->F; f++) out[f] = v[f] > DB_AMIN ? v[f] : DB_AMIN;
        /* mult · log10(x) = mult / ln(10) · ln(x) */
        es__log_array(out, out, fx->F, (float)(fx->db_mult / 2.302585092994046));
        break;
    }
}

/* Drops history no pending frame needs, so the buffer has room again. */
static void compact(es_features *fx) {
    int64_t s = frame_start(fx, fx->t_next);
    uint64_t keep = s > 0 ? (uint64_t)s : 0;
    if (keep <= fx->hist_base) return;
    if (keep >= fx->hist_base + fx->hist_len) {
        fx->hist_len = 0;
    } else {
        size_t drop = (size_t)(keep - fx->hist_base);
        memmove(fx->hist, fx->hist + drop, (fx->hist_len - drop) * sizeof *fx->hist);
        fx->hist_len -= drop;
    }
    fx->hist_base = keep;
}

int es_features_push(es_features *fx, const float *x, size_t n, es_frame_fn on_frame,
                     void *user) {
    if (fx->finished)
        return es__fail(ES_ESTATE, "feature stream already finished; reset it first");
    while (n > 0) {
        size_t k;
        compact(fx);
        /* Samples before hist_base (hop > n_fft) are never read: skip them. */
        if (fx->n_in < fx->hist_base) {
            uint64_t skip = fx->hist_base - fx->n_in;
            k = skip < n ? (size_t)skip : n;
            fx->n_in += k;
            x += k;
            n -= k;
            continue;
        }
        k = fx->hist_cap - fx->hist_len;
        if (k > n) k = n;
        memcpy(fx->hist + fx->hist_len, x, k * sizeof *x);
        fx->hist_len += k;
        fx->n_in += k;
        x += k;
        n -= k;
        while (frame_start(fx, fx->t_next) + (int64_t)fx->d.n_fft <= (int64_t)fx->n_in) {
            compute_frame(fx, fx->t_next, 0);
            if (on_frame) on_frame(user, fx->t_next, fx->frame);
            fx->t_next++;
        }
    }
    return 0;
}

int es_features_finish(es_features *fx, es_frame_fn on_frame, void *user) {
    uint64_t T;
    if (fx->finished)
        return es__fail(ES_ESTATE, "feature stream already finished; reset it first");
    fx->finished = 1;
    if (fx->n_in < es_features_min_samples(&fx->d))
        return es__fail(ES_ETOOSHORT,
                        "audio too short: %llu samples, features need at least %zu "
                        "(n_fft %d%s)",
                        (unsigned long long)fx->n_in, es_features_min_samples(&fx->d),
                        fx->d.n_fft, fx->d.center ? ", centred" : "");
    T = es_features_nframes(&fx->d, (size_t)fx->n_in);
    for (; fx->t_next < T; fx->t_next++) {
        compute_frame(fx, fx->t_next, fx->n_in);
        if (on_frame) on_frame(user, fx->t_next, fx->frame);
    }
    return 0;
}

typedef struct {
    float *matrix;
    size_t F, T;
} matrix_sink;

static void write_column(void *user, uint64_t t, const float *frame) {
    matrix_sink *m = user;
    if (t >= m->T) return;
    for (size_t f = 0; f < m->F; f++) m->matrix[f * m->T + t] = frame[f];
}

int es_features_compute(es_features *fx, const float *x, size_t n, float *matrix, size_t T) {
    matrix_sink sink = {matrix, fx->F, T};
    size_t want = es_features_nframes(&fx->d, n);
    int rc;
    if (n < es_features_min_samples(&fx->d))
        return es__fail(ES_ETOOSHORT,
                        "audio too short: %zu samples, features need at least %zu (n_fft %d)", n,
                        es_features_min_samples(&fx->d), fx->d.n_fft);
    if (T != want)
        return es__fail(ES_EINVAL, "matrix has %zu frames, %zu samples make %zu", T, n, want);
    es_features_reset(fx);
    if ((rc = es_features_push(fx, x, n, write_column, &sink)) < 0) return rc;
    if ((rc = es_features_finish(fx, write_column, &sink)) < 0) return rc;
    es_features_finalize(&fx->d, matrix, fx->F, T);
    return 0;
}

void es_features_finalize(const es_feature_desc *d, float *matrix, size_t F, size_t T) {
    size_t n = F * T;
    if (d->log == ES_LOG_DB && d->top_db > 0.0 && n > 0) {
        /* AmplitudeToDB: max(x, max(x) - top_db) over the whole matrix. */
        float mx = matrix[0], floor_db;
        for (size_t i = 1; i < n; i++)
            if (matrix[i] > mx) mx = matrix[i];
        floor_db = (float)((double)mx - d->top_db);
        for (size_t i = 0; i < n; i++)
            if (matrix[i] < floor_db) matrix[i] = floor_db;
    }
    if (d->cmn && T > 0) {
        /* in double: T sums of values up to ~100 dB keep float's rounding out */
        for (size_t f = 0; f < F; f++) {
            float *row = matrix + f * T;
            double sum = 0.0;
            for (size_t t = 0; t < T; t++) sum += row[t];
            float mu = (float)(sum / (double)T);
            for (size_t t = 0; t < T; t++) row[t] -= mu;
        }
    }
    if (d->has_norm) {
        double inv = 1.0 / d->std;
        for (size_t i = 0; i < n; i++) matrix[i] = (float)(((double)matrix[i] - d->mean) * inv);
    }
}
