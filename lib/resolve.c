/*
 * resolve.c: connection candidates of a domain on libunbound.
 *
 * A query runs in stages, each a batch of libunbound lookups in parallel:
 *
 *   SRV   _xmpps-server._tcp.D and _xmpp-server._tcp.D
 *   ADDR  A and AAAA of every distinct target (or route host, or D itself)
 *   TLSA  _PORT._tcp.HOST of every candidate whose chain is DNSSEC-secure
 *
 * Answers are recorded as they arrive; when a stage has nothing left in
 * flight, query_step() judges it and starts the next. Finished queries wait
 * on a list until xs2s_resolver_process() has left libunbound, so that user
 * callbacks never run inside libunbound's own callback.
 */
#include <xs2s/resolve.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <unbound.h>

#include "addrorder.h"
#include "alloc.h"
#include "srv.h"

#define RR_TYPE_A 1
#define RR_TYPE_AAAA 28
#define RR_TYPE_SRV 33
#define RR_TYPE_TLSA 52
#define RR_CLASS_IN 1

/* CNAME hops followed by hand (libunbound's local data does not chase). */
#define MAX_CNAME_HOPS 8

enum stage { STAGE_SRV, STAGE_ADDR, STAGE_TLSA, STAGE_DONE };

enum lookup { LOOKUP_SRV, LOOKUP_A, LOOKUP_AAAA, LOOKUP_TLSA };

/* Index of the two SRV services in a query; direct TLS first so that the
 * merged set lists it first among equals. */
enum { SVC_DIRECT, SVC_STARTTLS, SVC_COUNT };

/* What one answer amounted to. */
enum answer_kind { ANS_DATA, ANS_NODATA, ANS_NXDOMAIN, ANS_ERROR };

typedef struct outcome {
  enum answer_kind kind;
  int error; /* for ANS_ERROR */
  xs2s_dnssec dnssec;
} outcome;

typedef struct route {
  char *domain;
  char *host;
  uint16_t port;
  xs2s_resolve_tls tls;
} route;

typedef struct srv_set {
  xs2s__srv_rdata *recs;
  size_t n;
  bool answered;
  bool no_service; /* a lone "." record */
  outcome out;
} srv_set;

/* A distinct host whose addresses are needed. */
typedef struct target {
  char *name;
  xs2s_resolve_addr *addrs; /* as they arrive, families mixed */
  size_t naddrs, cap;
  outcome fam[2]; /* [0] AAAA, [1] A */
  int error;      /* set by addr_finish() when unusable */
  xs2s_dnssec dnssec;
} target;

typedef struct cand {
  uint16_t priority, weight, port;
  xs2s_resolve_tls tls;
  size_t target;
  xs2s_dnssec dnssec; /* of the SRV answer, then of the whole chain */
  int error;
  bool tlsa_checked;
  xs2s_dnssec tlsa_dnssec;
  xs2s_resolve_tlsa *tlsa;
  size_t ntlsa;
} cand;

/* One libunbound lookup in flight. */
typedef struct sub {
  xs2s_resolve_query *q;
  struct sub *prev, *next;
  enum lookup lookup;
  size_t index; /* service, target or candidate */
  int async_id;
  unsigned hops;
  xs2s_dnssec chain; /* weakest status along a CNAME chain so far */
} sub;

struct xs2s_resolve_query {
  xs2s_resolver *r;
  xs2s_resolve_query *prev, *next;
  bool on_done_list;
  bool in_callback;
  bool expired;
  char *domain;
  xs2s_resolve_cb cb;
  void *user_data;
  enum stage stage;
  uint64_t deadline;
  unsigned pending;
  sub *subs;
  srv_set srv[SVC_COUNT];
  target *targets;
  size_t ntargets;
  cand *cands;
  size_t ncands;
  xs2s_resolve_source source;
  int error;
  char *why_bogus;
};

struct xs2s_resolver {
  xs2s_mem mem;
  struct ub_ctx *ub;
  unsigned timeout_ms;
  xs2s__random_fn random;
  void *random_user_data;
  uint64_t (*clock)(void *);
  void *clock_user_data;
  route *routes;
  size_t nroutes;
  xs2s_resolve_query *active; /* lookups in flight */
  xs2s_resolve_query *done;   /* finished, callback not yet called */
  size_t pending;
};

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

