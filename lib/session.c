/*
 * session.c: one S2S stream as a sans-I/O state machine - life cycle,
 * input and output paths, the state switch, stream headers and errors,
 * closing and timers. Negotiation details live in session_features.c,
 * session_starttls.c, session_auth.c and session_dialback.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "alloc.h"
#include "serialize.h"
#include "domain.h"
#include "session_engine.h"
#include "session_hold.h"
#include "session_int.h"

/* More restarts than STARTTLS plus SASL need means a confused peer. */
#define MAX_RESTARTS 2

static const char *const state_names[] = {
    [XS2S_SESSION_WAIT_HEADER] = "WAIT_HEADER",
    [XS2S_SESSION_WAIT_FEATURES] = "WAIT_FEATURES",
    [XS2S_SESSION_STARTTLS] = "STARTTLS",
    [XS2S_SESSION_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
    [XS2S_SESSION_SASL] = "SASL",
    [XS2S_SESSION_OPEN] = "OPEN",
    [XS2S_SESSION_CLOSING] = "CLOSING",
    [XS2S_SESSION_CLOSED] = "CLOSED",
};

const char *xs2s_session_state_name(xs2s_session_state state) {
  if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
    return "UNKNOWN";
  return state_names[state];
}

const char *xs2s_auth_method_name(xs2s_auth_method how) {
  switch (how) {
  case XS2S_AUTH_NONE:
    return "none";
  case XS2S_AUTH_SASL_EXTERNAL:
    return "sasl-external";
  case XS2S_AUTH_CERTIFICATE:
    return "certificate";
  case XS2S_AUTH_DIALBACK:
    return "dialback";
  }
  return "unknown";
}

/* ---------------------------------------------------------------------- */
/* Logging and small helpers                                              */
/* ---------------------------------------------------------------------- */

void xs2s__session_log(xs2s_session *s, xs2s_session_log_level level,
                       const char *fmt, ...) {
  if (!s->cb.log)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  s->cb.log(s, level, line, s->user_data);
}

int xs2s__session_is_local(const xs2s_session *s, const char *domain) {
  if (!domain)
    return 0;
  if (s->is_local_hook)
    return s->is_local_hook(domain, s->is_local_user_data);
  /* The list is in normal form (set_domain()): normalise @domain once. */
  char norm[XS2S__DOMAIN_MAX + 1];
  if (xs2s__domain_normalize(domain, strlen(domain), norm) < 0)
    return 0;
  for (size_t i = 0; i < s->local_domain_count; i++)
    if (strcmp(s->local_domains[i], norm) == 0)
      return 1;
  return 0;
}

int xs2s__session_allowed(const xs2s_session *s, const char *domain) {
  return !s->allow_domain || s->allow_domain(domain, s->policy_user_data);
}

int xs2s__session_peer_policy(const xs2s_session *s, const char *domain,
                              xs2s_security_mode *mode, int *require_cert) {
  *mode = s->cfg_security;
  *require_cert = s->cfg_require_cert;
  if (!s->peer_policy || s->role != XS2S_SESSION_RECEIVING || !domain)
    return 0;
  if (s->peer_policy(domain, mode, require_cert, s->policy_user_data) != 0 ||
      (unsigned)*mode > XS2S_SECURITY_OFF)
    return -1;
  return 0;
}

void xs2s__session_activity(xs2s_session *s) {
  s->last_activity = s->now;
}

/* Replaces *@dst with a copy of @src; 0 or XS2S_ERR_NOMEM. */
static int set_string(xs2s_session *s, char **dst, const char *src) {
  char *copy = NULL;
  if (src && !(copy = xs2s__strdup(&s->mem, src)))
    return XS2S_ERR_NOMEM;
  xs2s__free(&s->mem, *dst);
  *dst = copy;
  return 0;
}

/* Like set_string() with the canonical form of the domain @src (domain.c);
 * a value that is no valid domain is kept as it is (it then matches
 * nothing). */
static int set_domain(xs2s_session *s, char **dst, const char *src) {
  char norm[XS2S__DOMAIN_MAX + 1];
  if (src && xs2s__domain_normalize(src, strlen(src), norm) >= 0)
    src = norm;
  return set_string(s, dst, src);
}

/* ---------------------------------------------------------------------- */
/* Output                                                                 */
/* ---------------------------------------------------------------------- */

int xs2s__session_write(xs2s_session *s, const char *data, size_t len) {
  if (s->tls_state == XS2S__TLS_FAILED || s->state == XS2S_SESSION_CLOSED)
    return 0; /* nothing more goes out */
  return xs2s__buf_append(&s->plain, data, len);
}

int xs2s__session_write_str(xs2s_session *s, const char *str) {
  return xs2s__session_write(s, str, strlen(str));
}

/* Appends @text with the five XML specials escaped (valid in attribute
 * values quoted with ' and in character data). */
static int write_escaped(xs2s_session *s, const char *text) {
  const char *run = text;
  for (const char *p = text;; p++) {
    const char *rep = NULL;
    switch (*p) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '\'': rep = "&apos;"; break;
    case '"': rep = "&quot;"; break;
    case '\0': break;
    default: continue;
    }
    int rc = xs2s__session_write(s, run, (size_t)(p - run));
    if (rc < 0 || !*p)
      return rc;
    if ((rc = xs2s__session_write_str(s, rep)) < 0)
      return rc;
    run = p + 1;
  }
}

static int write_attr(xs2s_session *s, const char *name, const char *value) {
  if (!value)
    return 0;
  int rc;
  if ((rc = xs2s__session_write_str(s, " ")) < 0 ||
      (rc = xs2s__session_write_str(s, name)) < 0 ||
      (rc = xs2s__session_write_str(s, "='")) < 0 ||
      (rc = write_escaped(s, value)) < 0)
    return rc;
  return xs2s__session_write_str(s, "'");
}

/* What our stream header binds: stanzas are written in this scope. */
static const xs2s__ns_binding stream_bindings[] = {
    {NULL, XS2S_NS_SERVER},
    {"stream", XS2S_NS_STREAMS},
    {"db", XS2S_NS_DIALBACK},
};
static const xs2s__ns_scope stream_scope = {stream_bindings, 3, NULL};

int xs2s__session_write_stanza(xs2s_session *s, const xs2s_stanza *st) {
  if (s->tls_state == XS2S__TLS_FAILED || s->state == XS2S_SESSION_CLOSED)
    return 0;
  return xs2s__stanza_write(st, &s->plain, &stream_scope);
}

