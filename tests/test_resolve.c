/*
 * The resolver on real libunbound answers: local data from
 * tests/data/resolve-local.conf (argv[1]), plus configurations written
 * here for a silent server (timeout) and a failing one (SERVFAIL), both on
 * loopback sockets this test owns.
 *
 *   test_resolve CONF [DRAWS]   DRAWS: resolutions for the weight test
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <xs2s/resolve.h>

#include "check.h"
#include "dns_fake.h"
#include "rng.h"

static const char *conf_path;
static int draws = 10000;
static char tmpdir[64];

typedef struct got {
  int calls;
  xs2s_resolve_result *res;
} got;

static void on_result(const xs2s_resolve_result *res, void *ud) {
  got *g = ud;
  g->calls++;
  xs2s_resolve_result_free(g->res);
  g->res = NULL;
  CHECK_INT(xs2s_resolve_result_copy(res, NULL, &g->res), 0);
}

static xs2s_resolver *make_with(const char *conf, uint64_t *seed) {
  xs2s_resolver_options o = {0};
  o.unbound_conf = conf;
  o.random = test_rng;
  o.random_user_data = seed;
  xs2s_resolver *r = NULL;
  CHECK_INT(xs2s_resolver_new(&r, &o), 0);
  return r;
}

static xs2s_resolver *make(uint64_t *seed) {
  return make_with(conf_path, seed);
}

/* Resolves @domain to completion; the caller frees the copy. */
static xs2s_resolve_result *resolve(xs2s_resolver *r, const char *domain) {
  got g = {0};
  CHECK_INT(xs2s_resolve(r, domain, on_result, &g, NULL), 0);
  CHECK_INT(xs2s_resolver_wait(r, 20000), 0);
  CHECK_INT(g.calls, 1);
  if (!g.res) {
    /* Keep the checks below from dereferencing NULL. */
    static xs2s_resolve_result empty;
    empty.error = XS2S_ERR_INTERNAL;
    xs2s_resolve_result_copy(&empty, NULL, &g.res);
  }
  return g.res;
}

/* "192.0.2.1:5269" or "[2001:db8::1]:5269". */
static const char *addr_text(const xs2s_resolve_addr *a) {
  static char buf[INET6_ADDRSTRLEN + 16];
  char ip[INET6_ADDRSTRLEN];
  if (a->sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
    snprintf(buf, sizeof(buf), "[%s]:%u", ip, ntohs(a->in6.sin6_port));
  } else {
    inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
    snprintf(buf, sizeof(buf), "%s:%u", ip, ntohs(a->in.sin_port));
  }
  return buf;
}

/* The candidates as "host:port/priority/weight/tls" joined by spaces. */
static const char *describe(const xs2s_resolve_result *res) {
  static char buf[2048];
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < res->ncandidates; i++) {
    const xs2s_resolve_candidate *c = &res->candidates[i];
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s:%u/%u/%u/%s",
                          i ? " " : "", c->host, c->port, c->priority,
                          c->weight, xs2s_resolve_tls_name(c->tls));
  }
  return buf;
}

static size_t index_of(const xs2s_resolve_result *res, const char *host) {
  for (size_t i = 0; i < res->ncandidates; i++)
    if (strcmp(res->candidates[i].host, host) == 0)
      return i;
  return (size_t)-1;
}

/* ---- SRV selection ---------------------------------------------------- */

static void test_google_set(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  int first20[4] = {0};
  for (int round = 0; round < 200; round++) {
    xs2s_resolve_result *res = resolve(r, "google.example");
    CHECK_INT(res->error, 0);
    CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_SRV);
    CHECK_INT(res->ncandidates, 5);
    if (res->ncandidates == 5) {
      const xs2s_resolve_candidate *c = res->candidates;
      CHECK_STR(c[0].host, "xmpp-server.l.google.example");
      CHECK_INT(c[0].priority, 5);
      CHECK_INT(c[0].naddrs, 2);
      if (c[0].naddrs == 2) {
        CHECK_STR(addr_text(&c[0].addrs[0]), "[2001:db8::5]:5269");
        CHECK_STR(addr_text(&c[0].addrs[1]), "192.0.2.5:5269");
      }
      for (size_t i = 1; i < 5; i++) {
        CHECK_INT(c[i].priority, 20);
        CHECK_INT(c[i].port, 5269);
        CHECK_INT(c[i].tls, XS2S_RESOLVE_TLS_STARTTLS);
        CHECK_INT(c[i].dnssec, XS2S_DNSSEC_INSECURE);
        CHECK_INT(c[i].naddrs, 1);
        CHECK_INT(c[i].tlsa_checked, 0);
      }
      int alt = c[1].host[3] - '1';
      if (alt >= 0 && alt < 4)
        first20[alt]++;
    }
    xs2s_resolve_result_free(res);
  }
  /* Equal weights: each alt leads its priority about a quarter of the time. */
  printf("priority-20 leaders over 200 resolutions: %d %d %d %d\n",
         first20[0], first20[1], first20[2], first20[3]);
  for (int i = 0; i < 4; i++)
    CHECK(first20[i] >= 25);
  xs2s_resolver_free(r);
}

