/*
 * test_e2e.c: engines talking to each other over loopback.
 *
 *   test_e2e CERTS_DIR
 *
 * Two or three engines run in this one thread, driven by a small poll()
 * loop through the external-loop hooks (the built-in loop is exercised by
 * xs2s-echo in the examples and interop tests). Names come from
 * libunbound local data written to a temporary file; certificates are the
 * certtool ones of tests/data/make-certs.sh. Addresses: 127.0.0.31-35.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xs2s/xs2s.h>

#include "check.h"

static const char *certs;
static char dns_conf[256];

#define MAX_W 64

typedef struct node {
  const char *name;
  xs2s_ctx *ctx;
  struct {
    int fd;
    unsigned ev;
  } w[MAX_W];
  int nw;
  int64_t due; /* absolute ms, -1: none */
  /* what arrived */
  char got[64][128]; /* message bodies in order */
  int ngot;
  int bounces;
  xs2s_stanza_condition last_cond;
  int ups, downs;
  xs2s_auth_method last_auth;
  int last_tls;
  int echo; /* answer messages by echoing */
} node;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch(int fd, unsigned ev, void *ud) {
  node *n = ud;
  for (int i = 0; i < n->nw; i++)
    if (n->w[i].fd == fd) {
      if (ev) {
        n->w[i].ev = ev;
      } else {
        n->w[i] = n->w[--n->nw];
      }
      return 0;
    }
  if (ev && n->nw < MAX_W) {
    n->w[n->nw].fd = fd;
    n->w[n->nw++].ev = ev;
  }
  return 0;
}

static int timer(int64_t ms, void *ud) {
  node *n = ud;
  n->due = ms < 0 ? -1 : now_ms() + ms;
  return 0;
}

static const xs2s_loop_callbacks loop_cb = {watch, timer};

static int on_stanza(xs2s_ctx *ctx, const xs2s_stanza *s, const char *remote,
                     void *ud) {
  node *n = ud;
  (void)remote;
  xs2s_stanza *body = xs2s_stanza_find_child(s, "body", "jabber:server");
  const char *t = body ? xs2s_stanza_text(body) : "";
  if (n->ngot < 64)
    snprintf(n->got[n->ngot++], 128, "%s", t ? t : "");
  if (n->echo && body) {
    xs2s_stanza *r = xs2s_stanza_new("message", "jabber:server");
    xs2s_stanza_set_attr(r, "from", xs2s_stanza_attr(s, "to"));
    xs2s_stanza_set_attr(r, "to", xs2s_stanza_attr(s, "from"));
    xs2s_stanza *b = xs2s_stanza_add_child(r, "body", "jabber:server");
    char text[160];
    snprintf(text, sizeof(text), "echo:%s", t ? t : "");
    xs2s_stanza_add_text(b, text, strlen(text));
    xs2s_ctx_send(ctx, r, NULL);
    xs2s_stanza_free(r);
  }
  return 0;
}

static void on_bounce(xs2s_ctx *ctx, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text, void *tag,
                      void *ud) {
  (void)ctx;
  (void)s;
  (void)tag;
  node *n = ud;
  n->bounces++;
  n->last_cond = cond;
  if (getenv("E2E_VERBOSE"))
    fprintf(stderr, "[%s] bounce %s: %s\n", n->name,
            xs2s_stanza_condition_name(cond), text);
}

static void on_up(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx;
  node *n = ud;
  n->ups++;
  n->last_auth = ev->auth;
  n->last_tls = ev->tls;
}

static void on_down(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx;
  (void)ev;
  node *n = ud;
  n->downs++;
}

static void on_log(xs2s_ctx *ctx, xs2s_log_level level, const char *line,
                   void *ud) {
  (void)ctx;
  node *n = ud;
  if (getenv("E2E_VERBOSE") || level == XS2S_LOG_ERROR)
    fprintf(stderr, "[%s] %s: %s\n", n->name, xs2s_log_level_name(level),
            line);
}

static const xs2s_ctx_callbacks ctx_cb = {on_stanza, on_bounce, on_up,
                                          on_down, on_log};

/* Drives every node until @done(arg) or @limit_ms pass. Returns 1 when
 * done. */
