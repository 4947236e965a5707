/* daemon/log.c — stderr with priority prefixes, and the journal. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

static int max_level = ES_LOG_INFO;
static int to_journal;

/* the library logs through the same place */
static void from_library(void *user, int level, const char *msg) {
    (void)user;
    esd_log_write(level, "%s", msg);
}

void esd_log_init(int level) {
    const char *stream = getenv("JOURNAL_STREAM");
    max_level = level;
    /* stderr already goes to the journal when JOURNAL_STREAM is set; the
     * structured detection entries are sent besides the line */
    to_journal = stream && *stream;
    es_log_set_callback(from_library, NULL, level);
}

void esd_log_set_level(int level) {
    max_level = level;
    es_log_set_callback(from_library, NULL, level);
}

int esd_log_enabled(int level) { return level <= max_level; }

void esd_log_write(int level, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one write per line, so lines from threads never interleave */
    fprintf(stderr, "<%d>%s\n", level, line);
}

void esd_log_detection(const char *model, const char *label, double score, double onset,
                       double offset) {
    if (!esd_log_enabled(ES_LOG_NOTICE)) return;
    esd_log_write(ES_LOG_NOTICE, "%s: %s (%.2f) at %.2f-%.2f s", model, label, score, onset,
                  offset);
    if (to_journal)
        sd_journal_send("MESSAGE=%s: %s (%.2f)", model, label, score, "PRIORITY=%d", ES_LOG_NOTICE,
                        "SYSLOG_IDENTIFIER=earshotd", "EARSHOT_MODEL=%s", model,
                        "EARSHOT_LABEL=%s", label, "EARSHOT_SCORE=%.4f", score,
                        "EARSHOT_ONSET=%.3f", onset, "EARSHOT_OFFSET=%.3f", offset, NULL);
}
