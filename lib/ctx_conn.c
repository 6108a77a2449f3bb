/*
 * ctx_conn.c: one connection of the engine: a socket and the session on
 * it. Bytes move between them here; everything a stream means is decided
 * in ctx_out.c (outgoing) and ctx_in.c (incoming).
 *
 * A conn is held (depth > 0) while a frame calls into its session; the
 * last xs2s__conn_leave() writes pending output, sets the fd interest and
 * the session's deadline, and frees a conn whose stream is over. So no
 * session callback ever frees the session that is calling it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "dialback.h"
#include "bounce.h"
#include "ctx_int.h"
#include "domain.h"
#include "session_engine.h"
#include "session_hold.h"
#include "session_locals.h"
#include "session_prefetch.h"

#define READ_CHUNK 65536

static void conn_destroy(xs2s__conn *c);

/* -- Session callbacks ---------------------------------------------------- */

static void on_stanza(xs2s_session *s, xs2s_stanza *st, void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  xs2s_ctx *ctx = c->ctx;
  c->stanzas_in++;
  c->last_stanza_ms = xs2s__loop_now(&ctx->loop);
  ctx->counters.stanzas_in++;
  /* The session checked that 'from' is authenticated for 'to'. */
  char dom[XS2S__DOMAIN_MAX + 1];
  const char *from = xs2s_stanza_attr(st, "from");
  const char *at = from ? strchr(from, '@') : NULL;
  const char *d = at ? at + 1 : from;
  size_t dl = d ? strcspn(d, "/") : 0;
  if (!d || xs2s__domain_normalize(d, dl, dom) < 0)
    dom[0] = '\0';
  int cond = ctx->cb.stanza ? ctx->cb.stanza(ctx, st, dom, ctx->ud) : 0;
  if (cond > 0) {
    xs2s_stanza *reply = NULL;
    const char *to = xs2s_stanza_attr(st, "to");
    if (xs2s__bounce_build(st, (xs2s_stanza_condition)cond, NULL, to, 4096,
                           &ctx->mem, &reply) == 0)
      xs2s__ctx_send_reply(ctx, reply);
  }
}

static void add_pair(xs2s__conn *c, const char *local, const char *remote,
                     xs2s_auth_method how) {
  xs2s__pair *p =
      xs2s__realloc(&c->ctx->mem, c->pairs, (c->npairs + 1) * sizeof(*p));
  if (!p)
    return;
  c->pairs = p;
  p = &c->pairs[c->npairs];
  p->local = xs2s__strdup(&c->ctx->mem, local);
  p->remote = xs2s__strdup(&c->ctx->mem, remote);
  p->how = how;
  if (!p->local || !p->remote) {
    xs2s__free(&c->ctx->mem, p->local);
    xs2s__free(&c->ctx->mem, p->remote);
    return;
  }
  c->npairs++;
  xs2s__ctx_peer(c->ctx, c, p, 1);
}

static void on_authenticated(xs2s_session *s, const char *local,
                             const char *remote, xs2s_auth_method how,
                             void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  xs2s__ctx_log(c->ctx, XS2S_LOG_INFO,
                "conn %llu %s: %s -> %s authenticated (%s)",
                (unsigned long long)c->id, xs2s_direction_name(c->dir),
                c->dir == XS2S_DIR_OUTGOING ? local : remote,
                c->dir == XS2S_DIR_OUTGOING ? remote : local,
                xs2s_auth_method_name(how));
  add_pair(c, local, remote, how);
  if (c->dir == XS2S_DIR_OUTGOING && c->remote)
    xs2s__remote_pair_up(c->remote, c, local);
  if (c->dir == XS2S_DIR_INCOMING && xs2s_session_is_bidi(c->session)) {
    char dom[XS2S__DOMAIN_MAX + 1];
    int n = xs2s__domain_normalize(remote, strlen(remote), dom);
    xs2s__remote *r =
        n < 0 ? NULL : xs2s__remote_get(c->ctx, dom, (size_t)n, 1);
    if (r && (!c->bidi_remote || c->bidi_remote == r)) {
      c->bidi_remote = r;
      xs2s__remote_bidi_up(r, c, local);
    }
  }
}

