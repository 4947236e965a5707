/* earshot/span.h — where the sound is in a stretch of audio.
 *
 *   double e[T];                   // mean square of each hop (10 ms, say)
 *   es_span s[8];
 *   size_t n = es_sound_spans(e, T, &es_span_defaults, s, 8);
 *   // s[0].start .. s[0].end: the first sound's hops [start, end)
 *
 * A hop holds sound when it is within range_db of the loudest hop, at least
 * margin_db over the stretch's quiet floor (its floor_percentile quietest
 * hop: the room, a recording's hiss) and louder than floor_db dBFS. Sounds
 * closer than merge_hops are one (the pauses inside a word, a run of barks).
 * The daemon reports a detection's onset and offset from these, and the
 * scene builder marks its events with them.
 */
#ifndef EARSHOT_SPAN_H
#define EARSHOT_SPAN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t start, end;          /* hops [start, end) */
    double peak_db;             /* the loudest hop's mean square, dB (full scale 0) */
    double energy;              /* the sum of its hops' mean squares (what it holds) */
} es_span;

typedef struct {
    double range_db;            /* a hop this far under the loudest is not sound */
    double margin_db;           /* ... nor one this close to the quiet floor */
    double floor_percentile;    /* which hop is the quiet floor, 0-1 of them in order */
    double floor_db;            /* ... nor one under this, dBFS mean square */
    size_t merge_hops;          /* sounds this close are one */
    size_t min_hops;            /* sounds shorter than this are dropped */
} es_span_config;

extern const es_span_config es_span_defaults;

/* The sounds in energy[n] (mean squares per hop), oldest first; returns how
 * many there are (at most max are written). scratch: n doubles, or NULL
 * (then the quiet floor is not used: a call allocates nothing either way). */
size_t es_sound_spans(const double *energy, size_t n, const es_span_config *c, double *scratch,
                      es_span *out, size_t max);

#ifdef __cplusplus
}
#endif
#endif
