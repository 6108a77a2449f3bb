/*
 * loop_epoll.c: the epoll backend of the built-in loop.
 *
 * Level-triggered, so a handler that leaves data unread is woken again.
 * Each registration carries (generation << 32 | fd) as its epoll data; an
 * eventfd makes a blocked wait return for xs2s__loop_stop().
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "loop.h"

#define WAKE_TAG UINT64_MAX

typedef struct epoll_state {
  int epfd;
  int wakefd;
} epoll_state;

static uint32_t to_epoll(unsigned events) {
  return ((events & XS2S_EV_READ) ? EPOLLIN : 0u) |
         ((events & XS2S_EV_WRITE) ? EPOLLOUT : 0u);
}

static unsigned from_epoll(uint32_t e) {
  return ((e & EPOLLIN) ? XS2S_EV_READ : 0u) |
         ((e & EPOLLOUT) ? XS2S_EV_WRITE : 0u) |
         ((e & (EPOLLERR | EPOLLHUP)) ? XS2S_EV_ERROR : 0u);
}

static int ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {.events = events, .data.u64 = data};
  return epoll_ctl(epfd, op, fd, &ev) < 0 ? XS2S_ERR_SYSTEM : 0;
}

static void epoll_close(void *state, const xs2s_mem *mem) {
  epoll_state *s = state;
  if (s->epfd >= 0)
    close(s->epfd);
  if (s->wakefd >= 0)
    close(s->wakefd);
  xs2s__free(mem, s);
}

static int epoll_open(void **state, const xs2s_mem *mem) {
  epoll_state *s = xs2s__malloc(mem, sizeof(*s));
  if (!s)
    return XS2S_ERR_NOMEM;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->epfd < 0 || s->wakefd < 0 ||
      ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, EPOLLIN, WAKE_TAG) < 0) {
    int saved = errno;
    epoll_close(s, mem);
    errno = saved;
    return XS2S_ERR_SYSTEM;
  }
  *state = s;
  return 0;
}

static uint64_t tag(int fd, uint32_t gen) {
  return ((uint64_t)gen << 32) | (uint32_t)fd;
}

static int epoll_add(void *state, int fd, unsigned events, uint32_t gen) {
  epoll_state *s = state;
  return ctl(s->epfd, EPOLL_CTL_ADD, fd, to_epoll(events), tag(fd, gen));
}

static int epoll_modify(void *state, int fd, unsigned events, uint32_t gen) {
  epoll_state *s = state;
  return ctl(s->epfd, EPOLL_CTL_MOD, fd, to_epoll(events), tag(fd, gen));
}

static int epoll_remove(void *state, int fd) {
  epoll_state *s = state;
  return ctl(s->epfd, EPOLL_CTL_DEL, fd, 0, 0);
}

static void drain_wakeups(epoll_state *s) {
  uint64_t count;
  while (read(s->wakefd, &count, sizeof(count)) == (ssize_t)sizeof(count))
    ;
}

static int epoll_wait_events(void *state, int timeout_ms,
                             xs2s__poll_event *out, int max) {
  epoll_state *s = state;
  struct epoll_event ev[64];
  if (max > 64)
    max = 64;
  int n = epoll_wait(s->epfd, ev, max, timeout_ms);
  if (n < 0)
    return errno == EINTR ? 0 : XS2S_ERR_SYSTEM;
  int count = 0;
  for (int i = 0; i < n; i++) {
    if (ev[i].data.u64 == WAKE_TAG) {
      drain_wakeups(s);
      continue;
    }
    out[count].fd = (int)(uint32_t)ev[i].data.u64;
    out[count].gen = (uint32_t)(ev[i].data.u64 >> 32);
    out[count].events = from_epoll(ev[i].events);
    count++;
  }
  return count;
}

static void epoll_wakeup(void *state) {
  epoll_state *s = state;
  uint64_t one = 1;
  /* EAGAIN means a wake-up is already pending: good enough. */
  ssize_t rc = write(s->wakefd, &one, sizeof(one));
  (void)rc;
}

const xs2s__loop_backend xs2s__loop_epoll = {
    .name = "epoll",
    .open = epoll_open,
    .close = epoll_close,
    .add = epoll_add,
    .modify = epoll_modify,
    .remove = epoll_remove,
    .wait = epoll_wait_events,
    .wakeup = epoll_wakeup,
};