static void on_auth_failed(xs2s_session *s, const char *local,
                           const char *remote, xs2s_stanza_condition cond,
                           void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  c->ctx->counters.auth_failures++;
  xs2s__ctx_log(c->ctx, XS2S_LOG_WARNING,
                "conn %llu: %s -> %s not authenticated: %s",
                (unsigned long long)c->id, local, remote,
                xs2s_stanza_condition_name(cond));
  if (c->remote)
    xs2s__remote_pair_failed(c->remote, c, local, cond);
}

static void on_verify_request(xs2s_session *s,
                              const xs2s_dialback_request *req, void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  xs2s_ctx *ctx = c->ctx;
  /* Register the stream id, so that the answer finds this conn. */
  if (!c->sid[0]) {
    size_t n = strlen(req->stream_id);
    memcpy(c->sid, req->stream_id, n + 1);
    if (xs2s__map_put(&ctx->stream_ids, c->sid, n, c) < 0)
      c->sid[0] = '\0';
  }
  char dom[XS2S__DOMAIN_MAX + 1];
  int n = xs2s__domain_normalize(req->originating, strlen(req->originating),
                                 dom);
  xs2s__remote *r = n < 0 ? NULL : xs2s__remote_get(ctx, dom, (size_t)n, 1);
  if (!r) {
    xs2s_dialback_answer a;
    xs2s__dialback_answer_error(req, XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR,
                                &a);
    xs2s_session_dialback_answer(c->session, &a);
    return;
  }
  xs2s__remote_verify(r, req);
}

static void on_verify_answer(xs2s_session *s, const xs2s_dialback_answer *a,
                             void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  xs2s__ctx_verify_answer(c->ctx, a);
}

static void on_closed(xs2s_session *s, const xs2s_session_close_info *info,
                      void *ud) {
  xs2s__conn *c = ud;
  c->closed_seen = 1;
  /* A stream ends at the first stanza it refuses: count it. */
  c->ctx->counters.stanzas_rejected += xs2s_session_stanzas_refused(s);
  c->close = *info;
  c->close_text[0] = '\0';
  if (info->text) {
    size_t n = strlen(info->text);
    if (n >= sizeof(c->close_text))
      n = sizeof(c->close_text) - 1;
    memcpy(c->close_text, info->text, n);
    c->close_text[n] = '\0';
  }
  c->close.text = c->close_text;
  xs2s__ctx_log(c->ctx, info->error ? XS2S_LOG_INFO : XS2S_LOG_DEBUG,
                "conn %llu %s %s: stream closed %s: %s%s%s%s",
                (unsigned long long)c->id, xs2s_direction_name(c->dir),
                c->peer_text,
                info->origin == XS2S_CLOSED_BY_PEER ? "by peer" : "locally",
                info->error ? xs2s_strerror(info->error) : "orderly",
                info->condition ? " (" : "",
                info->condition ? xs2s_stream_condition_name(info->condition)
                                : "",
                info->condition ? ")" : "");
}

static void on_log(xs2s_session *s, xs2s_session_log_level level,
                   const char *msg, void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  xs2s__ctx_log(c->ctx, (int)level, "conn %llu %s: %s",
                (unsigned long long)c->id, c->peer_text, msg);
}

static void on_want_write(xs2s_session *s, void *ud) {
  (void)s;
  /* The leave of the frame that made the output writes it. */
  (void)ud;
}

static const xs2s_session_callbacks session_cb = {
    .stanza = on_stanza,
    .authenticated = on_authenticated,
    .auth_failed = on_auth_failed,
    .verify_request = on_verify_request,
    .verify_answer = on_verify_answer,
    .closed = on_closed,
    .log = on_log,
    .want_write = on_want_write,
    .sm = xs2s__sm_on_event,
};

