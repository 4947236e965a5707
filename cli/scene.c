/* cli/scene.c — assembling a test scene from labelled clips, with its truth. */
#include "scene.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "earshot/alloc.h"
#include "earshot/audio.h"
#include "earshot/augment.h"
#include "earshot/error.h"
#include "earshot/span.h"

#define HOPS_PER_SECOND 100   /* 10 ms hops for finding sounds */
#define MAX_EVENTS 64         /* sounds in one target part */
#define MAX_STRUNG 6          /* clips strung together into one other part */

scene_spec scene_defaults(void) {
    scene_spec s;
    memset(&s, 0, sizeof s);
    s.seconds = 1800.0;
    s.target_share = 0.25;
    s.max_event_seconds = 6.0;
    s.gap_min = 0.5;
    s.gap_max = 2.5;
    s.level_min = -32.0;
    s.level_max = -8.0;
    s.synthetic = 1;
    s.rate = 16000;
    s.seed = 1;
    return s;
}

static int add_pool(scene_spec *s, const char *model, const char *category, const char *csv,
                    char *err, size_t errlen) {
    scene_pool *p;
    if (s->n_pools == SCENE_MAX_POOLS) {
        snprintf(err, errlen, "at most %d manifests", SCENE_MAX_POOLS);
        return -1;
    }
    p = &s->pools[s->n_pools];
    memset(p, 0, sizeof *p);
    snprintf(p->model, sizeof p->model, "%s", model);
    snprintf(p->category, sizeof p->category, "%s", category);
    if (es_dataset_from_csv(&p->ds, csv, NULL) < 0) {
        snprintf(err, errlen, "%s", es_errmsg());
        return -1;
    }
    s->n_pools++;
    return 0;
}

int scene_add_targets(scene_spec *s, const char *model, const char *category, const char *csv,
                      char *err, size_t errlen) {
    if (!model[0] || strcmp(model, "-") == 0) {
        snprintf(err, errlen, "a target needs a model name");
        return -1;
    }
    return add_pool(s, model, category, csv, err, errlen);
}

int scene_add_others(scene_spec *s, const char *csv, char *err, size_t errlen) {
    return add_pool(s, "", "", csv, err, errlen);
}

void scene_free(scene_spec *s) {
    for (int i = 0; i < s->n_pools; i++) es_dataset_free(s->pools[i].ds);
    s->n_pools = 0;
}

/* ---- decks: one per (manifest, label or source), dealt in a shuffled cycle */

typedef struct {
    const scene_pool *pool;
    char kind[64];              /* a target's model, or an other sound's kind */
    int source;
    size_t *idx, n, next;
} deck;

typedef struct {
    const scene_spec *s;
    es_rng rng;
    deck *decks;
    int n_decks;
    float *out;                 /* [cap] the scene */
    size_t cap, at;             /* samples; where the next part goes */
    double target_seconds;      /* in target parts and the room tone after them */
    FILE *truth;
} builder;

/* Deck for (pool, kind, source), created when new. */
static deck *deck_for(builder *b, const scene_pool *p, const char *kind, int source) {
    deck *d;
    for (int i = 0; i < b->n_decks; i++)
        if (b->decks[i].pool == p && b->decks[i].source == source &&
            strcmp(b->decks[i].kind, kind) == 0)
            return &b->decks[i];
    d = realloc(b->decks, (size_t)(b->n_decks + 1) * sizeof *d);
    if (!d) return NULL;
    b->decks = d;
    d = &b->decks[b->n_decks++];
    memset(d, 0, sizeof *d);
    d->pool = p;
    d->source = source;
    snprintf(d->kind, sizeof d->kind, "%s", kind);
    return d;
}

/* Every clip into its deck: targets by model and source, other sounds by
 * kind (their label) and source. */
