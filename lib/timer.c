/*
 * timer.c: binary min-heap of timers ordered by (due, seq).
 */
#include "timer.h"

#include <string.h>

#include "alloc.h"

void xs2s__timer_init(xs2s__timer *t, xs2s__timer_fn fn, void *arg) {
  memset(t, 0, sizeof(*t));
  t->index = XS2S__TIMER_IDLE;
  t->fn = fn;
  t->arg = arg;
}

void xs2s__timer_heap_init(xs2s__timer_heap *h, const xs2s_mem *mem) {
  memset(h, 0, sizeof(*h));
  h->mem = mem;
}

void xs2s__timer_heap_free(xs2s__timer_heap *h) {
  for (size_t i = 0; i < h->len; i++)
    h->items[i]->index = XS2S__TIMER_IDLE;
  xs2s__free(h->mem, h->items);
  h->items = NULL;
  h->len = h->cap = 0;
}

static inline int before(const xs2s__timer *a, const xs2s__timer *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static inline void place(xs2s__timer_heap *h, size_t i, xs2s__timer *t) {
  h->items[i] = t;
  t->index = i;
}

static void sift_up(xs2s__timer_heap *h, size_t i) {
  xs2s__timer *t = h->items[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(t, h->items[parent]))
      break;
    place(h, i, h->items[parent]);
    i = parent;
  }
  place(h, i, t);
}

static void sift_down(xs2s__timer_heap *h, size_t i) {
  xs2s__timer *t = h->items[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= h->len)
      break;
    if (child + 1 < h->len && before(h->items[child + 1], h->items[child]))
      child++;
    if (!before(h->items[child], t))
      break;
    place(h, i, h->items[child]);
    i = child;
  }
  place(h, i, t);
}

/* Restores the heap order around position @i after its timer changed. */
static void fix(xs2s__timer_heap *h, size_t i) {
  if (i > 0 && before(h->items[i], h->items[(i - 1) / 2]))
    sift_up(h, i);
  else
    sift_down(h, i);
}

int xs2s__timer_set(xs2s__timer_heap *h, xs2s__timer *t, uint64_t due) {
  if (!xs2s__timer_armed(t) && h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    xs2s__timer **items = xs2s__realloc(h->mem, h->items, cap * sizeof(*items));
    if (!items)
      return XS2S_ERR_NOMEM;
    h->items = items;
    h->cap = cap;
  }
  t->due = due;
  t->seq = h->next_seq++;
  if (xs2s__timer_armed(t)) {
    fix(h, t->index);
  } else {
    place(h, h->len++, t);
    sift_up(h, t->index);
  }
  return 0;
}

void xs2s__timer_cancel(xs2s__timer_heap *h, xs2s__timer *t) {
  if (!xs2s__timer_armed(t))
    return;
  size_t i = t->index;
  xs2s__timer *last = h->items[--h->len];
  t->index = XS2S__TIMER_IDLE;
  if (last == t)
    return;
  place(h, i, last);
  fix(h, i);
}

size_t xs2s__timer_run(xs2s__timer_heap *h, uint64_t now) {
  uint64_t bound = h->next_seq;
  size_t ran = 0;
  for (;;) {
    xs2s__timer *t = xs2s__timer_first(h);
    if (!t || t->due > now || t->seq >= bound)
      break;
    xs2s__timer_cancel(h, t);
    ran++;
    if (t->fn)
      t->fn(t, now, t->arg);
  }
  return ran;
}
