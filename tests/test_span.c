/* tests/test_span.c — finding sounds in hop energies: thresholds relative
 * to the loudest hop and the quiet floor, merging, short blips. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "earshot/span.h"

static double ms(double db) { return pow(10.0, db / 10.0); }

/* n hops at floor_db with sounds [a, b) at level_db each */
static void fill(double *e, size_t n, double floor_db, const size_t (*s)[2], int ns,
                 double level_db) {
    for (size_t i = 0; i < n; i++) e[i] = ms(floor_db);
    for (int k = 0; k < ns; k++)
        for (size_t i = s[k][0]; i < s[k][1]; i++) e[i] = ms(level_db);
}

int main(void) {
    double e[400], scratch[400];
    es_span sp[8];
    es_span_config c = es_span_defaults;
    size_t n;
    /* two words 0.5 s apart over a quiet room: two sounds, exactly placed */
    {
        const size_t s[2][2] = {{50, 90}, {140, 200}};
        fill(e, 300, -70.0, s, 2, -20.0);
        n = es_sound_spans(e, 300, &c, scratch, sp, 8);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_INT(sp[0].start, 50);
        CHECK_EQ_INT(sp[0].end, 90);
        CHECK_EQ_INT(sp[1].start, 140);
        CHECK_EQ_INT(sp[1].end, 200);
        CHECK_NEAR(sp[0].peak_db, -20.0, 1e-9);
        CHECK_NEAR(sp[1].energy, 60 * ms(-20.0), 1e-12);
    }
    /* 0.2 s apart (under merge_hops): one sound */
    {
        const size_t s[2][2] = {{50, 90}, {110, 150}};
        fill(e, 300, -70.0, s, 2, -20.0);
        n = es_sound_spans(e, 300, &c, scratch, sp, 8);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(sp[0].start, 50);
        CHECK_EQ_INT(sp[0].end, 150);
    }
    /* a 20 ms blip is under min_hops: nothing */
    {
        const size_t s[1][2] = {{100, 102}};
        fill(e, 300, -70.0, s, 1, -20.0);
        CHECK_EQ_INT(es_sound_spans(e, 300, &c, scratch, sp, 8), 0);
    }
    /* hiss 5 dB under the sound: within range_db of the peak, but the quiet
     * floor (the hiss) plus margin_db is above it, so only the sound counts;
     * without the floor (no scratch) the whole stretch is sound */
    {
        const size_t s[1][2] = {{100, 160}};
        fill(e, 300, -25.0, s, 1, -12.0);
        n = es_sound_spans(e, 300, &c, scratch, sp, 8);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(sp[0].start, 100);
        CHECK_EQ_INT(sp[0].end, 160);
        n = es_sound_spans(e, 300, &c, NULL, sp, 8);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(sp[0].start, 0);
        CHECK_EQ_INT(sp[0].end, 300);
    }
    /* a soft sound 35 dB under a loud one is out of range_db; one under the
     * absolute floor is never sound */
    {
        const size_t s[1][2] = {{20, 60}};
        fill(e, 300, -90.0, s, 1, -10.0);
        for (size_t i = 200; i < 240; i++) e[i] = ms(-45.0);
        n = es_sound_spans(e, 300, &c, scratch, sp, 8);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(sp[0].start, 20);
        fill(e, 300, -120.0, s, 1, -75.0);
        CHECK_EQ_INT(es_sound_spans(e, 300, &c, scratch, sp, 8), 0);
    }
    /* more sounds than room: all counted, max written; a sound at the end */
    {
        size_t s[6][2];
        for (int k = 0; k < 6; k++) s[k][0] = 10 + 60 * (size_t)k, s[k][1] = 20 + 60 * (size_t)k;
        s[5][1] = 400;
        fill(e, 400, -70.0, (const size_t (*)[2])s, 6, -20.0);
        n = es_sound_spans(e, 400, &c, scratch, sp, 4);
        CHECK_EQ_INT(n, 6);
        CHECK_EQ_INT(sp[3].start, 190);
        CHECK_EQ_INT(es_sound_spans(e, 400, &c, scratch, sp, 8), 6);
        CHECK_EQ_INT(sp[5].end, 400);
        CHECK_EQ_INT(es_sound_spans(e, 0, &c, scratch, sp, 8), 0);
    }
    /* digital silence throughout: nothing */
    memset(e, 0, sizeof e);
    CHECK_EQ_INT(es_sound_spans(e, 300, &c, scratch, sp, 8), 0);
    CHECK_DONE();
}
