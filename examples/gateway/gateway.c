/*
 * gateway.c: xs2s-gateway, a federation edge for XEP-0114 components.
 *
 *   xs2s-gateway -c gateway.xml [-t]
 *
 * One epoll loop runs everything: the engine (xs2s_ctx on its external-loop
 * hooks), the component listener and streams, and a signalfd for SIGTERM /
 * SIGINT (clean shutdown), SIGHUP (reload) and SIGUSR1 (status line).
 * docs/GATEWAY.md describes the program; config.c the file, component.c
 * the component streams, router.c where stanzas go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "component.h"
#include "config.h"
#include "router.h"

/* Component connections open at once (authenticated or not). */
#define MAX_COMPONENT_CONNS 256
/* How long a shutdown waits for peers to close before giving up. */
#define SHUTDOWN_GRACE_MS 5000

typedef struct gw gw;
typedef void (*io_fn)(gw *g, void *arg, int fd, unsigned events);

typedef struct slot {
  io_fn fn;
  void *arg;
  uint32_t gen;
  uint32_t interest; /* EPOLLIN / EPOLLOUT now registered */
} slot;

/* One engine. A reload applies the engine's part to it in place; only a
 * change it refuses starts a new one and lets the old one close its
 * streams (it is "retiring"). */
typedef struct engine {
  gw *g;
  xs2s_ctx *ctx;
  int64_t deadline; /* absolute ms, -1: none */
  int retiring;
  struct engine *next;
} engine;

typedef struct conn {
  gw *g;
  int fd;
  gw_component *c;
  int attached;
  char domain[256]; /* once attached */
  uint64_t deadline; /* handshake or closing deadline, 0: none */
  char peer[NI_MAXHOST + NI_MAXSERV + 4];
  struct conn *prev, *next;
} conn;

struct gw {
  const char *path;
  gw_config *cfg;
  int ep, sig, listen_fd;
  slot *slots;
  size_t nslots;
  engine *engines; /* the current one first */
  gw_router *router;
  conn *conns;
  size_t nconns;
  uint64_t status_due;
  int stopping;
  uint64_t stop_deadline;
  uint64_t started;
  uint64_t components_accepted, components_refused;
};

/* -- Time and logs -------------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static gw_log_level log_level = GW_LOG_INFO;

static void logf_(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line per event on stderr: UTC time, level, text. */
static void logf_(int level, const char *fmt, ...) {
  if (level > (int)log_level)
    return;
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char line[1024];
  size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-7s ",
                        ts.tv_nsec / 1000000,
                        gw_log_level_name((gw_log_level)level));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}

/* -- The loop ------------------------------------------------------------- */

/* Registers @fd for @events (XS2S_EV_READ / XS2S_EV_WRITE); 0 removes it.
 * Each registration carries a generation, so that an event fetched for an
 * fd that was closed and reused in the same batch is dropped. */