static int run_until(node **nodes, int count, int (*done)(void *), void *arg,
                     int limit_ms) {
  int64_t end = now_ms() + limit_ms;
  while (!done(arg)) {
    int64_t now = now_ms();
    if (now >= end)
      return 0;
    struct pollfd p[4 * MAX_W];
    int owner[4 * MAX_W];
    int np = 0;
    int64_t wait = end - now;
    for (int i = 0; i < count; i++) {
      node *n = nodes[i];
      for (int j = 0; j < n->nw; j++) {
        p[np].fd = n->w[j].fd;
        p[np].events = (short)(((n->w[j].ev & XS2S_EV_READ) ? POLLIN : 0) |
                               ((n->w[j].ev & XS2S_EV_WRITE) ? POLLOUT : 0));
        owner[np++] = i;
      }
      if (n->due >= 0 && n->due - now < wait)
        wait = n->due - now < 0 ? 0 : n->due - now;
    }
    if (wait > 50)
      wait = 50;
    int k = poll(p, (nfds_t)np, (int)wait);
    if (k < 0 && errno != EINTR)
      return 0;
    for (int i = 0; k > 0 && i < np; i++) {
      if (!p[i].revents)
        continue;
      unsigned ev = ((p[i].revents & POLLIN) ? XS2S_EV_READ : 0) |
                    ((p[i].revents & POLLOUT) ? XS2S_EV_WRITE : 0) |
                    ((p[i].revents & (POLLERR | POLLHUP)) ? XS2S_EV_ERROR : 0);
      xs2s_ctx_on_fd(nodes[owner[i]]->ctx, p[i].fd, ev);
    }
    now = now_ms();
    for (int i = 0; i < count; i++)
      if (nodes[i]->due >= 0 && nodes[i]->due <= now) {
        nodes[i]->due = -1;
        xs2s_ctx_on_timer(nodes[i]->ctx);
      }
  }
  return 1;
}

/* -- Configuration -------------------------------------------------------- */

typedef struct opts {
  const char *domain;   /* a.test */
  const char *listen;   /* 127.0.0.31:5269 */
  int certs;            /* load DOMAIN.pem */
  const char *ca;       /* ca.pem, unknown-ca.pem or NULL */
  xs2s_tls_mode tls;
  int require_cert;
  const char *route_domain, *route_target;
  xs2s_privacy_mode privacy;
  const char *privacy_domain;
  uint64_t idle_ms;
  uint64_t queue_ms;
} opts;

static void cert_path(char *buf, size_t n, const char *name, const char *ext) {
  snprintf(buf, n, "%s/%s.%s", certs, name, ext);
}

static int node_start(node *n, const opts *o) {
  memset(n, 0, sizeof(*n));
  n->name = o->domain;
  n->due = -1;
  xs2s_config *cfg = xs2s_config_new(NULL);
  char cert[512], key[512], ca[512];
  int rc = 0;
  if (o->certs) {
    cert_path(cert, sizeof(cert), o->domain, "pem");
    cert_path(key, sizeof(key), o->domain, "key");
    rc |= xs2s_config_add_domain(cfg, o->domain, cert, key);
  } else {
    rc |= xs2s_config_add_domain(cfg, o->domain, NULL, NULL);
  }
  if (o->ca) {
    snprintf(ca, sizeof(ca), "%s/%s", certs, o->ca);
    rc |= xs2s_config_set_ca_file(cfg, ca);
  }
  rc |= xs2s_config_set_system_trust(cfg, 0);
  rc |= xs2s_config_set_tls_mode(cfg, o->tls);
  rc |= xs2s_config_set_require_valid_cert(cfg, o->require_cert);
  rc |= xs2s_config_add_listener(cfg, o->listen, 0);
  rc |= xs2s_config_set_unbound_config(cfg, dns_conf);
  if (o->route_domain)
    rc |= xs2s_config_add_route(cfg, o->route_domain, o->route_target, 0);
  if (o->privacy) {
    rc |= xs2s_config_set_privacy_mode(cfg, o->privacy);
    rc |= xs2s_config_add_privacy_domain(cfg, o->privacy, o->privacy_domain);
  }
  if (o->idle_ms)
    rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_IDLE, o->idle_ms);
  if (o->queue_ms)
    rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_QUEUE, o->queue_ms);
  rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_CONNECT, 2000);
  if (rc == 0)
    rc = xs2s_ctx_new(&n->ctx, cfg, &ctx_cb, &loop_cb, n);
  xs2s_config_free(cfg);
  if (rc < 0)
    fprintf(stderr, "node %s: %s\n", o->domain, xs2s_strerror(rc));
  return rc;
}

static void node_stop(node *n) {
  xs2s_ctx_free(n->ctx);
  n->ctx = NULL;
}

static int send_msg(node *n, const char *from, const char *to,
                    const char *body) {
  xs2s_stanza *m = xs2s_stanza_new("message", "jabber:server");
  xs2s_stanza_set_attr(m, "from", from);
  xs2s_stanza_set_attr(m, "to", to);
  xs2s_stanza_set_attr(m, "type", "chat");
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", "jabber:server");
  xs2s_stanza_add_text(b, body, strlen(body));
  int rc = xs2s_ctx_send(n->ctx, m, NULL);
  xs2s_stanza_free(m);
  return rc;
}

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
  CHECK_INT(c.stanzas_accepted, c.stanzas_out + c.stanzas_bounced);
}

