/*
 * bench_relay.c: engine against engine, two processes on loopback.
 *
 *   bench_relay CERTS_DIR [--quick] [--only NAME]...
 *   bench_relay CERTS_DIR --prosody ADDR throughput|cold|serve N
 *
 * NAME is one of: parse, relay, relay-plain, cold, memory (memory also
 * measures the scale figure). CERTS_DIR holds the certificates of
 * tests/data/make-certs.sh. Every figure is printed as a line
 * "figure: value" and, where a reference is measured in the same run, a
 * ratio. The --prosody forms are driven by bench/xs2s-prosody.sh against a
 * Prosody instance at ADDR.
 *
 * The receiving engine runs in a child process; the sending engine in this
 * one. Both are driven by a small epoll loop through the external-loop
 * hooks. The receiver counts stanzas in its stanza callback and reports
 * (count, CLOCK_MONOTONIC time, its CPU time) through a pipe every 1000
 * stanzas and for every stanza whose body starts with '!'; the sender
 * uses those reports both for its figures and as a window (it never runs
 * more than WINDOW stanzas ahead of the receiver), so the measured rate
 * is one the receiver sustains.
 *
 * Names come from libunbound local data written to a temporary file:
 * a.test 127.77.0.1 (sender), b.test 127.77.0.2 (receiver); for the memory
 * figure d1.w.test ... d10000.w.test, served by receiver engines of 60
 * domains each on 127.78.x.y. BENCH_STREAMS=N shrinks the memory run
 * (profiling), BENCH_VERBOSE=1 logs everything (with times),
 * BENCH_NO_PARSE=1 skips the reference, BENCH_COLD_MODE=0|1|2 runs one
 * cold mode, BENCH_TRIM_MS sets the memory run's trim timeout,
 * BENCH_SM_OFF=1 runs without XEP-0198 stream management.
 * Every loop is bounded; an alarm ends any process that hangs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlmemory.h>

#include <xs2s/xs2s.h>

#define SENDER_ADDR "127.77.0.1"
#define RECEIVER_ADDR "127.77.0.2"
#define WINDOW 20000
#define REPORT_EVERY 1000

static const char *certs;
/* The local data: only a.test and b.test, or also the 10,000 d*.w.test of
 * the memory run (a fresh resolver reads it on first use, which the cold
 * connection figure must not include). */
static char dns_conf[256], dns_small[256], dns_big[256];
static int quick;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void die(const char *what) {
  fprintf(stderr, "bench_relay: %s\n", what);
  exit(1);
}

/* -- Counting allocators: what xs2s and libxml2 hold ----------------------- */

typedef struct hdr {
  size_t size;
  size_t pad; /* keeps 16-byte alignment */
} hdr;

static int64_t xs2s_bytes, xml_bytes;

static void *count_malloc(size_t n, int64_t *acc) {
  hdr *h = malloc(sizeof(hdr) + n);
  if (!h)
    return NULL;
  h->size = n;
  *acc += (int64_t)n;
  return h + 1;
}

static void *count_realloc(void *p, size_t n, int64_t *acc) {
  if (!p)
    return count_malloc(n, acc);
  hdr *h = (hdr *)p - 1;
  size_t old = h->size;
  hdr *g = realloc(h, sizeof(hdr) + n);
  if (!g)
    return NULL;
  g->size = n;
  *acc += (int64_t)n - (int64_t)old;
  return g + 1;
}

static void count_free(void *p, int64_t *acc) {
  if (!p)
    return;
  hdr *h = (hdr *)p - 1;
  *acc -= (int64_t)h->size;
  free(h);
}

static void *xm_malloc(size_t n, void *ud) {
  (void)ud;
  return count_malloc(n, &xs2s_bytes);
}
static void *xm_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return count_realloc(p, n, &xs2s_bytes);
}
static void xm_free(void *p, void *ud) {
  (void)ud;
  count_free(p, &xs2s_bytes);
}
static const xs2s_mem counting_mem = {xm_malloc, xm_realloc, xm_free, NULL};

static void *lx_malloc(size_t n) { return count_malloc(n, &xml_bytes); }
static void *lx_realloc(void *p, size_t n) {
  return count_realloc(p, n, &xml_bytes);
}
static void lx_free(void *p) { count_free(p, &xml_bytes); }
static char *lx_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lx_malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      v = strtol(line + 6, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

/* -- A small epoll loop behind the external-loop hooks --------------------- */

typedef struct node {
  const char *name;
  xs2s_ctx *ctx;
  int ep;         /* epoll set, shared by the engines of one process */
  unsigned idx;   /* in the registry: tags this engine's fds in @ep */
  int64_t due_ns; /* -1: no timer */
  int64_t bounces;
} node;

typedef struct rec {
  int64_t count, ns, cpu, rss_kib;
} rec;

/* The engines of this process, by idx. */
#define MAX_NODES 256
#define CTRL_IDX 0xffffffffu
static node *registry[MAX_NODES];

/* Receiver: stanzas counted, where reports go, whether to stop. */
static int64_t recv_count;
static int recv_report_fd = -1;
static int stop_flag;

static uint64_t tag_of(unsigned idx, int fd) {
  return ((uint64_t)idx << 32) | (uint32_t)fd;
}

static int watch(int fd, unsigned ev, void *ud) {
  node *n = ud;
  struct epoll_event e;
  memset(&e, 0, sizeof(e));
  e.data.u64 = tag_of(n->idx, fd);
  if (!ev) {
    epoll_ctl(n->ep, EPOLL_CTL_DEL, fd, &e);
    return 0;
  }
  e.events = ((ev & XS2S_EV_READ) ? EPOLLIN : 0u) |
             ((ev & XS2S_EV_WRITE) ? EPOLLOUT : 0u);
  if (epoll_ctl(n->ep, EPOLL_CTL_MOD, fd, &e) == 0)
    return 0;
  if (errno == ENOENT && epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &e) == 0)
    return 0;
  return -1;
}

