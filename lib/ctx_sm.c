/*
 * ctx_sm.c: XEP-0198 stream management in the engine (docs/ENGINE.md
 * "Stream management").
 *
 * Outgoing: every stanza written while the session counts (from <enable/>
 * on) is also kept in the stream's unacknowledged list; the peer's
 * acknowledgements drop the oldest ones. The application's stanzas are
 * kept as the bytes the session wrote (sm_kept.h), a queue entry's as the
 * tree it held; bytes become a tree again only to be bounced or queued
 * again. One that cannot (out of memory) is counted as bounced and
 * logged: the bounce callback needs a tree. The list is bounded like a
 * remote's queue (queue-bytes, plus the one stanza that crossed it): when
 * it is full, stanzas wait in the remote's queue for acknowledgements.
 * When the stream breaks, a resumable list moves to the remote and the
 * next stream to that domain asks to resume: on <resumed h/> what the peer
 * did not handle is written again, in order, before the queue; on
 * <failed/>, or when the peer no longer offers stream management, or when
 * no stream comes up, it is bounced. It is never written again on a fresh
 * stream: the peer may have handled it without acknowledging it, so that
 * would risk duplicates without telling anyone.
 *
 * Incoming: a resumable stream that breaks (not an orderly close) leaves
 * its id, its handled count and its first domain pair here for the
 * "sm-resume" time, at most "sm-resumable" of them (the oldest are
 * forgotten). A <resume/> is accepted only on a stream authenticated for
 * that same pair; a stream that is still open with that id (its end not
 * noticed yet) is closed and its count taken over.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "ctx_int.h"
#include "session_hold.h"
#include "sm_kept.h"

/* RFC 6120 8.3.3.16 remote-server-timeout (type wait): the stanza went to
 * the remote server, but the connection ended before it confirmed
 * receipt; the sender may try again later. It may have been delivered
 * (handled, not yet acknowledged): see docs/ENGINE.md. */
#define UNACKED_COND XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT
static const char unacked_text[] =
    "the stream to the receiving server broke before it acknowledged the "
    "stanza (XEP-0198), and it could not be resumed";

typedef struct xs2s__sm_saved {
  struct xs2s__sm_saved *next;
  char id[65];
  uint32_t handled;
  uint64_t expires;
  char *local, *remote; /* in @buf */
  char buf[];
} xs2s__sm_saved;

/* -- The unacknowledged list ---------------------------------------------- */

static void list_init(xs2s_ctx *ctx, xs2s__sm_out *sm) {
  if (sm->init)
    return;
  xs2s__queue_init(&sm->unacked, &ctx->mem,
                   (size_t)ctx->cfg->limits[XS2S_LIMIT_QUEUE_BYTES]);
  sm->init = 1;
}

static int drop_one(xs2s__qentry *e, void *arg) {
  (void)e;
  uint32_t *n = arg;
  if (*n == 0)
    return XS2S__QUEUE_KEEP;
  (*n)--;
  return 0;
}

/* Drops the oldest @n entries (acknowledged); returns how many there were. */
static uint32_t drop_acked(xs2s__sm_out *sm, uint32_t n) {
  if (!sm->init || n == 0)
    return 0;
  uint32_t left = n;
  xs2s__queue_drain(&sm->unacked, NULL, 0, drop_one, &left);
  return n - left;
}

typedef struct bounce_ctx {
  xs2s_ctx *ctx;
  xs2s_stanza_condition cond;
  const char *text;
} bounce_ctx;

/* A stanza kept as bytes whose tree cannot be built again (out of
 * memory): the bounce callback needs a tree, so it is counted as bounced
 * and logged, never dropped unseen. */
static void lost_entry(xs2s__qentry *e, void *arg) {
  xs2s_ctx *ctx = arg;
  ctx->counters.stanzas_bounced_unacked++;
  ctx->counters.stanzas_bounced++;
  xs2s__ctx_log(ctx, XS2S_LOG_ERROR,
                "an unacknowledged stanza from %s (%zu bytes) cannot be "
                "rebuilt: counted as bounced, the application is not told",
                e->local, e->bytes);
}

/* For xs2s__queue_take_refused(): nonzero when @e stays bytes. */
static int thaw_try(xs2s__qentry *e, void *arg) {
  xs2s_ctx *ctx = arg;
  return xs2s__sm_kept_thaw(&ctx->mem, e) < 0;
}

