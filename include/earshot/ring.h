/* earshot/ring.h — lock-free single-producer, multi-consumer sample ring.
 *
 *   static uint32_t storage[1 << 20];            // ≥ 30 s at 16 kHz; caller owns it
 *   es_ring ring;
 *   es_ring_init(&ring, storage, 1 << 20);       // capacity: a power of two
 *
 *   // producer (the audio callback): never blocks, allocates or calls the kernel
 *   es_ring_write(&ring, block, n);
 *
 *   // each consumer: its own cursor, starting at the current write position
 *   es_ring_cursor cur;
 *   es_ring_cursor_init(&ring, &cur);
 *   size_t got = es_ring_read(&ring, &cur, out, 4096);   // cur.lost counts skips
 *
 * Contract
 * - One producer thread calls es_ring_write. Any number of consumer threads
 *   read, each through its own es_ring_cursor (a cursor belongs to one thread).
 * - Positions are free-running 64-bit sample counters: position p lives in
 *   slot p & (capacity-1). They never wrap in practice (2^64 samples).
 * - The producer never waits for consumers. A consumer that fell more than
 *   `capacity` samples behind skips ahead to the oldest sample still held and
 *   adds what it skipped to cursor->lost; samples overwritten while it was
 *   copying them are detected (seqlock-style, see ring.c) and counted as lost
 *   too, never returned.
 * - The last `capacity` samples stay readable by absolute position
 *   (es_ring_read_at): pre-roll for a detection, "the last two seconds".
 * - Every sample access is a C11 atomic, and the publication order is
 *   release/acquire, so the ring is data-race free under TSan.
 * - The ring does not own its storage; es_ring has no destroy function.
 */
#ifndef EARSHOT_RING_H
#define EARSHOT_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    _Atomic uint32_t *slots;      /* [capacity] float bit patterns, caller's storage */
    uint64_t mask;                /* capacity - 1 */
    _Atomic uint64_t claimed;     /* end of the block the producer is writing */
    _Atomic uint64_t written;     /* end of the last block fully written */
} es_ring;

typedef struct {
    uint64_t pos;                 /* next position this consumer reads */
    uint64_t lost;                /* samples skipped because they were overwritten */
} es_ring_cursor;

/* storage: capacity 32-bit words, suitably aligned for uint32_t; capacity a
 * power of two ≥ 2. ES_EINVAL otherwise. */
int es_ring_init(es_ring *ring, void *storage, size_t capacity);

size_t es_ring_capacity(const es_ring *ring);

/* Producer only. Copies n samples in and publishes them. Wait-free: no lock,
 * no allocation, no syscall. n may exceed the capacity (only the last
 * `capacity` samples survive). */
void es_ring_write(es_ring *ring, const float *samples, size_t n);

/* Total samples ever written (acquire). */
uint64_t es_ring_write_pos(const es_ring *ring);

/* Places a new cursor at the current write position (it sees only what is
 * written from now on). */
void es_ring_cursor_init(const es_ring *ring, es_ring_cursor *cur);

/* Consumer. Copies up to max samples from cur->pos into out and advances the
 * cursor; returns the count copied (0 when nothing new). Samples lost to an
 * overrun are added to cur->lost and skipped. */
size_t es_ring_read(const es_ring *ring, es_ring_cursor *cur, float *out, size_t max);

/* Copies the n samples at absolute positions [pos, pos+n). Returns 0, or
 * ES_ERANGE when part of the span is not yet written or no longer held
 * (including when it is overwritten during the copy). */
int es_ring_read_at(const es_ring *ring, uint64_t pos, float *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