static void test_weight_distribution(void) {
  uint64_t seed = 20260101;
  xs2s_resolver *r = make(&seed);
  int first[3] = {0}, other = 0;
  for (int i = 0; i < draws; i++) {
    xs2s_resolve_result *res = resolve(r, "weighted.example");
    CHECK_INT(res->ncandidates, 3);
    if (res->ncandidates > 0) {
      int w = res->candidates[0].weight;
      if (w == 60)
        first[0]++;
      else if (w == 30)
        first[1]++;
      else if (w == 10)
        first[2]++;
      else
        other++;
    }
    xs2s_resolve_result_free(res);
  }
  printf("first picks over %d resolutions: w60 %.2f%%, w30 %.2f%%, "
         "w10 %.2f%%\n",
         draws, first[0] * 100.0 / draws, first[1] * 100.0 / draws,
         first[2] * 100.0 / draws);
  CHECK_INT(other, 0);
  CHECK(abs(first[0] * 100 - 60 * draws) <= 2 * draws);
  CHECK(abs(first[1] * 100 - 30 * draws) <= 2 * draws);
  CHECK(abs(first[2] * 100 - 10 * draws) <= 2 * draws);
  xs2s_resolver_free(r);
}

static void test_zero_weight(void) {
  uint64_t seed = 5;
  xs2s_resolver *r = make(&seed);
  int w10_first = 0, zero_first = 0;
  for (int i = 0; i < 440; i++) {
    xs2s_resolve_result *res = resolve(r, "zero.example");
    CHECK_INT(res->error, 0);
    CHECK_INT(res->ncandidates, 3);
    CHECK(index_of(res, "z1.zero.example") != (size_t)-1);
    CHECK(index_of(res, "z2.zero.example") != (size_t)-1);
    if (res->ncandidates == 3) {
      if (res->candidates[0].weight == 10)
        w10_first++;
      else
        zero_first++;
    }
    xs2s_resolve_result_free(res);
  }
  /* Zero-weight records lead only when the draw is 0: 1 time in 11. */
  CHECK(w10_first > 360);
  CHECK(zero_first > 10);
  xs2s_resolver_free(r);
}

static void test_no_service(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  xs2s_resolve_result *res = resolve(r, "noservice.example");
  CHECK_INT(res->error, XS2S_ERR_DNS_NO_SERVICE);
  CHECK_INT(res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  CHECK_INT(res->ncandidates, 0); /* no fallback to its A record */
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_SRV);
  xs2s_resolve_result_free(res);

  /* "." for STARTTLS does not hide the direct TLS records. */
  res = resolve(r, "tlsonly.example");
  CHECK_INT(res->error, 0);
  CHECK_STR(describe(res), "tls.tlsonly.example:5223/0/0/direct");
  xs2s_resolve_result_free(res);
  xs2s_resolver_free(r);
}

