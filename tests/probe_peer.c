/*
 * probe_peer: a small receiving S2S server for the xs2s-probe tests, built
 * on the public session API: it listens on one loopback address and runs a
 * receiving xs2s_session for each connection, with real certificates.
 *
 *   probe_peer --listen ADDR [--domain D]... [--cert PEM --key KEY]
 *              [--ca PEM] [--tls required|optional|off]
 *
 * It binds ADDR on an ephemeral port, prints the port on stdout (one line,
 * flushed) once it accepts connections, and serves until killed. The
 * first --domain is the one its certificate is registered for; the
 * certificate need not name it (that is what the wrong-name test wants).
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xs2s/xs2s.h>

#define MAX_CONNS 16
#define MAX_DOMAINS 4

typedef struct peer_conn {
  int fd;
  xs2s_session *s;
} peer_conn;

typedef struct peer {
  const char *domains[MAX_DOMAINS];
  size_t ndomains;
  xs2s_security_mode mode;
  xs2s_tls_creds *creds;
  peer_conn conns[MAX_CONNS];
} peer;

static uint64_t clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fail(const char *what, int rc) {
  fprintf(stderr, "probe_peer: %s: %s\n", what,
          rc < 0 ? xs2s_strerror(rc) : strerror(errno));
  exit(1);
}

static int listen_on(const char *addr) {
  struct sockaddr_in sin = {.sin_family = AF_INET};
  if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
    fprintf(stderr, "probe_peer: bad address %s\n", addr);
    exit(1);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
      bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 16))
    fail("listen", 0);
  socklen_t len = sizeof(sin);
  if (getsockname(fd, (struct sockaddr *)&sin, &len))
    fail("getsockname", 0);
  printf("%u\n", ntohs(sin.sin_port));
  fflush(stdout);
  return fd;
}

static void conn_close(peer_conn *c) {
  close(c->fd);
  xs2s_session_free(c->s);
  c->fd = -1;
  c->s = NULL;
}

static void accept_one(peer *p, int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return;
  peer_conn *c = NULL;
  for (int i = 0; i < MAX_CONNS && !c; i++)
    if (p->conns[i].fd < 0)
      c = &p->conns[i];
  if (!c) {
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  xs2s_session_config cfg = {
      .role = XS2S_SESSION_RECEIVING,
      .local_domains = p->domains,
      .local_domain_count = p->ndomains,
      .security = p->mode,
      .tls_creds = p->creds,
      .wall_clock_ms = clock_ms(CLOCK_REALTIME),
      .dialback_secret = "probe-peer-secret",
  };
  int rc = xs2s_session_new(&c->s, &cfg, NULL, NULL, clock_ms(CLOCK_MONOTONIC));
  if (rc < 0) {
    close(fd);
    return;
  }
  c->fd = fd;
}

/* Moves bytes for one connection; closes it when the stream is over. */
static void service(peer_conn *c, short revents) {
  uint64_t now = clock_ms(CLOCK_MONOTONIC);
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    uint8_t buf[32768];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n > 0)
      xs2s_session_recv(c->s, buf, (size_t)n, now);
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
      xs2s_session_on_eof(c->s, now);
  }
  if (now >= xs2s_session_next_deadline(c->s))
    xs2s_session_on_timer(c->s, now);
  const uint8_t *out;
  size_t len;
  while ((len = xs2s_session_output(c->s, &out)) > 0) {
    ssize_t k = send(c->fd, out, len, MSG_NOSIGNAL);
    if (k <= 0) {
      if (k < 0 && (errno == EAGAIN || errno == EINTR))
        break;
      xs2s_session_consume(c->s, len);
      xs2s_session_on_eof(c->s, now);
      continue;
    }
    xs2s_session_consume(c->s, (size_t)k);
  }
  if (xs2s_session_get_state(c->s) == XS2S_SESSION_CLOSED &&
      !xs2s_session_want_write(c->s))
    conn_close(c);
}

static void serve(peer *p, int lfd) {
  for (;;) {
    struct pollfd pfd[MAX_CONNS + 1];
    peer_conn *who[MAX_CONNS + 1];
    nfds_t n = 0;
    pfd[n] = (struct pollfd){lfd, POLLIN, 0};
    who[n++] = NULL;
    uint64_t now = clock_ms(CLOCK_MONOTONIC), due = UINT64_MAX;
    for (int i = 0; i < MAX_CONNS; i++) {
      peer_conn *c = &p->conns[i];
      if (c->fd < 0)
        continue;
      short ev = POLLIN;
      if (xs2s_session_want_write(c->s))
        ev |= POLLOUT;
      pfd[n] = (struct pollfd){c->fd, ev, 0};
      who[n++] = c;
      uint64_t d = xs2s_session_next_deadline(c->s);
      if (d < due)
        due = d;
    }
    int wait = due == UINT64_MAX ? -1 : due > now ? (int)(due - now) : 0;
    if (poll(pfd, n, wait) < 0 && errno != EINTR)
      fail("poll", 0);
    if (pfd[0].revents & POLLIN)
      accept_one(p, lfd);
    for (nfds_t i = 1; i < n; i++)
      service(who[i], pfd[i].revents);
  }
}

int main(int argc, char **argv) {
  peer p = {.mode = XS2S_SECURITY_REQUIRED};
  for (int i = 0; i < MAX_CONNS; i++)
    p.conns[i].fd = -1;
  const char *addr = NULL, *cert = NULL, *key = NULL, *ca = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *opt = argv[i], *val = argv[i + 1];
    if (strcmp(opt, "--listen") == 0)
      addr = val;
    else if (strcmp(opt, "--domain") == 0 && p.ndomains < MAX_DOMAINS)
      p.domains[p.ndomains++] = val;
    else if (strcmp(opt, "--cert") == 0)
      cert = val;
    else if (strcmp(opt, "--key") == 0)
      key = val;
    else if (strcmp(opt, "--ca") == 0)
      ca = val;
    else if (strcmp(opt, "--tls") == 0)
      p.mode = strcmp(val, "off") == 0        ? XS2S_SECURITY_OFF
               : strcmp(val, "optional") == 0 ? XS2S_SECURITY_OPTIONAL
                                              : XS2S_SECURITY_REQUIRED;
    else {
      fprintf(stderr, "probe_peer: unknown option %s\n", opt);
      return 2;
    }
  }
  if (!addr || p.ndomains == 0) {
    fputs("usage: probe_peer --listen ADDR --domain D [--cert PEM --key KEY]"
          " [--ca PEM] [--tls required|optional|off]\n",
          stderr);
    return 2;
  }
  int rc;
  if (p.mode != XS2S_SECURITY_OFF) {
    if (!(p.creds = xs2s_tls_creds_new(NULL)))
      fail("credentials", XS2S_ERR_NOMEM);
    if (cert && (rc = xs2s_tls_creds_add_cert_file(p.creds, p.domains[0],
                                                   cert, key)) < 0)
      fail(cert, rc);
    if (ca && (rc = xs2s_tls_creds_add_trust_file(p.creds, ca)) < 0)
      fail(ca, rc);
  }
  serve(&p, listen_on(addr));
  return 0;
}