static int watch(gw *g, int fd, unsigned events, io_fn fn, void *arg) {
  if (fd < 0)
    return -1;
  if ((size_t)fd >= g->nslots) {
    size_t n = (size_t)fd + 64;
    slot *s = realloc(g->slots, n * sizeof(*s));
    if (!s)
      return -1;
    memset(s + g->nslots, 0, (n - g->nslots) * sizeof(*s));
    g->slots = s;
    g->nslots = n;
  }
  slot *s = &g->slots[fd];
  uint32_t interest = (events & XS2S_EV_READ ? (uint32_t)EPOLLIN : 0u) |
                      (events & XS2S_EV_WRITE ? (uint32_t)EPOLLOUT : 0u);
  if (!events) {
    if (s->fn)
      epoll_ctl(g->ep, EPOLL_CTL_DEL, fd, NULL);
    s->fn = NULL;
    s->interest = 0;
    return 0;
  }
  int fresh = s->fn == NULL;
  if (fresh)
    s->gen++;
  s->fn = fn;
  s->arg = arg;
  if (!fresh && s->interest == interest)
    return 0;
  struct epoll_event ev = {.events = interest,
                           .data.u64 = (uint64_t)(unsigned)fd |
                                       (uint64_t)s->gen << 32};
  if (epoll_ctl(g->ep, fresh ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0) {
    s->fn = NULL;
    return -1;
  }
  s->interest = interest;
  return 0;
}

/* -- Engines -------------------------------------------------------------- */

static void engine_io(gw *g, void *arg, int fd, unsigned events) {
  (void)g;
  engine *e = arg;
  xs2s_ctx_on_fd(e->ctx, fd, events);
}

static int hook_watch(int fd, unsigned events, void *ud) {
  engine *e = ud;
  return watch(e->g, fd, events, engine_io, e);
}

static int hook_timer(int64_t timeout_ms, void *ud) {
  engine *e = ud;
  e->deadline =
      timeout_ms < 0 ? -1 : (int64_t)(now_ms() + (uint64_t)timeout_ms);
  return 0;
}

static int on_fed_stanza(xs2s_ctx *ctx, const xs2s_stanza *s,
                         const char *remote, void *ud) {
  (void)ctx;
  (void)remote;
  engine *e = ud;
  return (int)gw_router_from_federation(e->g->router, s);
}

static void on_bounce(xs2s_ctx *ctx, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text, void *tag,
                      void *ud) {
  (void)ctx;
  (void)tag;
  engine *e = ud;
  gw_router_bounce(e->g->router, s, cond, text);
}

static void on_peer(const xs2s_peer_event *ev, const char *what) {
  int in = ev->direction == XS2S_DIR_INCOMING;
  logf_(GW_LOG_INFO, "s2s %s: %s %s %s (%s %s, %s, %s)%s%s", what,
        ev->local_domain, in ? "<-" : "->", ev->remote_domain,
        xs2s_direction_name(ev->direction), ev->peer_address,
        ev->tls ? "TLS" : "no TLS", xs2s_auth_method_name(ev->auth),
        ev->error ? ": " : "", ev->error ? xs2s_strerror(ev->error) : "");
}

static void on_peer_up(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx;
  (void)ud;
  on_peer(ev, "up");
}

static void on_peer_down(xs2s_ctx *ctx, const xs2s_peer_event *ev,
                         void *ud) {
  (void)ctx;
  (void)ud;
  on_peer(ev, "down");
}

static void on_engine_log(xs2s_ctx *ctx, xs2s_log_level level,
                          const char *line, void *ud) {
  (void)ctx;
  (void)ud;
  logf_((int)level, "s2s: %s", line);
}

static engine *engine_start(gw *g, const xs2s_config *cfg) {
  engine *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->g = g;
  e->deadline = -1;
  xs2s_ctx_callbacks cb = {on_fed_stanza, on_bounce, on_peer_up,
                           on_peer_down, on_engine_log};
  xs2s_loop_callbacks loop = {hook_watch, hook_timer};
  int rc = xs2s_ctx_new(&e->ctx, cfg, &cb, &loop, e);
  if (rc < 0) {
    logf_(GW_LOG_ERROR, "cannot start the engine: %s", xs2s_strerror(rc));
    free(e);
    return NULL;
  }
  e->next = g->engines;
  g->engines = e;
  return e;
}

static void engine_free(gw *g, engine *e) {
  for (engine **p = &g->engines; *p; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      break;
    }
  xs2s_ctx_free(e->ctx);
  free(e);
}

static size_t engine_open(const engine *e) {
  xs2s_counters n;
  xs2s_ctx_counters(e->ctx, &n);
  return (size_t)n.open_connections;
}

static int federate(const xs2s_stanza *s, void *ud) {
  gw *g = ud;
  engine *e = g->engines;
  return e && !e->retiring ? xs2s_ctx_send(e->ctx, s, NULL)
                           : XS2S_ERR_BAD_STATE;
}

static void router_log(int level, const char *line, void *ud) {
  (void)ud;
  logf_(level, "%s", line);
}

/* -- Component connections ------------------------------------------------ */

static void conn_close(conn *cc) {
  gw *g = cc->g;
  if (cc->attached)
    gw_router_detach(g->router, cc->c);
  logf_(GW_LOG_INFO, "component connection from %s closed%s%s", cc->peer,
        cc->attached ? ": " : "", cc->attached ? cc->domain : "");
  watch(g, cc->fd, 0, NULL, NULL);
  close(cc->fd);
  gw_component_free(cc->c);
  if (cc->prev)
    cc->prev->next = cc->next;
  else
    g->conns = cc->next;
  if (cc->next)
    cc->next->prev = cc->prev;
  g->nconns--;
  free(cc);
}

static void conn_io(gw *g, void *arg, int fd, unsigned events);

/* Writes what the component stream has for the socket; closes it when the
 * stream is done. Returns -1 when @cc was freed. */
static int conn_flush(conn *cc) {
  size_t len;
  const char *out;
  while ((out = gw_component_output(cc->c, &len)) != NULL) {
    ssize_t n = write(cc->fd, out, len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      break;
    if (n <= 0) {
      gw_component_eof(cc->c);
      gw_component_consume(cc->c, len);
      break;
    }
    gw_component_consume(cc->c, (size_t)n);
  }
  if (gw_component_done(cc->c)) {
    conn_close(cc);
    return -1;
  }
  gw_component_output(cc->c, &len);
  watch(cc->g, cc->fd, XS2S_EV_READ | (len ? XS2S_EV_WRITE : 0u), conn_io,
        cc);
  if (gw_component_state_of(cc->c) == GW_COMP_CLOSING && !cc->deadline)
    cc->deadline =
        now_ms() + xs2s_config_timeout(cc->g->cfg->xs2s, XS2S_TIMEOUT_CLOSING);
  return 0;
}

static void conn_io(gw *g, void *arg, int fd, unsigned events) {
  (void)g;
  (void)fd;
  conn *cc = arg;
  if (events & (XS2S_EV_READ | XS2S_EV_ERROR)) {
    char buf[16384];
    /* A few reads per event, so that one busy component cannot starve
     * the others. */
    for (int i = 0; i < 4; i++) {
      ssize_t n = read(cc->fd, buf, sizeof(buf));
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        break;
      if (n <= 0) {
        gw_component_eof(cc->c);
        break;
      }
      gw_component_feed(cc->c, buf, (size_t)n);
      if (gw_component_state_of(cc->c) == GW_COMP_CLOSED)
        break;
    }
  }
  conn_flush(cc);
}

static const char *comp_secret(const char *domain, void *ud) {
  conn *cc = ud;
  const gw_component_conf *cf = gw_config_component(cc->g->cfg, domain);
  return cf ? cf->secret : NULL;
}

static xs2s_stream_condition comp_attach(gw_component *c, const char *domain,
                                         void *ud) {
  conn *cc = ud;
  xs2s_stream_condition cond = gw_router_attach(cc->g->router, domain, c);
  if (cond == XS2S_STREAM_ERR_NONE) {
    cc->attached = 1;
    snprintf(cc->domain, sizeof(cc->domain), "%s", domain);
    cc->deadline = 0;
    logf_(GW_LOG_INFO, "component %s authenticated (from %s)", domain,
          cc->peer);
  }
  return cond;
}

static void comp_stanza(gw_component *c, xs2s_stanza *s, void *ud) {
  conn *cc = ud;
  gw_router_from_component(cc->g->router, c, s);
}

static void comp_log(gw_component *c, int level, const char *line,
                     void *ud) {
  (void)c;
  conn *cc = ud;
  logf_(level, "%s (%s)", line, cc->peer);
}

static void peer_text(const struct sockaddr_storage *ss, socklen_t len,
                      char *out, size_t size) {
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port,
                  sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    snprintf(out, size, "?");
  else if (ss->ss_family == AF_INET6)
    snprintf(out, size, "[%s]:%s", host, port);
  else
    snprintf(out, size, "%s:%s", host, port);
}

static void accept_one(gw *g, int fd, const struct sockaddr_storage *ss,
                       socklen_t len) {
  conn *cc = calloc(1, sizeof(*cc));
  unsigned char rnd[16];
  char id[33];
  if (!cc || gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0) {
    free(cc);
    close(fd);
    return;
  }
  for (int i = 0; i < 16; i++)
    snprintf(id + 2 * i, 3, "%02x", rnd[i]);
  cc->g = g;
  cc->fd = fd;
  peer_text(ss, len, cc->peer, sizeof(cc->peer));
  gw_component_callbacks cb = {comp_secret, comp_attach, comp_stanza,
                               comp_log};
  const xs2s_config *x = g->cfg->xs2s;
  cc->c = gw_component_new(
      &cb, cc, id, (size_t)xs2s_config_limit(x, XS2S_LIMIT_STANZA_BYTES),
      (size_t)xs2s_config_limit(x, XS2S_LIMIT_QUEUE_BYTES));
  if (!cc->c || watch(g, fd, XS2S_EV_READ, conn_io, cc) < 0) {
    gw_component_free(cc->c);
    free(cc);
    close(fd);
    return;
  }
  cc->deadline = now_ms() + xs2s_config_timeout(x, XS2S_TIMEOUT_HANDSHAKE);
  cc->next = g->conns;
  if (g->conns)
    g->conns->prev = cc;
  g->conns = cc;
  g->nconns++;
  g->components_accepted++;
  logf_(GW_LOG_INFO, "component connection from %s", cc->peer);
}

static void listener_io(gw *g, void *arg, int lfd, unsigned events) {
  (void)arg;
  (void)events;
  for (int i = 0; i < 16; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR)
        logf_(GW_LOG_WARNING, "component listener: accept: %s",
              strerror(errno));
      return;
    }
    if (g->nconns >= MAX_COMPONENT_CONNS) {
      g->components_refused++;
      logf_(GW_LOG_WARNING, "component connection refused: %d open",
            MAX_COMPONENT_CONNS);
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    accept_one(g, fd, &ss, len);
  }
}

/* "127.0.0.1:5347" or "[::1]:5347" -> a listening socket. */
static int listen_on(const char *text) {
  char host[128];
  const char *port;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':' || (size_t)(end - text) >= sizeof(host))
      return -1;
    memcpy(host, text + 1, (size_t)(end - text - 1));
    host[end - text - 1] = '\0';
    port = end + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof(host))
      return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port = colon + 1;
  }
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
                                       AI_PASSIVE,
                           .ai_socktype = SOCK_STREAM},
                  *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai) != 0)
    return -1;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  int one = 1;
  if (fd >= 0 &&
      (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
       bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0)) {
    int saved = errno;
    close(fd);
    errno = saved;
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

/* -- Status, reload, shutdown --------------------------------------------- */

static void status_line(gw *g) {
  xs2s_counters t = {0};
  for (engine *e = g->engines; e; e = e->next) {
    xs2s_counters n;
    xs2s_ctx_counters(e->ctx, &n);
    t.open_connections += n.open_connections;
    t.connections_in += n.connections_in;
    t.connections_out += n.connections_out;
    t.stanzas_bounced += n.stanzas_bounced;
    t.stanzas_rejected += n.stanzas_rejected;
    t.queued_bytes += n.queued_bytes;
  }
  const gw_router_counters *r = gw_router_counters_of(g->router);
  size_t attached = 0;
  while (gw_router_at(g->router, attached, NULL))
    attached++;
  logf_(GW_LOG_INFO,
        "status: up %llus; components %zu attached of %zu configured, %zu "
        "connections; s2s %llu open (%llu in, %llu out so far); stanzas "
        "component->s2s %llu, s2s->component %llu, local %llu, error "
        "replies %llu, bounced %llu, rejected %llu; queued %llu bytes",
        (unsigned long long)((now_ms() - g->started) / 1000), attached,
        g->cfg->component_count, g->nconns,
        (unsigned long long)t.open_connections,
        (unsigned long long)t.connections_in,
        (unsigned long long)t.connections_out,
        (unsigned long long)r->to_federation,
        (unsigned long long)r->from_federation,
        (unsigned long long)r->local, (unsigned long long)r->errors,
        (unsigned long long)t.stanzas_bounced,
        (unsigned long long)t.stanzas_rejected,
        (unsigned long long)t.queued_bytes);
}

static void arm_status(gw *g) {
  g->status_due =
      g->cfg->status_interval_ms ? now_ms() + g->cfg->status_interval_ms : 0;
}

/* A new engine beside the old one, which closes its streams in an
 * orderly way (its queued stanzas are bounced). 0, or -1 when neither the
 * new nor the previous configuration could be started again. */
static int replace_engine(gw *g, engine *old, gw_config *cfg) {
  /* The old engine must let go of its listeners before the new binds. */
  old->retiring = 1;
  xs2s_ctx_shutdown(old->ctx);
  if (engine_start(g, cfg->xs2s))
    return 0;
  logf_(GW_LOG_ERROR, "reload: the new engine did not start; restarting "
                      "with the previous configuration");
  if (!engine_start(g, g->cfg->xs2s))
    g->stopping = 1;
  return -1;
}

/* Applies a new configuration: gateway settings at once; the engine's
 * part in place with xs2s_ctx_reconfigure(), so established streams stay
 * unless the new policy forbids them. Only what that refuses (the set of
 * local domains, the resolver's files) starts a new engine. Established
 * component streams stay unless their domain is no longer configured. */
static void reload(gw *g) {
  char err[1024];
  gw_config *cfg = NULL;
  if (gw_config_load(g->path, &cfg, err, sizeof(err)) < 0) {
    logf_(GW_LOG_ERROR, "reload refused, configuration unchanged: %s", err);
    return;
  }
  if (strcmp(cfg->component_address, g->cfg->component_address) != 0)
    logf_(GW_LOG_WARNING,
          "the component listener stays on %s until a restart",
          g->cfg->component_address);
  char *fp_old = gw_config_engine_text(g->cfg->xs2s);
  char *fp_new = gw_config_engine_text(cfg->xs2s);
  int engine_changed = !fp_old || !fp_new || strcmp(fp_old, fp_new) != 0;
  free(fp_old);
  free(fp_new);
  const char *how = "federation settings unchanged";
  if (engine_changed) {
    int rc = xs2s_ctx_reconfigure(g->engines->ctx, cfg->xs2s, err,
                                  sizeof(err));
    if (rc == 0) {
      how = "federation settings applied in place, connections kept";
      logf_(GW_LOG_INFO, "reload: engine reconfigured in place: %s", err);
    } else if (rc == XS2S_ERR_RESTART_REQUIRED) {
      logf_(GW_LOG_INFO, "reload: %s; starting a new engine", err);
      how = "federation settings changed: new engine";
      if (replace_engine(g, g->engines, cfg) < 0) {
        gw_config_free(cfg);
        return;
      }
    } else {
      logf_(GW_LOG_ERROR, "reload refused, configuration unchanged: %s",
            err);
      gw_config_free(cfg);
      return;
    }
  }
  gw_config *prev = g->cfg;
  g->cfg = cfg;
  log_level = cfg->log_level;
  gw_router_set_config(g->router, cfg->xs2s);
  for (conn *cc = g->conns, *next; cc; cc = next) {
    next = cc->next;
    const char *d = gw_component_domain(cc->c);
    if (cc->attached && d && !gw_config_component(cfg, d)) {
      logf_(GW_LOG_INFO, "component %s is no longer configured", d);
      gw_component_close(cc->c, XS2S_STREAM_ERR_HOST_GONE,
                         "this domain is no longer served");
      conn_flush(cc);
    }
  }
  gw_config_free(prev);
  arm_status(g);
  logf_(GW_LOG_INFO, "configuration reloaded from %s (%s)", g->path, how);
}

static void begin_shutdown(gw *g) {
  if (g->stopping)
    return;
  g->stopping = 1;
  g->stop_deadline = now_ms() + SHUTDOWN_GRACE_MS;
  logf_(GW_LOG_INFO, "shutting down");
  if (g->listen_fd >= 0) {
    watch(g, g->listen_fd, 0, NULL, NULL);
    close(g->listen_fd);
    g->listen_fd = -1;
  }
  /* Queued stanzas bounce to the components while they are still here. */
  for (engine *e = g->engines; e; e = e->next) {
    e->retiring = 1;
    xs2s_ctx_shutdown(e->ctx);
  }
  for (conn *cc = g->conns, *next; cc; cc = next) {
    next = cc->next;
    gw_component_close(cc->c, XS2S_STREAM_ERR_SYSTEM_SHUTDOWN, NULL);
    conn_flush(cc);
  }
}

static void signal_io(gw *g, void *arg, int fd, unsigned events) {
  (void)arg;
  (void)events;
  struct signalfd_siginfo si;
  while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    switch (si.ssi_signo) {
    case SIGHUP:
      logf_(GW_LOG_INFO, "SIGHUP: reloading %s", g->path);
      if (!g->stopping)
        reload(g);
      break;
    case SIGUSR1:
      status_line(g);
      break;
    default:
      logf_(GW_LOG_INFO, "%s received", strsignal((int)si.ssi_signo));
      begin_shutdown(g);
    }
  }
}

