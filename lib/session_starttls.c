/*
 * session_starttls.c: STARTTLS negotiation (RFC 6120 section 5) and the
 * binding between the stream and its xs2s_tls session.
 *
 * The STARTTLS state (enum xs2s__tls_state) moves in one direction:
 *
 *   NONE -> REQUESTED      initiating: <starttls/> written
 *   NONE/REQUESTED -> HANDSHAKING   <proceed/> written or received
 *   HANDSHAKING -> ACTIVE  handshake done; the stream restarts
 *   any -> FAILED          refused or broken: nothing more is written
 *
 * Clear text that follows <proceed/> (or <starttls/>) in the same read is
 * dropped by xs2s__session_parse(), never handed to TLS or the parser.
 *
 * Direct TLS (XEP-0368) enters HANDSHAKING at creation instead; the
 * handshake's end starts the first stream as a STARTTLS restart would.
 */
#include <string.h>

#include "alloc.h"
#include "session_prefetch.h"
#include "session_int.h"

int xs2s__starttls_offerable(const xs2s_session *s) {
  return s->security != XS2S_SECURITY_OFF && s->creds &&
         s->tls_state == XS2S__TLS_NONE;
}

int xs2s__tls_missing(const xs2s_session *s) {
  return s->security == XS2S_SECURITY_REQUIRED &&
         s->tls_state != XS2S__TLS_ACTIVE;
}

/* Moves whatever ciphertext TLS produced into the session's output. */
static int drain(xs2s_session *s) {
  size_t n = 0;
  const void *p = xs2s_tls_output(s->tls, &n);
  if (n == 0)
    return 0;
  int rc = xs2s__buf_append(&s->out, p, n);
  if (rc == 0)
    xs2s_tls_output_consume(s->tls, n);
  return rc;
}

/* TLS broke: say nothing more in clear text, end the session. */
static int tls_failed(xs2s_session *s, int error, const char *what) {
  xs2s__session_log(s, XS2S_SESSION_LOG_WARNING, "TLS %s failed: %s", what,
                    s->tls ? xs2s_tls_error_detail(s->tls) : "");
  drain(s); /* an alert that tells the peer why, if any */
  s->tls_state = XS2S__TLS_FAILED;
  xs2s__session_abort(s, error, "TLS failure", XS2S_CLOSED_LOCALLY);
  return error;
}

static int tls_create(xs2s_session *s) {
  xs2s_tls_options opts = {0};
  xs2s_tls_role role = XS2S_TLS_RECEIVING;
  if (s->role == XS2S_SESSION_INITIATING) {
    role = XS2S_TLS_INITIATING;
    opts.remote_domain = s->remote_domain;
    opts.local_domain = s->local_domains[0];
  }
  if (s->direct_tls)
    opts.flags = XS2S_TLS_DIRECT;
  return xs2s_tls_new(&s->tls, s->creds, role, &opts, &s->mem);
}

/* Runs the handshake as far as the input allows. */
static int handshake(xs2s_session *s) {
  int rc = xs2s_tls_handshake(s->tls);
  int drc = drain(s);
  if (rc == XS2S_TLS_AGAIN)
    return drc;
  if (rc < 0)
    return tls_failed(s, rc == XS2S_ERR_NOMEM ? rc : XS2S_ERR_TLS_HANDSHAKE,
                      "handshake");
  if (drc < 0)
    return drc;
  s->tls_state = XS2S__TLS_ACTIVE;
  xs2s_tls_info info;
  if (xs2s_tls_get_info(s->tls, &info) == 0)
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO, "TLS established: %s",
                      info.description ? info.description : "");
  return xs2s__session_event(s, XS2S__EV_TLS_DONE);
}

int xs2s__tls_direct_start(xs2s_session *s) {
  int rc = tls_create(s);
  if (rc < 0)
    return rc;
  s->tls_state = XS2S__TLS_HANDSHAKING;
  s->state = XS2S_SESSION_TLS_HANDSHAKE;
  /* The first stream begins after the handshake: it is no restart. */
  s->restarts = -1;
  if (s->role == XS2S_SESSION_INITIATING)
    return handshake(s); /* ClientHello */
  return 0;
}