static xs2s_dnssec weakest(xs2s_dnssec a, xs2s_dnssec b) {
  if (a == XS2S_DNSSEC_BOGUS || b == XS2S_DNSSEC_BOGUS)
    return XS2S_DNSSEC_BOGUS;
  if (a == XS2S_DNSSEC_INSECURE || b == XS2S_DNSSEC_INSECURE)
    return XS2S_DNSSEC_INSECURE;
  return XS2S_DNSSEC_SECURE;
}

/* How much an error says about the domain, to report the most telling one
 * when several lookups failed. */
static int severity(int error) {
  switch (error) {
  case 0:
    return 0;
  case XS2S_ERR_DNS_NO_ADDRESS:
    return 1;
  case XS2S_ERR_DNS_NXDOMAIN:
    return 2;
  case XS2S_ERR_DNS_SERVFAIL:
    return 4;
  case XS2S_ERR_DNS_TIMEOUT:
    return 5;
  case XS2S_ERR_DNSSEC_BOGUS:
    return 6;
  default:
    return 3;
  }
}

static int worse(int a, int b) {
  return severity(b) > severity(a) ? b : a;
}

static int ub_error(int ub) {
  switch (ub) {
  case UB_NOMEM:
    return XS2S_ERR_NOMEM;
  case UB_SYNTAX:
  case UB_INITFAIL:
  case UB_READFILE:
  case UB_AFTERFINAL:
    return XS2S_ERR_RESOLVER_CONFIG;
  default:
    return XS2S_ERR_INTERNAL;
  }
}

static outcome classify(int err, const struct ub_result *res) {
  outcome o = {ANS_ERROR, 0, XS2S_DNSSEC_INSECURE};
  if (err || !res) {
    o.error = ub_error(err ? err : UB_NOMEM);
  } else if (res->bogus) {
    o.error = XS2S_ERR_DNSSEC_BOGUS;
    o.dnssec = XS2S_DNSSEC_BOGUS;
  } else {
    o.dnssec = res->secure ? XS2S_DNSSEC_SECURE : XS2S_DNSSEC_INSECURE;
    if (res->havedata)
      o.kind = ANS_DATA;
    else if (res->nxdomain)
      o.kind = ANS_NXDOMAIN;
    else if (res->rcode == 0)
      o.kind = ANS_NODATA;
    else
      o.error = XS2S_ERR_DNS_SERVFAIL; /* SERVFAIL, REFUSED, FORMERR... */
  }
  return o;
}

static outcome failed(int error) {
  outcome o = {ANS_ERROR, error, XS2S_DNSSEC_INSECURE};
  if (error == XS2S_ERR_DNSSEC_BOGUS)
    o.dnssec = XS2S_DNSSEC_BOGUS;
  return o;
}

static bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Length of @name without one trailing dot when it is a host name of
 * letters, digits, '-' and '_' in labels of 1..63 bytes; 0 otherwise. */
static size_t host_name_len(const char *name) {
  size_t len = strlen(name);
  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0 || len > XS2S__DNAME_MAX)
    return 0;
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    if (name[i] == '.') {
      if (label == 0)
        return 0;
      label = 0;
    } else if (!is_host_char(name[i]) || ++label > 63) {
      return 0;
    }
  }
  return label ? len : 0;
}

/* Parses an IPv4 or IPv6 literal, the latter with or without brackets. */
static bool parse_literal(const char *s, xs2s_resolve_addr *a) {
  memset(a, 0, sizeof(*a));
  if (inet_pton(AF_INET, s, &a->in.sin_addr) == 1) {
    a->in.sin_family = AF_INET;
    return true;
  }
  char buf[INET6_ADDRSTRLEN + 2];
  size_t len = strlen(s);
  if (len >= 2 && s[0] == '[' && s[len - 1] == ']' && len - 2 < sizeof(buf)) {
    memcpy(buf, s + 1, len - 2);
    buf[len - 2] = '\0';
    s = buf;
  }
  if (inet_pton(AF_INET6, s, &a->in6.sin6_addr) == 1) {
    a->in6.sin6_family = AF_INET6;
    return true;
  }
  return false;
}

/* The text of an address literal without brackets, for candidate hosts. */
static char *literal_text(const xs2s_mem *m, const xs2s_resolve_addr *a) {
  char buf[INET6_ADDRSTRLEN];
  if (a->sa.sa_family == AF_INET6)
    inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, sizeof(buf));
  else
    inet_ntop(AF_INET, &a->in.sin_addr, buf, sizeof(buf));
  return xs2s__strdup(m, buf);
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