/* -- Session creation ----------------------------------------------------- */

static uint64_t ms_or_never(uint64_t v) {
  return v ? v : XS2S_SESSION_NO_TIMEOUT;
}

static xs2s_security_mode security_of(xs2s_tls_mode m) {
  switch (m) {
  case XS2S_TLS_REQUIRED:
    return XS2S_SECURITY_REQUIRED;
  case XS2S_TLS_OFF:
    return XS2S_SECURITY_OFF;
  default:
    return XS2S_SECURITY_OPTIONAL;
  }
}

static int allow_domain(const char *domain, void *ud) {
  xs2s_ctx *ctx = ud;
  return xs2s__policy_may_talk(ctx->cfg, domain) == 0;
}

/* Receiving: the TLS mode and certificate requirement of the remote
 * domain a peer speaks for, from its override or the global settings. */
static int peer_policy(const char *domain, xs2s_security_mode *mode,
                       int *require_valid_cert, void *ud) {
  xs2s_ctx *ctx = ud;
  xs2s__remote_policy pol;
  xs2s__policy_lookup(ctx->cfg, domain, &pol); /* malformed: global terms */
  *mode = security_of(pol.tls_mode);
  *require_valid_cert = pol.require_valid_cert;
  return 0;
}

/* The DNSSEC-secure TLSA records of the candidate @r is connecting to, as
 * the TLS layer takes them (RFC 7673: only a secure answer counts). */
static size_t candidate_tlsa(const xs2s__remote *r, xs2s_tlsa *out,
                             size_t cap) {
  if (!r->res || r->cand >= r->res->ncandidates)
    return 0;
  const xs2s_resolve_candidate *c = &r->res->candidates[r->cand];
  if (!c->tlsa_checked || c->tlsa_dnssec != XS2S_DNSSEC_SECURE)
    return 0;
  size_t n = c->ntlsa < cap ? c->ntlsa : cap;
  for (size_t i = 0; i < n; i++)
    out[i] = (xs2s_tlsa){c->tlsa[i].usage, c->tlsa[i].selector,
                         c->tlsa[i].matching_type, c->tlsa[i].data,
                         c->tlsa[i].len};
  return n;
}

