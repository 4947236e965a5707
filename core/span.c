/* core/span.c — sounds in a run of hop energies. */
#include "earshot/span.h"

#include <math.h>
#include <string.h>

/* 30 dB under the peak keeps a word's soft ends and a bark's tail; 10 dB
 * over the floor keeps a recording's steady hiss out; merging over 0.3 s at
 * 10 ms hops joins the stops inside a word and a bark's double beat. */
const es_span_config es_span_defaults = {30.0, 10.0, 0.1, -70.0, 30, 3};

static double db(double ms) { return 10.0 * log10(ms + 1e-20); }

/* The k-th smallest of x[n] (k < n), reordering x (quickselect). */
static double kth(double *x, size_t n, size_t k) {
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, st = lo;
        double p = x[mid], t;
        x[mid] = x[hi];
        x[hi] = p;
        for (size_t i = lo; i < hi; i++)
            if (x[i] < p) {
                t = x[i];
                x[i] = x[st];
                x[st++] = t;
            }
        x[hi] = x[st];
        x[st] = p;
        if (k == st) return p;
        if (k < st) hi = st - 1;
        else lo = st + 1;
    }
    return x[k];
}

size_t es_sound_spans(const double *energy, size_t n, const es_span_config *c, double *scratch,
                      es_span *out, size_t max) {
    double peak = 0.0, thr;
    size_t count = 0, i = 0;
    es_span cur = {0, 0, 0.0, 0.0};
    int open = 0;
    if (n == 0) return 0;
    for (size_t k = 0; k < n; k++)
        if (energy[k] > peak) peak = energy[k];
    thr = db(peak) - c->range_db;
    if (thr < c->floor_db) thr = c->floor_db;
    if (scratch) {
        double q;
        memcpy(scratch, energy, n * sizeof *scratch);
        q = db(kth(scratch, n, (size_t)(c->floor_percentile * (double)(n - 1))));
        if (q + c->margin_db > thr) thr = q + c->margin_db;
    }
    for (i = 0; i < n; i++) {
        int loud = db(energy[i]) >= thr;
        if (loud && open && i - cur.end <= c->merge_hops) {
            cur.end = i + 1; /* joins the sound before (a gap shorter than merge) */
        } else if (loud) {
            if (open && cur.end - cur.start >= c->min_hops) {
                if (count < max) out[count] = cur;
                count++;
            }
            cur.start = i;
            cur.end = i + 1;
            cur.peak_db = -INFINITY;
            cur.energy = 0.0;
            open = 1;
        }
        if (!loud) continue;
        if (db(energy[i]) > cur.peak_db) cur.peak_db = db(energy[i]);
        cur.energy += energy[i];
    }
    if (open && cur.end - cur.start >= c->min_hops) {
        if (count < max) out[count] = cur;
        count++;
    }
    return count;
}
