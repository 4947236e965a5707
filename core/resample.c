/* core/resample.c — sample-rate conversion with libsoxr.
 *
 * Both the one-shot and the streaming converter use one soxr configuration:
 * float32 in and out, one channel, quality SOXR_HQ (20-bit precision,
 * linear phase), one thread. Not SOXR_VHQ (28-bit): its longer filter
 * holds back 105 ms of a 16 -> 8 kHz stream against HQ's 29 ms (measured),
 * and 20 bits (-120 dB) is far below anything the features resolve (a dB
 * mel keeps 50-80 dB). The daemon's word-to-event median did not move
 * with that change (580 ms either way): the lag that mattered was soxr's
 * block-wise output, below. Equal rates never reach soxr: the samples are
 * copied, so they come back bit-exact.
 *
 * Alignment. soxr compensates its own filter delay: output sample k of a
 * stream is the signal at time k / rate_out, whether the input arrives in
 * one block or in many (measured: a 440 Hz sine through every pair of 8, 16,
 * 22.05, 44.1, 48 kHz matches the analytic sine at the new rate to ~3e-8,
 * streamed or not). The price is that early streaming calls return fewer
 * samples than they take in (none at all until the filter has seen enough
 * input), and the flush at the end returns what is still held back — up to
 * a few thousand samples at ordinary ratios, far more at extreme up-sampling
 * ratios.
 *
 * Memory. Everything earshot allocates goes through the library allocator.
 * soxr allocates with the C library's malloc, which es_set_allocator cannot
 * reach: in soxr_create (filter design), in soxr_clear (which rebuilds the
 * filters) and in the first few soxr_process calls, while its FIFOs grow to
 * their working size (measured: the last such growth came after 0.1 to
 * 1.3 s of audio, depending on the ratio and the block size, and none
 * followed over a minute of streaming).
 */
#include "earshot/resample.h"

#include <math.h>
#include <soxr.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* The streaming converter. soxr is NULL when the rates are equal. */
struct es_resampler {
    soxr_t soxr;
    double rate_in, rate_out;
    double ratio;   /* rate_out / rate_in */
    size_t max_in;  /* most input samples one process call may pass */
    size_t max_out; /* es_resampler_max_out */
    int flushed;    /* es_resampler_flush was called; reset before reuse */
};

static int check_rate(double rate) {
    if (!(rate >= ES_RATE_MIN && rate <= ES_RATE_MAX)) /* also false for NaN */
        return es__fail(ES_ERANGE, "sample rate %g Hz is out of range (%g–%g Hz)", rate,
                        ES_RATE_MIN, ES_RATE_MAX);
    return 0;
}

/* A soxr error string, as an earshot code: soxr reports failed allocations
 * as "malloc failed"; anything else is a failure of the conversion itself. */
static int soxr_code(soxr_error_t err) {
    return err && strstr(err, "malloc") ? ES_ENOMEM : ES_ERESAMPLE;
}

static soxr_t make_soxr(double rate_in, double rate_out, soxr_error_t *err) {
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    /* soxr filters in blocks of its "large" DFT (2^17 by default) and holds
     * output back until a block is done: a 16 -> 8 kHz stream fed 10 ms at a
     * time lagged its input by 64 ms on average and 115 ms at worst. 256-point
     * blocks bring that to 32 and 52 ms (48 -> 16 kHz: 11 and 15 ms), close
     * to the filter's own delay. The digits worker, which resamples, got its
     * windows' events 106 ms after their end against 23 ms for the cat/dog
     * worker, which does not (bench/daemon_bench.py). At audio rates the
     * smaller FFTs cost nothing measurable. */
    rt.log2_min_dft_size = 8;
    rt.log2_large_dft_size = 8;
    return soxr_create(rate_in, rate_out, 1, err, &io, &q, &rt);
}

/* round(n * rate_out / rate_in), halves rounded up. Exact in integers when
 * both rates are whole numbers (every real-world rate is), so the length
 * never depends on how the quotient happens to round in floating point. */
static size_t out_length(size_t n, double rate_in, double rate_out) {
    if (rate_in == floor(rate_in) && rate_out == floor(rate_out) &&
        (uint64_t)n <= UINT64_MAX / (2 * (uint64_t)ES_RATE_MAX)) {
        uint64_t ri = (uint64_t)rate_in, ro = (uint64_t)rate_out;
        return (size_t)((2 * (uint64_t)n * ro + ri) / (2 * ri));
    }
    return (size_t)floor((double)n * rate_out / rate_in + 0.5);
}

