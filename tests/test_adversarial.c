/*
 * test_adversarial.c: hostile peers against a running engine.
 *
 *   test_adversarial CERTS_DIR
 *
 * a.test (127.0.0.41) is the engine under test; b.test (127.0.0.42) is a
 * legitimate peer that exchanges messages with it between and during the
 * attacks. The attackers are raw TCP clients written here, connecting from
 * 127.0.0.43. For each attack the test checks the stream error the
 * attacker receives, that its connection is closed, that a.test still
 * delivers to and from b.test, and that memory stays bounded (the engine's
 * own counters and the process RSS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "ctx_node.h"

#define ATTACKER_IP "127.0.0.43"
#define A_IP "127.0.0.41"
#define B_SECRET "b-test-dialback-secret"

static node a, b, r;
static node *both[2] = {&a, &b};

/* -- Process memory -------------------------------------------------------- */

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
      res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* -- Attacker side ------------------------------------------------------- */

typedef struct attacker {
  int fd;
  char in[65536];
  size_t len;
  int eof;
} attacker;

static int tcp_to(const char *src, const char *dst, uint16_t port,
                  int nonblock) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, src, &sa.sin_addr);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    close(fd);
    return -1;
  }
  sa.sin_port = htons(port);
  inet_pton(AF_INET, dst, &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static void att_open(attacker *t, uint16_t port) {
  memset(t, 0, sizeof(*t));
  t->fd = tcp_to(ATTACKER_IP, A_IP, port, 0);
  CHECK(t->fd >= 0);
  if (t->fd >= 0)
    fcntl(t->fd, F_SETFL, O_NONBLOCK);
}

/* Writes everything (the engine is driven while the socket is full).
 * Returns 0, or -1 once the engine has closed the connection. */
static int att_write(attacker *t, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t k = send(t->fd, s, n, MSG_NOSIGNAL);
    if (k > 0) {
      s += k;
      n -= (size_t)k;
    } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      node_run_for(both, 2, 5);
    } else {
      return -1;
    }
  }
  return 0;
}

static int att_puts(attacker *t, const char *s) {
  return att_write(t, s, strlen(s));
}

static void att_read(attacker *t) {
  for (;;) {
    if (t->len + 1 >= sizeof(t->in))
      t->len = 0; /* keep the tail only: the test looks for the end */
    ssize_t k = recv(t->fd, t->in + t->len, sizeof(t->in) - 1 - t->len, 0);
    if (k > 0) {
      t->len += (size_t)k;
      t->in[t->len] = '\0';
    } else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
                          errno != EINTR)) {
      t->eof = 1;
      return;
    } else {
      return;
    }
  }
}

static attacker *wait_t;
static const char *wait_text;
static int att_have(void *arg) {
  (void)arg;
  att_read(wait_t);
  if (wait_text)
    return strstr(wait_t->in, wait_text) != NULL;
  return wait_t->eof;
}

/* Drives the engines until the attacker has read @text (NULL: until the
 * engine closed the connection). Returns 1 on success. */
static int att_expect(attacker *t, const char *text, int limit_ms) {
  wait_t = t;
  wait_text = text;
  int ok = node_run(both, 2, att_have, NULL, limit_ms);
  if (!ok && getenv("XS2S_TEST_VERBOSE"))
    fprintf(stderr, "attacker read: %.*s\n", (int)t->len, t->in);
  return ok;
}

static void att_close(attacker *t) {
  if (t->fd >= 0)
    close(t->fd);
  t->fd = -1;
}

/* The stream error @cond was received and the connection then closed. */
static void expect_stream_error(attacker *t, const char *cond, int limit_ms) {
  char want[96];
  snprintf(want, sizeof(want), "<%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'",
           cond);
  int got = att_expect(t, "</stream:error>", limit_ms);
  CHECK(got);
  if (!strstr(t->in, want)) {
    fprintf(stderr, "expected %s, attacker read: %s\n", cond, t->in);
    CHECK(!"stream error condition");
  }
  CHECK(att_expect(t, NULL, limit_ms));
  att_close(t);
  if (getenv("XS2S_TEST_VERBOSE"))
    printf("  attacker got <%s/>, connection closed\n", cond);
}