static void bounce_entry(xs2s__qentry *e, void *arg) {
  bounce_ctx *b = arg;
  if (xs2s__sm_kept_thaw(&b->ctx->mem, e) < 0) {
    lost_entry(e, b->ctx);
    return;
  }
  b->ctx->counters.stanzas_bounced_unacked++;
  xs2s__ctx_defer(b->ctx, e->stanza, e->tag, 0, b->cond, b->text);
  e->stanza = NULL; /* taken by the deferred bounce */
}

static void list_bounce(xs2s_ctx *ctx, xs2s__sm_out *sm,
                        xs2s_stanza_condition cond, const char *text) {
  if (!sm->init)
    return;
  bounce_ctx b = {ctx, cond, text};
  size_t n = xs2s__queue_take_all(&sm->unacked, NULL, 0, bounce_entry, &b);
  if (n)
    xs2s__ctx_log(ctx, XS2S_LOG_INFO,
                  "%zu unacknowledged stanzas bounced (%s)", n,
                  xs2s_stanza_condition_name(cond));
}

/* Empties and forgets @sm (its entries were written; nothing is told). */
static void list_reset(xs2s__sm_out *sm) {
  if (sm->init) {
    xs2s__free(sm->unacked.mem, sm->first_local);
    xs2s__queue_free(&sm->unacked);
  }
  memset(sm, 0, sizeof(*sm));
}

/* -- Outgoing streams ----------------------------------------------------- */

int xs2s__sm_conn_full(xs2s__conn *c) {
  return c->sm.init && c->sm.unacked.bytes >= c->sm.unacked.max_bytes;
}

static int sm_counts(xs2s__conn *c) {
  xs2s_sm_info info;
  xs2s_session_sm_info(c->session, &info);
  return info.on || info.pending;
}

void xs2s__sm_keep_bytes(const char *xml, size_t len, void *arg) {
  xs2s__sm_keep *k = arg;
  xs2s_ctx *ctx = k->c->ctx;
  if (!sm_counts(k->c))
    return;
  k->entry = xs2s__queue_entry_xml(&ctx->mem, xml, len, k->local,
                                   strlen(k->local),
                                   xs2s__loop_now(&ctx->loop), k->tag);
  if (!k->entry)
    k->rc = XS2S_ERR_NOMEM;
}

/* Keeps a copy of the application's tree: the session showed no bytes. */
static int keep_copy(xs2s__conn *c, const xs2s__sm_keep *k) {
  xs2s_stanza *copy = xs2s_stanza_copy(k->st);
  int rc = copy ? xs2s__queue_push_owned(
                      &c->sm.unacked, copy,
                      xs2s__session_sent_bytes(c->session), k->local,
                      strlen(k->local), xs2s__loop_now(&c->ctx->loop), k->tag)
                : XS2S_ERR_NOMEM;
  if (rc < 0)
    xs2s_stanza_free(copy);
  return rc;
}

/* Takes over @e's stanza (from the remote's queue, a tree already). */
static int keep_entry(xs2s__conn *c, xs2s__qentry *e) {
  int rc = xs2s__queue_push_owned(
      &c->sm.unacked, e->stanza, xs2s__session_sent_bytes(c->session),
      e->local, e->local_len, xs2s__loop_now(&c->ctx->loop), e->tag);
  if (rc == 0)
    e->stanza = NULL;
  return rc;
}

void xs2s__sm_conn_sent(xs2s__conn *c, xs2s__qentry *e, xs2s__sm_keep *k) {
  if (!sm_counts(c)) {
    xs2s__queue_entry_free(&c->ctx->mem, k->entry);
    k->entry = NULL;
    return;
  }
  xs2s_ctx *ctx = c->ctx;
  list_init(ctx, &c->sm);
  /* Already written: it is kept even if it crosses the bound. */
  int rc = k->rc;
  if (e) {
    rc = keep_entry(c, e);
  } else if (k->entry) {
    xs2s__queue_append(&c->sm.unacked, k->entry);
    k->entry = NULL;
  } else if (rc == 0) {
    rc = keep_copy(c, k);
  }
  if (rc < 0) {
    /* The counts no longer match the list: better no resumption than a
     * wrong one. */
    xs2s__ctx_log(ctx, XS2S_LOG_ERROR,
                  "conn %llu: cannot keep a written stanza: %s",
                  (unsigned long long)c->id, xs2s_strerror(rc));
    c->sm.resumable = 0;
  }
}

