/*
 * ctx_reload.c: xs2s_ctx_reconfigure(): a new configuration for a running
 * engine, applied without dropping the streams it still allows
 * (docs/ENGINE.md "Reconfiguring a running engine").
 *
 * Everything that can fail is prepared first (the copy, TLS credentials,
 * new listeners, static routes, a fresh random secret); only then does
 * the new configuration take the old one's place, so a refused reload
 * leaves the engine as it was. While policy closes streams, every
 * connection is held, so no stream is freed (and no peer_down callback
 * runs) until the engine's own state is consistent again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "ctx_int.h"

#define FROM_NONE SIZE_MAX

static void say(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *msg, size_t size, const char *fmt, ...) {
  if (!msg || !size)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, size, fmt, ap);
  va_end(ap);
}

static int same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* What only a new engine can take: names the setting in @msg. */
static int needs_restart(const xs2s_config *old, const xs2s_config *cfg,
                         char *msg, size_t size) {
  static const char tail[] = "the set of local domains of a running engine "
                             "cannot change";
  for (size_t i = 0; i < cfg->locals.len; i++) {
    const xs2s__named *n = cfg->locals.items[i];
    if (!xs2s__dtab_get(&old->locals, n->name, n->name_len)) {
      say(msg, size, "local domain %s added: %s", n->name, tail);
      return XS2S_ERR_RESTART_REQUIRED;
    }
  }
  for (size_t i = 0; i < old->locals.len; i++) {
    const xs2s__named *n = old->locals.items[i];
    if (!xs2s__dtab_get(&cfg->locals, n->name, n->name_len)) {
      say(msg, size, "local domain %s removed: %s", n->name, tail);
      return XS2S_ERR_RESTART_REQUIRED;
    }
  }
  if (!same_str(old->unbound_config, cfg->unbound_config) ||
      !same_str(old->resolv_conf, cfg->resolv_conf)) {
    say(msg, size, "the resolver's %s changed: the resolver of a running "
                   "engine keeps its files",
        same_str(old->unbound_config, cfg->unbound_config)
            ? "resolv.conf file"
            : "unbound configuration file");
    return XS2S_ERR_RESTART_REQUIRED;
  }
  return 0;
}

/* Everything prepared before the switch. */
typedef struct plan {
  xs2s_config *cfg;
  xs2s_tls_creds *creds;
  const char **locals;
  xs2s__listener *ls; /* cfg->listener_count */
  size_t *from;       /* per new listener: the old one it keeps, or none */
  char secret[XS2S_DIALBACK_KEY_SIZE];
  int fresh_secret;   /* a new random secret is in @secret */
  int routes_set;     /* the resolver has the new routes */
} plan;

