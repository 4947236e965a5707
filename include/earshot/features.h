/* earshot/features.h — spectrogram and mel features, bit-compatible with torchaudio.
 *
 *   es_feature_desc desc;
 *   es_feature_desc_parse(&desc, "{\"kind\":\"melspectrogram\",\"sample_rate\":16000,"
 *                                "\"n_fft\":512,\"win_length\":400,\"hop_length\":160,"
 *                                "\"n_mels\":64,\"log\":\"log\"}", "inline");
 *   es_features *fx;
 *   es_features_create(&fx, &desc);
 *   size_t F = es_features_nbins(fx), T = es_features_nframes(&desc, n);
 *   es_features_compute(fx, samples, n, matrix, T);      // matrix: [F, T], offline
 *
 *   es_features_reset(fx);                               // or streaming, any chunking:
 *   es_features_push(fx, chunk, k, on_frame, user);      // on_frame(user, t, frame[F])
 *   es_features_finish(fx, on_frame, user);              // the reflect-padded tail
 *   es_features_free(fx);
 *
 * The vocabulary is torchaudio's (Spectrogram, MelSpectrogram, AmplitudeToDB),
 * the layout [F, T] as torchaudio returns it. Streaming and offline share
 * one frame routine, so the frames a stream yields are bit-identical to the
 * offline matrix whatever the chunk sizes, and each frame is computed once.
 *
 * Two stages:
 *   frame stage (causal, per frame): centre/reflect framing, window, FFT,
 *     |X|^power, mel filterbank, log — everything that depends on one frame;
 *   matrix stage (es_features_finalize): top_db clamp (which needs the
 *     maximum over the whole matrix, as torchaudio computes it), the optional
 *     per-band mean subtraction (cmn) and the optional (x - mean) / std. The
 *     daemon applies it per window.
 * es_features_compute runs both; push/finish run the frame stage only.
 */
#ifndef EARSHOT_FEATURES_H
#define EARSHOT_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ES_FEAT_SPECTROGRAM, ES_FEAT_MELSPECTROGRAM } es_feat_kind;
typedef enum { ES_MEL_HTK, ES_MEL_SLANEY } es_mel_scale;
typedef enum { ES_LOG_NONE, ES_LOG_NATURAL, ES_LOG_DB } es_log_kind;

/* A parsed `earshot.features` object. Plain data: copy it freely. */
typedef struct {
    es_feat_kind kind;
    int sample_rate;       /* Hz */
    int n_fft;
    int win_length;        /* ≤ n_fft; the Hann window is centred in n_fft */
    int hop_length;
    int center;            /* 1: pad n_fft/2 each side (reflect), torchaudio's default */
    double power;          /* 1.0 (magnitude) or 2.0 (power) */
    int n_mels;            /* melspectrogram only */
    double f_min, f_max;   /* Hz; f_max = sample_rate/2 when the JSON says null */
    es_mel_scale mel_scale;
    int mel_norm_slaney;   /* norm: "slaney" (1) or null (0) */
    es_log_kind log;
    double log_offset;     /* log:"log" → ln(x + log_offset) */
    double top_db;         /* log:"db"; < 0 when null (no clamp) */
    int has_norm;          /* mean/std present */
    double mean, std;
    double clip_seconds;   /* 0 when absent (required by model files, not by features) */
    double stride_seconds; /* 0 when absent */
    int cmn;               /* "cmn": true: each band's mean over the matrix (the
                              window) is subtracted, after top_db and before mean/std:
                              a microphone's or room's fixed colouring is a constant
                              per band in the log domain, and this takes it away */
    int align_end;         /* "align": "end": a clip shorter than the window sits at its
                              end, so the live window that ends with a word is the one
                              that knows it; "start" (0, the default): at its start */
    double place;          /* "place": where `classify` puts a clip shorter than the
                              window: this fraction of the spare room away from the
                              aligned edge, in [0, 1] (0, the default: at the edge).
                              `earshot train` writes half its augment.shift, the
                              middle of where it placed clips: a flatten head knows
                              a sound best where it saw it most, and least at the
                              edge of that range */
} es_feature_desc;

/* Parses and validates a JSON object; `origin` names it in errors (a file
 * name, "model header"). Unknown keys, wrong types, missing required keys
 * (kind, sample_rate, n_fft, hop_length; n_mels for melspectrogram) and
 * out-of-range values fail with ES_ECONFIG naming the key; bad JSON with
 * ES_EJSON naming line and column. Defaults otherwise follow torchaudio. */
int es_feature_desc_parse(es_feature_desc *desc, const char *json, const char *origin);

/* Reads and parses a JSON file. */
int es_feature_desc_load(es_feature_desc *desc, const char *path);

/* Re-checks a filled-in struct (parse calls it). */
int es_feature_desc_validate(const es_feature_desc *desc, const char *origin);

/* Writes desc as compact JSON with every key, into buf (NUL-terminated).
 * Returns the length, or ES_ERANGE when buf is too small. */
int es_feature_desc_to_json(const es_feature_desc *desc, char *buf, size_t size);

/* Frames yielded for n samples: 1 + n / hop (center, even n_fft), as torchaudio. */
size_t es_features_nframes(const es_feature_desc *desc, size_t n_samples);

/* Fewest samples a stream needs before finish can pad it (reflect padding
 * needs more than n_fft/2 samples, as in torch.stft). */
size_t es_features_min_samples(const es_feature_desc *desc);

typedef struct es_features es_features;

/* Builds window, filterbank and FFT plan once; everything per frame is
 * preallocated here. */
int es_features_create(es_features **fx, const es_feature_desc *desc);
void es_features_free(es_features *fx);

const es_feature_desc *es_features_desc(const es_features *fx);

/* F: n_fft/2+1 frequency bins, or n_mels. */
size_t es_features_nbins(const es_features *fx);

/* Called once per frame, in order; frame[F] is valid only during the call. */
typedef void (*es_frame_fn)(void *user, uint64_t t, const float *frame);

/* Starts a new stream (frame 0 at the next sample pushed). */
void es_features_reset(es_features *fx);

/* Feeds n samples (any n, 0 included) and calls on_frame for every frame
 * that became complete. Allocates nothing. */
int es_features_push(es_features *fx, const float *x, size_t n, es_frame_fn on_frame,
                     void *user);

/* Ends the stream: emits the remaining frames, reflect-padded at the end as
 * torchaudio pads. ES_ETOOSHORT when the stream held too few samples. The
 * stream must be reset before it is pushed again. */
int es_features_finish(es_features *fx, es_frame_fn on_frame, void *user);

/* Frames emitted since the last reset. */
uint64_t es_features_frames_done(const es_features *fx);

/* Offline: the whole [F, T] matrix of n samples (T must equal
 * es_features_nframes), matrix stage included. Resets the stream. */
int es_features_compute(es_features *fx, const float *x, size_t n, float *matrix, size_t T);

/* Matrix stage in place on an [F, T] matrix: top_db clamp, then mean/std. */
void es_features_finalize(const es_feature_desc *desc, float *matrix, size_t F, size_t T);

#ifdef __cplusplus
}
#endif
#endif
