/*
 * resolve.c: the resolver: its libunbound context, static routes, the
 * event-loop API, and the delivery of results.
 *
 * Queries in flight sit on the active list (their lookups and stages are
 * in resolve_query.c). Once libunbound's callbacks have finished one, it
 * moves to the done list, and its callback runs after ub_process() has
 * returned, so user code never runs inside libunbound's own callback.
 */
#include <xs2s/resolve.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <unbound.h>

#include "addrorder.h"
#include "alloc.h"
#include "resolve_int.h"

/* ---- small helpers ---------------------------------------------------- */

static uint32_t default_random(void *ud) {
  (void)ud;
  uint32_t x = 0;
  /* The weighted order needs no secrecy; a failure leaves a valid order. */
  if (gnutls_rnd(GNUTLS_RND_NONCE, &x, sizeof(x)) < 0)
    x = 0;
  return x;
}

static uint64_t default_clock(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const xs2s_resolver *r) {
  return r->clock(r->clock_user_data);
}

/* ---- resolver --------------------------------------------------------- */

static int configure(struct ub_ctx *ub, const xs2s_resolver_options *o) {
  /* Threads, not libunbound's default fork, for the background worker. */
  if (ub_ctx_async(ub, 1) != 0)
    return XS2S_ERR_RESOLVER_CONFIG;
  if (o->unbound_conf && ub_ctx_config(ub, o->unbound_conf) != 0)
    return XS2S_ERR_RESOLVER_CONFIG;
  if ((o->resolv_conf || !o->unbound_conf) &&
      ub_ctx_resolvconf(ub, o->resolv_conf) != 0)
    return XS2S_ERR_RESOLVER_CONFIG;
  if ((o->hosts_file || !o->unbound_conf) &&
      ub_ctx_hosts(ub, o->hosts_file) != 0)
    return XS2S_ERR_RESOLVER_CONFIG;
  if (o->trust_anchor_file && ub_ctx_add_ta_file(ub, o->trust_anchor_file))
    return XS2S_ERR_RESOLVER_CONFIG;
  return 0;
}

