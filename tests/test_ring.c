/* tests/test_ring.c — single-thread behaviour of the sample ring: arguments, order, overruns. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "earshot/ring.h"

#define CAP 64

static uint32_t storage[CAP];

/* Distinct and exact in float for every position the tests reach (< 2^24),
 * and never 0, so a zeroed slot cannot pass for a written sample. */
static float val(uint64_t p) { return (float)(p % 1000003u) + 1.0f; }

static void fill(float *x, uint64_t pos, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = val(pos + i);
}

/* Writes n samples continuing from the ring's write position. */
static void put(es_ring *r, size_t n) {
    float x[4 * CAP];
    uint64_t w = es_ring_write_pos(r);
    while (n > 0) {
        size_t m = n < 4 * CAP ? n : 4 * CAP;
        fill(x, w, m);
        es_ring_write(r, x, m);
        w += m;
        n -= m;
    }
}

/* Number of out[i] differing from val(pos + i). */
static int mismatches(const float *out, uint64_t pos, size_t n) {
    size_t i;
    int bad = 0;
    for (i = 0; i < n; i++) bad += out[i] != val(pos + i);
    return bad;
}

static void test_init_args(void) {
    es_ring r;
    static uint32_t big[8];
    unsigned char *bytes = (unsigned char *)big;

    CHECK_RC(es_ring_init(NULL, storage, CAP), ES_EINVAL);
    CHECK_RC(es_ring_init(&r, NULL, CAP), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "storage") != NULL);
    CHECK_RC(es_ring_init(&r, storage, 0), ES_EINVAL);
    CHECK_RC(es_ring_init(&r, storage, 1), ES_EINVAL);
    CHECK_RC(es_ring_init(&r, storage, 3), ES_EINVAL);
    CHECK(strstr(es_errmsg(), "power of two") != NULL);
    CHECK_RC(es_ring_init(&r, storage, 48), ES_EINVAL);
    CHECK_RC(es_ring_init(&r, bytes + 1, 4), ES_EINVAL);

    CHECK_RC(es_ring_init(&r, big, 2), 0);
    CHECK_EQ_INT(es_ring_capacity(&r), 2);
    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    CHECK_EQ_INT(es_ring_capacity(&r), CAP);
    CHECK_EQ_INT(es_ring_write_pos(&r), 0);
}

static void test_init_zeroes(void) {
    es_ring r;
    es_ring_cursor cur;
    float out[CAP];
    size_t i;

    memset(storage, 0xAB, sizeof storage);
    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    for (i = 0; i < CAP; i++) CHECK_EQ_INT(storage[i], 0);
    es_ring_cursor_init(&r, &cur);
    CHECK_EQ_INT(cur.pos, 0);
    CHECK_EQ_INT(cur.lost, 0);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 0);
    CHECK_EQ_INT(cur.pos, 0);
}

static void test_write_read(void) {
    es_ring r;
    es_ring_cursor cur;
    float out[CAP];

    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    es_ring_cursor_init(&r, &cur);
    put(&r, 10);
    CHECK_EQ_INT(es_ring_write_pos(&r), 10);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 10);
    CHECK_EQ_INT(mismatches(out, 0, 10), 0);
    CHECK_EQ_INT(cur.pos, 10);
    CHECK_EQ_INT(cur.lost, 0);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 0);

    /* max 0 reads nothing and moves nothing. */
    put(&r, 5);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, 0), 0);
    CHECK_EQ_INT(cur.pos, 10);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 5);
    CHECK_EQ_INT(mismatches(out, 10, 5), 0);

    /* A full ring reads back whole. */
    put(&r, CAP);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), CAP);
    CHECK_EQ_INT(mismatches(out, 15, CAP), 0);
    CHECK_EQ_INT(cur.lost, 0);

    /* A cursor made now sees only what comes after. */
    es_ring_cursor_init(&r, &cur);
    CHECK_EQ_INT(cur.pos, 15 + CAP);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 0);
    put(&r, 3);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 3);
    CHECK_EQ_INT(mismatches(out, 15 + CAP, 3), 0);
}