/* -- Main loop ------------------------------------------------------------ */

/* Runs due timers; returns the ms until the next one (-1: none). */
static int run_timers(gw *g) {
  uint64_t now = now_ms();
  int64_t next = -1;
#define NEXT(t) (next = next < 0 || (int64_t)(t) < next ? (int64_t)(t) : next)
  for (engine *e = g->engines, *en; e; e = en) {
    en = e->next;
    if (e->deadline >= 0 && (uint64_t)e->deadline <= now) {
      e->deadline = -1; /* spent; the engine reports the next one */
      xs2s_ctx_on_timer(e->ctx);
    }
    if (e->retiring && !g->stopping && engine_open(e) == 0) {
      engine_free(g, e);
      continue;
    }
    if (e->deadline >= 0)
      NEXT(e->deadline);
  }
  for (conn *cc = g->conns, *next_cc; cc; cc = next_cc) {
    next_cc = cc->next;
    if (cc->deadline && cc->deadline <= now) {
      logf_(GW_LOG_INFO, "component connection from %s: %s", cc->peer,
            gw_component_state_of(cc->c) == GW_COMP_CLOSING
                ? "no close from the component in time"
                : "no handshake in time");
      if (gw_component_state_of(cc->c) == GW_COMP_CLOSING) {
        conn_close(cc);
        continue;
      }
      gw_component_close(cc->c, XS2S_STREAM_ERR_CONNECTION_TIMEOUT, NULL);
      cc->deadline = 0;
      if (conn_flush(cc) < 0)
        continue;
    }
    if (cc->deadline)
      NEXT(cc->deadline);
  }
  if (g->status_due && g->status_due <= now) {
    status_line(g);
    arm_status(g);
  }
  if (g->status_due)
    NEXT(g->status_due);
  if (g->stopping)
    NEXT(g->stop_deadline);
#undef NEXT
  return next < 0 ? -1 : (int)((uint64_t)next > now ? (uint64_t)next - now : 0);
}

