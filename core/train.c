/* core/train.c — the training loop: examples, batches, schedule, validation. */
#include "earshot/train.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "earshot/classify.h"
#include "checkpoint.h"
#include "earshot/features.h"
#include "internal.h"
#include "sampler.h"

es_train_config es_train_defaults(void) {
    es_train_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 30;
    c.batch = 32;
    c.threads = 1;
    c.opt = es_opt_defaults(ES_OPT_ADAMW);
    c.opt.lr = 3e-3f;
    c.clip_norm = 5.0f;
    c.lr_final = 0.02;
    c.warmup_epochs = 1;
    c.seed = 1;
    c.aug = es_augment_none();
    c.background_fraction = 0.15;
    c.balance = 1;
    return c;
}

static const char *const layer_names[] = {"all", "top", "head"};

const char *es_layers_name(es_layers l) {
    return (unsigned)l < sizeof layer_names / sizeof *layer_names ? layer_names[l] : NULL;
}

int es_layers_parse(const char *name) {
    for (size_t i = 0; name && i < sizeof layer_names / sizeof *layer_names; i++)
        if (strcmp(name, layer_names[i]) == 0) return (int)i;
    return -1;
}

static size_t split_index(es_split s, size_t i) { return s.idx ? s.idx[i] : i; }

/* Dataset label k → model label index, by name. */
static int map_labels(const es_model *m, const es_dataset *ds, int *map) {
    for (int k = 0; k < es_dataset_num_labels(ds); k++) {
        map[k] = es_model_label_index(m, es_dataset_label(ds, k));
        if (map[k] < 0)
            return es__fail(ES_EINVAL, "label '%s' of the data is not one of the model's labels",
                            es_dataset_label(ds, k));
    }
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int es_evaluate(const es_model *model, es_split split, int *confusion) {
    es_classifier *c = NULL;
    int K = es_model_num_labels(model), map[ES_MAX_LABELS], rc, done = 0;
    float post[ES_MAX_LABELS];
    if (es_dataset_num_labels(split.ds) > ES_MAX_LABELS)
        return es__fail(ES_EINVAL, "too many labels in the data");
    if ((rc = map_labels(model, split.ds, map)) < 0) return rc;
    if ((rc = es_classifier_create(&c, model)) < 0) return rc;
    for (size_t i = 0; i < split.n; i++) {
        const es_clip *clip = es_dataset_clip(split.ds, split_index(split, i));
        int top = 0;
        if (!clip->x) {
            rc = es__fail(ES_ESTATE, "'%s' is not loaded", clip->path);
            break;
        }
        if ((rc = es_classify(c, clip->x, clip->n, post, NULL)) < 0) break;
        for (int k = 1; k < K; k++)
            if (post[k] > post[top]) top = k;
        confusion[map[clip->label] * K + top]++;
        done++;
    }
    es_classifier_free(c);
    return rc < 0 ? rc : done;
}

typedef struct {
    const es_model *model;
    const es_train_config *cfg;
    es_augment aug;               /* cfg->aug, placed as the model's features align */
    es_split train;
    const es_dataset *const *bg;  /* background clip collections */
    int n_bg;
    size_t bg_total;
    int map[ES_MAX_LABELS], bg_label, K;
    es_features *fx;
    es_speed_bank *speed;         /* the speed changes' converters */
    size_t clip_n, F, T, ws_n;
    float *wave, *ws;
    es_rng rng;
    es__draw tdraw;               /* balance_sources: which training clip (n 0: uniform) */
    es__draw bgdraw;              /* background_balance: which background clip */
    es__sounds sounds;            /* crop_to_sound: the sounds of long training clips */
} example_maker;

/* A random background clip, every clip of every collection alike; NULL
 * without any. */
static const es_clip *pick_background(example_maker *e) {
    size_t k;
    if (e->bg_total == 0) return NULL;
    k = e->bgdraw.n ? es__draw_pick(&e->bgdraw, &e->rng) : es_rng_below(&e->rng, e->bg_total);
    for (int i = 0; i < e->n_bg; i++) {
        if (k < es_dataset_size(e->bg[i])) return es_dataset_clip(e->bg[i], k);
        k -= es_dataset_size(e->bg[i]);
    }
    return NULL;
}

/* A random loudness contour on x[n]: fades in and out of random lengths,
 * so that background sounds start and stop inside windows as real ones do
 * (a rumble of thunder, a passing car). */
static void envelope(es_rng *r, float *x, size_t n) {
    size_t a = es_rng_below(r, n / 2 + 1), b = es_rng_below(r, n / 2 + 1);
    for (size_t i = 0; i < a; i++) x[i] *= (float)((double)i / (double)a);
    for (size_t i = 0; i < b; i++) x[n - 1 - i] *= (float)((double)i / (double)b);
}

/* Noise switched on and off abruptly inside the window (a burst of hiss,
 * a tap running, a fan starting): quiet, noise over a random span of 0.1
 * to 0.9 of the window, quiet. Without them a model learns
 * that a sudden loud onset is a sound of its classes (cat/dog took bursts
 * of hiss for cats). The quiet around a burst is mostly a room's faint
 * hiss, 15-55 dB below it, and sometimes digital silence: with silence
 * alone, a burst of hiss that ended into a quiet room still read as a cat
 * (0.78 on the window of its end, daemon scenes). */
static void burst(es_rng *r, float *x, size_t n, double level_db) {
    size_t len = (size_t)((0.1 + 0.8 * es_rng_uniform(r)) * (double)n);
    size_t at = es_rng_below(r, n - len + 1);
    for (size_t i = 0; i < at; i++) x[i] = 0.0f;
    for (size_t i = at + len; i < n; i++) x[i] = 0.0f;
    if (es_rng_uniform(r) < 0.7) {
        double amp = pow(10.0, (level_db - 15.0 - 40.0 * es_rng_uniform(r)) / 20.0);
        for (size_t i = 0; i < n; i++) x[i] += (float)(amp * es_rng_normal(r));
    }
}

/* A background example into wave[clip_n]; fails only when resampling a
 * background clip (speed augmentation) runs out of memory. */
static int background_wave(example_maker *e) {
    double u = es_rng_uniform(&e->rng);
    size_t nb = e->bg_total;
    /* background_clips: the share of recorded sounds; the rest keeps the
     * proportions below (quiet room 0.15, noise 0.3, tones 0.15 of 0.6) */
    if (nb && e->cfg->background_clips > 0.0) u *= 0.6 / (1.0 - e->cfg->background_clips);
    if (u < 0.15) {
        es_noise(&e->rng, e->wave, e->clip_n, 0, 0.0); /* a quiet room */
    } else if (u < 0.45 || (nb == 0 && u < 0.7)) {
        /* noise of any colour from barely audible to loud */
        if (e->cfg->background_bursts > 0.0) {
            int colour = 1 + (int)es_rng_below(&e->rng, 3);
            double level = -60.0 + 55.0 * es_rng_uniform(&e->rng);
            es_noise(&e->rng, e->wave, e->clip_n, colour, level);
            /* hiss (white, pink) in bursts; brown noise stays whole: a rumble
             * that starts and stops is too like a growl to teach as nothing
             * (measured: with brown bursts too, two cats of a held-out fold
             * became background) */
            if (colour < 3 && es_rng_uniform(&e->rng) < e->cfg->background_bursts)
                burst(&e->rng, e->wave, e->clip_n, level);
            else if (es_rng_uniform(&e->rng) < 0.5)
                envelope(&e->rng, e->wave, e->clip_n);
        } else {
            /* as before bursts existed, draw for draw: recipes without them
             * train exactly the models they trained */
            es_noise(&e->rng, e->wave, e->clip_n, 1 + (int)es_rng_below(&e->rng, 3),
                     -60.0 + 55.0 * es_rng_uniform(&e->rng));
            if (es_rng_uniform(&e->rng) < 0.5) envelope(&e->rng, e->wave, e->clip_n);
        }
    } else if (u < 0.6 || nb == 0) {
        es_noise(&e->rng, e->wave, e->clip_n, 4, -50.0 + 45.0 * es_rng_uniform(&e->rng));
        envelope(&e->rng, e->wave, e->clip_n);
    } else {
        /* another sound: whole, or (half the time) only its start at the
         * window's end or only its end at the window's start. Sounds begin
         * and end inside live windows; without these, a digits model whose
         * words sit at the window's end took the first half-second of a
         * dog's bark for "four" (0.80, daemon test scene). */
        const es_clip *c = pick_background(e);
        es_augment a = e->aug;
        const float *x = c->x;
        size_t n = c->n;
        a.noise_p = 0.0;
        if (es_rng_uniform(&e->rng) < 0.5) {
            size_t k = (size_t)((0.1 + 0.8 * es_rng_uniform(&e->rng)) * (double)e->clip_n);
            a.shift = 0.0;
            a.align_end = es_rng_uniform(&e->rng) < 0.5;
            if (k < n) {
                if (!a.align_end) x += n - k;
                n = k;
            }
        }
        return es_augment_wave(&a, &e->rng, e->wave, e->clip_n, x, n, NULL, 0, e->ws,
                               es_model_features(e->model)->sample_rate, e->speed);
    }
    return 0;
}

/* One example: features into m[F*T], its label into *label. */
static int make_example(example_maker *e, float *m, int *label, int background) {
    int rc;
    if (background) {
        if ((rc = background_wave(e)) < 0) return rc;
        *label = e->bg_label;
    } else {
        size_t j = e->tdraw.n ? es__draw_pick(&e->tdraw, &e->rng) : es_rng_below(&e->rng, e->train.n);
        size_t i = split_index(e->train, j), at;
        const es_clip *c = es_dataset_clip(e->train.ds, i);
        const float *noise = NULL, *x = c->x;
        size_t n_noise = 0, n = c->n;
        const es_clip *b = pick_background(e);
        if (b) {
            noise = b->x;
            n_noise = b->n;
        }
        /* a long clip: a window around one of its sounds, not a stretch of
         * the silence between them labelled as the sound */
        if (e->sounds.count && (at = es__sounds_crop(&e->sounds, j, n, e->clip_n, &e->rng)) !=
                                   (size_t)-1) {
            x += at;
            n = e->clip_n;
        }
        if ((rc = es_augment_wave(&e->aug, &e->rng, e->wave, e->clip_n, x, n, noise, n_noise,
                                  e->ws, es_model_features(e->model)->sample_rate, e->speed)) < 0)
            return rc;
        *label = e->map[c->label];
    }
    if ((rc = es_features_compute(e->fx, e->wave, e->clip_n, m, e->T)) < 0) return rc;
    es_augment_spec(&e->aug, &e->rng, m, e->F, e->T, e->ws);
    return 0;
}

/* One batch: B examples into x[B*F*T] and labels[B], background ones with
 * the configured share. */
static int make_batch(example_maker *e, float *x, int *labels, int B) {
    size_t per_ex = e->F * e->T;
    unsigned fp = es__denormals_off();
    int rc = 0;
    for (int b = 0; b < B && rc >= 0; b++) {
        int bgex = e->bg_label >= 0 && es_rng_uniform(&e->rng) < e->cfg->background_fraction;
        rc = make_example(e, x + (size_t)b * per_ex, &labels[b], bgex);
    }
    es__denormals_restore(fp);
    return rc < 0 ? rc : 0;
}

/* With threads > 1 or prefetch, the next batch is made on a helper thread
 * while the network trains on this one: augmentation and features are about
 * a third of a step (perf, digits fine-tuning), time every thread of the
 * network would otherwise spend waiting. The
 * helper draws from the one generator in the same order the loop would, and
 * never beyond the epoch, so a run is the same bit for bit either way (and a
 * checkpoint at an epoch's end holds the generator as the loop left it).
 *
 * With layers frozen, they run on the batch before the network's thread
 * gets it, which then starts at the first layer that learns: fine-tuning
 * the top block, the frozen blocks were a third of that thread's time,
 * which was the job's wall time, while the helper idled a third of its
 * own. Once the batch is made, the helper (on its own copy of the network,
 * built for inference, as frozen layers run in training) and the network's
 * thread, when its step is done, take its samples one at a time: sample by
 * sample the frozen layers compute what they compute on the whole batch, so
 * who ran which changes nothing. */
typedef struct {
    example_maker *e;
    int B;
    float *x[2];               /* [B*F*T] each: one trained on, one being made */
    int *labels[2];            /* [B] each */
    es_net *trunk;             /* the helper's copy for the frozen layers [0, first), or NULL */
    int first;
    size_t per_t;              /* floats of one sample's input to layer first */
    float *t[2];               /* [B*per_t] each: the frozen layers' output */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int started;
    int want, slot, busy, quit, rc; /* under lock */
    int made, next, left;      /* under lock: batch made; next sample to claim; unfinished */
    char err[256];             /* when rc < 0, es_errmsg() of the thread that failed */
    void *user;                /* the run's callback user, for cfg->helper_start */
} prefetcher;

/* The frozen layers on sample i of batch slot, on net, into t[slot]. */
static int trunk_sample(prefetcher *p, es_net *net, int slot, int i) {
    size_t per_x = p->e->F * p->e->T;
    const float *y;
    int rc = es_net_forward_layers(net, p->x[slot] + (size_t)i * per_x, 1, ES_MODE_INFER, 0,
                                   p->first);
    if (rc < 0) return rc;
    if (!(y = es_net_activation(net, p->first - 1)))
        return es__fail(ES_ESTATE, "layer %d keeps no output", p->first - 1);
    memcpy(p->t[slot] + (size_t)i * p->per_t, y, p->per_t * sizeof *y);
    return 0;
}

/* Claims the made batch's samples one at a time and runs the frozen layers
 * on them with net until none is left to claim; whoever finishes the last
 * one ends the request. After a failure the rest are only counted. Called
 * and returns with the lock held. */
static void share_trunk(prefetcher *p, es_net *net) {
    int slot = p->slot;
    while (p->next < p->B) {
        int i = p->next++, rc = p->rc;
        pthread_mutex_unlock(&p->lock);
        if (rc >= 0) rc = trunk_sample(p, net, slot, i);
        pthread_mutex_lock(&p->lock);
        if (rc < 0 && p->rc >= 0) {
            p->rc = rc;
            /* the message lives in this thread's slot: hand it over */
            snprintf(p->err, sizeof p->err, "%s", es_errmsg());
        }
        if (--p->left == 0) {
            p->busy = 0;
            pthread_cond_broadcast(&p->cv);
        }
    }
}

static void *prefetch_main(void *arg) {
    prefetcher *p = arg;
    if (p->e->cfg->helper_start) p->e->cfg->helper_start(p->user);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        int slot, rc;
        while (!p->want && !p->quit) pthread_cond_wait(&p->cv, &p->lock);
        if (p->quit) break;
        p->want = 0;
        slot = p->slot;
        pthread_mutex_unlock(&p->lock);
        rc = make_batch(p->e, p->x[slot], p->labels[slot], p->B);
        pthread_mutex_lock(&p->lock);
        if (rc < 0 || !p->trunk) {
            p->rc = rc;
            if (rc < 0) snprintf(p->err, sizeof p->err, "%s", es_errmsg());
            p->busy = 0;
        } else {
            p->made = 1; /* its samples are open to both threads */
        }
        pthread_cond_broadcast(&p->cv);
        if (p->busy) share_trunk(p, p->trunk);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Asks for a batch into slot; the previous request must have been waited. */
static void prefetch_request(prefetcher *p, int slot) {
    pthread_mutex_lock(&p->lock);
    p->slot = slot;
    p->want = 1;
    p->busy = 1;
    p->rc = 0;
    p->made = 0;
    p->next = 0;
    p->left = p->B;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->lock);
}

/* Waits for the batch requested last, running the frozen layers on its
 * unclaimed samples with net meanwhile (net NULL: only waits); the batch's
 * result. */
static int prefetch_wait(prefetcher *p, es_net *net) {
    int rc;
    pthread_mutex_lock(&p->lock);
    while (p->busy && !(net && p->made && p->next < p->B)) pthread_cond_wait(&p->cv, &p->lock);
    if (p->busy && net) share_trunk(p, net);
    while (p->busy) pthread_cond_wait(&p->cv, &p->lock);
    rc = p->rc;
    pthread_mutex_unlock(&p->lock);
    return rc < 0 ? es__fail(rc, "%s", p->err) : rc;
}

/* trunk (or NULL) runs layers [0, first) into t0 and t1, per_t floats a
 * sample. */
static int prefetch_start(prefetcher *p, example_maker *e, int B, float *x0, int *l0, float *x1,
                          int *l1, es_net *trunk, int first, size_t per_t, float *t0, float *t1,
                          void *user) {
    memset(p, 0, sizeof *p);
    p->trunk = trunk;
    p->first = first;
    p->per_t = per_t;
    p->t[0] = t0;
    p->t[1] = t1;
    p->e = e;
    p->user = user;
    p->B = B;
    p->x[0] = x0;
    p->x[1] = x1;
    p->labels[0] = l0;
    p->labels[1] = l1;
    if (pthread_mutex_init(&p->lock, NULL) != 0) goto fail;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        goto fail;
    }
    if (pthread_create(&p->thread, NULL, prefetch_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->lock);
        goto fail;
    }
    p->started = 1;
    return 0;
fail:
    return es__fail(ES_ENOMEM, "cannot start the batch-making thread");
}

