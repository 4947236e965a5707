/* core/checkpoint.c — training checkpoints: everything a run needs to go on
 * bit for bit where it stopped.
 *
 * One safetensors file, written atomically after every epoch:
 *   model/<name>      the training network's tensors (weights, running stats)
 *   best/<name>       the best epoch's weights, when the run keeps a best
 *   avg/<name>        the running mean of the last epochs' weights, when the
 *                     run averages them and has begun to
 *   optimizer/m, /v   the optimizer's moments, laid out as the gradient block
 * with the model's own earshot.* metadata (so a resumed run can check it is
 * training the same thing) and earshot.checkpoint, a JSON object with the
 * counters and generator states. */
#include "checkpoint.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "internal.h"
#include "model_meta.h"

/* Room for "model/", "best/" or "avg/" plus a state_dict name. */
#define NAME_CAP 200

int es__checkpoint_save(const char *path, const es_model *model, const es_net *net,
                        const es_model *best, const es_model *avg, es_optimizer *opt,
                        const es__ckpt_info *info) {
    const es_net *bnet = best ? es_model_weights(best) : NULL;
    const es_net *anet = avg && info->averaged > 0 ? es_model_weights(avg) : NULL;
    int n = es_net_num_tensors(net), n_all = n + (bnet ? n : 0) + (anet ? n : 0), rc;
    es_opt_state *os = es_optimizer_state(opt);
    es__st_out *outs = es__calloc((size_t)n_all + 2, sizeof *outs);
    char *names = es__malloc_array((size_t)n_all, NAME_CAP);
    char *info_json = NULL, rng[24], net_rng[24], seed[24];
    const char *keys[6], *vals[6];
    int64_t state_shape[1];
    size_t k;
    es__model_meta mm;
    json_t *j = NULL;

    memset(&mm, 0, sizeof mm);
    if (!outs || !names) {
        rc = es__fail(ES_ENOMEM, "out of memory writing checkpoint '%s'", path);
        goto out;
    }
    if ((rc = es__model_meta_init(&mm, model)) < 0) goto out;
    if ((rc = es__model_tensors(net, "model/", outs, names, NAME_CAP)) < 0) goto out;
    k = (size_t)n;
    if (bnet && (rc = es__model_tensors(bnet, "best/", outs + k, names + k * NAME_CAP,
                                        NAME_CAP)) < 0)
        goto out;
    k += bnet ? (size_t)n : 0;
    if (anet && (rc = es__model_tensors(anet, "avg/", outs + k, names + k * NAME_CAP,
                                        NAME_CAP)) < 0)
        goto out;
    k = (size_t)n_all;
    state_shape[0] = (int64_t)os->n;
    outs[k++] = (es__st_out){"optimizer/m", ES__ST_F32, 1, state_shape, os->m};
    if (os->v) outs[k++] = (es__st_out){"optimizer/v", ES__ST_F32, 1, state_shape, os->v};
    /* 64-bit generator states as hex strings: JSON numbers are doubles */
    snprintf(rng, sizeof rng, "%016" PRIx64, info->rng);
    snprintf(net_rng, sizeof net_rng, "%016" PRIx64, info->net_rng);
    snprintf(seed, sizeof seed, "%" PRIu64, info->seed);
    j = json_pack("{s:i, s:i, s:i, s:I, s:I, s:f, s:s, s:s, s:s, s:I, s:i}", "epoch",
                  info->epoch, "epochs", info->epochs, "batch", info->batch, "step",
                  (json_int_t)info->step, "optimizer_step", (json_int_t)os->step, "best_acc",
                  (double)info->best_acc, "rng", rng, "net_rng", net_rng, "seed", seed,
                  "train_clips", (json_int_t)info->n_train, "averaged",
                  anet ? info->averaged : 0);
    info_json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!info_json) {
        rc = es__fail(ES_ENOMEM, "out of memory writing checkpoint '%s'", path);
        goto out;
    }
    memcpy(keys, mm.keys, mm.n * sizeof *keys);
    memcpy(vals, mm.vals, mm.n * sizeof *vals);
    keys[mm.n] = "earshot.checkpoint";
    vals[mm.n] = info_json;
    rc = es__st_write(path, outs, k, keys, vals, mm.n + 1);
out:
    free(info_json);
    json_decref(j);
    es__model_meta_free(&mm);
    es__free(names);
    es__free(outs);
    return rc;
}

/* The checkpoint's earshot.* metadata must be the model's, byte for byte. */
static int same_model(const es__st_file *st, const es_model *model, const char *path) {
    es__model_meta mm;
    int rc = es__model_meta_init(&mm, model);
    if (rc < 0) return rc;
    for (int i = 0; i < (int)mm.n && rc == 0; i++) {
        const char *v = es__st_meta(st, mm.keys[i]);
        if (!v)
            rc = es__fail(ES_EFORMAT, "%s: metadata '%s' is missing (not an earshot checkpoint?)",
                          path, mm.keys[i]);
        else if (strcmp(v, mm.vals[i]) != 0)
            rc = es__fail(ES_ECONFIG, "%s: the checkpoint's %s differs from the recipe's; it "
                          "was made by another recipe", path, mm.keys[i]);
    }
    es__model_meta_free(&mm);
    return rc;
}

