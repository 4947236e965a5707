/* tests/test_audio.c — es_audio_read over the formats libsndfile writes,
 * the ways a file can be broken, and the es_audio_write_wav round trip.
 *
 * Every file is crafted here, with libsndfile, in a fresh directory under
 * /tmp that is removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "failalloc.h"
#include "earshot/alloc.h"
#include "earshot/audio.h"
#include "earshot/error.h"

#define PI 3.14159265358979323846

static char dir[64];

static const char *tpath(const char *name) {
    static char buf[4][sizeof dir + 256]; /* room for any d_name */
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* The call failed with `code` and its message names the file. */
#define CHECK_FAILS(expr, code, path)                                                            \
    do {                                                                                         \
        CHECK_RC(expr, code);                                                                    \
        if (!strstr(es_errmsg(), path)) {                                                        \
            fprintf(stderr, "%s:%d: message does not name '%s': %s\n", __FILE__, __LINE__, path, \
                    es_errmsg());                                                                \
            check_failures++;                                                                    \
        }                                                                                        \
    } while (0)

/* Writes frames of interleaved 16-bit samples with libsndfile. */
static int write_short(const char *path, int format, int channels, int rate, const short *data,
                       sf_count_t frames) {
    SF_INFO info;
    SNDFILE *sf;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "cannot create %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    if (frames && sf_writef_short(sf, data, frames) != frames) {
        sf_close(sf);
        return -1;
    }
    return sf_close(sf) == 0 ? 0 : -1;
}

static int write_int(const char *path, int format, int rate, const int *data, sf_count_t frames) {
    SF_INFO info;
    SNDFILE *sf;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = format;
    sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    if (sf_writef_int(sf, data, frames) != frames) {
        sf_close(sf);
        return -1;
    }
    return sf_close(sf) == 0 ? 0 : -1;
}

static int write_float(const char *path, int format, int rate, const float *data,
                       sf_count_t frames) {
    SF_INFO info;
    SNDFILE *sf;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = format;
    if (!sf_format_check(&info)) return -2; /* this libsndfile cannot write it */
    sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    if (sf_writef_float(sf, data, frames) != frames) {
        sf_close(sf);
        return -1;
    }
    return sf_close(sf) == 0 ? 0 : -1;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    if (n && fwrite(data, 1, n, fp) != n) {
        fclose(fp);
        return -1;
    }
    return fclose(fp);
}

/* Overwrites 4 bytes at off with a little-endian value. */
static int patch_u32(const char *path, long off, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    FILE *fp = fopen(path, "r+b");
    int ok;
    if (!fp) return -1;
    ok = fseek(fp, off, SEEK_SET) == 0 && fwrite(b, 1, 4, fp) == 4;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

/* A 16-bit ramp covering the whole range, both extremes included. */
static short pcm16(size_t i) { return (short)((long)(i * 2731u % 65536u) - 32768); }

static void test_pcm16_mono(void) {
    enum { N = 1000 };
    short s[N];
    es_audio a;
    size_t i;
    int rates[] = {8000, 16000, 48000};
    size_t r;
    for (i = 0; i < N; i++) s[i] = pcm16(i);
    s[3] = -32768;
    s[4] = 32767;
    for (r = 0; r < 3; r++) {
        char name[32];
        const char *p;
        snprintf(name, sizeof name, "mono16-%d.wav", rates[r]);
        p = tpath(name);
        CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, rates[r], s, N) == 0);
        CHECK_RC(es_audio_read(p, &a), 0);
        CHECK_EQ_INT(a.n, N);
        CHECK_EQ_INT(a.rate, rates[r]);
        for (i = 0; a.samples && i < N; i++)
            if (a.samples[i] != (float)s[i] / 32768.0f) {
                fprintf(stderr, "sample %zu: %.9g != %d / 32768\n", i, a.samples[i], s[i]);
                check_failures++;
                break;
            }
        CHECK(a.samples[3] == -1.0f && a.samples[4] == 32767.0f / 32768.0f);
        es_audio_free(&a);
        CHECK(a.samples == NULL && a.n == 0 && a.rate == 0);
    }
}