/* Whether a shutdown is complete: every stream closed, or time is up. */
static int finished(gw *g) {
  if (!g->stopping)
    return 0;
  if (now_ms() >= g->stop_deadline)
    return 1;
  if (g->conns)
    return 0;
  for (engine *e = g->engines; e; e = e->next)
    if (engine_open(e))
      return 0;
  return 1;
}

static void flush_components(gw *g) {
  /* Stanzas routed to a component during this batch wait in its output;
   * components are few, so walking them is cheap. */
  for (conn *cc = g->conns, *next; cc; cc = next) {
    next = cc->next;
    size_t len;
    if (gw_component_output(cc->c, &len) || gw_component_done(cc->c))
      conn_flush(cc);
  }
}

static int run(gw *g) {
  struct epoll_event evs[64];
  while (!finished(g)) {
    int timeout = run_timers(g);
    flush_components(g);
    if (finished(g))
      break;
    int n = epoll_wait(g->ep, evs, 64, timeout);
    if (n < 0 && errno != EINTR) {
      logf_(GW_LOG_ERROR, "epoll_wait: %s", strerror(errno));
      return -1;
    }
    for (int i = 0; i < n; i++) {
      int fd = (int)(uint32_t)evs[i].data.u64;
      uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
      if ((size_t)fd >= g->nslots || !g->slots[fd].fn ||
          g->slots[fd].gen != gen)
        continue; /* closed (and maybe reused) earlier in this batch */
      unsigned ev = (evs[i].events & EPOLLIN ? XS2S_EV_READ : 0u) |
                    (evs[i].events & EPOLLOUT ? XS2S_EV_WRITE : 0u) |
                    (evs[i].events & (EPOLLERR | EPOLLHUP) ? XS2S_EV_ERROR
                                                           : 0u);
      g->slots[fd].fn(g, g->slots[fd].arg, fd, ev);
    }
    flush_components(g);
  }
  return 0;
}