int xs2s_resolver_new(const xs2s_resolver_options *options,
                      xs2s_resolver **out) {
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

static void query_free(xs2s_resolve_query *q);

static void free_query_list(xs2s_resolve_query *q) {
  while (q) {
    xs2s_resolve_query *next = q->next;
    query_free(q);
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
  for (size_t i = 0; i < r->nroutes; i++) {
    xs2s__free(&r->mem, r->routes[i].domain);
    xs2s__free(&r->mem, r->routes[i].host);
  }
  xs2s__free(&r->mem, r->routes);
  xs2s_mem mem = r->mem;
  xs2s__free(&mem, r);
}

int xs2s_resolver_add_route(xs2s_resolver *r, const char *domain,
                            const char *host, uint16_t port,
                            xs2s_resolve_tls tls) {
  if (!r || !domain || !host ||
      (tls != XS2S_RESOLVE_TLS_STARTTLS && tls != XS2S_RESOLVE_TLS_DIRECT))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_resolve_addr lit;
  size_t dlen = host_name_len(domain);
  if (!dlen && parse_literal(domain, &lit))
    dlen = strlen(domain);
  bool literal = parse_literal(host, &lit);
  size_t hlen = literal ? strlen(host) : host_name_len(host);
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

/* ---- lookups ---------------------------------------------------------- */

static void on_answer(void *mydata, int err, struct ub_result *res);

static void record(xs2s_resolve_query *q, enum lookup lookup, size_t index,
                   const outcome *o, const struct ub_result *res);

static void unlink_sub(sub *s) {
  xs2s_resolve_query *q = s->q;
  if (s->prev)
    s->prev->next = s->next;
  else
    q->subs = s->next;
  if (s->next)
    s->next->prev = s->prev;
}

/* Starts a lookup of @name (absolute, with its trailing dot). When it
 * cannot start, its failure is recorded at once and returned. */
static int start_lookup(xs2s_resolve_query *q, enum lookup lookup,
                        size_t index, const char *name, unsigned hops,
                        xs2s_dnssec chain) {
  static const int types[] = {RR_TYPE_SRV, RR_TYPE_A, RR_TYPE_AAAA,
                              RR_TYPE_TLSA};
  xs2s_resolver *r = q->r;
  int rc = XS2S_ERR_DNS_TIMEOUT;
  sub *s = NULL;
  if (!q->expired) {
    s = xs2s__calloc(&r->mem, 1, sizeof(*s));
    rc = s ? 0 : XS2S_ERR_NOMEM;
  }
  if (s) {
    s->q = q;
    s->lookup = lookup;
    s->index = index;
    s->hops = hops;
    s->chain = chain;
    int ub = ub_resolve_async(r->ub, name, types[lookup], RR_CLASS_IN, s,
                              on_answer, &s->async_id);
    if (ub != 0) {
      rc = ub_error(ub);
      xs2s__free(&r->mem, s);
      s = NULL;
    }
  }
  if (!s) {
    outcome o = failed(rc);
    record(q, lookup, index, &o, NULL);
    return rc;
  }
  s->next = q->subs;
  if (q->subs)
    q->subs->prev = s;
  q->subs = s;
  q->pending++;
  return 0;
}

static int start_named(xs2s_resolve_query *q, enum lookup lookup,
                       size_t index, const char *fmt_prefix,
                       const char *name) {
  char buf[XS2S__DNAME_MAX + 32];
  snprintf(buf, sizeof(buf), "%s%s.", fmt_prefix, name);
  return start_lookup(q, lookup, index, buf, 0, XS2S_DNSSEC_SECURE);
}

static void query_step(xs2s_resolve_query *q);

static void on_answer(void *mydata, int err, struct ub_result *res) {
  sub *s = mydata;
  xs2s_resolve_query *q = s->q;
  unlink_sub(s);
  q->pending--;
  outcome o = classify(err, res);
  o.dnssec = weakest(o.dnssec, s->chain);
  if (res && res->bogus && res->why_bogus && !q->why_bogus)
    q->why_bogus = xs2s__strdup(&q->r->mem, res->why_bogus);
  /* A CNAME with no data behind it in the same answer: follow it. */
  bool chase = o.kind == ANS_NODATA && res->canonname && res->qname &&
               strcasecmp(res->canonname, res->qname) != 0;
  if (chase && s->hops >= MAX_CNAME_HOPS) {
    o = failed(XS2S_ERR_LIMIT);
    chase = false;
  }
  if (chase)
    start_lookup(q, s->lookup, s->index, res->canonname, s->hops + 1,
                 o.dnssec);
  else
    record(q, s->lookup, s->index, &o, res);
  xs2s__free(&q->r->mem, s);
  if (res)
    ub_resolve_free(res);
  query_step(q);
}

static void cancel_lookups(xs2s_resolve_query *q) {
  while (q->subs) {
    sub *s = q->subs;
    unlink_sub(s);
    ub_cancel(q->r->ub, s->async_id);
    q->pending--;
    xs2s__free(&q->r->mem, s);
  }
}

/* The deadline passed: every lookup in flight, and every one a later stage
 * would start, fails with XS2S_ERR_DNS_TIMEOUT. */
static void expire(xs2s_resolve_query *q) {
  q->expired = true;
  while (q->subs) {
    sub *s = q->subs;
    enum lookup lookup = s->lookup;
    size_t index = s->index;
    unlink_sub(s);
    ub_cancel(q->r->ub, s->async_id);
    q->pending--;
    xs2s__free(&q->r->mem, s);
    outcome o = failed(XS2S_ERR_DNS_TIMEOUT);
    record(q, lookup, index, &o, NULL);
  }
  query_step(q);
}

/* ---- recording answers ------------------------------------------------ */

static void record_srv(xs2s_resolve_query *q, srv_set *set, const outcome *o,
                       const struct ub_result *res) {
  set->answered = true;
  set->out = *o;
  if (o->kind != ANS_DATA)
    return;
  size_t n = 0;
  while (res->data[n])
    n++;
  if (n > XS2S_RESOLVE_MAX_SRV) {
    set->out = failed(XS2S_ERR_LIMIT);
    return;
  }
  set->recs = xs2s__calloc(&q->r->mem, n, sizeof(*set->recs));
  if (!set->recs) {
    set->out = failed(XS2S_ERR_NOMEM);
    return;
  }
  size_t roots = 0;
  for (size_t i = 0; i < n; i++) {
    xs2s__srv_rdata *rd = &set->recs[set->n];
    if (xs2s__srv_decode((const unsigned char *)res->data[i],
                         (size_t)res->len[i], rd) != 0)
      continue; /* malformed or not a host name: unusable */
    if (rd->target[0] == '\0')
      roots++;
    else
      set->n++;
  }
  /* RFC 2782: a lone "." record says the service is decidedly not here. */
  set->no_service = n == 1 && roots == 1;
  if (set->n == 0 && !set->no_service)
    set->out.kind = ANS_NODATA;
}

static int add_addr(xs2s_resolve_query *q, target *t, int family,
                    const char *data, int len) {
  if ((family == AF_INET && len != 4) || (family == AF_INET6 && len != 16))
    return 0; /* not an address: skip */
  if (t->naddrs == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4;
    xs2s_resolve_addr *a =
        xs2s__realloc(&q->r->mem, t->addrs, cap * sizeof(*a));
    if (!a)
      return XS2S_ERR_NOMEM;
    t->addrs = a;
    t->cap = cap;
  }
  xs2s_resolve_addr *a = &t->addrs[t->naddrs++];
  memset(a, 0, sizeof(*a));
  a->sa.sa_family = (sa_family_t)family;
  if (family == AF_INET)
    memcpy(&a->in.sin_addr, data, 4);
  else
    memcpy(&a->in6.sin6_addr, data, 16);
  return 0;
}

static void record_addr(xs2s_resolve_query *q, target *t, int family,
                        const outcome *o, const struct ub_result *res) {
  outcome *slot = &t->fam[family == AF_INET];
  *slot = *o;
  if (o->kind != ANS_DATA)
    return;
  for (size_t i = 0; res->data[i]; i++) {
    if (add_addr(q, t, family, res->data[i], res->len[i]) != 0) {
      *slot = failed(XS2S_ERR_NOMEM);
      return;
    }
  }
}

static void record_tlsa(xs2s_resolve_query *q, cand *c, const outcome *o,
                        const struct ub_result *res) {
  c->tlsa_dnssec = o->dnssec;
  if (o->kind == ANS_ERROR) {
    /* RFC 7673: a failed TLSA lookup for a secure target forbids
     * connecting to it. */
    c->error = o->error;
    return;
  }
  if (o->kind != ANS_DATA || o->dnssec != XS2S_DNSSEC_SECURE)
    return; /* DANE does not apply */
  size_t n = 0, bytes = 0;
  for (; res->data[n]; n++)
    bytes += (size_t)res->len[n];
  /* One block: the records, then their association data. */
  char *block = xs2s__malloc(&q->r->mem, n * sizeof(*c->tlsa) + bytes + 1);
  if (!block) {
    c->error = XS2S_ERR_NOMEM;
    return;
  }
  c->tlsa = (xs2s_resolve_tlsa *)block;
  unsigned char *data = (unsigned char *)block + n * sizeof(*c->tlsa);
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)res->data[i];
    size_t len = (size_t)res->len[i];
    if (len < 3)
      continue;
    xs2s_resolve_tlsa *t = &c->tlsa[c->ntlsa++];
    t->usage = p[0];
    t->selector = p[1];
    t->matching_type = p[2];
    t->len = len - 3;
    t->data = data;
    memcpy(data, p + 3, len - 3);
    data += len - 3;
  }
}

static void record(xs2s_resolve_query *q, enum lookup lookup, size_t index,
                   const outcome *o, const struct ub_result *res) {
  switch (lookup) {
  case LOOKUP_SRV:
    record_srv(q, &q->srv[index], o, res);
    break;
  case LOOKUP_A:
    record_addr(q, &q->targets[index], AF_INET, o, res);
    break;
  case LOOKUP_AAAA:
    record_addr(q, &q->targets[index], AF_INET6, o, res);
    break;
  case LOOKUP_TLSA:
    record_tlsa(q, &q->cands[index], o, res);
    break;
  }
}

/* ---- stages ----------------------------------------------------------- */

static void fail(xs2s_resolve_query *q, int error) {
  q->error = error;
  q->stage = STAGE_DONE;
}

/* Index of the target named @name, added when new; SIZE_MAX on OOM. */
static size_t target_for(xs2s_resolve_query *q, const char *name) {
  for (size_t i = 0; i < q->ntargets; i++)
    if (strcasecmp(q->targets[i].name, name) == 0)
      return i;
  target *t = &q->targets[q->ntargets];
  memset(t, 0, sizeof(*t));
  t->name = xs2s__strdup(&q->r->mem, name);
  if (!t->name)
    return SIZE_MAX;
  t->fam[0].kind = t->fam[1].kind = ANS_NODATA;
  return q->ntargets++;
}

/* Room for @n candidates and as many targets. */
static int alloc_cands(xs2s_resolve_query *q, size_t n) {
  q->cands = xs2s__calloc(&q->r->mem, n ? n : 1, sizeof(*q->cands));
  q->targets = xs2s__calloc(&q->r->mem, n ? n : 1, sizeof(*q->targets));
  return q->cands && q->targets ? 0 : XS2S_ERR_NOMEM;
}

static int add_cand(xs2s_resolve_query *q, const char *host, uint16_t port,
                    uint16_t priority, uint16_t weight, xs2s_resolve_tls tls,
                    xs2s_dnssec dnssec) {
  size_t t = target_for(q, host);
  if (t == SIZE_MAX)
    return XS2S_ERR_NOMEM;
  cand *c = &q->cands[q->ncands++];
  c->priority = priority;
  c->weight = weight;
  c->port = port;
  c->tls = tls;
  c->target = t;
  c->dnssec = dnssec;
  return 0;
}

/* Starts the address lookups of every target that is not a literal.
 * Returns the first failure to start one (already recorded). */
static int start_addr_stage(xs2s_resolve_query *q) {
  int rc = 0;
  q->stage = STAGE_ADDR;
  for (size_t i = 0; i < q->ntargets; i++) {
    target *t = &q->targets[i];
    if (t->naddrs > 0)
      continue; /* an IP literal */
    int a = start_named(q, LOOKUP_AAAA, i, "", t->name);
    int b = start_named(q, LOOKUP_A, i, "", t->name);
    if (rc == 0)
      rc = a ? a : b;
  }
  return rc;
}

static int srv_cands(xs2s_resolve_query *q) {
  size_t n = q->srv[SVC_DIRECT].n + q->srv[SVC_STARTTLS].n;
  xs2s__srv_key *keys = xs2s__calloc(&q->r->mem, n, sizeof(*keys));
  size_t *order = xs2s__calloc(&q->r->mem, n, sizeof(*order));
  const xs2s__srv_rdata **recs = xs2s__calloc(&q->r->mem, n, sizeof(*recs));
  xs2s_resolve_tls *tls = xs2s__calloc(&q->r->mem, n, sizeof(*tls));
  int rc = keys && order && recs && tls ? alloc_cands(q, n) : XS2S_ERR_NOMEM;
  size_t k = 0;
  for (int svc = 0; rc == 0 && svc < SVC_COUNT; svc++) {
    for (size_t i = 0; i < q->srv[svc].n; i++, k++) {
      recs[k] = &q->srv[svc].recs[i];
      keys[k].priority = recs[k]->priority;
      keys[k].weight = recs[k]->weight;
      tls[k] = svc == SVC_DIRECT ? XS2S_RESOLVE_TLS_DIRECT
                                 : XS2S_RESOLVE_TLS_STARTTLS;
    }
  }
  if (rc == 0)
    rc = xs2s__srv_order(keys, n, q->r->random, q->r->random_user_data, order);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const xs2s__srv_rdata *rd = recs[order[i]];
    int svc = tls[order[i]] == XS2S_RESOLVE_TLS_DIRECT ? SVC_DIRECT
                                                       : SVC_STARTTLS;
    rc = add_cand(q, rd->target, rd->port, rd->priority, rd->weight,
                  tls[order[i]], q->srv[svc].out.dnssec);
  }
  xs2s__free(&q->r->mem, keys);
  xs2s__free(&q->r->mem, order);
  xs2s__free(&q->r->mem, recs);
  xs2s__free(&q->r->mem, tls);
  return rc;
}