void xs2s__sm_conn_idle(xs2s__conn *c) {
  if (c->dir != XS2S_DIR_OUTGOING || !c->sm.on || !c->remote ||
      c->remote->queue.count || !c->sm.init || !c->sm.unacked.count)
    return;
  xs2s_session_sm_request_ack(c->session);
}

/* The peer said which of the previous stream's stanzas it handled (its
 * <resumed h/>, or a <failed h/>): the others certainly did not arrive, so
 * they go back to the front of the queue and out again, in order, on
 * whatever stream carries their pair. */
static size_t requeue_rest(xs2s__remote *r, uint32_t handled_count) {
  xs2s_ctx *ctx = r->ctx;
  uint32_t handled = drop_acked(&r->sm_prev, handled_count);
  ctx->counters.stanzas_acked += handled;
  if (r->sm_prev.init) /* the remote's queue holds trees */
    xs2s__queue_take_refused(&r->sm_prev.unacked, thaw_try, lost_entry, ctx);
  size_t n = r->sm_prev.init ? r->sm_prev.unacked.count : 0;
  ctx->counters.stanzas_resent += n;
  if (n)
    xs2s__remote_requeue(r, &r->sm_prev.unacked);
  list_reset(&r->sm_prev);
  return n;
}

static void on_resumed(xs2s__conn *c, const xs2s_sm_event *ev) {
  xs2s_ctx *ctx = c->ctx;
  xs2s__remote *r = c->remote;
  ctx->counters.sm_resumed_out++;
  list_init(ctx, &c->sm);
  c->sm.on = 1;
  c->sm.resumable = 1;
  snprintf(c->sm.id, sizeof(c->sm.id), "%s", ev->id);
  c->sm.acked = ev->h;
  if (!r)
    return;
  c->sm.acked_total += ev->count;
  size_t n = requeue_rest(r, ev->count);
  xs2s__ctx_log(ctx, XS2S_LOG_INFO,
                "conn %llu: %s resumed: %lu handled, %zu to write again",
                (unsigned long long)c->id, r->name, (unsigned long)ev->count,
                n);
}

static void on_resume_failed(xs2s__conn *c, const xs2s_sm_event *ev) {
  xs2s_ctx *ctx = c->ctx;
  xs2s__remote *r = c->remote;
  if (!r)
    return;
  if (ev->has_h) {
    requeue_rest(r, ev->count);
    return;
  }
  list_bounce(ctx, &r->sm_prev, UNACKED_COND, unacked_text);
  list_reset(&r->sm_prev);
}

static void on_acked(xs2s__conn *c, const xs2s_sm_event *ev) {
  uint32_t n = drop_acked(&c->sm, ev->count);
  xs2s__ctx_log(c->ctx, XS2S_LOG_DEBUG,
                "conn %llu: the peer acknowledged %lu stanzas (h=%lu)",
                (unsigned long long)c->id, (unsigned long)n,
                (unsigned long)ev->h);
  c->sm.acked = ev->h;
  c->sm.acked_total += n;
  c->ctx->counters.stanzas_acked += n;
}

/* -- Incoming streams ------------------------------------------------------ */

static void saved_free(xs2s_ctx *ctx, xs2s__sm_saved *v) {
  xs2s__free(&ctx->mem, v);
  ctx->sm_nsaved--;
}

/* Drops expired entries, and the oldest beyond @keep. */
static void saved_prune(xs2s_ctx *ctx, size_t keep) {
  uint64_t now = xs2s__loop_now(&ctx->loop);
  size_t n = 0;
  for (xs2s__sm_saved **p = &ctx->sm_saved; *p;) {
    xs2s__sm_saved *v = *p;
    if (v->expires <= now || n >= keep) {
      *p = v->next;
      saved_free(ctx, v);
      continue;
    }
    n++;
    p = &v->next;
  }
}

