/* cli/cmd_train.c — `earshot train`: a model from a recipe and labelled clips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "earshot/error.h"
#include "earshot/replay.h"
#include "earshot/train.h"
#include "recipe.h"
#include "plot.h"
#include "report.h"

static const char help[] =
    "usage: earshot train --config RECIPE.cfg --out MODEL.safetensors [options]\n"
    "\n"
    "Trains a model as the recipe says (labels, features, arch, data,\n"
    "hyperparameters, augmentation; see conf/recipes/), validating after every\n"
    "epoch on the held-out groups, and writes the best epoch's model.\n"
    "\n"
    "  -c, --config FILE       recipe (libconfig)\n"
    "  -o, --out FILE          the best model (the last when nothing is held out)\n"
    "      --last FILE         also write the last epoch's model\n"
    "  -d, --data DIR          audio folder (overrides data.dir)\n"
    "      --manifest CSV      path,label lines (overrides data.manifest)\n"
    "  -l, --label-regex RE    label = first capture group on the file name\n"
    "  -g, --group-regex RE    group = first capture group (speaker, session)\n"
    "  -v, --val-groups A,B    hold these groups out for validation (overrides\n"
    "                          data.val_groups; 'none' holds nothing out)\n"
    "  -b, --background DIR    more background audio (with data.background_dirs)\n"
    "  -e, --epochs N          override train.epochs\n"
    "  -t, --threads N         training threads (default: all cores)\n"
    "  -s, --seed N            override train.seed\n"
    "  -r, --report DIR        write DIR/train.jsonl (one line per epoch), DIR/curves.png\n"
    "                          (loss and accuracy) and DIR/confusion.png (held-out groups)\n"
    "      --replay-out FILE   also write a rehearsal store for fine-tuning: random\n"
    "                          training clips of every label (earshot/replay.h)\n"
    "      --replay-per-class N  clips per label in it (default 20)\n"
    "      --replay-only       only write the rehearsal store (for a model already\n"
    "                          trained with this recipe; --out is not needed)\n"
    "      --checkpoint FILE   write the run's state to FILE after every epoch\n"
    "      --resume FILE       go on from a checkpoint of this same run (recipe, data,\n"
    "                          epochs, seed); keeps checkpointing to FILE unless\n"
    "                          --checkpoint says otherwise\n"
    "  -q, --quiet             no progress, only the result line\n"
    "  -h, --help              this text\n";

typedef struct {
    int tty, quiet;
    FILE *log;                 /* --report: one JSON object per epoch */
    float *loss, *train_acc, *val_acc; /* [epochs] for the curves */
    int epochs_seen;
    float last_val_acc;
} progress;

static void on_progress(void *user, const es_train_progress *p, int epoch_end) {
    progress *pr = user;
    if (!epoch_end) {
        if (pr->quiet) return;
        double done = ((p->epoch - 1) * (double)p->steps + (double)p->step) /
                      ((double)p->epochs * (double)p->steps);
        double eta = done > 0 ? p->seconds * (1.0 - done) / done : 0;
        int bar = (int)(30.0 * (double)p->step / (double)p->steps);
        if (!pr->tty) return;
        fprintf(stderr, "\repoch %d/%d [%.*s%*s] loss %.4f acc %.3f  ETA %dm%02ds ", p->epoch,
                p->epochs, bar, "##############################", 30 - bar, "", (double)p->loss,
                (double)p->train_acc, (int)eta / 60, (int)eta % 60);
        return;
    }
    if (pr->log) {
        fprintf(pr->log, "{\"epoch\":%d,\"loss\":%.6f,\"train_acc\":%.6f,\"val_acc\":", p->epoch,
                (double)p->loss, (double)p->train_acc);
        if (p->val_acc >= 0)
            fprintf(pr->log, "%.6f", (double)p->val_acc);
        else
            fputs("null", pr->log);
        fprintf(pr->log, ",\"best\":%s,\"seconds\":%.2f}\n", p->best ? "true" : "false", p->seconds);
        fflush(pr->log);
    }
    pr->last_val_acc = p->val_acc;
    if (pr->loss && p->epoch <= p->epochs) {
        pr->loss[p->epoch - 1] = p->loss;
        pr->train_acc[p->epoch - 1] = p->train_acc;
        pr->val_acc[p->epoch - 1] = p->val_acc;
        pr->epochs_seen = p->epoch;
    }
    if (pr->quiet) return;
    if (pr->tty) fputc('\r', stderr);
    fprintf(stderr, "epoch %d/%d loss %.4f train_acc %.3f", p->epoch, p->epochs, (double)p->loss,
            (double)p->train_acc);
    if (p->val_acc >= 0) fprintf(stderr, " val_acc %.4f%s", (double)p->val_acc, p->best ? " *" : "");
    fprintf(stderr, " (%.0f s)%*s\n", p->seconds, pr->tty ? 20 : 0, "");
}