static int timer(int64_t ms, void *ud) {
  node *n = ud;
  n->due_ns = ms < 0 ? -1 : now_ns() + ms * 1000000;
  return 0;
}

static const xs2s_loop_callbacks loop_cb = {watch, timer};

/* One turn of every engine on @ep: waits up to @wait_ms (less when a
 * timer is due). */
static void loop_turn(int ep, int wait_ms) {
  struct epoll_event ev[256];
  int64_t now = now_ns();
  for (unsigned i = 0; i < MAX_NODES; i++) {
    node *n = registry[i];
    if (n && n->ep == ep && n->due_ns >= 0) {
      int64_t left = (n->due_ns - now) / 1000000;
      if (left < wait_ms)
        wait_ms = left < 0 ? 0 : (int)left;
    }
  }
  int k = epoll_wait(ep, ev, 256, wait_ms);
  for (int i = 0; i < k; i++) {
    unsigned idx = (unsigned)(ev[i].data.u64 >> 32);
    int fd = (int)(uint32_t)ev[i].data.u64;
    if (idx == CTRL_IDX) {
      stop_flag = 1;
      continue;
    }
    unsigned e = ((ev[i].events & EPOLLIN) ? XS2S_EV_READ : 0u) |
                 ((ev[i].events & EPOLLOUT) ? XS2S_EV_WRITE : 0u) |
                 ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? XS2S_EV_ERROR : 0u);
    if (idx < MAX_NODES && registry[idx])
      xs2s_ctx_on_fd(registry[idx]->ctx, fd, e);
  }
  now = now_ns();
  for (unsigned i = 0; i < MAX_NODES; i++) {
    node *n = registry[i];
    if (n && n->ep == ep && n->due_ns >= 0 && n->due_ns <= now) {
      n->due_ns = -1;
      xs2s_ctx_on_timer(n->ctx);
    }
  }
}

static void node_turn(node *n, int wait_ms) { loop_turn(n->ep, wait_ms); }