static int make_session(xs2s__conn *c, xs2s_session_role role,
                        const char *first_local) {
  xs2s_ctx *ctx = c->ctx;
  const xs2s_config *cfg = ctx->cfg;
  /* The default local domain (the initiating 'from'); the session asks
   * the engine about the others (session_locals.h). */
  const char *locals[1] = {first_local ? first_local : ctx->locals[0]};
  xs2s_session_config sc;
  memset(&sc, 0, sizeof(sc));
  sc.role = role;
  sc.local_domains = locals;
  sc.local_domain_count = 1;
  xs2s_tlsa tlsa[16];
  if (role == XS2S_SESSION_INITIATING) {
    sc.tlsa = tlsa;
    sc.tlsa_count = candidate_tlsa(c->remote, tlsa, 16);
    sc.remote_domain = c->remote->name;
    sc.security = security_of(c->remote->pol.tls_mode);
    sc.require_valid_certificate = c->remote->pol.require_valid_cert;
  } else {
    sc.security = security_of(cfg->tls_mode);
    sc.require_valid_certificate = cfg->require_valid_cert;
    sc.peer_policy = peer_policy;
  }
  sc.tls_creds = ctx->creds;
  /* Direct TLS (XEP-0368): the handshake comes first, so TLS is there
   * whatever the STARTTLS policy says. */
  sc.direct_tls = c->direct_tls;
  sc.bidi = cfg->bidi;
  sc.sm_off = cfg->sm_off;
  sc.sm_resume_s =
      (uint32_t)((cfg->timeouts[XS2S_TIMEOUT_SM_RESUME] + 999) / 1000);
  if (c->direct_tls)
    sc.security = XS2S_SECURITY_REQUIRED;
  sc.wall_clock_ms = xs2s__loop_wall_ms();
  sc.dialback_secret = ctx->secret;
  sc.allow_domain = allow_domain;
  sc.policy_user_data = ctx;
  sc.handshake_timeout_ms = cfg->timeouts[XS2S_TIMEOUT_HANDSHAKE];
  sc.dialback_timeout_ms = cfg->timeouts[XS2S_TIMEOUT_DIALBACK];
  sc.close_timeout_ms = cfg->timeouts[XS2S_TIMEOUT_CLOSING]
                            ? cfg->timeouts[XS2S_TIMEOUT_CLOSING]
                            : 1;
  sc.idle_timeout_ms = ms_or_never(cfg->timeouts[XS2S_TIMEOUT_IDLE]);
  sc.keepalive_ms = ms_or_never(cfg->timeouts[XS2S_TIMEOUT_KEEPALIVE]);
  sc.limits.max_stanza_bytes = cfg->limits[XS2S_LIMIT_STANZA_BYTES];
  uint64_t depth = cfg->limits[XS2S_LIMIT_PARSER_DEPTH];
  sc.limits.max_depth = depth > 200 ? 200u : (unsigned)depth; /* libxml2 */
  sc.limits.max_attributes =
      (unsigned)cfg->limits[XS2S_LIMIT_PARSER_ATTRIBUTES];
  sc.mem = &ctx->mem;
  int rc = xs2s_session_new(&c->session, &sc, &session_cb, c,
                            xs2s__loop_now(&ctx->loop));
  if (rc == 0) {
    xs2s__session_share_locals(c->session, xs2s__ctx_is_local, ctx);
    xs2s__session_hold(c->session, 1); /* released by the pump */
  }
  return rc;
}

/* -- The pump ------------------------------------------------------------- */

static void on_fd(xs2s__loop *l, int fd, unsigned events, void *arg);

static void session_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  xs2s__conn *c = arg;
  xs2s__conn_enter(c);
  if (c->session)
    xs2s_session_on_timer(c->session, now);
  xs2s__conn_leave(c);
}

/* Writes what the session has; sets c->broken on a socket error. */
static void flush(xs2s__conn *c) {
  const uint8_t *p;
  size_t len;
  while (!c->broken && (len = xs2s_session_output(c->session, &p)) > 0) {
    ssize_t k = send(c->fd, p, len, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      c->broken = 1;
      return;
    }
    xs2s__conn_trim_touch(c, xs2s__loop_now(&c->ctx->loop));
    c->bytes_out += (uint64_t)k;
    c->ctx->counters.bytes_out += (uint64_t)k;
    xs2s_session_consume(c->session, (size_t)k);
  }
}

