/* core/log.c — delivers library log messages to the installed callback. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* Long enough for any message libearshot writes; longer ones are cut. */
#define ES__LOG_MAX 1024

/* -1 while no callback is set, so es__log() formats nothing at all. */
int es__log_max_level = -1;
static es_log_fn log_fn;
static void *log_user;

void es_log_set_callback(es_log_fn fn, void *user, int max_level) {
    log_fn = fn;
    log_user = user;
    es__log_max_level = fn ? max_level : -1;
}

void es__log_emit(int level, const char *fmt, ...) {
    char buf[ES__LOG_MAX];
    va_list ap;
    if (!log_fn) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, buf);
}