/* Writes and reads in sizes coprime to the capacity, so pieces straddle the
 * slot wrap at every offset; the reader keeps up, so nothing is lost. */
static void test_odd_pieces(void) {
    static const size_t wsz[] = {1, 7, 13, 29, 3, 31, 17};
    static const size_t rsz[] = {5, 11, 2, 23, 9};
    es_ring r;
    es_ring_cursor cur;
    float out[CAP];
    uint64_t expect = 0;
    int bad = 0, i;

    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    es_ring_cursor_init(&r, &cur);
    for (i = 0; i < 500; i++) {
        size_t got;
        put(&r, wsz[i % 7]);
        while ((got = es_ring_read(&r, &cur, out, rsz[i % 5])) > 0) {
            CHECK(got <= rsz[i % 5]);
            bad += mismatches(out, expect, got);
            expect += got;
        }
        CHECK_EQ_INT(cur.pos, expect);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(expect, es_ring_write_pos(&r));
    CHECK_EQ_INT(cur.lost, 0);
}

static void test_overrun(void) {
    es_ring r;
    es_ring_cursor cur;
    float out[CAP];
    uint64_t w;

    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    put(&r, 7);
    es_ring_cursor_init(&r, &cur);
    CHECK_EQ_INT(cur.pos, 7);

    /* Three laps in blocks of 24 while the cursor stands still. */
    while (es_ring_write_pos(&r) < 7 + 3 * CAP) put(&r, 24);
    w = es_ring_write_pos(&r);
    CHECK_EQ_INT(w, 7 + 3 * CAP);

    /* The next read starts at the oldest sample still held. */
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, 10), 10);
    CHECK_EQ_INT(cur.lost, w - CAP - 7);
    CHECK_EQ_INT(mismatches(out, w - CAP, 10), 0);
    CHECK_EQ_INT(cur.pos, w - CAP + 10);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), CAP - 10);
    CHECK_EQ_INT(mismatches(out, w - CAP + 10, CAP - 10), 0);
    CHECK_EQ_INT(cur.pos, w);
    CHECK_EQ_INT(cur.lost, w - CAP - 7);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 0);

    /* Behind by exactly one sample more than the ring holds. */
    put(&r, CAP + 1);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), CAP);
    CHECK_EQ_INT(mismatches(out, w + 1, CAP), 0);
    CHECK_EQ_INT(cur.lost, w - CAP - 7 + 1);

    /* Behind by exactly the capacity: nothing lost. */
    put(&r, CAP);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), CAP);
    CHECK_EQ_INT(mismatches(out, w + 1 + CAP, CAP), 0);
    CHECK_EQ_INT(cur.lost, w - CAP - 7 + 1);
}

static void test_big_write(void) {
    es_ring r;
    es_ring_cursor cur;
    float in[3 * CAP + 5], out[CAP];

    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    put(&r, 9);
    es_ring_cursor_init(&r, &cur);
    fill(in, 9, 3 * CAP + 5);
    es_ring_write(&r, in, 3 * CAP + 5);
    CHECK_EQ_INT(es_ring_write_pos(&r), 9 + 3 * CAP + 5);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), CAP);
    CHECK_EQ_INT(cur.lost, 2 * CAP + 5);
    CHECK_EQ_INT(mismatches(out, 9 + 2 * CAP + 5, CAP), 0);
    CHECK_EQ_INT(cur.pos, 9 + 3 * CAP + 5);

    /* A zero-length write changes nothing. */
    es_ring_write(&r, in, 0);
    CHECK_EQ_INT(es_ring_write_pos(&r), 9 + 3 * CAP + 5);
    CHECK_EQ_INT(es_ring_read(&r, &cur, out, CAP), 0);
}