static void report(void) {
  rec r = {recv_count, now_ns(), cpu_us(), rss_kib()};
  if (write(recv_report_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
    die("report pipe");
}

static int on_stanza(xs2s_ctx *ctx, const xs2s_stanza *s, const char *remote,
                     void *ud) {
  (void)ctx;
  (void)remote;
  (void)ud;
  recv_count++;
  xs2s_stanza *body = xs2s_stanza_find_child(s, "body", "jabber:server");
  const char *t = body ? xs2s_stanza_text(body) : NULL;
  if (recv_report_fd >= 0 &&
      ((t && t[0] == '!') || recv_count % REPORT_EVERY == 0))
    report();
  return 0;
}

static void on_bounce(xs2s_ctx *ctx, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text, void *tag,
                      void *ud) {
  (void)ctx;
  (void)s;
  (void)tag;
  node *n = ud;
  if (n->bounces++ < 3)
    fprintf(stderr, "[%s] bounce %s: %s\n", n->name,
            xs2s_stanza_condition_name(cond), text);
}

static void on_log(xs2s_ctx *ctx, xs2s_log_level level, const char *line,
                   void *ud) {
  (void)ctx;
  node *n = ud;
  if (level == XS2S_LOG_ERROR || getenv("BENCH_VERBOSE"))
    fprintf(stderr, "%.3f [%s] %s: %s\n", (double)(now_ns() % 100000000000) / 1e6,
            n->name, xs2s_log_level_name(level), line);
}

static const xs2s_ctx_callbacks ctx_cb = {on_stanza, on_bounce, NULL, NULL,
                                          on_log};

/* -- Configuration --------------------------------------------------------- */

typedef enum mode {
  M_PLAIN,     /* no TLS, dialback */
  M_DIALBACK,  /* STARTTLS, certificates nobody trusts, dialback */
  M_CERTS      /* STARTTLS, certificates, SASL EXTERNAL */
} mode;

static const char *mode_name(mode m) {
  return m == M_PLAIN ? "no TLS, dialback"
                      : m == M_DIALBACK ? "STARTTLS + dialback"
                                        : "STARTTLS + certificates";
}

/* Domains d1.w.test ... are served by receiver engines of GROUP domains
 * each (with the wildcard certificate), engine g on group_addr(g). */
#define GROUP 60

/* The engines' "trim" timeout: -1 for the default; the memory run sets it
 * short (BENCH_TRIM_MS, default 200 ms) and lets the streams idle past it
 * before measuring. */
static int trim_ms = -1;
/* The idle timeout of every engine, -1: the default. The cold figure sets
 * it short so that each round's streams close before the next round. */
static int idle_ms = -1;

static void group_addr(int g, char *out, size_t n) {
  snprintf(out, n, "127.78.%d.%d", g / 200, g % 200 + 1);
}

/* @domain with its own certificate (b.test, a.test) or, when NULL, the
 * group's domains d(@first).w.test ... d(@last).w.test. */
static xs2s_config *make_config(const char *domain, const char *listen,
                                mode m, int first, int last, int counting) {
  xs2s_config *cfg = xs2s_config_new(counting ? &counting_mem : NULL);
  char cert[512], key[512], ca[512];
  int rc = 0;
  if (!cfg)
    die("config");
  if (domain) {
    snprintf(cert, sizeof(cert), "%s/%s.pem", certs, domain);
    snprintf(key, sizeof(key), "%s/%s.key", certs, domain);
    rc |= xs2s_config_add_domain(cfg, domain, m == M_PLAIN ? NULL : cert,
                                 m == M_PLAIN ? NULL : key);
  } else {
    snprintf(cert, sizeof(cert), "%s/w.test.pem", certs);
    snprintf(key, sizeof(key), "%s/w.test.key", certs);
    for (int i = first; i <= last; i++) {
      char d[64];
      snprintf(d, sizeof(d), "d%d.w.test", i);
      rc |= xs2s_config_add_domain(cfg, d, cert, key);
    }
  }
  snprintf(ca, sizeof(ca), "%s/%s", certs,
           m == M_CERTS ? "ca.pem" : "unknown-ca.pem");
  rc |= xs2s_config_set_ca_file(cfg, ca);
  rc |= xs2s_config_set_system_trust(cfg, 0);
  rc |= xs2s_config_set_tls_mode(cfg, m == M_PLAIN ? XS2S_TLS_OFF
                                                   : XS2S_TLS_REQUIRED);
  rc |= xs2s_config_set_require_valid_cert(cfg, m == M_CERTS);
  rc |= xs2s_config_add_listener(cfg, listen, 0);
  rc |= xs2s_config_set_unbound_config(cfg, dns_conf);
  rc |= xs2s_config_set_limit(cfg, XS2S_LIMIT_CONNECTIONS, 30000);
  rc |= xs2s_config_set_limit(cfg, XS2S_LIMIT_CONNECTIONS_PER_ADDRESS, 30000);
  rc |= xs2s_config_set_limit(cfg, XS2S_LIMIT_LISTEN_BACKLOG, 4096);
  /* Every connection comes from one source address, far faster than the
   * default accept rate allows a single peer. */
  rc |= xs2s_config_set_limit(cfg, XS2S_LIMIT_ACCEPT_RATE, 0);
  rc |= xs2s_config_set_limit(cfg, XS2S_LIMIT_QUEUE_BYTES, 64u << 20);
  if (getenv("BENCH_SM_OFF")) /* compare without XEP-0198 */
    rc |= xs2s_config_set_stream_management(cfg, 0);
  rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_CONNECT, 5000);
  if (trim_ms >= 0)
    rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_TRIM, (uint64_t)trim_ms);
  if (idle_ms >= 0)
    rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_IDLE, (uint64_t)idle_ms);
  if (rc)
    die("config setters");
  return cfg;
}

/* Starts an engine on epoll set @ep (-1: a new one of its own). */
static void node_start(node *n, const char *name, xs2s_config *cfg, int ep) {
  memset(n, 0, sizeof(*n));
  n->name = name;
  n->due_ns = -1;
  n->ep = ep >= 0 ? ep : epoll_create1(EPOLL_CLOEXEC);
  if (n->ep < 0)
    die("epoll_create1");
  n->idx = MAX_NODES;
  for (unsigned i = 0; i < MAX_NODES; i++)
    if (!registry[i]) {
      registry[i] = n;
      n->idx = i;
      break;
    }
  if (n->idx == MAX_NODES)
    die("too many engines");
  int rc = xs2s_ctx_new(&n->ctx, cfg, &ctx_cb, &loop_cb, n);
  xs2s_config_free(cfg);
  if (rc < 0) {
    fprintf(stderr, "bench_relay: engine %s: %s\n", name, xs2s_strerror(rc));
    exit(1);
  }
}

static void node_stop(node *n, int close_ep) {
  xs2s_ctx_free(n->ctx);
  n->ctx = NULL;
  registry[n->idx] = NULL;
  if (close_ep)
    close(n->ep);
}

/* -- The receiver process -------------------------------------------------- */

typedef struct receiver {
  pid_t pid;
  int ctrl;   /* write end: closing it stops the child */
  int report; /* read end of the report pipe */
} receiver;

static receiver receiver_start(mode m, int extra_domains) {
  int ctrl[2], rep[2];
  if (pipe(ctrl) < 0 || pipe(rep) < 0)
    die("pipe");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
    alarm(600);
    close(ctrl[1]);
    close(rep[0]);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int groups = (extra_domains + GROUP - 1) / GROUP;
    node *ns = calloc((size_t)groups + 1, sizeof(node));
    if (ep < 0 || !ns)
      die("receiver setup");
    node_start(&ns[0], "b.test",
               make_config("b.test", RECEIVER_ADDR ":5269", m, 0, 0, 0), ep);
    for (int g = 0; g < groups; g++) {
      char listen[64];
      group_addr(g, listen, sizeof(listen) - 6);
      strcat(listen, ":5269");
      int last = (g + 1) * GROUP < extra_domains ? (g + 1) * GROUP
                                                 : extra_domains;
      node_start(&ns[g + 1], "d.w.test",
                 make_config(NULL, listen, m, g * GROUP + 1, last, 0), ep);
    }
    recv_report_fd = rep[1];
    struct epoll_event e = {.events = EPOLLIN,
                            .data.u64 = tag_of(CTRL_IDX, ctrl[0])};
    epoll_ctl(ep, EPOLL_CTL_ADD, ctrl[0], &e);
    /* Tell the parent the listeners are up. */
    report();
    while (!stop_flag)
      loop_turn(ep, 100);
    /* Last report: how much memory this side holds. */
    rec r = {-1, rss_kib(), 0, 0};
    if (write(recv_report_fd, &r, sizeof(r)) < 0)
      _exit(1);
    for (int g = 0; g <= groups; g++)
      node_stop(&ns[g], 0);
    _exit(0);
  }
  close(ctrl[0]);
  close(rep[1]);
  fcntl(rep[0], F_SETFL, O_NONBLOCK);
  receiver r = {pid, ctrl[1], rep[0]};
  return r;
}

