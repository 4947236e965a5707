/* core/audio_file.c — reading any audio file libsndfile knows; writing WAV.
 *
 * Reading opens the file once, with open(2), and hands the descriptor to
 * libsndfile (sf_open_fd). Opening it ourselves lets a missing or unreadable
 * file, or a directory, be named with the C library's reason, and lets the
 * RIFF check below look at the very file libsndfile decodes (no window in
 * which the path could be replaced between the two).
 *
 * Truncation. libsndfile hides two kinds of it:
 *   (a) a decoder that stops before the length the header declared (FLAC's
 *       STREAMINFO, say): sf_readf_float just returns fewer frames than
 *       SF_INFO.frames. We compare the two.
 *   (b) a WAV whose 'data' chunk claims more bytes than the file holds:
 *       libsndfile quietly shrinks SF_INFO.frames to what is there, so (a)
 *       cannot see it. Its log (SFC_GET_LOG_INFO) does say
 *       "data : N (should be M)", but that text is an undocumented detail
 *       that has changed between releases (%d became %D), the log lives in
 *       a fixed-size buffer that a file with many chunks can fill before the
 *       'data' line, and "should be" also appears for harmless mismatches
 *       (the RIFF size, for one). So we walk the RIFF chunks ourselves —
 *       RIFF, RIFX and RF64 (whose real sizes live in 'ds64') — and compare
 *       the declared 'data' size with the bytes after its start. Reading a
 *       few chunk headers with pread costs nothing next to decoding.
 *   A size of 0xFFFFFFFF is the "length unknown" placeholder streaming
 *   writers leave (ffmpeg to a pipe, for one): not a truncation.
 *   When libsndfile refuses a file outright and the RIFF walk shows the file
 *   ends before its 'data' chunk begins, the honest answer is ES_ETRUNC (the
 *   header itself was cut), not "not an audio file".
 */
#include "earshot/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "earshot/resample.h"
#include "fileio.h"
#include "internal.h"

/* A rate above this is a corrupt header, not audio (the fastest ADCs sold
 * for audio run at 768 kHz; DSD at 5.6 MHz is not PCM libsndfile reads). */
#define RATE_ABSURD 10000000

/* Interleaved samples per sf_readf_float call when mixing channels down. */
#define READ_BLOCK_SAMPLES 65536

/* The first allocation is at most this many frames, whatever the header
 * claims: a corrupt or hostile header must not make us reserve gigabytes
 * before the decoder has produced a single sample. The buffer doubles as
 * the audio proves longer. */
#define INITIAL_FRAMES_MAX ((size_t)1 << 20)
#define INITIAL_FRAMES_UNKNOWN ((size_t)1 << 16)

/* ------------------------------------------------------------ RIFF walk */

typedef struct {
    int riff;         /* starts like a RIFF/RIFX/RF64 WAVE file */
    int header_cut;   /* the file ends before the 'data' chunk's payload begins */
    int have_data;    /* found the 'data' chunk header */
    int size_unknown; /* its declared size is the "unknown length" placeholder */
    uint64_t data_offset, data_size, file_size;
    unsigned format_tag, block_align;
    uint32_t sample_rate;
    int have_fmt;
} riff_info;

