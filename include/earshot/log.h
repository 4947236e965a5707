/* earshot/log.h — library logging through a callback.
 *
 *   static void to_stderr(void *user, int level, const char *msg) {
 *       (void)user; fprintf(stderr, "<%d>%s\n", level, msg);
 *   }
 *   es_log_set_callback(to_stderr, NULL, ES_LOG_INFO);
 *
 * libearshot never prints. It hands each message to the callback, if one
 * is set and the level passes the threshold; nothing is formatted when it
 * would be dropped. Levels are syslog's, so a daemon can prefix them as
 * sd-daemon priorities ("<6>") unchanged.
 */
#ifndef EARSHOT_LOG_H
#define EARSHOT_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ES_LOG_ERR = 3,
    ES_LOG_WARNING = 4,
    ES_LOG_NOTICE = 5,
    ES_LOG_INFO = 6,
    ES_LOG_DEBUG = 7,
};

typedef void (*es_log_fn)(void *user, int level, const char *msg);

/* Installs the callback (NULL silences the library) and the most verbose
 * level that is still delivered. Not thread-safe against concurrent logging:
 * call it at start-up. */
void es_log_set_callback(es_log_fn fn, void *user, int max_level);

#ifdef __cplusplus
}
#endif
#endif