/* a.test <-> b.test, a message each way (b echoes). */
static void exchange(const opts *oa, const opts *ob, xs2s_auth_method auth,
                     int tls) {
  node a, b;
  if (node_start(&a, oa) < 0 || node_start(&b, ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  b.echo = 1;
  node *ns[2] = {&a, &b};
  CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", "hello"), 0);
  want w = {&a, 1, 0};
  CHECK(run_until(ns, 2, have, &w, 10000));
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

static opts base(const char *domain, const char *listen) {
  opts o;
  memset(&o, 0, sizeof(o));
  o.domain = domain;
  o.listen = listen;
  o.tls = XS2S_TLS_OFF;
  return o;
}

static void test_tls_off_dialback(void) {
  opts a = base("a.test", "127.0.0.31:5269");
  opts b = base("b.test", "127.0.0.32:5269");
  exchange(&a, &b, XS2S_AUTH_DIALBACK, 0);
}

static void test_tls_certificates(void) {
  opts a = base("a.test", "127.0.0.31:5269");
  opts b = base("b.test", "127.0.0.32:5269");
  a.tls = b.tls = XS2S_TLS_REQUIRED;
  a.certs = b.certs = 1;
  a.ca = b.ca = "ca.pem";
  a.require_cert = b.require_cert = 1;
  exchange(&a, &b, XS2S_AUTH_SASL_EXTERNAL, 1);
}

static void test_tls_dialback(void) {
  /* Certificates nobody trusts: TLS, then dialback. */
  opts a = base("a.test", "127.0.0.31:5269");
  opts b = base("b.test", "127.0.0.32:5269");
  a.tls = b.tls = XS2S_TLS_REQUIRED;
  a.certs = b.certs = 1;
  a.ca = b.ca = "unknown-ca.pem";
  exchange(&a, &b, XS2S_AUTH_DIALBACK, 1);
}

static void test_static_route(void) {
  /* b.test listens where DNS does not say; a.test's route finds it. */
  opts a = base("a.test", "127.0.0.31:5269");
  opts b = base("b.test", "127.0.0.32:5299");
  a.route_domain = "b.test";
  a.route_target = "127.0.0.32:5299";
  exchange(&a, &b, XS2S_AUTH_DIALBACK, 0);
}

static void test_srv_second_target(void) {
  /* c.test: SRV priority 0 on 127.0.0.34 (nothing there), 10 on .33. */
  node a, c;
  opts oa = base("a.test", "127.0.0.31:5269");
  opts oc = base("c.test", "127.0.0.33:5269");
  if (node_start(&a, &oa) < 0 || node_start(&c, &oc) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &c};
  CHECK_INT(send_msg(&a, "alice@a.test", "carol@c.test", "via srv"), 0);
  want w = {&c, 1, 0};
  CHECK(run_until(ns, 2, have, &w, 10000));
  CHECK_STR(c.got[0], "via srv");
  xs2s_counters k;
  xs2s_ctx_counters(a.ctx, &k);
  CHECK(k.connect_failures >= 1);
  node_stop(&a);
  node_stop(&c);
}

static void test_unknown_domain(void) {
  node a;
  opts oa = base("a.test", "127.0.0.31:5269");
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
    return;
  }
  node *ns[1] = {&a};
  CHECK_INT(send_msg(&a, "alice@a.test", "x@nowhere.test", "lost?"), 0);
  CHECK_INT(a.bounces, 0); /* never from inside send */
  want w = {&a, 0, 1};
  CHECK(run_until(ns, 1, have, &w, 10000));
  CHECK_INT(a.bounces, 1);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  /* During the backoff, a send is accepted and bounced the same way. */
  CHECK_INT(send_msg(&a, "alice@a.test", "x@nowhere.test", "again"), 0);
  w.bounces = 2;
  CHECK(run_until(ns, 1, have, &w, 5000));
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  check_books(&a);
  node_stop(&a);
}

static void test_unreachable_bounces_all(void) {
  /* down.test has an address where nothing listens. */
  node a;
  opts oa = base("a.test", "127.0.0.31:5269");
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
    return;
  }
  node *ns[1] = {&a};
  for (int i = 0; i < 7; i++)
    CHECK_INT(send_msg(&a, "alice@a.test", "d@down.test", "q"), 0);
  want w = {&a, 0, 7};
  CHECK(run_until(ns, 1, have, &w, 10000));
  CHECK_INT(a.bounces, 7);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  check_books(&a);
  node_stop(&a);
}

static void queue_order(const opts *pa, const opts *pb) {
  node a, b;
  opts oa = *pa, ob = *pb;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  char body[16];
  for (int i = 0; i < 30; i++) {
    snprintf(body, sizeof(body), "m%02d", i);
    CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", body), 0);
  }
  want w = {&b, 30, 0};
  CHECK(run_until(ns, 2, have, &w, 10000));
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
    CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", body), 0);
  }
  w.got = 64;
  CHECK(run_until(ns, 2, have, &w, 10000));
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
  opts a = base("a.test", "127.0.0.31:5269");
  opts b = base("b.test", "127.0.0.32:5269");
  queue_order(&a, &b);
}