int es_resample(const float *in, size_t n_in, double rate_in, double rate_out, float **out,
                size_t *n_out) {
    size_t want, got = 0, odone = 0;
    float *y;
    soxr_t s;
    soxr_error_t err = NULL;
    int rc;

    es__clear_error();
    if (!out || !n_out) return es__fail(ES_EINVAL, "es_resample: out and n_out must not be NULL");
    *out = NULL;
    *n_out = 0;
    if ((rc = check_rate(rate_in)) < 0 || (rc = check_rate(rate_out)) < 0) return rc;
    if (n_in == 0) return es__fail(ES_EINVAL, "es_resample: the input holds no samples");
    if (!in) return es__fail(ES_EINVAL, "es_resample: the input is NULL but n_in is %zu", n_in);

    want = rate_in == rate_out ? n_in : out_length(n_in, rate_in, rate_out);
    if (want == 0)
        return es__fail(ES_ERANGE, "%zu samples at %g Hz make no sample at %g Hz", n_in, rate_in,
                        rate_out);
    y = es__malloc_array(want, sizeof *y);
    if (!y) return es__fail(ES_ENOMEM, "out of memory resampling %zu samples", n_in);

    if (rate_in == rate_out) {
        memcpy(y, in, n_in * sizeof *y);
        *out = y;
        *n_out = n_in;
        return 0;
    }

    s = make_soxr(rate_in, rate_out, &err);
    if (!s) {
        es__free(y);
        return es__fail(soxr_code(err), "cannot resample from %g Hz to %g Hz: %s", rate_in,
                        rate_out, soxr_strerror(err));
    }
    /* idone NULL: soxr takes all of the input at once; the output it cannot
     * place stays buffered and the flush loop below collects it. */
    err = soxr_process(s, in, n_in, NULL, y, want, &odone);
    got = odone;
    while (!err && got < want) {
        err = soxr_process(s, NULL, 0, NULL, y + got, want - got, &odone);
        if (odone == 0) break;
        got += odone;
    }
    soxr_delete(s);
    if (err) {
        es__free(y);
        return es__fail(soxr_code(err), "resampling %zu samples from %g Hz to %g Hz failed: %s",
                        n_in, rate_in, rate_out, soxr_strerror(err));
    }
    /* soxr ends the stream at round(n_in / (rate_in / rate_out)), which can
     * differ from our exact rounding by one sample at an exact half. The
     * missing sample lies past the end of the signal: it is silence. */
    if (want - got > 2) {
        es__free(y);
        return es__fail(ES_ERESAMPLE,
                        "resampling %zu samples from %g Hz to %g Hz gave %zu samples, not %zu",
                        n_in, rate_in, rate_out, got, want);
    }
    if (got < want) memset(y + got, 0, (want - got) * sizeof *y);
    *out = y;
    *n_out = want;
    return 0;
}

/* ------------------------------------------------------------- streaming */

/* The output room one call with n input samples needs so that soxr accepts
 * all n of them. soxr takes at most ceil(out_room * rate_in / rate_out)
 * input samples per call; n * ratio is rarely a whole number, and the
 * products are rounded in floating point, so allow two more samples than
 * the exact quotient. */
static size_t room_for(const es_resampler *rs, size_t n) {
    if (!rs->soxr) return n;
    return (size_t)ceil((double)n * rs->ratio) + 2;
}

int es_resampler_create(es_resampler **rs, double rate_in, double rate_out, size_t max_in) {
    es_resampler *r;
    double base;
    soxr_error_t err = NULL;
    int rc;

    es__clear_error();
    if (!rs) return es__fail(ES_EINVAL, "es_resampler_create: rs must not be NULL");
    *rs = NULL;
    if ((rc = check_rate(rate_in)) < 0 || (rc = check_rate(rate_out)) < 0) return rc;
    if (max_in == 0) return es__fail(ES_EINVAL, "es_resampler_create: max_in must be at least 1");
    /* max_out (about 1.25 x base floats) must stay far from SIZE_MAX bytes. */
    base = ceil((double)max_in * rate_out / rate_in);
    if (base > (double)(SIZE_MAX / sizeof(float) / 4))
        return es__fail(ES_ERANGE, "es_resampler_create: max_in %zu is too large", max_in);

    r = es__calloc(1, sizeof *r);
    if (!r) return es__fail(ES_ENOMEM, "out of memory creating a resampler");
    r->rate_in = rate_in;
    r->rate_out = rate_out;
    r->ratio = rate_out / rate_in;
    r->max_in = max_in;
    if (rate_in == rate_out) {
        r->max_out = max_in;
    } else {
        size_t b = (size_t)base;
        r->soxr = make_soxr(rate_in, rate_out, &err);
        if (!r->soxr) {
            es__free(r);
            return es__fail(soxr_code(err), "cannot resample from %g Hz to %g Hz: %s", rate_in,
                            rate_out, soxr_strerror(err));
        }
        /* ceil(max_in * ratio) is what one call's input is worth; the +2 of
         * room_for covers rounding. soxr filters in DFT blocks, so its output
         * comes in bursts (measured: up to thousands of samples beyond a
         * call's share); whatever does not fit stays inside soxr for the next
         * call, so nothing is lost. The extra quarter plus 16 lets such a
         * backlog drain within a few calls instead of adding latency for
         * good. */
        r->max_out = b + b / 4 + 16;
    }
    *rs = r;
    return 0;
}