/* -- Start ---------------------------------------------------------------- */

static int usage(FILE *f, int status) {
  fprintf(f, "usage: xs2s-gateway -c FILE [-t]\n"
             "  -c FILE  configuration (see docs/GATEWAY.md)\n"
             "  -t       check the configuration and exit\n");
  return status;
}

static int setup(gw *g) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  signal(SIGPIPE, SIG_IGN);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
      (g->sig = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
      (g->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    logf_(GW_LOG_ERROR, "cannot set up signals and epoll: %s",
          strerror(errno));
    return -1;
  }
  gw_router_ops ops = {federate, router_log};
  g->router = gw_router_new(&ops, g);
  if (!g->router || watch(g, g->sig, XS2S_EV_READ, signal_io, NULL) < 0)
    return -1;
  gw_router_set_config(g->router, g->cfg->xs2s);
  if (!engine_start(g, g->cfg->xs2s))
    return -1;
  g->listen_fd = listen_on(g->cfg->component_address);
  if (g->listen_fd < 0) {
    logf_(GW_LOG_ERROR, "cannot listen for components on %s: %s",
          g->cfg->component_address, strerror(errno));
    return -1;
  }
  if (watch(g, g->listen_fd, XS2S_EV_READ, listener_io, NULL) < 0)
    return -1;
  logf_(GW_LOG_INFO, "listening for components on %s (%zu configured)",
        g->cfg->component_address, g->cfg->component_count);
  arm_status(g);
  return 0;
}

