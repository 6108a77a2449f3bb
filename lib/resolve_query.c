/*
 * resolve_query.c: one resolution, as stages of libunbound lookups.
 *
 *   SRV   _xmpps-server._tcp.D and _xmpp-server._tcp.D
 *   ADDR  A and AAAA of every distinct target (or route host, or D itself)
 *   TLSA  _PORT._tcp.HOST of every candidate whose chain is DNSSEC-secure
 *
 * The lookups of a stage run in parallel. Answers are recorded as they
 * arrive; when a stage has nothing left in flight, xs2s__query_step()
 * judges it and starts the next, until the query is STAGE_DONE.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <strings.h>

#include <unbound.h>

#include "alloc.h"
#include "resolve_int.h"
#include "srv.h"

#define RR_TYPE_A 1
#define RR_TYPE_AAAA 28
#define RR_TYPE_SRV 33
#define RR_TYPE_TLSA 52
#define RR_CLASS_IN 1

/* CNAME hops followed by hand (libunbound's local data does not chase). */
#define MAX_CNAME_HOPS 8

/* The target index of the guess's lookups (struct xs2s_resolve_query). */
#define GUESS SIZE_MAX

static void on_answer(void *mydata, int err, struct ub_result *res);

static void record(xs2s_resolve_query *q, enum lookup lookup, size_t index,
                   const outcome *o, const struct ub_result *res);

/* ---- verdicts -------------------------------------------------------- */

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

bool xs2s__parse_literal(const char *s, xs2s_resolve_addr *a) {
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

/* ---- lookups --------------------------------------------------------- */

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
  xs2s__query_step(q);
}

/* Cancels every lookup in flight; with @as_timeout each one counts as
 * failed with XS2S_ERR_DNS_TIMEOUT. */
static void cancel_lookups(xs2s_resolve_query *q, bool as_timeout) {
  while (q->subs) {
    sub *s = q->subs;
    enum lookup lookup = s->lookup;
    size_t index = s->index;
    unlink_sub(s);
    ub_cancel(q->r->ub, s->async_id);
    q->pending--;
    xs2s__free(&q->r->mem, s);
    if (as_timeout) {
      outcome o = failed(XS2S_ERR_DNS_TIMEOUT);
      record(q, lookup, index, &o, NULL);
    }
  }
}

void xs2s__query_expire(xs2s_resolve_query *q) {
  q->expired = true;
  cancel_lookups(q, true);
  xs2s__query_step(q);
}

/* ---- recording answers ----------------------------------------------- */

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

/* Where an address answer for target @index goes: the guess (GUESS) is
 * kept aside until a target takes it over. */
static target *addr_target(xs2s_resolve_query *q, size_t index) {
  if (index != GUESS)
    return &q->targets[index];
  return q->guess_target != SIZE_MAX ? &q->targets[q->guess_target]
                                     : &q->guess;
}

static void record(xs2s_resolve_query *q, enum lookup lookup, size_t index,
                   const outcome *o, const struct ub_result *res) {
  switch (lookup) {
  case LOOKUP_SRV:
    record_srv(q, &q->srv[index], o, res);
    break;
  case LOOKUP_A:
    record_addr(q, addr_target(q, index), AF_INET, o, res);
    break;
  case LOOKUP_AAAA:
    record_addr(q, addr_target(q, index), AF_INET6, o, res);
    break;
  case LOOKUP_TLSA:
    record_tlsa(q, &q->cands[index], o, res);
    break;
  }
}

/* ---- stages ---------------------------------------------------------- */

static void guess_settle(xs2s_resolve_query *q);