/* Finishes a batch in flight, then stops the helper. */
static void prefetch_stop(prefetcher *p) {
    if (!p->started) return;
    prefetch_wait(p, NULL);
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->lock);
    p->started = 0;
}

static int validate(const es_model *model, es_split val, float *acc) {
    int K = es_model_num_labels(model), rc, correct = 0, total = 0;
    int *conf = es__calloc((size_t)K * K, sizeof *conf);
    if (!conf) return es__fail(ES_ENOMEM, "out of memory validating");
    if ((rc = es_evaluate(model, val, conf)) < 0) {
        es__free(conf);
        return rc;
    }
    for (int k = 0; k < K; k++) correct += conf[k * K + k];
    for (int k = 0; k < K * K; k++) total += conf[k];
    *acc = total ? (float)correct / (float)total : 0.0f;
    es__free(conf);
    return 0;
}

/* The first epoch whose weights go into the model's running mean. */
static int average_from(const es_train_config *cfg) {
    return cfg->average_epochs > 1 ? cfg->epochs - cfg->average_epochs + 1 : cfg->epochs + 1;
}

/* How many epochs' weights the model holds the mean of after epoch. */
static int averaged_after(const es_train_config *cfg, int epoch) {
    int from = average_from(cfg);
    return epoch >= from ? epoch - from + 1 : 0;
}

