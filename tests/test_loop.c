/* The event dispatcher: the built-in epoll loop on real pipes and
 * sockets, and the external mode driven by a hand-written poll() loop that
 * plays the embedder. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "check.h"
#include "loop.h"

static xs2s_mem mem;

/* -- Built-in mode -------------------------------------------------------- */

typedef struct reader {
  int calls;
  unsigned last_events;
  char got[16];
  int stop_after;
} reader;

static void on_read(xs2s__loop *l, int fd, unsigned events, void *arg) {
  reader *r = arg;
  r->calls++;
  r->last_events = events;
  if (events & XS2S_EV_READ) {
    ssize_t n = read(fd, r->got, sizeof(r->got) - 1);
    if (n >= 0)
      r->got[n] = '\0';
  }
  if (r->stop_after && r->calls >= r->stop_after)
    xs2s__loop_stop(l);
}

static void test_builtin_read(void) {
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init(&l, &mem, &xs2s__loop_epoll), 0);
  int p[2];
  CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  reader r = {.stop_after = 1};
  CHECK_INT(xs2s__loop_add(&l, p[0], XS2S_EV_READ, on_read, &r), 0);
  CHECK_INT(xs2s__loop_add(&l, p[0], XS2S_EV_READ, on_read, &r),
            XS2S_ERR_EXISTS);
  CHECK_INT(xs2s__loop_add(&l, -1, XS2S_EV_READ, on_read, &r),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__loop_add(&l, p[1], XS2S_EV_READ, NULL, &r),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__loop_set_events(&l, p[1], XS2S_EV_READ), XS2S_ERR_NOT_FOUND);
  CHECK_INT(xs2s__loop_events(&l, p[0]), XS2S_EV_READ);
  CHECK_INT(write(p[1], "hello", 5), 5);
  CHECK_INT(xs2s__loop_run(&l), 0);
  CHECK_INT(r.calls, 1);
  CHECK_INT(r.last_events, XS2S_EV_READ);
  CHECK_STR(r.got, "hello");
  xs2s__loop_remove(&l, p[0]);
  CHECK_INT(xs2s__loop_events(&l, p[0]), 0);
  /* Nothing registered, no timer: run returns at once. */
  CHECK_INT(xs2s__loop_run(&l), 0);
  close(p[0]);
  close(p[1]);
  xs2s__loop_free(&l);
}

static int order[8];
static int norder;

static void note_timer(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t, (void)now;
  order[norder++] = (int)(intptr_t)arg;
}

static void test_builtin_timers(void) {
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init(&l, &mem, &xs2s__loop_epoll), 0);
  xs2s__timer t[3];
  for (int i = 0; i < 3; i++)
    xs2s__timer_init(&t[i], note_timer, (void *)(intptr_t)i);
  CHECK_INT(xs2s__loop_timer_set(&l, &t[0], 30), 0);
  CHECK_INT(xs2s__loop_timer_set(&l, &t[1], 10), 0);
  CHECK_INT(xs2s__loop_timer_set(&l, &t[2], 20), 0);
  int64_t next = xs2s__loop_next_timeout(&l);
  CHECK(next >= 0 && next <= 10);
  norder = 0;
  /* Runs until no timer is left, in deadline order. */
  CHECK_INT(xs2s__loop_run(&l), 0);
  CHECK_INT(norder, 3);
  CHECK_INT(order[0], 1);
  CHECK_INT(order[1], 2);
  CHECK_INT(order[2], 0);
  CHECK_INT(xs2s__loop_next_timeout(&l), -1);
  /* A cancelled timer never fires. */
  xs2s__loop_timer_set(&l, &t[0], 5);
  xs2s__loop_timer_set(&l, &t[1], 1);
  xs2s__loop_timer_cancel(&l, &t[0]);
  norder = 0;
  CHECK_INT(xs2s__loop_run(&l), 0);
  CHECK_INT(norder, 1);
  CHECK_INT(order[0], 1);
  xs2s__loop_free(&l);
}

/* Two readable fds in one epoll batch; the first handler called removes
 * and closes the other and opens a new fd that gets the same number. The
 * batch's event for the old fd must not reach the new fd's handler. */
typedef struct reuse_test {
  xs2s__loop *l;
  int a[2], b[2];
  int first;         /* fd handled first */
  int replacement[2];
  int stale_calls;   /* calls of the replacement's handler */
  int other_calls;   /* calls of the old fd's handler after removal */
} reuse_test;

static void on_stale(xs2s__loop *l, int fd, unsigned events, void *arg) {
  (void)l, (void)fd, (void)events;
  ((reuse_test *)arg)->stale_calls++;
}

