/* safetensors: round trip, the reference writer's exact bytes, rejection of
 * every kind of malformed file, truncation at every length, out of memory. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "failalloc.h"
#include "fileio.h"
#include "internal.h"
#include "safetensors.h"

#define BAD "bad.safetensors"

static int st_empty(const es__st_file *st) {
    return !st->tensors && !st->n_tensors && !st->meta_keys && !st->meta_values && !st->n_meta;
}

/* 8-byte length, header, pad spaces, then dlen data bytes (zeros when data is NULL). */
static unsigned char *make_file(const char *header, size_t pad, const void *data, size_t dlen,
                                size_t *len) {
    size_t hl = strlen(header), n = hl + pad;
    unsigned char *b = calloc(1, 8 + n + dlen);
    if (!b) abort();
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, ' ', pad);
    if (data) memcpy(b + 8 + n, data, dlen);
    *len = 8 + n + dlen;
    return b;
}

/* Parses buf and expects code with a message naming the file and needle. */
static void expect_fail_buf(int line, const void *buf, size_t len, int code, const char *needle) {
    es__st_file st;
    int rc;
    memset(&st, 0xab, sizeof st); /* parse must leave it empty, whatever it held */
    rc = es__st_parse(&st, buf, len, BAD);
    if (rc != code || !strstr(es_errmsg(), BAD) || (needle && !strstr(es_errmsg(), needle))) {
        fprintf(stderr, "line %d: got %s \"%s\", wanted %s naming '%s'\n", line, es_err_name(rc),
                es_errmsg(), es_err_name(code), needle ? needle : "");
        check_failures++;
    }
    CHECK(st_empty(&st));
    if (rc == 0) es__st_free(&st);
}

static void expect_fail_hdr(int line, const char *header, size_t dlen, int code,
                            const char *needle) {
    size_t len;
    unsigned char *b = make_file(header, 0, NULL, dlen, &len);
    expect_fail_buf(line, b, len, code, needle);
    free(b);
}

#define BAD_HDR(h, dlen, code, needle) expect_fail_hdr(__LINE__, h, dlen, code, needle)

static int read_all(const char *path, unsigned char **data, size_t *len) {
    char *d;
    int rc = es__read_file(path, 1 << 20, &d, len);
    *data = (unsigned char *)d;
    return rc;
}

/* A file as the Python/Rust reference writes it: metadata first, tensors
 * sorted by alignment then name, compact JSON, spaces to an 8-byte boundary. */