/* Receiving side: the peer asks for TLS. */
static int starttls_receiving(xs2s_session *s) {
  if (!xs2s__starttls_offerable(s)) {
    /* RFC 6120 5.4.2.2: <failure/>, then close the stream. */
    xs2s__session_write_str(s, "<failure xmlns='" XS2S_NS_TLS "'/>");
    return xs2s__session_fail(s, XS2S_ERR_TLS, XS2S_STREAM_ERR_NONE,
                              "STARTTLS not available");
  }
  int rc = tls_create(s);
  if (rc < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_INTERNAL_SERVER_ERROR,
                              "cannot set up TLS");
  if ((rc = xs2s__session_write_str(s, "<proceed xmlns='" XS2S_NS_TLS
                                       "'/>")) < 0 ||
      (rc = xs2s__session_flush(s)) < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  /* From here on every byte in either direction is TLS. */
  s->tls_state = XS2S__TLS_HANDSHAKING;
  return xs2s__session_event(s, XS2S__EV_STARTTLS_ACCEPTED);
}

/* Initiating side: the peer's answer to our <starttls/>. */
static int starttls_answer(xs2s_session *s, const xs2s_stanza *el) {
  if (xs2s_stanza_is(el, "failure", XS2S_NS_TLS)) {
    /* The peer closes the stream now; nothing more in clear text. */
    s->tls_state = XS2S__TLS_FAILED;
    xs2s__session_log(s, XS2S_SESSION_LOG_WARNING,
                      "peer refused STARTTLS");
    xs2s__session_abort(s, XS2S_ERR_TLS, "peer refused STARTTLS",
                        XS2S_CLOSED_BY_PEER);
    return XS2S_ERR_TLS;
  }
  if (!xs2s_stanza_is(el, "proceed", XS2S_NS_TLS))
    return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                              XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE,
                              "expected <proceed/> or <failure/>");
  int rc = tls_create(s);
  if (rc < 0) {
    s->tls_state = XS2S__TLS_FAILED;
    return tls_failed(s, rc, "set-up");
  }
  s->tls_state = XS2S__TLS_HANDSHAKING;
  if ((rc = xs2s__session_event(s, XS2S__EV_PROCEED)) < 0)
    return rc;
  return handshake(s); /* ClientHello */
}

int xs2s__starttls_element(xs2s_session *s, const xs2s_stanza *el) {
  if (s->role == XS2S_SESSION_RECEIVING) {
    if (s->tls_state != XS2S__TLS_NONE)
      return xs2s__session_fail(s, XS2S_ERR_TLS,
                                XS2S_STREAM_ERR_POLICY_VIOLATION,
                                "TLS is already negotiated");
    return starttls_receiving(s);
  }
  return starttls_answer(s, el);
}

