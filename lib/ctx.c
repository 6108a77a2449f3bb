/*
 * ctx.c: the federation engine's public API: creation and teardown, the
 * two loop modes, sending, deferred callbacks, logging, introspection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "stanza_internal.h"
#include "bounce.h"
#include "ctx_int.h"
#include "domain.h"

#define NS_SERVER "jabber:server"
#define NS_CLIENT "jabber:client"

/* -- Logging and notifications -------------------------------------------- */

const char *xs2s_log_level_name(xs2s_log_level level) {
  static const char *const names[] = {"error", "warning", "info", "debug"};
  return (unsigned)level < 4 ? names[level] : NULL;
}

void xs2s__ctx_log(xs2s_ctx *ctx, int level, const char *fmt, ...) {
  if (!ctx->cb.log)
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  ctx->cb.log(ctx, (xs2s_log_level)level, line, ctx->ud);
}

void xs2s__ctx_peer(xs2s_ctx *ctx, xs2s__conn *c, const xs2s__pair *p,
                    int up) {
  void (*fn)(xs2s_ctx *, const xs2s_peer_event *, void *) =
      up ? ctx->cb.peer_up : ctx->cb.peer_down;
  if (!fn)
    return;
  xs2s_peer_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.local_domain = p->local;
  ev.remote_domain = p->remote;
  ev.direction = c->dir;
  ev.peer_address = c->peer_text;
  ev.tls = c->session ? xs2s_session_is_secure(c->session) : 0;
  ev.auth = p->how;
  ev.conn_id = c->id;
  ev.error = up ? 0 : c->close.error;
  fn(ctx, &ev, ctx->ud);
}

/* -- Deferred callbacks --------------------------------------------------- */

/* The tag of the error replies the engine writes itself: they travel like
 * any stanza, but one that cannot be delivered is logged rather than handed
 * to the application, which never sent it. */
static char engine_reply_tag;

void xs2s__ctx_bounce_now(xs2s_ctx *ctx, const xs2s_stanza *s, void *tag,
                          xs2s_stanza_condition cond, const char *text) {
  ctx->counters.stanzas_bounced++;
  if (tag == &engine_reply_tag) {
    xs2s__ctx_log(ctx, XS2S_LOG_INFO, "error reply to %s not delivered: %s",
                  xs2s_stanza_attr(s, "to"), xs2s_stanza_condition_name(cond));
    return;
  }
  if (ctx->cb.bounce)
    ctx->cb.bounce(ctx, s, cond, text, tag, ctx->ud);
}

static void run_one(xs2s_ctx *ctx, xs2s__deferred *d) {
  if (d->local) {
    ctx->counters.stanzas_in++;
    if (ctx->cb.stanza) {
      const char *from = xs2s_stanza_attr(d->stanza, "from");
      const char *at = from ? strchr(from, '@') : NULL;
      char dom[XS2S__DOMAIN_MAX + 1] = "";
      const char *dp = at ? at + 1 : from;
      if (dp && xs2s__domain_normalize(dp, strcspn(dp, "/"), dom) < 0)
        dom[0] = '\0';
      ctx->cb.stanza(ctx, d->stanza, dom, ctx->ud);
    }
  } else {
    xs2s__ctx_bounce_now(ctx, d->stanza, d->tag, d->cond, d->text);
  }
  xs2s_stanza_free(d->stanza);
  xs2s__free(&ctx->mem, d);
}

static void run_deferred(xs2s_ctx *ctx) {
  /* Take the whole list: callbacks may defer more, for the next round. */
  xs2s__deferred *d = ctx->deferred;
  ctx->deferred = NULL;
  ctx->deferred_tail = &ctx->deferred;
  while (d) {
    xs2s__deferred *next = d->next;
    run_one(ctx, d);
    d = next;
  }
}

static void deferred_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  (void)now;
  run_deferred(arg);
}

void xs2s__ctx_defer(xs2s_ctx *ctx, xs2s_stanza *s, void *tag, int local,
                     xs2s_stanza_condition cond, const char *text) {
  xs2s__deferred *d = xs2s__calloc(&ctx->mem, 1, sizeof(*d));
  if (!d) {
    /* Never lose it: call back now rather than not at all. */
    if (local)
      ctx->counters.stanzas_in++;
    else
      xs2s__ctx_bounce_now(ctx, s, tag, cond, text);
    xs2s_stanza_free(s);
    return;
  }
  d->stanza = s;
  d->tag = tag;
  d->local = local;
  d->cond = cond;
  snprintf(d->text, sizeof(d->text), "%s", text ? text : "");
  if (ctx->freeing) {
    run_one(ctx, d);
    return;
  }
  *ctx->deferred_tail = d;
  ctx->deferred_tail = &d->next;
  if (!xs2s__timer_armed(&ctx->deferred_timer))
    xs2s__loop_timer_set(&ctx->loop, &ctx->deferred_timer, 0);
}