static void pump(xs2s__conn *c) {
  xs2s_ctx *ctx = c->ctx;
  if (c->state != XS2S__CONN_OPEN)
    return;
  /* Pairs authenticated during a restart (SASL) flush once the stream is
   * open again. */
  if (c->remote && c->remote->out == c && c->remote->queue.count &&
      c->npairs && xs2s_session_get_state(c->session) == XS2S_SESSION_OPEN) {
    c->depth++;
    xs2s__remote_flush(c->remote, c);
    c->depth--;
  }
  if (c->sm.on) {
    c->depth++;
    xs2s__sm_conn_idle(c); /* XEP-0198: <r/> once the queue is drained */
    c->depth--;
  }
  if (xs2s__session_holding(c->session)) {
    c->depth++; /* a failure closes the session: its callbacks run */
    xs2s__session_release(c->session);
    c->depth--;
  }
  for (int round = 0; round < 4; round++) {
    flush(c);
    if (c->broken && xs2s_session_get_state(c->session) != XS2S_SESSION_CLOSED) {
      c->depth++;
      xs2s_session_on_eof(c->session, xs2s__loop_now(&ctx->loop));
      c->depth--;
      continue;
    }
    break;
  }
  if (c->broken) {
    const uint8_t *p;
    size_t len = xs2s_session_output(c->session, &p);
    if (len)
      xs2s_session_consume(c->session, len);
  } else {
    xs2s__session_prefetch(c->session); /* our output is on its way */
  }
  xs2s_session_state st = xs2s_session_get_state(c->session);
  if (st == XS2S_SESSION_CLOSED && !xs2s_session_want_write(c->session)) {
    conn_destroy(c);
    return;
  }
  unsigned ev = 0;
  if (xs2s_session_want_read(c->session))
    ev |= XS2S_EV_READ;
  if (xs2s_session_want_write(c->session))
    ev |= XS2S_EV_WRITE;
  if (xs2s__loop_set_events(&ctx->loop, c->fd, ev) < 0) {
    c->broken = 1;
    c->depth++;
    xs2s_session_on_eof(c->session, xs2s__loop_now(&ctx->loop));
    c->depth--;
    conn_destroy(c);
    return;
  }
  uint64_t due = xs2s_session_next_deadline(c->session);
  if (due == XS2S_SESSION_NO_TIMEOUT) {
    xs2s__loop_timer_cancel(&ctx->loop, &c->session_timer);
  } else {
    uint64_t now = xs2s__loop_now(&ctx->loop);
    xs2s__loop_timer_set(&ctx->loop, &c->session_timer,
                         due > now ? due - now : 0);
  }
}

void xs2s__conn_enter(xs2s__conn *c) {
  c->depth++;
  /* Calls from outside the session's own events (a verification for
   * another stream, a new pair, a close) must not use a stale clock. */
  if (c->session)
    xs2s__session_clock(c->session, xs2s__loop_now(&c->ctx->loop));
}

void xs2s__conn_leave(xs2s__conn *c) {
  if (--c->depth > 0)
    return;
  if (c->state == XS2S__CONN_DEAD)
    conn_destroy(c);
  else
    pump(c);
}

static void on_read(xs2s__conn *c) {
  uint8_t local[READ_CHUNK];
  ssize_t n = recv(c->fd, local, sizeof(local), 0);
  uint64_t now = xs2s__loop_now(&c->ctx->loop);
  if (n > 0) {
    xs2s__conn_trim_touch(c, now);
    c->bytes_in += (uint64_t)n;
    c->ctx->counters.bytes_in += (uint64_t)n;
    xs2s_session_recv(c->session, local, (size_t)n, now);
  } else if (n == 0) {
    xs2s_session_on_eof(c->session, now);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    c->broken = 1;
    xs2s_session_on_eof(c->session, now);
  }
}

static void connected(xs2s__conn *c) {
  xs2s_ctx *ctx = c->ctx;
  xs2s__loop_timer_cancel(&ctx->loop, &c->connect_timer);
  c->state = XS2S__CONN_OPEN;
  c->opened_ms = c->last_stanza_ms = xs2s__loop_now(&ctx->loop);
  ctx->counters.connections_out++;
  xs2s__keepalive ka;
  xs2s__net_keepalive_from_config(ctx->cfg, &ka);
  xs2s__net_set_keepalive(c->fd, &ka);
  xs2s__remote_connected(c->remote, c);
}

static void connect_failed(xs2s__conn *c, int err, const char *why) {
  c->ctx->counters.connect_failures++;
  xs2s__ctx_log(c->ctx, XS2S_LOG_INFO, "conn %llu: connect to %s failed: %s",
                (unsigned long long)c->id, c->peer_text, why);
  c->close.error = err;
  snprintf(c->close_text, sizeof(c->close_text), "%s: %s", c->peer_text,
           why);
  c->close.text = c->close_text;
  c->close.condition = XS2S_STREAM_ERR_NONE;
  c->state = XS2S__CONN_DEAD;
}

