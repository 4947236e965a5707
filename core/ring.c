/* core/ring.c — the lock-free single-producer, multi-consumer sample ring (earshot/ring.h). */
#include "earshot/ring.h"

#include <stdint.h>
#include <string.h>

#include "internal.h"

/* Why it is correct (a seqlock whose producer never waits)
 *
 * The producer publishes a block [w, w+n) in three steps:
 *   1. claimed = w+n (relaxed);
 *   2. each sample, a release store, so the claim is visible to whoever
 *      reads any of them with acquire;
 *   3. written = w+n (release).
 * A consumer:
 *   a. loads written (acquire): every sample below it was stored before, so
 *      no copied value can be older than the one for its position;
 *   b. copies samples with acquire loads;
 *   c. loads claimed, after all of (b).
 * If a load in (b) saw a value from some later block's step 2, that block's
 * claim happens before (c), so (c) reads that claim or a newer one. A block
 * that overwrote position p wrote some q = p + k*capacity (k >= 1) and
 * claimed more than q >= p + capacity. So any position p >= claimed -
 * capacity was read intact, and every position below may be torn. Positions
 * only grow, so the suspect ones are a prefix of the copy, which the
 * consumer drops and counts as lost.
 *
 * This is the textbook "relaxed stores after a release fence / relaxed
 * loads before an acquire fence" seqlock with the fences folded into each
 * sample access: TSan does not model standalone fences (gcc refuses them
 * under -fsanitize=thread), but it does model per-access release/acquire.
 * On x86 both forms compile to plain moves; elsewhere the per-sample cost is
 * small next to an audio block's period. Every slot access is atomic, so a
 * torn read is not a data race either; the protocol just says not to trust it. */

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t),
               "storage is sized in uint32_t words and used as _Atomic uint32_t");
_Static_assert(sizeof(float) == sizeof(uint32_t), "samples travel as 32-bit patterns");

/* How often es_ring_read starts over when the producer overwrote everything
 * it copied. Each retry starts at the newest data, so one normally suffices;
 * the bound keeps a consumer from spinning against a pathological producer. */
#define RING_READ_TRIES 4

int es_ring_init(es_ring *ring, void *storage, size_t capacity) {
    size_t i;
    if (!ring) return es__fail(ES_EINVAL, "es_ring_init: ring is NULL");
    if (!storage) return es__fail(ES_EINVAL, "es_ring_init: storage is NULL");
    if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        return es__fail(ES_EINVAL, "es_ring_init: capacity %zu is not a power of two >= 2",
                        capacity);
    if ((uintptr_t)storage % _Alignof(_Atomic uint32_t) != 0)
        return es__fail(ES_EINVAL, "es_ring_init: storage is not aligned for uint32_t");

    ring->slots = storage;
    ring->mask = (uint64_t)capacity - 1;
    /* Zeroed slots make never-written history read as silence rather than
     * whatever the caller's buffer held; nobody else sees the ring yet, so
     * plain initialisation is enough. */
    for (i = 0; i < capacity; i++) atomic_init(&ring->slots[i], 0u);
    atomic_init(&ring->claimed, 0);
    atomic_init(&ring->written, 0);
    return 0;
}

size_t es_ring_capacity(const es_ring *ring) { return (size_t)(ring->mask + 1); }

void es_ring_write(es_ring *ring, const float *samples, size_t n) {
    /* Only this thread stores written, so its own last store is current. */
    uint64_t w = atomic_load_explicit(&ring->written, memory_order_relaxed);
    uint64_t cap = ring->mask + 1;
    uint64_t p, end = w + n;
    size_t skip = 0;

    if (n == 0) return;
    /* Earlier samples of an oversized block would be overwritten by the
     * later ones before anyone could read them; store only the survivors. */
    if (n > cap) skip = n - (size_t)cap;

    atomic_store_explicit(&ring->claimed, end, memory_order_relaxed);
    /* Release: a reader that sees any of these samples also sees the claim. */
    for (p = w + skip; p < end; p++) {
        uint32_t bits;
        memcpy(&bits, &samples[p - w], sizeof bits);
        atomic_store_explicit(&ring->slots[p & ring->mask], bits, memory_order_release);
    }
    atomic_store_explicit(&ring->written, end, memory_order_release);
}

uint64_t es_ring_write_pos(const es_ring *ring) {
    return atomic_load_explicit(&ring->written, memory_order_acquire);
}

void es_ring_cursor_init(const es_ring *ring, es_ring_cursor *cur) {
    cur->pos = es_ring_write_pos(ring);
    cur->lost = 0;
}

static void copy_out(const es_ring *ring, uint64_t pos, float *out, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t bits =
            atomic_load_explicit(&ring->slots[(pos + i) & ring->mask], memory_order_acquire);
        memcpy(&out[i], &bits, sizeof bits);
    }
}

/* The oldest position not possibly overwritten during a copy that ended just
 * now (step c at the top). Call only after the copy's loads. */
static uint64_t oldest_intact(const es_ring *ring) {
    uint64_t cap = ring->mask + 1;
    /* Relaxed is enough: the acquire loads of the copy already order this
     * load after them. */
    uint64_t c = atomic_load_explicit(&ring->claimed, memory_order_relaxed);
    return c > cap ? c - cap : 0;
}

size_t es_ring_read(const es_ring *ring, es_ring_cursor *cur, float *out, size_t max) {
    uint64_t cap = ring->mask + 1;
    int tries;

    for (tries = 0; tries < RING_READ_TRIES; tries++) {
        uint64_t w = atomic_load_explicit(&ring->written, memory_order_acquire);
        uint64_t pos = cur->pos, avail, first;
        size_t k, keep;

        if (pos >= w) return 0;
        if (w - pos > cap) {
            /* Fell behind: what lies below w - capacity is gone for sure. */
            cur->lost += w - cap - pos;
            pos = w - cap;
        }
        avail = w - pos;
        k = avail < max ? (size_t)avail : max;
        if (k == 0) {
            cur->pos = pos;
            return 0;
        }
        copy_out(ring, pos, out, k);

        first = oldest_intact(ring);
        if (first <= pos) {
            cur->pos = pos + k;
            return k;
        }
        if (first < pos + k) {
            /* The producer lapped the start of the copy; keep the tail. */
            keep = (size_t)(pos + k - first);
            memmove(out, out + (k - keep), keep * sizeof *out);
        } else {
            keep = 0;
        }
        cur->lost += k - keep;
        cur->pos = pos + k;
        if (keep > 0) return keep;
        /* Everything copied was overwritten. Returning 0 would read as
         * "nothing new" although data waits, so try again from the newest. */
    }
    return 0;
}

int es_ring_read_at(const es_ring *ring, uint64_t pos, float *out, size_t n) {
    uint64_t cap = ring->mask + 1;
    uint64_t w = atomic_load_explicit(&ring->written, memory_order_acquire);

    if (n > w || pos > w - n)
        return es__fail(ES_ERANGE,
                        "es_ring_read_at: %zu samples at %llu reach past the write position %llu",
                        n, (unsigned long long)pos, (unsigned long long)w);
    if (w > cap && pos < w - cap)
        return es__fail(ES_ERANGE,
                        "es_ring_read_at: position %llu is no longer held (oldest is %llu)",
                        (unsigned long long)pos, (unsigned long long)(w - cap));
    copy_out(ring, pos, out, n);
    if (n > 0 && pos < oldest_intact(ring))
        return es__fail(ES_ERANGE,
                        "es_ring_read_at: position %llu was overwritten while being read",
                        (unsigned long long)pos);
    return 0;
}
