/*
 * xs2s-libevent: xs2s embedded in a libevent loop (the external-loop mode).
 *
 *   xs2s-libevent --domain D [--listen ADDR:PORT] [--resolver-conf FILE]
 *                 [--route DOMAIN=HOST:PORT] [--send FROM TO BODY]
 *
 * The engine says which fds to watch through watch() and when it next
 * needs the time through timer(); libevent calls back xs2s_ctx_on_fd()
 * and xs2s_ctx_on_timer(). Messages that arrive are printed. With --send,
 * one message is sent at start-up, and the program exits at the first
 * message that arrives (an echo, say) or when the message is bounced.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xs2s/xs2s.h>

#define MAX_FD 4096

typedef struct app {
  struct event_base *base;
  struct event *fds[MAX_FD];
  struct event *timer;
  xs2s_ctx *ctx;
  int exit_after_reply;
} app;

static void fd_cb(evutil_socket_t fd, short what, void *arg) {
  app *a = arg;
  unsigned ev = ((what & EV_READ) ? XS2S_EV_READ : 0) |
                ((what & EV_WRITE) ? XS2S_EV_WRITE : 0);
  xs2s_ctx_on_fd(a->ctx, (int)fd, ev);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  app *a = arg;
  xs2s_ctx_on_timer(a->ctx);
}

/* The engine's interest in @fd changed. */
static int watch(int fd, unsigned events, void *ud) {
  app *a = ud;
  if (fd < 0 || fd >= MAX_FD)
    return -1;
  if (a->fds[fd]) {
    event_free(a->fds[fd]);
    a->fds[fd] = NULL;
  }
  if (events == 0)
    return 0;
  short what = EV_PERSIST | ((events & XS2S_EV_READ) ? EV_READ : 0) |
               ((events & XS2S_EV_WRITE) ? EV_WRITE : 0);
  a->fds[fd] = event_new(a->base, fd, what, fd_cb, a);
  return a->fds[fd] && event_add(a->fds[fd], NULL) == 0 ? 0 : -1;
}

/* The engine's next deadline changed. */
static int timer(int64_t ms, void *ud) {
  app *a = ud;
  if (ms < 0)
    return event_del(a->timer);
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return event_add(a->timer, &tv);
}

static int on_stanza(xs2s_ctx *ctx, const xs2s_stanza *s, const char *remote,
                     void *ud) {
  (void)ctx;
  app *a = ud;
  const xs2s_stanza *body = xs2s_stanza_find_child(s, "body", "jabber:server");
  printf("message from %s: %s\n", remote,
         body && xs2s_stanza_text(body) ? xs2s_stanza_text(body) : "");
  fflush(stdout);
  if (a->exit_after_reply)
    event_base_loopbreak(a->base);
  return 0;
}

static void on_bounce(xs2s_ctx *ctx, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text, void *tag,
                      void *ud) {
  (void)ctx, (void)s, (void)tag;
  app *a = ud;
  printf("bounced: %s (%s)\n", xs2s_stanza_condition_name(cond), text);
  fflush(stdout);
  if (a->exit_after_reply)
    event_base_loopbreak(a->base);
}

static void on_log(xs2s_ctx *ctx, xs2s_log_level level, const char *line,
                   void *ud) {
  (void)ctx, (void)ud;
  if (level <= XS2S_LOG_WARNING || getenv("XS2S_VERBOSE"))
    fprintf(stderr, "%s: %s\n", xs2s_log_level_name(level), line);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)sig, (void)what;
  event_base_loopbreak(((app *)arg)->base);
}

int main(int argc, char **argv) {
  static app a;
  xs2s_config *cfg = xs2s_config_new(NULL);
  const char *domain = NULL, *from = NULL, *to = NULL, *body = NULL;
  int rc = 0, listeners = 0;
  for (int i = 1; i < argc && rc == 0; i++) {
    if (!strcmp(argv[i], "--send") && i + 3 < argc) {
      from = argv[++i], to = argv[++i], body = argv[++i];
    } else if (i + 1 < argc && !strcmp(argv[i], "--domain")) {
      domain = argv[++i];
    } else if (i + 1 < argc && !strcmp(argv[i], "--listen")) {
      rc = xs2s_config_add_listener(cfg, argv[++i], 0);
      listeners++;
    } else if (i + 1 < argc && !strcmp(argv[i], "--resolver-conf")) {
      rc = xs2s_config_set_unbound_config(cfg, argv[++i]);
    } else if (i + 1 < argc && !strcmp(argv[i], "--route")) {
      char d[1024];
      const char *v = argv[++i], *eq = strchr(v, '=');
      if (!eq || (size_t)(eq - v) >= sizeof(d))
        rc = XS2S_ERR_INVALID_ARGUMENT;
      else {
        memcpy(d, v, (size_t)(eq - v));
        d[eq - v] = '\0';
        rc = xs2s_config_add_route(cfg, d, eq + 1, 0);
      }
    } else {
      rc = XS2S_ERR_INVALID_ARGUMENT;
    }
  }
  if (!domain || rc < 0) {
    fprintf(stderr, "usage: xs2s-libevent --domain D [--listen ADDR:PORT] "
                    "[--resolver-conf FILE] [--route D=HOST:PORT] "
                    "[--send FROM TO BODY]\n");
    return 2;
  }
  xs2s_config_add_domain(cfg, domain, NULL, NULL);
  xs2s_config_set_tls_mode(cfg, XS2S_TLS_OFF);
  if (!listeners)
    xs2s_config_add_listener(cfg, "0.0.0.0", 0);
  a.base = event_base_new();
  a.timer = evtimer_new(a.base, timer_cb, &a);
  struct event *sig = evsignal_new(a.base, SIGINT, on_signal, &a);
  event_add(sig, NULL);
  xs2s_ctx_callbacks cb = {.stanza = on_stanza, .bounce = on_bounce,
                           .log = on_log};
  xs2s_loop_callbacks loop = {watch, timer};
  rc = xs2s_ctx_new(&a.ctx, cfg, &cb, &loop, &a);
  xs2s_config_free(cfg);
  if (rc < 0) {
    fprintf(stderr, "xs2s-libevent: %s\n", xs2s_strerror(rc));
    return 1;
  }
  if (from) {
    char xml[1024];
    snprintf(xml, sizeof(xml),
             "<message type='chat'><body>%s</body></message>", body);
    a.exit_after_reply = 1;
    rc = xs2s_ctx_send_raw(a.ctx, from, to, xml, strlen(xml), NULL);
    if (rc < 0)
      fprintf(stderr, "xs2s-libevent: send: %s\n", xs2s_strerror(rc));
  }
  printf("ready\n");
  fflush(stdout);
  event_base_dispatch(a.base);
  xs2s_ctx_free(a.ctx); /* calls watch(fd, 0) for every fd first */
  for (int fd = 0; fd < MAX_FD; fd++)
    if (a.fds[fd])
      event_free(a.fds[fd]);
  event_free(a.timer);
  event_free(sig);
  event_base_free(a.base);
  return 0;
}
