/*
 * resolve_int.h: the resolver's internal state, shared by resolve.c (the
 * resolver, its event-loop API and the delivery of results) and
 * resolve_query.c (one resolution's lookups and stages).
 */
#ifndef XS2S_RESOLVE_INT_H
#define XS2S_RESOLVE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <xs2s/resolve.h>

#include "srv.h"

struct ub_ctx;

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
  xs2s_resolve_query *prev, *next; /* in r->active or r->done */
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
  /* The domain's own A and AAAA, asked alongside the SRV lookups, so that
   * the fallback (no SRV records) or an SRV target naming the domain does
   * not wait for one more round (resolve_query.c, "guess"). */
  bool guess_started;
  target guess;
  size_t guess_target; /* the target that took it over, or SIZE_MAX */
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

/* Parses an IPv4 or IPv6 literal, the latter with or without brackets. */
bool xs2s__parse_literal(const char *s, xs2s_resolve_addr *a);

/* Starts the first stage of a new query: static routes, an IP literal, or
 * the two SRV lookups. Returns 0 or the first failure to start a lookup. */
int xs2s__query_begin(xs2s_resolve_query *q);

/* Judges every stage with nothing left in flight and starts the next;
 * q->stage is STAGE_DONE once the result is known. */
void xs2s__query_step(xs2s_resolve_query *q);

/* The deadline passed: what is in flight fails with XS2S_ERR_DNS_TIMEOUT,
 * nothing new starts, and the query finishes. */
void xs2s__query_expire(xs2s_resolve_query *q);

/* Cancels every lookup in flight without recording anything. */
void xs2s__query_cancel(xs2s_resolve_query *q);

/* Frees a query that is on no list and has no lookup in flight. */
void xs2s__query_free(xs2s_resolve_query *q);

#endif /* XS2S_RESOLVE_INT_H */
