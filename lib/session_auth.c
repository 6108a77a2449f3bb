/*
 * session_auth.c: who may speak for which domain on a stream - SASL
 * EXTERNAL (RFC 6120 section 6, XEP-0178), the authenticated-pair
 * bookkeeping, and the authorisation of every inbound stanza.
 *
 * Domain pairs live in the stream's dialback table (lib/dialback.h), named
 * the way stanzas flow: on a receiving stream (peer domain, our domain), on
 * an initiating one (our domain, peer domain). SASL and certificate
 * authentication mark pairs valid there too, so one lookup authorises a
 * stanza however its pair was proved.
 */
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "domain.h"
#include "session_int.h"

/* ---------------------------------------------------------------------- */
/* Base64 for the SASL authorisation identity (RFC 4648, no line breaks)  */
/* ---------------------------------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes @len bytes into @out (room for 4*ceil(len/3)+1). */
static void base64_encode(const char *in, size_t len, char *out) {
  const unsigned char *p = (const unsigned char *)in;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = p[i] << 16;
    if (i + 1 < len)
      v |= p[i + 1] << 8;
    if (i + 2 < len)
      v |= p[i + 2];
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? b64[v & 63] : '=';
  }
  out[o] = '\0';
}

/* Decodes @in into @out (NUL-terminated, at most @size-1 bytes); -1 on bad
 * input, too long output or an embedded NUL. */
static int base64_decode(const char *in, char *out, size_t size) {
  unsigned v = 0;
  int bits = 0;
  size_t o = 0;
  for (const char *p = in; *p && *p != '='; p++) {
    const char *c = strchr(b64, *p);
    if (!c || !*p)
      return -1;
    v = (v << 6) | (unsigned)(c - b64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      char byte = (char)((v >> bits) & 0xff);
      if (byte == '\0' || o + 1 >= size)
        return -1;
      out[o++] = byte;
    }
  }
  out[o] = '\0';
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Pairs                                                                  */
/* ---------------------------------------------------------------------- */

void xs2s__pair_authenticated(xs2s_session *s, const char *local,
                              const char *remote, xs2s_auth_method how) {
  s->pair_authenticated = 1;
  xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                    "%s '%s' -> '%s' authenticated by %s",
                    s->role == XS2S_SESSION_INITIATING ? "outbound" : "inbound",
                    s->role == XS2S_SESSION_INITIATING ? local : remote,
                    s->role == XS2S_SESSION_INITIATING ? remote : local,
                    xs2s_auth_method_name(how));
  /* XEP-0198: <enable/> goes before the stanzas the callback sends, so
   * that they are counted. */
  if (xs2s__sm_kick(s) < 0) {
    xs2s__session_fail(s, XS2S_ERR_NOMEM, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                       NULL);
    return;
  }
  if (s->cb.authenticated)
    s->cb.authenticated(s, local, remote, how, s->user_data);
}

xs2s_auth_method xs2s_session_pair_method(const xs2s_session *s,
                                          const char *local,
                                          const char *remote) {
  int in = s->role == XS2S_SESSION_RECEIVING;
  const xs2s__dialback_pair *p = xs2s__dialback_find(
      &s->db, in ? remote : local, in ? local : remote);
  if (!p || p->state != XS2S_DIALBACK_VALID)
    return XS2S_AUTH_NONE;
  if (s->sasl_domain && xs2s__domain_equal(s->sasl_domain, remote) &&
      s->sasl_state != XS2S__SASL_FAILED)
    return XS2S_AUTH_SASL_EXTERNAL;
  return p->by_certificate ? XS2S_AUTH_CERTIFICATE : XS2S_AUTH_DIALBACK;
}

/* ---------------------------------------------------------------------- */
/* SASL EXTERNAL                                                          */
/* ---------------------------------------------------------------------- */