static int parse_u64(const char *s, int base, uint64_t *v) {
    char *end;
    if (!s || !*s) return -1;
    *v = strtoull(s, &end, base);
    return *end ? -1 : 0;
}

static int parse_info(const char *json, es__ckpt_info *info, long *opt_step, const char *path) {
    json_error_t err;
    json_t *j = json_loads(json, 0, &err);
    const char *rng = NULL, *net_rng = NULL, *seed = NULL;
    json_int_t step = 0, ostep = 0, n_train = 0;
    double best_acc = 0.0;
    int rc = 0;
    if (!j) return es__fail(ES_EJSON, "%s: earshot.checkpoint: %s", path, err.text);
    info->averaged = 0; /* absent from checkpoints of runs before averaging existed */
    if (json_unpack_ex(j, &err, JSON_STRICT,
                       "{s:i, s:i, s:i, s:I, s:I, s:F, s:s, s:s, s:s, s:I, s?i}", "epoch",
                       &info->epoch, "epochs", &info->epochs, "batch", &info->batch, "step",
                       &step, "optimizer_step", &ostep, "best_acc", &best_acc, "rng", &rng,
                       "net_rng", &net_rng, "seed", &seed, "train_clips", &n_train, "averaged",
                       &info->averaged) < 0)
        rc = es__fail(ES_EFORMAT, "%s: earshot.checkpoint: %s", path, err.text);
    else if (parse_u64(rng, 16, &info->rng) < 0 || parse_u64(net_rng, 16, &info->net_rng) < 0 ||
             parse_u64(seed, 10, &info->seed) < 0)
        rc = es__fail(ES_EFORMAT, "%s: earshot.checkpoint: a generator state is not a number",
                      path);
    else if (info->epoch < 0 || info->epoch > info->epochs || step < 0 || ostep < 0 ||
             n_train < 0 || info->averaged < 0 || info->averaged > info->epoch)
        rc = es__fail(ES_EFORMAT, "%s: earshot.checkpoint: counters out of range", path);
    info->step = (long)step;
    info->n_train = (size_t)n_train;
    info->best_acc = (float)best_acc;
    *opt_step = (long)ostep;
    json_decref(j);
    return rc;
}

static int load_state(const es__st_file *st, const char *name, float *dst, size_t n,
                      const char *path) {
    const es__st_tensor *t = es__st_find(st, name);
    if (!t) return es__fail(ES_EFORMAT, "%s: tensor '%s' is missing", path, name);
    if (t->dtype != ES__ST_F32 || t->numel != n)
        return es__fail(ES_EFORMAT, "%s: tensor '%s' must be %zu F32 values", path, name, n);
    memcpy(dst, t->data, n * sizeof *dst);
    return 0;
}

int es__checkpoint_load(const char *path, const es_model *model, es_net *net, es_model *best,
                        es_model *avg, es_optimizer *opt, es__ckpt_info *info) {
    es__st_file st;
    es_opt_state *os = es_optimizer_state(opt);
    const char *ij;
    char *data = NULL;
    size_t len;
    long ostep = 0;
    int rc;
    if ((rc = es__read_file(path, (size_t)1 << 31, &data, &len)) < 0) return rc;
    if ((rc = es__st_parse(&st, data, len, path)) < 0) {
        es__free(data);
        return rc;
    }
    if ((rc = same_model(&st, model, path)) < 0) goto out;
    if (!(ij = es__st_meta(&st, "earshot.checkpoint"))) {
        rc = es__fail(ES_EFORMAT, "%s: metadata 'earshot.checkpoint' is missing (a model file, "
                      "not a checkpoint?)", path);
        goto out;
    }
    if ((rc = parse_info(ij, info, &ostep, path)) < 0) goto out;
    /* the best weights pass through the training network on their way */
    if (best) {
        if ((rc = es__load_net_tensors(net, &st, "best/", path)) < 0 ||
            (rc = es_model_set_weights(best, net)) < 0)
            goto out;
    }
    if (info->averaged > 0) {
        if (!avg) {
            rc = es__fail(ES_ECONFIG, "%s: the checkpoint's run averages weights; this one "
                          "does not", path);
            goto out;
        }
        if ((rc = es__load_net_tensors(net, &st, "avg/", path)) < 0 ||
            (rc = es_model_set_weights(avg, net)) < 0)
            goto out;
    }
    if ((rc = es__load_net_tensors(net, &st, "model/", path)) < 0) goto out;
    if ((rc = load_state(&st, "optimizer/m", os->m, os->n, path)) < 0) goto out;
    if (os->v && (rc = load_state(&st, "optimizer/v", os->v, os->n, path)) < 0) goto out;
    os->step = ostep;
out:
    es__st_free(&st);
    es__free(data);
    return rc;
}