size_t es_resampler_max_out(const es_resampler *rs) { return rs ? rs->max_out : 0; }

int es_resampler_process(es_resampler *rs, const float *in, size_t n_in, float *out, size_t out_cap,
                         size_t *n_out) {
    static const float none[1] = {0.0f};
    size_t need, idone = 0, odone = 0;
    soxr_error_t err;

    es__clear_error();
    if (n_out) *n_out = 0;
    if (!rs || !n_out)
        return es__fail(ES_EINVAL, "es_resampler_process: rs and n_out must not be NULL");
    if (n_in > rs->max_in)
        return es__fail(ES_EINVAL,
                        "es_resampler_process: %zu input samples exceed the max_in of %zu given "
                        "at create",
                        n_in, rs->max_in);
    if (n_in > 0 && !in)
        return es__fail(ES_EINVAL, "es_resampler_process: the input is NULL but n_in is %zu", n_in);
    need = room_for(rs, n_in);
    if (out_cap < need)
        return es__fail(ES_EINVAL,
                        "es_resampler_process: out_cap %zu is below the %zu samples %zu input "
                        "samples need; size the output with es_resampler_max_out",
                        out_cap, need, n_in);
    if (!out) return es__fail(ES_EINVAL, "es_resampler_process: out must not be NULL");
    if (rs->flushed)
        return es__fail(ES_ESTATE,
                        "es_resampler_process: the stream was flushed; call es_resampler_reset "
                        "before passing more input");

    if (!rs->soxr) {
        if (n_in) memcpy(out, in, n_in * sizeof *out);
        *n_out = n_in;
        return 0;
    }
    /* A NULL input means end-of-stream to soxr; an empty call is not that. */
    err = soxr_process(rs->soxr, n_in ? in : none, n_in, &idone, out, out_cap, &odone);
    if (err)
        return es__fail(soxr_code(err), "resampling from %g Hz to %g Hz failed: %s", rs->rate_in,
                        rs->rate_out, soxr_strerror(err));
    if (idone != n_in)
        return es__fail(ES_ERESAMPLE,
                        "resampling from %g Hz to %g Hz took %zu of %zu input samples", rs->rate_in,
                        rs->rate_out, idone, n_in);
    *n_out = odone;
    return 0;
}

int es_resampler_flush(es_resampler *rs, float *out, size_t out_cap, size_t *n_out) {
    size_t odone = 0;
    soxr_error_t err;

    es__clear_error();
    if (n_out) *n_out = 0;
    if (!rs || !n_out)
        return es__fail(ES_EINVAL, "es_resampler_flush: rs and n_out must not be NULL");
    if (!out || out_cap == 0)
        return es__fail(ES_EINVAL, "es_resampler_flush: the output buffer is empty");
    rs->flushed = 1;
    if (!rs->soxr) return 0;
    err = soxr_process(rs->soxr, NULL, 0, NULL, out, out_cap, &odone);
    if (err)
        return es__fail(soxr_code(err), "flushing the resampler from %g Hz to %g Hz failed: %s",
                        rs->rate_in, rs->rate_out, soxr_strerror(err));
    *n_out = odone;
    return 0;
}

int es_resampler_reset(es_resampler *rs) {
    soxr_error_t err;
    es__clear_error();
    if (!rs) return es__fail(ES_EINVAL, "es_resampler_reset: rs must not be NULL");
    rs->flushed = 0;
    if (!rs->soxr) return 0;
    err = soxr_clear(rs->soxr);
    if (!err) err = soxr_error(rs->soxr);
    if (err)
        return es__fail(soxr_code(err), "cannot reset the resampler from %g Hz to %g Hz: %s",
                        rs->rate_in, rs->rate_out, soxr_strerror(err));
    return 0;
}

void es_resampler_free(es_resampler *rs) {
    if (!rs) return;
    if (rs->soxr) soxr_delete(rs->soxr);
    es__free(rs);
}
