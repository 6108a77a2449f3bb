/*
 * loop.c: the fd/timer dispatcher behind both event-loop modes, and the
 * library's one clock read.
 */
#include "loop.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

/* What the embedder's timer currently is, in external mode. */
enum report_state {
  REPORT_NONE,   /* no timer (nothing reported yet, or -1 reported) */
  REPORT_DUE,    /* reported_due was reported */
  REPORT_STALE   /* the embedder's timer fired; report again */
};

#define NO_DUE UINT64_MAX
#define MAX_EVENTS 64

/* The only clock read in xs2s. */
static uint64_t clock_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t xs2s__loop_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t xs2s__loop_now(xs2s__loop *l) {
  if (l->depth == 0)
    l->now = clock_ms();
  return l->now;
}

static void init_common(xs2s__loop *l, const xs2s_mem *mem) {
  memset(l, 0, sizeof(*l));
  l->mem = mem;
  atomic_init(&l->stop, 0);
  xs2s__timer_heap_init(&l->timers, mem);
  l->reported_due = NO_DUE;
  l->report_state = REPORT_NONE;
  l->now = clock_ms();
}

int xs2s__loop_init(xs2s__loop *l, const xs2s_mem *mem,
                    const xs2s__loop_backend *backend) {
  init_common(l, mem);
  l->backend = backend;
  return backend->open(&l->state, mem);
}

int xs2s__loop_init_external(xs2s__loop *l, const xs2s_mem *mem,
                             const xs2s_loop_callbacks *cb, void *user_data) {
  if (!cb || !cb->watch || !cb->timer)
    return XS2S_ERR_INVALID_ARGUMENT;
  init_common(l, mem);
  l->external = 1;
  l->ext = *cb;
  l->ext_user_data = user_data;
  return 0;
}

void xs2s__loop_free(xs2s__loop *l) {
  if (l->backend && l->state)
    l->backend->close(l->state, l->mem);
  l->state = NULL;
  xs2s__free(l->mem, l->slots);
  l->slots = NULL;
  l->nslots = l->nregistered = 0;
  xs2s__timer_heap_free(&l->timers);
}

/* -- Timer reporting (external mode) -------------------------------------- */

static uint64_t next_due(const xs2s__loop *l) {
  const xs2s__timer *t = xs2s__timer_first(&l->timers);
  return t ? t->due : NO_DUE;
}

/* Tells the embedder about a changed earliest deadline. Deferred while
 * dispatching, so one event that re-arms many timers costs one call. */
static void report_timer(xs2s__loop *l) {
  if (!l->external || l->depth > 0)
    return;
  uint64_t due = next_due(l);
  if (l->report_state != REPORT_STALE &&
      due == (l->report_state == REPORT_DUE ? l->reported_due : NO_DUE))
    return;
  int64_t timeout = -1;
  if (due != NO_DUE) {
    uint64_t now = xs2s__loop_now(l);
    uint64_t delta = due > now ? due - now : 0;
    timeout = delta > INT64_MAX ? INT64_MAX : (int64_t)delta;
  }
  l->reported_due = due;
  l->report_state = due == NO_DUE ? REPORT_NONE : REPORT_DUE;
  /* A failing timer callback leaves nothing to retry with: the next
   * change of deadline reports again. */
  l->ext.timer(timeout, l->ext_user_data);
}

static void enter(xs2s__loop *l) {
  if (l->depth++ == 0)
    l->now = clock_ms();
}

static void leave(xs2s__loop *l) {
  if (--l->depth == 0)
    report_timer(l);
}

/* -- Timers --------------------------------------------------------------- */

int xs2s__loop_timer_set(xs2s__loop *l, xs2s__timer *t, uint64_t delay_ms) {
  uint64_t now = xs2s__loop_now(l);
  uint64_t due = delay_ms > NO_DUE - 1 - now ? NO_DUE - 1 : now + delay_ms;
  int rc = xs2s__timer_set(&l->timers, t, due);
  report_timer(l);
  return rc;
}

void xs2s__loop_timer_cancel(xs2s__loop *l, xs2s__timer *t) {
  xs2s__timer_cancel(&l->timers, t);
  report_timer(l);
}

int64_t xs2s__loop_next_timeout(xs2s__loop *l) {
  uint64_t due = next_due(l);
  if (due == NO_DUE)
    return -1;
  uint64_t now = xs2s__loop_now(l);
  return due > now ? (int64_t)(due - now) : 0;
}

int xs2s__loop_on_timer(xs2s__loop *l) {
  enter(l);
  /* The embedder's one-shot timer is spent: always say what comes next. */
  l->report_state = REPORT_STALE;
  xs2s__timer_run(&l->timers, l->now);
  leave(l);
  return 0;
}

/* -- File descriptors ----------------------------------------------------- */

