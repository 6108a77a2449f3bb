/*
 * test_e2e.c: engines talking to each other over loopback.
 *
 *   test_e2e CERTS_DIR
 *
 * Two or three engines run in this one thread, driven by tests/ctx_node.c's
 * poll() loop through the external-loop hooks (the built-in loop is used by
 * xs2s-echo in the examples and interop tests). Names come from
 * libunbound local data written to a temporary file; certificates are the
 * certtool ones of tests/data/make-certs.sh. Addresses: 127.0.0.31-37.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xs2s/xs2s.h>

#include "check.h"
#include "ctx_node.h"

typedef struct want {
  node *n;
  int got;
  int bounces;
} want;

static int have(void *arg) {
  want *w = arg;
  return w->n->ngot >= w->got && w->n->bounces >= w->bounces;
}

static int count_conn(const xs2s_conn_info *in, void *arg) {
  (void)in;
  (void)arg;
  return 0;
}

static int no_conns(void *arg) {
  node **ns = arg;
  return xs2s_ctx_foreach_conn(ns[0]->ctx, count_conn, NULL) == 0 &&
         xs2s_ctx_foreach_conn(ns[1]->ctx, count_conn, NULL) == 0;
}

/* Nothing lost: every accepted stanza was written, bounced or local. */
static void check_books(node *n) {
  xs2s_counters c;
  xs2s_ctx_counters(n->ctx, &c);
  CHECK_INT(c.queued_bytes, 0);
  CHECK_INT(c.stanzas_accepted, c.stanzas_out - c.stanzas_resent -
                                    c.stanzas_bounced_unacked +
                                    c.stanzas_bounced);
}

