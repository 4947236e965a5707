/* daemon/log.h — earshotd's log: stderr lines with sd-daemon priority
 * prefixes ("<5>…"), which journald turns into priorities, and structured
 * journal entries for detections. The level is checked before anything is
 * formatted. */
#ifndef EARSHOTD_LOG_H
#define EARSHOTD_LOG_H

#include "earshot/log.h"

void esd_log_init(int max_level);
void esd_log_set_level(int max_level);
int esd_log_enabled(int level);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void esd_log_write(int level, const char *fmt, ...);

#define esd_log(level, ...)                                   \
    do {                                                      \
        if (esd_log_enabled(level)) esd_log_write(level, __VA_ARGS__); \
    } while (0)

/* A detection: a notice line on stderr and, under systemd, a journal entry
 * with EARSHOT_MODEL, EARSHOT_LABEL and EARSHOT_SCORE fields. */
void esd_log_detection(const char *model, const char *label, double score, double onset,
                       double offset);

#endif