static int deal(builder *b) {
    for (int i = 0; i < b->s->n_pools; i++) {
        const scene_pool *p = &b->s->pools[i];
        for (size_t k = 0; k < es_dataset_size(p->ds); k++) {
            const es_clip *c = es_dataset_clip(p->ds, k);
            const char *kind = p->model[0] ? p->model : es_dataset_label(p->ds, c->label);
            deck *d = deck_for(b, p, kind, c->source);
            size_t *ni;
            if (!d || !(ni = realloc(d->idx, (d->n + 1) * sizeof *ni))) return -1;
            d->idx = ni;
            d->idx[d->n++] = k;
        }
    }
    for (int i = 0; i < b->n_decks; i++) es_rng_shuffle(&b->rng, b->decks[i].idx, b->decks[i].n);
    return 0;
}

static size_t deck_draw(builder *b, deck *d) {
    if (d->next == d->n) {
        es_rng_shuffle(&b->rng, d->idx, d->n);
        d->next = 0;
    }
    return d->idx[d->next++];
}

/* A source's weight among its kind's: its size, up to a cap, so that a
 * source of two clips is not played as often as one of hundreds. */
#define SOURCE_CAP 30
static double deck_weight(const deck *d) { return d->n < SOURCE_CAP ? (double)d->n : SOURCE_CAP; }

/* Speech is the commonest sound in a home, and the one models mistake for
 * their targets most: it is heard three times as often as any other kind. */
static double kind_weight(const char *kind, int target) {
    return !target && strcmp(kind, "speech") == 0 ? 3.0 : 1.0;
}

static int is_target(const deck *d) { return d->pool->model[0] != 0; }

/* A deck: a kind (a model's targets alike, other sounds by kind_weight),
 * then a source by deck_weight. NULL when there is none. */
static deck *pick(builder *b, int target) {
    const char *kinds[256];
    double wk[256], total = 0.0, u;
    int nk = 0;
    const char *kind = NULL;
    for (int i = 0; i < b->n_decks && nk < 256; i++) {
        const deck *d = &b->decks[i];
        int seen = 0;
        if (is_target(d) != target) continue;
        for (int k = 0; k < nk; k++) seen |= strcmp(kinds[k], d->kind) == 0;
        if (!seen) {
            wk[nk] = kind_weight(d->kind, target);
            total += wk[nk];
            kinds[nk++] = d->kind;
        }
    }
    if (nk == 0) return NULL;
    u = es_rng_uniform(&b->rng) * total;
    for (int k = 0; k < nk && !kind; k++)
        if ((u -= wk[k]) < 0.0 || k == nk - 1) kind = kinds[k];
    total = 0.0;
    for (int i = 0; i < b->n_decks; i++)
        if (is_target(&b->decks[i]) == target && strcmp(b->decks[i].kind, kind) == 0)
            total += deck_weight(&b->decks[i]);
    u = es_rng_uniform(&b->rng) * total;
    for (int i = 0; i < b->n_decks; i++) {
        deck *d = &b->decks[i];
        if (is_target(d) != target || strcmp(d->kind, kind) != 0) continue;
        if ((u -= deck_weight(d)) < 0.0) return d;
    }
    for (int i = b->n_decks - 1; i >= 0; i--) /* rounding: the last one */
        if (is_target(&b->decks[i]) == target && strcmp(b->decks[i].kind, kind) == 0)
            return &b->decks[i];
    return NULL;
}

/* ---- levels and sounds ------------------------------------------------------ */

static double uniform(builder *b, double lo, double hi) {
    return lo + (hi - lo) * es_rng_uniform(&b->rng);
}

/* Mean squares of x[n] per 10 ms hop into e (malloc'd); the hop count. */
static size_t hop_energies(const float *x, size_t n, int rate, double **e) {
    size_t hop = (size_t)rate / HOPS_PER_SECOND, nh = n / hop;
    *e = calloc(nh ? nh : 1, sizeof **e);
    if (!*e) return 0;
    for (size_t h = 0; h < nh; h++) {
        double s = 0.0;
        for (size_t i = 0; i < hop; i++) s += (double)x[h * hop + i] * x[h * hop + i];
        (*e)[h] = s / (double)hop;
    }
    return nh;
}