static const char *header(const char *from, const char *to) {
  static char h[512];
  snprintf(h, sizeof(h),
           "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "xmlns:db='jabber:server:dialback' from='%s' to='%s' "
           "version='1.0'>",
           from, to);
  return h;
}

/* -- The legitimate exchange ---------------------------------------------- */

static int pings;

typedef struct echo_wait {
  int want;
} echo_wait;

static int b_has(void *arg) {
  return b.ngot >= ((echo_wait *)arg)->want;
}

/* b.test -> a.test -> (echo) -> b.test, and a.test -> b.test directly. */
static void legit_exchange(void) {
  char body[32];
  snprintf(body, sizeof(body), "ping %d", ++pings);
  int before = b.ngot;
  CHECK_INT(node_send(&b, "bob@b.test", "alice@a.test", body, NULL), 0);
  CHECK_INT(node_send(&a, "alice@a.test", "bob@b.test", "direct", NULL), 0);
  echo_wait w = {before + 2};
  CHECK(node_run(both, 2, b_has, &w, 10000));
  CHECK_INT(a.bounces + b.bounces, 0);
}

static uint64_t open_conns(node *n) {
  xs2s_counters c;
  xs2s_ctx_counters(n->ctx, &c);
  return c.open_connections;
}

static uint64_t base_conns;

/* After an attack: a.test is back to its legitimate streams. */
static void settle(void) {
  node_run_for(both, 2, 100);
  CHECK_INT(open_conns(&a), base_conns);
  legit_exchange();
}

/* -- Attacks ---------------------------------------------------------------- */

static uint16_t a_port;

static void test_slowloris(void) {
  /* One byte per tick, never completing the header: the handshake timer
   * (2 s here) ends it however patient the attacker is. */
  attacker t;
  att_open(&t, a_port);
  const char *h = header("evil.test", "a.test");
  size_t i = 0;
  int64_t start = node_now_ms();
  while (!t.eof && node_now_ms() - start < 8000) {
    if (i < strlen(h) - 1 && att_write(&t, h + i++, 1) < 0)
      break;
    node_run_for(both, 2, 40);
    att_read(&t);
  }
  CHECK(i < strlen(h) - 1); /* cut off before the header was complete */
  CHECK(strstr(t.in, "<connection-timeout") != NULL);
  CHECK(att_expect(&t, NULL, 2000));
  att_close(&t);
  settle();
}

