/*
 * conn.c: one probe connection, driven the way an engine drives a session
 * (docs/SESSION.md): a non-blocking socket, poll(), xs2s_session_recv() /
 * _output() / _consume() / _on_timer().
 *
 * STARTTLS candidates: the session negotiates STARTTLS itself (security
 * "required", our credentials for the trust anchors); the features
 * callback records each <stream:features/> and closes the stream once the
 * features of the stream restarted under TLS have arrived, or at once when
 * STARTTLS is not offered. Nothing is authenticated: no key is sent.
 *
 * Direct TLS candidates (XEP-0368): the session has no direct-TLS mode, so
 * the probe puts its own xs2s_tls (ALPN xmpp-server) between the socket and
 * a session with TLS off: ciphertext from the socket goes through
 * xs2s_tls_feed()/_read() into xs2s_session_recv(), the session's output
 * through xs2s_tls_write() onto the socket.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

/* After our </stream:stream>, how long the peer may take to answer it. */
#define CLOSE_GRACE_MS 1000u

typedef struct conn {
  const probe_options *o;
  probe_report *r;
  int fd;
  uint64_t deadline;
  int closing;    /* we closed the stream: the rest is courtesy */
  int tls_failed; /* direct TLS broke: nothing more to do */
  int bye;        /* direct TLS close_notify queued */
} conn;

static uint64_t clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

static char *dup_str(const char *s) { return s ? strdup(s) : NULL; }

/* ---- what the connection has shown so far ----------------------------- */

static xs2s_tls *active_tls(conn *c) {
  return c->r->direct ? c->r->direct : xs2s_session_tls(c->r->session);
}

static int tls_up(conn *c) {
  return c->r->direct ? xs2s_tls_is_established(c->r->direct)
                      : xs2s_session_is_secure(c->r->session);
}

/* TLS is established: keep its parameters and judge the certificate. */
static void tls_established(conn *c) {
  probe_report *r = c->r;
  xs2s_tls *t = active_tls(c);
  r->tls_established = 1;
  xs2s_tls_get_info(t, &r->tls_info);
  if (xs2s_tls_peer_cert(t, &r->cert) < 0)
    r->cert = NULL;
  /* DANE: the resolver hands over TLSA records only when DNSSEC-secure. */
  xs2s_tlsa tlsa[16];
  size_t n = 0;
  for (size_t i = 0; i < r->cand->ntlsa && n < 16; i++, n++) {
    const xs2s_resolve_tlsa *rt = &r->cand->tlsa[i];
    tlsa[n] = (xs2s_tlsa){rt->usage, rt->selector, rt->matching_type,
                          rt->data, rt->len};
  }
  int rc = xs2s_tls_verify_peer(t, c->o->domain, n ? tlsa : NULL, n,
                                clock_ms(CLOCK_REALTIME), &r->verify);
  r->verified = rc == 0 || rc == XS2S_ERR_CERT_UNTRUSTED ||
                rc == XS2S_ERR_CERT_NAME_MISMATCH ||
                rc == XS2S_ERR_DANE_MISMATCH;
}

/* Notes progress after anything happened on the session. */
static void observe(conn *c) {
  probe_report *r = c->r;
  const char *id = xs2s_session_stream_id(r->session);
  if (id && (!r->stream_id || strcmp(id, r->stream_id) != 0)) {
    free(r->stream_id);
    r->stream_id = strdup(id);
  }
  if (!r->tls_established && tls_up(c))
    tls_established(c);
  if (r->phase == PROBE_PHASE_DONE)
    return;
  if (r->direct && !xs2s_tls_is_established(r->direct)) {
    r->phase = PROBE_PHASE_TLS_FIRST;
    return;
  }
  switch (xs2s_session_get_state(r->session)) {
  case XS2S_SESSION_WAIT_HEADER:
    r->phase = PROBE_PHASE_HEADER;
    break;
  case XS2S_SESSION_WAIT_FEATURES:
    r->phase = PROBE_PHASE_FEATURES;
    break;
  case XS2S_SESSION_STARTTLS:
    r->phase = PROBE_PHASE_STARTTLS;
    break;
  case XS2S_SESSION_TLS_HANDSHAKE:
    r->phase = PROBE_PHASE_HANDSHAKE;
    break;
  default:
    break; /* closing or closed: keep where it was */
  }
}