static bool srv_empty(const srv_set *s) {
  return s->out.kind == ANS_NODATA || s->out.kind == ANS_NXDOMAIN;
}

static void srv_finish(xs2s_resolve_query *q) {
  const srv_set *d = &q->srv[SVC_DIRECT], *s = &q->srv[SVC_STARTTLS];
  if (d->out.dnssec == XS2S_DNSSEC_BOGUS || s->out.dnssec == XS2S_DNSSEC_BOGUS)
    return fail(q, XS2S_ERR_DNSSEC_BOGUS);
  int rc;
  if (d->n + s->n > 0) {
    /* Records of one service are enough even if the other failed. */
    q->source = XS2S_RESOLVE_SOURCE_SRV;
    rc = srv_cands(q);
  } else if (d->no_service || s->no_service) {
    q->source = XS2S_RESOLVE_SOURCE_SRV; /* the SRV records said so */
    return fail(q, XS2S_ERR_DNS_NO_SERVICE);
  } else if (srv_empty(d) && srv_empty(s)) {
    q->source = XS2S_RESOLVE_SOURCE_FALLBACK;
    rc = alloc_cands(q, 1);
    if (rc == 0)
      rc = add_cand(q, q->domain, XS2S_RESOLVE_DEFAULT_PORT, 0, 0,
                    XS2S_RESOLVE_TLS_STARTTLS,
                    weakest(d->out.dnssec, s->out.dnssec));
  } else {
    return fail(q, worse(d->out.error, s->out.error));
  }
  if (rc < 0)
    return fail(q, rc);
  start_addr_stage(q);
}