/* a.test <-> b.test, a message each way (b echoes). */
static void exchange(const node_opts *oa, const node_opts *ob,
                     xs2s_auth_method auth, int tls) {
  node a, b;
  if (node_start(&a, oa) < 0 || node_start(&b, ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "hello", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(b.ngot, 1);
  CHECK_STR(b.got[0], "hello");
  CHECK_INT(a.ngot, 1);
  CHECK_STR(a.got[0], "echo:hello");
  CHECK_INT(a.bounces + b.bounces, 0);
  CHECK(a.ups >= 2); /* a -> b outgoing, b -> a incoming */
  CHECK_INT(a.last_auth, auth);
  CHECK_INT(a.last_tls, tls);
  check_books(&a);
  check_books(&b);
  node_stop(&a);
  node_stop(&b);
}

static node_opts base(const char *domain, const char *listen) {
  node_opts o;
  memset(&o, 0, sizeof(o));
  o.domain = domain;
  o.listen = listen;
  o.tls = XS2S_TLS_OFF;
  return o;
}

static void test_tls_off_dialback(void) {
  node_opts a = base("a.test", "127.0.0.31:5269");
  node_opts b = base("b.test", "127.0.0.32:5269");
  exchange(&a, &b, XS2S_AUTH_DIALBACK, 0);
}

static void test_tls_certificates(void) {
  node_opts a = base("a.test", "127.0.0.31:5269");
  node_opts b = base("b.test", "127.0.0.32:5269");
  a.tls = b.tls = XS2S_TLS_REQUIRED;
  a.certs = b.certs = 1;
  a.ca = b.ca = "ca.pem";
  a.require_cert = b.require_cert = 1;
  exchange(&a, &b, XS2S_AUTH_SASL_EXTERNAL, 1);
}

static void test_tls_dialback(void) {
  /* Certificates nobody trusts: TLS, then dialback. */
  node_opts a = base("a.test", "127.0.0.31:5269");
  node_opts b = base("b.test", "127.0.0.32:5269");
  a.tls = b.tls = XS2S_TLS_REQUIRED;
  a.certs = b.certs = 1;
  a.ca = b.ca = "unknown-ca.pem";
  exchange(&a, &b, XS2S_AUTH_DIALBACK, 1);
}

static void test_static_route(void) {
  /* b.test listens where DNS does not say; a.test's route finds it. */
  node_opts a = base("a.test", "127.0.0.31:5269");
  node_opts b = base("b.test", "127.0.0.32:5299");
  a.route_domain = "b.test";
  a.route_target = "127.0.0.32:5299";
  exchange(&a, &b, XS2S_AUTH_DIALBACK, 0);
}

static void test_srv_second_target(void) {
  /* c.test: SRV priority 0 on 127.0.0.34 (nothing there), 10 on .33. */
  node a, c;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts oc = base("c.test", "127.0.0.33:5269");
  if (node_start(&a, &oa) < 0 || node_start(&c, &oc) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &c};
  CHECK_INT(node_send(&a, "alice@a.test", "carol@c.test", "via srv", NULL), 0);
  want w = {&c, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(c.got[0], "via srv");
  xs2s_counters k;
  xs2s_ctx_counters(a.ctx, &k);
  CHECK(k.connect_failures >= 1);
  node_stop(&a);
  node_stop(&c);
}

static void test_unknown_domain(void) {
  node a;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
    return;
  }
  node *ns[1] = {&a};
  CHECK_INT(node_send(&a, "alice@a.test", "x@nowhere.test", "lost?", NULL), 0);
  CHECK_INT(a.bounces, 0); /* never from inside send */
  want w = {&a, 0, 1};
  CHECK(node_run(ns, 1, have, &w, 10000));
  CHECK_INT(a.bounces, 1);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  /* During the backoff, a send is accepted and bounced the same way. */
  CHECK_INT(node_send(&a, "alice@a.test", "x@nowhere.test", "again", NULL), 0);
  w.bounces = 2;
  CHECK(node_run(ns, 1, have, &w, 5000));
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  check_books(&a);
  node_stop(&a);
}

static void test_unreachable_bounces_all(void) {
  /* down.test has an address where nothing listens. */
  node a;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
    return;
  }
  node *ns[1] = {&a};
  for (int i = 0; i < 7; i++)
    CHECK_INT(node_send(&a, "alice@a.test", "d@down.test", "q", NULL), 0);
  want w = {&a, 0, 7};
  CHECK(node_run(ns, 1, have, &w, 10000));
  CHECK_INT(a.bounces, 7);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  check_books(&a);
  node_stop(&a);
}

static void queue_order(const node_opts *pa, const node_opts *pb) {
  node a, b;
  node_opts oa = *pa, ob = *pb;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  char body[16];
  for (int i = 0; i < 30; i++) {
    snprintf(body, sizeof(body), "m%02d", i);
    CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", body, NULL), 0);
  }
  want w = {&b, 30, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  int in_order = b.ngot == 30;
  for (int i = 0; in_order && i < 30; i++) {
    snprintf(body, sizeof(body), "m%02d", i);
    in_order = strcmp(b.got[i], body) == 0;
  }
  CHECK(in_order);
  /* A burst on the established stream: the engine writes it in one go
   * when the loop turns; every stanza arrives, in order. */
  for (int i = 30; i < 64; i++) {
    snprintf(body, sizeof(body), "m%02d", i);
    CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", body, NULL), 0);
  }
  w.got = 64;
  CHECK(node_run(ns, 2, have, &w, 10000));
  in_order = b.ngot == 64;
  for (int i = 0; in_order && i < 64; i++) {
    snprintf(body, sizeof(body), "m%02d", i);
    in_order = strcmp(b.got[i], body) == 0;
  }
  CHECK(in_order);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

static void test_queue_order(void) {
  node_opts a = base("a.test", "127.0.0.31:5269");
  node_opts b = base("b.test", "127.0.0.32:5269");
  queue_order(&a, &b);
}

/* The same over TLS, where the burst shares TLS records. */
static void test_queue_order_tls(void) {
  node_opts a = base("a.test", "127.0.0.31:5269");
  node_opts b = base("b.test", "127.0.0.32:5269");
  a.tls = b.tls = XS2S_TLS_REQUIRED;
  a.certs = b.certs = 1;
  a.ca = b.ca = "ca.pem";
  a.require_cert = b.require_cert = 1;
  queue_order(&a, &b);
}

static void test_idle_close(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.timeouts[XS2S_TIMEOUT_IDLE] = 300;
  ob.timeouts[XS2S_TIMEOUT_IDLE] = 300;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "hi", NULL), 0);
  want w = {&b, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK(xs2s_ctx_foreach_conn(a.ctx, count_conn, NULL) >= 1);
  CHECK(node_run(ns, 2, no_conns, ns, 10000));
  CHECK(a.downs >= 1);
  CHECK(b.downs >= 1);
  node_stop(&a);
  node_stop(&b);
}

static void test_privacy(void) {
  /* a.test denies b.test: its own sends are refused at once, and b's
   * stanzas never reach it. */
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.privacy = XS2S_PRIVACY_DENY_LIST;
  oa.privacy_domain = "b.test";
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "no", NULL),
            XS2S_ERR_POLICY);
  CHECK_INT(node_send(&b, "bob@b.test", "alice@a.test", "let me in", NULL), 0);
  want w = {&b, 0, 1};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(a.ngot, 0);
  CHECK_INT(b.bounces, 1);
  check_books(&b);
  node_stop(&a);
  node_stop(&b);

  /* Allow list without b.test: the same refusal. */
  oa.privacy = XS2S_PRIVACY_ALLOW_LIST;
  oa.privacy_domain = "c.test";
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
    return;
  }
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "no", NULL),
            XS2S_ERR_POLICY);
  node_stop(&a);
}