static const char ref_header[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
static const unsigned char ref_data[16] = {
    0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* int64 -3 */
    0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, /* float 1.5, -2.0 */
};

static void check_ref(const es__st_file *st) {
    const es__st_tensor *a = es__st_find(st, "a"), *b = es__st_find(st, "b");
    int64_t i64 = 0;
    float f[2] = {0, 0};
    CHECK_EQ_INT(st->n_tensors, 2);
    CHECK(a && b && a == &st->tensors[0]);
    if (!a || !b) return;
    CHECK_EQ_INT(a->dtype, ES__ST_I64);
    CHECK_EQ_INT(a->ndim, 0);
    CHECK_EQ_INT(a->numel, 1);
    CHECK_EQ_INT(a->nbytes, 8);
    memcpy(&i64, a->data, 8);
    CHECK_EQ_INT(i64, -3);
    CHECK_EQ_INT(b->dtype, ES__ST_F32);
    CHECK_EQ_INT(b->ndim, 1);
    CHECK_EQ_INT(b->shape[0], 2);
    memcpy(f, b->data, 8);
    CHECK(f[0] == 1.5f && f[1] == -2.0f);
    CHECK(es__st_meta(st, "format") && strcmp(es__st_meta(st, "format"), "pt") == 0);
    CHECK(es__st_meta(st, "nope") == NULL);
    CHECK(es__st_find(st, "c") == NULL);
}

static void test_reference(const char *dir) {
    size_t hl = strlen(ref_header), pad = (8 - (8 + hl) % 8) % 8, len, got_len = 0;
    unsigned char *ref = make_file(ref_header, pad, ref_data, sizeof ref_data, &len), *got = NULL;
    es__st_file st;
    char path[256];
    int64_t a = -3;
    float b[2] = {1.5f, -2.0f};
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    es__st_out out[2] = {{"a", ES__ST_I64, 0, NULL, &a}, {"b", ES__ST_F32, 1, (int64_t[]){2}, b}};

    CHECK_EQ_INT(len % 8, 0);
    CHECK_RC(es__st_parse(&st, ref, len, "ref.safetensors"), 0);
    check_ref(&st);
    es__st_free(&st);
    CHECK(st_empty(&st));

    /* our writer, given the same order, produces the very same bytes */
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    CHECK_RC(es__st_write(path, out, 2, mk, mv, 1), 0);
    CHECK_RC(read_all(path, &got, &got_len), 0);
    CHECK_EQ_INT(got_len, len);
    CHECK(got && got_len == len && memcmp(got, ref, len) == 0);
    es__free(got);
    free(ref);
    unlink(path);

    /* more padding than alignment needs, leaving the data unaligned: still fine */
    ref = make_file(ref_header, pad + 13, ref_data, sizeof ref_data, &len);
    CHECK_RC(es__st_parse(&st, ref, len, "ref.safetensors"), 0);
    check_ref(&st);
    es__st_free(&st);
    free(ref);

    /* no tensors, no data: an empty but valid file */
    ref = make_file("{}", 6, NULL, 0, &len);
    CHECK_RC(es__st_parse(&st, ref, len, "empty.safetensors"), 0);
    CHECK(st_empty(&st));
    es__st_free(&st);
    free(ref);
}

/* The round-trip file: every dtype, a scalar, a zero-size tensor, metadata. */
static float w[6] = {1, -2, 3.25f, -4, 5, 1e-7f};
static double bias[3] = {0.5, -1e300, 3};
static int64_t step = 123456789012345LL;
static int32_t idx[4] = {-1, 2, -3, 4};
static uint16_t half[2] = {0x3c00, 0xc000}, bf[1] = {0x3f80};
static int8_t i8[3] = {-128, 0, 127};
static uint8_t u8[5] = {0, 1, 2, 254, 255}, mask[3] = {1, 0, 1};
static const char *meta_k[] = {"earshot.labels", "format"};
static const char *meta_v[] = {"[\"dog\", \"cat\"]", "pt"};

static es__st_out rt[] = {
    {"conv1.weight", ES__ST_F32, 2, (int64_t[]){2, 3}, w},
    {"conv1.bias", ES__ST_F64, 1, (int64_t[]){3}, bias},
    {"step", ES__ST_I64, 0, NULL, &step},
    {"empty", ES__ST_F32, 2, (int64_t[]){0, 4}, NULL},
    {"idx", ES__ST_I32, 2, (int64_t[]){2, 2}, idx},
    {"half", ES__ST_F16, 1, (int64_t[]){2}, half},
    {"bf", ES__ST_BF16, 3, (int64_t[]){1, 1, 1}, bf},
    {"i8", ES__ST_I8, 1, (int64_t[]){3}, i8},
    {"bytes", ES__ST_U8, 1, (int64_t[]){5}, u8},
    {"mask", ES__ST_BOOL, 1, (int64_t[]){3}, mask},
};
#define N_RT (sizeof rt / sizeof rt[0])

static void check_round_trip(const es__st_file *st) {
    CHECK_EQ_INT(st->n_tensors, N_RT);
    CHECK_EQ_INT(st->n_meta, 2);
    for (size_t i = 0; i < N_RT && i < st->n_tensors; i++) {
        const es__st_tensor *t = &st->tensors[i];
        size_t numel = 1;
        CHECK(strcmp(t->name, rt[i].name) == 0);
        CHECK(es__st_find(st, rt[i].name) == t);
        CHECK_EQ_INT(t->dtype, rt[i].dtype);
        CHECK_EQ_INT(t->ndim, rt[i].ndim);
        for (int d = 0; d < t->ndim; d++) {
            CHECK_EQ_INT(t->shape[d], rt[i].shape[d]);
            numel *= (size_t)rt[i].shape[d];
        }
        CHECK_EQ_INT(t->numel, numel);
        CHECK_EQ_INT(t->nbytes, numel * es__st_dtype_size(t->dtype));
        CHECK(t->nbytes == 0 || memcmp(t->data, rt[i].data, t->nbytes) == 0);
    }
    for (size_t i = 0; i < 2; i++) {
        const char *v = es__st_meta(st, meta_k[i]);
        CHECK(v && strcmp(v, meta_v[i]) == 0);
        CHECK(strcmp(st->meta_keys[i], meta_k[i]) == 0);
    }
}

static void test_round_trip(const char *path, unsigned char **file, size_t *len) {
    es__st_file st;
    uint64_t n = 0;
    CHECK_RC(es__st_write(path, rt, N_RT, meta_k, meta_v, 2), 0);
    CHECK_RC(read_all(path, file, len), 0);
    if (!*file) return;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (*file)[i];
    CHECK_EQ_INT((8 + n) % 8, 0);
    CHECK((*file)[8] == '{');
    CHECK_RC(es__st_parse(&st, *file, *len, path), 0);
    check_round_trip(&st);
    es__st_free(&st);
    /* a scalar is numel 1; the zero-size tensor really holds nothing */
    CHECK_EQ_INT(es__st_dtype_size(ES__ST_BF16), 2);
    CHECK(strcmp(es__st_dtype_name(ES__ST_BOOL), "BOOL") == 0);
}

static void test_corrupt(void) {
    static const char ok_t[] = "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    unsigned char raw[16] = {0};
    size_t len;
    unsigned char *b;
    char h[512];

    expect_fail_buf(__LINE__, raw, 0, ES_ETRUNC, "0 bytes");
    expect_fail_buf(__LINE__, raw, 7, ES_ETRUNC, "7 bytes");
    /* header length 100, file of 50 bytes */
    raw[0] = 100;
    b = calloc(1, 50);
    memcpy(b, raw, 8);
    expect_fail_buf(__LINE__, b, 50, ES_ETRUNC, "header length 100 runs past the end of the "
                                                "file (50 bytes)");
    /* 2^40, and the all-ones length */
    memset(b, 0, 8);
    b[5] = 1;
    expect_fail_buf(__LINE__, b, 50, ES_ERANGE, "header length 1099511627776 exceeds 16 MiB");
    memset(b, 0xff, 8);
    expect_fail_buf(__LINE__, b, 50, ES_ERANGE, "18446744073709551615");
    /* 16 MiB + 1 */
    memset(b, 0, 8);
    b[0] = 1;
    b[3] = 1;
    expect_fail_buf(__LINE__, b, 50, ES_ERANGE, "16777217");
    free(b);

    BAD_HDR("", 0, ES_EJSON, "not valid JSON");
    BAD_HDR("{\"w\": nope}", 0, ES_EJSON, "line 1, column");
    BAD_HDR("{\"w\": {}} x", 0, ES_EJSON, "not valid JSON");
    BAD_HDR("\"just a string\"", 0, ES_EJSON, "not valid JSON");
    BAD_HDR("[1, 2]", 0, ES_EFORMAT, "header is an array");
    BAD_HDR("{\"a\xff\":1}", 0, ES_EJSON, "not valid JSON"); /* not UTF-8 */
    BAD_HDR("{\"w\":1,\"w\":2}", 0, ES_EJSON, "duplicate");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
            4, ES_EJSON, "duplicate");
    /* NUL padding is not JSON whitespace */
    b = make_file("{}", 0, "\0\0\0\0\0\0", 6, &len);
    b[0] = 8;
    expect_fail_buf(__LINE__, b, len, ES_EJSON, "not valid JSON");
    free(b);

    BAD_HDR("{\"w\":5}", 0, ES_EFORMAT, "entry 'w' is an integer");
    BAD_HDR("{\"w\":[]}", 0, ES_EFORMAT, "entry 'w' is an array");
    BAD_HDR("{\"w\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, ES_EFORMAT,
            "tensor 'w': dtype 'F8' is not supported");
    BAD_HDR("{\"w\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, ES_EFORMAT,
            "tensor 'w': dtype 'U16'");
    BAD_HDR("{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "dtype 'f32'");
    BAD_HDR("{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w': dtype is an integer, not a string");
    BAD_HDR("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w' has no 'dtype'");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w' has no 'shape'");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, ES_EFORMAT,
            "tensor 'w' has no 'data_offsets'");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"offsets\":1}}", 8,
            ES_EFORMAT, "tensor 'w' has an unknown field 'offsets'");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w': shape[0] is -1, negative");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w': shape[0] is a real number, not an integer");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}}", 8,
            ES_EFORMAT, "tensor 'w': shape[1] is a string");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w': shape is an integer, not an array");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
            ES_EFORMAT, "tensor 'w': shape has 9 dimensions, at most 8");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967295,3],"
            "\"data_offsets\":[0,8]}}", 8, ES_ERANGE, "tensor 'w': shape [4294967296, "
            "4294967295, 3] has too many elements");
    BAD_HDR("{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}",
            8, ES_ERANGE, "tensor 'w'");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, ES_EFORMAT,
            "tensor 'w': data_offsets has 1 elements, not 2");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, ES_EFORMAT,
            "tensor 'w': data_offsets has 3 elements");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{}}}", 8, ES_EFORMAT,
            "tensor 'w': data_offsets is an object");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, ES_EFORMAT,
            "tensor 'w': data_offsets[0] is -8, negative");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,null]}}", 8, ES_EFORMAT,
            "tensor 'w': data_offsets[1] is null, not an integer");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[10,4]}}", 12, ES_EFORMAT,
            "tensor 'w': data_offsets [10, 4] run backwards");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 8, ES_ETRUNC,
            "tensor 'w': data_offsets [0, 400] run past the end of the data section (8 bytes)");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensor 'w': data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12");
    BAD_HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, ES_EFORMAT,
            "shape [] of F32 needs 4");
    /* overlap, hole, trailing bytes, and data with no tensors at all */
    BAD_HDR("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, ES_EFORMAT,
            "tensors 'a' and 'b' overlap");
    BAD_HDR("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ES_EFORMAT,
            "tensors 'b' and 'a' overlap");
    BAD_HDR("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
            "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", 16, ES_EFORMAT,
            "tensors 'a' and 'z' overlap");
    BAD_HDR("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, ES_EFORMAT,
            "bytes [4, 8) of the data section, before tensor 'b', belong to no tensor");
    BAD_HDR("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, ES_EFORMAT,
            "bytes [0, 4) of the data section, before tensor 'b'");
    snprintf(h, sizeof h, "{%s}", ok_t);
    BAD_HDR(h, 9, ES_EFORMAT, "1 trailing bytes after tensor 'w'");
    BAD_HDR("{}", 3, ES_EFORMAT, "no tensors, but 3 trailing data bytes");
    /* metadata */
    snprintf(h, sizeof h, "{\"__metadata__\":{\"format\":\"pt\",\"k\":1},%s}", ok_t);
    BAD_HDR(h, 8, ES_EFORMAT, "__metadata__ key 'k' is an integer, not a string");
    snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":null},%s}", ok_t);
    BAD_HDR(h, 8, ES_EFORMAT, "__metadata__ key 'k' is null");
    snprintf(h, sizeof h, "{\"__metadata__\":\"x\",%s}", ok_t);
    BAD_HDR(h, 8, ES_EFORMAT, "__metadata__ is a string, not an object");
    snprintf(h, sizeof h, "{\"__metadata__\":{},\"__metadata__\":{},%s}", ok_t);
    BAD_HDR(h, 8, ES_EJSON, "duplicate");
    /* the first bad tensor is named even when an earlier one was fine */
    snprintf(h, sizeof h, "{%s,\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8]}}",
             ok_t);
    BAD_HDR(h, 12, ES_EFORMAT, "tensor 'v': data_offsets");

    /* an empty metadata object is fine */
    {
        es__st_file st;
        snprintf(h, sizeof h, "{\"__metadata__\":{},%s}", ok_t);
        b = make_file(h, 0, NULL, 8, &len);
        CHECK_RC(es__st_parse(&st, b, len, "m.safetensors"), 0);
        CHECK_EQ_INT(st.n_meta, 0);
        CHECK_EQ_INT(st.n_tensors, 1);
        es__st_free(&st);
        free(b);
    }
    CHECK_RC(es__st_parse(NULL, raw, 8, BAD), ES_EINVAL);
}