static void test_fallback(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  /* NXDOMAIN for both SRV names. */
  xs2s_resolve_result *res = resolve(r, "plain.example");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
  CHECK_STR(describe(res), "plain.example:5269/0/0/starttls");
  if (res->ncandidates == 1 && res->candidates[0].naddrs == 2) {
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "[2001:db8::80]:5269");
    CHECK_STR(addr_text(&res->candidates[0].addrs[1]), "192.0.2.80:5269");
  } else {
    CHECK(0);
  }
  xs2s_resolve_result_free(res);

  /* NODATA for _xmpp-server (a TXT record sits there). */
  res = resolve(r, "nodata.example");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
  CHECK_STR(describe(res), "nodata.example:5269/0/0/starttls");
  xs2s_resolve_result_free(res);

  /* The domain does not exist at all. */
  res = resolve(r, "nx.example");
  CHECK_INT(res->error, XS2S_ERR_DNS_NXDOMAIN);
  CHECK_INT(res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1)
    CHECK_INT(res->candidates[0].error, XS2S_ERR_DNS_NXDOMAIN);
  xs2s_resolve_result_free(res);

  /* It exists, but has neither SRV nor addresses. */
  res = resolve(r, "bare.example");
  CHECK_INT(res->error, XS2S_ERR_DNS_NO_ADDRESS);
  CHECK_INT(res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  xs2s_resolve_result_free(res);
  xs2s_resolver_free(r);
}

static void test_direct_tls_merge(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  xs2s_resolve_result *res = resolve(r, "merged.example");
  CHECK_INT(res->error, 0);
  CHECK_STR(describe(res), "tls.merged.example:5223/5/1/direct "
                           "xmpp.merged.example:5269/10/1/starttls "
                           "tls443.merged.example:443/20/1/direct");
  if (res->ncandidates == 3)
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "192.0.2.91:5223");
  xs2s_resolve_result_free(res);
  xs2s_resolver_free(r);
}

static void test_targets(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  /* Only AAAA. */
  xs2s_resolve_result *res = resolve(r, "v6only.example");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1) {
    CHECK_INT(res->candidates[0].naddrs, 1);
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "[2001:db8::6]:5269");
  }
  xs2s_resolve_result_free(res);

  /* Two AAAA and three A: 6 4 6 4 4. */
  res = resolve(r, "multi.example");
  CHECK_INT(res->error, 0);
  if (res->ncandidates == 1 && res->candidates[0].naddrs == 5) {
    const xs2s_resolve_addr *a = res->candidates[0].addrs;
    const int families[] = {AF_INET6, AF_INET, AF_INET6, AF_INET, AF_INET};
    for (int i = 0; i < 5; i++)
      CHECK_INT(a[i].sa.sa_family, families[i]);
  } else {
    CHECK(0);
  }
  xs2s_resolve_result_free(res);

  /* A CNAME'd target: the candidate keeps the SRV target's name. */
  res = resolve(r, "cname.example");
  CHECK_INT(res->error, 0);
  CHECK_STR(describe(res), "alias.cname.example:5269/0/0/starttls");
  if (res->ncandidates == 1 && res->candidates[0].naddrs == 1)
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "192.0.2.150:5269");
  else
    CHECK(0);
  xs2s_resolve_result_free(res);

  /* The only target does not exist. */
  res = resolve(r, "deadtarget.example");
  CHECK_INT(res->error, XS2S_ERR_DNS_NXDOMAIN);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_SRV);
  CHECK_INT(res->ncandidates, 1);
  xs2s_resolve_result_free(res);

  /* One target of two does not exist: still a success. */
  res = resolve(r, "halfdead.example");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->ncandidates, 2);
  if (res->ncandidates == 2) {
    CHECK_STR(res->candidates[0].host, "gone.halfdead.example");
    CHECK_INT(res->candidates[0].error, XS2S_ERR_DNS_NXDOMAIN);
    CHECK_INT(res->candidates[0].naddrs, 0);
    CHECK_INT(res->candidates[1].error, 0);
    CHECK_INT(res->candidates[1].naddrs, 1);
  }
  xs2s_resolve_result_free(res);

  /* The SRV target is the domain itself, and elsewhere. */
  res = resolve(r, "self.example");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_SRV);
  CHECK_STR(describe(res), "self.example:5270/0/0/starttls");
  if (res->ncandidates == 1 && res->candidates[0].naddrs == 2) {
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "[2001:db8::160]:5270");
    CHECK_STR(addr_text(&res->candidates[0].addrs[1]), "192.0.2.160:5270");
  } else {
    CHECK(0);
  }
  xs2s_resolve_result_free(res);
  res = resolve(r, "away.example");
  CHECK_INT(res->error, 0);
  CHECK_STR(describe(res), "xmpp.away.example:5269/0/0/starttls");
  if (res->ncandidates == 1 && res->candidates[0].naddrs == 1)
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "192.0.2.161:5269");
  else
    CHECK(0);
  xs2s_resolve_result_free(res);
  /* No SRV, and the domain's address behind a CNAME. */
  res = resolve(r, "chased.example");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
  if (res->ncandidates == 1 && res->candidates[0].naddrs == 1)
    CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "192.0.2.150:5269");
  else
    CHECK(0);
  xs2s_resolve_result_free(res);

  /* Names under test. resolve from local data as well. */
  res = resolve(r, "chat.test");
  CHECK_INT(res->error, 0);
  CHECK_STR(describe(res), "xmpp.chat.test:5269/0/0/starttls");
  xs2s_resolve_result_free(res);

  /* Case and a trailing dot do not matter; the domain is kept as given. */
  res = resolve(r, "Merged.EXAMPLE.");
  CHECK_INT(res->error, 0);
  CHECK_STR(res->domain, "Merged.EXAMPLE");
  CHECK_INT(res->ncandidates, 3);
  xs2s_resolve_result_free(res);
  xs2s_resolver_free(r);
}