/* Restores a checkpoint into the run, after checking it belongs to it. */
static int resume(const es_train_config *cfg, es_model *model, es_net *net, es_model *best,
                  es_optimizer *opt, size_t n_train, es_rng *rng, int *first_epoch,
                  long *step_no, float *best_acc) {
    es__ckpt_info ci;
    int rc = es__checkpoint_load(cfg->resume, model, net, best, model, opt, &ci);
    if (rc < 0) return rc;
    if (ci.epochs != cfg->epochs || ci.batch != cfg->batch || ci.seed != cfg->seed ||
        ci.n_train != n_train)
        return es__fail(ES_ECONFIG, "%s: the checkpoint is of a run with %d epochs, batch %d, "
                        "seed %llu and %zu training clips; this one has %d, %d, %llu and %zu",
                        cfg->resume, ci.epochs, ci.batch, (unsigned long long)ci.seed,
                        ci.n_train, cfg->epochs, cfg->batch, (unsigned long long)cfg->seed,
                        n_train);
    if (ci.averaged != averaged_after(cfg, ci.epoch))
        return es__fail(ES_ECONFIG, "%s: the checkpoint's run averages the last %d epochs' "
                        "weights differently (after epoch %d it held %d, this run would hold %d)",
                        cfg->resume, cfg->average_epochs, ci.epoch, ci.averaged,
                        averaged_after(cfg, ci.epoch));
    rng->s = ci.rng;
    es_net_set_rng_state(net, ci.net_rng);
    *first_epoch = ci.epoch + 1;
    *step_no = ci.step;
    *best_acc = ci.best_acc;
    /* while averaging, the model holds the mean (loaded above), not the net */
    return ci.averaged > 0 ? 0 : es_model_set_weights(model, net);
}

