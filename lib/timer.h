/*
 * timer.h: timers in a binary min-heap (internal).
 *
 * A timer is a struct embedded in its owner (a connection, a queue) and
 * remembers its position in the heap, so arming, re-arming and cancelling
 * cost O(log n) and the next deadline is found in O(1); nothing scans all
 * timers. The heap reads no clock: times are milliseconds on whatever
 * monotonic scale the caller uses (the event loop's).
 */
#ifndef XS2S_TIMER_H
#define XS2S_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include <xs2s/common.h>

typedef struct xs2s__timer xs2s__timer;

/* Called when the timer expires; the timer is already disarmed, so the
 * callback may re-arm it, free its owner, or touch other timers. */
typedef void (*xs2s__timer_fn)(xs2s__timer *t, uint64_t now, void *arg);

/* Position of a timer that is not in a heap. */
#define XS2S__TIMER_IDLE ((size_t)-1)

struct xs2s__timer {
  uint64_t due;   /* expiry time in ms */
  uint64_t seq;   /* arming order: equal deadlines expire first-armed first */
  size_t index;   /* position in the heap, XS2S__TIMER_IDLE when disarmed */
  xs2s__timer_fn fn;
  void *arg;
};

typedef struct xs2s__timer_heap {
  xs2s__timer **items;
  size_t len, cap;
  uint64_t next_seq;
  const xs2s_mem *mem;
} xs2s__timer_heap;

/* Prepares a disarmed timer. */
void xs2s__timer_init(xs2s__timer *t, xs2s__timer_fn fn, void *arg);

static inline int xs2s__timer_armed(const xs2s__timer *t) {
  return t->index != XS2S__TIMER_IDLE;
}

void xs2s__timer_heap_init(xs2s__timer_heap *h, const xs2s_mem *mem);

/* Disarms every timer still in the heap and frees the heap's array. */
void xs2s__timer_heap_free(xs2s__timer_heap *h);

/* Arms @t to expire at @due, or moves it there when already armed.
 * Returns 0, or XS2S_ERR_NOMEM (an unarmed timer stays unarmed; an armed
 * one never needs memory to move). */
int xs2s__timer_set(xs2s__timer_heap *h, xs2s__timer *t, uint64_t due);

/* Disarms @t; nothing happens when it is not armed. */
void xs2s__timer_cancel(xs2s__timer_heap *h, xs2s__timer *t);

/* The timer that expires first, or NULL. */
static inline xs2s__timer *xs2s__timer_first(const xs2s__timer_heap *h) {
  return h->len ? h->items[0] : NULL;
}

/* Runs every timer due at or before @now, earliest first, and returns how
 * many ran. A timer armed by a callback during this call does not run in
 * it, even when already due: it runs on the next call, so a callback that
 * re-arms itself at "now" cannot make this loop forever (a timer re-armed
 * for an earlier time than others still due may hold those back until the
 * next call too; the loop makes that call at once). */
size_t xs2s__timer_run(xs2s__timer_heap *h, uint64_t now);

#endif /* XS2S_TIMER_H */
