/* daemon/config.h — earshotd's configuration: a libconfig file
 * (conf/earshotd.conf documents every key and its default), then flags.
 * Reading checks every key, type and range, and names file:line. */
#ifndef EARSHOTD_CONFIG_H
#define EARSHOTD_CONFIG_H

#include <stddef.h>

#include "earshot/detect.h"
#include "earshot/train.h"

#define ESD_MAX_MODELS 8
#define ESD_NAME_MAX 64
#define ESD_PATH_MAX 1024

typedef enum { ESD_IN_PORTAUDIO, ESD_IN_FILE, ESD_IN_STDIN } esd_input_kind;

typedef struct {
    char name[ESD_NAME_MAX];
    char file[ESD_PATH_MAX];         /* resolved against the config file's folder */
    char replay[ESD_PATH_MAX];       /* rehearsal clips for fine-tuning; "" = the model
                                        file's name with .replay.safetensors, if present */
    es_detect_config detect;         /* stride_seconds: the model's, or the key below */
    double stride_seconds;           /* > 0: a window every this often instead of the
                                        model's own stride_seconds */
    double lookback_seconds;         /* > 0: windows hold only this much of the newest
                                        audio, then silence (worker.c); 0 whole windows */
    double lookback_quiet_db;        /* with lookback: a window votes only when its last
                                        0.1 s is this far under its loudest hop; 0 = always */
    int n_thresholds;                /* per-label thresholds */
    char threshold_label[32][ESD_NAME_MAX];
    float threshold_value[32];
} esd_model_config;

typedef struct {
    /* input */
    esd_input_kind input;
    char input_arg[ESD_PATH_MAX];    /* device (name substring or index), path; "" default */
    int input_rate;                  /* portaudio: wanted rate; stdin: the stream's rate */
    int pace_fast;                   /* file: 0 realtime, 1 as fast as the workers go */
    int loop;                        /* file: start over at the end */
    double history_seconds;          /* ring length */
    /* control socket */
    char socket_path[ESD_PATH_MAX];
    char socket_group[ESD_NAME_MAX]; /* members may change state; "" none */
    int max_clients;
    int max_line;                    /* bytes; a longer request line closes the client */
    int client_queue;                /* events queued per client before it misses some */
    int history_events;              /* detections kept for `history` */
    int realtime_priority;           /* inference workers' SCHED_FIFO priority; 0 = none */
    /* clips of detections */
    char clips_dir[ESD_PATH_MAX];    /* "" = off */
    double clip_pre, clip_post;      /* seconds around a detection */
    double clips_max_mb;             /* disk cap: oldest clips go first */
    /* logging */
    int log_level;                   /* ES_LOG_* */
    /* teaching: examples, fine-tuned models (state_dir, --state-dir or
     * $STATE_DIRECTORY; "" = nothing persists, teaching commands refuse) */
    char state_dir[ESD_PATH_MAX];
    int n_allowed_dirs;              /* example-add "path" must lie inside one */
    char allowed_dirs[8][ESD_PATH_MAX];
    int ft_epochs;                   /* fine-tuning defaults a request may override */
    double ft_lr;
    es_layers ft_layers;
    double ft_holdout;               /* share of each label's examples validated on */
    int ft_max_examples;             /* per model */
    int ft_threads;                  /* 2: the next batch is made on a second thread */
    double ft_max_example_seconds;
    /* models */
    int n_models;
    esd_model_config models[ESD_MAX_MODELS];
} esd_config;

/* Records label's threshold in mc (by name, so a model loaded later gets it
 * too); NaN removes it. -1 when mc already holds 32 and label is new. */
int esd_model_config_threshold(esd_model_config *mc, const char *label, float value);

/* Defaults for every key. */
void esd_config_defaults(esd_config *c);

/* Reads path over the defaults; on error fills err ("path:line: what") and
 * returns -1, leaving *c unspecified. */
int esd_config_load(esd_config *c, const char *path, char *err, size_t errlen);

/* Parses an input spec ("portaudio", "portaudio:DEV", "file:PATH",
 * "stdin:RATE") into c. -1 with err on a bad spec. */
int esd_config_input(esd_config *c, const char *spec, char *err, size_t errlen);

#endif