/* A background clip's kind: its label in a manifest with sources, else its
 * whole collection; *kinds grows as names are met. */
static int kind_of(const es_dataset *ds, int d, const es_clip *c, char (*names)[64], int *n) {
    char k[64];
    int nsrc = es_dataset_num_sources(ds);
    if (nsrc > 1 || (nsrc == 1 && es_dataset_source(ds, 0)[0]))
        snprintf(k, sizeof k, "%s", es_dataset_label(ds, c->label));
    else
        snprintf(k, sizeof k, "#%d", d);
    for (int i = 0; i < *n; i++)
        if (strcmp(names[i], k) == 0) return i;
    if (*n == 256) return es__fail(ES_ERANGE, "more than 256 kinds of background");
    snprintf(names[*n], 64, "%s", k);
    return (*n)++;
}

/* background_balance: weights over every background clip, in order. */
static int background_draw(example_maker *e) {
    char(*names)[64] = es__calloc(256, 64);
    double *w = es__malloc_array(e->bg_total, sizeof *w), kw[256];
    int *kind = es__malloc_array(e->bg_total, sizeof *kind), *src = es__malloc_array(e->bg_total, sizeof *src);
    int nk = 0, rc = 0, src_base = 0;
    size_t at = 0;
    if (!names || !w || !kind || !src) {
        rc = es__fail(ES_ENOMEM, "out of memory for background weights");
        goto out;
    }
    for (int d = 0; d < e->n_bg; d++) {
        for (size_t i = 0; i < es_dataset_size(e->bg[d]); i++, at++) {
            const es_clip *c = es_dataset_clip(e->bg[d], i);
            if ((rc = kind_of(e->bg[d], d, c, names, &nk)) < 0) goto out;
            kind[at] = rc;
            src[at] = src_base + c->source;
        }
        src_base += es_dataset_num_sources(e->bg[d]);
    }
    for (int k = 0; k < nk; k++) {
        kw[k] = 1.0;
        for (int j = 0; j < e->cfg->n_background_weights; j++)
            if (strcmp(e->cfg->background_weight_kinds[j], names[k]) == 0)
                kw[k] = e->cfg->background_weights[j];
    }
    if ((rc = es__balanced_weights(kind, src, e->bg_total, kw, w)) == 0)
        rc = es__draw_init(&e->bgdraw, w, e->bg_total);
out:
    es__free(names);
    es__free(w);
    es__free(kind);
    es__free(src);
    return rc;
}