/* The gain that puts x's loudest 10 ms at level dBFS RMS (1 for silence). */
static double gain_for(const float *x, size_t n, int rate, double level) {
    double *e, peak = 0.0;
    size_t nh = hop_energies(x, n, rate, &e);
    for (size_t h = 0; h < nh; h++)
        if (e[h] > peak) peak = e[h];
    free(e);
    return peak > 1e-12 ? pow(10.0, level / 20.0) / sqrt(peak) : 1.0;
}

/* Adds x[n]·g at the builder's position (as much as fits). */
static void mix(builder *b, const float *x, size_t n, double g) {
    for (size_t i = 0; i < n && b->at + i < b->cap; i++) b->out[b->at + i] += (float)(g * x[i]);
}

static double now(const builder *b) { return (double)b->at / b->s->rate; }

/* Moves the position on by n samples (never past the scene's room). */
static void advance(builder *b, size_t n) { b->at = n < b->cap - b->at ? b->at + n : b->cap; }

static void truth_row(builder *b, const char *model, const char *label, double t0, double t1,
                      const char *category, const char *source, const char *group) {
    fprintf(b->truth, "%s\t%s\t%.3f\t%.3f\t%s\t%s\t%s\n", model, label, t0, t1, category,
            source[0] ? source : "-", group[0] ? group : "-");
}

/* Room tone only, for s seconds. */
static void gap(builder *b, double s, const char *label) {
    double t0 = now(b);
    advance(b, (size_t)(s * b->s->rate));
    truth_row(b, "-", label, t0, now(b), label, "scene", "");
}

/* ---- parts ------------------------------------------------------------------ */

/* The stretch [*from, *to) of hops to play from a target's sounds: all of
 * them, or when they last longer than max_event_seconds, a run of them
 * from a random one on. */
static void choose_stretch(builder *b, const es_span *sp, size_t ns, size_t *from, size_t *to) {
    size_t max = (size_t)(b->s->max_event_seconds * HOPS_PER_SECOND), k, j;
    if (sp[ns - 1].end - sp[0].start <= max) {
        *from = sp[0].start;
        *to = sp[ns - 1].end;
        return;
    }
    k = es_rng_below(&b->rng, ns);
    for (j = k; j + 1 < ns && sp[j + 1].end - sp[k].start <= max; j++) {
    }
    *from = sp[k].start;
    *to = sp[j].end - sp[k].start > max ? sp[k].start + max : sp[j].end;
}

/* One target clip: its sounds as events, 0.1 s of its own audio around
 * them. 1 when the clip holds no sound (skipped), -1 on failure. */
static int target_part(builder *b, deck *d, char *err, size_t errlen) {
    es_span_config sc = es_span_defaults;
    es_span sp[MAX_EVENTS];
    const es_dataset *ds = d->pool->ds;
    size_t i = deck_draw(b, d), n, nh, ns, from, to, pad = HOPS_PER_SECOND / 10, hop;
    const es_clip *c = es_dataset_clip(ds, i);
    float *x;
    double *e, t0, g;
    if (es_dataset_read_clip(ds, i, b->s->rate, &x, &n) < 0) {
        snprintf(err, errlen, "%s", es_errmsg());
        return -1;
    }
    hop = (size_t)b->s->rate / HOPS_PER_SECOND;
    nh = hop_energies(x, n, b->s->rate, &e);
    sc.merge_hops = HOPS_PER_SECOND; /* pauses under a second: one event */
    ns = nh ? es_sound_spans(e, nh, &sc, NULL, sp, MAX_EVENTS) : 0;
    free(e);
    if (ns == 0) {
        es_free(x);
        return 1;
    }
    if (ns > MAX_EVENTS) ns = MAX_EVENTS;
    choose_stretch(b, sp, ns, &from, &to);
    from = from > pad ? from - pad : 0;
    to = to + pad < nh ? to + pad : nh;
    g = gain_for(x + from * hop, (to - from) * hop, b->s->rate,
                 uniform(b, b->s->level_min, b->s->level_max));
    t0 = now(b);
    mix(b, x + from * hop, (to - from) * hop, g);
    for (size_t k = 0; k < ns; k++) {
        size_t s0 = sp[k].start > from ? sp[k].start : from, s1 = sp[k].end < to ? sp[k].end : to;
        if (s1 <= s0 + sc.min_hops) continue;
        truth_row(b, d->pool->model, es_dataset_label(ds, c->label),
                  t0 + (double)(s0 - from) / HOPS_PER_SECOND,
                  t0 + (double)(s1 - from) / HOPS_PER_SECOND, d->pool->category,
                  es_dataset_source(ds, c->source), es_dataset_group(ds, c->group));
    }
    advance(b, (to - from) * hop);
    es_free(x);
    return 0;
}