static int family_error(const outcome *o) {
  switch (o->kind) {
  case ANS_DATA:
    return 0;
  case ANS_NODATA:
    return XS2S_ERR_DNS_NO_ADDRESS;
  case ANS_NXDOMAIN:
    return XS2S_ERR_DNS_NXDOMAIN;
  case ANS_ERROR:
    break;
  }
  return o->error;
}

/* Judges a target's two address answers. */
static void judge_target(target *t) {
  t->error = 0;
  if (t->naddrs == 0) {
    t->error = worse(family_error(&t->fam[0]), family_error(&t->fam[1]));
    if (t->error == 0) /* data, but none of it an address */
      t->error = XS2S_ERR_DNS_NO_ADDRESS;
  }
  /* A bogus answer is never used, whatever the other family says. */
  if (t->fam[0].dnssec == XS2S_DNSSEC_BOGUS ||
      t->fam[1].dnssec == XS2S_DNSSEC_BOGUS)
    t->error = XS2S_ERR_DNSSEC_BOGUS;
  if (t->error)
    t->naddrs = 0;
  /* A failed lookup proves nothing: the chain is no longer secure. */
  xs2s_dnssec fam0 = t->fam[0].kind == ANS_ERROR ? XS2S_DNSSEC_INSECURE
                                                 : t->fam[0].dnssec;
  xs2s_dnssec fam1 = t->fam[1].kind == ANS_ERROR ? XS2S_DNSSEC_INSECURE
                                                 : t->fam[1].dnssec;
  t->dnssec = weakest(fam0, fam1);
}

