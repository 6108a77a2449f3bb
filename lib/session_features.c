/*
 * session_features.c: <stream:features/> - what the receiving side offers
 * and how the initiating side chooses among the offers.
 *
 * The receiving side offers, in this order:
 *   - STARTTLS while TLS is possible and not yet on (<required/> when the
 *     policy requires it; then nothing else is offered);
 *   - SASL EXTERNAL once TLS is on and the peer's certificate names the
 *     domain in its header (XEP-0178);
 *   - dialback with error support (XEP-0220 section 2.4.2);
 *   - XEP-0478 stream limits: our parser's max-bytes and our idle timeout
 *     in seconds.
 *
 * The initiating side's choice (xs2s__features_act()):
 *   1. TLS: STARTTLS when offered and allowed; a policy that requires TLS
 *      and a peer that offers none end the stream with policy-violation
 *      before anything else is sent.
 *   2. Certificate policy: when a valid peer certificate is required and
 *      the peer's does not name the domain, end with policy-violation.
 *   3. Authentication: SASL EXTERNAL when offered (once), else dialback;
 *      with neither the stream ends with unsupported-feature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

/* Appends <limits xmlns='urn:xmpp:stream-limits:0'/> with what we
 * enforce. */
static int add_limits(xs2s_session *s, xs2s_stanza *f) {
  xs2s_stanza *l = xs2s_stanza_add_child(f, "limits", XS2S_NS_STREAM_LIMITS);
  char num[24];
  if (!l)
    return XS2S_ERR_NOMEM;
  xs2s_stanza *mb = xs2s_stanza_add_child(l, "max-bytes", NULL);
  int n = snprintf(num, sizeof(num), "%zu", s->max_stanza_bytes);
  if (!mb || xs2s_stanza_add_text(mb, num, (size_t)n) < 0)
    return XS2S_ERR_NOMEM;
  if (s->idle_ms != XS2S_SESSION_NO_TIMEOUT && s->idle_ms >= 1000) {
    xs2s_stanza *is = xs2s_stanza_add_child(l, "idle-seconds", NULL);
    n = snprintf(num, sizeof(num), "%llu",
                 (unsigned long long)(s->idle_ms / 1000));
    if (!is || xs2s_stanza_add_text(is, num, (size_t)n) < 0)
      return XS2S_ERR_NOMEM;
  }
  return 0;
}

/* A positive decimal integer of at most 18 digits, else 0. */
static uint64_t child_number(const xs2s_stanza *parent, const char *name) {
  const xs2s_stanza *c =
      xs2s_stanza_find_child(parent, name, XS2S_NS_STREAM_LIMITS);
  const char *t = c ? xs2s_stanza_text(c) : NULL;
  if (!t)
    return 0;
  while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
    t++;
  uint64_t v = 0;
  int digits = 0;
  for (; *t >= '0' && *t <= '9'; t++) {
    if (++digits > 18)
      return 0;
    v = v * 10 + (uint64_t)(*t - '0');
  }
  while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
    t++;
  return *t ? 0 : v;
}

static void read_limits(xs2s_session *s, const xs2s_stanza *features) {
  const xs2s_stanza *l =
      xs2s_stanza_find_child(features, "limits", XS2S_NS_STREAM_LIMITS);
  s->peer_limits = l != NULL;
  s->peer_max_bytes = l ? child_number(l, "max-bytes") : 0;
  s->peer_idle_s = l ? child_number(l, "idle-seconds") : 0;
  if (l)
    xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                      "peer limits: max-bytes %llu, idle-seconds %llu",
                      (unsigned long long)s->peer_max_bytes,
                      (unsigned long long)s->peer_idle_s);
}

int xs2s_session_peer_limits(const xs2s_session *s, uint64_t *max_bytes,
                             uint64_t *idle_seconds) {
  if (max_bytes)
    *max_bytes = s->peer_max_bytes;
  if (idle_seconds)
    *idle_seconds = s->peer_idle_s;
  return s->peer_limits;
}

int xs2s_session_is_bidi(const xs2s_session *s) {
  return s->bidi_on;
}

int xs2s__features_send(xs2s_session *s) {
  xs2s_stanza *f = xs2s_stanza_new_mem(&s->mem, "features", XS2S_NS_STREAMS);
  int rc = f ? 0 : XS2S_ERR_NOMEM;
  if (rc == 0 && xs2s__starttls_offerable(s)) {
    xs2s_stanza *tls = xs2s_stanza_add_child(f, "starttls", XS2S_NS_TLS);
    if (!tls || (s->security == XS2S_SECURITY_REQUIRED &&
                 !xs2s_stanza_add_child(tls, "required", NULL)))
      rc = XS2S_ERR_NOMEM;
  }
  if (rc == 0 && !xs2s__tls_missing(s)) {
    if (xs2s__sasl_offerable(s)) {
      xs2s_stanza *m = xs2s_stanza_add_child(f, "mechanisms", XS2S_NS_SASL);
      xs2s_stanza *mech = m ? xs2s_stanza_add_child(m, "mechanism", NULL) : NULL;
      if (!mech || xs2s_stanza_add_text(mech, "EXTERNAL", 8) < 0)
        rc = XS2S_ERR_NOMEM;
    }
    if (rc == 0)
      rc = xs2s_dialback_feature_add(f);
    if (rc == 0)
      rc = add_limits(s, f);
    if (rc == 0 && s->bidi &&
        !xs2s_stanza_add_child(f, "bidi", XS2S_NS_FEATURE_BIDI))
      rc = XS2S_ERR_NOMEM;
    if (rc == 0)
      rc = xs2s__sm_feature_add(s, f);
  }
  if (rc == 0)
    rc = xs2s__session_write_stanza(s, f);
  xs2s_stanza_free(f);
  return rc;
}