/* The next clip of the deck in group g after position, or the first one. */
static size_t same_group(const deck *d, const es_dataset *ds, int g, size_t after) {
    for (size_t k = 1; k <= d->n; k++) {
        size_t i = d->idx[(after + k) % d->n];
        if (es_dataset_clip(ds, i)->group == g) return i;
    }
    return d->idx[0];
}

/* Another sound: a stretch of 3-12 s of a clip, or clips of one group
 * strung together with short pauses. */
static int other_part(builder *b, deck *d, char *err, size_t errlen) {
    const es_dataset *ds = d->pool->ds;
    size_t want = (size_t)(uniform(b, 3.0, 12.0) * b->s->rate), start = b->at, pos, first;
    const es_clip *c;
    double level = uniform(b, b->s->level_min, b->s->level_max);
    first = deck_draw(b, d);
    pos = d->next ? d->next - 1 : 0;
    c = es_dataset_clip(ds, first);
    for (int k = 0; k < MAX_STRUNG && b->at - start < want; k++) {
        size_t i = k == 0 ? first : same_group(d, ds, c->group, pos + (size_t)k), n, off = 0;
        float *x;
        if (es_dataset_read_clip(ds, i, b->s->rate, &x, &n) < 0) {
            snprintf(err, errlen, "%s", es_errmsg());
            return -1;
        }
        if (n > want - (b->at - start)) { /* a long clip: a random stretch of it */
            off = es_rng_below(&b->rng, n - (want - (b->at - start)) + 1);
            n = want - (b->at - start);
        }
        mix(b, x + off, n, gain_for(x + off, n, b->s->rate, level));
        advance(b, n);
        es_free(x);
        if (b->at - start < want) advance(b, (size_t)(uniform(b, 0.2, 0.6) * b->s->rate));
    }
    truth_row(b, "-", d->kind, (double)start / b->s->rate, now(b), d->kind,
              es_dataset_source(ds, c->source), es_dataset_group(ds, c->group));
    return 0;
}

/* Synthetic noise of a random colour and level, faded in and out. */
static void noise_part(builder *b) {
    static const char *const colours[] = {"white", "pink", "brown"};
    int kind = 1 + (int)es_rng_below(&b->rng, 3);
    size_t n = (size_t)(uniform(b, 3.0, 10.0) * b->s->rate), fade = (size_t)b->s->rate / 20;
    float *x = malloc(n * sizeof *x);
    double t0 = now(b);
    if (!x) {
        advance(b, n);
        return;
    }
    es_noise(&b->rng, x, n, kind, uniform(b, -50.0, -20.0));
    for (size_t i = 0; i < fade; i++) {
        x[i] *= (float)i / (float)fade;
        x[n - 1 - i] *= (float)i / (float)fade;
    }
    mix(b, x, n, 1.0);
    advance(b, n);
    free(x);
    truth_row(b, "-", "noise", t0, now(b), "noise", "synthetic", colours[kind - 1]);
}

/* ---- the scene ----------------------------------------------------------------- */