/* A peer that answers a.test's stream header with a stream error (as
 * Prosody does when it distrusts a certificate): a.test's bounce carries
 * the peer's condition and text, so that a.test's administrator sees why
 * nothing gets through. The peer is a raw socket served by a thread. */
static void *rude_peer(void *arg) {
  int lfd = *(int *)arg;
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  char buf[1024];
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 5000) == 1 && read(fd, buf, sizeof(buf)) > 0) {
    static const char reply[] =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
        "xmlns:stream='http://etherx.jabber.org/streams' from='rude.test' "
        "to='a.test' id='r1' version='1.0'><stream:error><not-authorized "
        "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
        "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Your server's "
        "certificate is not trusted</text></stream:error></stream:stream>";
    if (write(fd, reply, sizeof(reply) - 1) < 0)
      perror("rude peer");
    while (poll(&p, 1, 2000) == 1 && read(fd, buf, sizeof(buf)) > 0)
      ;
  }
  close(fd);
  return NULL;
}

static void test_peer_refusal_explained(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5269)};
  inet_pton(AF_INET, "127.0.0.37", &sa.sin_addr);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
    CHECK(!"the rude peer listens on 127.0.0.37:5269");
    close(lfd);
    return;
  }
  pthread_t t;
  pthread_create(&t, NULL, rude_peer, &lfd);
  node a;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
  } else {
    node *ns[1] = {&a};
    CHECK_INT(node_send(&a, "alice@a.test", "bob@rude.test", "hi", NULL), 0);
    want w = {&a, 0, 1};
    CHECK(node_run(ns, 1, have, &w, 10000));
    printf("  bounce %s: %s\n", xs2s_stanza_condition_name(a.last_cond),
           a.last_text);
    /* Reached, but negotiation failed: RFC 6120 8.3.3.17. */
    CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    CHECK(strstr(a.last_text, "rude.test closed the stream before accepting "
                              "a.test: not-authorized (Your server's "
                              "certificate is not trusted)") != NULL);
    check_books(&a);
    node_stop(&a);
  }
  pthread_join(t, NULL);
  close(lfd);
}

/* b.test takes clear text in general but requires TLS from a.test: a.test
 * talking to b.test in clear text (its override for b.test) gets nothing
 * delivered, its stanza bounces with policy-violation; with TLS its
 * stanza arrives. a.test's own server does TLS, so b.test's verification
 * stream to it would succeed: only the incoming policy refuses. */
static void test_remote_policy_incoming(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.tls = ob.tls = XS2S_TLS_OPTIONAL;
  oa.certs = ob.certs = 1;
  oa.ca = ob.ca = "unknown-ca.pem";
  oa.policy_domain = "b.test";
  oa.policy_tls = XS2S_TLS_OFF;
  ob.policy_domain = "a.test";
  ob.policy_tls = XS2S_TLS_REQUIRED;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "clear", NULL), 0);
  want w = {&a, 0, 1};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(b.ngot, 0);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_POLICY_VIOLATION);
  /* The bounce says why, not just "refused". */
  CHECK(strstr(a.last_text, "peer requires TLS, which is off here") != NULL);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);

  oa.policy_domain = NULL;
  exchange(&oa, &ob, XS2S_AUTH_DIALBACK, 1);
}