/* Up to per_class random training clips of every label, and as many
 * background clips (labelled "background") when the model has that class:
 * the rehearsal store fine-tuning replays so old classes are not forgotten. */
static int write_replay(const char *path, const es_dataset *ds, const size_t *tr, size_t n_tr,
                        es_dataset *const *bg, int n_bg, const recipe *r, int per_class) {
    es_dataset *rd = NULL;
    size_t *order = NULL, *all = NULL, n = 0;
    int *taken = NULL, has_bg = 0, rc = -1;
    es_rng rng;
    char name[32];
    /* the loudest 2 s of a clip hold its sound; longer windows (cat/dog: 5 s)
     * would make the store several MB for little more */
    double max_s = r->features.clip_seconds < 2.0 ? r->features.clip_seconds : 2.0;
    es_rng_seed(&rng, r->train.seed + 7);
    for (int k = 0; k < r->n_labels; k++) has_bg |= strcmp(r->labels[k], ES_BACKGROUND_LABEL) == 0;
    order = malloc((n_tr ? n_tr : 1) * sizeof *order);
    taken = calloc((size_t)es_dataset_num_labels(ds) + 1, sizeof *taken);
    if (!order || !taken || es_dataset_new(&rd) < 0) goto out;
    for (size_t i = 0; i < n_tr; i++) order[i] = tr[i];
    es_rng_shuffle(&rng, order, n_tr);
    for (size_t i = 0; i < n_tr; i++) {
        const es_clip *c = es_dataset_clip(ds, order[i]);
        if (taken[c->label] >= per_class) continue;
        taken[c->label]++;
        snprintf(name, sizeof name, "%08zu", n++);
        if (es_dataset_add(rd, name, es_dataset_label(ds, c->label), "replay", c->x, c->n) < 0)
            goto out;
    }
    for (int i = 0; has_bg && n_bg > 0 && i < per_class; i++) {
        const es_dataset *b = bg[es_rng_below(&rng, (size_t)n_bg)];
        const es_clip *c = es_dataset_clip(b, es_rng_below(&rng, es_dataset_size(b)));
        snprintf(name, sizeof name, "%08zu", n++);
        if (es_dataset_add(rd, name, ES_BACKGROUND_LABEL, "replay", c->x, c->n) < 0) goto out;
    }
    if (es_dataset_finish(rd) < 0 || !(all = malloc(n * sizeof *all))) goto out;
    for (size_t i = 0; i < n; i++) all[i] = i;
    if (es_replay_write(path, rd, all, n, r->features.sample_rate, max_s) < 0) goto out;
    fprintf(stderr, "train: wrote %zu replay clips to %s\n", n, path);
    rc = 0;
out:
    if (rc < 0) cli_error("train", "--replay-out %s: %s", path, es_errmsg());
    es_dataset_free(rd);
    free(order);
    free(all);
    free(taken);
    return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_train(int argc, char **argv) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
        {"last", required_argument, NULL, 'L'},   {"data", required_argument, NULL, 'd'},
        {"manifest", required_argument, NULL, 'M'}, {"label-regex", required_argument, NULL, 'l'},
        {"group-regex", required_argument, NULL, 'g'}, {"val-groups", required_argument, NULL, 'v'},
        {"background", required_argument, NULL, 'b'}, {"epochs", required_argument, NULL, 'e'},
        {"threads", required_argument, NULL, 't'}, {"seed", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"report", required_argument, NULL, 'r'},
        {"checkpoint", required_argument, NULL, 'C'}, {"resume", required_argument, NULL, 'R'},
        {"replay-out", required_argument, NULL, 'P'},
        {"replay-per-class", required_argument, NULL, 'N'},
        {"replay-only", no_argument, NULL, 'O'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *out = NULL, *last = NULL, *dir = NULL, *manifest = NULL,
               *label_re = NULL, *group_re = NULL, *bg_extra = NULL, *report = NULL,
               *checkpoint = NULL, *resume = NULL, *replay_out = NULL;
    char *val_list = NULL, err[1024], *endp;
    int opt, status = CLI_FAIL, epochs = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN), seed = -1,
        replay_n = 20, replay_only = 0;
    progress pr = {isatty(2), 0, NULL, NULL, NULL, NULL, 0, -1.0f};
    recipe r;
    es_model *model = NULL, *best = NULL;
    es_dataset *ds = NULL, *bg[RECIPE_MAX_LIST + 1];
    int n_bg = 0;
    size_t *val_idx = NULL, *tr_idx = NULL, n_val = 0, n_tr = 0;
    char *val_names[RECIPE_MAX_LIST];
    int n_val_names = 0;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":c:o:d:l:g:v:b:e:t:s:r:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'L': last = optarg; break;
        case 'd': dir = optarg; break;
        case 'M': manifest = optarg; break;
        case 'l': label_re = optarg; break;
        case 'g': group_re = optarg; break;
        case 'v': val_list = optarg; break;
        case 'b': bg_extra = optarg; break;
        case 'e':
        case 't':
        case 'N':
        case 's': {
            long v = strtol(optarg, &endp, 10);
            if (*endp || v < (opt == 's' ? 0 : 1) || v > 1000000) {
                cli_error("train", "--%s: '%s' is not a valid number",
                          opt == 'e' ? "epochs" : opt == 't' ? "threads"
                                                : opt == 'N' ? "replay-per-class" : "seed",
                          optarg);
                return CLI_USAGE;
            }
            if (opt == 'e') epochs = (int)v;
            else if (opt == 't') threads = (int)v;
            else if (opt == 'N') replay_n = (int)v;
            else seed = (int)v;
            break;
        }
        case 'P': replay_out = optarg; break;
        case 'O': replay_only = 1; break;
        case 'q': pr.quiet = 1; break;
        case 'r': report = optarg; break;
        case 'C': checkpoint = optarg; break;
        case 'R': resume = optarg; break;
        case 'h': fputs(help, stdout); return CLI_OK;
        default: return cli_bad_option("train", opt, argv, longopts);
        }
    }
    if (replay_only && !replay_out) {
        cli_error("train", "--replay-only needs --replay-out FILE");
        return CLI_USAGE;
    }
    if (replay_only && !out) out = "-";
    if (!config || !out) {
        cli_error("train", "%s is required", !config ? "--config RECIPE.cfg" : "--out MODEL.safetensors");
        return CLI_USAGE;
    }
    if (optind < argc) {
        cli_error("train", "unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    if (recipe_load(&r, config, err, sizeof err) < 0) {
        cli_error("train", "%s", err);
        return CLI_FAIL;
    }
    if (epochs) r.train.epochs = epochs;
    if (seed >= 0) r.train.seed = (uint64_t)seed;
    r.train.threads = threads < 1 ? 1 : threads;
    r.train.resume = resume;
    r.train.checkpoint = checkpoint ? checkpoint : resume;
    /* the engine's threads split each batch; OpenBLAS runs single-threaded inside them */
    es_blas_set_threads(1);
    if (!dir && !manifest) dir = r.data_dir, manifest = r.manifest;
    if (!label_re) label_re = r.label_regex;
    if (!group_re) group_re = r.group_regex;
    if (val_list) {
        n_val_names = strcmp(val_list, "none") == 0 ? 0 : cli_split_list(val_list, val_names, RECIPE_MAX_LIST);
    } else {
        for (int i = 0; i < r.n_val_groups; i++) val_names[i] = r.val_groups[i];
        n_val_names = r.n_val_groups;
    }
    if (es_model_create(&model, r.layers, r.n_layers, &r.features, (const char *const *)r.labels,
                        r.n_labels, r.train.seed) < 0 ||
        es_model_create(&best, r.layers, r.n_layers, &r.features, (const char *const *)r.labels,
                        r.n_labels, r.train.seed) < 0) {
        cli_error("train", "%s", es_errmsg());
        goto out;
    }
    /* the model remembers its augmentation: fine-tuning in the daemon reuses it */
    es_model_set_augment(model, &r.train.aug);
    es_model_set_augment(best, &r.train.aug);
    if ((status = cli_load_dataset("train", dir, manifest, label_re, group_re,
                                   r.features.sample_rate, &ds)) != CLI_OK)
        goto out;
    status = CLI_FAIL;
    {
        int rc = cli_split_groups(ds, val_names, n_val_names, &val_idx, &n_val, &tr_idx, &n_tr);
        if (rc < -1) {
            cli_error("train", "validation group '%s' is no group of the data (group regex '%s')",
                      val_names[-rc - 2], group_re);
            status = CLI_USAGE;
            goto out;
        }
        if (rc < 0) {
            cli_error("train", "out of memory");
            goto out;
        }
    }
    for (int i = 0; i <= r.n_background_dirs; i++) {
        const char *bd = i < r.n_background_dirs ? r.background_dirs[i] : bg_extra;
        es_dataset *d = NULL;
        if (!bd) continue;
        /* every audio file of a background folder, whatever its name */
        if (es_dataset_scan(&d, bd, "^(.)", NULL) < 0 || es_dataset_load(d, r.features.sample_rate) < 0) {
            cli_error("train", "background '%s': %s", bd, es_errmsg());
            es_dataset_free(d);
            goto out;
        }
        bg[n_bg++] = d;
    }
    for (int i = 0; i < r.n_background_manifests; i++) {
        es_dataset *d = NULL;
        if (n_bg == (int)(sizeof bg / sizeof bg[0])) {
            cli_error("train", "too many background folders and manifests");
            goto out;
        }
        if (es_dataset_from_csv(&d, r.background_manifests[i], NULL) < 0 ||
            es_dataset_load(d, r.features.sample_rate) < 0) {
            cli_error("train", "background '%s': %s", r.background_manifests[i], es_errmsg());
            es_dataset_free(d);
            goto out;
        }
        bg[n_bg++] = d;
    }
    if (report) {
        char path[4200];
        snprintf(path, sizeof path, "%s/train.jsonl", report);
        if (mkdir(report, 0777) < 0 && errno != EEXIST) {
            cli_error("train", "--report: cannot create '%s': %s", report, strerror(errno));
            status = CLI_USAGE;
            goto out;
        }
        /* a resumed run goes on with the log of the run it resumes */
        pr.log = fopen(path, resume ? "a" : "w");
        pr.loss = calloc((size_t)r.train.epochs, sizeof *pr.loss);
        pr.train_acc = calloc((size_t)r.train.epochs, sizeof *pr.train_acc);
        pr.val_acc = calloc((size_t)r.train.epochs, sizeof *pr.val_acc);
        if (!pr.log || !pr.loss || !pr.train_acc || !pr.val_acc) {
            cli_error("train", "--report: cannot write '%s': %s", path, strerror(errno));
            status = CLI_USAGE;
            goto out;
        }
    }
    if (replay_only) {
        status = write_replay(replay_out, ds, tr_idx, n_tr, bg, n_bg, &r, replay_n);
        goto out;
    }
    if (!pr.quiet)
        fprintf(stderr, "train: %zu clips for training, %zu held out (%d groups), %d labels, %d threads\n",
                n_tr, n_val, n_val_names, r.n_labels, r.train.threads);
    if (es_train(model, best, (es_split){ds, tr_idx, n_tr}, (es_split){ds, val_idx, n_val},
                 (const es_dataset *const *)bg, n_bg, &r.train, on_progress, &pr) < 0 ||
        es_model_save(n_val ? best : model, out) < 0 || (last && es_model_save(model, last) < 0)) {
        cli_error("train", "%s", es_errmsg());
        goto out;
    }
    if (replay_out &&
        write_replay(replay_out, ds, tr_idx, n_tr, bg, n_bg, &r, replay_n) != CLI_OK)
        goto out;
    if (n_val) {
        int K = es_model_num_labels(best), *conf = calloc((size_t)K * K, sizeof *conf), correct = 0, n;
        n = conf ? es_evaluate(best, (es_split){ds, val_idx, n_val}, conf) : -1;
        for (int k = 0; conf && k < K; k++) correct += conf[k * K + k];
        /* the best epoch was chosen on these very groups, so its accuracy is
         * optimistic; the last epoch's is the honest estimate */
        printf("validation accuracy %.4f (%d of %d) on held-out groups; last epoch %.4f; "
               "wrote %s\n", n > 0 ? (double)correct / n : 0.0, correct, n,
               (double)pr.last_val_acc, out);
        if (report && conf && n > 0) {
            char path[4200], title[128];
            snprintf(path, sizeof path, "%s/confusion.png", report);
            snprintf(title, sizeof title, "held-out groups: accuracy %.4f (%d of %d)",
                     (double)correct / n, correct, n);
            if (report_confusion(path, best, conf, title) < 0)
                cli_error("train", "--report: cannot write '%s'", path);
        }
        free(conf);
    } else {
        printf("trained on every clip (nothing held out); wrote %s\n", out);
    }
    if (report) {
        char path[4200];
        snprintf(path, sizeof path, "%s/curves.png", report);
        if (report_curves(path, pr.loss, pr.train_acc, pr.val_acc, pr.epochs_seen) < 0)
            cli_error("train", "--report: cannot write '%s'", path);
        plot_done();
    }
    status = CLI_OK;
out:
    if (pr.log) fclose(pr.log);
    free(pr.loss);
    free(pr.train_acc);
    free(pr.val_acc);
    free(val_idx);
    free(tr_idx);
    es_dataset_free(ds);
    for (int i = 0; i < n_bg; i++) es_dataset_free(bg[i]);
    es_model_free(model);
    es_model_free(best);
    recipe_free(&r);
    return status;
}
