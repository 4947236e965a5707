/* earshot/train.h — training and evaluating models on labelled clips.
 *
 *   es_train_config cfg = es_train_defaults();
 *   es_split tr = {ds, train_idx, n_train}, va = {ds, val_idx, n_val};
 *   es_train(model, best, tr, va, backgrounds, n_backgrounds, &cfg, on_progress, NULL);
 *
 *   int *confusion = calloc(K * K, sizeof *confusion);   // rows true, columns predicted
 *   es_evaluate(model, va, confusion);
 *
 * Each example is a fresh window: the clip, augmented (earshot/augment.h),
 * through the model's own feature description, then masked. When the model
 * has a label named "background", a share of every batch is background: a
 * faint dither, white/pink/brown noise from -60 to -5 dBFS (half of it
 * fading in or out), gliding tones (horns, whistles, hums), or a random
 * stretch of the background clips (other sounds, other datasets), so that
 * live detection stays quiet on a quiet room and on sounds that are none of
 * the classes. Validation classifies whole held-out clips as `earshot classify`
 * does; the best epoch's weights go to `best`.
 */
#ifndef EARSHOT_TRAIN_H
#define EARSHOT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "earshot/augment.h"
#include "earshot/dataset.h"
#include "earshot/model.h"
#include "earshot/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ES_BACKGROUND_LABEL "background"

/* Which layers learn; the layers before them are frozen and run as at
 * inference (es_net_freeze_before). */
typedef enum {
    ES_LAYERS_ALL = 0, /* every layer */
    ES_LAYERS_TOP,     /* the last convolution onwards (its block and the head) */
    ES_LAYERS_HEAD     /* the trailing linear layers only */
} es_layers;

/* "all", "top", "head"; NULL for anything else. */
const char *es_layers_name(es_layers l);
/* The es_layers a name stands for, or -1. */
int es_layers_parse(const char *name);

typedef struct {
    int epochs, batch, threads;
    es_opt_config opt;
    float clip_norm;             /* global gradient norm cap; 0 = none */
    double lr_final;             /* cosine decay from lr to lr·lr_final */
    int warmup_epochs;           /* linear warm-up */
    int average_epochs;          /* the model is the mean of the last N epochs' weights and
                                    running statistics (0 or 1: the last epoch's alone) */
    uint64_t seed;
    es_augment aug;
    double background_fraction;  /* share of each batch that is background */
    double background_bursts;    /* share of the noise backgrounds that start and stop
                                    abruptly inside the window (0: fades only) */
    int balance;                 /* weight classes by inverse frequency */
    int balance_sources;         /* draw training clips so that every label weighs alike,
                                    and every source within a label (the dataset column
                                    "source"): then the loss is not weighted */
    int crop_to_sound;           /* a clip longer than the window is cropped around one of
                                    its sounds (earshot/span.h), not anywhere */
    double background_clips;     /* share of background examples that are background
                                    clips, in [0, 1) (0: 0.4, the rest noise and tones) */
    int background_balance;      /* draw background clips so that every kind (a
                                    manifest's label) weighs alike, and every source of a
                                    kind; a folder, or a manifest without a source
                                    column, is one kind of its own */
    int n_background_weights;    /* kinds weighing more or less than 1 */
    const char *const *background_weight_kinds;
    const double *background_weights;
    const char *checkpoint;      /* written atomically after every epoch (may be NULL) */
    const char *resume;          /* a checkpoint to go on from (may be NULL): the same
                                    recipe, data, epochs, batch and seed, and the run
                                    continues bit for bit as if never stopped */
    es_layers layers;            /* which layers learn (fine-tuning trains fewer) */
    int anchored;                /* weight decay pulls towards the model's starting
                                    weights, not 0 (es_optimizer_anchor): fine-tuning */
    int prefetch;                /* make the next batch on a helper thread while the
                                    network trains on this one (always when threads > 1);
                                    the run is the same bit for bit either way */
    void (*helper_start)(void *user); /* run first on the batch-making thread, with the
                                    callback's user (may be NULL): its priority, say */
    int (*cancel)(void *user);   /* asked between batches with the callback's user;
                                    nonzero stops the run with ES_ECANCELED (may be NULL) */
} es_train_config;

es_train_config es_train_defaults(void);

/* Clips idx[0..n) of a dataset (all of it when idx is NULL). */
typedef struct {
    const es_dataset *ds;
    const size_t *idx;
    size_t n;
} es_split;

typedef struct {
    int epoch, epochs;           /* 1-based */
    size_t step, steps;          /* batches done in this epoch */
    float loss, train_acc;       /* running means over the epoch */
    float val_acc;               /* after the epoch; -1 without validation */
    int best;                    /* this epoch improved the validation accuracy */
    double seconds;              /* since the start */
} es_train_progress;

/* Called after every batch (epoch_end 0) and after each epoch's validation
 * (epoch_end 1). */
typedef void (*es_train_fn)(void *user, const es_train_progress *p, int epoch_end);

/* Trains `model` in place (it ends with the last epoch's weights); `best`
 * (same arch, may be NULL) receives the weights of the epoch with the best
 * validation accuracy. Dataset labels are matched to the model's labels by
 * name. The datasets must be loaded at the model's sample rate. */
int es_train(es_model *model, es_model *best, es_split train, es_split val,
             const es_dataset *const *background, int n_background,
             const es_train_config *cfg, es_train_fn cb, void *user);

/* Classifies every clip of the split; confusion [K × K] (K = the model's
 * labels; rows true, columns predicted) is added to. Returns the number of
 * clips classified. */
int es_evaluate(const es_model *model, es_split split, int *confusion);

#ifdef __cplusplus
}
#endif
#endif