static void test_listing_and_send_raw(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  const char *xml = "<message><body>raw</body></message>";
  CHECK_INT(xs2s_ctx_send_raw(a.ctx, "alice@a.test", "bob@b.test/r", xml,
                              strlen(xml), NULL),
            0);
  CHECK_INT(xs2s_ctx_send_raw(a.ctx, "alice@elsewhere.test", "bob@b.test",
                              xml, strlen(xml), NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  want w = {&b, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(b.got[0], "raw");
  xs2s_counters k;
  xs2s_ctx_counters(a.ctx, &k);
  CHECK_INT(k.stanzas_out, 1);
  CHECK_INT(k.connections_out, 1);
  CHECK(k.bytes_out > 0);
  CHECK(xs2s_ctx_foreach_conn(b.ctx, count_conn, NULL) >= 1);
  node_stop(&a);
  node_stop(&b);
}

static int a_empty(void *arg) {
  node *n = arg;
  return xs2s_ctx_foreach_conn(n->ctx, count_conn, NULL) == 0;
}

static void test_graceful_shutdown(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "before", NULL), 0);
  want w = {&b, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  /* Queued for a domain that is still being reached: bounced. */
  CHECK_INT(node_send(&a, "alice@a.test", "carol@c.test", "queued", NULL), 0);
  CHECK_INT(xs2s_ctx_shutdown(a.ctx), 0);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "late", NULL),
            XS2S_ERR_BAD_STATE);
  CHECK(node_run(ns, 2, a_empty, &a, 10000));
  CHECK_INT(a.bounces, 1);
  CHECK(b.downs >= 1);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

typedef struct conn_seen {
  const char *remote;
  xs2s_direction dir;
  int found, tls, direct;
} conn_seen;

static int find_conn(const xs2s_conn_info *in, void *arg) {
  conn_seen *s = arg;
  if (in->direction == s->dir && in->remote_domain &&
      strcmp(in->remote_domain, s->remote) == 0) {
    s->found = 1;
    s->tls = in->tls;
    s->direct = in->direct_tls;
  }
  return 0;
}

/* d.test publishes only _xmpps-server (XEP-0368) and listens only for
 * direct TLS: a.test must connect with TLS from the first byte. The echo
 * goes back over STARTTLS to a.test's ordinary port. */
static void test_direct_tls(void) {
  node a, d;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts od = base("d.test", "127.0.0.36:5270");
  oa.tls = od.tls = XS2S_TLS_REQUIRED;
  oa.certs = od.certs = 1;
  od.cert_name = "multi"; /* names c.test and d.test */
  oa.ca = od.ca = "ca.pem";
  oa.require_cert = od.require_cert = 1;
  od.listen_flags = XS2S_LISTEN_DIRECT_TLS;
  if (node_start(&a, &oa) < 0 || node_start(&d, &od) < 0) {
    CHECK(!"engines start");
    return;
  }
  d.echo = 1;
  node *ns[2] = {&a, &d};
  CHECK_INT(node_send(&a, "alice@a.test", "dave@d.test", "direct", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(d.ngot ? d.got[0] : "", "direct");
  CHECK_STR(a.ngot ? a.got[0] : "", "echo:direct");
  CHECK_INT(a.last_auth, XS2S_AUTH_SASL_EXTERNAL);
  conn_seen out = {"d.test", XS2S_DIR_OUTGOING, 0, 0, 0};
  xs2s_ctx_foreach_conn(a.ctx, find_conn, &out);
  CHECK(out.found);
  CHECK_INT(out.tls, 1);
  CHECK_INT(out.direct, 1);
  conn_seen in = {"a.test", XS2S_DIR_INCOMING, 0, 0, 0};
  xs2s_ctx_foreach_conn(d.ctx, find_conn, &in);
  CHECK(in.found);
  CHECK_INT(in.direct, 1);
  conn_seen back = {"a.test", XS2S_DIR_OUTGOING, 0, 0, 0};
  xs2s_ctx_foreach_conn(d.ctx, find_conn, &back);
  CHECK(back.found);
  CHECK_INT(back.tls, 1);
  CHECK_INT(back.direct, 0); /* a.test offers STARTTLS only */
  CHECK_INT(a.bounces + d.bounces, 0);
  check_books(&a);
  check_books(&d);
  node_stop(&a);
  node_stop(&d);
}

/* b.test accepts at most 2 KiB per stanza and says so (XEP-0478): a's
 * larger stanza is bounced with policy-violation instead of costing the
 * stream; the stanzas around it arrive. */
static void test_stream_limits(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  ob.limits[XS2S_LIMIT_STANZA_BYTES] = 2048;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  char big[4000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "before", NULL), 0);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", big, NULL), 0);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "after", NULL), 0);
  want w = {&b, 2, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  want wb = {&a, 0, 1};
  CHECK(node_run(ns, 2, have, &wb, 5000));
  CHECK_INT(b.ngot, 2);
  CHECK_STR(b.got[0], "before");
  CHECK_STR(b.got[1], "after");
  CHECK_INT(a.bounces, 1);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_POLICY_VIOLATION);
  /* Once the stream is up, a direct send is refused the same way. */
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", big, NULL), 0);
  wb.bounces = 2;
  CHECK(node_run(ns, 2, have, &wb, 5000));
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_POLICY_VIOLATION);
  xs2s_counters k;
  xs2s_ctx_counters(a.ctx, &k);
  CHECK_INT(k.connections_out, 1); /* the stream survived */
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

/* XEP-0288: b.test answers on the stream a.test opened; no second
 * connection is made. With TLS and certificates, then with dialback. */
static void one_bidi(int tls) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.bidi = ob.bidi = 1;
  if (tls) {
    oa.tls = ob.tls = XS2S_TLS_REQUIRED;
    oa.certs = ob.certs = 1;
    oa.ca = ob.ca = "ca.pem";
  }
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "one", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "two", NULL), 0);
  w.got = 2;
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(a.got[0], "echo:one");
  CHECK_STR(a.got[1], "echo:two");
  CHECK_INT(a.last_auth, tls ? XS2S_AUTH_SASL_EXTERNAL : XS2S_AUTH_DIALBACK);
  xs2s_counters ka, kb;
  xs2s_ctx_counters(a.ctx, &ka);
  xs2s_ctx_counters(b.ctx, &kb);
  CHECK_INT(ka.connections_out, 1);
  CHECK_INT(ka.connections_in, tls ? 0 : 1); /* dialback: b verifies a */
  CHECK_INT(kb.connections_out, tls ? 0 : 1); /* ... over its own stream */
  CHECK_INT(kb.stanzas_out, 2);
  CHECK_INT(ka.stanzas_in, 2);
  CHECK_INT(a.bounces + b.bounces, 0);
  check_books(&a);
  check_books(&b);
  node_stop(&a);
  node_stop(&b);
}