static void test_header_then_silence(void) {
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("evil.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  /* During the wait the legitimate streams carry on. */
  legit_exchange();
  expect_stream_error(&t, "connection-timeout", 6000);
  settle();
}

static void test_tls_never_finished(void) {
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("evil.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  CHECK(strstr(t.in, "urn:ietf:params:xml:ns:xmpp-tls") != NULL);
  att_puts(&t, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  CHECK(att_expect(&t, "<proceed", 2000));
  /* The first bytes of a TLS record header, then nothing. */
  att_write(&t, "\x16\x03\x01\x02", 4);
  legit_exchange();
  /* No stream error is possible inside an unfinished TLS handshake: the
   * connection is closed when the handshake timer fires. */
  t.len = 0;
  t.in[0] = '\0';
  CHECK(att_expect(&t, NULL, 6000));
  att_close(&t);
  settle();
}

static void test_stanza_without_end(void) {
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("evil.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  long rss0 = rss_kib();
  xs2s_counters c0;
  xs2s_ctx_counters(a.ctx, &c0);
  att_puts(&t, "<message from='x@evil.test' to='y@a.test'><body>");
  static char chunk[16384];
  memset(chunk, 'A', sizeof(chunk));
  size_t sent = 0;
  /* Up to 64 MiB; the engine's stanza bound is 16 KiB here. */
  while (sent < ((size_t)64 << 20)) {
    if (att_write(&t, chunk, sizeof(chunk)) < 0)
      break;
    sent += sizeof(chunk);
    att_read(&t);
    if (t.eof || strstr(t.in, "</stream:error>"))
      break;
  }
  CHECK(strstr(t.in, "<policy-violation") != NULL);
  xs2s_counters c1;
  xs2s_ctx_counters(a.ctx, &c1);
  /* After the error the engine reads on only to find the peer's close
   * (XS2S_TIMEOUT_CLOSING) and parses none of it. */
  uint64_t read = c1.bytes_in - c0.bytes_in;
  CHECK(att_expect(&t, NULL, 2000));
  att_close(&t);
  long grown = rss_kib() - rss0;
  CHECK(grown < 8192);
  if (getenv("XS2S_TEST_VERBOSE"))
    printf("  wrote %zu bytes, the engine read %llu before the error; RSS "
           "grew %ld KiB\n",
           sent, (unsigned long long)read, grown);
  settle();
}

static void test_invalid_utf8(void) {
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("evil.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  att_puts(&t, "<message from='x@evil.test' to='y@a.test'><body>\xff\xfe"
               "\xc0\xaf</body></message>");
  /* RFC 6120 4.9.3.22: a violation of the UTF-8 rules. */
  expect_stream_error(&t, "unsupported-encoding", 2000);
  settle();
}

static void test_restart_mid_stanza(void) {
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("evil.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  att_puts(&t, "<message from='x@evil.test' to='y@a.test'><body>half");
  att_puts(&t, header("evil.test", "a.test"));
  expect_stream_error(&t, "not-well-formed", 2000);
  settle();
}

static void test_verify_never_asked(void) {
  /* Answers to <db:verify> requests a.test never made, on a stream the
   * attacker opened: an answer belongs on a stream a.test initiated, so
   * the engine ignores each one (logged) and creates no state. */
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("b.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  long rss0 = rss_kib();
  for (int i = 0; i < 2000 && !t.eof; i++) {
    char line[256];
    snprintf(line, sizeof(line),
             "<db:verify from='b.test' to='a.test' id='no-such-%d' "
             "type='valid'/>",
             i);
    att_puts(&t, line);
    if (i % 100 == 0)
      node_run_for(both, 2, 2);
  }
  node_run_for(both, 2, 200);
  att_read(&t);
  CHECK(!t.eof);
  CHECK(strstr(t.in, "type='valid'") == NULL);
  CHECK(rss_kib() - rss0 < 4096);
  /* No pair came of it: a stanza is still refused. */
  att_puts(&t, "<message from='x@b.test' to='alice@a.test'><body>x</body>"
               "</message>");
  expect_stream_error(&t, "not-authorized", 2000);
  settle();
}

static void test_dialback_flood(void) {
  /* Random keys for b.test: a.test asks b.test (the authority), which
   * says invalid; the attacker gets no pair and no stanza through. */
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("b.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  xs2s_counters c0;
  xs2s_ctx_counters(a.ctx, &c0);
  long rss0 = rss_kib();
  int sent = 0;
  for (; sent < 1000 && !t.eof; sent++) {
    char line[256];
    snprintf(line, sizeof(line),
             "<db:result from='b.test' to='a.test'>%08x%08x%08x</db:result>",
             (unsigned)random(), (unsigned)random(), (unsigned)random());
    if (att_puts(&t, line) < 0)
      break;
    if (sent % 50 == 0) {
      node_run_for(both, 2, 5);
      att_read(&t);
    }
  }
  att_expect(&t, NULL, 5000);
  CHECK(t.eof);
  /* What the attacker was told: an invalid result or a stream error. */
  CHECK(strstr(t.in, "type='invalid'") != NULL ||
        strstr(t.in, "</stream:error>") != NULL);
  if (getenv("XS2S_TEST_VERBOSE"))
    printf("  %d results written; attacker read %zu bytes: %.300s\n", sent,
           t.len, t.in);
  att_close(&t);
  CHECK(rss_kib() - rss0 < 8192);
  xs2s_counters c1;
  xs2s_ctx_counters(a.ctx, &c1);
  CHECK_INT(c1.stanzas_in, c0.stanzas_in);
  settle();
}

static void test_spoofed_from(void) {
  /* The attacker proves b.test honestly (it knows b.test's dialback
   * secret, as a second server of b.test would) and then sends a stanza
   * claiming to come from c.test. It runs after the floods, and first
   * lets the legitimate streams idle for longer than the dialback timeout
   * (4 s): a verification sent on a long-idle stream to b.test used to be
   * timed from the stream's last event, so it expired at once and the
   * honest key was answered remote-server-timeout. */
  node_run_for(both, 2, 4500);
  attacker t;
  att_open(&t, a_port);
  att_puts(&t, header("b.test", "a.test"));
  CHECK(att_expect(&t, "</stream:features>", 2000));
  const char *id = strstr(t.in, " id='");
  char sid[128] = "";
  if (id)
    sscanf(id + 5, "%127[^']", sid);
  CHECK(sid[0] != '\0');
  char key[XS2S_DIALBACK_KEY_SIZE];
  CHECK_INT(xs2s_dialback_key(B_SECRET, "a.test", "b.test", sid, key), 0);
  char line[512];
  snprintf(line, sizeof(line),
           "<db:result from='b.test' to='a.test'>%s</db:result>", key);
  att_puts(&t, line);
  CHECK(att_expect(&t, "type='valid'", 8000));
  xs2s_counters c0;
  xs2s_ctx_counters(a.ctx, &c0);
  att_puts(&t, "<message from='mallory@c.test' to='alice@a.test'>"
               "<body>spoof</body></message>");
  expect_stream_error(&t, "invalid-from", 2000);
  xs2s_counters c1;
  xs2s_ctx_counters(a.ctx, &c1);
  CHECK_INT(c1.stanzas_in, c0.stanzas_in);
  settle();
  xs2s_counters c2;
  xs2s_ctx_counters(a.ctx, &c2);
  CHECK_INT(c2.stanzas_rejected, c0.stanzas_rejected + 1);
}

static void test_skip_starttls(void) {
  /* r.test requires TLS; the attacker sends dialback without STARTTLS. */
  attacker t;
  memset(&t, 0, sizeof(t));
  t.fd = tcp_to(ATTACKER_IP, "127.0.0.44", xs2s_ctx_listen_port(r.ctx, 0), 0);
  CHECK(t.fd >= 0);
  fcntl(t.fd, F_SETFL, O_NONBLOCK);
  node *nodes[3] = {&a, &b, &r};
  att_puts(&t, header("b.test", "r.test"));
  wait_t = &t;
  wait_text = "</stream:features>";
  CHECK(node_run(nodes, 3, att_have, NULL, 2000));
  CHECK(strstr(t.in, "<required/>") != NULL);
  att_puts(&t, "<db:result from='b.test' to='r.test'>0123456789abcdef"
               "</db:result>");
  wait_text = "</stream:error>";
  CHECK(node_run(nodes, 3, att_have, NULL, 2000));
  CHECK(strstr(t.in, "<policy-violation") != NULL);
  wait_text = NULL;
  CHECK(node_run(nodes, 3, att_have, NULL, 2000));
  att_close(&t);
  settle();
}

/* The accept-rate settings of a.test (start_nodes()). */
#define ACCEPT_BURST 100
#define ACCEPT_PER_MINUTE 600
#define REFUSAL_LOG_MS 2000

/* Attempts the rate limit lets through in @ms: the burst plus the refill,
 * plus one for the rounding of a partial token. */
static uint64_t rate_allows(int64_t ms) {
  return ACCEPT_BURST + (uint64_t)ms * ACCEPT_PER_MINUTE / 60000 + 1;
}

/* Log lines about refusals that a.test may write in @ms: the first in
 * full, then one summary per interval (plus one for the window that was
 * open when the count started and one for the window still open). */
static int logs_allowed(int64_t ms) {
  return 3 + (int)(ms / REFUSAL_LOG_MS);
}

static void test_connection_churn(void) {
  /* Connect and hang up, one connection at a time: never more than one
   * open, so only the accept-rate limit can stop it. */
  enum { N = 2000 };
  xs2s_counters c0, c;
  xs2s_ctx_counters(a.ctx, &c0);
  int logs0 = a.refused_logs;
  int64_t start = node_now_ms();
  for (int i = 0; i < N; i++) {
    int fd = tcp_to(ATTACKER_IP, A_IP, a_port, 0);
    CHECK(fd >= 0);
    if (fd >= 0)
      close(fd);
    if (i % 20 == 19)
      node_run_for(both, 2, 1);
  }
  uint64_t seen = 0;
  int64_t end = node_now_ms() + 20000;
  while (seen < N && node_now_ms() < end) {
    node_run_for(both, 2, 10);
    xs2s_ctx_counters(a.ctx, &c);
    seen = (c.connections_in - c0.connections_in) +
           (c.refused_by_limit - c0.refused_by_limit);
  }
  int64_t took = node_now_ms() - start;
  uint64_t kept = c.connections_in - c0.connections_in;
  uint64_t refused = c.refused_by_limit - c0.refused_by_limit;
  int logs = a.refused_logs - logs0;
  printf("  connection churn: %d attempts in %lld ms, %llu accepted, %llu "
         "refused by accept-rate (burst %d, %d/min), %d log lines\n",
         N, (long long)took, (unsigned long long)kept,
         (unsigned long long)refused, ACCEPT_BURST, ACCEPT_PER_MINUTE, logs);
  CHECK_INT(seen, N);
  CHECK(kept <= rate_allows(took));
  CHECK(refused >= N - rate_allows(took));
  CHECK(logs >= 1);
  CHECK(logs <= logs_allowed(took));
  settle();
}

static void test_connection_flood(void) {
  /* 10,000 connections at once from one address; the limits are 50 per
   * address and 200 in total, and the accept-rate. */
  enum { N = 10000 };
  struct rlimit rl = {N + 1024, N + 1024};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
    CHECK(!"setrlimit(RLIMIT_NOFILE) for 10,000 sockets (run as root)");
    return;
  }
  static int fds[N];
  xs2s_counters c0;
  xs2s_ctx_counters(a.ctx, &c0);
  long rss0 = rss_kib();
  int logs0 = a.refused_logs;
  int64_t start = node_now_ms();
  int opened = 0;
  for (int i = 0; i < N; i++) {
    fds[i] = tcp_to(ATTACKER_IP, A_IP, a_port, 1);
    opened += fds[i] >= 0;
    if (i % 100 == 99)
      node_run_for(both, 2, 1);
  }
  CHECK_INT(opened, N);
  /* Run until every connection was accepted and refused, or kept. */
  int64_t end = node_now_ms() + 60000;
  xs2s_counters c;
  uint64_t peak = 0;
  for (;;) {
    node_run_for(both, 2, 20);
    xs2s_ctx_counters(a.ctx, &c);
    if (c.open_connections > peak)
      peak = c.open_connections;
    uint64_t seen = (c.connections_in - c0.connections_in) +
                    (c.refused_by_limit - c0.refused_by_limit);
    if (seen >= N || node_now_ms() > end)
      break;
  }
  int64_t took = node_now_ms() - start;
  uint64_t kept = c.connections_in - c0.connections_in;
  uint64_t refused = c.refused_by_limit - c0.refused_by_limit;
  int logs = a.refused_logs - logs0;
  long grown = rss_kib() - rss0;
  printf("  connection flood: %d opened in %lld ms, %llu accepted (each "
         "closed by the handshake timer in turn), %llu refused, at most %llu "
         "open at once, %d log lines, RSS +%ld KiB\n",
         N, (long long)took, (unsigned long long)kept,
         (unsigned long long)refused, (unsigned long long)peak, logs, grown);
  /* What the accept-rate lets through, however long the flood lasts. */
  CHECK(kept <= rate_allows(took));
  /* One line, then one per interval: not one per refused connection. */
  CHECK(logs >= 1);
  CHECK(logs <= logs_allowed(took));
  CHECK(grown < 8192);
  /* Never more than the per-address limit from the attacker at once. */
  CHECK(peak <= base_conns + 50);
  CHECK(refused > 0);
  CHECK_INT(kept + refused, N);
  CHECK(open_conns(&a) <= base_conns + 50);
  /* The process is healthy while the kept ones are still open. */
  legit_exchange();
  for (int i = 0; i < N; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  settle();
}

static void start_nodes(void) {
  node_opts oa = {0}, ob = {0}, orr = {0};
  oa.domain = "a.test";
  oa.listen = A_IP ":5269";
  oa.certs = 1;
  oa.ca = "unknown-ca.pem";
  oa.tls = XS2S_TLS_OPTIONAL;
  oa.timeouts[XS2S_TIMEOUT_HANDSHAKE] = 2000;
  oa.timeouts[XS2S_TIMEOUT_DIALBACK] = 4000;
  oa.timeouts[XS2S_TIMEOUT_CLOSING] = 300;
  oa.limits[XS2S_LIMIT_LISTEN_BACKLOG] = 16384;
  oa.limits[XS2S_LIMIT_STANZA_BYTES] = 16384;
  oa.limits[XS2S_LIMIT_CONNECTIONS] = 200;
  oa.limits[XS2S_LIMIT_CONNECTIONS_PER_ADDRESS] = 50;
  oa.limits[XS2S_LIMIT_ACCEPT_BURST] = ACCEPT_BURST;
  oa.limits[XS2S_LIMIT_ACCEPT_RATE] = ACCEPT_PER_MINUTE;
  oa.timeouts[XS2S_TIMEOUT_REFUSAL_LOG] = REFUSAL_LOG_MS;
  ob = oa;
  ob.domain = "b.test";
  ob.listen = "127.0.0.42:5269";
  ob.secret = B_SECRET;
  ob.timeouts[XS2S_TIMEOUT_HANDSHAKE] = 10000;
  orr = ob;
  orr.domain = "r.test";
  orr.listen = "127.0.0.44:5269";
  orr.tls = XS2S_TLS_REQUIRED;
  /* r.test needs a certificate to require TLS: it borrows b.test's (the
   * attacker never gets as far as TLS). */
  orr.cert_name = "b.test";
  CHECK_INT(node_start(&a, &oa), 0);
  CHECK_INT(node_start(&b, &ob), 0);
  CHECK_INT(node_start(&r, &orr), 0);
  a_port = xs2s_ctx_listen_port(a.ctx, 0);
  a.echo = 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_adversarial CERTS_DIR\n");
    return 2;
  }
  node_certs_dir = argv[1];
  srandom(1);
  if (node_setup_dns("  local-data: \"a.test. 60 IN A 127.0.0.41\"\n"
                     "  local-data: \"b.test. 60 IN A 127.0.0.42\"\n"
                     "  local-data: \"c.test. 60 IN A 127.0.0.45\"\n"
                     "  local-data: \"evil.test. 60 IN A 127.0.0.43\"\n") < 0)
    return 2;
  start_nodes();
  if (!a.ctx || !b.ctx || !r.ctx)
    return 1;
  /* The legitimate streams both ways. */
  pings = 0;
  legit_exchange();
  base_conns = open_conns(&a);
  /* The cases in this order (the spoofing case runs after the floods: its
   * honest dialback must not suffer from what they left behind), or the
   * cases named on the command line, in the order given. */
  static const struct {
    const char *name;
    void (*fn)(void);
  } cases[] = {
#define CASE(fn) {#fn, fn}
      CASE(test_slowloris),          CASE(test_header_then_silence),
      CASE(test_tls_never_finished), CASE(test_stanza_without_end),
      CASE(test_invalid_utf8),       CASE(test_restart_mid_stanza),
      CASE(test_verify_never_asked), CASE(test_dialback_flood),
      CASE(test_skip_starttls),      CASE(test_connection_churn),
      CASE(test_connection_flood),
      CASE(test_spoofed_from),
#undef CASE
  };
  size_t ncases = sizeof(cases) / sizeof(cases[0]);
  for (int i = 2; i < argc || (argc < 3 && i - 2 < (int)ncases); i++) {
    const char *want = argc >= 3 ? argv[i] : cases[i - 2].name;
    size_t k = 0;
    while (k < ncases && strcmp(cases[k].name, want) != 0)
      k++;
    if (k == ncases) {
      fprintf(stderr, "no case %s\n", want);
      CHECK(!"known case");
      continue;
    }
    int before = check_failures;
    cases[k].fn();
    printf("%s %s\n", check_failures == before ? "ok  " : "FAIL", want);
  }
  xs2s_counters c;
  xs2s_ctx_counters(a.ctx, &c);
  printf("a.test: %llu stanzas in, %llu rejected, %llu refused by limit, "
         "%llu auth failures\n",
         (unsigned long long)c.stanzas_in,
         (unsigned long long)c.stanzas_rejected,
         (unsigned long long)c.refused_by_limit,
         (unsigned long long)c.auth_failures);
  node_stop(&r);
  node_stop(&a);
  node_stop(&b);
  node_cleanup_dns();
  return check_finish();
}
