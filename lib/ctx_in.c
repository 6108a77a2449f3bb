/*
 * ctx_in.c: the receiving side of the engine: listeners, accept, and the
 * routing of dialback answers back to the incoming stream that asked.
 * Authorisation of each inbound stanza is the receiving session's (its
 * stanza callback only sees stanzas whose 'from' domain is authenticated
 * for a local 'to').
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "ctx_int.h"

/* Fair to established streams: at most this many accepts per event. */
#define ACCEPT_BATCH 16
/* A listener that hit EMFILE/ENFILE sleeps this long. */
#define PAUSE_MS 1000

/* -- Refused connections: rate limit and log --------------------------- */

static void refusal_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  xs2s_ctx *ctx = arg;
  uint64_t n = xs2s__refusal_log_flush(&ctx->refusals, now);
  if (n)
    xs2s__ctx_log(ctx, XS2S_LOG_WARNING,
                  "refused %llu more connections in the last %llu ms "
                  "(connection limits or accept-rate)",
                  (unsigned long long)n,
                  (unsigned long long)ctx->refusals.interval_ms);
  uint64_t due = xs2s__refusal_log_due(&ctx->refusals);
  if (due != UINT64_MAX)
    xs2s__loop_timer_set(&ctx->loop, &ctx->refusal_timer,
                         due > now ? due - now : 0);
}

/* One connection refused: logged in full when it opens a summary window,
 * else only counted for the window's summary line. */
static void refused(xs2s_ctx *ctx, const struct sockaddr_storage *peer,
                    const char *why) {
  uint64_t now = xs2s__loop_now(&ctx->loop);
  if (!xs2s__refusal_log_note(&ctx->refusals, now))
    return;
  char text[XS2S_ADDRSTRLEN];
  xs2s__net_format_addr((const struct sockaddr *)peer, text);
  if (ctx->refusals.interval_ms == 0) {
    xs2s__ctx_log(ctx, XS2S_LOG_WARNING, "refused %s: %s", text, why);
    return;
  }
  xs2s__ctx_log(ctx, XS2S_LOG_WARNING,
                "refused %s: %s (further refusals within %llu ms are "
                "counted in one line)",
                text, why, (unsigned long long)ctx->refusals.interval_ms);
  xs2s__loop_timer_set(&ctx->loop, &ctx->refusal_timer,
                       ctx->refusals.interval_ms);
}

void xs2s__accept_guard_configure(xs2s_ctx *ctx) {
  const xs2s_config *cfg = ctx->cfg;
  uint32_t burst = (uint32_t)cfg->limits[XS2S_LIMIT_ACCEPT_BURST];
  uint32_t rate = (uint32_t)cfg->limits[XS2S_LIMIT_ACCEPT_RATE];
  size_t sources = (size_t)cfg->limits[XS2S_LIMIT_ACCEPT_SOURCES];
  if (!ctx->accept_rate.mem) {
    xs2s__ratelimit_init(&ctx->accept_rate, &ctx->mem, burst, rate, sources);
    xs2s__timer_init(&ctx->refusal_timer, refusal_timer_fn, ctx);
  } else {
    xs2s__ratelimit_configure(&ctx->accept_rate, burst, rate, sources);
  }
  ctx->refusals.interval_ms = cfg->timeouts[XS2S_TIMEOUT_REFUSAL_LOG];
}

static void on_listener(xs2s__loop *l, int fd, unsigned events, void *arg) {
  (void)events;
  xs2s__listener *ln = arg;
  xs2s_ctx *ctx = ln->ctx;
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    int cfd;
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    int rc = xs2s__net_accept(fd, &cfd, &peer, &len);
    if (rc == 0)
      return;
    if (rc < 0) {
      xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "accept: %s; pausing the listener",
                    strerror(errno));
      xs2s__loop_set_events(l, fd, 0);
      xs2s__loop_timer_set(l, &ln->pause_timer, PAUSE_MS);
      return;
    }
    if (!xs2s__ratelimit_take(&ctx->accept_rate, (struct sockaddr *)&peer,
                              xs2s__loop_now(l))) {
      close(cfd);
      ctx->counters.refused_by_limit++;
      refused(ctx, &peer, "connection attempts too frequent (accept-rate)");
      continue;
    }
    rc = xs2s__conn_accept(ctx, cfd, &peer, len, ln->flags);
    if (rc < 0)
      refused(ctx, &peer, xs2s_strerror(rc));
  }
}