static int grow_slots(xs2s__loop *l, int fd) {
  if ((size_t)fd < l->nslots)
    return 0;
  size_t n = l->nslots ? l->nslots : 64;
  while (n <= (size_t)fd)
    n *= 2;
  xs2s__fd_slot *s = xs2s__realloc(l->mem, l->slots, n * sizeof(*s));
  if (!s)
    return XS2S_ERR_NOMEM;
  memset(s + l->nslots, 0, (n - l->nslots) * sizeof(*s));
  l->slots = s;
  l->nslots = n;
  return 0;
}

/* Tells the backend or the embedder that the interest in @fd goes from
 * @old to @events. */
static int apply(xs2s__loop *l, int fd, unsigned old, unsigned events,
                 uint32_t gen) {
  if (old == events)
    return 0;
  if (l->external)
    return l->ext.watch(fd, events, l->ext_user_data) < 0
               ? XS2S_ERR_CALLBACK_FAILED
               : 0;
  if (old == 0)
    return l->backend->add(l->state, fd, events, gen);
  if (events == 0)
    return l->backend->remove(l->state, fd);
  return l->backend->modify(l->state, fd, events, gen);
}

static xs2s__fd_slot *slot_of(const xs2s__loop *l, int fd) {
  if (fd < 0 || (size_t)fd >= l->nslots || !l->slots[fd].fn)
    return NULL;
  return &l->slots[fd];
}

int xs2s__loop_add(xs2s__loop *l, int fd, unsigned events, xs2s__fd_fn fn,
                   void *arg) {
  events &= XS2S_EV_READ | XS2S_EV_WRITE;
  if (fd < 0 || !fn)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (slot_of(l, fd))
    return XS2S_ERR_EXISTS;
  int rc = grow_slots(l, fd);
  if (rc < 0)
    return rc;
  /* Generation 0 means "unchecked" to dispatch(); skip it on wrap-around. */
  if (++l->next_gen == 0)
    l->next_gen = 1;
  uint32_t gen = l->next_gen;
  rc = apply(l, fd, 0, events, gen);
  if (rc < 0)
    return rc;
  l->slots[fd] = (xs2s__fd_slot){fn, arg, events, gen};
  l->nregistered++;
  return 0;
}

int xs2s__loop_set_events(xs2s__loop *l, int fd, unsigned events) {
  events &= XS2S_EV_READ | XS2S_EV_WRITE;
  xs2s__fd_slot *s = slot_of(l, fd);
  if (!s)
    return XS2S_ERR_NOT_FOUND;
  int rc = apply(l, fd, s->events, events, s->gen);
  if (rc == 0)
    s->events = events;
  return rc;
}

void xs2s__loop_remove(xs2s__loop *l, int fd) {
  xs2s__fd_slot *s = slot_of(l, fd);
  if (!s)
    return;
  /* Nothing to do on failure: the fd is about to be closed, which takes
   * it out of any epoll set, and the embedder was told. */
  apply(l, fd, s->events, 0, s->gen);
  memset(s, 0, sizeof(*s));
  l->nregistered--;
}

unsigned xs2s__loop_events(const xs2s__loop *l, int fd) {
  const xs2s__fd_slot *s = slot_of(l, fd);
  return s ? s->events : 0;
}

/* Calls the handler of @fd; @gen 0 means "do not check the generation". */
static void dispatch(xs2s__loop *l, int fd, uint32_t gen, unsigned events) {
  const xs2s__fd_slot *s = slot_of(l, fd);
  if (!s || (gen != 0 && s->gen != gen))
    return;
  if (events & XS2S_EV_ERROR)
    events |= s->events;
  events &= s->events | XS2S_EV_ERROR;
  if (events == 0)
    return;
  /* Copy before the call: the handler may grow or change the table. */
  xs2s__fd_fn fn = s->fn;
  void *arg = s->arg;
  fn(l, fd, events, arg);
}

int xs2s__loop_on_fd(xs2s__loop *l, int fd, unsigned events) {
  enter(l);
  dispatch(l, fd, 0, events);
  leave(l);
  return 0;
}

/* -- Built-in loop -------------------------------------------------------- */

int xs2s__loop_run(xs2s__loop *l) {
  if (l->external)
    return XS2S_ERR_BAD_STATE;
  xs2s__poll_event ev[MAX_EVENTS];
  atomic_store(&l->stop, 0);
  while (!atomic_load(&l->stop)) {
    enter(l);
    xs2s__timer_run(&l->timers, l->now);
    leave(l);
    if (atomic_load(&l->stop))
      break;
    int64_t timeout = xs2s__loop_next_timeout(l);
    if (timeout < 0 && l->nregistered == 0)
      break;
    int n = l->backend->wait(l->state,
                             timeout > INT_MAX ? INT_MAX : (int)timeout, ev,
                             MAX_EVENTS);
    if (n < 0)
      return n;
    enter(l);
    for (int i = 0; i < n; i++)
      dispatch(l, ev[i].fd, ev[i].gen, ev[i].events);
    leave(l);
  }
  return 0;
}

void xs2s__loop_stop(xs2s__loop *l) {
  if (l->external)
    return;
  atomic_store(&l->stop, 1);
  l->backend->wakeup(l->state);
}