int xs2s__session_flush(xs2s_session *s) {
  int rc = 0;
  if (s->plain.len > 0) {
    switch (s->tls_state) {
    case XS2S__TLS_NONE:
    case XS2S__TLS_REQUESTED:
      rc = xs2s__buf_append(&s->out, xs2s__buf_bytes(&s->plain),
                            s->plain.len);
      break;
    case XS2S__TLS_ACTIVE:
      rc = xs2s__tls_send(s, xs2s__buf_bytes(&s->plain), s->plain.len);
      break;
    case XS2S__TLS_HANDSHAKING: /* held until the handshake is done */
      return 0;
    case XS2S__TLS_FAILED:
      break;
    }
    if (rc == 0) {
      xs2s__buf_clear(&s->plain);
      s->last_write = s->now;
    }
  }
  /* Once per transition from nothing to send to something (TLS records
   * of the handshake land in the output outside this function too). */
  if (s->out.len > 0 && !s->write_signalled) {
    s->write_signalled = 1;
    if (s->cb.want_write)
      s->cb.want_write(s, s->user_data);
  }
  return rc;
}

/* Output not yet consumed, held back by a TLS handshake or not. */
static size_t pending_output(const xs2s_session *s) {
  return s->plain.len + s->out.len;
}

size_t xs2s_session_output(xs2s_session *s, const uint8_t **data) {
  *data = (const uint8_t *)xs2s__buf_bytes(&s->out);
  return s->out.len;
}

void xs2s_session_consume(xs2s_session *s, size_t n) {
  xs2s__buf_consume(&s->out, n);
  if (s->out.len == 0)
    s->write_signalled = 0;
  /* Whatever was consumed, what remains bounds the answers still unread. */
  if (s->reply_backlog > pending_output(s))
    s->reply_backlog = pending_output(s);
}

int xs2s_session_want_write(const xs2s_session *s) {
  return s->out.len > 0;
}

int xs2s_session_want_read(const xs2s_session *s) {
  return s->state != XS2S_SESSION_CLOSED;
}

/* ---------------------------------------------------------------------- */
/* Stream header                                                          */
/* ---------------------------------------------------------------------- */

/* A fresh stream id: 128 bits from the CSPRNG, hex. */
static int new_stream_id(xs2s_session *s) {
  unsigned char raw[16];
  char hex[sizeof(raw) * 2 + 1];
  if (gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof(raw)) != 0)
    return XS2S_ERR_INTERNAL;
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  return set_string(s, &s->stream_id, hex);
}

int xs2s__session_send_header(xs2s_session *s) {
  int initiating = s->role == XS2S_SESSION_INITIATING;
  const char *from = initiating ? s->local_domains[0] : s->header_to;
  const char *to = s->remote_domain;
  int rc;
  if (!from)
    from = s->local_domains[0];
  /* Receiving: an id also when the header only precedes a stream error
   * (RFC 6120 4.7.3 makes it required in every response header). */
  if (!initiating && !s->stream_id && (rc = new_stream_id(s)) < 0)
    return rc;
  if ((rc = xs2s__session_write_str(
           s, "<?xml version='1.0'?><stream:stream xmlns='" XS2S_NS_SERVER
              "' xmlns:stream='" XS2S_NS_STREAMS
              "' xmlns:db='" XS2S_NS_DIALBACK "'")) < 0 ||
      (rc = write_attr(s, "from", from)) < 0 ||
      (rc = write_attr(s, "to", to)) < 0 ||
      (rc = write_attr(s, "id", initiating ? NULL : s->stream_id)) < 0 ||
      (rc = write_attr(s, "version",
                       initiating || s->peer_version_1 ? "1.0" : NULL)) < 0 ||
      (rc = xs2s__session_write_str(s, ">")) < 0)
    return rc;
  s->header_sent = 1;
  return 0;
}

static int header_declares(const xs2s_stream_header *h, const char *uri) {
  for (size_t i = 0; i < h->ns_count; i++)
    if (h->ns_uris[i] && strcmp(h->ns_uris[i], uri) == 0)
      return 1;
  return 0;
}

/* Receiving: the peer names which of our domains it wants and says who it
 * is. A missing 'to' (old dialback-only servers) means our first domain. */
static int header_receiving(xs2s_session *s, const xs2s_stream_header *h) {
  const char *to = h->to ? h->to : s->local_domains[0];
  int rc;
  if (!xs2s__session_is_local(s, to))
    return xs2s__session_fail(s, XS2S_ERR_POLICY, XS2S_STREAM_ERR_HOST_UNKNOWN,
                              "this server does not serve that domain");
  if (s->restarts > 0 && s->remote_domain && h->from &&
      !xs2s__domain_equal(s->remote_domain, h->from))
    return xs2s__session_fail(s, XS2S_ERR_POLICY, XS2S_STREAM_ERR_INVALID_FROM,
                              "stream restarted with another 'from'");
  if ((rc = set_domain(s, &s->header_to, to)) < 0 ||
      (h->from && (rc = set_domain(s, &s->remote_domain, h->from)) < 0) ||
      (rc = new_stream_id(s)) < 0 ||
      (rc = xs2s__dialback_set_stream_id(&s->db, s->stream_id)) < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_INTERNAL_SERVER_ERROR,
                              NULL);
  /* The peer has named itself: its domain's policy decides what this
   * stream offers and demands (each pair is judged again when it asks to
   * be authenticated). */
  if (xs2s__session_peer_policy(s, s->remote_domain, &s->security,
                                &s->require_valid_cert) < 0) {
    /* Refused: its pairs will be; the stream keeps the config's terms. */
    s->security = s->cfg_security;
    s->require_valid_cert = s->cfg_require_cert;
  }
  if ((rc = xs2s__session_event(s, XS2S__EV_HEADER)) < 0)
    return rc;
  /* After a SASL restart the authenticated pair holds on the new stream. */
  return s->sasl_state == XS2S__SASL_SUCCESS ? xs2s__sasl_complete(s) : 0;
}

static int header_initiating(xs2s_session *s, const xs2s_stream_header *h) {
  int rc;
  if (!h->id || !*h->id)
    return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT, XS2S_STREAM_ERR_BAD_FORMAT,
                              "stream header without id");
  if (h->from && !xs2s__domain_equal(h->from, s->remote_domain))
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "peer answers as '%s' for '%s'", h->from,
                      s->remote_domain);
  if ((rc = set_string(s, &s->stream_id, h->id)) < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_INTERNAL_SERVER_ERROR,
                              NULL);
  if ((rc = xs2s__dialback_set_stream_id(&s->db, h->id)) < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_BAD_FORMAT,
                              "unusable stream id");
  if ((rc = xs2s__session_event(s, XS2S__EV_HEADER)) < 0)
    return rc;
  /* A pre-1.0 peer sends no features: decide now. */
  return s->peer_version_1 ? 0 : xs2s__features_act(s);
}