static void finish(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  c->r->phase = PROBE_PHASE_DONE;
  uint64_t grace = mono_ms() + CLOSE_GRACE_MS;
  if (grace < c->deadline)
    c->deadline = grace;
  xs2s_session_close(c->r->session, XS2S_STREAM_ERR_NONE, NULL);
}

/* ---- session callbacks ------------------------------------------------ */

static void on_features(xs2s_session *s, const xs2s_stanza *f, void *ud) {
  conn *c = ud;
  probe_report *r = c->r;
  observe(c);
  if (tls_up(c)) {
    if (!r->features_tls)
      r->features_tls = xs2s_stanza_copy(f);
    finish(c); /* everything a probe can see without authenticating */
    return;
  }
  if (!r->features_plain)
    r->features_plain = xs2s_stanza_copy(f);
  if (xs2s_stanza_find_child(f, "starttls", XS2S_NS_TLS))
    r->tls_tried = 1; /* the session answers with <starttls/> */
  else
    finish(c);
  (void)s;
}

static void on_closed(xs2s_session *s, const xs2s_session_close_info *info,
                      void *ud) {
  conn *c = ud;
  probe_report *r = c->r;
  (void)s;
  if (c->closing)
    return; /* our own close after seeing everything: how it went is moot */
  r->ended = 1;
  r->close = *info;
  free(r->close_text);
  r->close_text = dup_str(info->text);
  r->close.text = r->close_text;
  if (info->error == XS2S_ERR_TLS_HANDSHAKE && xs2s_session_tls(s)) {
    free(r->tls_error);
    r->tls_error = dup_str(xs2s_tls_error_detail(xs2s_session_tls(s)));
  }
}

static void on_log(xs2s_session *s, xs2s_session_log_level level,
                   const char *msg, void *ud) {
  conn *c = ud;
  (void)s;
  (void)level;
  if (c->o->verbose)
    fprintf(stderr, "xs2s-probe: [%zu] %s\n", c->r->index, msg);
}

static const xs2s_session_callbacks session_callbacks = {
    .features = on_features,
    .closed = on_closed,
    .log = on_log,
};

/* ---- the transport: plain, or our TLS in front of the session --------- */

static void direct_failed(conn *c, const char *what) {
  probe_report *r = c->r;
  if (!r->tls_error) {
    const char *detail = xs2s_tls_error_detail(r->direct);
    size_t len = strlen(what) + strlen(detail) + 3;
    r->tls_error = malloc(len);
    if (r->tls_error)
      snprintf(r->tls_error, len, "%s%s%s", what, *detail ? ": " : "",
               detail);
  }
  c->tls_failed = 1;
}

/* Ciphertext (or clear text) arrived from the socket. */
static void transport_in(conn *c, const uint8_t *data, size_t len) {
  probe_report *r = c->r;
  uint64_t now = mono_ms();
  if (!r->direct) {
    xs2s_session_recv(r->session, data, len, now);
    return;
  }
  if (xs2s_tls_feed(r->direct, data, len) < 0) {
    direct_failed(c, "TLS input refused");
    return;
  }
  if (!xs2s_tls_is_established(r->direct)) {
    int rc = xs2s_tls_handshake(r->direct);
    if (rc < 0) {
      direct_failed(c, "TLS handshake failed");
      return;
    }
    if (rc == XS2S_TLS_AGAIN)
      return;
    observe(c);
  }
  uint8_t buf[XS2S_TLS_MAX_RECORD];
  while (xs2s_session_get_state(r->session) != XS2S_SESSION_CLOSED) {
    ssize_t n = xs2s_tls_read(r->direct, buf, sizeof(buf));
    if (n == 0)
      break;
    if (n < 0) {
      if (n != XS2S_ERR_TLS_PEER_CLOSED)
        direct_failed(c, "TLS record error");
      xs2s_session_on_eof(r->session, now);
      break;
    }
    xs2s_session_recv(r->session, buf, (size_t)n, now);
  }
}

