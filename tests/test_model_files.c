/* Model files that lie: each is rejected with an error naming what is wrong,
 * never a crash (this runs under ASan+UBSan too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "earshot/alloc.h"
#include "earshot/model.h"
#include "fileio.h"
#include "safetensors.h"

static char dir[] = "/tmp/es-modelfiles-XXXXXX";
static char *good;        /* bytes of the mel fixture */
static size_t good_len;
static es__st_file st;    /* its tensors */

/* Loading `bytes` must fail with `code` and a message containing `needle`. */
static void expect_bad(const char *what, const void *bytes, size_t len, int code,
                       const char *needle) {
    es_model *m = NULL;
    int rc = es_model_load_buffer(&m, bytes, len, "bad.safetensors");
    if (rc != code || m != NULL || !strstr(es_errmsg(), needle)) {
        fprintf(stderr, "%s: got %s (%s), wanted %s naming '%s'\n", what, es_err_name(rc),
                es_errmsg(), es_err_name(code), needle);
        check_failures++;
    }
    es_model_free(m);
}

/* Writes the fixture's tensors with one tensor or one metadata value
 * replaced, loads it back from disk and expects the error. */
typedef struct {
    const char *tensor;        /* tensor to replace, or NULL */
    es__st_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
    const char *meta_key;      /* metadata to replace (NULL value: drop it) */
    const char *meta_value;
    const char *extra_tensor;  /* a tensor to add */
} variant;

static void expect_bad_variant(const char *what, const variant *v, int code, const char *needle) {
    es__st_out outs[64];
    const char *keys[8], *vals[8];
    size_t n = 0, nm = 0;
    char path[256];
    float extra = 1.0f;
    int64_t extra_shape[1] = {1};
    es_model *m = NULL;
    int rc;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const es__st_tensor *t = &st.tensors[i];
        es__st_out *o = &outs[n++];
        o->name = t->name;
        o->dtype = t->dtype;
        o->ndim = t->ndim;
        o->shape = t->shape;
        o->data = t->data;
        if (v->tensor && strcmp(t->name, v->tensor) == 0) {
            o->dtype = v->dtype;
            o->ndim = v->ndim;
            o->shape = v->shape;
            o->data = v->data;
        }
    }
    if (v->extra_tensor) {
        outs[n++] = (es__st_out){v->extra_tensor, ES__ST_F32, 1, extra_shape, &extra};
    }
    for (size_t i = 0; i < st.n_meta; i++) {
        if (v->meta_key && strcmp(st.meta_keys[i], v->meta_key) == 0) {
            if (!v->meta_value) continue;
            keys[nm] = st.meta_keys[i];
            vals[nm++] = v->meta_value;
        } else {
            keys[nm] = st.meta_keys[i];
            vals[nm++] = st.meta_values[i];
        }
    }
    snprintf(path, sizeof path, "%s/variant.safetensors", dir);
    CHECK_RC(es__st_write(path, outs, n, keys, vals, nm), 0);
    rc = es_model_load(&m, path);
    if (rc != code || m != NULL || !strstr(es_errmsg(), needle) || !strstr(es_errmsg(), path)) {
        fprintf(stderr, "%s: got %s (%s), wanted %s naming '%s' and the file\n", what,
                es_err_name(rc), es_errmsg(), es_err_name(code), needle);
        check_failures++;
    }
    es_model_free(m);
    unlink(path);
}

static const es__st_tensor *tensor(const char *name) { return es__st_find(&st, name); }