/* -- Resolver ------------------------------------------------------------- */

static uint64_t resolver_clock(void *ud) {
  xs2s_ctx *ctx = ud;
  return xs2s__loop_now(&ctx->loop);
}

static void resolver_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  (void)now;
  xs2s_ctx *ctx = arg;
  xs2s_resolver_process(ctx->resolver);
  xs2s__ctx_resolver_kick(ctx);
}

static void on_resolver_fd(xs2s__loop *l, int fd, unsigned events,
                           void *arg) {
  (void)l;
  (void)fd;
  (void)events;
  xs2s_ctx *ctx = arg;
  xs2s_resolver_process(ctx->resolver);
  xs2s__ctx_resolver_kick(ctx);
}

void xs2s__ctx_resolver_kick(xs2s_ctx *ctx) {
  int ms = xs2s_resolver_timeout(ctx->resolver);
  if (ms < 0)
    xs2s__loop_timer_cancel(&ctx->loop, &ctx->resolver_timer);
  else
    xs2s__loop_timer_set(&ctx->loop, &ctx->resolver_timer, (uint64_t)ms);
  /* Watch libunbound's pipe only while something is pending, so that the
   * built-in loop can tell when nothing is left to wait for. */
  xs2s__loop_set_events(&ctx->loop, xs2s_resolver_fd(ctx->resolver),
                        xs2s_resolver_pending(ctx->resolver) ? XS2S_EV_READ
                                                             : 0);
}