static int on_stream_open(xs2s_parser *p, const xs2s_stream_header *h,
                          void *user_data) {
  (void)p;
  xs2s_session *s = user_data;
  if (s->state != XS2S_SESSION_WAIT_HEADER)
    return 0; /* closing after an error: ignore */
  if (!h->default_ns || strcmp(h->default_ns, XS2S_NS_SERVER) != 0) {
    xs2s__session_fail(s, XS2S_ERR_INVALID_NAMESPACE,
                       XS2S_STREAM_ERR_INVALID_NAMESPACE,
                       "default namespace must be jabber:server");
    return 0;
  }
  s->peer_version_1 = h->version && atoi(h->version) >= 1;
  s->peer_has_db = header_declares(h, XS2S_NS_DIALBACK);
  xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                    "stream header from '%s' to '%s' id '%s' version '%s'",
                    h->from ? h->from : "", h->to ? h->to : "",
                    h->id ? h->id : "", h->version ? h->version : "");
  if (s->role == XS2S_SESSION_RECEIVING)
    header_receiving(s, h);
  else
    header_initiating(s, h);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Stream errors and closing                                              */
/* ---------------------------------------------------------------------- */

static void notify_closed(xs2s_session *s) {
  if (s->closed_notified)
    return;
  s->closed_notified = 1;
  xs2s_session_close_info info = {
      .error = s->close_error,
      .condition = s->close_condition,
      .text = s->close_text,
      .origin = s->close_origin,
  };
  xs2s__session_log(s, s->close_error ? XS2S_SESSION_LOG_INFO
                                      : XS2S_SESSION_LOG_DEBUG,
                    "stream closed %s: %s%s%s",
                    s->close_origin == XS2S_CLOSED_BY_PEER ? "by peer"
                                                           : "locally",
                    s->close_error ? xs2s_strerror(s->close_error) : "orderly",
                    s->close_condition ? ", " : "",
                    s->close_condition
                        ? xs2s_stream_condition_name(s->close_condition)
                        : "");
  if (s->cb.closed)
    s->cb.closed(s, &info, s->user_data);
}

/* Records why the stream ends (first reason wins). */
static void set_close_reason(xs2s_session *s, int error,
                             xs2s_stream_condition cond, const char *text,
                             xs2s_close_origin origin) {
  if (s->close_origin)
    return;
  s->close_error = error;
  s->close_condition = cond;
  s->close_origin = origin;
  if (set_string(s, &s->close_text, text) < 0)
    s->close_text = NULL;
}

static int write_stream_error(xs2s_session *s, xs2s_stream_condition cond,
                              const char *text) {
  int rc;
  if ((rc = xs2s__session_write_str(s, "<stream:error><")) < 0 ||
      (rc = xs2s__session_write_str(s, xs2s_stream_condition_name(cond))) < 0 ||
      (rc = xs2s__session_write_str(
           s, " xmlns='" XS2S_NS_STREAM_ERRORS "'/>")) < 0)
    return rc;
  if (text && *text &&
      ((rc = xs2s__session_write_str(
            s, "<text xmlns='" XS2S_NS_STREAM_ERRORS "'>")) < 0 ||
       (rc = write_escaped(s, text)) < 0 ||
       (rc = xs2s__session_write_str(s, "</text>")) < 0))
    return rc;
  if (s->error_app && (rc = xs2s__session_write_str(s, s->error_app)) < 0)
    return rc;
  return xs2s__session_write_str(s, "</stream:error>");
}

/* Writes the end of our stream; a stream error first when @cond. */
static int write_close(xs2s_session *s, xs2s_stream_condition cond,
                       const char *text) {
  int rc = 0;
  if (!s->header_sent && (rc = xs2s__session_send_header(s)) < 0)
    return rc;
  if (cond == XS2S_STREAM_ERR_NONE && (rc = xs2s__sm_before_close(s)) < 0)
    return rc;
  if (cond != XS2S_STREAM_ERR_NONE && (rc = write_stream_error(s, cond, text)))
    return rc;
  return xs2s__session_write_str(s, "</stream:stream>");
}

int xs2s__session_fail(xs2s_session *s, int error, xs2s_stream_condition cond,
                       const char *text) {
  if (s->state == XS2S_SESSION_CLOSING || s->state == XS2S_SESSION_CLOSED)
    return error;
  xs2s__session_log(s, XS2S_SESSION_LOG_WARNING, "stream error %s%s%s (%s)",
                    cond ? xs2s_stream_condition_name(cond) : "(none)",
                    text ? ": " : "", text ? text : "", xs2s_strerror(error));
  if (s->tls_state == XS2S__TLS_HANDSHAKING ||
      s->tls_state == XS2S__TLS_FAILED) {
    /* No channel to say anything on. */
    xs2s__session_abort(s, error, text, XS2S_CLOSED_LOCALLY);
    return error;
  }
  set_close_reason(s, error, cond, text, XS2S_CLOSED_LOCALLY);
  write_close(s, cond, text);
  xs2s__session_event(s, XS2S__EV_CLOSE_SENT);
  return error;
}

void xs2s__session_abort(xs2s_session *s, int error, const char *why,
                         xs2s_close_origin origin) {
  if (s->state == XS2S_SESSION_CLOSED)
    return;
  xs2s__session_log(s, XS2S_SESSION_LOG_WARNING, "stream aborted: %s (%s)",
                    why ? why : "", xs2s_strerror(error));
  set_close_reason(s, error, XS2S_STREAM_ERR_NONE, why, origin);
  xs2s__session_event(s, XS2S__EV_FATAL);
}

int xs2s_session_close(xs2s_session *s, xs2s_stream_condition condition,
                       const char *text) {
  if (s->state == XS2S_SESSION_CLOSING || s->state == XS2S_SESSION_CLOSED)
    return XS2S_ERR_BAD_STATE;
  if (condition == XS2S_STREAM_ERR_NONE) {
    set_close_reason(s, 0, XS2S_STREAM_ERR_NONE, NULL, XS2S_CLOSED_LOCALLY);
    write_close(s, XS2S_STREAM_ERR_NONE, NULL);
    xs2s__session_event(s, XS2S__EV_CLOSE_SENT);
  } else {
    xs2s__session_fail(s, XS2S_ERR_POLICY, condition, text);
  }
  xs2s__session_flush(s);
  return 0;
}