int xs2s__sasl_offerable(xs2s_session *s) {
  xs2s_security_mode mode;
  int cert;
  /* TLS and a certificate proving the domain meet any security policy;
   * only a domain the policy refuses outright is turned away. */
  return s->role == XS2S_SESSION_RECEIVING &&
         s->tls_state == XS2S__TLS_ACTIVE && !s->sasl_domain &&
         s->remote_domain && xs2s__session_allowed(s, s->remote_domain) &&
         xs2s__session_peer_policy(s, s->remote_domain, &mode, &cert) == 0 &&
         xs2s__tls_peer_valid_for(s, s->remote_domain);
}

static int sasl_failure(xs2s_session *s, const char *condition) {
  xs2s__session_log(s, XS2S_SESSION_LOG_INFO, "SASL EXTERNAL refused: %s",
                    condition);
  int rc;
  if ((rc = xs2s__session_write_str(s, "<failure xmlns='" XS2S_NS_SASL
                                       "'><")) < 0 ||
      (rc = xs2s__session_write_str(s, condition)) < 0 ||
      (rc = xs2s__session_write_str(s, "/></failure>")) < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  return 0;
}

/* Receiving side: <auth mechanism='EXTERNAL'>authzid</auth>. */
static int sasl_auth(xs2s_session *s, const xs2s_stanza *el) {
  const char *mech = xs2s_stanza_attr(el, "mechanism");
  if (!mech || strcmp(mech, "EXTERNAL") != 0)
    return sasl_failure(s, "invalid-mechanism");
  if (!xs2s__sasl_offerable(s))
    return sasl_failure(s, "not-authorized");
  /* The authorisation identity, if given, must be the header's domain. */
  char authzid[XS2S_DIALBACK_DOMAIN_MAX + 1];
  const char *text = xs2s_stanza_text(el);
  if (text && *text && strcmp(text, "=") != 0) {
    if (base64_decode(text, authzid, sizeof(authzid)) < 0)
      return sasl_failure(s, "incorrect-encoding");
    if (!xs2s__domain_equal(authzid, s->remote_domain))
      return sasl_failure(s, "invalid-authzid");
  }
  if (!(s->sasl_domain = xs2s__strdup(&s->mem, s->remote_domain)))
    return xs2s__session_fail(s, XS2S_ERR_NOMEM,
                              XS2S_STREAM_ERR_RESOURCE_CONSTRAINT, NULL);
  int rc = xs2s__session_write_str(s, "<success xmlns='" XS2S_NS_SASL "'/>");
  if (rc < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  s->sasl_state = XS2S__SASL_SUCCESS;
  /* The pair becomes valid on the restarted stream (xs2s__sasl_complete),
   * whose new id starts with no pairs. */
  return xs2s__session_event(s, XS2S__EV_SASL_SUCCESS);
}

int xs2s__sasl_start(xs2s_session *s) {
  const char *local = s->local_domains[0];
  size_t len = strlen(local);
  char *enc = xs2s__malloc(&s->mem, 4 * (len / 3 + 1) + 1);
  if (!enc)
    return xs2s__session_fail(s, XS2S_ERR_NOMEM,
                              XS2S_STREAM_ERR_RESOURCE_CONSTRAINT, NULL);
  base64_encode(local, len, enc);
  int rc;
  if ((rc = xs2s__session_write_str(s, "<auth xmlns='" XS2S_NS_SASL
                                       "' mechanism='EXTERNAL'>")) == 0 &&
      (rc = xs2s__session_write_str(s, enc)) == 0)
    rc = xs2s__session_write_str(s, "</auth>");
  xs2s__free(&s->mem, enc);
  if (rc < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  s->sasl_state = XS2S__SASL_SENT;
  return xs2s__session_event(s, XS2S__EV_SASL_SENT);
}

int xs2s__sasl_complete(xs2s_session *s) {
  int out = s->role == XS2S_SESSION_INITIATING;
  const char *local = out ? s->local_domains[0] : s->header_to;
  int rc = out ? xs2s__dialback_mark_valid(&s->db, local, s->remote_domain)
               : xs2s__dialback_mark_valid(&s->db, s->remote_domain, local);
  if (rc < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_INTERNAL_SERVER_ERROR,
                              NULL);
  if (!s->sasl_domain &&
      !(s->sasl_domain = xs2s__strdup(&s->mem, s->remote_domain)))
    return xs2s__session_fail(s, XS2S_ERR_NOMEM,
                              XS2S_STREAM_ERR_RESOURCE_CONSTRAINT, NULL);
  xs2s__pair_authenticated(s, local, s->remote_domain,
                           XS2S_AUTH_SASL_EXTERNAL);
  return 0;
}

int xs2s__sasl_element(xs2s_session *s, const xs2s_stanza *el) {
  if (s->role == XS2S_SESSION_RECEIVING) {
    if (xs2s_stanza_is(el, "auth", XS2S_NS_SASL))
      return sasl_auth(s, el);
    return sasl_failure(s, "aborted");
  }
  if (xs2s_stanza_is(el, "success", XS2S_NS_SASL)) {
    s->sasl_state = XS2S__SASL_SUCCESS;
    return xs2s__session_event(s, XS2S__EV_SASL_SUCCESS);
  }
  if (xs2s_stanza_is(el, "failure", XS2S_NS_SASL)) {
    /* XEP-0178: fall back to dialback when the peer offers it. */
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "peer refused SASL EXTERNAL; trying dialback");
    s->sasl_state = XS2S__SASL_FAILED;
    int rc = xs2s__session_event(s, XS2S__EV_SASL_FAILURE);
    return rc < 0 ? rc : xs2s__features_act(s);
  }
  return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                            XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE,
                            "unexpected SASL element");
}

/* ---------------------------------------------------------------------- */
/* Stanza authorisation                                                   */
/* ---------------------------------------------------------------------- */

const char *xs2s__jid_domain(const char *jid, char *buf, size_t size) {
  if (!jid)
    return NULL;
  const char *end = strchr(jid, '/');
  if (!end)
    end = jid + strlen(jid);
  const char *at = memchr(jid, '@', (size_t)(end - jid));
  const char *start = at ? at + 1 : jid;
  size_t len = (size_t)(end - start);
  if (len > 0 && start[len - 1] == '.')
    len--; /* the root label is not part of the domain */
  if (len == 0 || len >= size || memchr(start, '@', len))
    return NULL;
  memcpy(buf, start, len);
  buf[len] = '\0';
  return buf;
}

/* Checks one inbound stanza; a refusal ends the stream (below). */
static int authorize(xs2s_session *s, const xs2s_stanza *st) {
  char from[XS2S_DIALBACK_DOMAIN_MAX + 1], to[XS2S_DIALBACK_DOMAIN_MAX + 1];
  if (xs2s__dialback_count(&s->db, XS2S_DIALBACK_VALID) == 0)
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_NOT_AUTHORIZED,
                              "no domain is authenticated on this stream");
  const char *from_attr = xs2s_stanza_attr(st, "from");
  const char *to_attr = xs2s_stanza_attr(st, "to");
  if (!from_attr || !to_attr)
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_IMPROPER_ADDRESSING,
                              "stanza without 'from' or 'to'");
  if (!xs2s__jid_domain(to_attr, to, sizeof(to)) ||
      !xs2s__session_is_local(s, to))
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_HOST_UNKNOWN,
                              "'to' is not a domain served here");
  /* Receiving: the pair (from, to) was proved by the peer. Initiating
   * (bidirectional): the reverse of a pair we proved, (to, from). */
  int in = s->role == XS2S_SESSION_RECEIVING;
  if (!xs2s__jid_domain(from_attr, from, sizeof(from)) ||
      xs2s__dialback_state(&s->db, in ? from : to, in ? to : from, NULL) !=
          XS2S_DIALBACK_VALID)
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_INVALID_FROM,
                              "'from' is not authenticated for 'to'");
  return 0;
}

int xs2s__authorize(xs2s_session *s, const xs2s_stanza *st) {
  int rc = authorize(s, st);
  if (rc < 0)
    s->stanzas_refused++; /* the engine's stanzas_rejected counter */
  return rc;
}

uint64_t xs2s_session_stanzas_refused(const xs2s_session *s) {
  return s->stanzas_refused;
}
