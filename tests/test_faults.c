/*
 * test_faults.c: failures around a running engine, counted.
 *
 *   test_faults CERTS_DIR
 *
 * Every case counts the stanzas sent, delivered (seen by the receiving
 * engine's stanza callback), bounced (the sender's bounce callback) and
 * lost (neither). The process runs in a network namespace of its own, so
 * the last case can make a peer vanish by taking the loopback down.
 * Addresses 127.0.0.46-49.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ctx_node.h"

static char tmpdir[64];

static void report(const char *name, int sent, int delivered, int bounced) {
  printf("  %-28s sent %4d  delivered %4d  bounced %4d  lost %4d\n", name,
         sent, delivered, bounced, sent - delivered - bounced);
}

typedef struct books {
  node *sender;
  int sent;
  node *receiver;
} books;

/* Every stanza sent is accounted for, and the sender's queue is empty. */
static int settled(void *arg) {
  books *bk = arg;
  xs2s_counters c;
  xs2s_ctx_counters(bk->sender->ctx, &c);
  int delivered = bk->receiver ? bk->receiver->ngot : 0;
  return c.queued_bytes == 0 &&
         delivered + bk->sender->bounces >= bk->sent;
}

static node_opts plain(const char *domain, const char *listen) {
  node_opts o;
  memset(&o, 0, sizeof(o));
  o.domain = domain;
  o.listen = listen;
  o.timeouts[XS2S_TIMEOUT_CLOSING] = 300;
  o.timeouts[XS2S_TIMEOUT_RETRY_MIN] = 200;
  o.timeouts[XS2S_TIMEOUT_RETRY_MAX] = 400;
  return o;
}

/* -- The peer killed mid-stream --------------------------------------- */

static int got_some(void *arg) {
  return ((node *)arg)->ngot >= 50;
}