/* The peer sent <stream:error/>: note it, answer with our close. */
static void peer_stream_error(xs2s_session *s, const xs2s_stanza *el) {
  xs2s_stream_condition cond = XS2S_STREAM_ERR_NONE;
  const char *text = NULL;
  for (xs2s_stanza *c = xs2s_stanza_first_child(el); c;
       c = xs2s_stanza_next(c)) {
    if (!xs2s_stanza_is(c, NULL, XS2S_NS_STREAM_ERRORS))
      continue;
    if (strcmp(xs2s_stanza_name(c), "text") == 0)
      text = xs2s_stanza_text(c);
    else if (cond == XS2S_STREAM_ERR_NONE)
      cond = xs2s_stream_condition_from_name(xs2s_stanza_name(c));
  }
  if (cond == XS2S_STREAM_ERR_NONE)
    cond = XS2S_STREAM_ERR_UNDEFINED_CONDITION;
  xs2s__session_log(s, XS2S_SESSION_LOG_WARNING, "peer stream error %s%s%s",
                    xs2s_stream_condition_name(cond), text ? ": " : "",
                    text ? text : "");
  set_close_reason(s, XS2S_ERR_PEER_STREAM_ERROR, cond, text,
                   XS2S_CLOSED_BY_PEER);
  if (s->state != XS2S_SESSION_CLOSING)
    write_close(s, XS2S_STREAM_ERR_NONE, NULL);
  xs2s__session_event(s, XS2S__EV_PEER_CLOSED);
}

static void on_stream_close(xs2s_parser *p, void *user_data) {
  (void)p;
  xs2s_session *s = user_data;
  if (s->state == XS2S_SESSION_CLOSED)
    return;
  set_close_reason(s, 0, XS2S_STREAM_ERR_NONE, NULL, XS2S_CLOSED_BY_PEER);
  if (s->state != XS2S_SESSION_CLOSING)
    write_close(s, XS2S_STREAM_ERR_NONE, NULL);
  xs2s__session_event(s, XS2S__EV_PEER_CLOSED);
}

int xs2s_session_on_eof(xs2s_session *s, uint64_t now_ms) {
  s->now = now_ms;
  if (s->state == XS2S_SESSION_CLOSED)
    return 0;
  set_close_reason(s, XS2S_ERR_STREAM_CLOSED, XS2S_STREAM_ERR_NONE,
                   "connection closed", XS2S_CLOSED_BY_PEER);
  xs2s__session_event(s, XS2S__EV_PEER_CLOSED);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* The state machine                                                      */
/* ---------------------------------------------------------------------- */

/* Clears what belongs to one stream (before a restart). */
static void forget_stream(xs2s_session *s) {
  s->restarts++;
  s->header_sent = 0;
  s->peer_version_1 = s->peer_has_db = 0;
  s->peer_dialback_feature = s->peer_dialback_errors = 0;
  s->peer_offers_starttls = s->peer_requires_starttls = 0;
  s->peer_offers_external = 0;
  s->peer_limits = 0;
  s->peer_offers_bidi = 0;
  s->peer_max_bytes = s->peer_idle_s = 0;
  s->parser_reset_pending = 1;
}

/* Entry actions of @to. */
static int enter_state(xs2s_session *s, xs2s_session_state from,
                       xs2s_session_state to) {
  int rc = 0;
  switch (to) {
  case XS2S_SESSION_WAIT_HEADER:
    forget_stream(s);
    if (s->restarts > MAX_RESTARTS)
      return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                                XS2S_STREAM_ERR_POLICY_VIOLATION,
                                "too many stream restarts");
    if (s->role == XS2S_SESSION_INITIATING)
      rc = xs2s__session_send_header(s);
    break;
  case XS2S_SESSION_OPEN:
    if (s->role == XS2S_SESSION_RECEIVING && from == XS2S_SESSION_WAIT_HEADER) {
      if ((rc = xs2s__session_send_header(s)) == 0 && s->peer_version_1)
        rc = xs2s__features_send(s);
    } else if (s->role == XS2S_SESSION_INITIATING) {
      if ((rc = xs2s__dialback_kick(s)) == 0)
        rc = xs2s__sm_kick(s);
    }
    break;
  case XS2S_SESSION_CLOSING:
    s->close_deadline = s->close_ms == XS2S_SESSION_NO_TIMEOUT
                            ? XS2S_SESSION_NO_TIMEOUT
                            : s->now + s->close_ms;
    break;
  case XS2S_SESSION_CLOSED:
    xs2s__tls_close(s);
    xs2s__dialback_abandon(s);
    notify_closed(s);
    break;
  default:
    break;
  }
  if (rc < 0 && rc != XS2S_ERR_NOMEM)
    return rc;
  if (rc == XS2S_ERR_NOMEM)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  return 0;
}

int xs2s__session_event(xs2s_session *s, xs2s__event ev) {
  xs2s_session_state from = s->state, to = from;
  int initiating = s->role == XS2S_SESSION_INITIATING;

  switch (ev) {
  case XS2S__EV_CLOSE_SENT:
    if (from != XS2S_SESSION_CLOSED)
      to = XS2S_SESSION_CLOSING;
    break;
  case XS2S__EV_PEER_CLOSED:
  case XS2S__EV_FATAL:
    to = XS2S_SESSION_CLOSED;
    break;
  default:
    switch (from) {
    case XS2S_SESSION_WAIT_HEADER:
      if (ev == XS2S__EV_HEADER)
        to = initiating ? XS2S_SESSION_WAIT_FEATURES : XS2S_SESSION_OPEN;
      break;
    case XS2S_SESSION_WAIT_FEATURES:
      if (ev == XS2S__EV_STARTTLS_SENT)
        to = XS2S_SESSION_STARTTLS;
      else if (ev == XS2S__EV_SASL_SENT)
        to = XS2S_SESSION_SASL;
      else if (ev == XS2S__EV_NEGOTIATED)
        to = XS2S_SESSION_OPEN;
      break;
    case XS2S_SESSION_STARTTLS:
      if (ev == XS2S__EV_PROCEED)
        to = XS2S_SESSION_TLS_HANDSHAKE;
      break;
    case XS2S_SESSION_TLS_HANDSHAKE:
      if (ev == XS2S__EV_TLS_DONE)
        to = XS2S_SESSION_WAIT_HEADER;
      break;
    case XS2S_SESSION_SASL:
      if (ev == XS2S__EV_SASL_SUCCESS)
        to = XS2S_SESSION_WAIT_HEADER;
      else if (ev == XS2S__EV_SASL_FAILURE)
        to = XS2S_SESSION_WAIT_FEATURES;
      break;
    case XS2S_SESSION_OPEN:
      if (ev == XS2S__EV_STARTTLS_ACCEPTED && !initiating)
        to = XS2S_SESSION_TLS_HANDSHAKE;
      else if (ev == XS2S__EV_SASL_SUCCESS && !initiating)
        to = XS2S_SESSION_WAIT_HEADER;
      break;
    case XS2S_SESSION_CLOSING:
    case XS2S_SESSION_CLOSED:
      break;
    }
    if (to == from) {
      xs2s__session_log(s, XS2S_SESSION_LOG_ERROR,
                        "event %d not expected in state %s", (int)ev,
                        xs2s_session_state_name(from));
      return XS2S_ERR_BAD_STATE;
    }
  }
  if (to == from)
    return 0;
  xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG, "state %s -> %s",
                    xs2s_session_state_name(from),
                    xs2s_session_state_name(to));
  s->state = to;
  return enter_state(s, from, to);
}