/* balance_sources and crop_to_sound: draws and sounds over the training split. */
static int training_draw(example_maker *e) {
    size_t n = e->train.n;
    double *w = es__malloc_array(n, sizeof *w);
    int *kind = es__malloc_array(n, sizeof *kind), *src = es__malloc_array(n, sizeof *src), rc = 0;
    const float **x = es__malloc_array(n, sizeof *x);
    size_t *nx = es__malloc_array(n, sizeof *nx);
    if (!w || !kind || !src || !x || !nx) {
        rc = es__fail(ES_ENOMEM, "out of memory for clip weights");
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        const es_clip *c = es_dataset_clip(e->train.ds, split_index(e->train, j));
        kind[j] = e->map[c->label];
        src[j] = c->source;
        x[j] = c->x;
        nx[j] = c->n;
    }
    if (e->cfg->balance_sources && ((rc = es__balanced_weights(kind, src, n, NULL, w)) < 0 ||
                                    (rc = es__draw_init(&e->tdraw, w, n)) < 0))
        goto out;
    if (e->cfg->crop_to_sound)
        rc = es__sounds_find(&e->sounds, x, nx, n, es_model_features(e->model)->sample_rate,
                             e->clip_n);
out:
    es__free(w);
    es__free(kind);
    es__free(src);
    es__free(x);
    es__free(nx);
    return rc;
}

