/* core/checkpoint.h — save and restore a training run between epochs. */
#ifndef ES_CHECKPOINT_H
#define ES_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "earshot/model.h"
#include "earshot/nn.h"

typedef struct {
    int epoch, epochs, batch;   /* epochs done, of epochs; batch size */
    long step;                  /* batches done in the whole run */
    float best_acc;             /* best validation accuracy so far (-1: none yet) */
    uint64_t seed, rng, net_rng;/* the run's seed; example and dropout generators */
    size_t n_train;             /* training clips, a check that the data is the same */
    int averaged;               /* epochs in the running mean of weights (0: none) */
} es__ckpt_info;

/* Writes path atomically: net's tensors, best's weights (may be NULL), the
 * running mean of info->averaged epochs' weights held by avg (when
 * info->averaged > 0), the optimizer's state, model's metadata and info. */
int es__checkpoint_save(const char *path, const es_model *model, const es_net *net,
                        const es_model *best, const es_model *avg, es_optimizer *opt,
                        const es__ckpt_info *info);

/* Restores what es__checkpoint_save wrote into net, best (may be NULL),
 * avg (when info->averaged > 0) and opt, after checking that model (the
 * recipe's) has the same labels, features and arch; info gets the
 * counters. */
int es__checkpoint_load(const char *path, const es_model *model, es_net *net, es_model *best,
                        es_model *avg, es_optimizer *opt, es__ckpt_info *info);

#endif
