/*
 * test_trim.c: idle connections give memory back ("trim" timeout) and
 * carry on as before: two engines with TLS and certificates (and without
 * TLS) exchange stanzas, idle past the trim timeout, and exchange more;
 * whitespace keepalives in between. The test looks inside the engines
 * (internal headers) to see that the parsers did hibernate. It runs in a
 * network namespace of its own (needs root), on 127.0.0.61-62.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ctx_int.h"
#include "ctx_node.h"
#include "parser_internal.h"
#include "session_int.h"

/* Connections of @n whose parser is hibernating, and all of them. */
static int hibernating(const node *n, int *total) {
  int h = 0, t = 0;
  for (const xs2s__conn *c = n->ctx->conns; c; c = c->next) {
    if (!c->session)
      continue;
    t++;
    h += xs2s__parser_hibernating(c->session->parser);
  }
  if (total)
    *total = t;
  return h;
}

static node_opts opts(const char *domain, const char *listen, int tls,
                      uint64_t trim) {
  node_opts o;
  memset(&o, 0, sizeof(o));
  o.domain = domain;
  o.listen = listen;
  o.timeouts[XS2S_TIMEOUT_TRIM] = trim;
  o.timeout_set[XS2S_TIMEOUT_TRIM] = 1;
  if (tls) {
    o.certs = 1;
    o.ca = "ca.pem";
    o.tls = XS2S_TLS_REQUIRED;
    o.require_cert = 1;
  }
  return o;
}

typedef struct want {
  node *n;
  int count;
} want;

static int has(void *arg) {
  want *w = arg;
  return w->n->ngot >= w->count;
}

/* Sends @body both ways and waits for both. */
static void exchange(node *a, node *b, const char *body) {
  node *ns[2] = {a, b};
  int ga = a->ngot, gb = b->ngot;
  CHECK_INT(node_send(a, "alice@a.test", "bob@b.test", body, NULL), 0);
  CHECK_INT(node_send(b, "bob@b.test", "alice@a.test", body, NULL), 0);
  want wa = {a, ga + 1}, wb = {b, gb + 1};
  CHECK(node_run(ns, 2, has, &wb, 10000));
  CHECK(node_run(ns, 2, has, &wa, 10000));
  CHECK_STR(a->last_body, body);
  CHECK_STR(b->last_body, body);
}

static void run_case(int tls) {
  node a, b;
  node_opts oa = opts("a.test", "127.0.0.61:5269", tls, 100);
  node_opts ob = opts("b.test", "127.0.0.62:5269", tls, 100);
  /* A keepalive every 250 ms: it wakes the receiving parser, which
   * hibernates again with the space still unparsed. */
  oa.timeouts[XS2S_TIMEOUT_KEEPALIVE] = ob.timeouts[XS2S_TIMEOUT_KEEPALIVE] =
      250;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  exchange(&a, &b, "first");
  int total = 0;
  /* Busy streams are not trimmed mid-way: right after traffic, nothing
   * hibernates yet. */
  CHECK_INT(hibernating(&a, &total) + hibernating(&b, NULL), 0);
  node_run_for(ns, 2, 400);
  int ha = hibernating(&a, &total);
  CHECK(total >= 1);
  int hb = hibernating(&b, NULL);
  CHECK(ha + hb >= 2);
  for (int round = 0; round < 5; round++) {
    char body[32];
    snprintf(body, sizeof(body), "after idle %d \xc3\xa9 &amp;", round);
    exchange(&a, &b, body);
    node_run_for(ns, 2, 150 + 100 * round);
  }
  /* Through keepalives, many wake-ups and sleeps: still the same
   * streams, no errors, no bounces. */
  xs2s_counters ca, cb;
  xs2s_ctx_counters(a.ctx, &ca);
  xs2s_ctx_counters(b.ctx, &cb);
  CHECK_INT(a.bounces + b.bounces, 0);
  CHECK_INT(ca.connections_out, 1);
  CHECK_INT(cb.connections_out, 1);
  CHECK_INT(a.downs + b.downs, 0);
  node_stop(&a);
  node_stop(&b);
}

static void test_trim_tls(void) { run_case(1); }
static void test_trim_plain(void) { run_case(0); }

/* "trim" 0: never. */
static void test_trim_off(void) {
  node a, b;
  node_opts oa = opts("a.test", "127.0.0.61:5269", 1, 0);
  node_opts ob = opts("b.test", "127.0.0.62:5269", 1, 0);
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  exchange(&a, &b, "one");
  node_run_for(ns, 2, 300);
  CHECK_INT(hibernating(&a, NULL) + hibernating(&b, NULL), 0);
  node_stop(&a);
  node_stop(&b);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_trim CERTS_DIR\n");
    return 2;
  }
  node_certs_dir = argv[1];
  if (node_enter_netns() < 0)
    return 1;
  if (node_setup_dns("  local-data: \"a.test. 60 IN A 127.0.0.61\"\n"
                     "  local-data: \"b.test. 60 IN A 127.0.0.62\"\n") < 0)
    return 2;
  RUN(test_trim_tls);
  RUN(test_trim_plain);
  RUN(test_trim_off);
  node_cleanup_dns();
  return check_finish();
}