static void save_incoming(xs2s__conn *c) {
  xs2s_ctx *ctx = c->ctx;
  uint64_t window = ctx->cfg->timeouts[XS2S_TIMEOUT_SM_RESUME];
  xs2s_sm_info info;
  if (!c->session || !c->npairs || window == 0 || c->sm_superseded ||
      !xs2s_session_sm_info(c->session, &info) || !info.resumable)
    return;
  /* An orderly close (the idle timeout's too) or a stream error ends the
   * stream for good; a broken connection does not. */
  int e = c->close.error;
  if (e != XS2S_ERR_STREAM_CLOSED && e != XS2S_ERR_SYSTEM &&
      e != XS2S_ERR_TLS && e != XS2S_ERR_TLS_PEER_CLOSED)
    return;
  size_t ll = strlen(c->pairs[0].local), rl = strlen(c->pairs[0].remote);
  size_t max = (size_t)ctx->cfg->limits[XS2S_LIMIT_SM_RESUMABLE];
  saved_prune(ctx, max > 0 ? max - 1 : 0);
  xs2s__sm_saved *v = xs2s__malloc(&ctx->mem, sizeof(*v) + ll + rl + 2);
  if (!v)
    return;
  snprintf(v->id, sizeof(v->id), "%s", info.id);
  v->handled = info.handled;
  v->expires = xs2s__loop_now(&ctx->loop) + window;
  v->local = v->buf;
  memcpy(v->local, c->pairs[0].local, ll + 1);
  v->remote = v->buf + ll + 1;
  memcpy(v->remote, c->pairs[0].remote, rl + 1);
  v->next = ctx->sm_saved;
  ctx->sm_saved = v;
  ctx->sm_nsaved++;
  xs2s__ctx_log(ctx, XS2S_LOG_DEBUG,
                "conn %llu: stream %s of %s resumable for %llu ms "
                "(%lu handled)",
                (unsigned long long)c->id, v->id, v->remote,
                (unsigned long long)window, (unsigned long)v->handled);
}

static int pair_ok(xs2s__conn *c, const char *local, const char *remote) {
  return xs2s_session_pair_method(c->session, local, remote) !=
         XS2S_AUTH_NONE;
}

/* A stream with @id still open: the peer lost it before we noticed. */
static xs2s__conn *live_stream(xs2s__conn *c, const char *id) {
  for (xs2s__conn *o = c->ctx->conns; o; o = o->next) {
    xs2s_sm_info info;
    if (o == c || o->dir != XS2S_DIR_INCOMING || !o->session ||
        o->state != XS2S__CONN_OPEN || o->sm_superseded || !o->npairs ||
        !xs2s_session_sm_info(o->session, &info) || !info.id ||
        strcmp(info.id, id) != 0)
      continue;
    return o;
  }
  return NULL;
}

static void on_resume_request(xs2s__conn *c, xs2s_sm_event *ev) {
  xs2s_ctx *ctx = c->ctx;
  saved_prune(ctx, SIZE_MAX);
  xs2s__conn *old = live_stream(c, ev->id);
  if (old) {
    if (!pair_ok(c, old->pairs[0].local, old->pairs[0].remote))
      goto refuse;
    xs2s_sm_info info;
    xs2s_session_sm_info(old->session, &info);
    ev->handled = info.handled;
    ev->accept = 1;
    old->sm_superseded = 1;
    xs2s__ctx_log(ctx, XS2S_LOG_INFO,
                  "conn %llu: stream %s taken over by conn %llu",
                  (unsigned long long)old->id, ev->id,
                  (unsigned long long)c->id);
    xs2s__conn_close(old, XS2S_STREAM_ERR_CONFLICT,
                     "the stream was resumed on another connection");
    ctx->counters.sm_resumed_in++;
    return;
  }
  for (xs2s__sm_saved **p = &ctx->sm_saved; *p; p = &(*p)->next) {
    xs2s__sm_saved *v = *p;
    if (strcmp(v->id, ev->id) != 0)
      continue;
    if (!pair_ok(c, v->local, v->remote))
      goto refuse; /* another domain pair may not take it over */
    ev->handled = v->handled;
    ev->accept = 1;
    *p = v->next;
    saved_free(ctx, v);
    ctx->counters.sm_resumed_in++;
    return;
  }
refuse:
  xs2s__ctx_log(ctx, XS2S_LOG_INFO,
                "conn %llu: no resumable stream %s for this domain pair",
                (unsigned long long)c->id, ev->id);
}

/* -- Events and ends -------------------------------------------------------- */

