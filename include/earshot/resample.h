/* earshot/resample.h — sample-rate conversion (libsoxr).
 *
 *   float *y; size_t ny;
 *   es_resample(x, nx, 8000, 16000, &y, &ny);      // one shot, allocates y
 *   ...
 *   es_free(y);
 *
 *   es_resampler *rs;                               // streaming, for a worker
 *   es_resampler_create(&rs, 48000, 16000, 4800);   // at most 4800 in per call
 *   float *out = malloc(es_resampler_max_out(rs) * sizeof *out);
 *   es_resampler_process(rs, in, n, out, es_resampler_max_out(rs), &nout);
 *   ...                                             // at the end of the stream:
 *   do es_resampler_flush(rs, out, es_resampler_max_out(rs), &nout);
 *   while (nout > 0);
 *   es_resampler_free(rs);
 *
 * Rates are any value in [ES_RATE_MIN, ES_RATE_MAX] Hz. Equal rates copy the
 * samples unchanged (bit-exact), so features at the native rate are never
 * touched by a filter. Quality is soxr's "very high" (≈ 175 dB stop band,
 * linear phase), and soxr compensates the filter's delay, so the output is
 * aligned with the input: sample k of the output is at time k / rate_out,
 * one-shot or streamed.
 */
#ifndef EARSHOT_RESAMPLE_H
#define EARSHOT_RESAMPLE_H

#include <stddef.h>

#include "earshot/alloc.h" /* es_free */

#ifdef __cplusplus
extern "C" {
#endif

#define ES_RATE_MIN 1000.0
#define ES_RATE_MAX 384000.0

/* One shot over a whole signal. *out gets round(n_in * rate_out / rate_in)
 * samples (halves round up), allocated with the library allocator; release
 * with es_free. Errors: ES_ERANGE (a rate outside [ES_RATE_MIN,
 * ES_RATE_MAX], or not finite), ES_EINVAL (n_in == 0), ES_ENOMEM. */
int es_resample(const float *in, size_t n_in, double rate_in, double rate_out,
                float **out, size_t *n_out);

typedef struct es_resampler es_resampler;

/* max_in: the most samples one es_resampler_process call will pass. Builds
 * the filter now (soxr allocates with the C library's malloc here). */
int es_resampler_create(es_resampler **rs, double rate_in, double rate_out, size_t max_in);

/* Output room for one call with up to max_in samples: size out with it.
 * ceil(max_in * rate_out / rate_in) plus slack for rounding and for soxr's
 * block-wise (bursty) output; output that does not fit is kept for the next
 * call, never dropped. Equal rates: max_in. */
size_t es_resampler_max_out(const es_resampler *rs);

/* Streams n_in ≤ max_in samples through; writes *n_out ≤ out_cap samples.
 * ES_EINVAL if n_in > max_in or out_cap is too small for n_in (max_out is
 * always enough); ES_ESTATE after a flush until es_resampler_reset.
 * Allocates nothing itself; soxr grows its internal FIFOs (C library
 * malloc) during the first second or so of a stream, then reaches a steady
 * state. The filter's delay means early calls return fewer samples
 * (possibly none). */
int es_resampler_process(es_resampler *rs, const float *in, size_t n_in,
                         float *out, size_t out_cap, size_t *n_out);

/* Ends the stream and returns the samples still held back, up to out_cap
 * per call: call it until *n_out is 0 (the tail can exceed max_out). After
 * a flush, process refuses input until es_resampler_reset. */
int es_resampler_flush(es_resampler *rs, float *out, size_t out_cap, size_t *n_out);

/* Forgets all buffered input, as after create. soxr rebuilds its filter
 * here (C library malloc): call it from a control path, not per block. */
int es_resampler_reset(es_resampler *rs);

void es_resampler_free(es_resampler *rs);

#ifdef __cplusplus
}
#endif
#endif