/* ---- static routes, literals, arguments ------------------------------- */

static void test_static_routes(void) {
  uint64_t seed = 3;
  xs2s_resolver *r = make(&seed);
  CHECK_INT(xs2s_resolver_add_route(r, "routed.example", "192.0.2.200", 5270,
                                    XS2S_RESOLVE_TLS_STARTTLS),
            0);
  CHECK_INT(xs2s_resolver_add_route(r, "ROUTED.example.",
                                    "relay.routes.example", 0,
                                    XS2S_RESOLVE_TLS_DIRECT),
            0);
  /* Routes for another domain do not interfere. */
  CHECK_INT(xs2s_resolver_add_route(r, "plain.example",
                                    "missing.routes.example", 0,
                                    XS2S_RESOLVE_TLS_STARTTLS),
            0);
  int relay_first = 0;
  for (int i = 0; i < 40; i++) {
    xs2s_resolve_result *res = resolve(r, "routed.example");
    CHECK_INT(res->error, 0);
    CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_STATIC);
    CHECK_INT(res->ncandidates, 2);
    size_t lit = index_of(res, "192.0.2.200");
    size_t relay = index_of(res, "relay.routes.example");
    CHECK(lit != (size_t)-1 && relay != (size_t)-1);
    CHECK(index_of(res, "xmpp.routed.example") == (size_t)-1);
    if (lit != (size_t)-1 && relay != (size_t)-1) {
      const xs2s_resolve_candidate *c = res->candidates;
      CHECK_INT(c[lit].port, 5270);
      CHECK_INT(c[lit].dnssec, XS2S_DNSSEC_INSECURE);
      CHECK_STR(addr_text(&c[lit].addrs[0]), "192.0.2.200:5270");
      CHECK_INT(c[relay].port, 5269);
      CHECK_INT(c[relay].tls, XS2S_RESOLVE_TLS_DIRECT);
      CHECK_STR(addr_text(&c[relay].addrs[0]), "192.0.2.171:5269");
      relay_first += relay == 0;
    }
    xs2s_resolve_result_free(res);
  }
  /* Equal routes take turns at the front. */
  CHECK(relay_first > 5 && relay_first < 35);

  /* A route that fails does not fall back to DNS (plain.example has an
   * address the fallback would find). */
  xs2s_resolve_result *res = resolve(r, "plain.example");
  CHECK_INT(res->error, XS2S_ERR_DNS_NXDOMAIN);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_STATIC);
  CHECK_STR(describe(res), "missing.routes.example:5269/0/0/starttls");
  xs2s_resolve_result_free(res);

  /* Literal routes only: answered before xs2s_resolve() returns. */
  CHECK_INT(xs2s_resolver_add_route(r, "literal.example", "[2001:db8::99]",
                                    5299, XS2S_RESOLVE_TLS_STARTTLS),
            0);
  got g = {0};
  xs2s_resolve_query *q = (xs2s_resolve_query *)&g;
  CHECK_INT(xs2s_resolve(r, "literal.example", on_result, &g, &q), 0);
  CHECK_INT(g.calls, 1);
  CHECK(q == NULL);
  CHECK_INT(xs2s_resolver_pending(r), 0);
  if (g.res) {
    CHECK_INT(g.res->error, 0);
    CHECK_STR(describe(g.res), "2001:db8::99:5299/0/0/starttls");
    CHECK_STR(addr_text(&g.res->candidates[0].addrs[0]),
              "[2001:db8::99]:5299");
  }
  xs2s_resolve_result_free(g.res);

  CHECK_INT(xs2s_resolver_add_route(r, "x.example", "bad host", 1,
                                    XS2S_RESOLVE_TLS_STARTTLS),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_resolver_add_route(r, "", "192.0.2.1", 1,
                                    XS2S_RESOLVE_TLS_STARTTLS),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_resolver_add_route(r, "x.example", "192.0.2.1", 1,
                                    (xs2s_resolve_tls)7),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s_resolver_free(r);
}