static void test_bidi(void) {
  one_bidi(1);
  one_bidi(0);
}

typedef struct pairs_seen {
  const char *remote;
  int found;
  unsigned extra;
} pairs_seen;

static int out_pairs(const xs2s_conn_info *in, void *arg) {
  pairs_seen *p = arg;
  if (in->direction == XS2S_DIR_OUTGOING && in->remote_domain &&
      strcmp(in->remote_domain, p->remote) == 0) {
    p->found++;
    p->extra = in->extra_pairs;
  }
  return 0;
}

static int has_body(const node *n, const char *body) {
  for (int i = 0; i < n->ngot; i++)
    if (strcmp(n->got[i], body) == 0)
      return 1;
  return 0;
}

/* One context serving a.test and a2.test: both send to b.test over one
 * stream (a second dialback pair on it), b.test answers each domain, and
 * each answer reaches the right one. */
static void test_several_local_domains(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.domain2 = "a2.test";
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "from a", NULL), 0);
  CHECK_INT(node_send(&a, "carol@a2.test", "bob@b.test", "from a2", NULL), 0);
  want w = {&a, 2, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK(has_body(&b, "from a"));
  CHECK(has_body(&b, "from a2"));
  CHECK(has_body(&a, "echo:from a"));
  CHECK(has_body(&a, "echo:from a2"));
  pairs_seen p = {"b.test", 0, 0};
  xs2s_ctx_foreach_conn(a.ctx, out_pairs, &p);
  CHECK_INT(p.found, 1);
  CHECK_INT(p.extra, 1); /* (a.test, b.test) and (a2.test, b.test) */
  /* Sending from a domain this context does not serve is refused. */
  CHECK_INT(node_send(&a, "eve@a3.test", "bob@b.test", "no", NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(a.bounces + b.bounces, 0);
  check_books(&a);
  check_books(&b);
  node_stop(&a);
  node_stop(&b);
}

/* Streams for any of a context's local domains are accepted, however many
 * it serves (the last of 100 here). */
static void test_many_local_domains(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  ob.fillers = 100;
  oa.route_domain = "f100.test";
  oa.route_target = "127.0.0.32:5269";
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@f100.test", "to f100", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK(has_body(&b, "to f100"));
  CHECK(has_body(&a, "echo:to f100"));
  CHECK_INT(a.bounces + b.bounces, 0);
  check_books(&a);
  check_books(&b);
  node_stop(&a);
  node_stop(&b);
}

/* A stanza the application refuses gets an error reply from the engine,
 * even though no stream leads back to the sender yet: the reply waits for
 * that stream like any stanza instead of being dropped. */
static void test_error_reply(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.refuse = XS2S_STANZA_ERR_SERVICE_UNAVAILABLE;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "refused", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(b.ngot, 1);
  CHECK_INT(a.errors, 1);
  CHECK_INT(a.bounces + b.bounces, 0);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

/* -- Reconfiguring a running engine --------------------------------------- */

typedef struct out_conn {
  const char *remote;
  uint64_t id;
  int count;
} out_conn;

static int find_out(const xs2s_conn_info *in, void *arg) {
  out_conn *o = arg;
  if (in->direction == XS2S_DIR_OUTGOING && in->remote_domain &&
      strcmp(in->remote_domain, o->remote) == 0) {
    o->id = in->id;
    o->count++;
  }
  return 0;
}

static uint64_t out_id(node *n, const char *remote) {
  out_conn o = {remote, 0, 0};
  xs2s_ctx_foreach_conn(n->ctx, find_out, &o);
  return o.count == 1 ? o.id : 0;
}

static int reconfigure(node *n, const node_opts *o, char *msg, size_t size) {
  xs2s_config *cfg = node_config(o);
  int rc = cfg ? xs2s_ctx_reconfigure(n->ctx, cfg, msg, size)
               : XS2S_ERR_INVALID_ARGUMENT;
  xs2s_config_free(cfg);
  if (rc < 0)
    fprintf(stderr, "[%s] reconfigure: %s: %s\n", n->name, xs2s_strerror(rc),
            msg);
  return rc;
}

/* Unrelated changes (timeouts, a deny list without b.test, one more
 * listener) leave the established stream as it is; a refused change
 * (a listener address in use, a new local domain) changes nothing. */
static void test_reconfigure_keeps_stream(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "one", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  uint64_t id = out_id(&a, "b.test");
  CHECK(id != 0);
  int ups = a.ups;
  char msg[256];
  node_opts o2 = oa;
  o2.timeouts[XS2S_TIMEOUT_IDLE] = 900000;
  o2.timeouts[XS2S_TIMEOUT_QUEUE] = 60000;
  o2.privacy = XS2S_PRIVACY_DENY_LIST;
  o2.privacy_domain = "c.test";
  CHECK_INT(reconfigure(&a, &o2, msg, sizeof(msg)), 0);
  CHECK(strstr(msg, "applied in place") != NULL);
  CHECK(strstr(msg, "0 streams closed") != NULL);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "two", NULL), 0);
  w.got = 2;
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(a.got[1], "echo:two");
  CHECK(out_id(&a, "b.test") == id); /* the same stream carried it */
  CHECK_INT(a.ups, ups);
  CHECK_INT(a.downs + b.downs, 0);

  /* A listener whose address b.test holds: refused, nothing changed. */
  xs2s_config *bad = node_config(&o2);
  CHECK_INT(xs2s_config_add_listener(bad, "127.0.0.32:5269", 0), 0);
  CHECK_INT(xs2s_ctx_reconfigure(a.ctx, bad, msg, sizeof(msg)),
            XS2S_ERR_SYSTEM);
  CHECK(strstr(msg, "127.0.0.32:5269") != NULL);
  xs2s_config_free(bad);
  CHECK(xs2s_ctx_listen_port(a.ctx, 0) == 5269);
  CHECK(xs2s_ctx_listen_port(a.ctx, 1) == 0);
  /* One more local domain needs a new engine: refused, named. */
  node_opts o3 = o2;
  o3.domain2 = "a2.test";
  CHECK_INT(reconfigure(&a, &o3, msg, sizeof(msg)),
            XS2S_ERR_RESTART_REQUIRED);
  CHECK(strstr(msg, "a2.test") != NULL);
  /* A new listener is opened, the old one kept; then it is closed. */
  xs2s_config *more = node_config(&o2);
  CHECK_INT(xs2s_config_add_listener(more, "127.0.0.31:5299", 0), 0);
  CHECK_INT(xs2s_ctx_reconfigure(a.ctx, more, msg, sizeof(msg)), 0);
  CHECK(strstr(msg, "1 listener kept, 1 opened, 0 closed") != NULL);
  CHECK(xs2s_ctx_listen_port(a.ctx, 1) == 5299);
  xs2s_config_free(more);
  CHECK_INT(reconfigure(&a, &o2, msg, sizeof(msg)), 0);
  CHECK(strstr(msg, "1 listener kept, 0 opened, 1 closed") != NULL);
  CHECK(xs2s_ctx_listen_port(a.ctx, 1) == 0);

  /* The stream survived all of it; and b.test still reaches a.test. */
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "three", NULL), 0);
  w.got = 3;
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK(out_id(&a, "b.test") == id);
  CHECK_INT(a.downs + b.downs, 0);
  CHECK_INT(a.bounces + b.bounces, 0);
  check_books(&a);
  check_books(&b);
  node_stop(&a);
  node_stop(&b);
}