/* Every proper prefix fails cleanly; each byte flipped never crashes. The
 * copies are exactly sized so that ASan catches any read past the end. */
static void test_truncations(const unsigned char *file, size_t len) {
    int successes = 0;
    for (size_t l = 0; l <= len; l++) {
        unsigned char *b = malloc(l ? l : 1);
        es__st_file st;
        int rc;
        memcpy(b, file, l);
        rc = es__st_parse(&st, b, l, "cut.safetensors");
        if (rc == 0) {
            successes++;
            CHECK_EQ_INT(l, len);
            es__st_free(&st);
        } else {
            CHECK(st_empty(&st));
            CHECK(strstr(es_errmsg(), "cut.safetensors") != NULL);
        }
        free(b);
    }
    CHECK_EQ_INT(successes, 1);
    for (size_t i = 0; i < len; i++) {
        static const unsigned char masks[] = {0x01, 0x20, 0x80, 0xff};
        for (size_t m = 0; m < sizeof masks; m++) {
            unsigned char *b = malloc(len);
            es__st_file st;
            memcpy(b, file, len);
            b[i] ^= masks[m];
            if (es__st_parse(&st, b, len, "flip.safetensors") == 0)
                es__st_free(&st);
            else
                CHECK(st_empty(&st));
            free(b);
        }
    }
}