static long receiver_stop(receiver *r) {
  close(r->ctrl);
  long rss = -1;
  rec x;
  int64_t end = now_ns() + 20 * (int64_t)1000000000;
  fcntl(r->report, F_SETFL, 0);
  while (now_ns() < end && read(r->report, &x, sizeof(x)) == sizeof(x))
    if (x.count == -1) {
      rss = (long)x.ns;
      break;
    }
  close(r->report);
  int st;
  waitpid(r->pid, &st, 0);
  return rss;
}

/* Reads every pending report; returns 1 if any. */
static int poll_reports(receiver *r, rec *last) {
  rec x;
  int any = 0;
  while (read(r->report, &x, sizeof(x)) == (ssize_t)sizeof(x)) {
    *last = x;
    any = 1;
  }
  return any;
}

/* Runs the sender's loop until a report with count >= @want arrives, or
 * @limit_ms pass. Returns 1 on success. */
static int wait_count(node *a, receiver *r, rec *last, int64_t want,
                      int limit_ms) {
  int64_t end = now_ns() + (int64_t)limit_ms * 1000000;
  while (now_ns() < end) {
    if (poll_reports(r, last) && last->count >= want)
      return 1;
    node_turn(a, 1);
  }
  return 0;
}

/* -- Messages --------------------------------------------------------------- */

static xs2s_stanza *make_message(const char *from, const char *to,
                                 const char *body) {
  xs2s_stanza *m = xs2s_stanza_new("message", "jabber:server");
  if (!m)
    die("stanza");
  xs2s_stanza_set_attr(m, "from", from);
  xs2s_stanza_set_attr(m, "to", to);
  xs2s_stanza_set_attr(m, "type", "chat");
  xs2s_stanza_set_attr(m, "id", "b7c1e2f0-42");
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", "jabber:server");
  xs2s_stanza_add_text(b, body, strlen(body));
  return m;
}

/* The filler body that makes a ~200-byte stanza. */
#define FILLER                                                           \
  "Shall we move the review to Thursday? The draft is in the usual "      \
  "place, comments welcome."

/* -- Raw parse rate of the same stanza (the reference) ---------------------- */

static int parse_count;
static int count_cb(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  (void)p;
  (void)s;
  (void)ud;
  parse_count++;
  return 0;
}

static double stanza_bytes; /* serialised size of the benchmark stanza */

static double parse_rate(void) {
  xs2s_stanza *m = make_message("alice@a.test", "bob@b.test", FILLER);
  char xml[1024];
  size_t len = 0;
  if (xs2s_stanza_serialize(m, xml, sizeof(xml), &len) < 0)
    die("serialize");
  /* On the wire the stream header declares the default namespace. */
  const char *decl = " xmlns='jabber:server'";
  char *at = strstr(xml, decl);
  if (at) {
    memmove(at, at + strlen(decl), strlen(at + strlen(decl)) + 1);
    len -= strlen(decl);
  }
  stanza_bytes = (double)len;
  xs2s_stanza_free(m);
  const int n = 100000;
  const char *head = "<stream:stream xmlns='jabber:server' "
                     "xmlns:stream='http://etherx.jabber.org/streams' "
                     "from='a.test' to='b.test' version='1.0'>";
  size_t hl = strlen(head), total = hl + (size_t)n * len;
  char *buf = malloc(total);
  if (!buf)
    die("malloc");
  memcpy(buf, head, hl);
  for (int i = 0; i < n; i++)
    memcpy(buf + hl + (size_t)i * len, xml, len);
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    xs2s_parser_callbacks cb = {0};
    cb.stanza = count_cb;
    xs2s_parser *p = xs2s_parser_new(&cb, NULL, NULL);
    parse_count = 0;
    int64_t t0 = now_ns();
    for (size_t off = 0; off < total; off += 16384) {
      size_t k = total - off < 16384 ? total - off : 16384;
      if (xs2s_parser_feed(p, buf + off, k) < 0)
        die("parse");
    }
    double rate = parse_count / ((double)(now_ns() - t0) / 1e9);
    if (parse_count == n && rate > best)
      best = rate;
    xs2s_parser_free(p);
  }
  free(buf);
  return best;
}

/* -- 1. Relay throughput ---------------------------------------------------- */

typedef struct relay_result {
  double rate;        /* stanzas/s, first send to last arrival */
  double send_cpu_us; /* per stanza */
  double recv_cpu_us; /* per stanza */
} relay_result;

/* Pushes @n stanzas over the established a.test -> @to stream, keeping at
 * most WINDOW in flight. */