static void on_fd(xs2s__loop *l, int fd, unsigned events, void *arg) {
  (void)l;
  (void)fd;
  xs2s__conn *c = arg;
  xs2s__conn_enter(c);
  if (c->state == XS2S__CONN_CONNECTING) {
    if (events & (XS2S_EV_WRITE | XS2S_EV_ERROR)) {
      if (xs2s__net_connect_result(c->fd) == 0)
        connected(c);
      else
        connect_failed(c, XS2S_ERR_SYSTEM, strerror(errno));
    }
  } else if (c->state == XS2S__CONN_OPEN) {
    if (events & XS2S_EV_READ)
      on_read(c);
    else if (events & XS2S_EV_ERROR)
      on_read(c);
  }
  xs2s__conn_leave(c);
}

static void connect_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  (void)now;
  xs2s__conn *c = arg;
  xs2s__conn_enter(c);
  if (c->state == XS2S__CONN_CONNECTING)
    connect_failed(c, XS2S_ERR_TIMEOUT, "connect timed out");
  xs2s__conn_leave(c);
}

/* -- Life cycle ----------------------------------------------------------- */

static xs2s__conn *conn_alloc(xs2s_ctx *ctx, xs2s_direction dir) {
  xs2s__conn *c = xs2s__calloc(&ctx->mem, 1, sizeof(*c));
  if (!c)
    return NULL;
  c->ctx = ctx;
  c->id = ++ctx->next_id;
  c->fd = -1;
  c->dir = dir;
  xs2s__timer_init(&c->connect_timer, connect_timer_fn, c);
  xs2s__timer_init(&c->session_timer, session_timer_fn, c);
  xs2s__conn_trim_init(c);
  c->opened_ms = c->last_stanza_ms = xs2s__loop_now(&ctx->loop);
  c->next = ctx->conns;
  if (ctx->conns)
    ctx->conns->prev = c;
  ctx->conns = c;
  ctx->counters.open_connections++;
  return c;
}

/* Unlinks and frees; the fd is closed. No callbacks but peer_down and the
 * remote's notification. */
static void conn_release(xs2s__conn *c, int notify) {
  xs2s_ctx *ctx = c->ctx;
  xs2s__loop_timer_cancel(&ctx->loop, &c->connect_timer);
  xs2s__loop_timer_cancel(&ctx->loop, &c->session_timer);
  xs2s__conn_trim_stop(c);
  if (c->fd >= 0) {
    xs2s__loop_remove(&ctx->loop, c->fd);
    close(c->fd);
    c->fd = -1;
  }
  if (c->counted)
    xs2s__conn_count_remove(&ctx->counts, (struct sockaddr *)&c->peer,
                            c->dir == XS2S_DIR_INCOMING);
  if (c->sid[0])
    xs2s__map_remove(&ctx->stream_ids, c->sid, strlen(c->sid));
  if (c->bidi_remote && c->bidi_remote->bidi_in == c)
    c->bidi_remote->bidi_in = NULL;
  if (c->prev)
    c->prev->next = c->next;
  else
    ctx->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  ctx->counters.open_connections--;
  xs2s__sm_conn_end(c, notify); /* before the pairs go */
  for (size_t i = 0; i < c->npairs; i++) {
    if (notify)
      xs2s__ctx_peer(ctx, c, &c->pairs[i], 0);
    xs2s__free(&ctx->mem, c->pairs[i].local);
    xs2s__free(&ctx->mem, c->pairs[i].remote);
  }
  xs2s__free(&ctx->mem, c->pairs);
  if (notify && c->remote)
    xs2s__remote_conn_gone(c->remote, c, c->close.error,
                           c->close_text[0] ? c->close_text : NULL);
  xs2s_session_free(c->session);
  xs2s__free(&ctx->mem, c);
}

