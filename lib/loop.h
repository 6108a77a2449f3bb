/*
 * loop.h: the event dispatcher shared by the built-in loop and the
 * embedder's loop (internal).
 *
 * The engine registers each file descriptor once with a handler and says
 * which events it wants (XS2S_EV_READ, XS2S_EV_WRITE); it arms timers with
 * a delay. Where the events come from depends on the mode:
 *
 *  - built-in: a polling backend (a small table of functions; epoll on
 *    Linux) is told about every change of interest, and
 *    xs2s__loop_run() waits on it and dispatches until stopped;
 *  - external: every change of interest goes to the embedder's
 *    xs2s_loop_callbacks.watch(), every change of the earliest deadline to
 *    .timer(), and the embedder calls xs2s__loop_on_fd() and
 *    xs2s__loop_on_timer() (behind xs2s_ctx_on_fd() / xs2s_ctx_on_timer()).
 *
 * Both modes dispatch through the same fd table (an array indexed by fd,
 * O(1) per event, no scans) and the same timer heap. The clock is read
 * here and nowhere else in the library: xs2s__loop_now().
 *
 * Handlers must tolerate spurious readiness (non-blocking sockets report
 * EAGAIN): an external loop may deliver an event for an fd whose interest
 * just changed. The built-in loop tags each registration with a generation
 * number, so an event for an fd that was closed and reused during the same
 * round is dropped.
 */
#ifndef XS2S_LOOP_H
#define XS2S_LOOP_H

#include <stdatomic.h>
#include <stdint.h>

#include <xs2s/xs2s.h>

#include "timer.h"

typedef struct xs2s__loop xs2s__loop;

/* Handles readiness of @fd. @events holds XS2S_EV_READ / XS2S_EV_WRITE
 * as reported; XS2S_EV_ERROR comes together with the fd's interest bits,
 * so a handler that reads or writes learns the error from that call. The
 * handler may change any registration, its own included, and arm timers. */
typedef void (*xs2s__fd_fn)(xs2s__loop *loop, int fd, unsigned events,
                            void *arg);

/* One readiness report from a backend. */
typedef struct xs2s__poll_event {
  int fd;
  uint32_t gen;    /* the generation given when the interest was set */
  unsigned events; /* XS2S_EV_* */
} xs2s__poll_event;

/* A polling backend for the built-in loop. */
typedef struct xs2s__loop_backend {
  const char *name;
  /* Creates the backend's state. 0 or a negative error code. */
  int (*open)(void **state, const xs2s_mem *mem);
  void (*close)(void *state, const xs2s_mem *mem);
  /* Start, change and stop watching an fd (@events never 0 for add and
   * modify). 0 or XS2S_ERR_SYSTEM. */
  int (*add)(void *state, int fd, unsigned events, uint32_t gen);
  int (*modify)(void *state, int fd, unsigned events, uint32_t gen);
  int (*remove)(void *state, int fd);
  /* Waits up to @timeout_ms (-1: no limit) and fills at most @max events.
   * Returns the count (0 after a timeout, a signal or a wake-up), or
   * XS2S_ERR_SYSTEM. */
  int (*wait)(void *state, int timeout_ms, xs2s__poll_event *ev, int max);
  /* Makes a wait in progress return. Safe from other threads and from
   * signal handlers. */
  void (*wakeup)(void *state);
} xs2s__loop_backend;

/* The epoll backend (loop_epoll.c). */
extern const xs2s__loop_backend xs2s__loop_epoll;

typedef struct xs2s__fd_slot {
  xs2s__fd_fn fn; /* NULL: fd not registered */
  void *arg;
  unsigned events; /* current interest */
  uint32_t gen;
} xs2s__fd_slot;

