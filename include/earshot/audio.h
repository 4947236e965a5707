/* earshot/audio.h — reading and writing audio files (libsndfile).
 *
 *   es_audio a;
 *   if (es_audio_read("dog.flac", &a) < 0) { puts(es_errmsg()); return 1; }
 *   printf("%zu samples at %d Hz\n", a.n, a.rate);
 *   es_audio_free(&a);
 *
 * Any container and sample format libsndfile reads (WAV, FLAC, OGG, ...),
 * any channel count: channels are averaged to mono, samples scaled to
 * [-1, 1) exactly as torchaudio.load does (16-bit: x / 32768).
 */
#ifndef EARSHOT_AUDIO_H
#define EARSHOT_AUDIO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float *samples;   /* [n] mono samples, owned; free with es_audio_free */
    size_t n;         /* sample count, > 0 after a successful read */
    int rate;         /* sample rate in Hz */
} es_audio;

/* Reads a whole file. Errors, each with a message naming the path:
 * ES_ENOENT (missing or unreadable), ES_EIO (a directory, or the system
 * failed), ES_EFORMAT (not audio libsndfile knows, a sample rate outside
 * 1 Hz..10 MHz, or a NaN/infinite sample in a float file), ES_EEMPTY (no
 * samples), ES_ETRUNC (the header promises more audio than the file holds —
 * including a WAV 'data' chunk longer than the file, which libsndfile alone
 * would quietly accept — or the decoder stopped early, or the file ends
 * inside its WAV header), ES_ENOMEM. On error *out is left empty. */
int es_audio_read(const char *path, es_audio *out);

void es_audio_free(es_audio *a);

/* Writes mono 16-bit PCM WAV atomically: a temporary file beside the target,
 * fsync, rename. Samples are clipped to [-1, 1] and stored as
 * round(x * 32768) (1.0 as 32767), the exact inverse of es_audio_read for
 * every value it returns. Errors: ES_EINVAL (n == 0, a NaN sample),
 * ES_ERANGE (rate outside [ES_RATE_MIN, ES_RATE_MAX] of resample.h),
 * ES_ENOENT / ES_EIO (cannot create or write), ES_ENOMEM. */
int es_audio_write_wav(const char *path, const float *samples, size_t n, int rate);

#ifdef __cplusplus
}
#endif
#endif