int xs2s_resolver_new(xs2s_resolver **out,
                      const xs2s_resolver_options *options) {
  static const xs2s_resolver_options defaults;
  const xs2s_resolver_options *o = options ? options : &defaults;
  if (!out)
    return XS2S_ERR_INVALID_ARGUMENT;
  *out = NULL;
  xs2s_mem mem;
  xs2s__mem_init(&mem, o->mem);
  xs2s_resolver *r = xs2s__calloc(&mem, 1, sizeof(*r));
  if (!r)
    return XS2S_ERR_NOMEM;
  r->mem = mem;
  r->timeout_ms = o->timeout_ms ? o->timeout_ms : XS2S_RESOLVE_DEFAULT_TIMEOUT_MS;
  r->random = o->random ? o->random : default_random;
  r->random_user_data = o->random_user_data;
  r->clock = o->clock ? o->clock : default_clock;
  r->clock_user_data = o->clock_user_data;
  r->ub = ub_ctx_create();
  if (!r->ub) {
    xs2s__free(&mem, r);
    return XS2S_ERR_NOMEM;
  }
  int rc = configure(r->ub, o);
  if (rc < 0) {
    xs2s_resolver_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

static void free_query_list(xs2s_resolve_query *q) {
  while (q) {
    xs2s_resolve_query *next = q->next;
    xs2s__query_free(q);
    q = next;
  }
}

void xs2s_resolver_free(xs2s_resolver *r) {
  if (!r)
    return;
  /* Deleting the context drops every lookup without calling back, so the
   * subs can go afterwards without ub_cancel(). */
  ub_ctx_delete(r->ub);
  r->ub = NULL;
  free_query_list(r->active);
  free_query_list(r->done);
  xs2s_resolver_clear_routes(r);
  xs2s_mem mem = r->mem;
  xs2s__free(&mem, r);
}

void xs2s_resolver_clear_routes(xs2s_resolver *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nroutes; i++) {
    xs2s__free(&r->mem, r->routes[i].domain);
    xs2s__free(&r->mem, r->routes[i].host);
  }
  xs2s__free(&r->mem, r->routes);
  r->routes = NULL;
  r->nroutes = 0;
}

int xs2s_resolver_add_route(xs2s_resolver *r, const char *domain,
                            const char *host, uint16_t port,
                            xs2s_resolve_tls tls) {
  if (!r || !domain || !host ||
      (tls != XS2S_RESOLVE_TLS_STARTTLS && tls != XS2S_RESOLVE_TLS_DIRECT))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_resolve_addr lit;
  size_t dlen = xs2s__host_name_len(domain);
  if (!dlen && xs2s__parse_literal(domain, &lit))
    dlen = strlen(domain);
  bool literal = xs2s__parse_literal(host, &lit);
  size_t hlen = literal ? strlen(host) : xs2s__host_name_len(host);
  if (!dlen || !hlen)
    return XS2S_ERR_INVALID_ARGUMENT;
  route *routes = xs2s__realloc(&r->mem, r->routes,
                                (r->nroutes + 1) * sizeof(*routes));
  if (!routes)
    return XS2S_ERR_NOMEM;
  r->routes = routes;
  route *rt = &routes[r->nroutes];
  rt->domain = xs2s__strndup(&r->mem, domain, dlen);
  rt->host = xs2s__strndup(&r->mem, host, hlen);
  if (!rt->domain || !rt->host) {
    xs2s__free(&r->mem, rt->domain);
    xs2s__free(&r->mem, rt->host);
    return XS2S_ERR_NOMEM;
  }
  rt->port = port ? port : XS2S_RESOLVE_DEFAULT_PORT;
  rt->tls = tls;
  r->nroutes++;
  return 0;
}

int xs2s_resolver_fd(const xs2s_resolver *r) {
  return r ? ub_fd(r->ub) : -1;
}

int xs2s_resolver_timeout(const xs2s_resolver *r) {
  if (!r || !r->active)
    return r && r->done ? 0 : -1;
  uint64_t now = now_ms(r), first = UINT64_MAX;
  for (const xs2s_resolve_query *q = r->active; q; q = q->next)
    if (q->deadline < first)
      first = q->deadline;
  if (first <= now)
    return 0;
  return first - now > INT_MAX ? INT_MAX : (int)(first - now);
}

size_t xs2s_resolver_pending(const xs2s_resolver *r) {
  return r ? r->pending : 0;
}

/* ---- query lists ------------------------------------------------------ */

static xs2s_resolve_query **list_of(xs2s_resolve_query *q) {
  return q->on_done_list ? &q->r->done : &q->r->active;
}

static void unlink_query(xs2s_resolve_query *q) {
  if (q->prev)
    q->prev->next = q->next;
  else
    *list_of(q) = q->next;
  if (q->next)
    q->next->prev = q->prev;
  q->prev = q->next = NULL;
}

static void push_query(xs2s_resolve_query **list, xs2s_resolve_query *q) {
  q->prev = NULL;
  q->next = *list;
  if (*list)
    (*list)->prev = q;
  *list = q;
}

/* Done lists keep arrival order, so callbacks come first-finished first. */
static void append_done(xs2s_resolve_query *q) {
  xs2s_resolver *r = q->r;
  unlink_query(q);
  q->on_done_list = true;
  xs2s_resolve_query **tail = &r->done, *prev = NULL;
  while (*tail) {
    prev = *tail;
    tail = &(*tail)->next;
  }
  q->prev = prev;
  q->next = NULL;
  *tail = q;
}

/* ---- results ---------------------------------------------------------- */

static xs2s_stanza_condition condition_of(int error) {
  switch (error) {
  case 0:
    return XS2S_STANZA_ERR_NONE;
  case XS2S_ERR_DNS_TIMEOUT:
    return XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT;
  case XS2S_ERR_NOMEM:
    return XS2S_STANZA_ERR_RESOURCE_CONSTRAINT;
  case XS2S_ERR_INTERNAL:
  case XS2S_ERR_RESOLVER_CONFIG:
    return XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR;
  default:
    return XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
  }
}

/* Builds the candidate views the result lends out; NULL on OOM. */
static xs2s_resolve_candidate *candidate_views(xs2s_resolve_query *q) {
  const xs2s_mem *m = &q->r->mem;
  xs2s_resolve_candidate *v = xs2s__calloc(m, q->ncands ? q->ncands : 1,
                                           sizeof(*v));
  for (size_t i = 0; v && i < q->ncands; i++) {
    const cand *c = &q->cands[i];
    const target *t = &q->targets[c->target];
    xs2s_resolve_candidate *cv = &v[i];
    cv->host = t->name;
    cv->port = c->port;
    cv->priority = c->priority;
    cv->weight = c->weight;
    cv->tls = c->tls;
    cv->dnssec = c->dnssec;
    cv->error = c->error;
    cv->tlsa_checked = c->tlsa_checked;
    cv->tlsa_dnssec = c->tlsa_dnssec;
    cv->tlsa = c->tlsa;
    cv->ntlsa = c->ntlsa;
    if (c->error || t->naddrs == 0)
      continue;
    xs2s_resolve_addr *a = xs2s__calloc(m, t->naddrs, sizeof(*a));
    if (!a) {
      for (size_t j = 0; j < i; j++)
        xs2s__free(m, (void *)v[j].addrs);
      xs2s__free(m, v);
      return NULL;
    }
    xs2s__addr_interleave(t->addrs, t->naddrs, a);
    for (size_t j = 0; j < t->naddrs; j++) {
      if (a[j].sa.sa_family == AF_INET6)
        a[j].in6.sin6_port = htons(c->port);
      else
        a[j].in.sin_port = htons(c->port);
    }
    cv->addrs = a;
    cv->naddrs = t->naddrs;
  }
  return v;
}

/* Calls back and frees the query; it is already off every list. */
static void complete(xs2s_resolve_query *q) {
  xs2s_resolver *r = q->r;
  xs2s_resolve_result res = {0};
  xs2s_resolve_candidate *views = candidate_views(q);
  res.domain = q->domain;
  res.error = views ? q->error : XS2S_ERR_NOMEM;
  res.condition = condition_of(res.error);
  res.source = q->source;
  res.why_bogus = q->why_bogus;
  res.candidates = views;
  res.ncandidates = views ? q->ncands : 0;
  r->pending--;
  q->in_callback = true;
  q->cb(&res, q->user_data);
  for (size_t i = 0; i < res.ncandidates; i++)
    xs2s__free(&r->mem, (void *)views[i].addrs);
  xs2s__free(&r->mem, views);
  xs2s__query_free(q);
}

static void flush_done(xs2s_resolver *r) {
  while (r->done) {
    xs2s_resolve_query *q = r->done;
    unlink_query(q);
    complete(q);
  }
}

int xs2s_resolve(xs2s_resolver *r, const char *domain, xs2s_resolve_cb cb,
                 void *user_data, xs2s_resolve_query **handle) {
  if (handle)
    *handle = NULL;
  if (!r || !domain || !cb)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_resolve_addr lit;
  size_t len = xs2s__host_name_len(domain);
  if (!len && xs2s__parse_literal(domain, &lit))
    len = strlen(domain);
  if (!len)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_resolve_query *q = xs2s__calloc(&r->mem, 1, sizeof(*q));
  if (!q)
    return XS2S_ERR_NOMEM;
  q->r = r;
  q->cb = cb;
  q->user_data = user_data;
  q->domain = xs2s__strndup(&r->mem, domain, len);
  q->deadline = now_ms(r) + r->timeout_ms;
  push_query(&r->active, q);
  int rc = q->domain ? xs2s__query_begin(q) : XS2S_ERR_NOMEM;
  if (rc < 0) {
    xs2s__query_cancel(q);
    unlink_query(q);
    xs2s__query_free(q);
    return rc;
  }
  r->pending++;
  xs2s__query_step(q);
  if (q->stage == STAGE_DONE) {
    unlink_query(q);
    complete(q);
  } else if (handle) {
    *handle = q;
  }
  return 0;
}

void xs2s_resolve_cancel(xs2s_resolve_query *q) {
  if (!q || q->in_callback)
    return;
  xs2s__query_cancel(q);
  unlink_query(q);
  q->r->pending--;
  xs2s__query_free(q);
}

int xs2s_resolver_process(xs2s_resolver *r) {
  if (!r)
    return XS2S_ERR_INVALID_ARGUMENT;
  int rc = ub_process(r->ub) == 0 ? 0 : XS2S_ERR_INTERNAL;
  uint64_t now = now_ms(r);
  for (xs2s_resolve_query *q = r->active, *next; q; q = next) {
    next = q->next;
    if (q->stage != STAGE_DONE && now >= q->deadline)
      xs2s__query_expire(q);
    if (q->stage == STAGE_DONE)
      append_done(q);
  }
  flush_done(r);
  return rc;
}

int xs2s_resolver_wait(xs2s_resolver *r, int timeout_ms) {
  if (!r)
    return XS2S_ERR_INVALID_ARGUMENT;
  uint64_t start = default_clock(NULL);
  while (r->pending > 0) {
    int wait = xs2s_resolver_timeout(r);
    if (timeout_ms >= 0) {
      uint64_t spent = default_clock(NULL) - start;
      if (spent >= (uint64_t)timeout_ms)
        return XS2S_ERR_TIMEOUT;
      int left = (int)((uint64_t)timeout_ms - spent);
      if (wait < 0 || left < wait)
        wait = left;
    }
    struct pollfd pfd = {.fd = xs2s_resolver_fd(r), .events = POLLIN};
    if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
      return XS2S_ERR_SYSTEM;
    xs2s_resolver_process(r);
  }
  return 0;
}