static void conn_destroy(xs2s__conn *c) {
  c->state = XS2S__CONN_DEAD;
  if (c->depth > 0)
    return;
  c->depth = 1000; /* nothing below may re-enter a dying conn */
  conn_release(c, 1);
}

int xs2s__conn_connect(xs2s_ctx *ctx, xs2s__remote *r,
                       const struct sockaddr *addr, socklen_t len,
                       xs2s__conn **out) {
  int rc = xs2s__conn_count_add(&ctx->counts, addr, 0);
  if (rc < 0) {
    if (rc == XS2S_ERR_LIMIT)
      ctx->counters.refused_by_limit++;
    return rc;
  }
  int fd;
  rc = xs2s__net_connect(addr, len, &fd);
  if (rc < 0) {
    xs2s__conn_count_remove(&ctx->counts, addr, 0);
    return rc;
  }
  xs2s__conn *c = conn_alloc(ctx, XS2S_DIR_OUTGOING);
  if (!c) {
    close(fd);
    xs2s__conn_count_remove(&ctx->counts, addr, 0);
    return XS2S_ERR_NOMEM;
  }
  c->fd = fd;
  c->remote = r;
  c->counted = 1;
  memcpy(&c->peer, addr, len);
  c->peer_len = len;
  xs2s__net_format_addr(addr, c->peer_text);
  c->state = XS2S__CONN_CONNECTING;
  rc = xs2s__loop_add(&ctx->loop, fd, XS2S_EV_WRITE, on_fd, c);
  if (rc < 0) {
    c->remote = NULL;
    conn_release(c, 0);
    return rc;
  }
  xs2s__loop_timer_set(&ctx->loop, &c->connect_timer,
                       ctx->cfg->timeouts[XS2S_TIMEOUT_CONNECT]);
  *out = c;
  return 0;
}

/* Called by ctx_out.c once TCP is up: start the initiating session. */
int xs2s__conn_start_session(xs2s__conn *c, const char *first_local) {
  int rc = make_session(c, XS2S_SESSION_INITIATING, first_local);
  if (rc < 0)
    c->state = XS2S__CONN_DEAD;
  return rc;
}

int xs2s__conn_accept(xs2s_ctx *ctx, int fd,
                      const struct sockaddr_storage *peer, socklen_t len,
                      unsigned listen_flags) {
  int rc = xs2s__conn_count_add(&ctx->counts, (const struct sockaddr *)peer, 1);
  if (rc < 0) {
    if (rc == XS2S_ERR_LIMIT)
      ctx->counters.refused_by_limit++;
    close(fd);
    return rc;
  }
  xs2s__conn *c = conn_alloc(ctx, XS2S_DIR_INCOMING);
  if (!c) {
    xs2s__conn_count_remove(&ctx->counts, (const struct sockaddr *)peer, 1);
    close(fd);
    return XS2S_ERR_NOMEM;
  }
  c->fd = fd;
  c->counted = 1;
  memcpy(&c->peer, peer, len);
  c->peer_len = len;
  xs2s__net_format_addr((const struct sockaddr *)peer, c->peer_text);
  xs2s__keepalive ka;
  xs2s__net_keepalive_from_config(ctx->cfg, &ka);
  xs2s__net_set_keepalive(fd, &ka);
  c->direct_tls = (listen_flags & XS2S_LISTEN_DIRECT_TLS) != 0;
  rc = make_session(c, XS2S_SESSION_RECEIVING, NULL);
  if (rc == 0)
    rc = xs2s__loop_add(&ctx->loop, fd, XS2S_EV_READ, on_fd, c);
  if (rc < 0) {
    conn_release(c, 0);
    return rc;
  }
  c->state = XS2S__CONN_OPEN;
  ctx->counters.connections_in++;
  xs2s__ctx_log(ctx, XS2S_LOG_DEBUG, "conn %llu: accepted from %s",
                (unsigned long long)c->id, c->peer_text);
  xs2s__conn_enter(c);
  xs2s__conn_leave(c);
  return 0;
}