static relay_result push(node *a, receiver *r, const xs2s_stanza *m,
                         rec *last, int64_t n) {
  /* The last one is marked, so the receiver reports exactly then. */
  xs2s_stanza *mark = make_message(xs2s_stanza_attr(m, "from"),
                                   xs2s_stanza_attr(m, "to"), "!" FILLER);
  relay_result res = {0, 0, 0};
  int64_t base = last->count, sent = 0;
  rec start = *last;
  int64_t t0 = now_ns(), c0 = cpu_us();
  int64_t end = t0 + 120 * (int64_t)1000000000;
  int64_t next_dbg = t0 + 1000000000;
  while (now_ns() < end) {
    poll_reports(r, last);
    if (last->count - base >= n)
      break;
    int batch = 0;
    while (sent < n && sent - (last->count - base) < WINDOW && batch < 512) {
      if (xs2s_ctx_send(a->ctx, sent == n - 1 ? mark : m, NULL) < 0)
        die("send");
      sent++;
      batch++;
    }
    node_turn(a, batch ? 0 : 1);
    if (getenv("BENCH_VERBOSE") && now_ns() > next_dbg) {
      next_dbg = now_ns() + 1000000000;
      xs2s_counters k;
      xs2s_ctx_counters(a->ctx, &k);
      fprintf(stderr, "  sent %lld arrived %lld bytes_out %llu\n",
              (long long)sent, (long long)(last->count - base),
              (unsigned long long)k.bytes_out);
    }
  }
  xs2s_stanza_free(mark);
  if (last->count - base < n) {
    fprintf(stderr, "bench_relay: only %lld of %lld arrived\n",
            (long long)(last->count - base), (long long)n);
    return res;
  }
  res.rate = (double)n / ((double)(last->ns - t0) / 1e9);
  res.send_cpu_us = (double)(cpu_us() - c0) / (double)n;
  res.recv_cpu_us = (double)(last->cpu - start.cpu) / (double)n;
  if (getenv("BENCH_VERBOSE"))
    fprintf(stderr, "  run: %.0f stanzas/s\n", res.rate);
  return res;
}

static int cmp_rate(const void *x, const void *y) {
  const relay_result *a = x, *b = y;
  return (a->rate > b->rate) - (a->rate < b->rate);
}

/* Brings the a.test -> b.test stream up with one stanza the receiver
 * counts. */
static void bring_up(node *a, receiver *r, rec *last) {
  xs2s_stanza *warm = make_message("alice@a.test", "bob@b.test", "!warm-up");
  xs2s_ctx_send(a->ctx, warm, NULL);
  xs2s_stanza_free(warm);
  if (!wait_count(a, r, last, last->count + 1, 10000))
    die("no stream came up");
}

static relay_result bench_relay_mode(mode m, double parse) {
  receiver r = receiver_start(m, 0);
  rec last = {0, 0, 0, 0};
  node a;
  node_start(&a, "a.test", make_config("a.test", SENDER_ADDR ":5269", m, 0, 0, 0), -1);
  if (!wait_count(&a, &r, &last, 0, 5000))
    die("receiver did not start");
  bring_up(&a, &r, &last);
  xs2s_stanza *msg = make_message("alice@a.test", "bob@b.test", FILLER);
  int64_t n = quick ? 50000 : 200000;
  relay_result runs[5];
  int nruns = quick ? 3 : 5;
  for (int i = 0; i < nruns; i++)
    runs[i] = push(&a, &r, msg, &last, n);
  qsort(runs, (size_t)nruns, sizeof(runs[0]), cmp_rate);
  relay_result med = runs[nruns / 2], best = runs[nruns - 1];
  const char *tag = m == M_PLAIN ? "relay-plain" : "relay-tls";
  printf("%s: %lld stanzas of %.0f bytes x %d runs\n", tag, (long long)n,
         stanza_bytes, nruns);
  printf("%s: stanzas/s median %.0f best %.0f (runs %.0f .. %.0f)\n", tag,
         med.rate, best.rate, runs[0].rate, best.rate);
  printf("%s: MB/s (stanza bytes) median %.1f best %.1f\n", tag,
         med.rate * stanza_bytes / 1e6, best.rate * stanza_bytes / 1e6);
  printf("%s: CPU per stanza (median run): sender %.2f us, receiver %.2f us\n",
         tag, med.send_cpu_us, med.recv_cpu_us);
  printf("%s: ratio to the raw parse rate (%.0f/s): median %.2f best %.2f\n",
         tag, parse, med.rate / parse, best.rate / parse);
  xs2s_stanza_free(msg);
  node_stop(&a, 1);
  receiver_stop(&r);
  return med;
}

/* -- 2. Cold connection ----------------------------------------------------- */

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

static int count_conn(const xs2s_conn_info *in, void *arg) {
  (void)in;
  (void)arg;
  return 0;
}

/* Turns @a until it has no connection left (its streams to and from b.test
 * idled out and closed), at most @limit_ms. */
static int wait_no_conns(node *a, int limit_ms) {
  int64_t end = now_ns() + (int64_t)limit_ms * 1000000;
  while (xs2s_ctx_foreach_conn(a->ctx, count_conn, NULL) > 0) {
    if (now_ns() >= end)
      return 0;
    node_turn(a, 5);
  }
  return 1;
}

