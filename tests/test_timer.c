/* The timer heap: expiry order, cancel and re-arm at any position, heap
 * invariants after random operations, callbacks that touch timers, and
 * running out of memory. */
#include <stdlib.h>

#include "alloc.h"
#include "check.h"
#include "timer.h"

#define N 500

static xs2s_mem mem;
static int fired[N * 4];
static int nfired;

static void record(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t, (void)now;
  fired[nfired++] = (int)(intptr_t)arg;
}

/* Every parent expires no later than its children; indexes are right. */
static int heap_ok(const xs2s__timer_heap *h) {
  for (size_t i = 0; i < h->len; i++) {
    const xs2s__timer *t = h->items[i];
    if (t->index != i)
      return 0;
    if (i > 0) {
      const xs2s__timer *p = h->items[(i - 1) / 2];
      if (p->due > t->due || (p->due == t->due && p->seq > t->seq))
        return 0;
    }
  }
  return 1;
}

static void test_order(void) {
  xs2s__timer_heap h;
  xs2s__timer_heap_init(&h, &mem);
  static xs2s__timer t[N];
  srand(11);
  for (int i = 0; i < N; i++) {
    xs2s__timer_init(&t[i], record, (void *)(intptr_t)i);
    CHECK_INT(xs2s__timer_set(&h, &t[i], 1000 + (uint64_t)(rand() % 100)), 0);
  }
  CHECK(heap_ok(&h));
  CHECK_INT(xs2s__timer_run(&h, 999), 0);
  nfired = 0;
  /* Advance time in steps; every timer fires once, in (due, seq) order. */
  for (uint64_t now = 1000; now < 1100; now += 7)
    xs2s__timer_run(&h, now);
  xs2s__timer_run(&h, 1100);
  CHECK_INT(nfired, N);
  for (int i = 1; i < nfired; i++) {
    const xs2s__timer *a = &t[fired[i - 1]], *b = &t[fired[i]];
    CHECK(a->due < b->due || (a->due == b->due && a->seq < b->seq));
  }
  for (int i = 0; i < N; i++)
    CHECK(!xs2s__timer_armed(&t[i]));
  CHECK(xs2s__timer_first(&h) == NULL);
  xs2s__timer_heap_free(&h);
}

static void test_equal_deadlines_fifo(void) {
  xs2s__timer_heap h;
  xs2s__timer_heap_init(&h, &mem);
  xs2s__timer t[5];
  for (int i = 0; i < 5; i++) {
    xs2s__timer_init(&t[i], record, (void *)(intptr_t)i);
    xs2s__timer_set(&h, &t[i], 50);
  }
  nfired = 0;
  CHECK_INT(xs2s__timer_run(&h, 50), 5);
  for (int i = 0; i < 5; i++)
    CHECK_INT(fired[i], i);
  xs2s__timer_heap_free(&h);
}

static void test_cancel_and_move(void) {
  xs2s__timer_heap h;
  xs2s__timer_heap_init(&h, &mem);
  static xs2s__timer t[N];
  static int cancelled[N];
  srand(5);
  for (int i = 0; i < N; i++) {
    xs2s__timer_init(&t[i], record, (void *)(intptr_t)i);
    xs2s__timer_set(&h, &t[i], (uint64_t)(rand() % 10000));
    cancelled[i] = 0;
  }
  /* Random cancels, moves earlier and later, re-arms of disarmed ones. */
  for (int step = 0; step < 4 * N; step++) {
    int i = rand() % N;
    switch (rand() % 3) {
    case 0:
      xs2s__timer_cancel(&h, &t[i]);
      cancelled[i] = 1;
      break;
    case 1:
      xs2s__timer_set(&h, &t[i], (uint64_t)(rand() % 10000));
      cancelled[i] = 0;
      break;
    default:
      if (xs2s__timer_armed(&t[i]))
        xs2s__timer_set(&h, &t[i], t[i].due + (uint64_t)(rand() % 50));
      break;
    }
    if (!heap_ok(&h)) {
      CHECK(heap_ok(&h));
      break;
    }
  }
  size_t armed = 0;
  for (int i = 0; i < N; i++) {
    CHECK_INT(xs2s__timer_armed(&t[i]), !cancelled[i]);
    armed += !cancelled[i];
  }
  CHECK_INT(h.len, armed);
  nfired = 0;
  xs2s__timer_run(&h, 20000);
  CHECK_INT(nfired, armed);
  for (int i = 0; i < nfired; i++)
    CHECK(!cancelled[fired[i]]);
  xs2s__timer_cancel(&h, &t[0]); /* disarmed: nothing happens */
  xs2s__timer_heap_free(&h);
}