static int same_addr(const xs2s__cfg_listener *a,
                     const xs2s__cfg_listener *b) {
  return a->addr_len == b->addr_len &&
         memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

/* Matches new listeners with old ones by address and binds the others. */
static int plan_listeners(xs2s_ctx *ctx, plan *p, char *msg, size_t size) {
  const xs2s_config *old = ctx->cfg, *cfg = p->cfg;
  size_t n = cfg->listener_count;
  if (!n)
    return 0;
  p->ls = xs2s__calloc(&ctx->mem, n, sizeof(*p->ls));
  p->from = xs2s__calloc(&ctx->mem, n, sizeof(*p->from));
  if (!p->ls || !p->from)
    return XS2S_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    p->ls[i].fd = -1;
    p->from[i] = FROM_NONE;
    for (size_t j = 0; j < ctx->nlisteners; j++) {
      int taken = 0;
      for (size_t k = 0; k < i; k++)
        taken |= p->from[k] == j;
      if (!taken && ctx->listeners[j].fd >= 0 &&
          same_addr(&old->listeners[j], &cfg->listeners[i])) {
        p->from[i] = j;
        break;
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (p->from[i] != FROM_NONE)
      continue;
    int rc = xs2s__listener_open(ctx, &p->ls[i], &cfg->listeners[i],
                                 (int)cfg->limits[XS2S_LIMIT_LISTEN_BACKLOG]);
    if (rc < 0) {
      say(msg, size, "listen on %s: %s", cfg->listeners[i].text,
          rc == XS2S_ERR_SYSTEM ? strerror(errno) : xs2s_strerror(rc));
      return rc;
    }
  }
  return 0;
}

static void plan_free(xs2s_ctx *ctx, plan *p) {
  if (p->ls && p->from)
    for (size_t i = 0; i < p->cfg->listener_count; i++)
      if (p->from[i] == FROM_NONE && p->ls[i].fd >= 0)
        xs2s__listener_close(ctx, &p->ls[i]);
  xs2s__free(&ctx->mem, p->ls);
  xs2s__free(&ctx->mem, p->from);
  xs2s__free(&ctx->mem, p->locals);
  xs2s_tls_creds_unref(p->creds);
  if (p->routes_set) {
    /* Put the running configuration's routes back. */
    xs2s_resolver_clear_routes(ctx->resolver);
    if (xs2s__ctx_add_routes(ctx, ctx->cfg) < 0)
      xs2s__ctx_log(ctx, XS2S_LOG_ERROR,
                    "reconfigure: static routes could not be restored");
  }
  xs2s_config_free(p->cfg);
}

static int prepare(xs2s_ctx *ctx, plan *p, char *msg, size_t size) {
  const xs2s_config *cfg = p->cfg;
  int rc = xs2s__ctx_load_creds(ctx, cfg, &p->creds);
  if (rc < 0) {
    say(msg, size, "TLS credentials: %s (see the log)", xs2s_strerror(rc));
    return rc;
  }
  p->locals = xs2s__calloc(&ctx->mem, cfg->locals.len, sizeof(char *));
  if (!p->locals)
    return XS2S_ERR_NOMEM;
  for (size_t i = 0; i < cfg->locals.len; i++)
    p->locals[i] = cfg->locals.items[i]->name;
  if (!cfg->dialback_secret && ctx->cfg->dialback_secret) {
    if (xs2s_dialback_secret_generate(p->secret) < 0)
      return XS2S_ERR_INTERNAL;
    p->fresh_secret = 1;
  }
  if ((rc = plan_listeners(ctx, p, msg, size)) < 0)
    return rc;
  xs2s_resolver_clear_routes(ctx->resolver);
  p->routes_set = 1;
  if ((rc = xs2s__ctx_add_routes(ctx, cfg)) < 0)
    say(msg, size, "static routes: %s", xs2s_strerror(rc));
  return rc;
}

/* -- The switch ----------------------------------------------------------- */

typedef struct tally {
  size_t opened, closed, kept, forbidden, streams;
  int secret;
} tally;

static void switch_listeners(xs2s_ctx *ctx, const xs2s_config *old,
                             plan *p, tally *t) {
  const xs2s_config *cfg = ctx->cfg;
  for (size_t i = 0; i < cfg->listener_count; i++) {
    size_t j = p->from[i];
    if (j == FROM_NONE) {
      t->opened++;
      continue;
    }
    t->kept++;
    unsigned was = ctx->listeners[j].flags, now = cfg->listeners[i].flags;
    if ((was ^ now) & XS2S_LISTEN_REUSEPORT)
      xs2s__ctx_log(ctx, XS2S_LOG_WARNING,
                    "listener %s keeps its socket: SO_REUSEPORT changes "
                    "with a new engine only",
                    cfg->listeners[i].text);
    if (xs2s__listener_move(ctx, &ctx->listeners[j], &p->ls[i], now) < 0) {
      xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "listener %s lost: the loop "
                    "refused its fd", cfg->listeners[i].text);
      xs2s__listener_close(ctx, &p->ls[i]);
    }
  }
  for (size_t j = 0; j < ctx->nlisteners; j++) {
    if (ctx->listeners[j].fd < 0)
      continue; /* moved */
    xs2s__ctx_log(ctx, XS2S_LOG_INFO, "no longer listening on %s",
                  old->listeners[j].text);
    xs2s__listener_close(ctx, &ctx->listeners[j]);
    t->closed++;
  }
  xs2s__free(&ctx->mem, ctx->listeners);
  ctx->listeners = p->ls;
  ctx->nlisteners = cfg->listener_count;
  p->ls = NULL;
}

static void switch_secret(xs2s_ctx *ctx, const xs2s_config *old,
                          const plan *p, tally *t) {
  const xs2s_config *cfg = ctx->cfg;
  if (cfg->dialback_secret) {
    t->secret = !same_str(old->dialback_secret, cfg->dialback_secret);
    ctx->secret = cfg->dialback_secret;
  } else if (p->fresh_secret) {
    memcpy(ctx->secret_buf, p->secret, sizeof(ctx->secret_buf));
    ctx->secret = ctx->secret_buf;
    t->secret = 1;
  }
  if (!t->secret)
    return;
  /* Every stream answers db:verify with the new secret from now on, so
   * that new keys verify whichever stream the question comes on. */
  xs2s__ctx_log(ctx, XS2S_LOG_WARNING,
                "dialback secret changed: keys made before now no longer "
                "verify");
  for (xs2s__conn *c = ctx->conns; c; c = c->next)
    if (c->session &&
        xs2s_session_set_dialback_secret(c->session, ctx->secret) < 0)
      xs2s__ctx_log(ctx, XS2S_LOG_ERROR,
                    "conn %llu keeps the previous dialback secret: %s",
                    (unsigned long long)c->id,
                    xs2s_strerror(XS2S_ERR_NOMEM));
}

/* The certificate of @c's peer proves @remote (for a new requirement). */
static int cert_proved(xs2s__conn *c, const xs2s__pair *p) {
  if (p->how == XS2S_AUTH_SASL_EXTERNAL || p->how == XS2S_AUTH_CERTIFICATE)
    return 1;
  xs2s_tls *tls = xs2s_session_tls(c->session);
  xs2s_tls_verify_result res;
  return tls && xs2s_tls_verify_peer(tls, p->remote, NULL, 0,
                                     xs2s__loop_wall_ms(), &res) == 0;
}

/* Why the new policy no longer accepts the stream @c, or NULL. */
static const char *refusal(xs2s__conn *c) {
  if (c->state != XS2S__CONN_OPEN || !c->session)
    return NULL;
  xs2s_session_state st = xs2s_session_get_state(c->session);
  if (st == XS2S_SESSION_CLOSING || st == XS2S_SESSION_CLOSED)
    return NULL;
  for (size_t i = 0; i < c->npairs; i++) {
    xs2s__remote_policy pol;
    if (xs2s__policy_lookup(c->ctx->cfg, c->pairs[i].remote, &pol) < 0 ||
        !pol.allowed)
      return "the domain is no longer allowed (privacy policy changed)";
    if (pol.tls_mode == XS2S_TLS_REQUIRED &&
        !xs2s_session_is_secure(c->session))
      return "TLS is now required for the domain";
    if (pol.require_valid_cert && !cert_proved(c, &c->pairs[i]))
      return "a valid certificate is now required for the domain";
  }
  return NULL;
}

static void apply_policy(xs2s_ctx *ctx, tally *t) {
  /* Hold every stream: closing one frees nothing until all is done. */
  xs2s__conn *first = ctx->conns;
  for (xs2s__conn *c = first; c; c = c->next)
    xs2s__conn_enter(c);
  size_t pos = 0;
  xs2s__remote *r;
  while ((r = xs2s__map_next(&ctx->remotes, &pos, NULL, NULL)) != NULL)
    t->forbidden += (size_t)xs2s__remote_reconfigure(r, &t->streams);
  for (xs2s__conn *c = first; c; c = c->next) {
    const char *why = refusal(c);
    if (!why)
      continue;
    xs2s__ctx_log(ctx, XS2S_LOG_INFO, "conn %llu %s %s: closing: %s",
                  (unsigned long long)c->id, xs2s_direction_name(c->dir),
                  c->npairs ? c->pairs[0].remote : "?", why);
    xs2s__conn_close(c, XS2S_STREAM_ERR_POLICY_VIOLATION, why);
    t->streams++;
  }
  /* Conns made by callbacks from here on are linked before @first. */
  for (xs2s__conn *c = first, *next; c; c = next) {
    next = c->next;
    xs2s__conn_leave(c);
  }
}

static void summary(const tally *t, char *msg, size_t size) {
  say(msg, size,
      "applied in place: %zu listener%s kept, %zu opened, %zu closed; %zu "
      "stream%s closed and %zu domain%s dropped by the new policy%s",
      t->kept, t->kept == 1 ? "" : "s", t->opened, t->closed, t->streams,
      t->streams == 1 ? "" : "s", t->forbidden,
      t->forbidden == 1 ? "" : "s",
      t->secret ? "; dialback secret changed" : "");
}

int xs2s_ctx_reconfigure(xs2s_ctx *ctx, const xs2s_config *cfg, char *msg,
                         size_t msg_size) {
  say(msg, msg_size, "%s", "");
  if (!ctx || !cfg)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (ctx->shutting_down || ctx->freeing) {
    say(msg, msg_size, "the engine is shutting down");
    return XS2S_ERR_BAD_STATE;
  }
  if (xs2s_config_check(cfg, msg, msg_size) < 0)
    return XS2S_ERR_CONFIG;
  int rc = needs_restart(ctx->cfg, cfg, msg, msg_size);
  if (rc < 0)
    return rc;
  xs2s__loop_now(&ctx->loop);
  plan p;
  memset(&p, 0, sizeof(p));
  p.cfg = xs2s_config_copy(cfg);
  rc = p.cfg ? prepare(ctx, &p, msg, msg_size) : XS2S_ERR_NOMEM;
  if (rc < 0) {
    if (msg && msg_size && !msg[0])
      say(msg, msg_size, "%s", xs2s_strerror(rc));
    xs2s__ctx_log(ctx, XS2S_LOG_ERROR, "reconfigure refused: %s",
                  msg && msg_size ? msg : xs2s_strerror(rc));
    plan_free(ctx, &p);
    return rc;
  }
  /* From here on nothing fails. */
  xs2s_config *old = ctx->cfg;
  ctx->cfg = p.cfg;
  tally t;
  memset(&t, 0, sizeof(t));
  switch_listeners(ctx, old, &p, &t);
  xs2s__free(&ctx->mem, p.from);
  xs2s__free(&ctx->mem, ctx->locals);
  ctx->locals = p.locals;
  ctx->nlocals = ctx->cfg->locals.len;
  xs2s_tls_creds_unref(ctx->creds);
  ctx->creds = p.creds;
  ctx->counts.max_total = (size_t)ctx->cfg->limits[XS2S_LIMIT_CONNECTIONS];
  ctx->counts.max_per_addr =
      (size_t)ctx->cfg->limits[XS2S_LIMIT_CONNECTIONS_PER_ADDRESS];
  xs2s__accept_guard_configure(ctx);
  switch_secret(ctx, old, &p, &t);
  apply_policy(ctx, &t); /* reads the old routes: old is freed after */
  xs2s_config_free(old);
  char line[256];
  summary(&t, line, sizeof(line));
  xs2s__ctx_log(ctx, XS2S_LOG_INFO, "reconfigured: %s", line);
  say(msg, msg_size, "%s", line);
  return 0;
}