static void test_read_at(void) {
    es_ring r;
    float out[CAP + 1];
    uint64_t w;

    CHECK_RC(es_ring_init(&r, storage, CAP), 0);
    CHECK_RC(es_ring_read_at(&r, 0, out, 1), ES_ERANGE);
    CHECK(strstr(es_errmsg(), "past the write position") != NULL);
    CHECK_RC(es_ring_read_at(&r, 0, out, 0), 0);

    put(&r, 40);
    CHECK_RC(es_ring_read_at(&r, 0, out, 40), 0);
    CHECK_EQ_INT(mismatches(out, 0, 40), 0);
    CHECK_RC(es_ring_read_at(&r, 39, out, 1), 0);
    CHECK_EQ_INT(mismatches(out, 39, 1), 0);
    CHECK_RC(es_ring_read_at(&r, 39, out, 2), ES_ERANGE);
    CHECK_RC(es_ring_read_at(&r, 40, out, 1), ES_ERANGE);
    CHECK_RC(es_ring_read_at(&r, 40, out, 0), 0);
    CHECK_RC(es_ring_read_at(&r, 41, out, 0), ES_ERANGE);
    CHECK_RC(es_ring_read_at(&r, UINT64_MAX, out, 2), ES_ERANGE);

    put(&r, 5 * CAP + 3);
    w = es_ring_write_pos(&r);
    /* The last capacity samples, whole and straddling the slot wrap. */
    CHECK_RC(es_ring_read_at(&r, w - CAP, out, CAP), 0);
    CHECK_EQ_INT(mismatches(out, w - CAP, CAP), 0);
    CHECK_RC(es_ring_read_at(&r, w - 20, out, 20), 0);
    CHECK_EQ_INT(mismatches(out, w - 20, 20), 0);
    /* One sample too old, one too new, one too long. */
    CHECK_RC(es_ring_read_at(&r, w - CAP - 1, out, 2), ES_ERANGE);
    CHECK(strstr(es_errmsg(), "no longer held") != NULL);
    CHECK_RC(es_ring_read_at(&r, 0, out, 1), ES_ERANGE);
    CHECK_RC(es_ring_read_at(&r, w - 1, out, 2), ES_ERANGE);
    CHECK_RC(es_ring_read_at(&r, w - CAP, out, CAP + 1), ES_ERANGE);
}

/* Many laps in a tiny ring, mixing block sizes below, at and above the
 * capacity: slot indices wrap thousands of times and positions keep
 * counting. */
static void test_many_laps(void) {
    static uint32_t small[8];
    static const size_t sz[] = {3, 8, 5, 1, 13, 7, 8, 2};
    es_ring r;
    es_ring_cursor cur;
    float out[8], hist[8];
    uint64_t total = 0, lost_expect = 0, read = 0;
    int bad = 0, i;

    CHECK_RC(es_ring_init(&r, small, 8), 0);
    es_ring_cursor_init(&r, &cur);
    for (i = 0; i < 200000; i++) {
        size_t n = sz[i % 8], got;
        uint64_t behind;
        put(&r, n);
        total += n;
        behind = total - cur.pos;
        if (behind > 8) lost_expect += behind - 8;
        got = es_ring_read(&r, &cur, out, (size_t)(i % 5) + 4);
        bad += mismatches(out, cur.pos - got, got);
        read += got;
        if (i % 97 == 0 && total >= 8) {
            CHECK_RC(es_ring_read_at(&r, total - 8, hist, 8), 0);
            bad += mismatches(hist, total - 8, 8);
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(es_ring_write_pos(&r), total);
    CHECK_EQ_INT(cur.lost, lost_expect);
    CHECK_EQ_INT(read + cur.lost, cur.pos);
    CHECK(total / 8 > 100000);
}

int main(void) {
    test_init_args();
    test_init_zeroes();
    test_write_read();
    test_odd_pieces();
    test_overrun();
    test_big_write();
    test_read_at();
    test_many_laps();
    CHECK_DONE();
}