/* The next part: a target while they are under their share of the time,
 * else another sound, noise or a quiet stretch; then room tone. */
static int next_part(builder *b, char *err, size_t errlen) {
    int rc = 0;
    deck *d;
    if (b->target_seconds < b->s->target_share * now(b) && (d = pick(b, 1))) {
        double t0 = now(b);
        for (int tries = 0; tries < 20 && (rc = target_part(b, d, err, errlen)) == 1; tries++) {
        }
        if (rc < 0) return -1;
        /* a target's share of the time counts the room tone after it: else
         * short targets and their gaps would leave no room for other sounds */
        gap(b, uniform(b, b->s->gap_min, b->s->gap_max), "room");
        b->target_seconds += now(b) - t0;
        return 0;
    } else {
        /* every kind of other sound alike, synthetic noise and silence among them */
        size_t kinds = 0, r;
        for (int i = 0; i < b->n_decks; i++) kinds += !is_target(&b->decks[i]);
        r = es_rng_below(&b->rng, 8);
        if (b->s->synthetic && (kinds == 0 || r == 0)) {
            noise_part(b);
        } else if (b->s->synthetic && r == 1) {
            gap(b, uniform(b, 2.0, 8.0), "silence");
        } else if ((d = pick(b, 0))) {
            if (other_part(b, d, err, errlen) < 0) return -1;
        } else {
            noise_part(b);
        }
    }
    gap(b, uniform(b, b->s->gap_min, b->s->gap_max), "room");
    return 0;
}

static int write_truth_header(builder *b, const char *path, char *tmp, size_t tmplen,
                              char *err, size_t errlen) {
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
    if (!(b->truth = fopen(tmp, "w"))) {
        snprintf(err, errlen, "cannot write '%s'", tmp);
        return -1;
    }
    fprintf(b->truth, "model\tlabel\tonset\toffset\tcategory\tsource\tgroup\n");
    return 0;
}

int scene_build(const scene_spec *s, const char *wav, const char *truth, char *err,
                size_t errlen) {
    builder b;
    char tmp[4200];
    int rc = -1;
    memset(&b, 0, sizeof b);
    b.s = s;
    es_rng_seed(&b.rng, s->seed);
    /* a part may run past the length by its own: 12 s, or a target's cap */
    b.cap = (size_t)((s->seconds + s->max_event_seconds + s->gap_max + 30.0) * s->rate);
    if (!(b.out = malloc(b.cap * sizeof *b.out)) || deal(&b) < 0) {
        snprintf(err, errlen, "out of memory for a scene of %.0f s", s->seconds);
        goto out;
    }
    if (write_truth_header(&b, truth, tmp, sizeof tmp, err, errlen) < 0) goto out;
    es_noise(&b.rng, b.out, b.cap, 2, -62.0); /* a quiet room under everything */
    gap(&b, 1.5, "room");
    while (now(&b) < s->seconds)
        if (next_part(&b, err, errlen) < 0) goto out;
    gap(&b, 2.0, "room"); /* the last windows hear the last sound out */
    for (size_t i = 0; i < b.at; i++)
        b.out[i] = b.out[i] > 1.0f ? 1.0f : b.out[i] < -1.0f ? -1.0f : b.out[i];
    if (fclose(b.truth) != 0) {
        b.truth = NULL;
        snprintf(err, errlen, "cannot write '%s'", tmp);
        goto out;
    }
    b.truth = NULL;
    if (es_audio_write_wav(wav, b.out, b.at, s->rate) < 0) {
        snprintf(err, errlen, "%s", es_errmsg());
        goto out;
    }
    if (rename(tmp, truth) != 0) {
        snprintf(err, errlen, "cannot write '%s'", truth);
        goto out;
    }
    rc = 0;
out:
    if (b.truth) fclose(b.truth);
    if (rc < 0) unlink(tmp);
    for (int i = 0; i < b.n_decks; i++) free(b.decks[i].idx);
    free(b.decks);
    free(b.out);
    return rc;
}