static void addr_finish(xs2s_resolve_query *q) {
  for (size_t i = 0; i < q->ntargets; i++)
    judge_target(&q->targets[i]);
  q->stage = STAGE_TLSA;
  for (size_t i = 0; i < q->ncands; i++) {
    cand *c = &q->cands[i];
    const target *t = &q->targets[c->target];
    c->dnssec = weakest(c->dnssec, t->dnssec);
    c->error = t->error;
    if (c->error || c->dnssec != XS2S_DNSSEC_SECURE)
      continue;
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "_%u._tcp.", (unsigned)c->port);
    c->tlsa_checked = true;
    start_named(q, LOOKUP_TLSA, i, prefix, t->name);
  }
}

static void tlsa_finish(xs2s_resolve_query *q) {
  int error = q->ncands ? 0 : XS2S_ERR_DNS_NO_ADDRESS;
  bool usable = false;
  for (size_t i = 0; i < q->ncands; i++) {
    if (q->cands[i].error == 0)
      usable = true;
    error = worse(error, q->cands[i].error);
  }
  q->stage = STAGE_DONE;
  if (!usable)
    q->error = error;
}

static void query_step(xs2s_resolve_query *q) {
  while (q->pending == 0 && q->stage != STAGE_DONE) {
    switch (q->stage) {
    case STAGE_SRV:
      srv_finish(q);
      break;
    case STAGE_ADDR:
      addr_finish(q);
      break;
    case STAGE_TLSA:
      tlsa_finish(q);
      break;
    case STAGE_DONE:
      break;
    }
  }
  if (q->stage == STAGE_DONE && !q->on_done_list)
    append_done(q);
}