int main(void) {
    char *buf;
    es_model *m = NULL;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_RC(es__read_file(ES_FIXTURES_DIR "/nn/mel.safetensors", 1 << 24, &good, &good_len), 0);
    if (!good) CHECK_DONE();
    CHECK_RC(es__st_parse(&st, good, good_len, "mel"), 0);
    CHECK_RC(es_model_load_buffer(&m, good, good_len, "mel"), 0);
    es_model_free(m);
    buf = malloc(good_len);

    /* --- the container */
    expect_bad("empty file", good, 0, ES_ETRUNC, "bad.safetensors");
    for (size_t cut = 1; cut < good_len; cut += cut < 200 ? 1 : 997) {
        es_model *mm = NULL;
        int rc = es_model_load_buffer(&mm, good, cut, "cut.safetensors");
        CHECK(rc < 0 && mm == NULL);
        es_model_free(mm);
    }
    expect_bad("truncated by half", good, good_len / 2, ES_ETRUNC, "bad.safetensors");
    memcpy(buf, good, good_len);
    buf[0] = (char)0xff, buf[1] = (char)0xff, buf[2] = 0x0f; /* header length ~1 MB, past EOF */
    expect_bad("header length past the end", buf, good_len, ES_ETRUNC, "past the end");
    memcpy(buf, good, good_len);
    memset(buf, 0, 8);
    buf[5] = 1; /* 2^40 */
    expect_bad("gigantic header", buf, good_len, ES_ERANGE, "exceeds");
    memcpy(buf, good, good_len);
    buf[8] = 'x';
    expect_bad("header not JSON", buf, good_len, ES_EJSON, "bad.safetensors");

    /* --- the tensors against the arch */
    {
        const es__st_tensor *w = tensor("net.0.weight");
        double d64[16 * 9];
        float nanw[16 * 9];
        variant v = {0};
        for (int i = 0; i < 16 * 9; i++) d64[i] = 0.1;
        v.tensor = "net.0.weight";
        v.dtype = ES__ST_F64;
        v.ndim = 4;
        v.shape[0] = 16, v.shape[1] = 1, v.shape[2] = 3, v.shape[3] = 3;
        v.data = d64;
        expect_bad_variant("wrong dtype", &v, ES_EFORMAT, "'net.0.weight' has dtype F64");
        v.dtype = ES__ST_F32;
        v.shape[2] = 9, v.shape[3] = 1;
        v.data = w->data;
        expect_bad_variant("shape contradicts the arch", &v, ES_EFORMAT,
                           "'net.0.weight' has shape [16, 1, 9, 1], arch layer 0 needs [16, 1, 3, 3]");
        memcpy(nanw, w->data, sizeof nanw);
        nanw[7] = NAN;
        v.shape[2] = 3, v.shape[3] = 3;
        v.data = nanw;
        expect_bad_variant("NaN weight", &v, ES_EFORMAT, "'net.0.weight' holds a non-finite value");
        nanw[7] = INFINITY;
        expect_bad_variant("infinite weight", &v, ES_EFORMAT, "non-finite");
    }
    {
        float var[16];
        variant v = {0};
        memcpy(var, tensor("net.1.running_var")->data, sizeof var);
        var[3] = -1.0f;
        v.tensor = "net.1.running_var";
        v.dtype = ES__ST_F32;
        v.ndim = 1;
        v.shape[0] = 16;
        v.data = var;
        expect_bad_variant("negative variance", &v, ES_EFORMAT, "negative variance");
    }
    {
        variant v = {0};
        v.extra_tensor = "stray.weight";
        expect_bad_variant("tensor the arch does not use", &v, ES_EFORMAT,
                           "'stray.weight' is not used");
    }

    /* --- the metadata */
    {
        variant v = {0};
        v.meta_key = "earshot.labels";
        v.meta_value = "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]";
        expect_bad_variant("label count unequal to the outputs", &v, ES_EFORMAT,
                           "10 names, the network outputs 11");
        v.meta_value = "[\"a\",\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\"]";
        expect_bad_variant("duplicate label", &v, ES_ECONFIG, "'a' twice");
        v.meta_value = "not json";
        expect_bad_variant("labels not JSON", &v, ES_EJSON, "earshot.labels");
        v.meta_value = NULL;
        expect_bad_variant("labels missing", &v, ES_EFORMAT, "'earshot.labels' is missing");
        v.meta_key = "earshot.format";
        v.meta_value = "2";
        expect_bad_variant("future format", &v, ES_EFORMAT, "earshot.format");
        v.meta_key = "earshot.arch";
        v.meta_value = "[{\"type\":\"transformer\"}]";
        expect_bad_variant("unknown layer type", &v, ES_ECONFIG, "unknown type 'transformer'");
        v.meta_value = "[{\"type\":\"conv2d\",\"in\":1,\"out\":16,\"kernel\":3,\"padding\":1,"
                       "\"weight\":\"net.0.weight\",\"bias\":\"net.0.bias\",\"dilation\":2}]";
        expect_bad_variant("unknown layer key", &v, ES_ECONFIG, "dilation 2 is not supported");
        v.meta_value = "[{\"type\":\"conv2d\",\"in\":1,\"out\":16,\"kernel\":3,\"padding\":1,"
                       "\"weight\":\"net.0.weight\",\"bias\":\"net.0.bias\",\"bais\":2}]";
        expect_bad_variant("misspelt layer key", &v, ES_ECONFIG, "unknown key 'bais'");
        v.meta_value = "[{\"type\":\"flatten\"},{\"type\":\"linear\",\"in\":100,\"out\":11,"
                       "\"weight\":\"net.14.weight\",\"bias\":\"net.14.bias\"}]";
        expect_bad_variant("arch does not fit the input", &v, ES_ECONFIG, "layer 1 (linear)");
        v.meta_key = "earshot.features";
        v.meta_value = "{\"kind\":\"melspectrogram\",\"sample_rate\":16000,\"n_fft\":512,"
                       "\"hop_length\":160,\"n_mels\":64,\"clip_seconds\":1.0,"
                       "\"stride_seconds\":0.25,\"colour\":1}";
        expect_bad_variant("unknown feature key", &v, ES_ECONFIG, "unknown key 'colour'");
        v.meta_value = "{\"kind\":\"melspectrogram\",\"sample_rate\":16000,\"n_fft\":512,"
                       "\"hop_length\":160,\"n_mels\":64}";
        expect_bad_variant("features without clip_seconds", &v, ES_ECONFIG, "clip_seconds");
    }
    {
        /* a missing tensor */
        es__st_out outs[64];
        size_t n = 0;
        char path[256];
        es_model *mm = NULL;
        const char *keys[8], *vals[8];
        for (size_t i = 0; i < st.n_tensors; i++) {
            const es__st_tensor *t = &st.tensors[i];
            if (strcmp(t->name, "net.14.bias") == 0) continue;
            outs[n++] = (es__st_out){t->name, t->dtype, t->ndim, t->shape, t->data};
        }
        for (size_t i = 0; i < st.n_meta; i++) keys[i] = st.meta_keys[i], vals[i] = st.meta_values[i];
        snprintf(path, sizeof path, "%s/missing.safetensors", dir);
        CHECK_RC(es__st_write(path, outs, n, keys, vals, st.n_meta), 0);
        CHECK_RC(es_model_load(&mm, path), ES_EFORMAT);
        CHECK(strstr(es_errmsg(), "'net.14.bias'") && strstr(es_errmsg(), "missing"));
        es_model_free(mm);
        unlink(path);
    }
    CHECK_RC(es_model_load(&m, "/nonexistent/model.safetensors"), ES_ENOENT);
    CHECK(strstr(es_errmsg(), "/nonexistent/model.safetensors") != NULL);

    free(buf);
    es__st_free(&st);
    es_free(good);
    rmdir(dir);
    CHECK_DONE();
}
