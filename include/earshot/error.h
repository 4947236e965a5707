/* earshot/error.h — error codes shared by every libearshot function.
 *
 *   int rc = es_audio_read("clip.wav", &audio);
 *   if (rc < 0) {
 *       fprintf(stderr, "%s: %s\n", es_err_name(rc), es_errmsg());
 *       return 1;
 *   }
 *
 * Every library function returns 0 (or a count) on success and a negative
 * ES_E* code on failure. The code says what kind of failure it was; the
 * thread's last detail message (es_errmsg) says which field, file or value
 * was wrong, in a sentence ready to show a user.
 */
#ifndef EARSHOT_ERROR_H
#define EARSHOT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro table: name, value, generic description. Values are stable. */
#define ES_ERRNO_MAP(X)                                                   \
    X(EINVAL, -1, "invalid argument")                                     \
    X(ENOMEM, -2, "out of memory")                                        \
    X(ENOENT, -3, "no such file")                                         \
    X(EIO, -4, "input/output error")                                      \
    X(EFORMAT, -5, "unrecognised or malformed file format")               \
    X(EEMPTY, -6, "no audio samples")                                     \
    X(ETRUNC, -7, "file is truncated")                                    \
    X(ERANGE, -8, "value out of range")                                   \
    X(EJSON, -9, "malformed JSON")                                        \
    X(ECONFIG, -10, "invalid configuration")                              \
    X(ETOOSHORT, -11, "audio too short")                                  \
    X(ERESAMPLE, -12, "resampling failed")                                \
    X(EFFT, -13, "FFT planning failed")                                   \
    X(EAGAIN, -14, "resource temporarily unavailable")                    \
    X(ESTATE, -15, "operation not valid in the current state")           \
    X(ECANCELED, -16, "operation cancelled")

typedef enum {
    ES_OK = 0,
#define ES__ERR_ENUM(name, val, desc) ES_##name = (val),
    ES_ERRNO_MAP(ES__ERR_ENUM)
#undef ES__ERR_ENUM
} es_errno;

/* Generic description of a code ("out of memory"). Never NULL. */
const char *es_strerror(int code);

/* Stable short name of a code ("ES_ENOMEM"). Never NULL. */
const char *es_err_name(int code);

/* Detail of the most recent failure on the calling thread, naming the
 * file, key or value at fault. Falls back to es_strerror of the code when
 * the failing function left no detail. Valid until the next libearshot call
 * on this thread. Never NULL. */
const char *es_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif
