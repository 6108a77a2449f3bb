/*
 * router.c: the gateway's routing table and decisions.
 */
#include "router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "stanzas.h"

typedef struct entry {
  char *domain;
  gw_component *c;
} entry;

struct gw_router {
  gw_router_ops ops;
  void *ud;
  const xs2s_config *cfg;
  entry *v;
  size_t len, cap;
  gw_router_counters n;
};

static void logf_(gw_router *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(gw_router *r, int level, const char *fmt, ...) {
  if (!r->ops.log)
    return;
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  r->ops.log(level, line, r->ud);
}

gw_router *gw_router_new(const gw_router_ops *ops, void *user_data) {
  gw_router *r = calloc(1, sizeof(*r));
  if (r) {
    r->ops = *ops;
    r->ud = user_data;
  }
  return r;
}

void gw_router_free(gw_router *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->len; i++)
    free(r->v[i].domain);
  free(r->v);
  free(r);
}

void gw_router_set_config(gw_router *r, const xs2s_config *cfg) {
  r->cfg = cfg;
}

gw_component *gw_router_lookup(const gw_router *r, const char *domain) {
  char d[1024];
  if (gw_jid_domain(domain, d, sizeof(d)) < 0)
    return NULL;
  for (size_t i = 0; i < r->len; i++)
    if (strcmp(r->v[i].domain, d) == 0)
      return r->v[i].c;
  return NULL;
}

gw_component *gw_router_at(const gw_router *r, size_t i,
                           const char **domain) {
  if (i >= r->len)
    return NULL;
  if (domain)
    *domain = r->v[i].domain;
  return r->v[i].c;
}

xs2s_stream_condition gw_router_attach(gw_router *r, const char *domain,
                                       gw_component *c) {
  if (gw_router_lookup(r, domain))
    return XS2S_STREAM_ERR_CONFLICT;
  if (r->len == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 8;
    entry *v = realloc(r->v, cap * sizeof(*v));
    if (!v)
      return XS2S_STREAM_ERR_RESOURCE_CONSTRAINT;
    r->v = v;
    r->cap = cap;
  }
  char *d = strdup(domain);
  if (!d)
    return XS2S_STREAM_ERR_RESOURCE_CONSTRAINT;
  r->v[r->len++] = (entry){d, c};
  return XS2S_STREAM_ERR_NONE;
}

void gw_router_detach(gw_router *r, gw_component *c) {
  for (size_t i = 0; i < r->len; i++) {
    if (r->v[i].c != c)
      continue;
    free(r->v[i].domain);
    r->v[i] = r->v[--r->len];
    return;
  }
}

/* Answers @s with an error on component @c (when an answer is due). */
static void reply(gw_router *r, gw_component *c, const xs2s_stanza *s,
                  xs2s_stanza_condition cond, const char *text) {
  xs2s_stanza *e = NULL;
  if (xs2s_stanza_error_reply(s, cond, text, &e) != 0)
    return;
  r->n.errors++;
  int rc = gw_component_send(c, e);
  if (rc < 0)
    logf_(r, GW_LOG_WARNING, "error reply %s to %s not sent: %s",
          xs2s_stanza_condition_name(cond), xs2s_stanza_attr(e, "to"),
          xs2s_strerror(rc));
  xs2s_stanza_free(e);
}

/* The condition that tells a component why federation refused a stanza. */
static xs2s_stanza_condition refused(int rc) {
  switch (rc) {
  case XS2S_ERR_POLICY:
    return XS2S_STANZA_ERR_POLICY_VIOLATION;
  case XS2S_ERR_LIMIT:
  case XS2S_ERR_NOMEM:
    return XS2S_STANZA_ERR_RESOURCE_CONSTRAINT;
  case XS2S_ERR_INVALID_ARGUMENT:
    return XS2S_STANZA_ERR_JID_MALFORMED;
  case XS2S_ERR_BAD_STATE:
    return XS2S_STANZA_ERR_SERVICE_UNAVAILABLE;
  default:
    return XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR;
  }
}

void gw_router_from_component(gw_router *r, gw_component *from,
                              const xs2s_stanza *s) {
  const char *to = xs2s_stanza_attr(s, "to");
  char d[1024];
  if (gw_jid_domain(to, d, sizeof(d)) < 0) {
    reply(r, from, s, XS2S_STANZA_ERR_JID_MALFORMED, NULL);
    return;
  }
  if (r->cfg && xs2s_config_is_local(r->cfg, d)) {
    gw_component *dest = gw_router_lookup(r, d);
    int rc = dest ? gw_component_send(dest, s) : XS2S_ERR_NOT_FOUND;
    if (rc == 0) {
      r->n.local++;
      logf_(r, GW_LOG_DEBUG, "%s -> %s (local)", xs2s_stanza_attr(s, "from"),
            to);
    } else {
      reply(r, from, s,
            rc == XS2S_ERR_LIMIT ? XS2S_STANZA_ERR_RESOURCE_CONSTRAINT
                                 : XS2S_STANZA_ERR_SERVICE_UNAVAILABLE,
            dest ? NULL : "no component is connected for this domain");
    }
    return;
  }
  xs2s_stanza *fed = xs2s_stanza_copy_ns(s, XS2S_NS_SERVER);
  int rc = fed ? r->ops.federate(fed, r->ud) : XS2S_ERR_NOMEM;
  xs2s_stanza_free(fed);
  if (rc == 0) {
    r->n.to_federation++;
    logf_(r, GW_LOG_DEBUG, "%s -> %s (federation)",
          xs2s_stanza_attr(s, "from"), to);
    return;
  }
  logf_(r, GW_LOG_INFO, "%s -> %s refused: %s", xs2s_stanza_attr(s, "from"),
        to, xs2s_strerror(rc));
  reply(r, from, s, refused(rc), xs2s_strerror(rc));
}

xs2s_stanza_condition gw_router_from_federation(gw_router *r,
                                                const xs2s_stanza *s) {
  const char *to = xs2s_stanza_attr(s, "to");
  gw_component *dest = gw_router_lookup(r, to);
  int rc = dest ? gw_component_send(dest, s) : XS2S_ERR_NOT_FOUND;
  if (rc == 0) {
    r->n.from_federation++;
    logf_(r, GW_LOG_DEBUG, "%s -> %s (from federation)",
          xs2s_stanza_attr(s, "from"), to);
    return XS2S_STANZA_ERR_NONE;
  }
  r->n.errors++;
  logf_(r, GW_LOG_INFO, "%s -> %s: %s", xs2s_stanza_attr(s, "from"), to,
        dest ? xs2s_strerror(rc) : "no component connected");
  return rc == XS2S_ERR_LIMIT ? XS2S_STANZA_ERR_RESOURCE_CONSTRAINT
                              : XS2S_STANZA_ERR_SERVICE_UNAVAILABLE;
}

void gw_router_bounce(gw_router *r, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text) {
  const char *from = xs2s_stanza_attr(s, "from");
  gw_component *c = gw_router_lookup(r, from);
  logf_(r, GW_LOG_INFO, "%s -> %s bounced: %s (%s)", from,
        xs2s_stanza_attr(s, "to"), xs2s_stanza_condition_name(cond),
        text ? text : "");
  if (c)
    reply(r, c, s, cond, text);
}

const gw_router_counters *gw_router_counters_of(const gw_router *r) {
  return &r->n;
}