static void test_write_errors(const char *dir) {
    char path[256];
    float x[2] = {1, 2};
    const char *k2[] = {"a", "a"}, *v2[] = {"1", "2"}, *vnull[] = {NULL};
    es__st_out dup[2] = {{"x", ES__ST_F32, 1, (int64_t[]){2}, x},
                         {"x", ES__ST_F32, 1, (int64_t[]){2}, x}};
    es__st_out t = {"x", ES__ST_F32, 1, (int64_t[]){2}, x};
    DIR *d;
    struct dirent *e;
    int entries = 0;

    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    CHECK_RC(es__st_write(NULL, &t, 1, NULL, NULL, 0), ES_EINVAL);
    CHECK_RC(es__st_write(path, NULL, 1, NULL, NULL, 0), ES_EINVAL);
    CHECK_RC(es__st_write(path, dup, 2, NULL, NULL, 0), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "'x' appears twice") != NULL);
    t.name = NULL;
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.name = "__metadata__";
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.name = "bad\xc3(utf8";
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.name = "\xed\xa0\x80"; /* a UTF-16 surrogate */
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.name = "x";
    t.ndim = 9;
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.ndim = -1;
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.ndim = 1;
    t.shape = (int64_t[]){-2};
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "tensor 'x': shape[0] is -2") != NULL);
    t.shape = NULL;
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.ndim = 3;
    t.shape = (int64_t[]){INT64_MAX, INT64_MAX, 0};
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_ERANGE);
    t.ndim = 1;
    t.shape = (int64_t[]){(int64_t)1 << 61};
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_ERANGE);
    t.shape = (int64_t[]){2};
    t.dtype = (es__st_dtype)99;
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.dtype = ES__ST_F32;
    t.data = NULL;
    CHECK_RC(es__st_write(path, &t, 1, NULL, NULL, 0), ES_EINVAL);
    t.data = x;
    CHECK_RC(es__st_write(path, &t, 1, k2, v2, 2), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "metadata key 'a' appears twice") != NULL);
    CHECK_RC(es__st_write(path, &t, 1, k2, vnull, 1), ES_EINVAL);
    CHECK_RC(es__st_write(path, &t, 1, NULL, v2, 1), ES_EINVAL);
    CHECK_RC(es__st_write("/nonexistent/dir/w.safetensors", &t, 1, NULL, NULL, 0), ES_ENOENT);
    /* none of the failures left a file or a temporary behind */
    d = opendir(dir);
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    if (d) closedir(d);
    CHECK_EQ_INT(entries, 1); /* rt.safetensors only */
    /* zero tensors, no metadata: "{}" and padding */
    CHECK_RC(es__st_write(path, NULL, 0, NULL, NULL, 0), 0);
    {
        unsigned char *f = NULL;
        size_t len = 0;
        es__st_file st;
        CHECK_RC(read_all(path, &f, &len), 0);
        CHECK_EQ_INT(len, 16);
        CHECK(f && memcmp(f, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
        CHECK_RC(es__st_parse(&st, f, len, path), 0);
        CHECK(st_empty(&st));
        es__free(f);
    }
    unlink(path);
}

static void test_oom(const char *dir, const unsigned char *file, size_t len) {
    char path[256];
    long k;
    snprintf(path, sizeof path, "%s/oom.safetensors", dir);
    for (k = 0;; k++) {
        es__st_file st;
        int rc;
        failalloc_arm(k);
        rc = es__st_parse(&st, file, len, "oom.safetensors");
        failalloc_disarm();
        if (!failalloc_failed()) {
            CHECK_RC(rc, 0);
            check_round_trip(&st);
            es__st_free(&st);
            break;
        }
        CHECK_RC(rc, ES_ENOMEM);
        CHECK(st_empty(&st));
    }
    CHECK(k > 10); /* names, metadata, spans: the walk really walked */
    for (k = 0;; k++) {
        int rc;
        failalloc_arm(k);
        rc = es__st_write(path, rt, N_RT, meta_k, meta_v, 2);
        failalloc_disarm();
        if (!failalloc_failed()) {
            CHECK_RC(rc, 0);
            break;
        }
        CHECK_RC(rc, ES_ENOMEM);
        CHECK(access(path, F_OK) != 0);
    }
    CHECK(k >= 3);
    {
        unsigned char *f = NULL;
        size_t n = 0;
        CHECK_RC(read_all(path, &f, &n), 0);
        CHECK(f && n == len && memcmp(f, file, len) == 0);
        es__free(f);
    }
    unlink(path);
}

int main(void) {
    char dir[] = "/tmp/es-st-XXXXXX", path[256];
    unsigned char *file = NULL;
    size_t len = 0;

    CHECK(mkdtemp(dir) != NULL);
    test_reference(dir);
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    test_round_trip(path, &file, &len);
    test_corrupt();
    if (file) {
        test_truncations(file, len);
        test_write_errors(dir);
        test_oom(dir, file, len);
    }
    es__free(file);
    unlink(path);
    rmdir(dir);
    CHECK_DONE();
}
