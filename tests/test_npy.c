/* .npy: round trip, numpy's exact header bytes, and rejection of bad files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "earshot/npy.h"
#include "earshot/resample.h"

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/es-npy-XXXXXX", path[256], bad[256];
    float m[12], *back = NULL;
    size_t shape[4];
    int ndim = 0;
    char raw[256];
    FILE *f;
    size_t n;

    CHECK(mkdtemp(dir) != NULL);
    for (int i = 0; i < 12; i++) m[i] = (float)i * 0.5f - 2.0f;
    snprintf(path, sizeof path, "%s/m.npy", dir);
    CHECK_RC(es_npy_write_f32(path, m, 2, (size_t[]){3, 4}), 0);
    /* numpy.save writes exactly this preamble and header for a (3, 4) float32 */
    f = fopen(path, "rb");
    n = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f) fclose(f);
    CHECK_EQ_INT(n, 128 + 48);
    CHECK(memcmp(raw, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
    CHECK(memcmp(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 59) == 0);
    CHECK(raw[127] == '\n');
    CHECK_RC(es_npy_read_f32(path, &back, shape, 4, &ndim), 0);
    CHECK_EQ_INT(ndim, 2);
    CHECK_EQ_INT(shape[0], 3);
    CHECK_EQ_INT(shape[1], 4);
    CHECK(back && memcmp(back, m, sizeof m) == 0);
    es_free(back);
    back = NULL;
    /* 1-D: numpy writes (5,) */
    CHECK_RC(es_npy_write_f32(path, m, 1, (size_t[]){5}), 0);
    CHECK_RC(es_npy_read_f32(path, &back, shape, 4, &ndim), 0);
    CHECK_EQ_INT(ndim, 1);
    CHECK_EQ_INT(shape[0], 5);
    es_free(back);
    back = NULL;

    snprintf(bad, sizeof bad, "%s/bad.npy", dir);
    write_bytes(bad, "hello world, not numpy", 22);
    CHECK_RC(es_npy_read_f32(bad, &back, shape, 4, &ndim), ES_EFORMAT);
    write_bytes(bad, raw, 100); /* header cut short */
    CHECK_RC(es_npy_read_f32(bad, &back, shape, 4, &ndim), ES_ETRUNC);
    write_bytes(bad, raw, 128 + 40); /* data cut short */
    CHECK_RC(es_npy_read_f32(bad, &back, shape, 4, &ndim), ES_ETRUNC);
    CHECK(strstr(es_errmsg(), "bad.npy") != NULL);
    memcpy(raw + 21, "i4", 2); /* '<f4' → '<i4' */
    write_bytes(bad, raw, n);
    CHECK_RC(es_npy_read_f32(bad, &back, shape, 4, &ndim), ES_EFORMAT);
    CHECK_RC(es_npy_read_f32("/nonexistent.npy", &back, shape, 4, &ndim), ES_ENOENT);
    CHECK_RC(es_npy_write_f32("/nonexistent/dir/x.npy", m, 1, (size_t[]){1}), ES_ENOENT);
    unlink(bad);
    unlink(path);
    rmdir(dir);
    CHECK_DONE();
}