static int streams_gone(void *arg) {
  node **ns = arg;
  return ns[0]->bounces >= 2 && ns[1]->downs >= 1 &&
         out_id(ns[0], "b.test") == 0;
}

/* A reload that denies b.test: its stream is closed with
 * policy-violation, its queued stanzas bounce with policy-violation,
 * further sends are refused. */
static void test_reconfigure_denies_peer(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.domain2 = "a2.test";
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "before", NULL), 0);
  want w = {&b, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK(out_id(&a, "b.test") != 0);
  /* Queued: the pair (a2.test, b.test) is not authenticated yet. */
  CHECK_INT(node_send(&a, "carol@a2.test", "bob@b.test", "queued 1", NULL), 0);
  CHECK_INT(node_send(&a, "carol@a2.test", "bob@b.test", "queued 2", NULL), 0);
  xs2s_counters k;
  xs2s_ctx_counters(a.ctx, &k);
  CHECK(k.queued_bytes > 0);
  node_opts o2 = oa;
  o2.privacy = XS2S_PRIVACY_DENY_LIST;
  o2.privacy_domain = "b.test";
  char msg[256];
  CHECK_INT(reconfigure(&a, &o2, msg, sizeof(msg)), 0);
  CHECK(strstr(msg, "1 domain dropped") != NULL);
  CHECK_INT(a.bounces, 0); /* never from inside the call */
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "after", NULL),
            XS2S_ERR_POLICY);
  CHECK(node_run(ns, 2, streams_gone, ns, 10000));
  CHECK_INT(a.bounces, 2);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_POLICY_VIOLATION);
  CHECK(b.policy_closes >= 1); /* b.test read the stream error */
  CHECK(!has_body(&b, "queued 1"));
  CHECK(!has_body(&b, "after"));
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