/* ---- starting, finishing, cancelling ---------------------------------- */

static void query_free(xs2s_resolve_query *q) {
  const xs2s_mem *m = &q->r->mem;
  while (q->subs) {
    sub *s = q->subs;
    q->subs = s->next;
    xs2s__free(m, s);
  }
  for (int i = 0; i < SVC_COUNT; i++)
    xs2s__free(m, q->srv[i].recs);
  for (size_t i = 0; i < q->ntargets; i++) {
    xs2s__free(m, q->targets[i].name);
    xs2s__free(m, q->targets[i].addrs);
  }
  for (size_t i = 0; i < q->ncands; i++)
    xs2s__free(m, q->cands[i].tlsa);
  xs2s__free(m, q->targets);
  xs2s__free(m, q->cands);
  xs2s__free(m, q->domain);
  xs2s__free(m, q->why_bogus);
  xs2s__free(m, q);
}

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
  query_free(q);
}

static void flush_done(xs2s_resolver *r) {
  while (r->done) {
    xs2s_resolve_query *q = r->done;
    unlink_query(q);
    complete(q);
  }
}

/* A candidate at an address literal: no lookup for it. */
static int add_literal_cand(xs2s_resolve_query *q, const xs2s_resolve_addr *a,
                            uint16_t port, xs2s_resolve_tls tls) {
  char *text = literal_text(&q->r->mem, a);
  int rc = text ? add_cand(q, text, port, 0, 0, tls, XS2S_DNSSEC_INSECURE)
                : XS2S_ERR_NOMEM;
  xs2s__free(&q->r->mem, text);
  if (rc < 0)
    return rc;
  target *t = &q->targets[q->cands[q->ncands - 1].target];
  if (t->naddrs > 0)
    return 0; /* the same literal twice */
  bool v6 = a->sa.sa_family == AF_INET6;
  return add_addr(q, t, a->sa.sa_family,
                  v6 ? (const char *)&a->in6.sin6_addr
                     : (const char *)&a->in.sin_addr,
                  v6 ? 16 : 4);
}