/* The same over TLS, where the burst shares TLS records. */
static void test_queue_order_tls(void) {
  opts a = base("a.test", "127.0.0.31:5269");
  opts b = base("b.test", "127.0.0.32:5269");
  a.tls = b.tls = XS2S_TLS_REQUIRED;
  a.certs = b.certs = 1;
  a.ca = b.ca = "ca.pem";
  a.require_cert = b.require_cert = 1;
  queue_order(&a, &b);
}

static void test_idle_close(void) {
  node a, b;
  opts oa = base("a.test", "127.0.0.31:5269");
  opts ob = base("b.test", "127.0.0.32:5269");
  oa.idle_ms = 300;
  ob.idle_ms = 300;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", "hi"), 0);
  want w = {&b, 1, 0};
  CHECK(run_until(ns, 2, have, &w, 10000));
  CHECK(xs2s_ctx_foreach_conn(a.ctx, count_conn, NULL) >= 1);
  CHECK(run_until(ns, 2, no_conns, ns, 10000));
  CHECK(a.downs >= 1);
  CHECK(b.downs >= 1);
  node_stop(&a);
  node_stop(&b);
}

static void test_privacy(void) {
  /* a.test denies b.test: its own sends are refused at once, and b's
   * stanzas never reach it. */
  node a, b;
  opts oa = base("a.test", "127.0.0.31:5269");
  opts ob = base("b.test", "127.0.0.32:5269");
  oa.privacy = XS2S_PRIVACY_DENY_LIST;
  oa.privacy_domain = "b.test";
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", "no"),
            XS2S_ERR_POLICY);
  CHECK_INT(send_msg(&b, "bob@b.test", "alice@a.test", "let me in"), 0);
  want w = {&b, 0, 1};
  CHECK(run_until(ns, 2, have, &w, 10000));
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
  CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", "no"),
            XS2S_ERR_POLICY);
  node_stop(&a);
}

static void test_listing_and_send_raw(void) {
  node a, b;
  opts oa = base("a.test", "127.0.0.31:5269");
  opts ob = base("b.test", "127.0.0.32:5269");
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
  CHECK(run_until(ns, 2, have, &w, 10000));
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
  opts oa = base("a.test", "127.0.0.31:5269");
  opts ob = base("b.test", "127.0.0.32:5269");
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", "before"), 0);
  want w = {&b, 1, 0};
  CHECK(run_until(ns, 2, have, &w, 10000));
  /* Queued for a domain that is still being reached: bounced. */
  CHECK_INT(send_msg(&a, "alice@a.test", "carol@c.test", "queued"), 0);
  CHECK_INT(xs2s_ctx_shutdown(a.ctx), 0);
  CHECK_INT(send_msg(&a, "alice@a.test", "bob@b.test", "late"),
            XS2S_ERR_BAD_STATE);
  CHECK(run_until(ns, 2, a_empty, &a, 10000));
  CHECK_INT(a.bounces, 1);
  CHECK(b.downs >= 1);
  check_books(&a);
  node_stop(&a);
  node_stop(&b);
}

static int write_dns(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs("server:\n"
        "  local-zone: \"test.\" static\n"
        "  local-data: \"a.test. 60 IN A 127.0.0.31\"\n"
        "  local-data: \"b.test. 60 IN A 127.0.0.32\"\n"
        "  local-data: \"_xmpp-server._tcp.c.test. 60 IN SRV 0 0 5269 "
        "down.c.test.\"\n"
        "  local-data: \"_xmpp-server._tcp.c.test. 60 IN SRV 10 0 5269 "
        "up.c.test.\"\n"
        "  local-data: \"down.c.test. 60 IN A 127.0.0.34\"\n"
        "  local-data: \"up.c.test. 60 IN A 127.0.0.33\"\n"
        "  local-data: \"c.test. 60 IN A 127.0.0.33\"\n"
        "  local-data: \"down.test. 60 IN A 127.0.0.35\"\n",
        f);
  return fclose(f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_e2e CERTS_DIR\n");
    return 2;
  }
  certs = argv[1];
  char dir[] = "/tmp/xs2s-e2e-XXXXXX";
  if (!mkdtemp(dir))
    return 2;
  snprintf(dns_conf, sizeof(dns_conf), "%s/dns.conf", dir);
  if (write_dns(dns_conf) < 0)
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
  RUN(test_listing_and_send_raw);
  RUN(test_graceful_shutdown);
  unlink(dns_conf);
  rmdir(dir);
  return check_finish();
}