/* An allow list without b.test refuses it; after a reload that adds it,
 * the next send goes through. */
static void test_reconfigure_allow_list(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.privacy = XS2S_PRIVACY_ALLOW_LIST;
  oa.privacy_domain = "c.test";
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "no", NULL),
            XS2S_ERR_POLICY);
  node_opts o2 = oa;
  o2.privacy_domain = "b.test";
  char msg[256];
  CHECK_INT(reconfigure(&a, &o2, msg, sizeof(msg)), 0);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "yes", NULL), 0);
  want w = {&a, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(b.ngot ? b.got[0] : "", "yes");
  CHECK_STR(a.ngot ? a.got[0] : "", "echo:yes"); /* b.test's stream too */
  CHECK_INT(a.bounces + b.bounces, 0);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

static int nothing_open(void *arg) {
  node **ns = arg;
  return a_empty(ns[0]);
}

/* New certificates serve new connections: a.test first presents one that
 * does not name it (b.test falls back to dialback), is reloaded with its
 * own, keeps the stream it has, and the next connection authenticates
 * with the new certificate (SASL EXTERNAL at b.test). */
static void test_reconfigure_certificates(void) {
  node a, b;
  node_opts oa = base("a.test", "127.0.0.31:5269");
  node_opts ob = base("b.test", "127.0.0.32:5269");
  oa.tls = ob.tls = XS2S_TLS_REQUIRED;
  oa.certs = ob.certs = 1;
  oa.ca = ob.ca = "ca.pem";
  oa.cert_name = "multi"; /* names c.test and d.test */
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "old cert", NULL), 0);
  want w = {&b, 1, 0};
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(b.last_auth, XS2S_AUTH_DIALBACK);
  int ups = b.ups;
  node_opts o2 = oa;
  o2.cert_name = NULL;
  char msg[256];
  CHECK_INT(reconfigure(&a, &o2, msg, sizeof(msg)), 0);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "same stream", NULL),
            0);
  w.got = 2;
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_INT(b.ups, ups); /* no new authentication */
  /* b.test restarts: a.test's next connection shows the new certificate. */
  node_stop(&b);
  node *na[1] = {&a};
  CHECK(node_run(na, 1, nothing_open, na, 10000));
  if (node_start(&b, &ob) < 0) {
    CHECK(!"b.test restarts");
    node_stop(&a);
    return;
  }
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "new cert", NULL), 0);
  w.got = 1;
  CHECK(node_run(ns, 2, have, &w, 10000));
  CHECK_STR(b.ngot ? b.got[0] : "", "new cert");
  CHECK_INT(b.last_auth, XS2S_AUTH_SASL_EXTERNAL);
  CHECK_INT(a.bounces, 0);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