static void test_peer_killed(void) {
  node a, b;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  node_opts ob = plain("b.test", "127.0.0.47:5269");
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  enum { N = 2000 };
  int sent = 0;
  for (int i = 0; i < N; i++) {
    char body[32];
    snprintf(body, sizeof(body), "m%d", i);
    sent += node_send(&a, "alice@a.test", "bob@b.test", body, NULL) == 0;
  }
  CHECK(node_run(ns, 2, got_some, &b, 10000));
  /* Kill b.test abruptly: its sockets reset (linger 0) with whatever is
   * unread in them. */
  for (int i = 0; i < b.nw; i++) {
    struct linger lg = {1, 0};
    setsockopt(b.w[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  int delivered = b.ngot;
  node_stop(&b);
  /* Sends after the death: accepted, then bounced (nobody listens). */
  for (int i = 0; i < 10; i++)
    sent += node_send(&a, "alice@a.test", "bob@b.test", "after", NULL) == 0;
  books bk = {&a, sent, NULL};
  bk.sent = sent - delivered;
  node *na[1] = {&a};
  node_run(na, 1, settled, &bk, 15000);
  xs2s_counters c;
  xs2s_ctx_counters(a.ctx, &c);
  report("peer killed (no XEP-0198)", sent, delivered, a.bounces);
  printf("    a.test counted %llu written, %llu bounced, %llu accepted\n",
         (unsigned long long)c.stanzas_out,
         (unsigned long long)c.stanzas_bounced,
         (unsigned long long)c.stanzas_accepted);
  CHECK_INT(sent, N + 10);
  CHECK_INT(c.queued_bytes, 0);
  /* The engine's own books balance: every accepted stanza was written or
   * bounced. What was written but never read by the dead peer is the
   * difference between "written" and "delivered": without stream
   * management acknowledgements nobody can know. */
  CHECK_INT(c.stanzas_accepted, c.stanzas_out + c.stanzas_bounced);
  CHECK_INT(a.bounces, c.stanzas_bounced);
  /* Lost is exactly what was written to the dying stream and never read. */
  CHECK_INT(sent - delivered - a.bounces, (int)c.stanzas_out - delivered);
  node_stop(&a);
}

/* -- DNS ---------------------------------------------------------------- */

typedef struct responder {
  int fd;
  int servfail; /* 0: stay silent */
  volatile int stop;
} responder;

static void *responder_loop(void *arg) {
  responder *s = arg;
  while (!s->stop) {
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    unsigned char pkt[512];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(s->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from,
                         &flen);
    if (n < 12 || !s->servfail)
      continue;
    pkt[2] = (unsigned char)(0x80 | (pkt[2] & 0x79));
    pkt[3] = 0x02; /* SERVFAIL */
    sendto(s->fd, pkt, (size_t)n, 0, (struct sockaddr *)&from, flen);
  }
  return NULL;
}

static void dns_case(int servfail) {
  responder s = {socket(AF_INET, SOCK_DGRAM, 0), servfail, 0};
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  CHECK(bind(s.fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
  CHECK(getsockname(s.fd, (struct sockaddr *)&sin, &len) == 0);
  char conf[128];
  snprintf(conf, sizeof(conf), "%s/stub.conf", tmpdir);
  FILE *f = fopen(conf, "w");
  fprintf(f,
          "server:\n"
          "  do-not-query-localhost: no\n"
          "  local-zone: \".\" static\n"
          "  local-zone: \"broken.example.\" transparent\n"
          "stub-zone:\n"
          "  name: \"broken.example.\"\n"
          "  stub-addr: 127.0.0.1@%u\n",
          ntohs(sin.sin_port));
  fclose(f);
  pthread_t th;
  CHECK_INT(pthread_create(&th, NULL, responder_loop, &s), 0);
  node a;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  oa.dns = conf;
  oa.timeouts[XS2S_TIMEOUT_QUEUE] = 3000;
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
  } else {
    int sent = 0;
    for (int i = 0; i < 5; i++)
      sent += node_send(&a, "alice@a.test", "x@broken.example", "hi",
                        NULL) == 0;
    books bk = {&a, sent, NULL};
    node *na[1] = {&a};
    CHECK(node_run(na, 1, settled, &bk, 20000));
    report(servfail ? "DNS SERVFAIL" : "DNS timeout", sent, 0, a.bounces);
    printf("    condition %s: %s\n", xs2s_stanza_condition_name(a.last_cond),
           a.last_text);
    CHECK_INT(a.bounces, 5);
    CHECK_INT(a.last_cond, servfail ? XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND
                                    : XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    node_stop(&a);
  }
  s.stop = 1;
  pthread_join(th, NULL);
  close(s.fd);
  unlink(conf);
}

static void test_dns_timeout(void) {
  dns_case(0);
}

static void test_dns_servfail(void) {
  dns_case(1);
}

/* -- The first SRV target refusing ------------------------------------ */

static void test_srv_first_refused(void) {
  node a, c;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  node_opts oc = plain("c.test", "127.0.0.49:5269");
  if (node_start(&a, &oa) < 0 || node_start(&c, &oc) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &c};
  int sent = 0;
  for (int i = 0; i < 5; i++)
    sent += node_send(&a, "alice@a.test", "carol@c.test", "srv", NULL) == 0;
  books bk = {&a, sent, &c};
  CHECK(node_run(ns, 2, settled, &bk, 10000));
  xs2s_counters ca;
  xs2s_ctx_counters(a.ctx, &ca);
  report("first SRV target refusing", sent, c.ngot, a.bounces);
  CHECK_INT(c.ngot, 5);
  CHECK_INT(a.bounces, 0);
  CHECK(ca.connect_failures >= 1);
  node_stop(&a);
  node_stop(&c);
}

/* -- A full queue ----------------------------------------------------- */

static void test_full_queue(void) {
  node a;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  oa.limits[XS2S_LIMIT_STANZA_BYTES] = 1024;
  oa.limits[XS2S_LIMIT_QUEUE_BYTES] = 4096;
  oa.timeouts[XS2S_TIMEOUT_QUEUE] = 1000;
  if (node_start(&a, &oa) < 0) {
    CHECK(!"engine starts");
    return;
  }
  /* down.test: an address where nothing listens; the stanzas wait in the
   * queue while the connection is tried. */
  int sent = 0, refused = 0;
  for (int i = 0; i < 200; i++) {
    int rc = node_send(&a, "alice@a.test", "x@down.test",
                       "a body of some length to fill the queue", NULL);
    if (rc == 0)
      sent++;
    else if (rc == XS2S_ERR_LIMIT)
      refused++;
  }
  books bk = {&a, sent, NULL};
  node *na[1] = {&a};
  CHECK(node_run(na, 1, settled, &bk, 10000));
  report("full queue", sent, 0, a.bounces);
  printf("    %d more refused at send time with XS2S_ERR_LIMIT\n", refused);
  CHECK(sent > 0);
  CHECK(refused > 0);
  CHECK_INT(sent + refused, 200);
  CHECK_INT(a.bounces, sent);
  node_stop(&a);
}

/* -- A certificate expiring between connections ----------------------- */

static int make_short_cert(char *pem, char *key, size_t n, int seconds,
                           time_t *expires) {
  snprintf(key, n, "%s/short.key", tmpdir);
  snprintf(pem, n, "%s/short.pem", tmpdir);
  char tmpl[128], cmd[2048];
  snprintf(tmpl, sizeof(tmpl), "%s/short.tmpl", tmpdir);
  time_t now = time(NULL);
  time_t end = now + seconds;
  *expires = end;
  char from[32], to[32];
  strftime(from, sizeof(from), "%Y-%m-%d %H:%M:%S", gmtime(&(time_t){now - 60}));
  strftime(to, sizeof(to), "%Y-%m-%d %H:%M:%S", gmtime(&end));
  FILE *f = fopen(tmpl, "w");
  if (!f)
    return -1;
  fprintf(f,
          "cn = \"b.test\"\ndns_name = \"b.test\"\ntls_www_server\n"
          "tls_www_client\nactivation_date = \"%s\"\n"
          "expiration_date = \"%s\"\n",
          from, to);
  fclose(f);
  snprintf(cmd, sizeof(cmd),
           "certtool --generate-privkey --key-type=ecdsa --outfile %s "
           ">/dev/null 2>&1 && "
           "certtool --generate-certificate --load-privkey %s "
           "--load-ca-certificate %s/ca.pem --load-ca-privkey %s/ca.key "
           "--template %s --outfile %s >/dev/null 2>&1",
           key, key, node_certs_dir, node_certs_dir, tmpl, pem);
  int rc = system(cmd);
  unlink(tmpl);
  return rc == 0 ? 0 : -1;
}

/* An expired certificate is not a transient failure: the stanzas waiting
 * for the domain are bounced as soon as every candidate has failed (here
 * the only one), with remote-server-timeout (RFC 6120 8.3.3.17: stream
 * negotiation failed because of TLS), not at the queue timeout. Later
 * sends still follow the retry backoff, and once the peer has a valid
 * certificate again they are delivered. */
static void test_cert_expiring(void) {
  char pem[256], key[256];
  time_t expires;
  if (make_short_cert(pem, key, sizeof(pem), 4, &expires) < 0) {
    CHECK(!"certtool made a short-lived certificate (Debian gnutls-bin)");
    return;
  }
  node a, b;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  node_opts ob = plain("b.test", "127.0.0.47:5269");
  oa.certs = 1;
  oa.ca = ob.ca = "ca.pem";
  oa.tls = ob.tls = XS2S_TLS_REQUIRED;
  oa.require_cert = ob.require_cert = 1;
  /* The queue timeout stays far away: a bounce must not come from it. */
  oa.timeouts[XS2S_TIMEOUT_QUEUE] = 120000;
  ob.cert = pem;
  ob.key = key;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  int sent = node_send(&a, "alice@a.test", "bob@b.test", "before", NULL) == 0;
  books bk = {&a, sent, &b};
  CHECK(node_run(ns, 2, settled, &bk, 10000));
  CHECK_INT(b.ngot, 1);
  /* b.test restarts once its certificate has expired (the engine loads
   * it; nothing checks the dates at load time). */
  node_stop(&b);
  /* Certificate times have whole seconds and "expired" means strictly
   * after notAfter: wait until the wall clock is past it. */
  while (time(NULL) <= expires + 1)
    node_run_for(ns, 1, 100);
  if (node_start(&b, &ob) < 0) {
    CHECK(!"b.test restarts with its expired certificate");
    node_stop(&a);
    return;
  }
  /* Three stanzas queued for the one connection attempt. */
  sent = 0;
  for (int i = 0; i < 3; i++)
    sent += node_send(&a, "alice@a.test", "bob@b.test", "after", NULL) == 0;
  bk.sent = sent;
  a.bounces = 0;
  int done = node_run(ns, 2, settled, &bk, 5000);
  report("certificate expired", sent, b.ngot, a.bounces);
  printf("    bounced %s: %s\n", xs2s_stanza_condition_name(a.last_cond),
         a.last_text);
  CHECK(done); /* within 5 s, not at the 120 s queue timeout */
  CHECK_INT(sent, 3);
  CHECK_INT(b.ngot, 0);
  CHECK_INT(a.bounces, 3);
  CHECK_INT(a.last_cond, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  CHECK(strstr(a.last_text, "expired") != NULL);
  /* A later send: bounced from the cached failure or by a new attempt
   * that fails the same way, never lost. */
  sent += node_send(&a, "alice@a.test", "bob@b.test", "again", NULL) == 0;
  bk.sent = sent;
  CHECK(node_run(ns, 2, settled, &bk, 5000));
  CHECK_INT(a.bounces, 4);
  CHECK_INT(b.ngot, 0);
  /* The peer renews its certificate: after the backoff (at most
   * retry-max, 400 ms here) a new send is delivered. */
  node_stop(&b);
  ob.cert = ob.key = NULL;
  ob.certs = 1;
  if (node_start(&b, &ob) < 0) {
    CHECK(!"b.test restarts with a valid certificate");
    node_stop(&a);
    return;
  }
  node_run_for(ns, 2, 600);
  sent += node_send(&a, "alice@a.test", "bob@b.test", "renewed", NULL) == 0;
  bk.sent = sent;
  CHECK(node_run(ns, 2, settled, &bk, 10000));
  CHECK_INT(b.ngot, 1);
  CHECK_INT(a.bounces, 4);
  report("  then renewed", sent, b.ngot, a.bounces);
  node_stop(&a);
  node_stop(&b);
  unlink(pem);
  unlink(key);
}

/* -- A peer that vanishes silently ------------------------------------- */

static int set_lo(int up) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    if (up)
      ifr.ifr_flags |= IFF_UP;
    else
      ifr.ifr_flags &= ~IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  close(fd);
  return rc;
}

static int went_down(void *arg) {
  return ((node *)arg)->downs > 0;
}

static void test_dead_peer(void) {
  node a, b;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  node_opts ob = plain("b.test", "127.0.0.47:5269");
  /* Aggressive settings: whitespace every 500 ms, TCP keepalive after
   * 1 s idle, 2 probes 1 s apart: TCP_USER_TIMEOUT 3 s. */
  oa.timeouts[XS2S_TIMEOUT_KEEPALIVE] = 500;
  oa.timeouts[XS2S_TIMEOUT_TCP_KEEPALIVE_IDLE] = 1000;
  oa.timeouts[XS2S_TIMEOUT_TCP_KEEPALIVE_INTERVAL] = 1000;
  oa.limits[XS2S_LIMIT_TCP_KEEPALIVE_COUNT] = 2;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  node *ns[2] = {&a, &b};
  int sent = node_send(&a, "alice@a.test", "bob@b.test", "up", NULL) == 0;
  books bk = {&a, sent, &b};
  CHECK(node_run(ns, 2, settled, &bk, 10000));
  /* b.test vanishes: no FIN, no RST, nothing (the loopback is down, and
   * b.test is no longer driven). */
  CHECK_INT(set_lo(0), 0);
  int64_t t0 = node_now_ms();
  node *na[1] = {&a};
  int detected = node_run(na, 1, went_down, &a, 60000);
  int64_t took = node_now_ms() - t0;
  CHECK_INT(set_lo(1), 0);
  CHECK(detected);
  printf("  dead peer detected after %lld ms (whitespace 500 ms, TCP "
         "keepalive 1 s + 2 x 1 s)\n",
         (long long)took);
  node_stop(&b);
  node_stop(&a);
}

static int enter_netns(void) {
  if (unshare(CLONE_NEWNET) < 0) {
    fprintf(stderr, "unshare(CLONE_NEWNET): %s (the test needs root)\n",
            strerror(errno));
    return -1;
  }
  return set_lo(1);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_faults CERTS_DIR\n");
    return 2;
  }
  node_certs_dir = argv[1];
  if (enter_netns() < 0)
    return 1;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/xs2s-faults-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 2;
  if (node_setup_dns(
          "  local-data: \"a.test. 60 IN A 127.0.0.46\"\n"
          "  local-data: \"b.test. 60 IN A 127.0.0.47\"\n"
          "  local-data: \"_xmpp-server._tcp.c.test. 60 IN SRV 0 0 5269 "
          "down.c.test.\"\n"
          "  local-data: \"_xmpp-server._tcp.c.test. 60 IN SRV 10 0 5269 "
          "up.c.test.\"\n"
          "  local-data: \"down.c.test. 60 IN A 127.0.0.48\"\n"
          "  local-data: \"up.c.test. 60 IN A 127.0.0.49\"\n"
          "  local-data: \"down.test. 60 IN A 127.0.0.48\"\n") < 0)
    return 2;
  printf("fault cases (lost = sent - delivered - bounced):\n");
  if (argc < 3) { /* a second argument: only the certificate case */
    RUN(test_peer_killed);
    RUN(test_dns_timeout);
  RUN(test_dns_servfail);
  RUN(test_srv_first_refused);
  RUN(test_full_queue);
  }
  RUN(test_cert_expiring);
  RUN(test_dead_peer);
  node_cleanup_dns();
  rmdir(tmpdir);
  return check_finish();
}