/* Reads up to n bytes at off; returns how many it got (short at end of file). */
static size_t read_at(int fd, uint64_t off, unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

static uint32_t get_u32(const unsigned char *p, int big) {
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static unsigned get_u16(const unsigned char *p, int big) {
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint64_t get_u64le(const unsigned char *p) {
    return (uint64_t)get_u32(p + 4, 0) << 32 | get_u32(p, 0);
}

static void riff_walk(int fd, uint64_t file_size, riff_info *ri) {
    unsigned char h[28];
    uint64_t pos = 12, ds64_data = 0;
    int big = 0, rf64 = 0, have_ds64 = 0, chunks;
    size_t got = read_at(fd, 0, h, 12);

    memset(ri, 0, sizeof *ri);
    ri->file_size = file_size;
    if (got < 4) return;
    if (memcmp(h, "RIFF", 4) == 0)
        ;
    else if (memcmp(h, "RIFX", 4) == 0)
        big = 1;
    else if (memcmp(h, "RF64", 4) == 0)
        rf64 = 1;
    else
        return;
    if (got < 12) {
        /* Cut inside the first 12 bytes: call it WAV if what is left agrees. */
        if (got <= 8 || memcmp(h + 8, "WAVE", got - 8) == 0) ri->riff = ri->header_cut = 1;
        return;
    }
    if (memcmp(h + 8, "WAVE", 4) != 0) return;
    ri->riff = 1;

    /* Every chunk moves pos on by at least 8 bytes, so this ends; the cap
     * only bounds the work a file of millions of empty chunks could cause. */
    for (chunks = 0; chunks < 100000; chunks++) {
        uint32_t size;
        uint64_t body = pos + 8;
        if (body > file_size || read_at(fd, pos, h, 8) < 8) {
            ri->header_cut = 1;
            return;
        }
        size = get_u32(h + 4, big);
        if (memcmp(h, "data", 4) == 0) {
            ri->have_data = 1;
            ri->data_offset = body;
            if (rf64 && size == 0xFFFFFFFFu && have_ds64) {
                ri->data_size = ds64_data;
            } else {
                ri->data_size = size;
                ri->size_unknown = size == 0xFFFFFFFFu;
            }
            return;
        }
        if (body + size > file_size) { /* a chunk before 'data' runs past the end */
            ri->header_cut = 1;
            return;
        }
        if (memcmp(h, "fmt ", 4) == 0 && size >= 14) {
            size_t n = size < 26 ? size : 26;
            if (read_at(fd, body, h, n) == n) {
                ri->have_fmt = 1;
                ri->format_tag = get_u16(h, big);
                ri->sample_rate = get_u32(h + 4, big);
                ri->block_align = get_u16(h + 12, big);
                /* WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID. */
                if (ri->format_tag == 0xFFFE && n >= 26) ri->format_tag = get_u16(h + 24, big);
            }
        } else if (rf64 && memcmp(h, "ds64", 4) == 0 && size >= 16) {
            if (read_at(fd, body, h, 16) == 16) {
                ds64_data = get_u64le(h + 8);
                have_ds64 = 1;
            }
        }
        pos = body + size + (size & 1);
    }
}

/* Formats whose frames all take block_align bytes: PCM, IEEE float, A-law, mu-law. */
static int fixed_frames(const riff_info *ri) {
    return ri->block_align > 0 && (ri->format_tag == 1 || ri->format_tag == 3 ||
                                   ri->format_tag == 6 || ri->format_tag == 7);
}

/* ES_ETRUNC if the 'data' chunk declares more than the file holds. */
static int check_riff_data(const char *path, const riff_info *ri) {
    uint64_t avail;
    if (!ri->have_data || ri->size_unknown || ri->data_offset > ri->file_size) return 0;
    avail = ri->file_size - ri->data_offset;
    if (ri->data_size <= avail) return 0;
    if (fixed_frames(ri))
        return es__fail(ES_ETRUNC,
                        "'%s' is truncated: header promises %llu frames, file holds %llu", path,
                        (unsigned long long)(ri->data_size / ri->block_align),
                        (unsigned long long)(avail / ri->block_align));
    return es__fail(ES_ETRUNC,
                    "'%s' is truncated: header promises %llu bytes of audio data, file holds %llu",
                    path, (unsigned long long)ri->data_size, (unsigned long long)avail);
}

static int is_riff_wav(int format) {
    int major = format & SF_FORMAT_TYPEMASK;
    return major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX || major == SF_FORMAT_RF64;
}

/* ---------------------------------------------------------------- reading */

/* Grows *buf to hold at least need floats (doubling). */
static int grow(const char *path, float **buf, size_t *cap, size_t need) {
    size_t ncap = *cap ? *cap : 1;
    float *nb;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof(float))
            return es__fail(ES_ENOMEM, "'%s' holds more audio than fits in memory", path);
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / sizeof(float))
        return es__fail(ES_ENOMEM, "'%s' holds more audio than fits in memory", path);
    nb = es__realloc(*buf, ncap * sizeof(float));
    if (!nb) return es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
    *buf = nb;
    *cap = ncap;
    return 0;
}

/* Decodes every frame, averaging channels to mono. */
static int read_frames(const char *path, SNDFILE *sf, const SF_INFO *info, float **out,
                       size_t *n_out) {
    size_t ch = (size_t)info->channels;
    size_t block_frames = ch == 1 ? 0 : (READ_BLOCK_SAMPLES / ch ? READ_BLOCK_SAMPLES / ch : 1);
    size_t cap, n = 0;
    float *buf = NULL, *block = NULL;
    int rc;

    if (info->frames > 0 && info->frames < SF_COUNT_MAX)
        cap =
            (uint64_t)info->frames < INITIAL_FRAMES_MAX ? (size_t)info->frames : INITIAL_FRAMES_MAX;
    else
        cap = INITIAL_FRAMES_UNKNOWN;
    buf = es__malloc_array(cap, sizeof *buf);
    if (!buf) return es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
    if (ch > 1) {
        block = es__malloc_array(block_frames * ch, sizeof *block);
        if (!block) {
            es__free(buf);
            return es__fail(ES_ENOMEM, "out of memory reading '%s'", path);
        }
    }

    for (;;) {
        /* Mono decodes straight into buf while it has room. When it is full,
         * the next read goes to scratch first, so the read that finds the
         * end of the file (the usual case when the header's length was
         * right) costs no growth. */
        float scratch[1024], *dst;
        size_t want, i;
        sf_count_t got;
        if (ch == 1) {
            dst = n < cap ? buf + n : scratch;
            want = n < cap ? cap - n : sizeof scratch / sizeof scratch[0];
        } else {
            dst = block;
            want = n < cap && cap - n < block_frames ? cap - n : block_frames;
        }
        got = sf_readf_float(sf, dst, (sf_count_t)want);
        if (got <= 0) break;
        if (n + (size_t)got > cap && (rc = grow(path, &buf, &cap, n + (size_t)got)) < 0) goto fail;
        if (ch == 1) {
            if (dst == scratch) memcpy(buf + n, scratch, (size_t)got * sizeof *buf);
        } else {
            for (i = 0; i < (size_t)got; i++) {
                const float *f = block + i * ch;
                double sum = 0.0;
                size_t c;
                for (c = 0; c < ch; c++) sum += f[c];
                buf[n + i] = (float)(sum / (double)ch);
            }
        }
        /* A NaN or infinity in any channel leaves a non-finite mean. */
        for (i = 0; i < (size_t)got; i++)
            if (!isfinite(buf[n + i])) {
                rc = es__fail(ES_EFORMAT,
                              "'%s' holds a sample that is not a finite number at frame %zu", path,
                              n + i);
                goto fail;
            }
        n += (size_t)got;
    }
    es__free(block);
    /* Give back a large unused tail; keep the bigger buffer if that fails. */
    if (n > 0 && cap - n > cap / 8) {
        float *nb = es__realloc(buf, n * sizeof *buf);
        if (nb) buf = nb;
    }
    *out = buf;
    *n_out = n;
    return 0;
fail:
    es__free(block);
    es__free(buf);
    return rc;
}

int es_audio_read(const char *path, es_audio *out) {
    struct stat st;
    SF_INFO info;
    SNDFILE *sf;
    riff_info ri;
    float *samples = NULL;
    size_t n = 0;
    int fd, rc, sf_err;

    es__clear_error();
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return es__fail(ES_EINVAL, "es_audio_read: path and out must not be NULL");

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return es__fail(
            e == ENOENT || e == EACCES || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG
                ? ES_ENOENT
                : ES_EIO,
            "cannot open '%s': %s", path, strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return es__fail(ES_EIO, "cannot open '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return es__fail(ES_EIO, "'%s' is a directory, not an audio file", path);
    }
    riff_walk(fd, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX, &ri);

    memset(&info, 0, sizeof info);
    /* close_desc false: the descriptor is ours to close on every path. */
    sf = sf_open_fd(fd, SFM_READ, &info, SF_FALSE);
    if (!sf) {
        sf_err = sf_error(NULL);
        close(fd);
        if (ri.riff && ri.header_cut)
            return es__fail(ES_ETRUNC,
                            "'%s' is truncated: it ends inside its WAV header (%llu bytes)", path,
                            (unsigned long long)ri.file_size);
        /* libsndfile's own words for this are "SF_INFO struct incomplete". */
        if (ri.riff && ri.have_fmt && ri.sample_rate == 0)
            return es__fail(ES_EFORMAT, "'%s' declares an impossible sample rate of 0 Hz", path);
        if (st.st_size == 0)
            return es__fail(ES_EFORMAT, "'%s' is empty (0 bytes), not an audio file", path);
        return es__fail(sf_err == SF_ERR_SYSTEM ? ES_EIO : ES_EFORMAT,
                        "'%s' is not an audio file libsndfile knows (%s)", path, sf_strerror(NULL));
    }

    if (info.samplerate < 1 || info.samplerate > RATE_ABSURD) {
        rc = es__fail(ES_EFORMAT, "'%s' declares an impossible sample rate of %d Hz", path,
                      info.samplerate);
        goto done;
    }
    if (info.channels < 1) {
        rc = es__fail(ES_EFORMAT, "'%s' declares %d channels", path, info.channels);
        goto done;
    }
    if (is_riff_wav(info.format) && (rc = check_riff_data(path, &ri)) < 0) goto done;

    if ((rc = read_frames(path, sf, &info, &samples, &n)) < 0) goto done;

    if (info.frames > 0 && info.frames < SF_COUNT_MAX && (sf_count_t)n < info.frames) {
        if (sf_error(sf) != SF_ERR_NO_ERROR)
            rc = es__fail(ES_ETRUNC,
                          "'%s' is truncated: header promises %lld frames, file holds %zu (%s)",
                          path, (long long)info.frames, n, sf_strerror(sf));
        else
            rc = es__fail(ES_ETRUNC,
                          "'%s' is truncated: header promises %lld frames, file holds %zu", path,
                          (long long)info.frames, n);
        goto done;
    }
    if (n == 0) {
        rc = es__fail(ES_EEMPTY, "'%s' holds no audio samples", path);
        goto done;
    }
    out->samples = samples;
    out->n = n;
    out->rate = info.samplerate;
    samples = NULL;
    rc = 0;
done:
    es__free(samples);
    sf_close(sf);
    close(fd);
    return rc;
}

void es_audio_free(es_audio *a) {
    if (!a) return;
    es__free(a->samples);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- writing */

/* Samples per sf_writef_short call; the conversion buffer lives on the stack. */
#define WRITE_BLOCK 4096

/* The largest mono 16-bit WAV: its RIFF size field (file size - 8) is 32 bits. */
#define WAV16_MAX_SAMPLES (((size_t)0xFFFFFFFFu - 36) / 2)

int es_audio_write_wav(const char *path, const float *samples, size_t n, int rate) {
    SF_INFO info;
    SNDFILE *sf;
    FILE *fp;
    char *tmp;
    size_t i, done;
    int rc;

    es__clear_error();
    if (!path || !samples)
        return es__fail(ES_EINVAL, "es_audio_write_wav: path and samples must not be NULL");
    if (n == 0) return es__fail(ES_EINVAL, "refusing to write '%s': there are no samples", path);
    if (n > WAV16_MAX_SAMPLES)
        return es__fail(ES_ERANGE, "cannot write '%s': %zu samples exceed the 4 GiB WAV limit",
                        path, n);
    if (rate < ES_RATE_MIN || rate > ES_RATE_MAX)
        return es__fail(ES_ERANGE,
                        "cannot write '%s': sample rate %d Hz is out of range (%g–%g Hz)", path,
                        rate, ES_RATE_MIN, ES_RATE_MAX);
    for (i = 0; i < n; i++)
        if (isnan(samples[i]))
            return es__fail(ES_EINVAL, "cannot write '%s': sample %zu is NaN", path, i);

    if ((rc = es__atomic_open(path, &tmp, &fp)) < 0) return rc;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    sf = sf_open_fd(fileno(fp), SFM_WRITE, &info, SF_FALSE);
    if (!sf) {
        rc = es__fail(ES_EIO, "cannot write '%s': %s", path, sf_strerror(NULL));
        es__atomic_abort(tmp, fp);
        return rc;
    }
    /* We convert to 16-bit ourselves rather than let libsndfile do it:
     * libsndfile scales floats by 32767 when writing but reads 16-bit as
     * x / 32768 (as torchaudio does), so its own conversion would shift
     * every sample a little on a round trip. Here x -> round(x * 32768),
     * clipped to [-32768, 32767], is the exact inverse of reading for every
     * value reading can produce; +1.0 becomes 32767. Clipping is ours too,
     * so libsndfile's SFC_SET_CLIPPING (which only acts on its own float
     * conversion) would never fire; it is set anyway so a future switch to
     * sf_writef_float cannot wrap around. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    for (done = 0; done < n;) {
        short block[WRITE_BLOCK];
        size_t k = n - done < WRITE_BLOCK ? n - done : WRITE_BLOCK;
        for (i = 0; i < k; i++) {
            float x = samples[done + i];
            float v = x >= 1.0f ? 32767.0f : x <= -1.0f ? -32768.0f : nearbyintf(x * 32768.0f);
            if (v > 32767.0f) v = 32767.0f;
            block[i] = (short)v;
        }
        if (sf_writef_short(sf, block, (sf_count_t)k) != (sf_count_t)k) {
            rc = es__fail(ES_EIO, "cannot write '%s': %s", path, sf_strerror(sf));
            sf_close(sf);
            es__atomic_abort(tmp, fp);
            return rc;
        }
        done += k;
    }
    /* sf_close writes the final header sizes. */
    if (sf_close(sf) != 0) {
        rc = es__fail(ES_EIO, "cannot write '%s': libsndfile could not finish the header", path);
        es__atomic_abort(tmp, fp);
        return rc;
    }
    return es__atomic_commit(path, tmp, fp);
}