int xs2s__starttls_request(xs2s_session *s) {
  int rc = xs2s__session_write_str(s, "<starttls xmlns='" XS2S_NS_TLS "'/>");
  if (rc < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  s->tls_state = XS2S__TLS_REQUESTED;
  return xs2s__session_event(s, XS2S__EV_STARTTLS_SENT);
}

/* Decrypts what is buffered and parses it, record by record. */
static int read_records(xs2s_session *s) {
  char buf[XS2S_TLS_MAX_RECORD];
  while (s->state != XS2S_SESSION_CLOSED) {
    ssize_t n = xs2s_tls_read(s->tls, buf, sizeof(buf));
    if (n == 0)
      break;
    if (n == XS2S_ERR_TLS_PEER_CLOSED)
      return xs2s_session_on_eof(s, s->now);
    if (n < 0)
      return tls_failed(s, (int)n, "read");
    int rc = xs2s__session_parse(s, buf, (size_t)n);
    if (rc < 0)
      return rc;
  }
  return drain(s);
}

int xs2s__tls_recv(xs2s_session *s, const uint8_t *data, size_t len) {
  int rc = xs2s_tls_feed(s->tls, data, len);
  if (rc < 0)
    return tls_failed(s, rc, "input");
  if (s->tls_state == XS2S__TLS_HANDSHAKING &&
      ((rc = handshake(s)) < 0 || s->tls_state != XS2S__TLS_ACTIVE))
    return rc;
  /* Records that followed the handshake in the same read. */
  return read_records(s);
}

int xs2s__tls_send(xs2s_session *s, const char *data, size_t len) {
  int rc = xs2s_tls_write(s->tls, data, len);
  if (rc < 0)
    return tls_failed(s, rc, "write");
  return drain(s);
}

int xs2s__tls_close(xs2s_session *s) {
  if (s->tls_state != XS2S__TLS_ACTIVE)
    return 0;
  /* Our last words go out before the close_notify. */
  int rc = xs2s__session_flush(s);
  if (rc == 0 && (rc = xs2s_tls_bye(s->tls)) == 0)
    rc = drain(s);
  return rc;
}

/* How long a check is reused for the same domain. A stream asks for the
 * same answer two or three times while it negotiates (features, SASL,
 * the features after SASL), each a chain decode and signature checks;
 * the chain cannot change within one TLS session, and only expiry
 * depends on the time. */
#define PEER_CHECK_REUSE_MS 1000u

static int peer_check_cached(const xs2s_session *s, const char *domain) {
  return s->peer_check_domain && strcmp(s->peer_check_domain, domain) == 0 &&
         s->now - s->peer_check_at < PEER_CHECK_REUSE_MS;
}

/* Remembers a result (without memory it just is not remembered). */
static void peer_check_keep(xs2s_session *s, const char *domain, int rc) {
  size_t n = strlen(domain) + 1;
  char *copy = xs2s__malloc(&s->mem, n);
  if (copy)
    memcpy(copy, domain, n);
  xs2s__free(&s->mem, s->peer_check_domain);
  s->peer_check_domain = copy;
  s->peer_check_rc = rc;
  s->peer_check_at = s->now;
}

static int peer_check_run(xs2s_session *s, const char *domain);

int xs2s__tls_peer_check(xs2s_session *s, const char *domain) {
  if (s->tls_state != XS2S__TLS_ACTIVE || !domain)
    return XS2S_ERR_CERT_UNTRUSTED;
  if (peer_check_cached(s, domain))
    return s->peer_check_rc;
  int rc = peer_check_run(s, domain);
  if (rc != XS2S_ERR_NOMEM)
    peer_check_keep(s, domain, rc);
  return rc;
}

void xs2s__session_prefetch(xs2s_session *s) {
  /* The same condition as xs2s__features_act()'s check. */
  if (s->peer_prefetched || s->role != XS2S_SESSION_INITIATING ||
      s->tls_state != XS2S__TLS_ACTIVE || !s->remote_domain ||
      s->state == XS2S_SESSION_CLOSED ||
      !(s->require_valid_cert || s->tlsa_count > 0))
    return;
  s->peer_prefetched = 1;
  xs2s__tls_peer_check(s, s->remote_domain);
}

static int peer_check_run(xs2s_session *s, const char *domain) {
  int initiating = s->role == XS2S_SESSION_INITIATING;
  xs2s_tls_verify_result res;
  memset(&res, 0, sizeof(res));
  uint64_t wall = s->wall_clock_ms + (s->now - s->created);
  int rc = xs2s_tls_verify_peer(s->tls, domain, initiating ? s->tlsa : NULL,
                                initiating ? s->tlsa_count : 0, wall, &res);
  xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                    "certificate for '%s': chain %s, name %s%s", domain,
                    xs2s_tls_chain_status_name(res.chain),
                    xs2s_tls_name_match_name(res.name),
                    rc == 0 && res.authenticated ? ", authenticated" : "");
  if (rc < 0)
    return rc;
  if (res.authenticated)
    return 0;
  if (res.dane == XS2S_TLS_DANE_MISMATCH)
    return XS2S_ERR_DANE_MISMATCH;
  return res.chain == XS2S_TLS_CHAIN_TRUSTED ? XS2S_ERR_CERT_NAME_MISMATCH
                                             : XS2S_ERR_CERT_UNTRUSTED;
}

int xs2s__tls_peer_valid_for(xs2s_session *s, const char *domain) {
  return xs2s__tls_peer_check(s, domain) == 0;
}