static void on_first(xs2s__loop *l, int fd, unsigned events, void *arg) {
  reuse_test *t = arg;
  if (t->first >= 0) {
    t->other_calls++;
    return;
  }
  t->first = fd;
  int victim = fd == t->a[0] ? t->b[0] : t->a[0];
  xs2s__loop_remove(l, victim);
  close(victim);
  CHECK_INT(pipe2(t->replacement, O_NONBLOCK | O_CLOEXEC), 0);
  /* The lowest free number is the one just closed. */
  CHECK_INT(t->replacement[0], victim);
  CHECK_INT(xs2s__loop_add(l, t->replacement[0], XS2S_EV_READ, on_stale, t),
            0);
  xs2s__loop_stop(l);
}

static void test_builtin_stale_event(void) {
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init(&l, &mem, &xs2s__loop_epoll), 0);
  reuse_test t = {.l = &l, .first = -1};
  CHECK_INT(pipe2(t.a, O_NONBLOCK | O_CLOEXEC), 0);
  CHECK_INT(pipe2(t.b, O_NONBLOCK | O_CLOEXEC), 0);
  CHECK_INT(xs2s__loop_add(&l, t.a[0], XS2S_EV_READ, on_first, &t), 0);
  CHECK_INT(xs2s__loop_add(&l, t.b[0], XS2S_EV_READ, on_first, &t), 0);
  CHECK_INT(write(t.a[1], "x", 1), 1);
  CHECK_INT(write(t.b[1], "y", 1), 1);
  CHECK_INT(xs2s__loop_run(&l), 0);
  CHECK(t.first >= 0);
  CHECK_INT(t.stale_calls, 0);
  CHECK_INT(t.other_calls, 0);
  int survivor = t.first;
  close(survivor);
  close(t.replacement[0]);
  close(t.replacement[1]);
  close(t.a[1]);
  close(t.b[1]);
  xs2s__loop_free(&l);
}

static void test_builtin_write_and_error(void) {
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init(&l, &mem, &xs2s__loop_epoll), 0);
  int sv[2];
  CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  reader r = {.stop_after = 1};
  /* Registered without interest: not watched at all. */
  CHECK_INT(xs2s__loop_add(&l, sv[0], 0, on_read, &r), 0);
  CHECK_INT(xs2s__loop_set_events(&l, sv[0], XS2S_EV_WRITE), 0);
  CHECK_INT(xs2s__loop_run(&l), 0);
  CHECK_INT(r.calls, 1);
  CHECK_INT(r.last_events, XS2S_EV_WRITE);
  xs2s__loop_remove(&l, sv[0]);

  /* The write end of a pipe whose reader is gone reports an error; it
   * comes with the interest bits so the handler tries its operation. */
  int p[2];
  CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  reader e = {.stop_after = 1};
  CHECK_INT(xs2s__loop_add(&l, p[1], XS2S_EV_READ, on_read, &e), 0);
  close(p[0]);
  CHECK_INT(xs2s__loop_run(&l), 0);
  CHECK_INT(e.calls, 1);
  CHECK(e.last_events & XS2S_EV_ERROR);
  CHECK(e.last_events & XS2S_EV_READ);
  xs2s__loop_remove(&l, p[1]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
  xs2s__loop_free(&l);
}

static void *stop_later(void *arg) {
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  xs2s__loop_stop(arg);
  return NULL;
}

static void test_builtin_stop_from_thread(void) {
  /* The loop blocks with no timer on an fd that never becomes ready; only
   * the wake-up can make it return. */
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init(&l, &mem, &xs2s__loop_epoll), 0);
  int p[2];
  CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
  reader r = {0};
  CHECK_INT(xs2s__loop_add(&l, p[0], XS2S_EV_READ, on_read, &r), 0);
  pthread_t th;
  CHECK_INT(pthread_create(&th, NULL, stop_later, &l), 0);
  CHECK_INT(xs2s__loop_run(&l), 0);
  pthread_join(th, NULL);
  CHECK_INT(r.calls, 0);
  xs2s__loop_remove(&l, p[0]);
  close(p[0]);
  close(p[1]);
  xs2s__loop_free(&l);
}

/* -- External mode: a poll() loop as the embedder ------------------------- */

typedef struct embedder {
  struct pollfd fds[8];
  int nfds;
  int64_t timeout; /* as last reported, -1 none */
  int watch_calls, timer_calls;
  int fail_watch;
  unsigned log[16]; /* watch calls: fd << 4 | events */
} embedder;