static void test_literals_and_arguments(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  got g = {0};
  CHECK_INT(xs2s_resolve(r, "192.0.2.55", on_result, &g, NULL), 0);
  CHECK_INT(g.calls, 1);
  if (g.res) {
    CHECK_INT(g.res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
    CHECK_STR(describe(g.res), "192.0.2.55:5269/0/0/starttls");
  }
  CHECK_INT(xs2s_resolve(r, "[2001:db8::55]", on_result, &g, NULL), 0);
  CHECK_INT(g.calls, 2);
  if (g.res) {
    CHECK_STR(describe(g.res), "2001:db8::55:5269/0/0/starttls");
    CHECK_STR(addr_text(&g.res->candidates[0].addrs[0]),
              "[2001:db8::55]:5269");
  }
  xs2s_resolve_result_free(g.res);

  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  const char *bad[] = {"", ".", "a..b", "bad domain", "-\n", longname,
                       "a.b/c"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(xs2s_resolve(r, bad[i], on_result, &g, NULL),
              XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_resolve(r, "plain.example", NULL, &g, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(g.calls, 2);
  CHECK_INT(xs2s_resolver_pending(r), 0);
  CHECK_INT(xs2s_resolver_timeout(r), -1);
  CHECK_INT(xs2s_resolver_wait(r, 0), 0);
  xs2s_resolver_free(r);
}

/* ---- cancel ----------------------------------------------------------- */

typedef struct pair {
  xs2s_resolve_query *other;
  int calls;
} pair;

static void cancel_other(const xs2s_resolve_result *res, void *ud) {
  pair *p = ud;
  (void)res;
  p->calls++;
  /* The other query may be in flight or finished and waiting. */
  xs2s_resolve_cancel(p->other);
}

static void test_cancel(void) {
  uint64_t seed = 1;
  xs2s_resolver *r = make(&seed);
  got g = {0};
  xs2s_resolve_query *q = NULL;
  CHECK_INT(xs2s_resolve(r, "google.example", on_result, &g, &q), 0);
  CHECK(q != NULL);
  CHECK_INT(xs2s_resolver_pending(r), 1);
  CHECK(xs2s_resolver_timeout(r) > 0);
  xs2s_resolve_cancel(q);
  CHECK_INT(xs2s_resolver_pending(r), 0);
  CHECK_INT(xs2s_resolver_wait(r, 2000), 0);
  /* Answers of the cancelled lookups may still arrive: ignored. */
  usleep(20000);
  CHECK_INT(xs2s_resolver_process(r), 0);
  CHECK_INT(g.calls, 0);

  /* Two queries, each cancelling the other from its callback: exactly
   * one callback runs, whichever finishes first. */
  pair a = {0}, b = {0};
  xs2s_resolve_query *qa = NULL, *qb = NULL;
  CHECK_INT(xs2s_resolve(r, "merged.example", cancel_other, &a, &qa), 0);
  CHECK_INT(xs2s_resolve(r, "multi.example", cancel_other, &b, &qb), 0);
  a.other = qb;
  b.other = qa;
  CHECK_INT(xs2s_resolver_wait(r, 20000), 0);
  CHECK_INT(a.calls + b.calls, 1);

  /* Freeing the resolver with queries in flight calls nothing back. */
  CHECK_INT(xs2s_resolve(r, "weighted.example", on_result, &g, NULL), 0);
  CHECK_INT(xs2s_resolve(r, "zero.example", on_result, &g, NULL), 0);
  xs2s_resolver_free(r);
  CHECK_INT(g.calls, 0);
}

/* ---- configuration ---------------------------------------------------- */

/* Writes @text to @name in the scratch directory; returns the path, which
 * stays valid for the next three calls. */
static const char *write_conf(const char *name, const char *text) {
  static char paths[4][128];
  static int next;
  char *path = paths[next++ % 4];
  snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  return path;
}

static void test_config_errors(void) {
  xs2s_resolver_options o = {0};
  xs2s_resolver *r = (xs2s_resolver *)&o;
  o.unbound_conf = "/nonexistent/unbound.conf";
  CHECK_INT(xs2s_resolver_new(&r, &o), XS2S_ERR_RESOLVER_CONFIG);
  CHECK(r == NULL);
  o.unbound_conf = write_conf("syntax.conf", "server:\n  no-such-option: 1\n");
  CHECK_INT(xs2s_resolver_new(&r, &o), XS2S_ERR_RESOLVER_CONFIG);
  o.unbound_conf = conf_path;
  o.resolv_conf = "/nonexistent/resolv.conf";
  CHECK_INT(xs2s_resolver_new(&r, &o), XS2S_ERR_RESOLVER_CONFIG);
  CHECK_INT(xs2s_resolver_new(NULL, NULL), XS2S_ERR_INVALID_ARGUMENT);

  /* A resolv.conf and hosts file of our own, with no DNS needed: the
   * hosts entry answers the fallback's address lookups. */
  xs2s_resolver_options h = {0};
  h.resolv_conf = write_conf("resolv.conf", "nameserver 127.0.0.1\n");
  h.hosts_file = write_conf("hosts", "192.0.2.33 hosted.example\n");
  h.unbound_conf = write_conf("hosts-only.conf",
                              "server:\n  local-zone: \"example.\" static\n");
  CHECK_INT(xs2s_resolver_new(&r, &h), 0);
  if (r) {
    xs2s_resolve_result *res = resolve(r, "hosted.example");
    CHECK_INT(res->error, 0);
    CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
    if (res->ncandidates == 1 && res->candidates[0].naddrs == 1)
      CHECK_STR(addr_text(&res->candidates[0].addrs[0]), "192.0.2.33:5269");
    else
      CHECK(0);
    xs2s_resolve_result_free(res);
    xs2s_resolver_free(r);
  }
}

/* ---- failing servers -------------------------------------------------- */

/* A UDP socket on 127.0.0.1 with a kernel-chosen port. */
/* A libunbound configuration sending @zone to the fake server @d. */
static const char *stub_conf(const char *name, const char *zone,
                             const dns_fake *d) {
  char text[512];
  dns_fake_stub_conf(d, zone, text, sizeof(text));
  return write_conf(name, text);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *ud) {
  (void)ud;
  return fake_now;
}

static void test_timeout(void) {
  dns_fake silent; /* receives, never answers */
  CHECK_INT(dns_fake_start(&silent, 0), 0);
  xs2s_resolver_options o = {0};
  o.unbound_conf = stub_conf("silent.conf", "slow.example", &silent);
  o.timeout_ms = 5000;
  o.clock = fake_clock;
  fake_now = 1000;
  xs2s_resolver *r = NULL;
  CHECK_INT(xs2s_resolver_new(&r, &o), 0);
  got g = {0};
  CHECK_INT(xs2s_resolve(r, "slow.example", on_result, &g, NULL), 0);
  CHECK_INT(xs2s_resolver_timeout(r), 5000);
  fake_now = 5999;
  CHECK_INT(xs2s_resolver_timeout(r), 1);
  CHECK_INT(xs2s_resolver_process(r), 0);
  CHECK_INT(g.calls, 0);
  fake_now = 6000;
  CHECK_INT(xs2s_resolver_timeout(r), 0);
  CHECK_INT(xs2s_resolver_process(r), 0);
  CHECK_INT(g.calls, 1);
  if (g.res) {
    CHECK_INT(g.res->error, XS2S_ERR_DNS_TIMEOUT);
    CHECK_INT(g.res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    CHECK_STR(xs2s_stanza_condition_name(g.res->condition),
              "remote-server-timeout");
  }
  CHECK_INT(xs2s_resolver_pending(r), 0);
  CHECK_INT(xs2s_resolver_timeout(r), -1);
  xs2s_resolve_result_free(g.res);
  xs2s_resolver_free(r);
  dns_fake_stop(&silent);
}

static void test_servfail(void) {
  dns_fake s;
  CHECK_INT(dns_fake_start(&s, 1), 0);
  uint64_t seed = 1;
  xs2s_resolver *r =
      make_with(stub_conf("servfail.conf", "broken.example", &s), &seed);
  xs2s_resolve_result *res = resolve(r, "broken.example");
  CHECK_INT(res->error, XS2S_ERR_DNS_SERVFAIL);
  CHECK_INT(res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_NONE);
  xs2s_resolve_result_free(res);
  xs2s_resolver_free(r);
  dns_fake_stop(&s);
}

/* ---- memory ----------------------------------------------------------- */

static long live_blocks;
static void *count_malloc(size_t n, void *ud) {
  (void)ud;
  void *p = malloc(n);
  live_blocks += p != NULL;
  return p;
}
static void *count_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  void *q = realloc(p, n);
  live_blocks += p == NULL && q != NULL;
  return q;
}
static void count_free(void *p, void *ud) {
  (void)ud;
  live_blocks -= p != NULL;
  free(p);
}

static void test_allocator_and_copy(void) {
  xs2s_mem mem = {count_malloc, count_realloc, count_free, NULL};
  uint64_t seed = 1;
  xs2s_resolver_options o = {0};
  o.unbound_conf = conf_path;
  o.random = test_rng;
  o.random_user_data = &seed;
  o.mem = &mem;
  xs2s_resolver *r = NULL;
  CHECK_INT(xs2s_resolver_new(&r, &o), 0);
  CHECK(live_blocks > 0);
  CHECK_INT(xs2s_resolver_add_route(r, "routed.example", "192.0.2.1", 0,
                                    XS2S_RESOLVE_TLS_STARTTLS),
            0);
  xs2s_resolve_result *res = resolve(r, "multi.example");
  xs2s_resolve_result *copy = NULL;
  CHECK_INT(xs2s_resolve_result_copy(res, &mem, &copy), 0);
  CHECK_STR(describe(copy), describe(res));
  CHECK_STR(copy->domain, "multi.example");
  CHECK_INT(copy->candidates[0].naddrs, 5);
  CHECK(memcmp(copy->candidates[0].addrs, res->candidates[0].addrs,
               5 * sizeof(xs2s_resolve_addr)) == 0);
  xs2s_resolve_result_free(copy);
  xs2s_resolve_result_free(res);
  res = resolve(r, "routed.example");
  xs2s_resolve_result_free(res);
  CHECK_INT(xs2s_resolve(r, "google.example", on_result, &(got){0}, NULL), 0);
  xs2s_resolver_free(r);
  CHECK_INT(live_blocks, 0);
}

static void test_names(void) {
  CHECK_STR(xs2s_dnssec_name(XS2S_DNSSEC_SECURE), "secure");
  CHECK_STR(xs2s_dnssec_name(XS2S_DNSSEC_INSECURE), "insecure");
  CHECK_STR(xs2s_dnssec_name(XS2S_DNSSEC_BOGUS), "bogus");
  CHECK(xs2s_dnssec_name((xs2s_dnssec)9) == NULL);
  CHECK_STR(xs2s_resolve_source_name(XS2S_RESOLVE_SOURCE_SRV), "srv");
  CHECK_STR(xs2s_resolve_source_name(XS2S_RESOLVE_SOURCE_STATIC), "static");
  CHECK_STR(xs2s_resolve_source_name(XS2S_RESOLVE_SOURCE_FALLBACK),
            "fallback");
  CHECK_STR(xs2s_resolve_tls_name(XS2S_RESOLVE_TLS_DIRECT), "direct");
  CHECK_STR(xs2s_resolve_tls_name(XS2S_RESOLVE_TLS_STARTTLS), "starttls");
  CHECK_STR(xs2s_error_name(XS2S_ERR_DNS_NO_ADDRESS),
            "XS2S_ERR_DNS_NO_ADDRESS");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s resolve-local.conf [draws]\n", argv[0]);
    return 2;
  }
  conf_path = argv[1];
  if (argc > 2)
    draws = atoi(argv[2]);
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/xs2s-resolve-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_names);
  RUN(test_google_set);
  RUN(test_weight_distribution);
  RUN(test_zero_weight);
  RUN(test_no_service);
  RUN(test_fallback);
  RUN(test_direct_tls_merge);
  RUN(test_targets);
  RUN(test_static_routes);
  RUN(test_literals_and_arguments);
  RUN(test_cancel);
  RUN(test_config_errors);
  RUN(test_timeout);
  RUN(test_servfail);
  RUN(test_allocator_and_copy);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return check_finish();
}