static void fail(xs2s_resolve_query *q, int error) {
  q->error = error;
  q->stage = STAGE_DONE;
  guess_settle(q); /* dropped: a query is done with nothing in flight */
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

/* Cancels the guess's lookups still in flight. */
static void guess_cancel(xs2s_resolve_query *q) {
  for (sub *s = q->subs, *next; s; s = next) {
    next = s->next;
    if (s->index != GUESS || (s->lookup != LOOKUP_A &&
                              s->lookup != LOOKUP_AAAA))
      continue;
    unlink_sub(s);
    ub_cancel(q->r->ub, s->async_id);
    q->pending--;
    xs2s__free(&q->r->mem, s);
  }
}

/* The SRV stage is over: a target named like the domain takes the guess
 * over (its answers, and those still to come); otherwise the guess is
 * dropped. */
static void guess_settle(xs2s_resolve_query *q) {
  if (!q->guess_started)
    return;
  q->guess_started = false;
  for (size_t i = 0; q->stage == STAGE_ADDR && i < q->ntargets; i++) {
    target *t = &q->targets[i];
    if (t->naddrs == 0 && strcasecmp(t->name, q->domain) == 0) {
      t->addrs = q->guess.addrs;
      t->naddrs = q->guess.naddrs;
      t->cap = q->guess.cap;
      t->fam[0] = q->guess.fam[0];
      t->fam[1] = q->guess.fam[1];
      q->guess.addrs = NULL;
      q->guess.naddrs = q->guess.cap = 0;
      q->guess_target = i;
      return;
    }
  }
  guess_cancel(q);
}

/* Whether the current stage has every answer it waits for: the SRV stage
 * does not wait for the guess. */
static bool stage_ready(const xs2s_resolve_query *q) {
  if (q->stage != STAGE_SRV || !q->guess_started)
    return q->pending == 0;
  unsigned guesses = 0;
  for (const sub *s = q->subs; s; s = s->next)
    guesses += s->index == GUESS &&
               (s->lookup == LOOKUP_A || s->lookup == LOOKUP_AAAA);
  return q->pending == guesses;
}

/* Starts the address lookups of every target that is not a literal.
 * Returns the first failure to start one (already recorded). */
static int start_addr_stage(xs2s_resolve_query *q) {
  int rc = 0;
  q->stage = STAGE_ADDR;
  guess_settle(q);
  for (size_t i = 0; i < q->ntargets; i++) {
    target *t = &q->targets[i];
    if (t->naddrs > 0 || i == q->guess_target)
      continue; /* an IP literal, or asked already */
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

void xs2s__query_step(xs2s_resolve_query *q) {
  while (stage_ready(q) && q->stage != STAGE_DONE) {
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
}

/* ---- starting and freeing -------------------------------------------- */

void xs2s__query_free(xs2s_resolve_query *q) {
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
  xs2s__free(m, q->guess.addrs);
  xs2s__free(m, q->targets);
  xs2s__free(m, q->cands);
  xs2s__free(m, q->domain);
  xs2s__free(m, q->why_bogus);
  xs2s__free(m, q);
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
    if (xs2s__parse_literal(rt->host, &lit))
      rc = add_literal_cand(q, &lit, rt->port, rt->tls);
    else /* secure is the neutral start: the address answers decide */
      rc = add_cand(q, rt->host, rt->port, 0, 0, rt->tls, XS2S_DNSSEC_SECURE);
  }
  xs2s__free(m, mine);
  xs2s__free(m, keys);
  xs2s__free(m, order);
  return rc;
}

int xs2s__query_begin(xs2s_resolve_query *q) {
  q->guess_target = SIZE_MAX;
  bool routed;
  int rc = route_cands(q, &routed);
  if (rc < 0 || routed)
    return rc < 0 ? rc : start_addr_stage(q);
  xs2s_resolve_addr lit;
  if (xs2s__parse_literal(q->domain, &lit)) {
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
  if (rc == 0) {
    /* A failure to start is recorded in the guess, as the address stage
     * would have recorded it. */
    q->guess_started = true;
    q->guess.fam[0].kind = q->guess.fam[1].kind = ANS_NODATA;
    start_named(q, LOOKUP_AAAA, GUESS, "", q->domain);
    start_named(q, LOOKUP_A, GUESS, "", q->domain);
  }
  return rc;
}

void xs2s__query_cancel(xs2s_resolve_query *q) {
  cancel_lookups(q, false);
}