static void test_stereo(void) {
    enum { N = 777 };
    short s[2 * N];
    es_audio a;
    size_t i;
    const char *p = tpath("stereo.wav");
    for (i = 0; i < N; i++) {
        s[2 * i] = pcm16(i);
        s[2 * i + 1] = pcm16(i * 7 + 3);
    }
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2, 22050, s, N) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, N);
    CHECK_EQ_INT(a.rate, 22050);
    for (i = 0; a.samples && i < N; i++) {
        /* Exact: the sum of two 16-bit values fits a float's mantissa. */
        float want = (float)(s[2 * i] + s[2 * i + 1]) / 65536.0f;
        if (a.samples[i] != want) {
            fprintf(stderr, "frame %zu: %.9g != %.9g\n", i, a.samples[i], want);
            check_failures++;
            break;
        }
    }
    es_audio_free(&a);
}

static void test_pcm24(void) {
    enum { N = 500 };
    int s[N];
    es_audio a;
    size_t i;
    const char *p = tpath("mono24.wav");
    for (i = 0; i < N; i++) {
        int v = (int)((long)(i * 104729u % 16777216u) - 8388608);
        s[i] = (int)((unsigned)v << 8); /* libsndfile keeps the top 24 bits */
    }
    CHECK(write_int(p, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 44100, s, N) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, N);
    for (i = 0; a.samples && i < N; i++)
        if (a.samples[i] != (float)(s[i] / 256) / 8388608.0f) {
            fprintf(stderr, "24-bit sample %zu: %.9g != %d / 2^23\n", i, a.samples[i], s[i] / 256);
            check_failures++;
            break;
        }
    es_audio_free(&a);
}

static void test_float_wav(void) {
    enum { N = 300 };
    float s[N];
    es_audio a;
    size_t i;
    const char *p = tpath("float.wav");
    for (i = 0; i < N; i++) s[i] = (float)sin((double)i * 0.1) * 0.8f;
    s[10] = 1.5f; /* float files may exceed full scale; kept as is */
    s[11] = -2.25f;
    CHECK(write_float(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, s, N) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, N);
    CHECK(a.samples && memcmp(a.samples, s, sizeof s) == 0);
    es_audio_free(&a);

    /* A NaN or an infinity in a float file is an error naming the file. */
    p = tpath("nan.wav");
    s[123] = NAN;
    CHECK(write_float(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, s, N) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EFORMAT, p);
    CHECK(strstr(es_errmsg(), "frame 123") != NULL);
    CHECK(a.samples == NULL && a.n == 0);
    p = tpath("inf.wav");
    s[123] = 0.0f;
    s[7] = -INFINITY;
    CHECK(write_float(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, s, N) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EFORMAT, p);
}

static void test_flac(void) {
    enum { N = 4000 };
    short s[N];
    es_audio a;
    size_t i;
    const char *p = tpath("mono.flac");
    for (i = 0; i < N; i++) s[i] = pcm16(i);
    CHECK(write_short(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 8000, s, N) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, N);
    CHECK_EQ_INT(a.rate, 8000);
    for (i = 0; a.samples && i < N; i++)
        if (a.samples[i] != (float)s[i] / 32768.0f) {
            fprintf(stderr, "FLAC sample %zu: %.9g != %d / 32768\n", i, a.samples[i], s[i]);
            check_failures++;
            break;
        }
    es_audio_free(&a);
}

static void test_ogg(void) {
    enum { N = 44100 };
    static float s[N];
    es_audio a;
    size_t i;
    double err = 0.0, energy = 0.0;
    const char *p = tpath("sine.ogg");
    int rc;
    for (i = 0; i < N; i++) s[i] = (float)(0.5 * sin(2 * PI * 440.0 * (double)i / 44100.0));
    rc = write_float(p, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, s, N);
    if (rc == -2) {
        fprintf(stderr, "note: this libsndfile cannot write OGG/Vorbis; skipping that case\n");
        return;
    }
    CHECK(rc == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.rate, 44100);
    CHECK(a.n + 100 >= N && a.n <= N + 100);
    /* Lossy, but a pure tone comes back close, and in place. */
    for (i = 2000; a.samples && i + 2000 < N && i < a.n; i++) {
        double d = (double)a.samples[i] - (double)s[i];
        err += d * d;
        energy += (double)s[i] * s[i];
    }
    CHECK(energy > 0 && err / energy < 1e-3);
    es_audio_free(&a);
}