/* Bytes to put on the socket, or 0. */
static size_t transport_out(conn *c, const uint8_t **data) {
  probe_report *r = c->r;
  if (!r->direct)
    return xs2s_session_output(r->session, data);
  if (xs2s_tls_is_established(r->direct) && !c->bye) {
    const uint8_t *p;
    size_t n = xs2s_session_output(r->session, &p);
    if (n > 0 && xs2s_tls_write(r->direct, p, n) == 0)
      xs2s_session_consume(r->session, n);
    if (xs2s_session_get_state(r->session) == XS2S_SESSION_CLOSED &&
        !xs2s_session_want_write(r->session)) {
      xs2s_tls_bye(r->direct);
      c->bye = 1;
    }
  }
  size_t len = 0;
  *data = xs2s_tls_output(r->direct, &len);
  return len;
}

static void transport_consume(conn *c, size_t n) {
  if (c->r->direct)
    xs2s_tls_output_consume(c->r->direct, n);
  else
    xs2s_session_consume(c->r->session, n);
}

/* The peer closed the TCP connection (or reset it). */
static void transport_eof(conn *c, int err) {
  probe_report *r = c->r;
  if (!c->closing) {
    r->peer_eof = 1;
    r->read_errno = err;
  }
  if (r->direct && !xs2s_tls_is_established(r->direct)) {
    direct_failed(c, "the connection closed during the TLS handshake");
    return;
  }
  xs2s_session_on_eof(r->session, mono_ms());
}

/* ---- the loop --------------------------------------------------------- */

/* Writes what can be written now; 1 if bytes remain. */
static int flush(conn *c) {
  for (;;) {
    const uint8_t *p;
    size_t n = transport_out(c, &p);
    if (n == 0)
      return 0;
    ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 1;
    if (k < 0) {
      transport_consume(c, n); /* nobody will read it */
      transport_eof(c, errno);
      return 0;
    }
    transport_consume(c, (size_t)k);
  }
}

/* Nothing more will happen: the stream is over (with direct TLS, its
 * close_notify is queued by transport_out() once the session is done). */
static int finished(conn *c) {
  return c->tls_failed ||
         (xs2s_session_get_state(c->r->session) == XS2S_SESSION_CLOSED &&
          !xs2s_session_want_write(c->r->session));
}

static void run(conn *c) {
  probe_report *r = c->r;
  uint8_t buf[XS2S_TLS_MAX_RECORD + 512];
  for (;;) {
    int pending = flush(c);
    observe(c);
    if (finished(c) && !pending)
      return;
    uint64_t now = mono_ms();
    if (now >= c->deadline) {
      if (!c->closing)
        r->timed_out = 1;
      return;
    }
    uint64_t due = xs2s_session_next_deadline(r->session);
    uint64_t until = due < c->deadline ? due : c->deadline;
    int wait = until > now ? (int)(until - now) : 0;
    struct pollfd pfd = {c->fd, POLLIN | (pending ? POLLOUT : 0), 0};
    int n = poll(&pfd, 1, wait);
    if (n < 0 && errno != EINTR)
      return;
    now = mono_ms();
    if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t k = recv(c->fd, buf, sizeof(buf), 0);
      if (k > 0)
        transport_in(c, buf, (size_t)k);
      else if (k == 0 || (errno != EAGAIN && errno != EINTR))
        transport_eof(c, k == 0 ? 0 : errno);
    }
    if (mono_ms() >= xs2s_session_next_deadline(r->session))
      xs2s_session_on_timer(r->session, mono_ms());
  }
}

/* ---- connecting ------------------------------------------------------- */