/* One long-lived sending engine, as in a server: each round sends to
 * b.test while no stream exists, so the round pays for DNS (libunbound
 * local data), TCP, the stream headers, STARTTLS, the TLS handshake and
 * authentication (and, for dialback, b.test's verification stream back to
 * a.test). Between rounds every stream idles out (both engines' idle
 * timeout is 30 ms) and closes; the wait is not timed. A first round,
 * not counted, starts libunbound. */
static void bench_cold(mode m) {
  /* BENCH_COLD_MODE=0|1|2: only that mode (profiling). */
  if (getenv("BENCH_COLD_MODE") && atoi(getenv("BENCH_COLD_MODE")) != (int)m)
    return;
  idle_ms = 30;
  receiver r = receiver_start(m, 0);
  rec last = {0, 0, 0, 0};
  int rounds = quick ? 50 : 200;
  int64_t *lat = calloc((size_t)rounds, sizeof(int64_t));
  int done = 0;
  node a;
  node_start(&a, "a.test",
             make_config("a.test", SENDER_ADDR ":5269", m, 0, 0, 0), -1);
  if (!wait_count(&a, &r, &last, 0, 5000))
    die("receiver did not start");
  for (int i = -1; i < rounds; i++) {
    if (!wait_no_conns(&a, 5000))
      die("streams did not close between rounds");
    xs2s_stanza *msg = make_message("alice@a.test", "bob@b.test", "!cold");
    int64_t want = last.count + 1;
    int64_t t0 = now_ns();
    xs2s_ctx_send(a.ctx, msg, NULL);
    xs2s_stanza_free(msg);
    if (wait_count(&a, &r, &last, want, 5000) && i >= 0)
      lat[done++] = last.ns - t0;
  }
  node_stop(&a, 1);
  idle_ms = -1;
  qsort(lat, (size_t)done, sizeof(lat[0]), cmp_i64);
  if (done) {
    printf("cold (%s): %d/%d delivered; median %.2f ms, p99 %.2f ms, "
           "min %.2f ms, max %.2f ms; quartiles %.2f %.2f ms\n",
           mode_name(m), done, rounds, lat[done / 2] / 1e6,
           lat[(done * 99) / 100 < done ? (done * 99) / 100 : done - 1] / 1e6,
           lat[0] / 1e6, lat[done - 1] / 1e6, lat[done / 4] / 1e6,
           lat[(done * 3) / 4] / 1e6);
  } else {
    printf("cold (%s): nothing delivered\n", mode_name(m));
  }
  free(lat);
  receiver_stop(&r);
}

/* -- 3 and 4. Memory per stream, and relaying beside idle streams ----------- */

static void raise_fd_limit(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
    perror("setrlimit(RLIMIT_NOFILE)");
}

static void heap_figures(int64_t *heap) {
  struct mallinfo2 mi = mallinfo2();
  *heap = (int64_t)mi.uordblks;
}

/* Opens streams to d(from).w.test .. d(to-1).w.test, @ramp at a time. */
static int open_streams(node *a, receiver *r, rec *last, int from, int to) {
  const int ramp = 200;
  for (int i = from; i < to; i += ramp) {
    int end = i + ramp < to ? i + ramp : to;
    int64_t want = last->count + (end - i);
    for (int j = i; j < end; j++) {
      char dest[64];
      snprintf(dest, sizeof(dest), "x@d%d.w.test", j + 1);
      xs2s_stanza *m = make_message("alice@a.test", dest, "!open");
      if (xs2s_ctx_send(a->ctx, m, NULL) < 0)
        die("send");
      xs2s_stanza_free(m);
    }
    if (!wait_count(a, r, last, want, 30000)) {
      fprintf(stderr, "bench_relay: streams %d..%d did not all come up\n", i,
              end);
      return i;
    }
  }
  return to;
}

typedef struct mem_point {
  long rss;
  int64_t heap, xs2s, xml;
} mem_point;

static mem_point mem_now(void) {
  mem_point p;
  p.rss = rss_kib();
  heap_figures(&p.heap);
  p.xs2s = xs2s_bytes;
  p.xml = xml_bytes;
  return p;
}

static void print_mem(const char *what, int k, mem_point a, mem_point b) {
  double per = (double)(b.rss - a.rss) * 1024 / k;
  printf("memory %s, %d streams: RSS %.1f KiB per stream (%.1f MiB total); "
         "heap %.1f KiB: xs2s %.1f KiB, libxml2 %.1f KiB, the rest "
         "(GnuTLS, libc) %.1f KiB\n",
         what, k, per / 1024, (double)(b.rss - a.rss) / 1024,
         (double)(b.heap - a.heap) / k / 1024,
         (double)(b.xs2s - a.xs2s) / k / 1024,
         (double)(b.xml - a.xml) / k / 1024,
         (double)((b.heap - a.heap) - (b.xs2s - a.xs2s) - (b.xml - a.xml)) / k /
             1024);
}

static void turn_for(node *a, int ms);

/* Lets the streams idle past the trim timeout, then has the receiver
 * report its memory (one stanza on the a.test -> b.test stream). */
static void idle_wait(node *a, receiver *r, rec *last) {
  if (trim_ms > 0)
    turn_for(a, trim_ms + 300);
  xs2s_stanza *m = make_message("alice@a.test", "bob@b.test", "!idle");
  if (xs2s_ctx_send(a->ctx, m, NULL) < 0)
    die("send");
  xs2s_stanza_free(m);
  if (!wait_count(a, r, last, last->count + 1, 10000))
    die("no report after idling");
}