void xs2s__conn_close(xs2s__conn *c, xs2s_stream_condition cond,
                      const char *text) {
  xs2s__conn_enter(c);
  if (c->state == XS2S__CONN_OPEN && c->session)
    xs2s_session_close(c->session, cond, text);
  else if (c->state == XS2S__CONN_CONNECTING)
    connect_failed(c, XS2S_ERR_STREAM_CLOSED, "closed");
  xs2s__conn_leave(c);
}

int xs2s__conn_pair_ready(const xs2s__conn *c, const char *local,
                          const char *remote) {
  return c->state == XS2S__CONN_OPEN && c->session &&
         xs2s_session_get_state(c->session) == XS2S_SESSION_OPEN &&
         xs2s_session_pair_method(c->session, local, remote) !=
             XS2S_AUTH_NONE;
}

/* A send from outside the engine's own frames (the application calling
 * xs2s_ctx_send() between loop turns): instead of writing now, ask for
 * writability, so that every stanza sent before the loop turns again goes
 * out in the same TLS records and the same send(). Returns 1 when the
 * write was deferred. */
static int defer_write(xs2s__conn *c) {
  xs2s__loop *l = &c->ctx->loop;
  if (c->state != XS2S__CONN_OPEN || c->broken || !c->session ||
      xs2s_session_get_state(c->session) != XS2S_SESSION_OPEN)
    return 0;
  unsigned ev = xs2s__loop_events(l, c->fd);
  if (ev & XS2S_EV_WRITE)
    return 1;
  return xs2s__loop_set_events(l, c->fd, ev | XS2S_EV_WRITE) == 0;
}

static int send_one(xs2s__conn *c, const xs2s_stanza *s, xs2s__qentry *e,
                    const char *local, void *tag) {
  if (xs2s__sm_conn_full(c))
    return XS2S__CONN_FULL;
  int outer = c->depth == 0;
  xs2s__conn_enter(c);
  xs2s__sm_keep k = {c, s, local, tag, NULL, 0};
  int rc = e ? xs2s_session_send(c->session, s)
             : xs2s__session_send_keep(c->session, s, xs2s__sm_keep_bytes,
                                       &k);
  if (rc < 0)
    xs2s__queue_entry_free(&c->ctx->mem, k.entry);
  if (rc == 0) {
    xs2s__sm_conn_sent(c, e, &k);
    c->stanzas_out++;
    c->last_stanza_ms = xs2s__loop_now(&c->ctx->loop);
    c->ctx->counters.stanzas_out++;
    if (outer && defer_write(c)) {
      c->depth--; /* the pump runs when the loop reports writability */
      return rc;
    }
  }
  xs2s__conn_leave(c);
  return rc;
}

int xs2s__conn_send(xs2s__conn *c, const xs2s_stanza *s, const char *local,
                    void *tag) {
  return send_one(c, s, NULL, local, tag);
}

int xs2s__conn_send_entry(xs2s__conn *c, xs2s__qentry *e) {
  return send_one(c, e->stanza, e, e->local, e->tag);
}

void xs2s__conn_free_all(xs2s_ctx *ctx) {
  while (ctx->conns) {
    xs2s__conn *c = ctx->conns;
    if (c->state == XS2S__CONN_OPEN && c->session && !c->broken) {
      /* Best effort: </stream:stream> without waiting for the answer. */
      if (xs2s_session_get_state(c->session) != XS2S_SESSION_CLOSED &&
          xs2s_session_get_state(c->session) != XS2S_SESSION_CLOSING)
        xs2s_session_close(c->session, XS2S_STREAM_ERR_NONE, NULL);
      flush(c);
    }
    c->remote = NULL;
    conn_release(c, 0);
  }
}
