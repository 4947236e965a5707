/* daemon/finetune.h — a fine-tuning job: a copy of a model learns from the
 * user's examples on its own low-priority thread while the original keeps
 * detecting.
 *
 *   ft_params p = {.epochs = 20, .lr = 1e-3, .holdout = 0.2, .seed = 1};
 *   ft_job *j;
 *   ft_start(&j, "digits", copy_of_model, examples, replay, &p, event_fd, err, sizeof err);
 *   ...                                   // main loop, woken through event_fd
 *   while ((n = ft_progress_take(j, rec, 16)) > 0) ...   // epochs done since last time
 *   if (ft_finished(j)) { ft_result r; ft_finish(j, &r); ... r.model ... }
 *
 * The job: labels the model lacks are added (its last layer grows); each
 * label's examples and the replay store's clips are split into training
 * and a held-out share; the examples are repeated so that each label's new
 * voice weighs about as much as its replayed old ones; es_train runs with
 * the model's own augmentation (or a moderate default) on one thread; then
 * old and new model are both scored on the held-out clips. The new one is
 * accepted only when it scores at least as well.
 */
#ifndef EARSHOTD_FINETUNE_H
#define EARSHOTD_FINETUNE_H
#include <stdint.h>
#include "earshot/dataset.h"
#include "earshot/model.h"
#include "earshot/train.h"

typedef struct {
    int epochs;
    double lr;
    es_layers layers;    /* which layers learn */
    int threads;         /* 1, or 2: batches made on a second thread */
    double holdout;      /* share of each label's clips held out to validate */
    uint64_t seed;
} ft_params;

typedef struct {
    int epoch, epochs;
    float loss, train_acc;
    double seconds;
} ft_progress;

typedef struct {
    int ok;              /* the job ran to the end */
    int accepted;        /* and its model is better on the held-out clips */
    int cancelled;
    double acc_before, acc_after;   /* on the held-out clips, the mean of the two
                                       groups below; -1 when none */
    double group_before[2], group_after[2]; /* of the new examples [0] and the
                                               replayed clips [1]; -1: none */
    int n_train, n_val, n_examples, n_replay;
    double seconds;
    char added[512];     /* labels the model gained, comma-separated */
    char reason[512];    /* why not accepted, or what to know */
    es_model *model;     /* the fine-tuned model (the caller's), when accepted */
} ft_result;

typedef struct ft_job ft_job;

/* Takes over base, examples and replay (replay may be NULL) whatever it
 * returns. wake_fd (an eventfd) is written after every epoch and at the end. */
int ft_start(ft_job **job, es_model *base, es_dataset *examples, es_dataset *replay,
             const ft_params *p, int wake_fd, char *err, size_t errlen);
/* Epochs finished since the last call, oldest first (at most max). */
int ft_progress_take(ft_job *j, ft_progress *out, int max);
/* The newest progress (epoch 0 before the first). */
ft_progress ft_progress_last(ft_job *j);
void ft_cancel(ft_job *j);
int ft_finished(ft_job *j);
/* Joins the thread, fills r and frees the job. */
void ft_finish(ft_job *j, ft_result *r);
#endif