static int ext_watch(int fd, unsigned events, void *ud) {
  embedder *e = ud;
  if (e->fail_watch)
    return -1;
  e->log[e->watch_calls++ % 16] = ((unsigned)fd << 4) | events;
  int i = 0;
  while (i < e->nfds && e->fds[i].fd != fd)
    i++;
  if (events == 0) {
    if (i < e->nfds)
      e->fds[i] = e->fds[--e->nfds];
    return 0;
  }
  if (i == e->nfds)
    e->nfds++;
  e->fds[i].fd = fd;
  e->fds[i].events = (short)(((events & XS2S_EV_READ) ? POLLIN : 0) |
                             ((events & XS2S_EV_WRITE) ? POLLOUT : 0));
  return 0;
}

static int ext_timer(int64_t timeout_ms, void *ud) {
  embedder *e = ud;
  e->timeout = timeout_ms;
  e->timer_calls++;
  return 0;
}

/* One round of the embedder's loop. Returns poll's result. */
static int ext_round(xs2s__loop *l, embedder *e) {
  struct pollfd fds[8];
  int nfds = e->nfds;
  memcpy(fds, e->fds, sizeof(fds));
  int timeout = e->timeout < 0 ? 1000 : (int)e->timeout;
  int n = poll(fds, (nfds_t)nfds, timeout);
  if (n == 0 && e->timeout >= 0)
    xs2s__loop_on_timer(l);
  for (int i = 0; n > 0 && i < nfds; i++) {
    if (!fds[i].revents)
      continue;
    unsigned ev = ((fds[i].revents & POLLIN) ? XS2S_EV_READ : 0u) |
                  ((fds[i].revents & POLLOUT) ? XS2S_EV_WRITE : 0u) |
                  ((fds[i].revents & (POLLERR | POLLHUP)) ? XS2S_EV_ERROR
                                                          : 0u);
    xs2s__loop_on_fd(l, fds[i].fd, ev);
  }
  return n;
}

typedef struct ext_flow {
  xs2s__loop *l;
  int p[2];
  xs2s__timer t;
  int step; /* 1: timer fired, 2: data read */
} ext_flow;

static void flow_timer(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t, (void)now;
  ext_flow *f = arg;
  CHECK_INT(f->step, 0);
  f->step = 1;
  CHECK_INT(write(f->p[1], "z", 1), 1);
}

static void flow_read(xs2s__loop *l, int fd, unsigned events, void *arg) {
  ext_flow *f = arg;
  char c;
  CHECK(events & XS2S_EV_READ);
  CHECK_INT(read(fd, &c, 1), 1);
  CHECK_INT(f->step, 1);
  f->step = 2;
  xs2s__loop_remove(l, fd);
}

static void test_external_flow(void) {
  embedder e = {.timeout = -1};
  xs2s_loop_callbacks cb = {ext_watch, ext_timer};
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init_external(&l, &mem, &cb, &e), 0);
  ext_flow f = {.l = &l};
  CHECK_INT(pipe2(f.p, O_NONBLOCK | O_CLOEXEC), 0);
  CHECK_INT(xs2s__loop_add(&l, f.p[0], XS2S_EV_READ, flow_read, &f), 0);
  CHECK_INT(e.watch_calls, 1);
  CHECK_INT(e.log[0], ((unsigned)f.p[0] << 4) | XS2S_EV_READ);
  xs2s__timer_init(&f.t, flow_timer, &f);
  CHECK_INT(xs2s__loop_timer_set(&l, &f.t, 5), 0);
  CHECK_INT(e.timer_calls, 1);
  CHECK(e.timeout >= 0 && e.timeout <= 5);
  for (int i = 0; i < 100 && f.step < 2; i++)
    ext_round(&l, &e);
  CHECK_INT(f.step, 2);
  /* The fd was handed back with events 0, and no timer is left. */
  CHECK_INT(e.watch_calls, 2);
  CHECK_INT(e.log[1], (unsigned)f.p[0] << 4);
  CHECK_INT(e.nfds, 0);
  CHECK_INT(e.timeout, -1);
  CHECK_INT(xs2s__loop_run(&l), XS2S_ERR_BAD_STATE);
  close(f.p[0]);
  close(f.p[1]);
  xs2s__loop_free(&l);
}

static xs2s__timer burst[3];

static void arm_burst(xs2s__loop *l, int fd, unsigned events, void *arg) {
  (void)fd, (void)events, (void)arg;
  for (int i = 0; i < 3; i++)
    xs2s__loop_timer_set(l, &burst[i], (uint64_t)(300 - 100 * i));
}