/* Names of the engines and of the SRV cases, as libunbound local data. */
static const char e2e_dns[] =
    "  local-data: \"a.test. 60 IN A 127.0.0.31\"\n"
    "  local-data: \"b.test. 60 IN A 127.0.0.32\"\n"
    "  local-data: \"_xmpp-server._tcp.c.test. 60 IN SRV 0 0 5269 "
    "down.c.test.\"\n"
    "  local-data: \"_xmpp-server._tcp.c.test. 60 IN SRV 10 0 5269 "
    "up.c.test.\"\n"
    "  local-data: \"down.c.test. 60 IN A 127.0.0.34\"\n"
    "  local-data: \"up.c.test. 60 IN A 127.0.0.33\"\n"
    "  local-data: \"c.test. 60 IN A 127.0.0.33\"\n"
    "  local-data: \"down.test. 60 IN A 127.0.0.35\"\n"
    "  local-data: \"_xmpps-server._tcp.d.test. 60 IN SRV 0 0 5270 "
    "xmpp.d.test.\"\n"
    "  local-data: \"xmpp.d.test. 60 IN A 127.0.0.36\"\n"
    "  local-data: \"a2.test. 60 IN A 127.0.0.31\"\n"
    "  local-data: \"rude.test. 60 IN A 127.0.0.37\"\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_e2e CERTS_DIR\n");
    return 2;
  }
  node_certs_dir = argv[1];
  if (node_setup_dns(e2e_dns) < 0)
    return 2;
  RUN(test_tls_off_dialback);
  RUN(test_tls_dialback);
  RUN(test_tls_certificates);
  RUN(test_static_route);
  RUN(test_srv_second_target);
  RUN(test_unknown_domain);
  RUN(test_unreachable_bounces_all);
  RUN(test_queue_order);
  RUN(test_queue_order_tls);
  RUN(test_idle_close);
  RUN(test_privacy);
  RUN(test_remote_policy_incoming);
  RUN(test_peer_refusal_explained);
  RUN(test_listing_and_send_raw);
  RUN(test_graceful_shutdown);
  RUN(test_direct_tls);
  RUN(test_stream_limits);
  RUN(test_bidi);
  RUN(test_several_local_domains);
  RUN(test_many_local_domains);
  RUN(test_error_reply);
  RUN(test_reconfigure_keeps_stream);
  RUN(test_reconfigure_denies_peer);
  RUN(test_reconfigure_allow_list);
  RUN(test_reconfigure_certificates);
  node_cleanup_dns();
  return check_finish();
}