struct xs2s__loop {
  const xs2s_mem *mem;
  /* built-in mode */
  const xs2s__loop_backend *backend;
  void *state;
  atomic_int stop;
  /* external mode */
  int external;
  xs2s_loop_callbacks ext;
  void *ext_user_data;
  uint64_t reported_due; /* deadline last given to ext.timer() */
  int report_state;      /* see loop.c */
  /* shared */
  xs2s__fd_slot *slots; /* indexed by fd */
  size_t nslots;
  size_t nregistered;
  uint32_t next_gen;
  xs2s__timer_heap timers;
  uint64_t now;
  int depth; /* > 0 while dispatching */
};

/* A built-in loop on @backend (&xs2s__loop_epoll). @mem is borrowed and
 * must outlive the loop. 0 or a negative error code. */
int xs2s__loop_init(xs2s__loop *l, const xs2s_mem *mem,
                    const xs2s__loop_backend *backend);

/* A loop driven by the embedder through @cb (copied; both members
 * required). 0 or XS2S_ERR_INVALID_ARGUMENT. */
int xs2s__loop_init_external(xs2s__loop *l, const xs2s_mem *mem,
                             const xs2s_loop_callbacks *cb, void *user_data);

/* Frees the loop. Registered fds are forgotten, not closed, and the
 * embedder is not told; timers are disarmed. */
void xs2s__loop_free(xs2s__loop *l);

/* Registers @fd with its handler and initial interest (0 is allowed:
 * registered but not watched). Returns 0; XS2S_ERR_EXISTS when @fd is
 * registered; XS2S_ERR_INVALID_ARGUMENT for a negative fd or no handler;
 * XS2S_ERR_NOMEM; XS2S_ERR_SYSTEM from the backend;
 * XS2S_ERR_CALLBACK_FAILED when the embedder's watch() failed. On error
 * nothing is registered. */
int xs2s__loop_add(xs2s__loop *l, int fd, unsigned events, xs2s__fd_fn fn,
                   void *arg);

/* Changes the interest in a registered fd. Returns 0, XS2S_ERR_NOT_FOUND,
 * XS2S_ERR_SYSTEM or XS2S_ERR_CALLBACK_FAILED. */
int xs2s__loop_set_events(xs2s__loop *l, int fd, unsigned events);

/* Forgets @fd; call before closing it. Pending events for it are dropped.
 * Nothing happens when it is not registered. */
void xs2s__loop_remove(xs2s__loop *l, int fd);

/* The interest in @fd (0 when not registered). */
unsigned xs2s__loop_events(const xs2s__loop *l, int fd);

/* Milliseconds on CLOCK_MONOTONIC: the time at which the current dispatch
 * started, or the clock now when called outside a dispatch. */
uint64_t xs2s__loop_now(xs2s__loop *l);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME), for judging
 * certificate validity; nothing is timed with it. */
uint64_t xs2s__loop_wall_ms(void);

/* Arms (or moves) @t to expire @delay_ms from now. 0 or XS2S_ERR_NOMEM. */
int xs2s__loop_timer_set(xs2s__loop *l, xs2s__timer *t, uint64_t delay_ms);

/* Disarms @t. */
void xs2s__loop_timer_cancel(xs2s__loop *l, xs2s__timer *t);

/* Milliseconds until the earliest timer is due (0 when overdue), or -1
 * when none is armed. */
int64_t xs2s__loop_next_timeout(xs2s__loop *l);

/* External mode entry points (both modes accept them). @events are
 * XS2S_EV_* bits as the embedder's poller reported them; an fd that is not
 * registered is ignored. Return 0. */
int xs2s__loop_on_fd(xs2s__loop *l, int fd, unsigned events);
int xs2s__loop_on_timer(xs2s__loop *l);

/* Built-in mode: waits and dispatches until xs2s__loop_stop() is called
 * or nothing is left to wait for (no fd watched, no timer armed). Returns
 * 0, XS2S_ERR_BAD_STATE in external mode, or XS2S_ERR_SYSTEM when the
 * backend fails. */
int xs2s__loop_run(xs2s__loop *l);

/* Makes xs2s__loop_run() return after the current dispatch. Safe from
 * handlers, other threads and signal handlers. No effect in external
 * mode. */
void xs2s__loop_stop(xs2s__loop *l);

#endif /* XS2S_LOOP_H */