static int offers_external(const xs2s_stanza *mechs) {
  for (xs2s_stanza *m = xs2s_stanza_first_child(mechs); m;
       m = xs2s_stanza_next(m)) {
    const char *text = xs2s_stanza_is(m, "mechanism", XS2S_NS_SASL)
                           ? xs2s_stanza_text(m)
                           : NULL;
    if (text && strcmp(text, "EXTERNAL") == 0)
      return 1;
  }
  return 0;
}

int xs2s__features_read(xs2s_session *s, const xs2s_stanza *features) {
  const xs2s_stanza *tls =
      xs2s_stanza_find_child(features, "starttls", XS2S_NS_TLS);
  const xs2s_stanza *mechs =
      xs2s_stanza_find_child(features, "mechanisms", XS2S_NS_SASL);
  unsigned db = xs2s_dialback_feature_parse(features);
  s->peer_offers_starttls = tls != NULL;
  s->peer_requires_starttls =
      tls && xs2s_stanza_find_child(tls, "required", XS2S_NS_TLS);
  s->peer_offers_external = mechs && offers_external(mechs);
  s->peer_dialback_feature = (db & XS2S_DIALBACK_FEATURE_OFFERED) != 0;
  s->peer_dialback_errors = (db & XS2S_DIALBACK_FEATURE_ERRORS) != 0;
  xs2s__dialback_set_peer_features(&s->db, db);
  read_limits(s, features);
  xs2s__sm_feature_read(s, features);
  s->peer_offers_bidi =
      xs2s_stanza_find_child(features, "bidi", XS2S_NS_FEATURE_BIDI) != NULL;
  xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                    "peer offers:%s%s%s%s",
                    s->peer_offers_starttls ? " starttls" : "",
                    s->peer_requires_starttls ? "(required)" : "",
                    s->peer_offers_external ? " sasl-external" : "",
                    s->peer_dialback_feature ? " dialback" : "");
  if (s->cb.features) {
    s->cb.features(s, features, s->user_data);
    /* Closed from the callback: act on nothing. */
    if (s->state != XS2S_SESSION_WAIT_FEATURES)
      return 0;
  }
  return xs2s__features_act(s);
}

/* Step 1: TLS. Returns 1 when STARTTLS was requested, 0 to go on, or a
 * negative code when the stream ended. */
static int act_tls(xs2s_session *s) {
  if (s->tls_state == XS2S__TLS_ACTIVE)
    return 0;
  if (s->peer_offers_starttls && s->security != XS2S_SECURITY_OFF &&
      s->creds) {
    int rc = xs2s__starttls_request(s);
    return rc < 0 ? rc : 1;
  }
  if (s->security == XS2S_SECURITY_REQUIRED)
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_POLICY_VIOLATION,
                              s->peer_offers_starttls
                                  ? "no TLS credentials configured"
                                  : "TLS is required but not offered");
  if (s->peer_requires_starttls)
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_POLICY_VIOLATION,
                              "peer requires TLS, which is off here");
  return 0;
}

int xs2s__features_act(xs2s_session *s) {
  int rc = act_tls(s);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  /* Secure TLSA records that no certificate matches fail closed (RFC 7673)
   * whatever the policy; otherwise only a required certificate must hold. */
  int why = s->require_valid_cert || s->tlsa_count > 0
                ? xs2s__tls_peer_check(s, s->remote_domain)
                : 0;
  if (why == XS2S_ERR_DANE_MISMATCH)
    return xs2s__session_fail(s, why, XS2S_STREAM_ERR_POLICY_VIOLATION,
                              "peer certificate matches none of the "
                              "domain's DANE records");
  if (why < 0 && s->require_valid_cert)
    return xs2s__session_fail(s, why, XS2S_STREAM_ERR_POLICY_VIOLATION,
                              "peer certificate does not prove its domain");
  if (s->verify_only)
    return xs2s__session_event(s, XS2S__EV_NEGOTIATED);
  /* XEP-0288: after TLS, before authentication; no answer comes. */
  if (s->bidi && s->peer_offers_bidi && !s->bidi_on) {
    if ((rc = xs2s__session_write_str(s, "<bidi xmlns='" XS2S_NS_BIDI
                                         "'/>")) < 0)
      return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                                NULL);
    s->bidi_on = 1;
    xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG, "bidirectional stream");
  }
  switch (s->sasl_state) {
  case XS2S__SASL_NONE:
    if (s->peer_offers_external && s->tls_state == XS2S__TLS_ACTIVE)
      return xs2s__sasl_start(s);
    break;
  case XS2S__SASL_SUCCESS:
    if ((rc = xs2s__sasl_complete(s)) < 0)
      return rc;
    return xs2s__session_event(s, XS2S__EV_NEGOTIATED);
  default:
    break;
  }
  if (!xs2s__dialback_usable(s))
    return xs2s__session_fail(s, XS2S_ERR_POLICY,
                              XS2S_STREAM_ERR_UNSUPPORTED_FEATURE,
                              "no authentication method in common");
  return xs2s__session_event(s, XS2S__EV_NEGOTIATED);
}