int xs2s__ctx_add_routes(xs2s_ctx *ctx, const xs2s_config *cfg) {
  for (size_t i = 0; i < cfg->routes.len; i++) {
    const xs2s__cfg_route *rt = (const xs2s__cfg_route *)cfg->routes.items[i];
    for (size_t j = 0; j < rt->count; j++) {
      int rc = xs2s_resolver_add_route(
          ctx->resolver, rt->n.name, rt->targets[j].host, rt->targets[j].port,
          (rt->targets[j].flags & XS2S_ROUTE_DIRECT_TLS)
              ? XS2S_RESOLVE_TLS_DIRECT
              : XS2S_RESOLVE_TLS_STARTTLS);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

static int open_resolver(xs2s_ctx *ctx) {
  const xs2s_config *cfg = ctx->cfg;
  xs2s_resolver_options o;
  memset(&o, 0, sizeof(o));
  o.unbound_conf = cfg->unbound_config;
  o.resolv_conf = cfg->resolv_conf;
  o.clock = resolver_clock;
  o.clock_user_data = ctx;
  o.mem = &ctx->mem;
  int rc = xs2s_resolver_new(&ctx->resolver, &o);
  if (rc < 0 || (rc = xs2s__ctx_add_routes(ctx, cfg)) < 0)
    return rc;
  xs2s__timer_init(&ctx->resolver_timer, resolver_timer_fn, ctx);
  return xs2s__loop_add(&ctx->loop, xs2s_resolver_fd(ctx->resolver), 0,
                        on_resolver_fd, ctx);
}

/* -- Creation ------------------------------------------------------------- */

int xs2s__ctx_load_creds(xs2s_ctx *ctx, const xs2s_config *cfg,
                         xs2s_tls_creds **out) {
  xs2s_tls_creds *creds = xs2s_tls_creds_new(&ctx->mem);
  if (!creds)
    return XS2S_ERR_NOMEM;
  int rc = 0;
  for (size_t i = 0; i < cfg->locals.len && rc == 0; i++) {
    const xs2s__cfg_local *l = (const xs2s__cfg_local *)cfg->locals.items[i];
    if (l->cert_file)
      rc = xs2s_tls_creds_add_cert_file(creds, l->n.name, l->cert_file,
                                        l->key_file ? l->key_file
                                                    : l->cert_file);
  }
  if (rc == 0 && cfg->ca_file)
    rc = xs2s_tls_creds_add_trust_file(creds, cfg->ca_file);
  if (rc == 0 && cfg->system_trust &&
      xs2s_tls_creds_add_system_trust(creds) < 0)
    xs2s__ctx_log(ctx, XS2S_LOG_WARNING, "the system CA store is empty");
  if (rc == 0 && cfg->crl_file)
    rc = xs2s_tls_creds_add_crl_file(creds, cfg->crl_file);
  if (rc == 0 && cfg->tls_priority)
    rc = xs2s_tls_creds_set_priority(creds, cfg->tls_priority);
  if (rc < 0) {
    xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "TLS credentials: %s",
                  xs2s_strerror(rc));
    xs2s_tls_creds_unref(creds);
    return rc;
  }
  *out = creds;
  return 0;
}

static int setup(xs2s_ctx *ctx, const xs2s_loop_callbacks *loop) {
  char msg[256];
  if (xs2s_config_check(ctx->cfg, msg, sizeof(msg)) < 0) {
    xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "configuration: %s", msg);
    return XS2S_ERR_CONFIG;
  }
  const xs2s_config *cfg = ctx->cfg;
  ctx->nlocals = cfg->locals.len;
  ctx->locals = xs2s__calloc(&ctx->mem, ctx->nlocals, sizeof(char *));
  if (!ctx->locals)
    return XS2S_ERR_NOMEM;
  for (size_t i = 0; i < ctx->nlocals; i++)
    ctx->locals[i] = cfg->locals.items[i]->name;
  if (cfg->dialback_secret) {
    ctx->secret = cfg->dialback_secret;
  } else {
    if (xs2s_dialback_secret_generate(ctx->secret_buf) < 0)
      return XS2S_ERR_INTERNAL;
    ctx->secret = ctx->secret_buf;
    xs2s__ctx_log(ctx, XS2S_LOG_INFO,
                  "no dialback secret configured: using a random one (keys "
                  "will not verify across instances or restarts)");
  }
  int rc = loop ? xs2s__loop_init_external(&ctx->loop, &ctx->mem, loop,
                                           ctx->ud)
                : xs2s__loop_init(&ctx->loop, &ctx->mem, &xs2s__loop_epoll);
  if (rc < 0)
    return rc;
  xs2s__timer_init(&ctx->deferred_timer, deferred_timer_fn, ctx);
  xs2s__map_init(&ctx->remotes, &ctx->mem);
  xs2s__map_init(&ctx->stream_ids, &ctx->mem);
  xs2s__conn_count_init(&ctx->counts, &ctx->mem,
                        (size_t)cfg->limits[XS2S_LIMIT_CONNECTIONS],
                        (size_t)cfg->limits[XS2S_LIMIT_CONNECTIONS_PER_ADDRESS]);
  if ((rc = xs2s__ctx_load_creds(ctx, cfg, &ctx->creds)) < 0)
    return rc;
  if ((rc = open_resolver(ctx)) < 0) {
    xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "resolver: %s", xs2s_strerror(rc));
    return rc;
  }
  return xs2s__listeners_open(ctx);
}