/* Callbacks that re-arm themselves or cancel others. */
static xs2s__timer_heap cb_heap;
static xs2s__timer cb_t[3];
static int rearms;

static void rearm_self(xs2s__timer *t, uint64_t now, void *arg) {
  record(t, now, arg);
  if (rearms++ < 3)
    xs2s__timer_set(&cb_heap, t, now); /* due again right away */
}

static void cancel_other(xs2s__timer *t, uint64_t now, void *arg) {
  record(t, now, arg);
  xs2s__timer_cancel(&cb_heap, &cb_t[2]);
}

static void test_callbacks(void) {
  xs2s__timer_heap_init(&cb_heap, &mem);
  xs2s__timer_init(&cb_t[0], rearm_self, (void *)0);
  xs2s__timer_init(&cb_t[1], cancel_other, (void *)1);
  xs2s__timer_init(&cb_t[2], record, (void *)2);
  xs2s__timer_set(&cb_heap, &cb_t[0], 10);
  xs2s__timer_set(&cb_heap, &cb_t[1], 11);
  xs2s__timer_set(&cb_heap, &cb_t[2], 12);
  nfired = 0;
  rearms = 0;
  /* t0 re-arms at "now" but does not run again in this call; t1 cancels
   * t2, which therefore never runs. */
  CHECK_INT(xs2s__timer_run(&cb_heap, 20), 2);
  CHECK_INT(nfired, 2);
  CHECK_INT(fired[0], 0);
  CHECK_INT(fired[1], 1);
  CHECK(xs2s__timer_armed(&cb_t[0]));
  CHECK(!xs2s__timer_armed(&cb_t[2]));
  /* Each later call runs it once more, until it stops re-arming. */
  CHECK_INT(xs2s__timer_run(&cb_heap, 20), 1);
  CHECK_INT(xs2s__timer_run(&cb_heap, 20), 1);
  CHECK_INT(xs2s__timer_run(&cb_heap, 20), 1);
  CHECK_INT(xs2s__timer_run(&cb_heap, 20), 0);
  CHECK(!xs2s__timer_armed(&cb_t[0]));
  xs2s__timer_heap_free(&cb_heap);
}

static int allow;
static void *lim_malloc(size_t n, void *ud) {
  (void)ud;
  return allow-- > 0 ? malloc(n) : NULL;
}
static void *lim_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return allow-- > 0 ? realloc(p, n) : NULL;
}
static void lim_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_out_of_memory(void) {
  xs2s_mem m = {lim_malloc, lim_realloc, lim_free, NULL};
  xs2s__timer_heap h;
  xs2s__timer_heap_init(&h, &m);
  static xs2s__timer t[17];
  allow = 1; /* room for the first 16 */
  for (int i = 0; i < 16; i++) {
    xs2s__timer_init(&t[i], record, (void *)(intptr_t)i);
    CHECK_INT(xs2s__timer_set(&h, &t[i], (uint64_t)(100 - i)), 0);
  }
  xs2s__timer_init(&t[16], record, (void *)16);
  CHECK_INT(xs2s__timer_set(&h, &t[16], 1), XS2S_ERR_NOMEM);
  CHECK(!xs2s__timer_armed(&t[16]));
  /* Moving an armed timer needs no memory. */
  CHECK_INT(xs2s__timer_set(&h, &t[3], 1), 0);
  CHECK(xs2s__timer_first(&h) == &t[3]);
  CHECK(heap_ok(&h));
  xs2s__timer_heap_free(&h);
  for (int i = 0; i < 16; i++)
    CHECK(!xs2s__timer_armed(&t[i]));
}

int main(void) {
  xs2s__mem_init(&mem, NULL);
  RUN(test_order);
  RUN(test_equal_deadlines_fifo);
  RUN(test_cancel_and_move);
  RUN(test_callbacks);
  RUN(test_out_of_memory);
  return check_finish();
}
