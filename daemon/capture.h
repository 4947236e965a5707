/* daemon/capture.h — the producer side: audio into the ring.
 *
 * Three sources, one ring (earshot/ring.h), float32 mono at the input rate:
 *  - PortAudio: a callback stream. The callback converts, copies into the
 *    ring and bumps counters: no lock, no allocation, no syscall, no log.
 *    It cannot wake anyone, so consumers wake on a short period instead
 *    (capture_wait). A device that fails or vanishes is reopened by
 *    capture_supervise with backoff, while the socket keeps serving.
 *  - file:PATH: a thread that writes the decoded file in 10 ms blocks, in
 *    real time (absolute-deadline sleeps) or as fast as the slowest consumer
 *    reads (it waits for them; nothing is dropped). Optionally looping.
 *  - stdin:RATE: a thread reading raw s16le mono, paced like `fast`.
 * When a file or stdin ends, input_ended is set once consumers have been
 * handed everything.
 */
#ifndef EARSHOTD_CAPTURE_H
#define EARSHOTD_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "earshot/ring.h"

#define CAPTURE_MAX_CONSUMERS ESD_MAX_MODELS

typedef struct capture capture;

/* Opens the input the config names (a device stream starts at once; a file
 * is decoded) so its rate is known; ring must stay valid. capture_go then
 * starts a file or stdin producer, once the consumers are registered, so
 * that `fast` loses nothing. */
int capture_open(capture **cap, const esd_config *cfg, es_ring *ring);
int capture_go(capture *cap);
void capture_stop(capture *cap);

int capture_rate(const capture *cap);              /* samples per second in the ring */
const char *capture_describe(const capture *cap);  /* "portaudio:pulse", "file:x.wav" */
int capture_ended(const capture *cap);             /* a file or stdin input is over */
int capture_running(const capture *cap);           /* the device stream is up */
uint64_t capture_overflows(const capture *cap);    /* device input overflows */

/* Consumers: each registers the address of its cursor position so the
 * `fast` producers can wait for the slowest; capture_consumed is called after
 * every read. */
void capture_add_consumer(capture *cap, const _Atomic uint64_t *pos);
void capture_remove_consumer(capture *cap, const _Atomic uint64_t *pos);
void capture_consumed(capture *cap);

/* Blocks until the input has reached sample `until` (the caller reads from
 * pos < until and has use for nothing before until), a file or stdin has
 * written its last sample (there will be no more: the caller reads the rest,
 * from pos on) or ended, capture_wake is called or stop is set. A device input cannot signal from
 * its callback: there the caller sleeps sleep_ms instead, the time until
 * should take within [its period, CAPTURE_MAX_SLEEP_MS]. */
void capture_wait(capture *cap, const atomic_int *stop, int sleep_ms, uint64_t pos,
                  uint64_t until);
/* The longest a consumer of a device input sleeps: how late a `set` or
 * shutdown can be noticed. */
#define CAPTURE_MAX_SLEEP_MS 100
/* Wakes every waiting consumer (shutdown). */
void capture_wake(capture *cap);

/* Called from the main loop about once a second: reopens a failed device
 * with backoff (1, 2, 4 … 30 s). */
void capture_supervise(capture *cap);

#endif