static void bench_memory(double parse, relay_result idle0) {
  raise_fd_limit();
  int kmax = quick ? 2000 : 10000;
  if (getenv("BENCH_STREAMS")) /* for profiling the memory */
    kmax = atoi(getenv("BENCH_STREAMS"));
  trim_ms = getenv("BENCH_TRIM_MS") ? atoi(getenv("BENCH_TRIM_MS")) : 200;
  receiver r = receiver_start(M_CERTS, kmax);
  rec last = {0, 0, 0, 0};
  node a;
  node_start(&a, "a.test",
             make_config("a.test", SENDER_ADDR ":5269", M_CERTS, 0, 0, 1), -1);
  if (!wait_count(&a, &r, &last, 0, 60000))
    die("receiver did not start");
  /* One stream first, so that what is measured is per stream and not the
   * engine's first-use allocations (resolver cache, TLS session state). */
  bring_up(&a, &r, &last);
  xs2s_stanza *msg = make_message("alice@a.test", "bob@b.test", FILLER);
  int64_t n = quick ? 50000 : 100000;
  if (getenv("BENCH_STREAMS"))
    n = 1000;
  relay_result before = push(&a, &r, msg, &last, n);
  mem_point p0 = mem_now();
  int64_t r0 = last.rss_kib;
  int k1 = quick ? 500 : 1000;
  if (k1 > kmax)
    k1 = kmax;
  int got = open_streams(&a, &r, &last, 0, k1);
  idle_wait(&a, &r, &last);
  mem_point p1 = mem_now();
  if (got == k1) {
    print_mem("sender (initiating)", k1, p0, p1);
    printf("memory receiver (accepting), %d streams: RSS %.1f KiB per "
           "stream\n", k1, (double)(last.rss_kib - r0) / k1);
  }
  got = open_streams(&a, &r, &last, got, kmax);
  idle_wait(&a, &r, &last);
  mem_point p2 = mem_now();
  if (got == kmax) {
    print_mem("sender (initiating)", kmax, p0, p2);
    printf("memory receiver (accepting), %d streams: RSS %.1f KiB per "
           "stream\n", kmax, (double)(last.rss_kib - r0) / kmax);
  }
  /* The scale figure: the same push with kmax idle streams beside it. */
  relay_result runs[3];
  runs[0] = push(&a, &r, msg, &last, n);
  runs[1] = push(&a, &r, msg, &last, n);
  runs[2] = before;
  relay_result beside = runs[0].rate > runs[1].rate ? runs[0] : runs[1];
  printf("scale: TLS relay with 0 idle streams: %.0f stanzas/s, CPU sender "
         "%.2f us receiver %.2f us per stanza\n",
         before.rate, before.send_cpu_us, before.recv_cpu_us);
  printf("scale: TLS relay beside %d idle streams: %.0f stanzas/s, CPU "
         "sender %.2f us receiver %.2f us per stanza\n",
         got, beside.rate, beside.send_cpu_us, beside.recv_cpu_us);
  printf("scale: cost ratio (CPU per stanza, with / without idle streams): "
         "sender %.2f receiver %.2f; rate ratio %.2f\n",
         beside.send_cpu_us / before.send_cpu_us,
         beside.recv_cpu_us / before.recv_cpu_us, beside.rate / before.rate);
  (void)parse;
  (void)idle0;
  xs2s_stanza_free(msg);
  node_stop(&a, 1);
  long rss_b = receiver_stop(&r);
  printf("memory receiver (accepting, %d streams over %d engines of up to "
         "%d domains): RSS %ld KiB in all at the end\n",
         got + 1, (kmax + GROUP - 1) / GROUP + 1, GROUP, rss_b);
}


/* -- xs2s to Prosody (driven by bench/xs2s-prosody.sh) --------------------- */

static double real_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t stanzas_out(node *a) {
  xs2s_counters k;
  xs2s_ctx_counters(a->ctx, &k);
  return k.stanzas_out;
}

/* Turns @a's loop until @want stanzas were written to a stream, at most
 * @limit_ms. */
static int run_until_out(node *a, uint64_t want, int limit_ms) {
  int64_t end = now_ns() + (int64_t)limit_ms * 1000000;
  while (now_ns() < end && stanzas_out(a) < want)
    node_turn(a, 1);
  return stanzas_out(a) >= want;
}

static void turn_for(node *a, int ms) {
  int64_t end = now_ns() + (int64_t)ms * 1000000;
  while (now_ns() < end)
    node_turn(a, 5);
}

/* The sink of the Prosody fixture counts messages to sink@DOMAIN and
 * notes when those with an id "cold..." arrive (its clock: CLOCK_REALTIME).
 * Prints "send-start T" and, per cold round, "cold-N T" for the script. */