static void teardown(gw *g) {
  while (g->conns)
    conn_close(g->conns);
  while (g->engines)
    engine_free(g, g->engines);
  if (g->listen_fd >= 0)
    close(g->listen_fd);
  gw_router_free(g->router);
  if (g->sig >= 0)
    close(g->sig);
  if (g->ep >= 0)
    close(g->ep);
  free(g->slots);
  gw_config_free(g->cfg);
}

int main(int argc, char **argv) {
  gw g = {.ep = -1, .sig = -1, .listen_fd = -1};
  int check_only = 0, opt;
  while ((opt = getopt(argc, argv, "c:th")) != -1) {
    if (opt == 'c')
      g.path = optarg;
    else if (opt == 't')
      check_only = 1;
    else
      return usage(opt == 'h' ? stdout : stderr, opt == 'h' ? 0 : 2);
  }
  if (!g.path || optind != argc)
    return usage(stderr, 2);
  char err[1024];
  if (gw_config_load(g.path, &g.cfg, err, sizeof(err)) < 0) {
    fprintf(stderr, "xs2s-gateway: %s\n", err);
    return 1;
  }
  log_level = g.cfg->log_level;
  if (check_only) {
    printf("%s: configuration OK (%zu local domains, %zu components)\n",
           g.path, xs2s_config_domain_count(g.cfg->xs2s),
           g.cfg->component_count);
    gw_config_free(g.cfg);
    return 0;
  }
  g.started = now_ms();
  logf_(GW_LOG_INFO, "xs2s-gateway %s starting with %s", xs2s_version(),
        g.path);
  int rc = setup(&g) == 0 ? run(&g) : -1;
  if (rc == 0 && g.engines)
    status_line(&g);
  teardown(&g);
  logf_(rc == 0 ? GW_LOG_INFO : GW_LOG_ERROR, "stopped%s",
        rc == 0 ? "" : " after an error");
  return rc == 0 ? 0 : 1;
}