/* ---------------------------------------------------------------------- */
/* Input                                                                  */
/* ---------------------------------------------------------------------- */

static int is_stanza(const xs2s_stanza *el) {
  const char *name = xs2s_stanza_name(el);
  return xs2s_stanza_is(el, NULL, XS2S_NS_SERVER) &&
         (strcmp(name, "message") == 0 || strcmp(name, "presence") == 0 ||
          strcmp(name, "iq") == 0);
}

static void deliver(xs2s_session *s, xs2s_stanza *el) {
  if (xs2s__authorize(s, el) != 0)
    return;
  xs2s__session_activity(s);
  if (s->cb.stanza)
    s->cb.stanza(s, el, s->user_data);
  xs2s__sm_handled(s);
}

/* Elements of the receiving side's open stream. */
static int element_receiving(xs2s_session *s, xs2s_stanza *el) {
  if (xs2s_stanza_is(el, "starttls", XS2S_NS_TLS))
    return xs2s__starttls_element(s, el);
  if (xs2s__tls_missing(s))
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_POLICY_VIOLATION,
                              "TLS is required");
  if (xs2s_stanza_is(el, NULL, XS2S_NS_SASL))
    return xs2s__sasl_element(s, el);
  if (xs2s_stanza_is(el, NULL, XS2S_NS_DIALBACK))
    return xs2s__dialback_element(s, el);
  if (is_stanza(el)) {
    deliver(s, el);
    return 0;
  }
  if (xs2s_stanza_is(el, NULL, XS2S_NS_SM))
    return xs2s__sm_element(s, el);
  if (s->bidi && xs2s_stanza_is(el, "bidi", XS2S_NS_BIDI)) {
    /* XEP-0288: we offered it; from now on we may answer on this stream
     * for every pair the peer proves. */
    s->bidi_on = 1;
    xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG, "bidirectional stream");
    return 0;
  }
  return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                            XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE, NULL);
}

static int element_initiating(xs2s_session *s, xs2s_stanza *el) {
  switch (s->state) {
  case XS2S_SESSION_WAIT_FEATURES:
    if (xs2s_stanza_is(el, "features", XS2S_NS_STREAMS))
      return xs2s__features_read(s, el);
    break;
  case XS2S_SESSION_STARTTLS:
    if (xs2s_stanza_is(el, NULL, XS2S_NS_TLS))
      return xs2s__starttls_element(s, el);
    break;
  case XS2S_SESSION_SASL:
    if (xs2s_stanza_is(el, NULL, XS2S_NS_SASL))
      return xs2s__sasl_element(s, el);
    break;
  case XS2S_SESSION_OPEN:
  case XS2S_SESSION_CLOSING:
    if (xs2s_stanza_is(el, NULL, XS2S_NS_DIALBACK))
      return xs2s__dialback_element(s, el);
    if (xs2s_stanza_is(el, NULL, XS2S_NS_SM))
      return xs2s__sm_element(s, el);
    if (is_stanza(el) && s->bidi_on && s->state == XS2S_SESSION_OPEN) {
      deliver(s, el); /* XEP-0288: the peer answers on our stream */
      return 0;
    }
    if (is_stanza(el))
      return xs2s__session_fail(s, XS2S_ERR_POLICY,
                                XS2S_STREAM_ERR_NOT_AUTHORIZED,
                                "stanzas are not accepted on this stream");
    break;
  default:
    break;
  }
  return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                            XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE,
                            "unexpected element");
}

static int on_element(xs2s_parser *p, xs2s_stanza *el, void *user_data) {
  (void)p;
  xs2s_session *s = user_data;
  if (s->state == XS2S_SESSION_CLOSED ||
      (s->state == XS2S_SESSION_CLOSING && s->close_error &&
       !xs2s_stanza_is(el, NULL, XS2S_NS_SM)))
    return 0; /* after an error, wait for the peer's close quietly (its
               * last XEP-0198 answers still count) */
  if (xs2s_stanza_is(el, "error", XS2S_NS_STREAMS))
    peer_stream_error(s, el);
  else if (s->role == XS2S_SESSION_RECEIVING)
    element_receiving(s, el);
  else
    element_initiating(s, el);
  /* A STARTTLS switch or a restart: stop here, the rest of the buffer is
   * handled (or dropped) outside the parser. */
  if (s->tls_state == XS2S__TLS_HANDSHAKING || s->parser_reset_pending)
    return XS2S_PARSER_PAUSE;
  return 0;
}

static void on_parser_error(xs2s_parser *p, int code,
                            xs2s_stream_condition condition,
                            const char *message, void *user_data) {
  (void)p;
  xs2s_session *s = user_data;
  if (s->state == XS2S_SESSION_CLOSING || s->state == XS2S_SESSION_CLOSED)
    return;
  xs2s__session_fail(s, code, condition, message);
}