/* The ways a file can fail to be audio. */
static void test_errors(void) {
    es_audio a;
    const char *p;
    short s[1000];
    size_t i;
    long size;

    memset(&a, 0x55, sizeof a); /* out is emptied even on failure */
    p = tpath("missing.wav");
    CHECK_FAILS(es_audio_read(p, &a), ES_ENOENT, p);
    CHECK(strstr(es_errmsg(), "No such file or directory") != NULL);
    CHECK(a.samples == NULL && a.n == 0 && a.rate == 0);

    p = tpath("text.wav");
    CHECK(write_bytes(p, "this is not audio, just words in a file\n", 40) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EFORMAT, p);

    p = tpath("empty-file.wav");
    CHECK(write_bytes(p, "", 0) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EFORMAT, p);

    p = tpath("zero-frames.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 0) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EEMPTY, p);
    CHECK(strstr(es_errmsg(), "holds no audio samples") != NULL);

    /* Cut the last bytes off: the header still promises 1000 frames. */
    for (i = 0; i < 1000; i++) s[i] = pcm16(i);
    p = tpath("cut-tail.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    size = file_size(p);
    CHECK(size == 44 + 2000);
    CHECK(truncate(p, size - 101) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);
    CHECK(strstr(es_errmsg(), "promises 1000 frames, file holds 949") != NULL);

    /* One byte short is still short. */
    p = tpath("cut-1.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(truncate(p, 44 + 2000 - 1) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);

    /* Cut right after the header: all promise, no audio. */
    p = tpath("cut-44.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(truncate(p, 44) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);

    /* Cut inside the header: libsndfile refuses it; the file is a cut WAV. */
    p = tpath("cut-30.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(truncate(p, 30) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);
    CHECK(strstr(es_errmsg(), "header") != NULL);
    p = tpath("cut-10.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(truncate(p, 10) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);

    /* A FLAC stream cut in half: STREAMINFO promises more than decodes. */
    {
        enum { NF = 32000 };
        static short noise[NF];
        unsigned seed = 1;
        p = tpath("cut.flac");
        for (i = 0; i < NF; i++) {
            seed = seed * 1103515245u + 12345u;
            noise[i] = (short)(seed >> 16);
        }
        CHECK(write_short(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 16000, noise, NF) == 0);
        size = file_size(p);
        CHECK(size > 20000 && truncate(p, size / 2) == 0);
        CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);
        CHECK(strstr(es_errmsg(), "promises 32000 frames") != NULL);
    }

    /* Sample rates no audio file has: 0 Hz and 20 MHz (byte 24 of the header). */
    p = tpath("rate0.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(patch_u32(p, 24, 0) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EFORMAT, p);
    CHECK(strstr(es_errmsg(), " 0 Hz") != NULL);
    p = tpath("rate20M.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(patch_u32(p, 24, 20000000) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EFORMAT, p);
    CHECK(strstr(es_errmsg(), "20000000 Hz") != NULL);

    /* A directory. */
    p = tpath("adir.wav");
    CHECK(mkdir(p, 0700) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_EIO, p);
    CHECK(strstr(es_errmsg(), "directory") != NULL);
    rmdir(p);

    /* Unreadable (root reads anything, so only as a normal user). */
    if (geteuid() != 0) {
        p = tpath("unreadable.wav");
        CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 10) == 0);
        CHECK(chmod(p, 0) == 0);
        CHECK_FAILS(es_audio_read(p, &a), ES_ENOENT, p);
    }

    CHECK_RC(es_audio_read(NULL, &a), ES_EINVAL);
    CHECK_RC(es_audio_read(tpath("x.wav"), NULL), ES_EINVAL);
    es_audio_free(NULL);
}

/* Files that look odd but are whole must not be called truncated. */
static void test_not_truncated(void) {
    short s[1001];
    es_audio a;
    size_t i;
    const char *p;
    SF_INFO info;
    SNDFILE *sf;
    for (i = 0; i < 1001; i++) s[i] = pcm16(i);

    /* Metadata after the audio (libsndfile writes a LIST chunk at the end). */
    p = tpath("with-list.wav");
    memset(&info, 0, sizeof info);
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    sf = sf_open(p, SFM_WRITE, &info);
    CHECK(sf != NULL);
    if (sf) {
        CHECK(sf_writef_short(sf, s, 1001) == 1001);
        sf_set_string(sf, SF_STR_TITLE, "a title long enough to matter");
        sf_close(sf);
    }
    CHECK(file_size(p) > 44 + 2002);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 1001);
    es_audio_free(&a);

    /* 8-bit, odd length: the data chunk gets a pad byte. */
    p = tpath("odd8.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 8000, s, 1001) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 1001);
    es_audio_free(&a);

    /* WAVE_FORMAT_EXTENSIBLE and RF64. */
    p = tpath("wavex.wav");
    CHECK(write_short(p, SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 1, 16000, s, 1001) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 1001);
    es_audio_free(&a);
    CHECK(truncate(p, file_size(p) - 2) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);
    p = tpath("rf64.wav");
    CHECK(write_short(p, SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 1, 16000, s, 1001) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 1001);
    es_audio_free(&a);
    CHECK(truncate(p, file_size(p) - 10) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);
    /* Big-endian RIFX. */
    p = tpath("rifx.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16 | SF_ENDIAN_BIG, 1, 16000, s, 1001) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 1001);
    CHECK(a.samples && a.samples[5] == (float)s[5] / 32768.0f);
    es_audio_free(&a);
    CHECK(truncate(p, file_size(p) - 10) == 0);
    CHECK_FAILS(es_audio_read(p, &a), ES_ETRUNC, p);

    /* Streaming writers leave 0xFFFFFFFF ("unknown") as the data size. */
    p = tpath("streamed.wav");
    CHECK(write_short(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, 1000) == 0);
    CHECK(patch_u32(p, 40, 0xFFFFFFFFu) == 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 1000);
    es_audio_free(&a);
}

static size_t count_dir_entries(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d) return 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_write_roundtrip(void) {
    enum { N = 2000 };
    static float x[N];
    es_audio a;
    size_t i, before;
    const char *p = tpath("written.wav");
    for (i = 0; i < N; i++) x[i] = (float)pcm16(i) / 32768.0f;
    x[0] = 1.0f;  /* -> 32767 */
    x[1] = 1.5f;  /* clipped */
    x[2] = -3.0f; /* clipped */
    x[3] = -1.0f;
    x[4] = INFINITY;
    x[5] = 0.25f / 32768.0f; /* rounds to 0 */
    CHECK_RC(es_audio_write_wav(p, x, N, 16000), 0);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, N);
    CHECK_EQ_INT(a.rate, 16000);
    if (a.samples) {
        CHECK(a.samples[0] == 32767.0f / 32768.0f);
        CHECK(a.samples[1] == 32767.0f / 32768.0f);
        CHECK(a.samples[2] == -1.0f);
        CHECK(a.samples[3] == -1.0f);
        CHECK(a.samples[4] == 32767.0f / 32768.0f);
        CHECK(a.samples[5] == 0.0f);
        for (i = 6; i < N; i++)
            if (a.samples[i] != x[i]) { /* exact: reading is the inverse of writing */
                fprintf(stderr, "round trip sample %zu: %.9g != %.9g\n", i, a.samples[i], x[i]);
                check_failures++;
                break;
            }
    }
    es_audio_free(&a);
    {
        struct stat st;
        CHECK(stat(p, &st) == 0 && (st.st_mode & 0044) != 0); /* not left 0600 */
    }

    /* Overwriting keeps the file whole and leaves no temporary behind. */
    before = count_dir_entries();
    CHECK_RC(es_audio_write_wav(p, x + 100, 10, 8000), 0);
    CHECK_EQ_INT(count_dir_entries(), before);
    CHECK_RC(es_audio_read(p, &a), 0);
    CHECK_EQ_INT(a.n, 10);
    CHECK_EQ_INT(a.rate, 8000);
    es_audio_free(&a);

    CHECK_FAILS(es_audio_write_wav(p, x, 0, 16000), ES_EINVAL, p);
    CHECK_FAILS(es_audio_write_wav(p, x, N, 0), ES_ERANGE, p);
    CHECK_FAILS(es_audio_write_wav(p, x, N, 999), ES_ERANGE, p);
    CHECK_FAILS(es_audio_write_wav(p, x, N, 384001), ES_ERANGE, p);
    CHECK_RC(es_audio_write_wav(p, x, N, 384000), 0);
    x[7] = NAN;
    CHECK_FAILS(es_audio_write_wav(p, x, N, 16000), ES_EINVAL, p);
    x[7] = 0.0f;
    CHECK_RC(es_audio_write_wav(NULL, x, N, 16000), ES_EINVAL);
    CHECK_RC(es_audio_write_wav(p, NULL, N, 16000), ES_EINVAL);
    p = tpath("no-such-dir/out.wav");
    CHECK_FAILS(es_audio_write_wav(p, x, N, 16000), ES_ENOENT, p);
    CHECK_EQ_INT(count_dir_entries(), before);
}

/* Out of memory: fail the k-th allocation, for every k until none fails. */
static long fail_at;

/* More frames than the reader allocates up front (2^20), so its buffer
 * grows while decoding and shrinks at the end. */
#define BIG_FRAMES ((1 << 20) + 4321)

static void test_oom(void) {
    static short s[BIG_FRAMES];
    const char *mono = tpath("oom-big.wav"), *multi = tpath("oom-3ch.flac"),
               *out = tpath("oom-out.wav");
    size_t i;
    static float x[100];
    for (i = 0; i < BIG_FRAMES; i++) s[i] = pcm16(i);
    CHECK(write_short(mono, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, s, BIG_FRAMES) == 0);
    /* Several channels, more than one read block of them. */
    CHECK(write_short(multi, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 3, 16000, s, 70000) == 0);
    {
        es_audio a;
        CHECK_RC(es_audio_read(mono, &a), 0);
        CHECK_EQ_INT(a.n, BIG_FRAMES);
        for (i = 0; a.samples && i < BIG_FRAMES; i++)
            if (a.samples[i] != (float)s[i] / 32768.0f) {
                fprintf(stderr, "big file sample %zu: %.9g != %d / 32768\n", i, a.samples[i], s[i]);
                check_failures++;
                break;
            }
        es_audio_free(&a);
        CHECK_RC(es_audio_read(multi, &a), 0);
        CHECK_EQ_INT(a.n, 70000);
        for (i = 0; a.samples && i < 70000; i++)
            if (a.samples[i] !=
                    (float)((double)s[3 * i] + s[3 * i + 1] + s[3 * i + 2]) / 3.0f / 32768.0f &&
                fabs(a.samples[i] -
                     ((double)s[3 * i] + s[3 * i + 1] + s[3 * i + 2]) / 3.0 / 32768.0) > 1e-7) {
                fprintf(stderr, "3-channel frame %zu: %.9g\n", i, a.samples[i]);
                check_failures++;
                break;
            }
        es_audio_free(&a);
    }
    for (fail_at = 0; fail_at < 1000; fail_at++) {
        es_audio a, b;
        int r1, r2, r3;
        failalloc_arm(fail_at);
        r1 = es_audio_read(mono, &a);
        r2 = es_audio_read(multi, &b);
        r3 = es_audio_write_wav(out, x, 100, 16000);
        failalloc_disarm();
        CHECK(r1 == 0 || r1 == ES_ENOMEM);
        CHECK(r2 == 0 || r2 == ES_ENOMEM);
        CHECK(r3 == 0 || r3 == ES_ENOMEM);
        if (r1 == 0)
            CHECK_EQ_INT(a.n, BIG_FRAMES);
        else
            CHECK(a.samples == NULL && a.n == 0);
        if (r2 == 0)
            CHECK_EQ_INT(b.n, 70000);
        else
            CHECK(b.samples == NULL && b.n == 0);
        es_audio_free(&a);
        es_audio_free(&b);
        if (!failalloc_failed()) {
            CHECK(r1 == 0 && r2 == 0 && r3 == 0);
            break;
        }
    }
    CHECK(fail_at > 2 && fail_at < 1000);
    if (getenv("ES_TEST_VERBOSE"))
        fprintf(stderr, "oom: succeeded once %ld allocations could\n", fail_at);
}

/* Removes everything in dir, then dir. */
static void cleanup(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d)) != NULL) {
            const char *p;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            p = tpath(e->d_name);
            if (unlink(p) != 0 && errno == EISDIR) rmdir(p);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0) fprintf(stderr, "warning: cannot remove %s: %s\n", dir, strerror(errno));
}

int main(void) {
    strcpy(dir, "/tmp/earshot-test-audio-XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    test_pcm16_mono();
    test_stereo();
    test_pcm24();
    test_float_wav();
    test_flac();
    test_ogg();
    test_errors();
    test_not_truncated();
    test_write_roundtrip();
    test_oom();
    cleanup();
    CHECK_DONE();
}