int xs2s_ctx_new(xs2s_ctx **out, const xs2s_config *cfg,
                 const xs2s_ctx_callbacks *cb, const xs2s_loop_callbacks *loop,
                 void *user_data) {
  if (!out || !cfg)
    return XS2S_ERR_INVALID_ARGUMENT;
  *out = NULL;
  xs2s_mem mem;
  xs2s_config_get_mem(cfg, &mem);
  xs2s_ctx *ctx = xs2s__calloc(&mem, 1, sizeof(*ctx));
  if (!ctx)
    return XS2S_ERR_NOMEM;
  ctx->mem = mem;
  ctx->ud = user_data;
  if (cb)
    ctx->cb = *cb;
  ctx->deferred_tail = &ctx->deferred;
  ctx->cfg = xs2s_config_copy(cfg);
  int rc = ctx->cfg ? setup(ctx, loop) : XS2S_ERR_NOMEM;
  if (rc < 0) {
    xs2s_ctx_free(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}

void xs2s_ctx_free(xs2s_ctx *ctx) {
  if (!ctx)
    return;
  ctx->freeing = 1;
  if (ctx->cfg && ctx->deferred_tail) {
    run_deferred(ctx);
    /* Outgoing streams first, so no conn points at a freed remote. */
    xs2s__conn_free_all(ctx);
    if (ctx->remotes.mem)
      xs2s__remote_free_all(ctx);
    xs2s__sm_free_all(ctx);
    run_deferred(ctx);
    xs2s__listeners_close(ctx);
    if (ctx->resolver) {
      xs2s__loop_remove(&ctx->loop, xs2s_resolver_fd(ctx->resolver));
      xs2s_resolver_free(ctx->resolver);
    }
    xs2s__map_free(&ctx->stream_ids);
    xs2s__conn_count_free(&ctx->counts);
    if (ctx->loop.mem)
      xs2s__loop_free(&ctx->loop);
  }
  xs2s_tls_creds_unref(ctx->creds);
  xs2s__free(&ctx->mem, ctx->listeners);
  xs2s__free(&ctx->mem, ctx->locals);
  xs2s_config_free(ctx->cfg);
  xs2s_mem mem = ctx->mem;
  xs2s__free(&mem, ctx);
}

int xs2s_ctx_shutdown(xs2s_ctx *ctx) {
  if (ctx->shutting_down)
    return 0;
  ctx->shutting_down = 1;
  xs2s__listeners_close(ctx);
  xs2s__remote_bounce_all(ctx, "shutting down");
  for (xs2s__conn *c = ctx->conns, *next; c; c = next) {
    next = c->next;
    xs2s__conn_close(c, XS2S_STREAM_ERR_NONE, NULL);
  }
  return 0;
}

/* -- Loops ---------------------------------------------------------------- */

int xs2s_ctx_run(xs2s_ctx *ctx) { return xs2s__loop_run(&ctx->loop); }

void xs2s_ctx_stop(xs2s_ctx *ctx) { xs2s__loop_stop(&ctx->loop); }

int xs2s_ctx_on_fd(xs2s_ctx *ctx, int fd, unsigned events) {
  return xs2s__loop_on_fd(&ctx->loop, fd, events);
}

int xs2s_ctx_on_timer(xs2s_ctx *ctx) { return xs2s__loop_on_timer(&ctx->loop); }

/* -- Sending -------------------------------------------------------------- */

/* The normal form of the domain of a JID; length or negative. */
static int jid_domain(const char *jid, char out[XS2S__DOMAIN_MAX + 1]) {
  if (!jid)
    return XS2S_ERR_INVALID_ARGUMENT;
  const char *slash = strchr(jid, '/');
  size_t end = slash ? (size_t)(slash - jid) : strlen(jid);
  const char *at = memchr(jid, '@', end);
  const char *d = at ? at + 1 : jid;
  return xs2s__domain_normalize(d, end - (size_t)(d - jid), out);
}

static int is_stanza_name(const char *n) {
  return n && (!strcmp(n, "message") || !strcmp(n, "presence") ||
               !strcmp(n, "iq"));
}

/* Accepts @s for delivery. @owned: @s may be kept (it was made here). */
static int submit(xs2s_ctx *ctx, const xs2s_stanza *s, void *tag) {
  if (ctx->shutting_down || ctx->freeing)
    return XS2S_ERR_BAD_STATE;
  if (!s || xs2s_stanza_type(s) != XS2S_NODE_ELEMENT ||
      !is_stanza_name(xs2s_stanza_name(s)))
    return XS2S_ERR_INVALID_ARGUMENT;
  char from[XS2S__DOMAIN_MAX + 1], to[XS2S__DOMAIN_MAX + 1];
  if (jid_domain(xs2s_stanza_attr(s, "from"), from) < 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  const char *local = xs2s__ctx_local_name(ctx, from);
  int tl = jid_domain(xs2s_stanza_attr(s, "to"), to);
  if (!local || tl < 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_stanza *copy = NULL;
  const char *ns = xs2s_stanza_ns(s);
  if (strcmp(ns, NS_SERVER) != 0) {
    copy = xs2s__stanza_copy_ns_mem(&ctx->mem, s, NS_SERVER);
    if (!copy)
      return XS2S_ERR_NOMEM;
    s = copy;
  }
  int rc;
  if (xs2s__ctx_local_name(ctx, to)) {
    xs2s_stanza *mine = copy ? copy : xs2s_stanza_copy(s);
    if (!mine)
      return XS2S_ERR_NOMEM;
    ctx->counters.stanzas_accepted++;
    xs2s__ctx_defer(ctx, mine, tag, 1, XS2S_STANZA_ERR_NONE, NULL);
    return 0;
  }
  xs2s__remote_policy pol;
  xs2s__policy_lookup_norm(ctx->cfg, to, (size_t)tl, &pol);
  if (!pol.allowed) {
    rc = XS2S_ERR_POLICY;
  } else {
    xs2s__remote *r = xs2s__remote_get(ctx, to, (size_t)tl, 1);
    rc = r ? xs2s__remote_submit(r, s, local, tag) : XS2S_ERR_NOMEM;
  }
  xs2s_stanza_free(copy);
  return rc;
}

int xs2s_ctx_send(xs2s_ctx *ctx, const xs2s_stanza *stanza, void *tag) {
  if (!ctx)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s__loop_now(&ctx->loop);
  int rc = submit(ctx, stanza, tag);
  return rc;
}

int xs2s_ctx_send_raw(xs2s_ctx *ctx, const char *from, const char *to,
                      const char *xml, size_t len, void *tag) {
  if (!ctx || !from || !to || !xml)
    return XS2S_ERR_INVALID_ARGUMENT;
  int err = 0;
  xs2s_stanza *s = xs2s_stanza_parse_mem(&ctx->mem, xml, len, &err);
  if (!s)
    return err == XS2S_ERR_NOMEM ? err : XS2S_ERR_INVALID_ARGUMENT;
  int rc = xs2s_stanza_set_attr(s, "from", from);
  if (rc == 0)
    rc = xs2s_stanza_set_attr(s, "to", to);
  if (rc == 0)
    rc = submit(ctx, s, tag);
  xs2s_stanza_free(s);
  return rc;
}

void xs2s__ctx_send_reply(xs2s_ctx *ctx, xs2s_stanza *reply) {
  /* Queued like any stanza when its stream is not up yet, so a reply that
   * races the stream's authentication still goes out. */
  int rc = submit(ctx, reply, &engine_reply_tag);
  if (rc < 0)
    xs2s__ctx_log(ctx, XS2S_LOG_INFO, "error reply to %s dropped: %s",
                  xs2s_stanza_attr(reply, "to"), xs2s_strerror(rc));
  xs2s_stanza_free(reply);
}

/* -- Introspection -------------------------------------------------------- */

size_t xs2s_ctx_foreach_conn(xs2s_ctx *ctx,
                             int (*fn)(const xs2s_conn_info *info, void *arg),
                             void *arg) {
  uint64_t now = xs2s__loop_now(&ctx->loop);
  size_t n = 0;
  for (xs2s__conn *c = ctx->conns; c; c = c->next) {
    xs2s_conn_info in;
    memset(&in, 0, sizeof(in));
    in.id = c->id;
    in.direction = c->dir;
    if (c->npairs) {
      in.local_domain = c->pairs[0].local;
      in.remote_domain = c->pairs[0].remote;
      in.auth = c->pairs[0].how;
      in.extra_pairs = (unsigned)(c->npairs - 1);
    } else if (c->remote) {
      in.remote_domain = c->remote->name;
    } else if (c->session) {
      in.remote_domain = xs2s_session_remote_domain(c->session);
    }
    memcpy(in.peer_address, c->peer_text, sizeof(in.peer_address));
    if (c->session && xs2s_session_is_secure(c->session)) {
      in.tls = 1;
      in.direct_tls = c->direct_tls;
      xs2s_tls_info ti;
      if (xs2s_tls_get_info(xs2s_session_tls(c->session), &ti) == 0) {
        in.tls_version = ti.version;
        in.tls_cipher = ti.cipher;
      }
    }
    in.bytes_in = c->bytes_in;
    in.bytes_out = c->bytes_out;
    in.stanzas_in = c->stanzas_in;
    in.stanzas_out = c->stanzas_out;
    in.idle_ms = now - c->last_stanza_ms;
    in.age_ms = now - c->opened_ms;
    in.sm = c->sm.on;
    in.stanzas_acked = c->sm.acked_total;
    in.stanzas_unacked = c->sm.init ? c->sm.unacked.count : 0;
    n++;
    if (fn(&in, arg))
      break;
  }
  return n;
}

void xs2s_ctx_counters(const xs2s_ctx *ctx, xs2s_counters *out) {
  *out = ctx->counters;
  uint64_t q = 0;
  size_t pos = 0;
  const xs2s__remote *r;
  while ((r = xs2s__map_next(&ctx->remotes, &pos, NULL, NULL)) != NULL)
    q += r->queue.bytes;
  out->queued_bytes = q;
  out->unacked_stanzas = xs2s__sm_unacked_count(ctx);
}

uint16_t xs2s_ctx_listen_port(const xs2s_ctx *ctx, size_t i) {
  if (i >= ctx->nlisteners || ctx->listeners[i].fd < 0)
    return 0;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(ctx->listeners[i].fd, (struct sockaddr *)&ss, &len) < 0)
    return 0;
  return xs2s__net_addr_port((struct sockaddr *)&ss);
}