int xs2s__session_parse(xs2s_session *s, const char *data, size_t len) {
  while (len > 0 && s->state != XS2S_SESSION_CLOSED) {
    if (s->parser_failed)
      return 0; /* waiting for end of input or the close timeout */
    if (s->parser_reset_pending) {
      /* A restart: the next bytes begin a new stream. */
      s->parser_reset_pending = 0;
      if (xs2s_parser_reset(s->parser) < 0)
        return xs2s__session_fail(s, XS2S_ERR_NOMEM,
                                  XS2S_STREAM_ERR_RESOURCE_CONSTRAINT, NULL);
    }
    ssize_t n = xs2s_parser_feed(s->parser, data, len);
    if (n < 0) {
      s->parser_failed = 1;
      if (s->state != XS2S_SESSION_CLOSING && s->state != XS2S_SESSION_CLOSED)
        xs2s__session_fail(s, (int)n, xs2s_stream_condition_from_error((int)n),
                           NULL);
      return s->close_origin == XS2S_CLOSED_BY_PEER ? 0 : (int)n;
    }
    data += n;
    len -= (size_t)n;
    if (s->tls_state == XS2S__TLS_HANDSHAKING) {
      /* Bytes after <proceed/> or <starttls/> in the same read were sent
       * before the TLS handshake: never part of the secured stream. */
      if (len > 0)
        xs2s__session_log(s, XS2S_SESSION_LOG_WARNING,
                          "dropped %zu clear-text bytes after STARTTLS", len);
      return 0;
    }
    if (s->state == XS2S_SESSION_CLOSED ||
        (s->tls_state == XS2S__TLS_FAILED))
      return 0;
  }
  return 0;
}

/* Counts what the input just processed made us write (stanzas sent from
 * callbacks excepted); a peer that keeps asking without reading the
 * answers gets policy-violation instead of our memory. */
static void count_replies(xs2s_session *s, size_t before) {
  size_t after = pending_output(s);
  if (after > before + s->sent_in_recv)
    s->reply_backlog += after - before - s->sent_in_recv;
  if (s->reply_backlog <= s->max_reply_backlog ||
      s->state == XS2S_SESSION_CLOSING || s->state == XS2S_SESSION_CLOSED)
    return;
  xs2s__session_fail(s, XS2S_ERR_LIMIT, XS2S_STREAM_ERR_POLICY_VIOLATION,
                     "the peer does not read the answers to its requests");
  xs2s__session_flush(s);
}

ssize_t xs2s_session_recv(xs2s_session *s, const uint8_t *data, size_t len,
                          uint64_t now_ms) {
  s->now = now_ms;
  if (s->state == XS2S_SESSION_CLOSED)
    return XS2S_ERR_STREAM_CLOSED;
  int had_reason = s->close_origin != 0;
  size_t before = pending_output(s);
  s->sent_in_recv = 0;
  int rc;
  if (s->tls_state == XS2S__TLS_HANDSHAKING ||
      s->tls_state == XS2S__TLS_ACTIVE)
    rc = xs2s__tls_recv(s, data, len);
  else
    rc = xs2s__session_parse(s, (const char *)data, len);
  int frc = xs2s__session_flush(s);
  if (frc < 0)
    xs2s__session_abort(s, frc, "cannot produce output", XS2S_CLOSED_LOCALLY);
  else
    count_replies(s, before);
  if (rc < 0)
    return rc;
  if (frc < 0)
    return frc;
  if (!had_reason && s->close_origin == XS2S_CLOSED_LOCALLY && s->close_error)
    return s->close_error; /* this input made the stream fail */
  return (ssize_t)len;
}

/* ---------------------------------------------------------------------- */
/* Sending stanzas                                                        */
/* ---------------------------------------------------------------------- */

int xs2s_session_send(xs2s_session *s, const xs2s_stanza *stanza) {
  return xs2s__session_send_keep(s, stanza, NULL, NULL);
}

int xs2s__session_send_keep(xs2s_session *s, const xs2s_stanza *stanza,
                            xs2s__session_keep_fn keep, void *arg) {
  if (!stanza || !is_stanza(stanza))
    return XS2S_ERR_INVALID_ARGUMENT;
  int receiving = s->role == XS2S_SESSION_RECEIVING;
  if ((receiving && !s->bidi_on) || s->state != XS2S_SESSION_OPEN ||
      s->verify_only)
    return XS2S_ERR_BAD_STATE;
  if (xs2s__sm_blocked(s))
    return XS2S_ERR_NOT_AUTHENTICATED; /* resumption first */
  char from[XS2S_DIALBACK_DOMAIN_MAX + 1], to[XS2S_DIALBACK_DOMAIN_MAX + 1];
  if (!xs2s__jid_domain(xs2s_stanza_attr(stanza, "from"), from, sizeof(from)) ||
      !xs2s__jid_domain(xs2s_stanza_attr(stanza, "to"), to, sizeof(to)))
    return XS2S_ERR_INVALID_ARGUMENT;
  /* Pairs are keyed the way stanzas flow in (session_auth.c): on a
   * receiving bidi stream ours go out along the reverse of a pair. */
  if (xs2s__dialback_state(&s->db, receiving ? to : from,
                           receiving ? from : to,
                           NULL) != XS2S_DIALBACK_VALID)
    return XS2S_ERR_NOT_AUTHENTICATED;
  size_t before = s->plain.len;
  size_t pending_before = pending_output(s);
  int rc = xs2s__session_write_stanza(s, stanza);
  if (rc < 0)
    return rc;
  size_t size = s->plain.len - before;
  if (s->peer_max_bytes && size > s->peer_max_bytes) {
    /* XEP-0478: the peer would refuse it; take it back unsent. */
    s->plain.len = before;
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "stanza of %zu bytes exceeds the peer's limit of %llu",
                      size, (unsigned long long)s->peer_max_bytes);
    return XS2S_ERR_LIMIT;
  }
  xs2s__session_activity(s);
  s->last_sent_bytes = size;
  if (keep && size) /* before anything else is written or encrypted */
    keep(xs2s__buf_bytes(&s->plain) + before, size, arg);
  if ((rc = xs2s__sm_sent(s)) < 0)
    return rc;
  if (s->hold && s->tls_state == XS2S__TLS_ACTIVE &&
      s->plain.len < XS2S__HOLD_BYTES)
    rc = 0; /* encrypted with the next ones (session_hold.h) */
  else
    rc = xs2s__session_flush(s);
  /* Ours, not an answer to the peer (when sent from a callback). */
  if (pending_output(s) > pending_before)
    s->sent_in_recv += pending_output(s) - pending_before;
  return rc;
}

void xs2s__session_hold(xs2s_session *s, int on) {
  s->hold = on;
  if (!on)
    xs2s__session_release(s);
}

int xs2s__session_release(xs2s_session *s) {
  return s->plain.len > 0 ? xs2s__session_flush(s) : 0;
}

size_t xs2s__session_sent_bytes(const xs2s_session *s) {
  return s->last_sent_bytes;
}

int xs2s__session_holding(const xs2s_session *s) {
  return s->plain.len > 0 && s->tls_state == XS2S__TLS_ACTIVE;
}

void xs2s__session_clock(xs2s_session *s, uint64_t now_ms) {
  if (now_ms > s->now)
    s->now = now_ms;
}

