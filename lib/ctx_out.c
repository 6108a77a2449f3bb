/*
 * ctx_out.c: one remote domain we send to (docs/ENGINE.md "Remote domain
 * states"): resolve its candidates, try them in order, queue stanzas until
 * a pair is authenticated, flush them in order, bounce them when the
 * domain cannot be reached, and retry a failed domain with backoff.
 */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "dialback.h"
#include "ctx_int.h"
#include "session_engine.h"

static void start(xs2s__remote *r);

static void drop_result(xs2s__remote *r) {
  xs2s_resolve_result_free(r->res);
  r->res = NULL;
  r->cand = r->addr = 0;
}
static void try_next(xs2s__remote *r);

/* -- Bounces -------------------------------------------------------------- */

typedef struct bounce_arg {
  xs2s_ctx *ctx;
  xs2s_stanza_condition cond;
  const char *text;
} bounce_arg;

static void bounce_entry(xs2s__qentry *e, void *arg) {
  bounce_arg *b = arg;
  xs2s__ctx_defer(b->ctx, e->stanza, e->tag, 0, b->cond, b->text);
  e->stanza = NULL; /* taken by the deferred list */
}

static void bounce_queue(xs2s__remote *r, const char *local,
                         xs2s_stanza_condition cond, const char *text) {
  bounce_arg b = {r->ctx, cond, text};
  xs2s__queue_take_all(&r->queue, local, local ? strlen(local) : 0,
                       bounce_entry, &b);
  if (!local) /* XEP-0198: what waited for a resumption goes too */
    xs2s__sm_remote_bounce(r, cond, text);
}

/* The authoritative server cannot be asked: answer the request with a
 * dialback error on the incoming stream it came from. */
static void answer_error(xs2s_ctx *ctx, const xs2s_dialback_request *req,
                         xs2s_stanza_condition cond) {
  xs2s_dialback_answer a;
  xs2s__dialback_answer_error(req, cond, &a);
  xs2s__ctx_verify_answer(ctx, &a);
}

static void answer_verifies(xs2s__remote *r, xs2s_stanza_condition cond) {
  while (r->verifies) {
    xs2s__pending_verify *v = r->verifies;
    r->verifies = v->next;
    xs2s_dialback_request req = v->req;
    xs2s__free(&r->ctx->mem, v);
    answer_error(r->ctx, &req, cond);
  }
}

/* -- Timers --------------------------------------------------------------- */

static void arm_queue_timer(xs2s__remote *r) {
  xs2s_ctx *ctx = r->ctx;
  const xs2s__qentry *e = xs2s__queue_oldest(&r->queue);
  if (!e) {
    xs2s__loop_timer_cancel(&ctx->loop, &r->queue_timer);
    return;
  }
  uint64_t due = e->queued_ms + ctx->cfg->timeouts[XS2S_TIMEOUT_QUEUE];
  uint64_t now = xs2s__loop_now(&ctx->loop);
  xs2s__loop_timer_set(&ctx->loop, &r->queue_timer, due > now ? due - now : 0);
}

static void queue_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  xs2s__remote *r = arg;
  uint64_t limit = r->ctx->cfg->timeouts[XS2S_TIMEOUT_QUEUE];
  bounce_arg b = {r->ctx, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT,
                  "no authenticated stream in time"};
  if (now >= limit)
    xs2s__queue_expire(&r->queue, now - limit, bounce_entry, &b);
  arm_queue_timer(r);
}

static void retry_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  (void)now;
  xs2s__remote *r = arg;
  if (r->state != XS2S__REMOTE_FAILED)
    return;
  r->state = XS2S__REMOTE_IDLE;
  if (r->queue.count || r->verifies || xs2s__sm_remote_pending(r))
    start(r);
}

