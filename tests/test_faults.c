/*
 * test_faults.c: failures around a running engine, counted.
 *
 *   test_faults CERTS_DIR
 *
 * Every case counts the stanzas sent, delivered (seen by the receiving
 * engine's stanza callback), bounced (the sender's bounce callback) and
 * lost (neither). The process runs in a network namespace of its own, so
 * the last case can make a peer vanish by taking the loopback down.
 * Addresses 127.0.0.46-51 (.50 is a TCP relay in front of .51).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ctx_node.h"
#include "dns_fake.h"

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

/* Per-message books for "m0" .. "m<MAP_N - 1>": how often each was
 * delivered to @receiver and bounced to @sender. */
enum { MAP_N = 2010 }; /* the cases' 2,000 + 10 */
static unsigned short got_map[MAP_N], bounce_map[MAP_N];

static void keep_books(node *sender, node *receiver) {
  memset(got_map, 0, sizeof(got_map));
  memset(bounce_map, 0, sizeof(bounce_map));
  receiver->got_map = got_map;
  receiver->map_n = MAP_N;
  sender->bounce_map = bounce_map;
  sender->map_n = MAP_N;
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

/* Crashes an engine: its sockets reset (linger 0) with whatever is unread
 * in them, before it can write anything more (a last acknowledgement,
 * say). Each descriptor is replaced by an unconnected socket (dup2), so
 * that its number stays taken until the engine is freed: another thread
 * never gets it in between. */
static void crash(node *n) {
  for (int i = 0; i < n->nw; i++) {
    struct linger lg = {1, 0};
    setsockopt(n->w[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    int dead = socket(AF_INET, SOCK_STREAM, 0);
    if (dead >= 0) {
      dup2(dead, n->w[i].fd);
      close(dead);
    }
  }
  node_stop(n);
}

static int got_some(void *arg) {
  return ((node *)arg)->ngot >= 1050;
}

static int acked_half(void *arg) {
  xs2s_counters c;
  xs2s_ctx_counters(((node *)arg)->ctx, &c);
  return c.stanzas_acked >= 1000;
}

/* Per-message books of one case: delivered (at the receiver), bounced (at
 * the sender), both, neither, more than once. */
typedef struct tally {
  int delivered, bounced, both, lost, twice;
} tally;

static tally count_books(const unsigned short *got, const unsigned short *bnc,
                         int n) {
  tally t = {0};
  for (int i = 0; i < n; i++) {
    t.delivered += got[i] > 0;
    t.bounced += bnc[i] > 0;
    t.both += got[i] > 0 && bnc[i] > 0;
    t.lost += got[i] == 0 && bnc[i] == 0;
    t.twice += got[i] > 1 || bnc[i] > 1;
  }
  return t;
}

static void report_books(const char *name, int sent, tally t) {
  printf("  %-28s sent %4d  delivered %4d  bounced %4d  lost %4d  "
         "both %d  twice %d\n",
         name, sent, t.delivered, t.bounced, t.lost, t.both, t.twice);
}

static void peer_killed(int sm) {
  node a, b;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  node_opts ob = plain("b.test", "127.0.0.47:5269");
  oa.sm_off = ob.sm_off = !sm;
  if (node_start(&a, &oa) < 0 || node_start(&b, &ob) < 0) {
    CHECK(!"engines start");
    return;
  }
  enum { N = 2000 };
  keep_books(&a, &b);
  node *ns[2] = {&a, &b};
  int sent = 0;
  /* A first half delivered (and, with XEP-0198, acknowledged), then the
   * second half in flight when b.test dies. */
  for (int i = 0; i < N; i++) {
    char body[32];
    snprintf(body, sizeof(body), "m%d", i);
    sent += node_send(&a, "alice@a.test", "bob@b.test", body, NULL) == 0;
    if (i == N / 2 - 1) {
      books half = {&a, N / 2, &b};
      CHECK(node_run(ns, 2, settled, &half, 10000));
      if (sm)
        CHECK(node_run(ns, 2, acked_half, &a, 10000));
    }
  }
  CHECK(node_run(ns, 2, got_some, &b, 10000));
  /* Kill b.test abruptly, as a crash would. Its resumption state dies
   * with it. */
  int delivered = b.ngot;
  crash(&b);
  /* Sends after the death: accepted, then bounced (nobody listens). */
  for (int i = 0; i < 10; i++) {
    char body[32];
    snprintf(body, sizeof(body), "m%d", N + i);
    sent += node_send(&a, "alice@a.test", "bob@b.test", body, NULL) == 0;
  }
  books bk = {&a, sent - delivered, NULL};
  node *na[1] = {&a};
  node_run(na, 1, settled, &bk, 15000);
  xs2s_counters c;
  xs2s_ctx_counters(a.ctx, &c);
  tally t = count_books(got_map, bounce_map, N + 10);
  report_books(sm ? "peer killed (XEP-0198)" : "peer killed (no XEP-0198)",
               sent, t);
  printf("    a.test counted %llu written, %llu acked, %llu bounced "
         "(%llu unacked), %llu accepted\n",
         (unsigned long long)c.stanzas_out,
         (unsigned long long)c.stanzas_acked,
         (unsigned long long)c.stanzas_bounced,
         (unsigned long long)c.stanzas_bounced_unacked,
         (unsigned long long)c.stanzas_accepted);
  CHECK_INT(sent, N + 10);
  CHECK_INT(c.queued_bytes, 0);
  CHECK_INT(c.unacked_stanzas, 0);
  CHECK_INT(t.delivered, delivered);
  CHECK_INT(t.twice, 0);
  CHECK_INT(a.bounces, c.stanzas_bounced);
  /* The engine's own books balance: every accepted stanza was written
   * (for good) or bounced. */
  CHECK_INT(c.stanzas_accepted, c.stanzas_out - c.stanzas_resent -
                                    c.stanzas_bounced_unacked +
                                    c.stanzas_bounced);
  if (sm) {
    /* Nothing lost: what the dead peer did not acknowledge is bounced
     * (handled but not yet acknowledged ones are both delivered and
     * bounced: at least once, or bounced). */
    CHECK_INT(t.lost, 0);
    CHECK(c.stanzas_bounced_unacked > 0);
    CHECK(c.stanzas_acked >= N / 2);
    CHECK(c.stanzas_acked <= (uint64_t)delivered);
    CHECK_INT(t.both, delivered - (int)c.stanzas_acked);
  } else {
    /* Without acknowledgements nobody can know what the dead peer read:
     * exactly what was written to the dying stream and never read is
     * lost. */
    CHECK_INT(c.stanzas_bounced_unacked, 0);
    CHECK_INT(c.stanzas_accepted, c.stanzas_out + c.stanzas_bounced);
    CHECK_INT(t.lost, (int)c.stanzas_out - delivered);
  }
  node_stop(&a);
}

static void test_peer_killed(void) {
  peer_killed(1);
}

static void test_peer_killed_no_sm(void) {
  peer_killed(0);
}

/* -- The connection cut, both engines alive --------------------------- */

/* A TCP relay between a.test and d.test: 127.0.0.50:5269 forwards to
 * d.test at 127.0.0.51:5269. Setting @cut resets the first connection it
 * carries, the stream with the stanzas (both sides get RST, whatever is in
 * flight is gone); the others (a.test's dialback verifications for d.test)
 * go on. */
typedef struct relay {
  int lfd;
  volatile int cut, stop;
  int conns; /* connections relayed so far */
  int pair[8][2];
  int npairs;
} relay;

static void relay_reset(relay *rl) {
  for (int i = 0; i < rl->npairs; i++)
    for (int j = 0; j < 2; j++) {
      struct linger lg = {1, 0};
      setsockopt(rl->pair[i][j], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      close(rl->pair[i][j]);
    }
  rl->npairs = 0;
}

static void relay_accept(relay *rl) {
  int in = accept(rl->lfd, NULL, NULL);
  if (in < 0)
    return;
  int out = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(5269);
  inet_pton(AF_INET, "127.0.0.51", &sin.sin_addr);
  if (rl->npairs == 8 ||
      connect(out, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
    close(in);
    close(out);
    return;
  }
  rl->pair[rl->npairs][0] = in;
  rl->pair[rl->npairs][1] = out;
  rl->npairs++;
  rl->conns++;
}

/* Moves bytes one way; -1 when that side is finished. */
static int relay_move(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0)
    return -1;
  for (ssize_t off = 0; off < n;) {
    ssize_t k = write(to, buf + off, (size_t)(n - off));
    if (k <= 0)
      return -1;
    off += k;
  }
  return 0;
}

static void *relay_loop(void *arg) {
  relay *rl = arg;
  while (!rl->stop) {
    if (rl->cut && rl->npairs > 0) {
      for (int j = 0; j < 2; j++) {
        struct linger lg = {1, 0};
        setsockopt(rl->pair[0][j], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(rl->pair[0][j]);
      }
      rl->npairs--;
      rl->pair[0][0] = rl->pair[rl->npairs][0];
      rl->pair[0][1] = rl->pair[rl->npairs][1];
      rl->cut = 0;
    }
    struct pollfd p[1 + 16];
    p[0].fd = rl->lfd;
    p[0].events = POLLIN;
    for (int i = 0; i < rl->npairs; i++)
      for (int j = 0; j < 2; j++) {
        p[1 + 2 * i + j].fd = rl->pair[i][j];
        p[1 + 2 * i + j].events = POLLIN;
      }
    int polled = rl->npairs; /* a pair accepted below was not polled */
    if (poll(p, (nfds_t)(1 + 2 * polled), 20) <= 0)
      continue;
    if (p[0].revents & POLLIN)
      relay_accept(rl);
    for (int i = 0; i < polled && i < rl->npairs; i++)
      for (int j = 0; j < 2; j++) {
        if (!(p[1 + 2 * i + j].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        if (relay_move(rl->pair[i][j], rl->pair[i][1 - j]) < 0) {
          close(rl->pair[i][0]);
          close(rl->pair[i][1]);
          rl->pair[i][0] = rl->pair[rl->npairs - 1][0];
          rl->pair[i][1] = rl->pair[rl->npairs - 1][1];
          rl->npairs--;
          i = rl->npairs; /* the poll set is stale: start over */
          break;
        }
      }
  }
  relay_reset(rl);
  return NULL;
}

typedef struct cut_books {
  node *a, *d;
  int sent;
  const unsigned short *got, *bnc;
} cut_books;

/* Every message delivered or bounced, nothing queued or unacknowledged. */
static int cut_settled(void *arg) {
  cut_books *cb = arg;
  xs2s_counters c;
  xs2s_ctx_counters(cb->a->ctx, &c);
  int done = 0;
  for (int i = 0; i < cb->sent; i++)
    done += cb->got[i] > 0 || cb->bnc[i] > 0;
  return c.queued_bytes == 0 && c.unacked_stanzas == 0 && done >= cb->sent;
}



typedef struct cut_when {
  node *a, *d;
  int two;
  int at; /* stanzas in */
} cut_when;

static int sm_on_out(const xs2s_conn_info *in, void *arg) {
  if (in->direction == XS2S_DIR_OUTGOING && in->sm)
    *(int *)arg = 1;
  return 0;
}

/* @at stanzas in, stream management on at a.test (it has the id), and
 * with two pairs the second one authenticated (its first message in). */
static int ready_to_cut(void *arg) {
  cut_when *cw = arg;
  int on = 0;
  xs2s_ctx_foreach_conn(cw->a->ctx, sm_on_out, &on);
  return cw->d->ngot >= cw->at && on &&
         (!cw->two || cw->d->got_map[1] > 0);
}

enum cut_mode {
  CUT_RESUME,      /* one pair, resumed */
  CUT_TWO_PAIRS,   /* a.test and a2.test both send, resumed */
  CUT_NO_RESUME,   /* d.test offers acknowledgements only */
  CUT_RESTART      /* d.test crashes and restarts: its state is gone */
};

static void connection_cut(enum cut_mode mode) {
  int two = mode == CUT_TWO_PAIRS;
  relay rl = {socket(AF_INET, SOCK_STREAM, 0), 0, 0, 0, {{0}}, 0};
  int one = 1;
  setsockopt(rl.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(5269);
  inet_pton(AF_INET, "127.0.0.50", &sin.sin_addr);
  if (bind(rl.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
      listen(rl.lfd, 8) < 0) {
    CHECK(!"relay listens on 127.0.0.50:5269");
    close(rl.lfd);
    return;
  }
  node a, d;
  node_opts oa = plain("a.test", "127.0.0.46:5269");
  node_opts od = plain("d.test", "127.0.0.51:5269");
  oa.timeouts[XS2S_TIMEOUT_RETRY_MIN] = 50;
  if (two)
    oa.domain2 = "a2.test";
  if (mode == CUT_NO_RESUME) {
    od.timeouts[XS2S_TIMEOUT_SM_RESUME] = 0;
    od.timeout_set[XS2S_TIMEOUT_SM_RESUME] = 1;
  }
  if (node_start(&a, &oa) < 0 || node_start(&d, &od) < 0) {
    CHECK(!"engines start");
    close(rl.lfd);
    return;
  }
  pthread_t th;
  CHECK_INT(pthread_create(&th, NULL, relay_loop, &rl), 0);
  enum { N = 2000 };
  keep_books(&a, &d);
  node *ns[2] = {&a, &d};
  int sent = 0;
  cut_when cw = {&a, &d, two, two ? 2 : 1};
  for (int i = 0; i < N; i++) {
    char body[32];
    snprintf(body, sizeof(body), "m%d", i);
    sent += node_send(&a, two && i % 3 == 1 ? "ann@a2.test" : "alice@a.test",
                      "dave@d.test", body, NULL) == 0;
    if (i == 1) /* the stream up, then the burst */
      CHECK(node_run(ns, 2, ready_to_cut, &cw, 10000));
  }
  cw.at = 300;
  CHECK(node_run(ns, 2, ready_to_cut, &cw, 10000));
  if (mode == CUT_RESTART) {
    crash(&d);
    if (node_start(&d, &od) < 0)
      CHECK(!"d.test restarts");
    d.got_map = got_map; /* the same books, counting on */
    d.map_n = MAP_N;
  } else {
    rl.cut = 1; /* mid-flow: both engines get a reset */
  }
  for (int i = 0; i < 10; i++) {
    char body[32];
    snprintf(body, sizeof(body), "m%d", N + i);
    sent += node_send(&a, two && i % 2 ? "ann@a2.test" : "alice@a.test",
                      "dave@d.test", body, NULL) == 0;
  }
  cut_books cb = {&a, &d, sent, got_map, bounce_map};
  int done = node_run(ns, 2, cut_settled, &cb, 20000);
  xs2s_counters ca, cd;
  xs2s_ctx_counters(a.ctx, &ca);
  xs2s_ctx_counters(d.ctx, &cd);
  tally t = count_books(got_map, bounce_map, N + 10);
  static const char *const names[] = {
      [CUT_RESUME] = "connection cut (XEP-0198)",
      [CUT_TWO_PAIRS] = "connection cut, 2 pairs",
      [CUT_NO_RESUME] = "cut, no resumption offered",
      [CUT_RESTART] = "peer crashed and restarted",
  };
  report_books(names[mode], sent, t);
  printf("    %s; a.test: %llu written, %llu resent, %llu acked, %llu "
         "resumed; d.test: %llu resumed; %d connections relayed\n",
         done ? "settled" : "NOT settled within 20 s",
         (unsigned long long)ca.stanzas_out,
         (unsigned long long)ca.stanzas_resent,
         (unsigned long long)ca.stanzas_acked,
         (unsigned long long)ca.sm_resumed_out,
         (unsigned long long)cd.sm_resumed_in, rl.conns);
  CHECK(done);
  CHECK_INT(sent, N + 10);
  CHECK_INT(t.twice, 0);
  CHECK_INT(t.lost, 0);
  if (mode == CUT_RESUME || mode == CUT_TWO_PAIRS) {
    /* Every stanza delivered exactly once, none bounced. */
    CHECK_INT(t.delivered, N + 10);
    CHECK_INT(t.bounced, 0);
    CHECK_INT(d.ngot, N + 10);
    CHECK(rl.conns >= 2);
    CHECK_INT(ca.sm_resumed_out, 1);
    CHECK_INT(cd.sm_resumed_in, 1);
    CHECK_INT(ca.stanzas_acked, N + 10);
  } else {
    /* Nothing resumed: what was not acknowledged is bounced, never
     * written again on a new stream. */
    CHECK_INT(ca.sm_resumed_out, 0);
    CHECK(ca.stanzas_bounced_unacked > 0);
    CHECK_INT(ca.stanzas_resent, 0);
    CHECK_INT(t.bounced, (int)ca.stanzas_bounced_unacked);
  }
  CHECK_INT(ca.stanzas_accepted,
            ca.stanzas_out - ca.stanzas_resent - ca.stanzas_bounced_unacked +
                ca.stanzas_bounced);
  rl.stop = 1;
  pthread_join(th, NULL);
  close(rl.lfd);
  node_stop(&a);
  node_stop(&d);
}

static void test_connection_cut(void) {
  connection_cut(CUT_RESUME);
}

static void test_connection_cut_two_pairs(void) {
  connection_cut(CUT_TWO_PAIRS);
}

static void test_connection_cut_no_resume(void) {
  connection_cut(CUT_NO_RESUME);
}

static void test_peer_restarted(void) {
  connection_cut(CUT_RESTART);
}

/* -- DNS ---------------------------------------------------------------- */

static void dns_case(int servfail) {
  dns_fake s;
  CHECK_INT(dns_fake_start(&s, servfail), 0);
  char conf[128], text[512];
  snprintf(conf, sizeof(conf), "%s/stub.conf", tmpdir);
  dns_fake_stub_conf(&s, "broken.example", text, sizeof(text));
  FILE *f = fopen(conf, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
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
  dns_fake_stop(&s);
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
  CHECK_INT(node_set_loopback(0), 0);
  int64_t t0 = node_now_ms();
  node *na[1] = {&a};
  int detected = node_run(na, 1, went_down, &a, 60000);
  int64_t took = node_now_ms() - t0;
  CHECK_INT(node_set_loopback(1), 0);
  CHECK(detected);
  printf("  dead peer detected after %lld ms (whitespace 500 ms, TCP "
         "keepalive 1 s + 2 x 1 s)\n",
         (long long)took);
  node_stop(&b);
  node_stop(&a);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_faults CERTS_DIR\n");
    return 2;
  }
  node_certs_dir = argv[1];
  if (node_enter_netns() < 0)
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
          "  local-data: \"down.test. 60 IN A 127.0.0.48\"\n"
          "  local-data: \"d.test. 60 IN A 127.0.0.50\"\n"
          "  local-data: \"a2.test. 60 IN A 127.0.0.46\"\n") < 0)
    return 2;
  printf("fault cases (lost = sent - delivered - bounced):\n");
  int all = argc < 3; /* a second argument: only the certificate case */
  if (all) {
    RUN(test_peer_killed);
    RUN(test_peer_killed_no_sm);
    RUN(test_connection_cut);
    RUN(test_connection_cut_two_pairs);
    RUN(test_connection_cut_no_resume);
    RUN(test_peer_restarted);
    RUN(test_dns_timeout);
    RUN(test_dns_servfail);
    RUN(test_srv_first_refused);
    RUN(test_full_queue);
  }
  RUN(test_cert_expiring);
  if (all)
    RUN(test_dead_peer);
  node_cleanup_dns();
  rmdir(tmpdir);
  return check_finish();
}