void xs2s__sm_on_event(xs2s_session *s, xs2s_sm_event *ev, void *ud) {
  (void)s;
  xs2s__conn *c = ud;
  switch (ev->type) {
  case XS2S_SM_ENABLED:
    xs2s__ctx_log(c->ctx, XS2S_LOG_DEBUG,
                  "conn %llu %s: stream management on (%s)",
                  (unsigned long long)c->id, xs2s_direction_name(c->dir),
                  ev->resume && ev->id ? "resumable" : "acknowledgements");
    c->sm.on = 1;
    c->sm.resumable = ev->resume && ev->id;
    snprintf(c->sm.id, sizeof(c->sm.id), "%s", ev->id ? ev->id : "");
    if (c->dir == XS2S_DIR_OUTGOING)
      list_init(c->ctx, &c->sm);
    break;
  case XS2S_SM_ACKED:
    on_acked(c, ev);
    break;
  case XS2S_SM_RESUMED:
    on_resumed(c, ev);
    break;
  case XS2S_SM_FAILED:
    if (ev->resume) {
      on_resume_failed(c, ev);
    } else {
      /* No acknowledgements on this stream: as without XEP-0198. */
      list_reset(&c->sm);
    }
    break;
  case XS2S_SM_RESUME_REQUEST:
    on_resume_request(c, ev);
    break;
  }
}

void xs2s__sm_conn_end(xs2s__conn *c, int resumable) {
  xs2s_ctx *ctx = c->ctx;
  if (c->dir == XS2S_DIR_INCOMING) {
    if (resumable && !ctx->freeing && !ctx->shutting_down)
      save_incoming(c);
    list_reset(&c->sm);
    return;
  }
  xs2s__remote *r = c->remote;
  if (!c->sm.init || c->sm.unacked.count == 0) {
    list_reset(&c->sm);
    return;
  }
  if (resumable && c->sm.resumable && r && !ctx->freeing &&
      !ctx->shutting_down && ctx->cfg->timeouts[XS2S_TIMEOUT_SM_RESUME] &&
      !(r->sm_prev.init && r->sm_prev.unacked.count)) {
    list_reset(&r->sm_prev);
    if (c->npairs)
      c->sm.first_local = xs2s__strdup(&ctx->mem, c->pairs[0].local);
    r->sm_prev = c->sm;
    /* The queue's tail may point at its own head field. */
    if (!r->sm_prev.unacked.head)
      r->sm_prev.unacked.tail = &r->sm_prev.unacked.head;
    memset(&c->sm, 0, sizeof(c->sm));
    xs2s__ctx_log(ctx, XS2S_LOG_INFO,
                  "conn %llu: %zu unacknowledged stanzas wait for %s to "
                  "resume stream %s",
                  (unsigned long long)c->id, r->sm_prev.unacked.count,
                  r->name, r->sm_prev.id);
    return;
  }
  list_bounce(ctx, &c->sm, UNACKED_COND, unacked_text);
  list_reset(&c->sm);
}

void xs2s__sm_remote_resume(xs2s__remote *r, xs2s__conn *c) {
  xs2s__sm_out *p = &r->sm_prev;
  if (!p->init || p->unacked.count == 0 || !c->session)
    return;
  uint32_t sent = p->acked + (uint32_t)p->unacked.count;
  if (xs2s_session_sm_resume(c->session, p->id, p->acked, sent) < 0) {
    list_bounce(r->ctx, p, UNACKED_COND, unacked_text);
    list_reset(p);
  }
}

int xs2s__sm_remote_pending(const xs2s__remote *r) {
  return r->sm_prev.init && r->sm_prev.unacked.count > 0;
}

void xs2s__sm_remote_bounce(xs2s__remote *r, xs2s_stanza_condition cond,
                            const char *text) {
  (void)cond;
  (void)text;
  /* Whatever ended the wait, these stanzas' fate is the same: written,
   * not acknowledged. */
  list_bounce(r->ctx, &r->sm_prev, UNACKED_COND, unacked_text);
  list_reset(&r->sm_prev);
}

void xs2s__sm_free_all(xs2s_ctx *ctx) {
  while (ctx->sm_saved) {
    xs2s__sm_saved *v = ctx->sm_saved;
    ctx->sm_saved = v->next;
    saved_free(ctx, v);
  }
}

uint64_t xs2s__sm_unacked_count(const xs2s_ctx *ctx) {
  uint64_t n = 0;
  for (const xs2s__conn *c = ctx->conns; c; c = c->next)
    if (c->sm.init)
      n += c->sm.unacked.count;
  size_t pos = 0;
  const xs2s__remote *r;
  while ((r = xs2s__map_next(&ctx->remotes, &pos, NULL, NULL)) != NULL)
    if (r->sm_prev.init)
      n += r->sm_prev.unacked.count;
  return n;
}