int es_train(es_model *model, es_model *best, es_split train, es_split val,
             const es_dataset *const *background, int n_background,
             const es_train_config *cfg, es_train_fn cb, void *user) {
    example_maker e;
    es_net *net = NULL, *trunk = NULL;
    es_optimizer *opt = NULL;
    float *tbuf[2] = {NULL, NULL}; /* the frozen layers' output, when they run before the step */
    size_t per_t = 0;
    int first;
    float *xs[2] = {NULL, NULL}, *cw = NULL;
    int *ls[2] = {NULL, NULL}, rc, B = cfg->batch, nbuf = cfg->threads > 1 || cfg->prefetch ? 2 : 1;
    prefetcher pf;
    size_t steps, per_ex;
    long total_steps, step_no = 0;
    float best_acc = -1.0f;
    int first_epoch = 1;
    double t0 = now_s();
    es_shape in = es_model_input_shape(model);
    const es_feature_desc *fd = es_model_features(model);

    memset(&e, 0, sizeof e);
    memset(&pf, 0, sizeof pf);
    if (train.n == 0) return es__fail(ES_EEMPTY, "no training clips");
    if (B < 1 || cfg->epochs < 1) return es__fail(ES_EINVAL, "batch and epochs must be at least 1");
    if (cfg->average_epochs < 0 || cfg->average_epochs > cfg->epochs)
        return es__fail(ES_EINVAL, "average_epochs must be from 0 to epochs (%d)", cfg->epochs);
    if (es_dataset_num_labels(train.ds) > ES_MAX_LABELS)
        return es__fail(ES_EINVAL, "too many labels in the data");
    e.model = model;
    e.cfg = cfg;
    e.aug = cfg->aug;
    e.aug.align_end = fd->align_end;
    e.train = train;
    e.bg = background;
    e.n_bg = n_background;
    for (int i = 0; i < n_background; i++) e.bg_total += es_dataset_size(background[i]);
    e.K = es_model_num_labels(model);
    e.bg_label = es_model_label_index(model, ES_BACKGROUND_LABEL);
    if ((rc = map_labels(model, train.ds, e.map)) < 0) return rc;
    e.clip_n = (size_t)lround(fd->clip_seconds * fd->sample_rate);
    e.F = (size_t)in.h;
    e.T = (size_t)in.w;
    per_ex = e.F * e.T;
    e.ws_n = es_augment_scratch(&cfg->aug, e.clip_n);
    if (e.ws_n < (size_t)in.h * (size_t)in.w) e.ws_n = (size_t)in.h * (size_t)in.w;
    es_rng_seed(&e.rng, cfg->seed);
    if ((rc = es_features_create(&e.fx, fd)) < 0) goto out;
    if ((rc = es_speed_bank_new(&e.speed, fd->sample_rate)) < 0) goto out;
    e.wave = es__malloc_array(e.clip_n, sizeof *e.wave);
    for (int i = 0; i < nbuf; i++) {
        xs[i] = es__malloc_array((size_t)B * per_ex, sizeof *xs[i]);
        ls[i] = es__malloc_array((size_t)B, sizeof *ls[i]);
        if (!xs[i] || !ls[i]) break;
    }
    cw = es__calloc((size_t)e.K, sizeof *cw);
    if (!e.wave || !xs[nbuf - 1] || !ls[nbuf - 1] || !cw) {
        rc = es__fail(ES_ENOMEM, "out of memory for training buffers");
        goto out;
    }
    e.ws = es__malloc_array(e.ws_n, sizeof *e.ws);
    if (!e.ws) {
        rc = es__fail(ES_ENOMEM, "out of memory for training buffers");
        goto out;
    }
    if ((cfg->balance_sources || cfg->crop_to_sound) && (rc = training_draw(&e)) < 0) goto out;
    if (cfg->background_balance && e.bg_total && (rc = background_draw(&e)) < 0) goto out;
    /* class weights: inverse frequency, so a majority class (64% cats) does
     * not win by default; background examples weigh 1 (balance_sources
     * draws the classes alike instead) */
    for (int k = 0; k < e.K; k++) cw[k] = 1.0f;
    if (cfg->balance && !cfg->balance_sources) {
        int counts[ES_MAX_LABELS] = {0}, present = 0;
        for (size_t i = 0; i < train.n; i++)
            counts[e.map[es_dataset_clip(train.ds, split_index(train, i))->label]]++;
        for (int k = 0; k < e.K; k++) present += counts[k] > 0;
        for (int k = 0; k < e.K; k++)
            if (counts[k] > 0) cw[k] = (float)train.n / ((float)present * (float)counts[k]);
    }
    if ((rc = es_model_instantiate(model, B, ES_NET_TRAIN, &net)) < 0) goto out;
    es_net_seed(net, cfg->seed);
    if (cfg->threads > 1 && (rc = es_net_set_threads(net, cfg->threads)) < 0) goto out;
    if (cfg->layers != ES_LAYERS_ALL &&
        (rc = es_net_freeze_before(net, cfg->layers == ES_LAYERS_TOP ? es_net_top_start(net)
                                                                      : es_net_head_start(net))) < 0)
        goto out;
    if ((rc = es_optimizer_create(&opt, net, &cfg->opt)) < 0) goto out;
    if (cfg->anchored && (rc = es_optimizer_anchor(opt)) < 0) goto out;
    steps = (train.n + (size_t)B - 1) / (size_t)B;
    total_steps = (long)steps * cfg->epochs;
    if (cfg->resume && (rc = resume(cfg, model, net, best, opt, train.n, &e.rng, &first_epoch,
                                    &step_no, &best_acc)) < 0)
        goto out;
    first = es_net_first_trainable(net);
    if (nbuf == 2 && first > 0) {
        es_shape ts = es_net_layer_output_shape(net, first - 1);
        per_t = (size_t)ts.c * (size_t)ts.h * (size_t)ts.w;
        if ((rc = es_model_instantiate(model, B, 0, &trunk)) < 0) goto out;
        for (int i = 0; i < 2; i++)
            if (!(tbuf[i] = es__malloc_array((size_t)B * per_t, sizeof *tbuf[i]))) {
                rc = es__fail(ES_ENOMEM, "out of memory for training buffers");
                goto out;
            }
    }
    if (nbuf == 2 && (rc = prefetch_start(&pf, &e, B, xs[0], ls[0], xs[1], ls[1], trunk, first,
                                          per_t, tbuf[0], tbuf[1], user)) < 0)
        goto out;

    for (int epoch = first_epoch; epoch <= cfg->epochs; epoch++) {
        es_train_progress p;
        double loss_sum = 0.0;
        long correct = 0, seen = 0;
        int held; /* epochs in the model's running mean after this one */
        memset(&p, 0, sizeof p);
        p.epoch = epoch;
        p.epochs = cfg->epochs;
        p.steps = steps;
        p.val_acc = -1.0f;
        /* no batch is being made here: an epoch's batches depend only on
         * the generator and the data, as on resuming from a checkpoint */
        es_speed_bank_reset(e.speed);
        if (pf.started) prefetch_request(&pf, 0);
        for (size_t s = 0; s < steps; s++, step_no++) {
            float loss, *x = xs[pf.started ? s & 1 : 0];
            int *labels = ls[pf.started ? s & 1 : 0];
            double warm = (double)cfg->warmup_epochs * (double)steps, lr;
            const float *z;
            if (cfg->cancel && cfg->cancel(user)) {
                rc = es__fail(ES_ECANCELED, "training was cancelled");
                goto out;
            }
            /* linear warm-up, then cosine decay to lr·lr_final */
            if (step_no < warm) {
                lr = cfg->opt.lr * (double)(step_no + 1) / warm;
            } else {
                double t = (double)(step_no - warm) / fmax(1.0, (double)total_steps - warm);
                lr = cfg->opt.lr * (cfg->lr_final + (1.0 - cfg->lr_final) * 0.5 *
                                                        (1.0 + cos(ES__PI * t)));
            }
            es_optimizer_set_lr(opt, (float)lr);
            if (pf.started) {
                if ((rc = prefetch_wait(&pf, trunk ? net : NULL)) < 0) goto out;
                if (s + 1 < steps) prefetch_request(&pf, (int)((s + 1) & 1));
            } else if ((rc = make_batch(&e, x, labels, B)) < 0) {
                goto out;
            }
            es_net_zero_grad(net);
            if (trunk) { /* the frozen layers ran in prefetch_wait and on the helper */
                rc = es_net_forward_layers(net, tbuf[s & 1], B, ES_MODE_TRAIN, first,
                                           es_net_num_layers(net));
            } else {
                rc = es_net_forward(net, x, B, ES_MODE_TRAIN);
            }
            if (rc < 0 ||
                (rc = es_net_backward(net, labels, cw, &loss)) < 0)
                goto out;
            if (cfg->clip_norm > 0.0f && (rc = es_net_clip_grad_norm(net, cfg->clip_norm, NULL)) < 0)
                goto out;
            if ((rc = es_optimizer_step(opt)) < 0) goto out;
            z = es_net_output(net);
            for (int b = 0; b < B; b++) {
                int top = 0;
                for (int k = 1; k < e.K; k++)
                    if (z[b * e.K + k] > z[b * e.K + top]) top = k;
                correct += top == labels[b];
            }
            seen += B;
            loss_sum += loss;
            p.step = s + 1;
            p.loss = (float)(loss_sum / (double)(s + 1));
            p.train_acc = (float)correct / (float)seen;
            p.seconds = now_s() - t0;
            if (cb) cb(user, &p, 0);
        }
        /* the last epochs' weights averaged: each epoch's batch-norm
         * statistics come from its last few batches alone (momentum 0.1); a
         * digits fold's held-out speaker moved over 7.6 points across the
         * last eight epochs, under 3.6 with the last ten averaged */
        held = averaged_after(cfg, epoch);
        rc = held > 0 ? es_model_average_weights(model, net, held - 1)
                      : es_model_set_weights(model, net);
        if (rc < 0) goto out;
        if (val.n > 0) {
            if ((rc = validate(model, val, &p.val_acc)) < 0) goto out;
            if (p.val_acc > best_acc) {
                best_acc = p.val_acc;
                p.best = 1;
                if (best && (rc = es_model_set_weights(best, es_model_weights(model))) < 0) goto out;
            }
        } else if (best && (rc = es_model_set_weights(best, es_model_weights(model))) < 0) {
            goto out; /* nothing held out: the best is the last */
        }
        if (cfg->checkpoint) {
            es__ckpt_info ci = {epoch, cfg->epochs, B, step_no, best_acc, cfg->seed, e.rng.s,
                                es_net_rng_state(net), train.n, held};
            if ((rc = es__checkpoint_save(cfg->checkpoint, model, net, best, model, opt, &ci)) <
                0)
                goto out;
        }
        p.seconds = now_s() - t0;
        if (cb) cb(user, &p, 1);
    }
out:
    prefetch_stop(&pf);
    es_net_free(trunk);
    es__free(tbuf[0]);
    es__free(tbuf[1]);
    es_optimizer_free(opt);
    es_net_free(net);

    es_speed_bank_free(e.speed);
    es__draw_free(&e.tdraw);
    es__draw_free(&e.bgdraw);
    es__sounds_free(&e.sounds);
    es_features_free(e.fx);
    es__free(e.wave);
    es__free(e.ws);
    for (int i = 0; i < 2; i++) {
        es__free(xs[i]);
        es__free(ls[i]);
    }
    es__free(cw);
    return rc;
}