static void resume(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  (void)now;
  xs2s__listener *ln = arg;
  xs2s__loop_set_events(&ln->ctx->loop, ln->fd, XS2S_EV_READ);
}

int xs2s__listener_open(xs2s_ctx *ctx, xs2s__listener *ln,
                        const xs2s__cfg_listener *cl, int backlog) {
  ln->ctx = ctx;
  ln->fd = -1;
  ln->flags = cl->flags;
  xs2s__timer_init(&ln->pause_timer, resume, ln);
  int fd;
  int rc = xs2s__net_listen((const struct sockaddr *)&cl->addr, cl->addr_len,
                            (cl->flags & XS2S_LISTEN_REUSEPORT)
                                ? XS2S__NET_REUSEPORT
                                : 0,
                            backlog, &fd);
  if (rc < 0) {
    int err = errno;
    xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "listen on %s: %s", cl->text,
                  strerror(err));
    errno = err;
    return rc;
  }
  ln->fd = fd;
  rc = xs2s__loop_add(&ctx->loop, fd, XS2S_EV_READ, on_listener, ln);
  if (rc < 0)
    return rc;
  xs2s__ctx_log(ctx, XS2S_LOG_INFO, "listening on %s", cl->text);
  return 0;
}

int xs2s__listener_move(xs2s_ctx *ctx, xs2s__listener *from,
                        xs2s__listener *to, unsigned flags) {
  /* The loop knows the listener by address: register it anew. A paused
   * listener simply resumes. */
  xs2s__loop_timer_cancel(&ctx->loop, &from->pause_timer);
  xs2s__loop_remove(&ctx->loop, from->fd);
  to->ctx = ctx;
  to->fd = from->fd;
  to->flags = flags;
  xs2s__timer_init(&to->pause_timer, resume, to);
  from->fd = -1;
  return xs2s__loop_add(&ctx->loop, to->fd, XS2S_EV_READ, on_listener, to);
}

void xs2s__listener_close(xs2s_ctx *ctx, xs2s__listener *ln) {
  xs2s__loop_timer_cancel(&ctx->loop, &ln->pause_timer);
  if (ln->fd >= 0) {
    xs2s__loop_remove(&ctx->loop, ln->fd);
    close(ln->fd);
    ln->fd = -1;
  }
}

int xs2s__listeners_open(xs2s_ctx *ctx) {
  const xs2s_config *cfg = ctx->cfg;
  xs2s__accept_guard_configure(ctx);
  if (cfg->listener_count == 0)
    return 0;
  ctx->listeners =
      xs2s__calloc(&ctx->mem, cfg->listener_count, sizeof(*ctx->listeners));
  if (!ctx->listeners)
    return XS2S_ERR_NOMEM;
  for (size_t i = 0; i < cfg->listener_count; i++) {
    ctx->nlisteners = i + 1;
    int rc = xs2s__listener_open(
        ctx, &ctx->listeners[i], &cfg->listeners[i],
        (int)cfg->limits[XS2S_LIMIT_LISTEN_BACKLOG]);
    if (rc < 0)
      return rc;
  }
  return 0;
}

void xs2s__listeners_close(xs2s_ctx *ctx) {
  for (size_t i = 0; i < ctx->nlisteners; i++)
    xs2s__listener_close(ctx, &ctx->listeners[i]);
  if (ctx->accept_rate.mem) {
    xs2s__loop_timer_cancel(&ctx->loop, &ctx->refusal_timer);
    xs2s__ratelimit_free(&ctx->accept_rate);
  }
}

void xs2s__ctx_verify_answer(xs2s_ctx *ctx,
                             const xs2s_dialback_answer *answer) {
  xs2s__conn *c = xs2s__map_get_str(&ctx->stream_ids, answer->stream_id);
  if (!c || !c->session || c->state != XS2S__CONN_OPEN) {
    xs2s__ctx_log(ctx, XS2S_LOG_DEBUG,
                  "dialback answer for stream %s dropped: the stream is gone",
                  answer->stream_id);
    return;
  }
  xs2s__conn_enter(c);
  xs2s_session_dialback_answer(c->session, answer);
  xs2s__conn_leave(c);
}
