/* earshot/augment.h — on-the-fly augmentation for training.
 *
 *   es_rng rng;  es_rng_seed(&rng, 1);
 *   es_augment aug = es_augment_defaults();
 *   es_augment_wave(&aug, &rng, window, clip_n, x, n, noise, n_noise, ws, rate, NULL);  // a window
 *   es_features_compute(fx, window, clip_n, matrix, T);
 *   es_augment_spec(&aug, &rng, matrix, F, T, scratch);                // warps, masks
 *
 * Waveform: the clip is placed at a random offset in the window (or a random
 * crop of a longer clip is taken), its speed (and with it its pitch) changed
 * by resampling, a microphone's colouring and a room's echo added, its gain
 * changed, and noise mixed in at a random SNR.
 * Features: time and frequency masks as torchaudio's TimeMasking and
 * FrequencyMasking (a mask's width is uniform below min(max_width,
 * p·length)), filled with the matrix's mean so a mask reads as "nothing
 * here" rather than as a loud band.
 */
#ifndef EARSHOT_AUGMENT_H
#define EARSHOT_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s;
} es_rng;

void es_rng_seed(es_rng *r, uint64_t seed);
uint64_t es_rng_next(es_rng *r);
/* Uniform in [0, 1). */
double es_rng_uniform(es_rng *r);
/* Uniform integer in [0, n). */
size_t es_rng_below(es_rng *r, size_t n);
/* Standard normal. */
double es_rng_normal(es_rng *r);
/* idx[0..n) in a uniformly random order (Fisher-Yates). */
void es_rng_shuffle(es_rng *r, size_t *idx, size_t n);

typedef struct {
    double shift;                 /* 0: clips start at 0; 1: anywhere in the window */
    double gain_db;               /* gain uniform in ±gain_db */
    double level_p, level_min, level_max;  /* probability of setting the peak to a level
                                              uniform in [min, max] dBFS first: quiet and
                                              loud speakers and microphones alike */
    double speed_p, speed_min, speed_max;  /* probability and range of a speed change */
    double noise_p, snr_min, snr_max;      /* probability and SNR range (dB) of noise */
    double reverb_p, reverb_min, reverb_max; /* probability of a room's echo, and the
                                              range of its reverberation time (s) */
    double eq_p, eq_db;                    /* probability of a random microphone/room
                                              colouring (low shelf, peak, high shelf),
                                              each band's gain uniform in ±eq_db */
    int time_masks, time_mask_width;       /* masks per example, max width (frames) */
    double time_mask_p;                    /* max fraction of the frames one mask covers */
    int freq_masks, freq_mask_width;       /* masks per example, max width (bins) */
    double stretch_p, stretch_min, stretch_max; /* tempo without pitch: the feature
                                              matrix resampled along time by a factor */
    double warp_p, warp_min, warp_max;     /* vocal tract length without tempo: along
                                              frequency by a factor */
    int align_end;                         /* placement and time stretch count from the
                                              window's end: the trainer copies it from
                                              the features' align; not a recipe key */
} es_augment;

/* No augmentation at all (what validation uses). */
es_augment es_augment_none(void);
/* NULL when every setting is in range, else the first rule broken ("speed
 * needs 0.5 <= min <= max <= 2"). */
const char *es_augment_check(const es_augment *a);
/* As JSON, the shape of a recipe's augment group (a model's
 * earshot.augment): a string for the caller (es_free it). */
int es_augment_to_json(const es_augment *a, char **json);
/* Reads that JSON strictly (unknown keys, wrong types and out-of-range
 * values are errors naming the key); absent keys mean none of that. */
int es_augment_from_json(es_augment *a, const char *json, const char *origin);

/* Scratch (floats) es_augment_wave needs for windows of clip_n samples,
 * whatever the clip's length. */
size_t es_augment_scratch(const es_augment *a, size_t clip_n);

/* Speed changes come in steps of 1/ES_SPEED_STEPS (a change by s is a
 * conversion from rate·s to rate, and a converter per step can be kept). */
#define ES_SPEED_STEPS 64
/* s rounded to the nearest step, within [0.5, 2]. */
double es_speed_quantize(double s);

/* The speed changes' converters, one per step, made when first used and
 * kept: designing a filter for every clip was 10% of a fine-tuning job.
 * One bank per thread, for one sample rate. */
typedef struct es_speed_bank es_speed_bank;
int es_speed_bank_new(es_speed_bank **b, int rate);
void es_speed_bank_free(es_speed_bank *b);
/* Drops the converters (they are made again when next used): what follows
 * no longer depends on what came before (speed.c). */
void es_speed_bank_reset(es_speed_bank *b);
/* y[*ny]: x[n] played es_speed_quantize(s) times faster, *ny ≤ cap samples;
 * what es_resample from rate·s to rate gives, to float rounding (but for a
 * clip's first few samples: speed.c). */
int es_speed_apply(es_speed_bank *b, double s, const float *x, size_t n, float *y, size_t cap,
                   size_t *ny);

/* out[clip_n]: one training window from clip x[n]. noise[n_noise] (may be
 * NULL: white noise is generated) is the noise source. ws: scratch of
 * es_augment_scratch floats. rate: samples per second of everything. bank
 * (may be NULL: a converter per clip) makes the speed changes, at rate. */
int es_augment_wave(const es_augment *a, es_rng *r, float *out, size_t clip_n, const float *x,
                    size_t n, const float *noise, size_t n_noise, float *ws, int rate,
                    es_speed_bank *bank);

/* Stretch, warp, then masks, in place on an [F, T] feature matrix; ws is
 * scratch of F·T floats. A stretch or warp by s reads the matrix at t/s (or
 * f/s) with linear interpolation, anchored at 0 (a stretch with align_end:
 * at the last frame), and fills what lies beyond the matrix with its
 * minimum (the floor: silence). */
void es_augment_spec(const es_augment *a, es_rng *r, float *m, size_t F, size_t T, float *ws);

/* Synthetic backgrounds: kind 0 silence (a faint dither), 1 white, 2 pink,
 * 3 brown noise, 4 tones (1-3 sines, squares or sawtooths, gliding), at
 * level_db dBFS RMS. */
void es_noise(es_rng *r, float *out, size_t n, int kind, double level_db);

#ifdef __cplusplus
}
#endif
#endif
