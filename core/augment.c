/* core/augment.c — random placement, speed, gain and noise; spectrogram masks. */
#include "earshot/augment.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "earshot/resample.h"
#include "internal.h"

void es_rng_seed(es_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint64_t es_rng_next(es_rng *r) { /* splitmix64: tiny state, good enough for augmentation */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double es_rng_uniform(es_rng *r) { return (double)(es_rng_next(r) >> 11) / 9007199254740992.0; }

size_t es_rng_below(es_rng *r, size_t n) { return n ? (size_t)(es_rng_uniform(r) * (double)n) : 0; }

double es_rng_normal(es_rng *r) {
    double u = es_rng_uniform(r), v = es_rng_uniform(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * ES__PI * v);
}

void es_rng_shuffle(es_rng *r, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = es_rng_below(r, i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

es_augment es_augment_none(void) {
    es_augment a;
    memset(&a, 0, sizeof a);
    a.speed_min = a.speed_max = 1.0;
    a.stretch_min = a.stretch_max = 1.0;
    a.warp_min = a.warp_max = 1.0;
    a.level_min = a.level_max = -6.0;
    return a;
}

/* A clip longer than two windows is cropped to two windows first; a speed
 * change by s turns m samples into m/s: room for the slowest, plus a
 * window of generated noise. */
size_t es_augment_scratch(const es_augment *a, size_t clip_n) {
    double smin = a->speed_p > 0.0 && a->speed_min > 0.0 ? a->speed_min : 1.0;
    /* a room's echo: the wet sound and the delay lines (reverb) */
    size_t room = a->reverb_p > 0.0 ? clip_n : 0;
    return (size_t)(2.0 * (double)clip_n / smin) + clip_n + room + 64;
}

static double rms(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

/* 1-3 tones: sine, square or sawtooth (band-limited, harmonics below 0.45
 * of the rate), fundamentals 0.01-0.4 of the rate, each gliding by up to
 * ±60% (a sine gliding past Nyquist folds back: still a whistle) — horns,
 * whistles, beeps, hums, engines: sounds that are none of the classes. The
 * range is that wide because a whistle sweeping 1-3 kHz, outside the older
 * 0.01-0.2 and ±30%, read as "8" to a digits model trained on wider time
 * stretches. */
static void tones(es_rng *r, float *out, size_t n) {
    int count = 1 + (int)es_rng_below(r, 3);
    memset(out, 0, n * sizeof *out);
    for (int j = 0; j < count; j++) {
        double f0 = 0.01 * pow(40.0, es_rng_uniform(r)), glide = 1.2 * es_rng_uniform(r) - 0.6,
               ph = 0.0, amp = 0.3 + 0.7 * es_rng_uniform(r);
        int wave = (int)es_rng_below(r, 3), kmax = (int)(0.45 / (f0 * (1.0 + fabs(glide))));
        if (kmax > 30) kmax = 30;
        for (size_t i = 0; i < n; i++) {
            double f = f0 * (1.0 + glide * (double)i / (double)n), v = 0.0;
            ph += 2.0 * ES__PI * f;
            if (wave == 0 || kmax < 2) {
                v = sin(ph);
            } else {
                /* sin(kθ) by the Chebyshev recurrence: one sin and one cos per sample */
                double s1 = sin(ph), c2 = 2.0 * cos(ph), sk_1 = 0.0, sk = s1;
                for (int k = 1; k <= kmax; k++) {
                    double next = c2 * sk - sk_1;
                    if (wave == 2 || (k & 1)) v += sk / k;
                    sk_1 = sk;
                    sk = next;
                }
            }
            out[i] += (float)(amp * v);
        }
    }
}

/* Standard normal draws by Marsaglia and Tsang's ziggurat (128 layers, in
 * Doornik's form, "An Improved Ziggurat Method", 2005): 98.8% of draws are
 * one generator step, a table lookup and a compare. Box-Muller's log and
 * sincos per pair of draws were 8% of a fine-tuning job's CPU, the noise
 * being made fresh for every other example. */
#define ZIG_C 128
#define ZIG_R 3.442619855899           /* the start of the tail */
#define ZIG_V 9.91256303526217e-3      /* the area of each layer */
static double zig_x[ZIG_C + 1], zig_r[ZIG_C];
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_init(void) {
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    zig_x[0] = ZIG_V / f; /* the bottom layer, with the tail, as a box */
    zig_x[1] = ZIG_R;
    zig_x[ZIG_C] = 0.0;
    for (int i = 2; i < ZIG_C; i++) {
        zig_x[i] = sqrt(-2.0 * log(ZIG_V / zig_x[i - 1] + f));
        f = exp(-0.5 * zig_x[i] * zig_x[i]);
    }
    for (int i = 0; i < ZIG_C; i++) zig_r[i] = zig_x[i + 1] / zig_x[i];
}

/* A uniform in (0, 1]: log() never sees 0. */
static double uniform_open(es_rng *r) { return 1.0 - es_rng_uniform(r); }

static double zig_normal(es_rng *r) {
    for (;;) {
        uint64_t z = es_rng_next(r);
        int i = (int)(z & (ZIG_C - 1));                     /* the low 7 bits: a layer */
        double u = 2.0 * ((double)(z >> 11) / 9007199254740992.0) - 1.0; /* the top 53 */
        double x, f0, f1;
        if (fabs(u) < zig_r[i]) return u * zig_x[i]; /* inside the layer's box */
        if (i == 0) {                                /* the tail beyond ZIG_R */
            double t, y;
            do {
                t = log(uniform_open(r)) / ZIG_R;
                y = log(uniform_open(r));
            } while (-2.0 * y < t * t);
            return u < 0.0 ? t - ZIG_R : ZIG_R - t;
        }
        x = u * zig_x[i]; /* in the wedge: accept under the density */
        f0 = exp(-0.5 * (zig_x[i] * zig_x[i] - x * x));
        f1 = exp(-0.5 * (zig_x[i + 1] * zig_x[i + 1] - x * x));
        if (f1 + es_rng_uniform(r) * (f0 - f1) < 1.0) return x;
    }
}

static void normals(es_rng *r, float *w, size_t n) {
    pthread_once(&zig_once, zig_init);
    for (size_t i = 0; i < n; i++) w[i] = (float)zig_normal(r);
}

void es_noise(es_rng *r, float *out, size_t n, int kind, double level_db) {
    double b0 = 0, b1 = 0, b2 = 0, brown = 0, g, cur;
    if (kind == 4) {
        tones(r, out, n);
    } else {
        normals(r, out, n);
    }
    for (size_t i = 0; i < n && kind != 4; i++) {
        double w = out[i], v;
        switch (kind) {
        case 0: v = w * 1e-4; break; /* a faint dither: real silence is never zero */
        case 2: /* pink: Paul Kellet's economy filter, -3 dB/octave */
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            v = b0 + b1 + b2 + w * 0.1848;
            break;
        case 3: brown = 0.995 * brown + w * 0.1; v = brown; break;
        default: v = w; break;
        }
        out[i] = (float)v;
    }
    if (kind == 0) return;
    cur = rms(out, n);
    g = cur > 0.0 ? pow(10.0, level_db / 20.0) / cur : 0.0;
    for (size_t i = 0; i < n; i++) out[i] = (float)(out[i] * g);
}

/* One RBJ-cookbook biquad (low shelf, peaking or high shelf), its
 * coefficients divided by a0. */
typedef struct {
    double b0, b1, b2, a1, a2;
} biquad;

static biquad biquad_design(int type, double f0, double gain_db, double q, int rate) {
    double A = pow(10.0, gain_db / 40.0), w = 2.0 * ES__PI * f0 / rate, cw = cos(w),
           alpha = sin(w) / (2.0 * q), b0, b1, b2, a0, a1, a2;
    biquad f;
    if (type == 1) { /* peaking */
        b0 = 1 + alpha * A; b1 = -2 * cw; b2 = 1 - alpha * A;
        a0 = 1 + alpha / A; a1 = -2 * cw; a2 = 1 - alpha / A;
    } else {
        double s = type == 0 ? -1.0 : 1.0, r = 2.0 * sqrt(A) * alpha; /* low : high shelf */
        b0 = A * ((A + 1) + s * (A - 1) * cw + r);
        b1 = -2 * s * A * ((A - 1) + s * (A + 1) * cw);
        b2 = A * ((A + 1) + s * (A - 1) * cw - r);
        a0 = (A + 1) - s * (A - 1) * cw + r;
        a1 = 2 * s * ((A - 1) - s * (A + 1) * cw);
        a2 = (A + 1) - s * (A - 1) * cw - r;
    }
    f.b0 = b0 / a0; f.b1 = b1 / a0; f.b2 = b2 / a0; f.a1 = a1 / a0; f.a2 = a2 / a0;
    return f;
}

/* One stage, direct form I, its state in the caller's registers. The
 * previous output's term comes last, so only one product and one
 * subtraction stand between an output and the next. */
#define STAGE(f, v, x1, x2, y1, y2)                                                   \
    do {                                                                              \
        double p_ = (f).b0 * (v) + (f).b1 * (x1) + (f).b2 * (x2) - (f).a2 * (y2);      \
        double y_ = p_ - (f).a1 * (y1);                                               \
        (x2) = (x1), (x1) = (v), (y2) = (y1), (y1) = y_;                              \
        (v) = y_;                                                                     \
    } while (0)

/* The filters f[0..nf) (nf 1-3) in cascade, in place, in one pass: each
 * sample goes through every stage before the next sample, so the stages'
 * recursions overlap in the pipeline instead of running one after the
 * other. The state lives in scalars and the samples stay double between
 * stages: kept in arrays indexed by stage and rounded to float at every
 * stage, each sample took 37-50 cycles and the cascade a fifth of the
 * batch-making thread's time (perf, digits fine-tuning). */
static void cascade(float *x, size_t n, const biquad *f, int nf) {
    double a1 = 0, a2 = 0, ay1 = 0, ay2 = 0, b1 = 0, b2 = 0, by1 = 0, by2 = 0, c1 = 0, c2 = 0,
           cy1 = 0, cy2 = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        STAGE(f[0], v, a1, a2, ay1, ay2);
        if (nf > 1) STAGE(f[1], v, b1, b2, by1, by2);
        if (nf > 2) STAGE(f[2], v, c1, c2, cy1, cy2);
        x[i] = (float)v;
    }
}
#undef STAGE

/* A room's echo (Schroeder's reverberator): four feedback combs in
 * parallel, their delays 30-44 ms scaled by a random room size, each
 * decaying 60 dB in rt60 seconds, then two allpasses that thicken the tail;
 * mixed with the dry sound at a random wet level (0.1-0.6 of it). Rooms and
 * phones add this to every recording the models hear live; the data here
 * is mostly close and dry. ws: n + 0.3·rate floats; skipped with less. */
static void reverb(es_rng *r, float *x, size_t n, double rt60, int rate, float *ws, size_t ws_n) {
    static const double comb_ms[4] = {29.7, 37.1, 41.1, 43.7}, ap_ms[2] = {5.0, 1.7};
    double size = 0.7 + 0.8 * es_rng_uniform(r), wet = 0.1 + 0.5 * es_rng_uniform(r);
    size_t len[6], total = n;
    float *line[6], *y = ws;
    for (int k = 0; k < 6; k++) {
        double ms = k < 4 ? comb_ms[k] * size : ap_ms[k - 4];
        len[k] = (size_t)(ms * 1e-3 * rate) + 1;
        total += len[k];
    }
    if (total > ws_n) return;
    line[0] = ws + n;
    for (int k = 1; k < 6; k++) line[k] = line[k - 1] + len[k - 1];
    memset(ws, 0, total * sizeof *ws);
    for (int k = 0; k < 4; k++) { /* y += comb_k(x) */
        double g = pow(10.0, -3.0 * (double)len[k] / rate / rt60);
        size_t p = 0;
        for (size_t i = 0; i < n; i++) {
            float d = line[k][p];
            line[k][p] = (float)(x[i] + g * d);
            y[i] += 0.25f * d;
            if (++p == len[k]) p = 0;
        }
    }
    for (int k = 4; k < 6; k++) { /* y = allpass_k(y) */
        size_t p = 0;
        for (size_t i = 0; i < n; i++) {
            float d = line[k][p], v = y[i] + 0.7f * d;
            line[k][p] = v;
            y[i] = d - 0.7f * v;
            if (++p == len[k]) p = 0;
        }
    }
    for (size_t i = 0; i < n; i++) x[i] = (float)((1.0 - wet) * x[i] + wet * y[i]);
}

/* A random colouring such as a microphone and a room give: a low shelf
 * (80-800 Hz), a peak (200 Hz to 0.4·rate, Q 0.5-2) and a high shelf
 * (1 kHz to 0.4·rate), corner frequencies log-uniform, gains in ±db. */
static void colour(es_rng *r, float *x, size_t n, double db, int rate) {
    double top = 0.4 * rate;
    biquad f[3];
    int nf = 0;
#define LOGU(lo, hi) ((lo) * pow((hi) / (lo), es_rng_uniform(r)))
#define GAIN() ((2.0 * es_rng_uniform(r) - 1.0) * db)
    /* draws in a fixed order (function arguments have none): corner, gain, Q */
    for (int k = 0; k < 3; k++) {
        double f0, g, q = 0.707;
        if (k == 2 && top <= 1000.0) break;
        f0 = k == 0 ? LOGU(80.0, 800.0) : k == 1 ? LOGU(200.0, top) : LOGU(1000.0, top);
        g = GAIN();
        if (k == 1) q = LOGU(0.5, 2.0);
        f[nf++] = biquad_design(k, f0, g, q, rate);
    }
#undef LOGU
#undef GAIN
    cascade(x, n, f, nf);
}

int es_augment_wave(const es_augment *a, es_rng *r, float *out, size_t clip_n, const float *x,
                    size_t n, const float *noise, size_t n_noise, float *ws, int rate,
                    es_speed_bank *bank) {
    const float *src = x;
    size_t m = n;
    double gain;
    /* speed: resample by 1/s into the scratch, so the clip plays s times faster */
    if (a->speed_p > 0.0 && es_rng_uniform(r) < a->speed_p && n > 16) {
        double s = es_speed_quantize(a->speed_min +
                                     (a->speed_max - a->speed_min) * es_rng_uniform(r));
        size_t cap = es_augment_scratch(a, clip_n) - clip_n - 64;
        size_t ny = 0;
        int rc;
        if (m > 2 * clip_n) { /* only two windows' worth can land in the window */
            src = x + es_rng_below(r, m - 2 * clip_n + 1);
            m = 2 * clip_n;
        }
        if (bank) {
            if ((rc = es_speed_apply(bank, s, src, m, ws, cap, &ny)) < 0) return rc;
        } else {
            float *y = NULL;
            if ((rc = es_resample(src, m, rate * s, rate, &y, &ny)) < 0) return rc;
            if (ny > cap) ny = cap;
            memcpy(ws, y, ny * sizeof *ws);
            es_free(y);
        }
        src = ws;
        m = ny;
    }
    /* placement: a short clip lands at a random offset, a long one is cropped */
    memset(out, 0, clip_n * sizeof *out);
    if (m <= clip_n) {
        size_t off = a->shift > 0.0 ? es_rng_below(r, (size_t)((double)(clip_n - m) * a->shift) + 1)
                                    : 0;
        if (a->align_end) off = clip_n - m - off;
        memcpy(out + off, src, m * sizeof *out);
    } else {
        size_t off = es_rng_below(r, m - clip_n + 1);
        memcpy(out, src + off, clip_n * sizeof *out);
    }
    if (a->eq_p > 0.0 && a->eq_db > 0.0 && es_rng_uniform(r) < a->eq_p)
        colour(r, out, clip_n, a->eq_db, rate);
    if (a->reverb_p > 0.0 && es_rng_uniform(r) < a->reverb_p)
        reverb(r, out, clip_n, a->reverb_min + (a->reverb_max - a->reverb_min) * es_rng_uniform(r),
               rate, ws, es_augment_scratch(a, clip_n) - clip_n - 64);
    if (a->level_p > 0.0 && es_rng_uniform(r) < a->level_p) {
        float peak = 0.0f;
        for (size_t i = 0; i < clip_n; i++) peak = fabsf(out[i]) > peak ? fabsf(out[i]) : peak;
        if (peak > 1e-6f) {
            double db = a->level_min + (a->level_max - a->level_min) * es_rng_uniform(r);
            double k = pow(10.0, db / 20.0) / peak;
            for (size_t i = 0; i < clip_n; i++) out[i] = (float)(out[i] * k);
        }
    }
    gain = a->gain_db > 0.0 ? pow(10.0, (2.0 * es_rng_uniform(r) - 1.0) * a->gain_db / 20.0) : 1.0;
    if (gain != 1.0)
        for (size_t i = 0; i < clip_n; i++) out[i] = (float)(out[i] * gain);
    if (a->noise_p > 0.0 && es_rng_uniform(r) < a->noise_p) {
        double snr = a->snr_min + (a->snr_max - a->snr_min) * es_rng_uniform(r);
        double sig = rms(out, clip_n), nz, k;
        size_t off = noise && n_noise > clip_n ? es_rng_below(r, n_noise - clip_n) : 0;
        /* the noise source: a stretch of a background clip, or fresh noise
         * (in the last window of the scratch, past any resampled clip) */
        if (!noise || n_noise < clip_n) {
            float *gen = ws + es_augment_scratch(a, clip_n) - clip_n - 64;
            es_noise(r, gen, clip_n, 1 + (int)es_rng_below(r, 3), -30.0);
            noise = gen;
            off = 0;
        }
        nz = rms(noise + off, clip_n);
        if (sig > 1e-6 && nz > 1e-9) {
            k = sig / nz / pow(10.0, snr / 20.0);
            for (size_t i = 0; i < clip_n; i++) out[i] += (float)(k * noise[off + i]);
        }
    }
    for (size_t i = 0; i < clip_n; i++) out[i] = out[i] > 1.0f ? 1.0f : out[i] < -1.0f ? -1.0f : out[i];
    return 0;
}

/* One torchaudio-style mask along an axis of length len: width uniform
 * below min(max_width, p·len), start uniform over what remains. */
static void mask_range(es_rng *r, size_t len, int max_width, double p, size_t *start,
                       size_t *width) {
    double lim = max_width;
    if (p > 0.0 && p * (double)len < lim) lim = p * (double)len;
    *width = (size_t)(es_rng_uniform(r) * lim);
    if (*width > len) *width = len;
    *start = es_rng_below(r, len - *width + 1);
}

static double pick(es_rng *r, double p, double lo, double hi) {
    if (!(p > 0.0) || es_rng_uniform(r) >= p) return 1.0;
    return lo + (hi - lo) * es_rng_uniform(r);
}

/* m[F, T] ← src read at (f/sf, t/st), bilinear, floor outside. */
static void resample_matrix(float *m, const float *src, size_t F, size_t T, double sf, double st) {
    float lo = src[0];
    for (size_t i = 1; i < F * T; i++) lo = src[i] < lo ? src[i] : lo;
    for (size_t f = 0; f < F; f++) {
        double u = (double)f / sf;
        size_t f0 = (size_t)u;
        double wf = u - (double)f0;
        for (size_t t = 0; t < T; t++) {
            double v = (double)t / st, wt, a, b;
            size_t t0 = (size_t)v;
            if (f0 >= F || t0 >= T || (f0 == F - 1 && wf > 0) || (t0 == T - 1 && v > (double)t0)) {
                m[f * T + t] = lo;
                continue;
            }
            wt = v - (double)t0;
            a = src[f0 * T + t0] + (t0 + 1 < T ? wt * (src[f0 * T + t0 + 1] - src[f0 * T + t0]) : 0.0);
            if (f0 + 1 < F) {
                const float *s1 = src + (f0 + 1) * T;
                b = s1[t0] + (t0 + 1 < T ? wt * (s1[t0 + 1] - s1[t0]) : 0.0);
                a += wf * (b - a);
            }
            m[f * T + t] = (float)a;
        }
    }
}

static void reverse_time(float *m, size_t F, size_t T) {
    for (size_t f = 0; f < F; f++)
        for (size_t i = 0, j = T - 1; i < j; i++, j--) {
            float v = m[f * T + i];
            m[f * T + i] = m[f * T + j];
            m[f * T + j] = v;
        }
}

void es_augment_spec(const es_augment *a, es_rng *r, float *m, size_t F, size_t T, float *ws) {
    double sum = 0.0, st = pick(r, a->stretch_p, a->stretch_min, a->stretch_max),
           sf = pick(r, a->warp_p, a->warp_min, a->warp_max);
    float fill;
    if (st != 1.0 || sf != 1.0) {
        memcpy(ws, m, F * T * sizeof *m);
        /* anchored at the end: the same resampling of the time-reversed matrix */
        if (a->align_end && st != 1.0) reverse_time(ws, F, T);
        resample_matrix(m, ws, F, T, sf, st);
        if (a->align_end && st != 1.0) reverse_time(m, F, T);
    }
    if (a->time_masks <= 0 && a->freq_masks <= 0) return;
    for (size_t i = 0; i < F * T; i++) sum += m[i];
    fill = (float)(sum / (double)(F * T));
    for (int k = 0; k < a->time_masks; k++) {
        size_t s, w;
        mask_range(r, T, a->time_mask_width, a->time_mask_p, &s, &w);
        for (size_t f = 0; f < F; f++)
            for (size_t t = s; t < s + w; t++) m[f * T + t] = fill;
    }
    for (int k = 0; k < a->freq_masks; k++) {
        size_t s, w;
        mask_range(r, F, a->freq_mask_width, 0.0, &s, &w);
        for (size_t f = s; f < s + w; f++)
            for (size_t t = 0; t < T; t++) m[f * T + t] = fill;
    }
}
