/* core/speed.c — speed perturbation's resamplers, kept between clips.
 *
 * Changing a clip's speed by s is resampling it from rate·s to rate. Made
 * afresh for every clip, a libsoxr converter spends most of its time
 * designing its filter: 0.5 ms of the 0.8 ms a half-second clip at 8 kHz
 * costs, and 10% of a whole fine-tuning job (perf). soxr_clear rebuilds
 * the filter too, so a converter cannot simply be reset either.
 *
 * So speeds are quantised to steps of 1/ES_SPEED_STEPS (Kaldi's recipes use
 * three speeds; 64 steps keep the range practically continuous), and the
 * bank keeps one streaming converter per step, fed clip after clip with
 * silence between them:
 *   - before a clip, zeros until the input position is a multiple of q
 *     (s = q / ES_SPEED_STEPS): the clip's first output sample then falls
 *     exactly on its first input sample, as in a one-shot conversion;
 *   - after it, zeros until every output sample of the clip is out. soxr
 *     emits an output sample only once it has read the input up to the
 *     filter's half-length past it, so by then at least that many zeros
 *     follow the clip, and the next clip's filter sees only silence before
 *     it, as a one-shot conversion does.
 * Output samples that belong to the silences are dropped. The result equals
 * es_resample's to float rounding, except in a clip's first few samples on
 * a converter that has run before: soxr begins a stream slightly unlike how
 * it goes on after silence (up to 1% of the peak in the first 4 samples,
 * measured; test_augment compares them).
 *
 * Because of those first samples, a clip's result depends a little on what
 * went through its converter before: es_speed_bank_reset starts every
 * converter afresh, and the trainer calls it at each epoch's start, where a
 * checkpoint can resume, so a resumed run stays bit-exact.
 *
 * Memory: soxr's converter for one step holds about 180 KB at 8 kHz and
 * 250 KB at 16 kHz; the default speed range 0.85-1.15 spans 20 steps.
 */
#include "earshot/augment.h"

#include <math.h>
#include <string.h>

#include "earshot/resample.h"
#include "internal.h"

/* The most input one process call takes: a block of the clip or of silence. */
#define BLOCK 1024

typedef struct {
    es_resampler *rs;
    uint64_t in, out; /* samples fed and returned since the converter was made */
} stream;

struct es_speed_bank {
    int rate;
    stream st[2 * ES_SPEED_STEPS + 1]; /* by q: speeds up to 2 */
    float zeros[BLOCK];
    float *buf; /* one call's output */
    size_t buf_cap;
};

double es_speed_quantize(double s) {
    double q = floor(s * ES_SPEED_STEPS + 0.5);
    if (q < ES_SPEED_STEPS / 2) q = ES_SPEED_STEPS / 2;
    if (q > 2 * ES_SPEED_STEPS) q = 2 * ES_SPEED_STEPS;
    return q / ES_SPEED_STEPS;
}

int es_speed_bank_new(es_speed_bank **out, int rate) {
    es_speed_bank *b;
    if (!out) return es__fail(ES_EINVAL, "es_speed_bank_new: out must not be NULL");
    *out = NULL;
    if (!(rate >= ES_RATE_MIN && rate <= ES_RATE_MAX))
        return es__fail(ES_ERANGE, "speed bank: sample rate %d Hz is out of range", rate);
    b = es__calloc(1, sizeof *b);
    if (!b) return es__fail(ES_ENOMEM, "out of memory for the speed bank");
    b->rate = rate;
    *out = b;
    return 0;
}

void es_speed_bank_reset(es_speed_bank *b) {
    if (!b) return;
    for (size_t i = 0; i < sizeof b->st / sizeof b->st[0]; i++) {
        es_resampler_free(b->st[i].rs);
        b->st[i].rs = NULL;
        b->st[i].in = b->st[i].out = 0;
    }
}

void es_speed_bank_free(es_speed_bank *b) {
    if (!b) return;
    es_speed_bank_reset(b);
    es__free(b->buf);
    es__free(b);
}

/* Feeds n samples of x (NULL: silence); keeps the output samples whose
 * stream positions fall in [k0, k1) at y[pos - k0]. */
static int feed(es_speed_bank *b, stream *st, const float *x, size_t n, uint64_t k0, uint64_t k1,
                float *y) {
    while (n > 0) {
        size_t take = n < BLOCK ? n : BLOCK, got = 0;
        int rc = es_resampler_process(st->rs, x ? x : b->zeros, take, b->buf, b->buf_cap, &got);
        if (rc < 0) return rc;
        for (size_t i = 0; i < got; i++) {
            uint64_t k = st->out + i;
            if (k >= k0 && k < k1) y[k - k0] = b->buf[i];
        }
        st->out += got;
        st->in += take;
        n -= take;
        if (x) x += take;
    }
    return 0;
}

int es_speed_apply(es_speed_bank *b, double s, const float *x, size_t n, float *y, size_t cap,
                   size_t *ny) {
    int q = (int)lround(es_speed_quantize(s) * ES_SPEED_STEPS), rc;
    stream *st = &b->st[q];
    uint64_t k0, k1, want;
    *ny = 0;
    if (n == 0) return 0;
    if (!st->rs) {
        if ((rc = es_resampler_create(&st->rs, (double)b->rate * q / ES_SPEED_STEPS, b->rate,
                                      BLOCK)) < 0)
            return rc;
        if (es_resampler_max_out(st->rs) > b->buf_cap) {
            size_t need = es_resampler_max_out(st->rs);
            float *nb = es__malloc_array(need, sizeof *nb);
            if (!nb) return es__fail(ES_ENOMEM, "out of memory for the speed bank");
            es__free(b->buf);
            b->buf = nb;
            b->buf_cap = need;
        }
    }
    /* silence up to a multiple of q: output position k0 is then exactly
     * the clip's start (input position in · steps / q) */
    if ((rc = feed(b, st, NULL, (size_t)((q - st->in % (uint64_t)q) % (uint64_t)q), 0, 0, y)) < 0)
        return rc;
    k0 = st->in / (uint64_t)q * ES_SPEED_STEPS;
    /* es_resample's length: round(n · steps / q), halves up */
    want = (2 * (uint64_t)n * ES_SPEED_STEPS + (uint64_t)q) / (2 * (uint64_t)q);
    if (want > cap) want = cap;
    k1 = k0 + want;
    if ((rc = feed(b, st, x, n, k0, k1, y)) < 0) return rc;
    while (st->out < k1)
        if ((rc = feed(b, st, NULL, BLOCK, k0, k1, y)) < 0) return rc;
    *ny = (size_t)want;
    return 0;
}