int xs2s__session_close_reason(const xs2s_session *s,
                               xs2s_session_close_info *info) {
  if (!s->close_origin)
    return 0;
  info->error = s->close_error;
  info->condition = s->close_condition;
  info->text = s->close_text;
  info->origin = s->close_origin;
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Timers                                                                 */
/* ---------------------------------------------------------------------- */

static uint64_t after(uint64_t base, uint64_t delta) {
  if (delta == XS2S_SESSION_NO_TIMEOUT || base > UINT64_MAX - delta)
    return XS2S_SESSION_NO_TIMEOUT;
  return base + delta;
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}

/* Whether the stream is past its handshake: a pair authenticated, or it is
 * a verification-only stream that is open, or (receiving) it served a
 * db:verify. */
static int handshake_done(const xs2s_session *s) {
  return s->pair_authenticated || s->verify_served ||
         (s->verify_only && s->state == XS2S_SESSION_OPEN);
}

/* XEP-0478: stay well inside the peer's idle-seconds. */
static uint64_t keepalive_interval(const xs2s_session *s) {
  uint64_t k = s->keepalive_ms;
  if (s->peer_idle_s > 0) {
    uint64_t half = s->peer_idle_s * 1000 / 2;
    if (half < k)
      k = half > 0 ? half : 1;
  }
  return k;
}

uint64_t xs2s_session_next_deadline(const xs2s_session *s) {
  uint64_t d = XS2S_SESSION_NO_TIMEOUT;
  switch (s->state) {
  case XS2S_SESSION_CLOSED:
    return d;
  case XS2S_SESSION_CLOSING:
    return s->close_deadline;
  case XS2S_SESSION_OPEN:
    d = min_u64(d, after(s->last_write, keepalive_interval(s)));
    d = min_u64(d, after(s->last_activity, s->idle_ms));
    d = min_u64(d, xs2s__dialback_next_deadline(&s->db));
    d = min_u64(d, xs2s__sm_deadline(s));
    break;
  default:
    break;
  }
  if (!handshake_done(s))
    d = min_u64(d, after(s->created, s->handshake_ms));
  return d;
}

int xs2s_session_on_timer(xs2s_session *s, uint64_t now_ms) {
  s->now = now_ms;
  int had_reason = s->close_origin != 0;
  switch (s->state) {
  case XS2S_SESSION_CLOSED:
    return 0;
  case XS2S_SESSION_CLOSING:
    if (now_ms >= s->close_deadline) {
      xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                        "peer did not close the stream in time");
      xs2s__session_event(s, XS2S__EV_FATAL);
    }
    break;
  default:
    if (!handshake_done(s) && now_ms >= after(s->created, s->handshake_ms)) {
      xs2s__session_fail(s, XS2S_ERR_TIMEOUT,
                         XS2S_STREAM_ERR_CONNECTION_TIMEOUT,
                         "stream negotiation took too long");
      break;
    }
    if (s->state != XS2S_SESSION_OPEN)
      break;
    xs2s__dialback_timers(s);
    if (s->state != XS2S_SESSION_OPEN)
      break;
    if (now_ms >= after(s->last_activity, s->idle_ms)) {
      xs2s__session_log(s, XS2S_SESSION_LOG_INFO, "closing idle stream");
      set_close_reason(s, XS2S_ERR_TIMEOUT, XS2S_STREAM_ERR_NONE,
                       "idle", XS2S_CLOSED_LOCALLY);
      write_close(s, XS2S_STREAM_ERR_NONE, NULL);
      xs2s__session_event(s, XS2S__EV_CLOSE_SENT);
      break;
    }
    if (xs2s__sm_timer(s) < 0)
      xs2s__session_abort(s, XS2S_ERR_NOMEM, "no memory for <r/>",
                          XS2S_CLOSED_LOCALLY);
    if (s->state == XS2S_SESSION_OPEN &&
        now_ms >= after(s->last_write, keepalive_interval(s)) &&
        xs2s__session_write_str(s, " ") < 0)
      xs2s__session_abort(s, XS2S_ERR_NOMEM, "no memory for a keepalive",
                          XS2S_CLOSED_LOCALLY);
    break;
  }
  int rc = xs2s__session_flush(s);
  if (rc < 0) {
    /* Output that cannot be produced: the connection is lost. */
    xs2s__session_abort(s, rc, "cannot produce output", XS2S_CLOSED_LOCALLY);
    return rc;
  }
  if (!had_reason && s->close_origin == XS2S_CLOSED_LOCALLY && s->close_error)
    return s->close_error;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                             */
/* ---------------------------------------------------------------------- */

static uint64_t or_default(uint64_t v, uint64_t def) {
  return v ? v : def;
}

static int copy_config(xs2s_session *s, const xs2s_session_config *c) {
  s->role = c->role;
  s->security = s->cfg_security = c->security;
  s->require_valid_cert = s->cfg_require_cert = c->require_valid_certificate;
  s->verify_only = c->verify_only;
  s->direct_tls = c->direct_tls;
  s->bidi = c->bidi && !c->verify_only;
  xs2s__sm_init(s, c);
  s->allow_domain = c->allow_domain;
  s->peer_policy = c->peer_policy;
  s->policy_user_data = c->policy_user_data;
  s->wall_clock_ms = c->wall_clock_ms;
  s->handshake_ms =
      or_default(c->handshake_timeout_ms, XS2S_SESSION_DEFAULT_HANDSHAKE_MS);
  s->dialback_ms =
      or_default(c->dialback_timeout_ms, XS2S_SESSION_DEFAULT_DIALBACK_MS);
  s->close_ms = or_default(c->close_timeout_ms, XS2S_SESSION_DEFAULT_CLOSE_MS);
  s->idle_ms = or_default(c->idle_timeout_ms, XS2S_SESSION_DEFAULT_IDLE_MS);
  s->keepalive_ms = or_default(c->keepalive_ms, XS2S_SESSION_DEFAULT_KEEPALIVE_MS);
  s->max_stanza_bytes = c->limits.max_stanza_bytes
                            ? c->limits.max_stanza_bytes
                            : XS2S_DEFAULT_MAX_STANZA_BYTES;
  s->max_reply_backlog = c->max_reply_backlog ? c->max_reply_backlog
                                              : XS2S_SESSION_DEFAULT_REPLY_BACKLOG;

  s->local_domains = xs2s__calloc(&s->mem, c->local_domain_count,
                                  sizeof(char *));
  if (!s->local_domains)
    return XS2S_ERR_NOMEM;
  for (size_t i = 0; i < c->local_domain_count; i++) {
    if (!c->local_domains[i] || !*c->local_domains[i])
      return XS2S_ERR_INVALID_ARGUMENT;
    if (set_domain(s, &s->local_domains[i], c->local_domains[i]) < 0)
      return XS2S_ERR_NOMEM;
    s->local_domain_count = i + 1;
  }
  if (set_domain(s, &s->remote_domain, c->remote_domain) < 0 ||
      set_string(s, &s->secret, c->dialback_secret) < 0)
    return XS2S_ERR_NOMEM;
  if (c->tlsa_count > 0) {
    s->tlsa = xs2s__calloc(&s->mem, c->tlsa_count, sizeof(xs2s_tlsa));
    if (!s->tlsa)
      return XS2S_ERR_NOMEM;
    for (size_t i = 0; i < c->tlsa_count; i++) {
      unsigned char *d = xs2s__malloc(&s->mem, c->tlsa[i].data_len + 1);
      if (!d)
        return XS2S_ERR_NOMEM;
      memcpy(d, c->tlsa[i].data, c->tlsa[i].data_len);
      s->tlsa[i] = c->tlsa[i];
      s->tlsa[i].data = d;
      s->tlsa_count = i + 1;
    }
  }
  if (c->tls_creds)
    s->creds = xs2s_tls_creds_ref(c->tls_creds);
  return 0;
}

static int config_valid(const xs2s_session_config *c) {
  if (!c || (c->role != XS2S_SESSION_INITIATING &&
             c->role != XS2S_SESSION_RECEIVING))
    return 0;
  if (!c->local_domains || c->local_domain_count == 0)
    return 0;
  if (c->role == XS2S_SESSION_INITIATING &&
      (!c->remote_domain || !*c->remote_domain))
    return 0;
  if (c->verify_only && c->role != XS2S_SESSION_INITIATING)
    return 0;
  if ((unsigned)c->security > XS2S_SECURITY_OFF)
    return 0;
  if (c->direct_tls && (!c->tls_creds || c->security == XS2S_SECURITY_OFF))
    return 0;
  return !(c->tlsa_count && !c->tlsa);
}

int xs2s_session_new(xs2s_session **out, const xs2s_session_config *config,
                     const xs2s_session_callbacks *callbacks, void *user_data,
                     uint64_t now_ms) {
  *out = NULL;
  if (!config_valid(config))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_mem mem;
  xs2s__mem_init(&mem, config->mem);
  xs2s_session *s = xs2s__calloc(&mem, 1, sizeof(*s));
  if (!s)
    return XS2S_ERR_NOMEM;
  s->mem = mem;
  if (callbacks)
    s->cb = *callbacks;
  s->user_data = user_data;
  s->now = s->created = s->last_activity = s->last_write = now_ms;
  xs2s__buf_init(&s->plain, &s->mem);
  xs2s__buf_init(&s->out, &s->mem);
  s->state = XS2S_SESSION_WAIT_HEADER;
  xs2s__dialback_options dopts = {
      .timeout_ms = config->dialback_timeout_ms == XS2S_SESSION_NO_TIMEOUT
                        ? UINT64_MAX / 2
                        : or_default(config->dialback_timeout_ms,
                                     XS2S_SESSION_DEFAULT_DIALBACK_MS),
      /* A refused key costs only its pair: the others on the stream stay. */
      .invalid_as_error = 1,
  };
  xs2s__dialback_init(&s->db, &s->mem,
                      config->role == XS2S_SESSION_INITIATING
                          ? XS2S__DIALBACK_OUTGOING
                          : XS2S__DIALBACK_INCOMING,
                      &dopts);

  int rc = copy_config(s, config);
  if (rc == 0) {
    xs2s_parser_callbacks pcb = {
        .stream_open = on_stream_open,
        .stanza = on_element,
        .stream_close = on_stream_close,
        .error = on_parser_error,
    };
    s->parser = xs2s_parser_new_mem(&pcb, s, &config->limits, &s->mem);
    if (!s->parser)
      rc = XS2S_ERR_NOMEM;
  }
  if (rc == 0 && s->direct_tls) {
    if ((rc = xs2s__tls_direct_start(s)) == 0)
      rc = xs2s__session_flush(s);
  } else if (rc == 0 && s->role == XS2S_SESSION_INITIATING &&
             (rc = xs2s__session_send_header(s)) == 0) {
    rc = xs2s__session_flush(s);
  }
  if (rc < 0) {
    xs2s_session_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void xs2s_session_free(xs2s_session *s) {
  if (!s)
    return;
  xs2s__dialback_waiting_free(s);
  xs2s__dialback_free(&s->db);
  xs2s_parser_free(s->parser);
  xs2s_tls_free(s->tls);
  xs2s_tls_creds_unref(s->creds);
  for (size_t i = 0; i < s->local_domain_count; i++)
    xs2s__free(&s->mem, s->local_domains[i]);
  xs2s__free(&s->mem, s->local_domains);
  for (size_t i = 0; i < s->tlsa_count; i++)
    xs2s__free(&s->mem, (void *)s->tlsa[i].data);
  xs2s__free(&s->mem, s->tlsa);
  xs2s__free(&s->mem, s->remote_domain);
  xs2s__free(&s->mem, s->secret);
  xs2s__free(&s->mem, s->stream_id);
  xs2s__free(&s->mem, s->header_to);
  xs2s__free(&s->mem, s->sasl_domain);
  xs2s__free(&s->mem, s->peer_check_domain);
  xs2s__free(&s->mem, s->close_text);
  xs2s__buf_free(&s->plain);
  xs2s__buf_free(&s->out);
  xs2s_mem mem = s->mem;
  xs2s__free(&mem, s);
}

/* ---------------------------------------------------------------------- */
/* Accessors                                                              */
/* ---------------------------------------------------------------------- */

xs2s_session_state xs2s_session_get_state(const xs2s_session *s) {
  return s->state;
}

xs2s_session_role xs2s_session_get_role(const xs2s_session *s) {
  return s->role;
}

const char *xs2s_session_stream_id(const xs2s_session *s) {
  return s->stream_id;
}

int xs2s_session_set_dialback_secret(xs2s_session *s, const char *secret) {
  if (!s)
    return XS2S_ERR_INVALID_ARGUMENT;
  return set_string(s, &s->secret, secret);
}

const char *xs2s_session_remote_domain(const xs2s_session *s) {
  return s->remote_domain;
}

int xs2s_session_is_secure(const xs2s_session *s) {
  return s->tls_state == XS2S__TLS_ACTIVE;
}

xs2s_tls *xs2s_session_tls(xs2s_session *s) {
  return s->tls;
}