/* Static routes of @domain as candidates: all equal, so in the order RFC
 * 2782 gives records of one priority and weight (random). */
static int route_cands(xs2s_resolve_query *q, bool *found) {
  const xs2s_resolver *r = q->r;
  const xs2s_mem *m = &r->mem;
  size_t n = 0;
  for (size_t i = 0; i < r->nroutes; i++)
    n += strcasecmp(r->routes[i].domain, q->domain) == 0;
  *found = n > 0;
  if (!n)
    return 0;
  q->source = XS2S_RESOLVE_SOURCE_STATIC;
  const route **mine = xs2s__calloc(m, n, sizeof(*mine));
  xs2s__srv_key *keys = xs2s__calloc(m, n, sizeof(*keys));
  size_t *order = xs2s__calloc(m, n, sizeof(*order));
  int rc = mine && keys && order ? alloc_cands(q, n) : XS2S_ERR_NOMEM;
  for (size_t i = 0, k = 0; rc == 0 && i < r->nroutes; i++)
    if (strcasecmp(r->routes[i].domain, q->domain) == 0)
      mine[k++] = &r->routes[i];
  if (rc == 0)
    rc = xs2s__srv_order(keys, n, r->random, r->random_user_data, order);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const route *rt = mine[order[i]];
    xs2s_resolve_addr lit;
    if (parse_literal(rt->host, &lit))
      rc = add_literal_cand(q, &lit, rt->port, rt->tls);
    else /* secure is the neutral start: the address answers decide */
      rc = add_cand(q, rt->host, rt->port, 0, 0, rt->tls, XS2S_DNSSEC_SECURE);
  }
  xs2s__free(m, mine);
  xs2s__free(m, keys);
  xs2s__free(m, order);
  return rc;
}

/* The first stage of a new query. */
static int begin(xs2s_resolve_query *q) {
  bool routed;
  int rc = route_cands(q, &routed);
  if (rc < 0 || routed)
    return rc < 0 ? rc : start_addr_stage(q);
  xs2s_resolve_addr lit;
  if (parse_literal(q->domain, &lit)) {
    /* An IP-literal domain: nothing to look up. */
    q->source = XS2S_RESOLVE_SOURCE_FALLBACK;
    q->stage = STAGE_ADDR;
    rc = alloc_cands(q, 1);
    return rc < 0 ? rc
                  : add_literal_cand(q, &lit, XS2S_RESOLVE_DEFAULT_PORT,
                                     XS2S_RESOLVE_TLS_STARTTLS);
  }
  q->stage = STAGE_SRV;
  rc = start_named(q, LOOKUP_SRV, SVC_DIRECT, "_xmpps-server._tcp.",
                   q->domain);
  if (rc == 0)
    rc = start_named(q, LOOKUP_SRV, SVC_STARTTLS, "_xmpp-server._tcp.",
                     q->domain);
  return rc;
}

int xs2s_resolve(xs2s_resolver *r, const char *domain, xs2s_resolve_cb cb,
                 void *user_data, xs2s_resolve_query **handle) {
  if (handle)
    *handle = NULL;
  if (!r || !domain || !cb)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_resolve_addr lit;
  size_t len = host_name_len(domain);
  if (!len && parse_literal(domain, &lit))
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
  int rc = q->domain ? begin(q) : XS2S_ERR_NOMEM;
  if (rc < 0) {
    cancel_lookups(q);
    unlink_query(q);
    query_free(q);
    return rc;
  }
  r->pending++;
  query_step(q);
  if (q->on_done_list) {
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
  cancel_lookups(q);
  unlink_query(q);
  q->r->pending--;
  query_free(q);
}

int xs2s_resolver_process(xs2s_resolver *r) {
  if (!r)
    return XS2S_ERR_INVALID_ARGUMENT;
  int rc = ub_process(r->ub) == 0 ? 0 : XS2S_ERR_INTERNAL;
  uint64_t now = now_ms(r);
  xs2s_resolve_query *q = r->active;
  while (q) {
    if (!q->expired && now >= q->deadline) {
      /* expire() finishes @q and may reorder the list: start over. */
      expire(q);
      q = r->active;
    } else {
      q = q->next;
    }
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
