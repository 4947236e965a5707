/* core/sampler.c — weighted clip draws and the sounds of long clips. */
#include "sampler.h"

#include <math.h>
#include <string.h>

#include "earshot/span.h"
#include "internal.h"

#define HOPS_PER_SECOND 100

int es__draw_init(es__draw *d, const double *w, size_t n) {
    double s = 0.0;
    memset(d, 0, sizeof *d);
    if (n == 0) return es__fail(ES_EEMPTY, "nothing to draw from");
    if (!(d->cum = es__malloc_array(n, sizeof *d->cum)))
        return es__fail(ES_ENOMEM, "out of memory for clip weights");
    for (size_t i = 0; i < n; i++) {
        if (!(w[i] >= 0.0)) {
            es__free(d->cum);
            d->cum = NULL;
            return es__fail(ES_EINVAL, "clip weight %zu is %g", i, w[i]);
        }
        d->cum[i] = (s += w[i]);
    }
    if (!(s > 0.0)) {
        es__free(d->cum);
        d->cum = NULL;
        return es__fail(ES_EINVAL, "every clip weighs nothing");
    }
    d->n = n;
    return 0;
}

size_t es__draw_pick(const es__draw *d, es_rng *r) {
    double u = es_rng_uniform(r) * d->cum[d->n - 1];
    size_t lo = 0, hi = d->n - 1;
    while (lo < hi) { /* the first running sum above u */
        size_t mid = lo + (hi - lo) / 2;
        if (d->cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

void es__draw_free(es__draw *d) {
    es__free(d->cum);
    memset(d, 0, sizeof *d);
}

int es__balanced_weights(const int *kind, const int *source, size_t n,
                         const double *kind_weight, double *w) {
    int nk = 0, ns = 0;
    size_t *count;
    int *sources_of;
    for (size_t i = 0; i < n; i++) {
        if (kind[i] < 0 || source[i] < 0) return es__fail(ES_EINVAL, "negative key");
        if (kind[i] >= nk) nk = kind[i] + 1;
        if (source[i] >= ns) ns = source[i] + 1;
    }
    count = es__calloc(n ? (size_t)nk * (size_t)ns : 1, sizeof *count);
    sources_of = es__calloc(nk ? (size_t)nk : 1, sizeof *sources_of);
    if (!count || !sources_of) {
        es__free(count);
        es__free(sources_of);
        return es__fail(ES_ENOMEM, "out of memory for clip weights");
    }
    double *root = es__calloc(nk ? (size_t)nk : 1, sizeof *root); /* per kind: sum of sqrt(n) */
    if (!root) {
        es__free(count);
        es__free(sources_of);
        return es__fail(ES_ENOMEM, "out of memory for clip weights");
    }
    for (size_t i = 0; i < n; i++)
        if (count[(size_t)kind[i] * ns + source[i]]++ == 0) sources_of[kind[i]]++;
    for (int k = 0; k < nk; k++)
        for (int j = 0; j < ns; j++) root[k] += sqrt((double)count[(size_t)k * ns + j]);
    for (size_t i = 0; i < n; i++) {
        double kw = kind_weight ? kind_weight[kind[i]] : 1.0, c = (double)count[(size_t)kind[i] * ns + source[i]];
        w[i] = kw * (sqrt(c) / root[kind[i]]) / c;
    }
    es__free(root);
    es__free(count);
    es__free(sources_of);
    return 0;
}

/* The spans of one clip, appended to the lists (capacity *cap). */
static int find_one(es__sounds *s, const float *x, size_t n, int rate, size_t *total,
                    size_t *cap) {
    size_t hop = (size_t)rate / HOPS_PER_SECOND, nh = n / hop, ns;
    double *e = es__malloc_array(nh ? 2 * nh : 1, sizeof *e);
    es_span sp[64];
    if (!e) return es__fail(ES_ENOMEM, "out of memory finding sounds");
    for (size_t h = 0; h < nh; h++) {
        double a = 0.0;
        for (size_t k = 0; k < hop; k++) a += (double)x[h * hop + k] * x[h * hop + k];
        e[h] = a / (double)hop;
    }
    ns = es_sound_spans(e, nh, &es_span_defaults, e + nh, sp, 64);
    es__free(e);
    if (ns > 64) ns = 64;
    if (*total + ns > *cap) {
        size_t nc = (*cap + ns) * 2, *a = es__realloc(s->start, nc * sizeof *a), *b;
        if (!a) return es__fail(ES_ENOMEM, "out of memory finding sounds");
        s->start = a;
        if (!(b = es__realloc(s->len, nc * sizeof *b)))
            return es__fail(ES_ENOMEM, "out of memory finding sounds");
        s->len = b;
        *cap = nc;
    }
    for (size_t k = 0; k < ns; k++) {
        s->start[*total + k] = sp[k].start * hop;
        s->len[*total + k] = (sp[k].end - sp[k].start) * hop;
    }
    *total += ns;
    return (int)ns;
}

int es__sounds_find(es__sounds *s, const float *const *x, const size_t *n_x, size_t n, int rate,
                    size_t min_n) {
    size_t total = 0, cap = 0;
    memset(s, 0, sizeof *s);
    s->off = es__calloc(n ? n : 1, sizeof *s->off);
    s->count = es__calloc(n ? n : 1, sizeof *s->count);
    if (!s->off || !s->count) {
        es__sounds_free(s);
        return es__fail(ES_ENOMEM, "out of memory finding sounds");
    }
    for (size_t i = 0; i < n; i++) {
        int k;
        s->off[i] = total;
        if (!x[i] || n_x[i] <= min_n) continue;
        if ((k = find_one(s, x[i], n_x[i], rate, &total, &cap)) < 0) {
            es__sounds_free(s);
            return k;
        }
        s->count[i] = (size_t)k;
    }
    return 0;
}

size_t es__sounds_crop(const es__sounds *s, size_t i, size_t n, size_t win, es_rng *r) {
    size_t k, st, len, lead, a;
    if (!s->count || !s->count[i] || n <= win) return (size_t)-1;
    k = s->off[i] + es_rng_below(r, s->count[i]);
    st = s->start[k];
    len = s->len[k] < win ? s->len[k] : win;
    /* the sound's start lands anywhere that keeps as much of it as fits */
    lead = es_rng_below(r, win - len + 1);
    a = st > lead ? st - lead : 0;
    return a + win <= n ? a : n - win;
}

void es__sounds_free(es__sounds *s) {
    es__free(s->off);
    es__free(s->count);
    es__free(s->start);
    es__free(s->len);
    memset(s, 0, sizeof *s);
}