static int prosody_mode(const char *what, int count) {
  xs2s_stanza *m = make_message("alice@a.test", "sink@b.test", FILLER);
  if (strcmp(what, "throughput") == 0) {
    node a;
    node_start(&a, "a.test",
               make_config("a.test", SENDER_ADDR ":5269", M_CERTS, 0, 0, 0),
               -1);
    xs2s_ctx_send(a.ctx, m, NULL);
    if (!run_until_out(&a, 1, 10000))
      die("no stream to Prosody");
    turn_for(&a, 500);
    printf("send-start %.6f\n", real_now());
    for (int sent = 0; sent < count;) {
      for (int b = 0; b < 512 && sent < count; b++, sent++)
        if (xs2s_ctx_send(a.ctx, m, NULL) < 0)
          die("send");
      node_turn(&a, 0);
    }
    /* Until the script has its count and ends this process. */
    turn_for(&a, 120000);
    node_stop(&a, 1);
  } else if (strcmp(what, "serve") == 0) {
    /* Prosody sends: b.test counts @count stanzas, prints when the last
     * arrived and ends (at most two minutes). */
    node b;
    node_start(&b, "b.test",
               make_config("b.test", RECEIVER_ADDR ":5269", M_CERTS, 0, 0, 0),
               -1);
    printf("listening\n");
    int64_t end = now_ns() + 120 * (int64_t)1000000000;
    while (recv_count < count && now_ns() < end)
      node_turn(&b, 10);
    printf("last-arrival %.6f count %lld\n", real_now(),
           (long long)recv_count);
    node_stop(&b, 1);
  } else {
    for (int i = 0; i < count; i++) {
      node a;
      node_start(&a, "a.test",
                 make_config("a.test", SENDER_ADDR ":5269", M_CERTS, 0, 0, 0),
                 -1);
      char id[32];
      snprintf(id, sizeof(id), "cold-%04d", i);
      xs2s_stanza_set_attr(m, "id", id);
      printf("%s %.6f\n", id, real_now());
      xs2s_ctx_send(a.ctx, m, NULL);
      run_until_out(&a, 1, 5000);
      turn_for(&a, 60); /* written; let the peer take it before closing */
      node_stop(&a, 1);
    }
  }
  xs2s_stanza_free(m);
  return 0;
}

/* -- main ------------------------------------------------------------------- */

static int write_dns(const char *path, int domains) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fputs("server:\n"
        "  local-zone: \"test.\" static\n"
        "  local-data: \"a.test. 60 IN A " SENDER_ADDR "\"\n"
        "  local-data: \"b.test. 60 IN A " RECEIVER_ADDR "\"\n",
        f);
  for (int i = 1; i <= domains; i++) {
    char addr[32];
    group_addr((i - 1) / GROUP, addr, sizeof(addr));
    fprintf(f, "  local-data: \"d%d.w.test. 60 IN A %s\"\n", i, addr);
  }
  return fclose(f);
}

static int wanted(int argc, char **argv, const char *name) {
  int any = 0;
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      any = 1;
      if (strcmp(argv[i + 1], name) == 0)
        return 1;
    }
  return !any;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_relay CERTS_DIR [--quick] [--only NAME]\n");
    return 2;
  }
  certs = argv[1];
  const char *prosody = NULL, *what = NULL;
  int count = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    if (strcmp(argv[i], "--prosody") == 0 && i + 3 < argc) {
      prosody = argv[i + 1]; /* its address */
      what = argv[i + 2];    /* throughput or cold */
      count = atoi(argv[i + 3]);
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  alarm(900);
  /* libxml2's allocations are counted for the memory split. */
  if (xmlMemSetup(lx_free, lx_malloc, lx_realloc, lx_strdup) != 0)
    die("xmlMemSetup");
  char dir[] = "/tmp/xs2s-bench-XXXXXX";
  if (!mkdtemp(dir))
    die("mkdtemp");
  snprintf(dns_small, sizeof(dns_small), "%s/dns-small.conf", dir);
  snprintf(dns_big, sizeof(dns_big), "%s/dns-big.conf", dir);
  memcpy(dns_conf, dns_small, sizeof(dns_conf));
  if (write_dns(dns_small, 0) < 0 ||
      write_dns(dns_big, quick ? 2000 : 10000) < 0)
    die("dns config");
  if (prosody) {
    FILE *f = fopen(dns_small, "w");
    if (!f)
      die("dns config");
    fprintf(f, "server:\n  local-zone: \"test.\" static\n"
               "  local-data: \"a.test. 60 IN A %s\"\n"
               "  local-data: \"b.test. 60 IN A %s\"\n",
            strcmp(what, "serve") == 0 ? prosody : SENDER_ADDR,
            strcmp(what, "serve") == 0 ? RECEIVER_ADDR : prosody);
    fclose(f);
    int rc = prosody_mode(what, count);
    unlink(dns_small);
    unlink(dns_big);
    rmdir(dir);
    return rc;
  }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0)
    printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1],
           load[2]);
  double parse = getenv("BENCH_NO_PARSE") ? 1 : parse_rate();
  printf("parse: %.0f stanzas/s (%.0f bytes each, one stream in memory, "
         "best of 5)\n",
         parse, stanza_bytes);
  relay_result tls = {0, 0, 0};
  if (wanted(argc, argv, "relay"))
    tls = bench_relay_mode(M_CERTS, parse);
  if (wanted(argc, argv, "relay-plain"))
    bench_relay_mode(M_PLAIN, parse);
  if (wanted(argc, argv, "cold")) {
    bench_cold(M_PLAIN);
    bench_cold(M_DIALBACK);
    bench_cold(M_CERTS);
  }
  if (wanted(argc, argv, "memory")) {
    memcpy(dns_conf, dns_big, sizeof(dns_conf));
    bench_memory(parse, tls);
  }
  if (getloadavg(load, 3) > 0)
    printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1],
           load[2]);
  unlink(dns_small);
  unlink(dns_big);
  rmdir(dir);
  return 0;
}