/* A connected non-blocking socket, or -1 with at->error set. */
static int connect_addr(const xs2s_resolve_addr *a, uint64_t deadline,
                        probe_attempt *at) {
  probe_addr_ip(a, at->address, sizeof(at->address));
  int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  if (fd < 0) {
    at->error = errno;
    return -1;
  }
  /* One write per protocol step, sent at once (DESIGN.md). */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, &a->sa, xs2s_resolve_addr_len(a)) < 0 &&
      errno != EINPROGRESS) {
    at->error = errno;
    close(fd);
    return -1;
  }
  struct pollfd pfd = {fd, POLLOUT, 0};
  for (;;) {
    uint64_t now = mono_ms();
    if (now >= deadline) {
      at->error = ETIMEDOUT;
      close(fd);
      return -1;
    }
    int n = poll(&pfd, 1, (int)(deadline - now));
    if (n > 0)
      break;
    if (n < 0 && errno != EINTR) {
      at->error = errno;
      close(fd);
      return -1;
    }
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err) {
    at->error = err;
    close(fd);
    return -1;
  }
  at->error = 0;
  return fd;
}

static int start_session(conn *c) {
  probe_report *r = c->r;
  int direct = r->cand->tls == XS2S_RESOLVE_TLS_DIRECT;
  const char *locals[1] = {c->o->from};
  xs2s_session_config cfg = {
      .role = XS2S_SESSION_INITIATING,
      .local_domains = locals,
      .local_domain_count = 1,
      .remote_domain = c->o->domain,
      /* STARTTLS: never send anything but negotiation in clear text. */
      .security = direct ? XS2S_SECURITY_OFF : XS2S_SECURITY_REQUIRED,
      .tls_creds = direct ? NULL : c->o->creds,
      .wall_clock_ms = clock_ms(CLOCK_REALTIME),
      /* The probe keeps its own deadline. */
      .handshake_timeout_ms = XS2S_SESSION_NO_TIMEOUT,
      .close_timeout_ms = CLOSE_GRACE_MS,
      .idle_timeout_ms = XS2S_SESSION_NO_TIMEOUT,
      .keepalive_ms = XS2S_SESSION_NO_TIMEOUT,
  };
  int rc;
  if (direct) {
    xs2s_tls_options topts = {.remote_domain = c->o->domain,
                              .flags = XS2S_TLS_DIRECT};
    if ((rc = xs2s_tls_new(&r->direct, c->o->creds, XS2S_TLS_INITIATING,
                           &topts, NULL)) < 0)
      return rc;
    r->tls_tried = 1;
    rc = xs2s_tls_handshake(r->direct); /* ClientHello */
    if (rc < 0)
      return rc;
  }
  rc = xs2s_session_new(&r->session, &cfg, &session_callbacks, c,
                        mono_ms());
  if (rc == 0)
    observe(c);
  return rc;
}

void probe_candidate(const probe_options *o, probe_report *r) {
  r->connected = -1;
  r->phase = PROBE_PHASE_CONNECT;
  const xs2s_resolve_candidate *cand = r->cand;
  int fd = -1;
  uint64_t deadline = 0;
  /* Addresses in the resolver's order until one connects (the first
   * PROBE_MAX_ATTEMPTS: more is a DNS problem the report shows anyway). */
  for (size_t i = 0; i < cand->naddrs && i < PROBE_MAX_ATTEMPTS; i++) {
    deadline = mono_ms() + o->timeout_ms;
    probe_attempt *at = &r->attempts[r->nattempts++];
    fd = connect_addr(&cand->addrs[i], deadline, at);
    if (fd >= 0) {
      r->connected = (int)i;
      break;
    }
  }
  if (fd < 0)
    return;
  conn c = {.o = o, .r = r, .fd = fd, .deadline = deadline};
  int rc = start_session(&c);
  if (rc < 0) /* out of memory, or GnuTLS refused the set-up */
    fprintf(stderr, "xs2s-probe: cannot start a stream: %s\n",
            xs2s_strerror(rc));
  else
    run(&c);
  close(fd);
}

void probe_report_clear(probe_report *r) {
  xs2s_session_free(r->session);
  xs2s_tls_free(r->direct);
  xs2s_stanza_free(r->features_plain);
  xs2s_stanza_free(r->features_tls);
  free(r->stream_id);
  free(r->tls_error);
  free(r->close_text);
  for (size_t i = 0; i < r->nreasons; i++)
    free(r->reasons[i]);
  for (size_t i = 0; i < r->nnotes; i++)
    free(r->notes[i]);
  memset(r, 0, sizeof(*r));
}