/* min(retry-min * 2^(failures-1), retry-max), +-25% jitter. */
static uint64_t backoff_ms(xs2s__remote *r) {
  const xs2s_config *cfg = r->ctx->cfg;
  uint64_t lo = cfg->timeouts[XS2S_TIMEOUT_RETRY_MIN];
  uint64_t hi = cfg->timeouts[XS2S_TIMEOUT_RETRY_MAX];
  uint64_t d = lo;
  for (unsigned i = 1; i < r->failures && d < hi; i++)
    d *= 2;
  if (d > hi)
    d = hi;
  uint32_t rnd = 0;
  gnutls_rnd(GNUTLS_RND_NONCE, &rnd, sizeof(rnd));
  uint64_t span = d / 2; /* [-25%, +25%] */
  if (span)
    d = d - span / 2 + rnd % (span + 1);
  return d;
}

/* -- The state machine ---------------------------------------------------- */

static void set_text(xs2s__remote *r, const char *fmt, const char *a,
                     const char *b) __attribute__((format(printf, 2, 0)));
/* Only called with the literal formats below, each with two %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void set_text(xs2s__remote *r, const char *fmt, const char *a,
                     const char *b) {
  snprintf(r->text, sizeof(r->text), fmt, a, b);
}
#pragma GCC diagnostic pop

/* Every candidate failed: bounce everything, wait before trying again. */
static void fail(xs2s__remote *r, xs2s_stanza_condition cond) {
  xs2s_ctx *ctx = r->ctx;
  if (r->cond == XS2S_STANZA_ERR_NONE)
    r->cond = cond;
  if (r->cond == XS2S_STANZA_ERR_NONE)
    r->cond = XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
  if (!r->text[0])
    set_text(r, "%s%s: cannot be reached", r->name, "");
  drop_result(r);
  r->state = XS2S__REMOTE_FAILED;
  r->failures++;
  xs2s__ctx_log(ctx, XS2S_LOG_WARNING, "%s: %s; bouncing with %s", r->name,
                r->text, xs2s_stanza_condition_name(r->cond));
  bounce_queue(r, NULL, r->cond, r->text);
  arm_queue_timer(r);
  answer_verifies(r, r->cond);
  if (!ctx->freeing)
    xs2s__loop_timer_set(&ctx->loop, &r->retry_timer, backoff_ms(r));
}

static void resolved(const xs2s_resolve_result *res, void *arg) {
  xs2s__remote *r = arg;
  r->query = NULL;
  if (res->error < 0) {
    set_text(r, "DNS: %s%s", xs2s_strerror(res->error),
             res->why_bogus ? " (DNSSEC bogus)" : "");
    fail(r, res->condition);
    return;
  }
  drop_result(r);
  if (xs2s_resolve_result_copy(res, &r->ctx->mem, &r->res) < 0) {
    set_text(r, "%s%s", "out of memory", "");
    fail(r, XS2S_STANZA_ERR_RESOURCE_CONSTRAINT);
    return;
  }
  r->state = XS2S__REMOTE_CONNECTING;
  try_next(r);
}