static void test_external_timer_reports(void) {
  embedder e = {.timeout = -1};
  xs2s_loop_callbacks cb = {ext_watch, ext_timer};
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init_external(&l, &mem, &cb, &e), 0);
  xs2s__timer a, b;
  xs2s__timer_init(&a, NULL, NULL);
  xs2s__timer_init(&b, NULL, NULL);
  /* Reported only when the earliest deadline changes. */
  xs2s__loop_timer_set(&l, &a, 1000);
  CHECK_INT(e.timer_calls, 1);
  CHECK(e.timeout >= 0 && e.timeout <= 1000);
  xs2s__loop_timer_set(&l, &b, 5000);
  CHECK_INT(e.timer_calls, 1);
  xs2s__loop_timer_cancel(&l, &a);
  CHECK_INT(e.timer_calls, 2);
  CHECK(e.timeout >= 0 && e.timeout <= 5000);
  xs2s__loop_timer_cancel(&l, &b);
  CHECK_INT(e.timer_calls, 3);
  CHECK_INT(e.timeout, -1);
  xs2s__loop_timer_cancel(&l, &b);
  CHECK_INT(e.timer_calls, 3);

  /* Arming several timers inside a dispatch gives one report, after it. */
  int sv[2];
  CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  for (int i = 0; i < 3; i++)
    xs2s__timer_init(&burst[i], NULL, NULL);
  CHECK_INT(xs2s__loop_add(&l, sv[0], XS2S_EV_WRITE, arm_burst, NULL), 0);
  CHECK_INT(xs2s__loop_on_fd(&l, sv[0], XS2S_EV_WRITE), 0);
  CHECK_INT(e.timer_calls, 4);
  CHECK(e.timeout >= 0 && e.timeout <= 100);
  /* Events the fd did not ask for, and unknown fds, are ignored. */
  CHECK_INT(xs2s__loop_on_fd(&l, sv[0], XS2S_EV_READ), 0);
  CHECK_INT(xs2s__loop_on_fd(&l, 999, XS2S_EV_READ), 0);
  CHECK_INT(e.timer_calls, 4);
  /* The embedder fired its timer early: nothing expired, but its timer is
   * spent, so the same deadline is reported again. */
  CHECK_INT(xs2s__loop_on_timer(&l), 0);
  CHECK_INT(e.timer_calls, 5);
  CHECK(e.timeout >= 0);
  for (int i = 0; i < 3; i++)
    CHECK(xs2s__timer_armed(&burst[i]));
  xs2s__loop_remove(&l, sv[0]);
  close(sv[0]);
  close(sv[1]);
  xs2s__loop_free(&l);
  for (int i = 0; i < 3; i++)
    CHECK(!xs2s__timer_armed(&burst[i]));
}

static void test_external_failures(void) {
  embedder e = {.timeout = -1};
  xs2s_loop_callbacks cb = {ext_watch, ext_timer};
  xs2s_loop_callbacks half = {ext_watch, NULL};
  xs2s__loop l;
  CHECK_INT(xs2s__loop_init_external(&l, &mem, &half, &e),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__loop_init_external(&l, &mem, NULL, &e),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__loop_init_external(&l, &mem, &cb, &e), 0);
  reader r = {0};
  e.fail_watch = 1;
  CHECK_INT(xs2s__loop_add(&l, 0, XS2S_EV_READ, on_read, &r),
            XS2S_ERR_CALLBACK_FAILED);
  CHECK_INT(xs2s__loop_events(&l, 0), 0);
  e.fail_watch = 0;
  CHECK_INT(xs2s__loop_add(&l, 0, XS2S_EV_READ, on_read, &r), 0);
  e.fail_watch = 1;
  CHECK_INT(xs2s__loop_set_events(&l, 0, XS2S_EV_WRITE),
            XS2S_ERR_CALLBACK_FAILED);
  CHECK_INT(xs2s__loop_events(&l, 0), XS2S_EV_READ);
  e.fail_watch = 0;
  xs2s__loop_remove(&l, 0);
  xs2s__loop_stop(&l); /* no effect in external mode */
  xs2s__loop_free(&l);
}

int main(void) {
  xs2s__mem_init(&mem, NULL);
  RUN(test_builtin_read);
  RUN(test_builtin_timers);
  RUN(test_builtin_stale_event);
  RUN(test_builtin_write_and_error);
  RUN(test_builtin_stop_from_thread);
  RUN(test_external_flow);
  RUN(test_external_timer_reports);
  RUN(test_external_failures);
  return check_finish();
}