static void start(xs2s__remote *r) {
  xs2s_ctx *ctx = r->ctx;
  if (ctx->freeing)
    return;
  r->state = XS2S__REMOTE_RESOLVING;
  r->cond = XS2S_STANZA_ERR_NONE;
  r->text[0] = '\0';
  xs2s__ctx_log(ctx, XS2S_LOG_DEBUG, "%s: resolving", r->name);
  int rc = xs2s_resolve(ctx->resolver, r->name, resolved, r, &r->query);
  if (rc < 0) {
    r->query = NULL;
    set_text(r, "resolver: %s%s", xs2s_strerror(rc), "");
    fail(r, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
    return;
  }
  xs2s__ctx_resolver_kick(ctx);
}

/* Connects to the next usable address of the current candidates. */
static void try_next(xs2s__remote *r) {
  xs2s_ctx *ctx = r->ctx;
  while (r->res && r->cand < r->res->ncandidates) {
    const xs2s_resolve_candidate *c = &r->res->candidates[r->cand];
    int direct = c->tls == XS2S_RESOLVE_TLS_DIRECT;
    /* Direct TLS needs TLS allowed for this domain. */
    int skip = direct && r->pol.tls_mode == XS2S_TLS_OFF;
    if (r->addr >= c->naddrs || skip) {
      if (skip && c->naddrs)
        xs2s__ctx_log(ctx, XS2S_LOG_DEBUG,
                      "%s: skipping direct-TLS candidate %s:%u (TLS off)",
                      r->name, c->host, (unsigned)c->port);
      r->cand++;
      r->addr = 0;
      continue;
    }
    const xs2s_resolve_addr *a = &c->addrs[r->addr++];
    char text[XS2S_ADDRSTRLEN];
    xs2s__net_format_addr(&a->sa, text);
    xs2s__conn *conn;
    int rc = xs2s__conn_connect(ctx, r, &a->sa, xs2s_resolve_addr_len(a),
                                &conn);
    if (rc == 0) {
      conn->direct_tls = direct;
      xs2s__ctx_log(ctx, XS2S_LOG_DEBUG, "%s: connecting to %s (%s%s)",
                    r->name, text, c->host, direct ? ", direct TLS" : "");
      r->out = conn;
      r->out_authed = 0;
      r->state = XS2S__REMOTE_CONNECTING;
      return;
    }
    set_text(r, "connect to %s: %s", text,
             rc == XS2S_ERR_LIMIT ? "connection limit" : xs2s_strerror(rc));
    if (rc == XS2S_ERR_LIMIT)
      r->cond = XS2S_STANZA_ERR_RESOURCE_CONSTRAINT;
  }
  fail(r, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
}

/* -- Events from the outgoing connection ---------------------------------- */

void xs2s__remote_connected(xs2s__remote *r, xs2s__conn *c) {
  xs2s_ctx *ctx = r->ctx;
  const char *first = NULL;
  const xs2s__qentry *e = xs2s__queue_oldest(&r->queue);
  if (xs2s__sm_remote_pending(r) && r->sm_prev.first_local)
    first = r->sm_prev.first_local; /* the pair that resumes the stream */
  else if (e)
    first = e->local;
  else if (r->verifies)
    first = r->verifies->req.receiving;
  int li = first ? xs2s__ctx_local_index(ctx, first) : -1;
  first = li >= 0 ? ctx->locals[li] : ctx->locals[0];
  if (xs2s__conn_start_session(c, first) < 0)
    return; /* the conn is dead: conn_gone moves on */
  xs2s__sm_remote_resume(r, c);
  /* Every other local domain with queued stanzas joins the stream. */
  for (e = xs2s__queue_oldest(&r->queue); e; e = e->next)
    if (strcmp(e->local, first) != 0)
      xs2s_session_add_pair(c->session, e->local, r->name);
  while (r->verifies) {
    xs2s__pending_verify *v = r->verifies;
    r->verifies = v->next;
    if (xs2s_session_verify(c->session, &v->req) < 0)
      answer_error(ctx, &v->req, XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR);
    xs2s__free(&ctx->mem, v);
  }
}

static const char too_large[] =
    "the stanza is larger than the receiving server accepts (XEP-0478)";

static int drain_entry(xs2s__qentry *e, void *arg) {
  xs2s__conn *c = arg;
  int rc = xs2s__conn_send_entry(c, e);
  if (rc == XS2S__CONN_FULL || rc == XS2S_ERR_NOT_AUTHENTICATED)
    return XS2S__QUEUE_KEEP; /* acknowledgements or a resumption first */
  if (rc == XS2S_ERR_LIMIT) {
    /* Over the peer's advertised max-bytes: bounced, the rest goes on. */
    xs2s__ctx_defer(c->ctx, e->stanza, e->tag, 0,
                    XS2S_STANZA_ERR_POLICY_VIOLATION, too_large);
    e->stanza = NULL; /* taken by the deferred bounce */
    return 0;
  }
  return rc == 0 ? 0 : rc;
}

void xs2s__remote_bidi_up(xs2s__remote *r, xs2s__conn *c, const char *local) {
  r->bidi_in = c;
  xs2s__ctx_log(r->ctx, XS2S_LOG_DEBUG,
                "%s: incoming bidirectional stream usable for %s", r->name,
                local);
  if (r->out && xs2s__conn_pair_ready(r->out, local, r->name))
    return; /* our own stream drains the queue */
  int rc = xs2s__queue_drain(&r->queue, local, strlen(local), drain_entry, c);
  if (rc < 0)
    xs2s__ctx_log(r->ctx, XS2S_LOG_ERROR, "%s: flushing the queue: %s",
                  r->name, xs2s_strerror(rc));
  arm_queue_timer(r);
}

void xs2s__remote_pair_up(xs2s__remote *r, xs2s__conn *c, const char *local) {
  if (r->out != c)
    return;
  r->state = XS2S__REMOTE_READY;
  r->out_authed = 1;
  r->failures = 0;
  r->cond = XS2S_STANZA_ERR_NONE;
  r->text[0] = '\0';
  drop_result(r); /* a later stream starts over from fresh DNS */
  /* After SASL the stream restarts first: the pump flushes once open. */
  if (xs2s_session_get_state(c->session) != XS2S_SESSION_OPEN)
    return;
  int rc = xs2s__queue_drain(&r->queue, local, strlen(local), drain_entry, c);
  if (rc < 0)
    xs2s__ctx_log(r->ctx, XS2S_LOG_ERROR, "%s: flushing the queue: %s",
                  r->name, xs2s_strerror(rc));
  arm_queue_timer(r);
}

void xs2s__remote_flush(xs2s__remote *r, xs2s__conn *c) {
  for (size_t i = 0; i < c->npairs && r->queue.count; i++)
    if (xs2s__queue_drain(&r->queue, c->pairs[i].local,
                          strlen(c->pairs[i].local), drain_entry, c) < 0)
      break;
  arm_queue_timer(r);
}

/* What a bounce says when @local's pair failed on @c: the peer's refusal,
 * or, when the pair failed because the stream died first, why it died (the
 * peer's stream error with its text, or our own failure), which is what an
 * administrator needs to mend one-way federation. */
static void pair_failure_text(xs2s__remote *r, xs2s__conn *c,
                              const char *local, xs2s_stanza_condition cond,
                              char *text, size_t size) {
  xs2s_session_close_info why;
  if (!c->session || !xs2s__session_close_reason(c->session, &why) ||
      !why.error) {
    snprintf(text, size, "%s refused %s (%s)", r->name, local,
             xs2s_stanza_condition_name(cond));
    return;
  }
  const char *said = why.text && *why.text ? why.text : NULL;
  if (why.origin == XS2S_CLOSED_BY_PEER && why.condition)
    snprintf(text, size, "%s closed the stream before accepting %s: %s%s%s%s",
             r->name, local, xs2s_stream_condition_name(why.condition),
             said ? " (" : "", said ? said : "", said ? ")" : "");
  else
    snprintf(text, size, "stream from %s to %s failed: %s%s%s%s", local,
             r->name, xs2s_strerror(why.error), said ? " (" : "",
             said ? said : "", said ? ")" : "");
}

void xs2s__remote_pair_failed(xs2s__remote *r, xs2s__conn *c,
                              const char *local,
                              xs2s_stanza_condition cond) {
  if (r->out != c)
    return;
  char text[200];
  pair_failure_text(r, c, local, cond, text, sizeof(text));
  if (c->npairs > 0) {
    /* The stream serves other pairs: only this local domain fails. */
    bounce_queue(r, local, cond, text);
    arm_queue_timer(r);
    return;
  }
  /* Nothing authenticated here: another candidate may do better. */
  r->cond = cond == XS2S_STANZA_ERR_NONE
                ? XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND
                : cond;
  snprintf(r->text, sizeof(r->text), "%s", text);
  xs2s__conn_close(c, XS2S_STREAM_ERR_NONE, NULL);
}

/* The peer's certificate did not pass our checks (expired, wrong name,
 * unknown issuer, DANE mismatch) under a policy that requires it. RFC 6120
 * 8.3.3.17 names this case for remote-server-timeout ("an XML stream can
 * be established but stream negotiation fails because of problems with
 * TLS, SASL, Server Dialback"), of type wait: nothing the sender can
 * change, and retrying is pointless until the peer's administrator acts.
 * The stanzas are bounced as soon as every candidate has failed, with a
 * text that says whose certificate failed; the backoff is as for any
 * failure. Returns 1 when @error is such a failure. */
static int certificate_refused(xs2s__remote *r, xs2s__conn *c, int error) {
  if (error != XS2S_ERR_CERT_UNTRUSTED && error != XS2S_ERR_CERT_NAME_MISMATCH &&
      error != XS2S_ERR_DANE_MISMATCH)
    return 0;
  /* Say what was wrong with it (expired, unknown-ca, ...). */
  const char *chain = "";
  xs2s_tls *t = c->session ? xs2s_session_tls(c->session) : NULL;
  xs2s_tls_verify_result res;
  memset(&res, 0, sizeof(res));
  if (t && xs2s_tls_verify_peer(t, r->name, NULL, 0, xs2s__loop_wall_ms(),
                                &res) != XS2S_ERR_BAD_STATE)
    chain = xs2s_tls_chain_status_name(res.chain);
  r->cond = XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT;
  snprintf(r->text, sizeof(r->text), "%s: certificate not accepted (%s%s%s)",
           r->name, xs2s_strerror(error), *chain ? ", chain " : "", chain);
  return 1;
}

void xs2s__remote_conn_gone(xs2s__remote *r, xs2s__conn *c, int error,
                            const char *why) {
  if (r->out != c)
    return;
  r->out = NULL;
  if (!r->out_authed)
    certificate_refused(r, c, error);
  if (r->out_authed) {
    r->out_authed = 0;
    r->state = XS2S__REMOTE_IDLE;
    if (r->queue.count || r->verifies || xs2s__sm_remote_pending(r))
      start(r);
    return;
  }
  if (why && r->cond == XS2S_STANZA_ERR_NONE)
    snprintf(r->text, sizeof(r->text), "%s", why);
  if (error == XS2S_ERR_TIMEOUT && r->cond == XS2S_STANZA_ERR_NONE)
    r->cond = XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT;
  if (r->res) {
    try_next(r);
  } else {
    fail(r, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  }
}

void xs2s__remote_requeue(xs2s__remote *r, xs2s__queue *entries) {
  xs2s__queue_prepend(&r->queue, entries);
  xs2s__conn *c = r->out;
  if (c && c->state == XS2S__CONN_OPEN && c->session) {
    const char *last = NULL;
    for (const xs2s__qentry *e = r->queue.head; e; e = e->next)
      if (!last || strcmp(last, e->local) != 0) {
        xs2s_session_add_pair(c->session, e->local, r->name);
        last = e->local;
      }
  }
  arm_queue_timer(r);
}

/* -- Entry points --------------------------------------------------------- */

xs2s__remote *xs2s__remote_get(xs2s_ctx *ctx, const char *name, size_t len,
                               int create) {
  xs2s__remote *r = xs2s__map_get(&ctx->remotes, name, len);
  if (r || !create)
    return r;
  r = xs2s__calloc(&ctx->mem, 1, sizeof(*r) + len + 1);
  if (!r)
    return NULL;
  r->ctx = ctx;
  r->name = (char *)(r + 1);
  memcpy(r->name, name, len);
  r->name[len] = '\0';
  r->len = len;
  xs2s__policy_lookup_norm(ctx->cfg, r->name, len, &r->pol);
  xs2s__queue_init(&r->queue, &ctx->mem,
                   (size_t)ctx->cfg->limits[XS2S_LIMIT_QUEUE_BYTES]);
  xs2s__timer_init(&r->retry_timer, retry_timer_fn, r);
  xs2s__timer_init(&r->queue_timer, queue_timer_fn, r);
  if (xs2s__map_put(&ctx->remotes, r->name, len, r) < 0) {
    xs2s__free(&ctx->mem, r);
    return NULL;
  }
  return r;
}

int xs2s__remote_submit(xs2s__remote *r, const xs2s_stanza *s,
                        const char *local, void *tag) {
  xs2s_ctx *ctx = r->ctx;
  if (r->state == XS2S__REMOTE_FAILED) {
    /* Backing off: the cached failure, through the one bounce path. */
    xs2s_stanza *copy = xs2s_stanza_copy(s);
    if (!copy)
      return XS2S_ERR_NOMEM;
    ctx->counters.stanzas_accepted++;
    xs2s__ctx_defer(ctx, copy, tag, 0, r->cond, r->text);
    return 0;
  }
  xs2s__conn *via = NULL;
  if (r->out && xs2s__conn_pair_ready(r->out, local, r->name))
    via = r->out;
  else if (r->bidi_in && xs2s__conn_pair_ready(r->bidi_in, local, r->name))
    via = r->bidi_in; /* XEP-0288: the peer's stream carries ours too */
  if (via) {
    int rc = xs2s__conn_send(via, s, local, tag);
    if (rc == 0) {
      ctx->counters.stanzas_accepted++;
      return 0;
    }
    if (rc == XS2S_ERR_LIMIT) {
      xs2s_stanza *copy = xs2s_stanza_copy(s);
      if (!copy)
        return XS2S_ERR_NOMEM;
      ctx->counters.stanzas_accepted++;
      xs2s__ctx_defer(ctx, copy, tag, 0, XS2S_STANZA_ERR_POLICY_VIOLATION,
                      too_large);
      return 0;
    }
    if (rc != XS2S_ERR_NOT_AUTHENTICATED && rc != XS2S_ERR_BAD_STATE &&
        rc != XS2S__CONN_FULL)
      return rc;
  }
  int rc = xs2s__queue_push(&r->queue, s, local, strlen(local),
                            xs2s__loop_now(&ctx->loop), tag);
  if (rc < 0)
    return rc;
  ctx->counters.stanzas_accepted++;
  if (r->queue.count == 1)
    arm_queue_timer(r);
  if (r->out && r->out->state == XS2S__CONN_OPEN && r->out->session) {
    xs2s__conn_enter(r->out);
    rc = xs2s_session_add_pair(r->out->session, local, r->name);
    xs2s__conn_leave(r->out);
    if (rc == XS2S_ERR_POLICY) {
      bounce_queue(r, local, XS2S_STANZA_ERR_POLICY_VIOLATION,
                   "the stream's TLS or certificate policy forbids dialback");
      arm_queue_timer(r);
    }
  } else if (r->state == XS2S__REMOTE_IDLE) {
    start(r);
  }
  return 0;
}

void xs2s__remote_verify(xs2s__remote *r, const xs2s_dialback_request *req) {
  xs2s_ctx *ctx = r->ctx;
  if (r->state == XS2S__REMOTE_FAILED) {
    answer_error(ctx, req, r->cond);
    return;
  }
  if (r->out && r->out->state == XS2S__CONN_OPEN && r->out->session) {
    xs2s__conn_enter(r->out);
    int rc = xs2s_session_verify(r->out->session, req);
    xs2s__conn_leave(r->out);
    if (rc < 0)
      answer_error(ctx, req, XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR);
    return;
  }
  xs2s__pending_verify *v = xs2s__calloc(&ctx->mem, 1, sizeof(*v));
  if (!v) {
    answer_error(ctx, req, XS2S_STANZA_ERR_RESOURCE_CONSTRAINT);
    return;
  }
  v->req = *req;
  /* Keep the order of arrival. */
  xs2s__pending_verify **p = &r->verifies;
  while (*p)
    p = &(*p)->next;
  *p = v;
  if (r->state == XS2S__REMOTE_IDLE)
    start(r);
}

/* -- A new configuration ------------------------------------------------- */

static int same_routes(const xs2s__remote_policy *a,
                       const xs2s__remote_policy *b) {
  if (a->route_count != b->route_count)
    return 0;
  for (size_t i = 0; i < a->route_count; i++)
    if (strcmp(a->routes[i].host, b->routes[i].host) != 0 ||
        a->routes[i].port != b->routes[i].port ||
        a->routes[i].flags != b->routes[i].flags)
      return 0;
  return 1;
}

/* The domain may no longer be talked to: nothing of it stays. */
static void forbid(xs2s__remote *r, size_t *streams) {
  static const char why[] = "the domain is no longer allowed (privacy "
                            "policy changed)";
  xs2s_ctx *ctx = r->ctx;
  bounce_queue(r, NULL, XS2S_STANZA_ERR_POLICY_VIOLATION, why);
  arm_queue_timer(r);
  answer_verifies(r, XS2S_STANZA_ERR_POLICY_VIOLATION);
  xs2s_resolve_cancel(r->query);
  r->query = NULL;
  drop_result(r);
  xs2s__loop_timer_cancel(&ctx->loop, &r->retry_timer);
  r->state = XS2S__REMOTE_IDLE;
  r->failures = 0;
  r->cond = XS2S_STANZA_ERR_NONE;
  r->text[0] = '\0';
  xs2s__conn *c = r->out;
  r->out = NULL;
  r->out_authed = 0;
  if (c) {
    /* Detached first, so that its end starts nothing new. */
    c->remote = NULL;
    xs2s__ctx_log(ctx, XS2S_LOG_INFO, "conn %llu: %s is no longer allowed",
                  (unsigned long long)c->id, r->name);
    xs2s__conn_close(c, XS2S_STREAM_ERR_POLICY_VIOLATION, why);
    (*streams)++;
  }
}

int xs2s__remote_reconfigure(xs2s__remote *r, size_t *streams) {
  xs2s_ctx *ctx = r->ctx;
  xs2s__remote_policy old = r->pol; /* routes still in the old config */
  xs2s__policy_lookup_norm(ctx->cfg, r->name, r->len, &r->pol);
  r->queue.max_bytes = (size_t)ctx->cfg->limits[XS2S_LIMIT_QUEUE_BYTES];
  arm_queue_timer(r); /* the queue timeout may have changed */
  if (!r->pol.allowed) {
    int had = r->out || r->queue.count || r->verifies ||
              r->state != XS2S__REMOTE_IDLE;
    forbid(r, streams);
    return had;
  }
  if (!same_routes(&old, &r->pol) && r->state == XS2S__REMOTE_FAILED) {
    /* The cached failure was about the old routes. */
    xs2s__loop_timer_cancel(&ctx->loop, &r->retry_timer);
    r->state = XS2S__REMOTE_IDLE;
    r->failures = 0;
  }
  return 0;
}

void xs2s__remote_free_all(xs2s_ctx *ctx) {
  size_t pos = 0;
  xs2s__remote *r;
  while ((r = xs2s__map_next(&ctx->remotes, &pos, NULL, NULL)) != NULL) {
    xs2s_resolve_cancel(r->query);
    r->query = NULL;
    bounce_queue(r, NULL, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT,
                 "shutting down");
    while (r->verifies) {
      xs2s__pending_verify *v = r->verifies;
      r->verifies = v->next;
      xs2s__free(&ctx->mem, v);
    }
    xs2s__loop_timer_cancel(&ctx->loop, &r->retry_timer);
    xs2s__loop_timer_cancel(&ctx->loop, &r->queue_timer);
    xs2s__queue_free(&r->queue);
    drop_result(r);
  }
  pos = 0;
  while ((r = xs2s__map_next(&ctx->remotes, &pos, NULL, NULL)) != NULL)
    xs2s__free(&ctx->mem, r);
  xs2s__map_free(&ctx->remotes);
}

void xs2s__remote_bounce_all(xs2s_ctx *ctx, const char *text) {
  size_t pos = 0;
  xs2s__remote *r;
  while ((r = xs2s__map_next(&ctx->remotes, &pos, NULL, NULL)) != NULL) {
    bounce_queue(r, NULL, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT, text);
    arm_queue_timer(r);
  }
}
