/*
 * judge.c: from what a connection showed to a verdict and its reasons, in
 * the words a server administrator uses.
 *
 *   unreachable  no XMPP stream: no address, connect() failed, nothing or
 *                no stream header came back, direct TLS failed;
 *   insecure     a stream, but no TLS, or TLS whose certificate does not
 *                prove the domain, or the server ended the stream before
 *                showing its features under TLS;
 *   secure       TLS, the certificate trusted and naming the domain (or a
 *                DNSSEC-secure DANE record vouching for it), and the
 *                features of the stream restarted under TLS seen.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

/* Certificates closer to their end than this get a note. */
#define EXPIRY_WARNING_DAYS 30

static void add(char **list, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(char **list, size_t *n, const char *fmt, ...) {
  if (*n >= PROBE_MAX_REASONS)
    return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  char *copy = strdup(buf);
  if (copy)
    list[(*n)++] = copy;
}

#define REASON(r, ...) add((r)->reasons, &(r)->nreasons, __VA_ARGS__)
#define NOTE(r, ...) add((r)->notes, &(r)->nnotes, __VA_ARGS__)

const char *probe_verdict_name(probe_verdict v) {
  switch (v) {
  case PROBE_NOT_TRIED:
    return "not-tried";
  case PROBE_UNREACHABLE:
    return "unreachable";
  case PROBE_INSECURE:
    return "insecure";
  case PROBE_SECURE:
    return "secure";
  }
  return "unknown";
}

/* strerror() with a lower-case first letter, to sit inside a sentence. */
static const char *errno_text(int err, char *buf, size_t len) {
  snprintf(buf, len, "%s", strerror(err));
  if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
    buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

static void date_text(int64_t secs, char *buf, size_t len) {
  probe_time_text(secs, PROBE_TIME_HUMAN, buf, len);
}

static const char *phase_wait_text(probe_phase p) {
  switch (p) {
  case PROBE_PHASE_CONNECT:
    return "a connection";
  case PROBE_PHASE_TLS_FIRST:
    return "the TLS handshake (direct TLS)";
  case PROBE_PHASE_HEADER:
    return "the server's stream header";
  case PROBE_PHASE_FEATURES:
    return "the server's stream features";
  case PROBE_PHASE_STARTTLS:
    return "an answer to <starttls/>";
  case PROBE_PHASE_HANDSHAKE:
    return "the TLS handshake";
  case PROBE_PHASE_DONE:
    break;
  }
  return "the server";
}

/* ---- unreachable ------------------------------------------------------ */

static void judge_connect(const probe_options *o, probe_report *r) {
  const xs2s_resolve_candidate *c = r->cand;
  char buf[256];
  if (c->naddrs == 0) {
    REASON(r, "no address to connect to: %s",
           c->error ? xs2s_strerror(c->error) : "no A or AAAA records");
    return;
  }
  for (size_t i = 0; i < r->nattempts; i++) {
    const probe_attempt *a = &r->attempts[i];
    if (a->error == ETIMEDOUT)
      REASON(r, "%s port %u: no answer to the connection attempt within "
                "%u ms (a firewall dropping packets?)",
             a->address, c->port, o->timeout_ms);
    else
      REASON(r, "%s port %u: %s", a->address, c->port,
             errno_text(a->error, buf, sizeof(buf)));
  }
}

/* Connected, but no XMPP stream came out of it. */
static void judge_no_stream(const probe_options *o, probe_report *r) {
  char buf[256];
  if (r->tls_error && r->cand->tls == XS2S_RESOLVE_TLS_DIRECT)
    REASON(r, "%s (direct TLS: _xmpps-server records and --route-tls must "
              "name a port that starts TLS at once, not a STARTTLS port)",
           r->tls_error);
  else if (r->tls_error)
    REASON(r, "%s", r->tls_error);
  else if (r->timed_out)
    REASON(r, "connected, but no answer came within %u ms while waiting "
              "for %s (is this an XMPP server port?)",
           o->timeout_ms, phase_wait_text(r->phase));
  else if (r->peer_eof && r->read_errno)
    REASON(r, "the connection failed before a stream was opened: %s",
           errno_text(r->read_errno, buf, sizeof(buf)));
  else if (r->peer_eof)
    REASON(r, "the server closed the connection without opening an XMPP "
              "stream");
  else if (r->ended)
    REASON(r, "no XMPP stream: %s", xs2s_strerror(r->close.error));
  else
    REASON(r, "no XMPP stream");
}

/* ---- how a stream ended ------------------------------------------------ */

static void judge_end(const probe_options *o, probe_report *r) {
  const xs2s_session_close_info *ci = &r->close;
  char buf[256];
  if (r->timed_out) {
    REASON(r, "no answer within %u ms while waiting for %s%s",
           o->timeout_ms, phase_wait_text(r->phase),
           r->tls_established ? " (after TLS)" : "");
    return;
  }
  if (!r->ended)
    return;
  switch (ci->error) {
  case XS2S_ERR_PEER_STREAM_ERROR:
    REASON(r, "the server ended the stream with the error <%s/>%s%s%s",
           xs2s_stream_condition_name(ci->condition),
           ci->text ? " (\"" : "", ci->text ? ci->text : "",
           ci->text ? "\")" : "");
    return;
  case XS2S_ERR_TLS_HANDSHAKE:
    REASON(r, "TLS handshake failed%s%s", r->tls_error ? ": " : "",
           r->tls_error ? r->tls_error : "");
    return;
  case XS2S_ERR_TLS:
    if (r->phase == PROBE_PHASE_STARTTLS) {
      REASON(r, "the server refused STARTTLS (it answered <failure/>)");
      return;
    }
    break;
  case XS2S_ERR_STREAM_CLOSED:
  case 0:
    if (r->peer_eof && r->read_errno)
      REASON(r, "the connection failed while waiting for %s: %s",
             phase_wait_text(r->phase),
             errno_text(r->read_errno, buf, sizeof(buf)));
    else
      REASON(r, "the server closed the %s while we waited for %s",
             r->peer_eof ? "connection" : "stream",
             phase_wait_text(r->phase));
    return;
  default:
    break;
  }
  if (ci->condition != XS2S_STREAM_ERR_NONE)
    REASON(r, "the stream failed: %s (we sent <%s/>%s%s)",
           xs2s_strerror(ci->error), xs2s_stream_condition_name(ci->condition),
           ci->text ? ": " : "", ci->text ? ci->text : "");
  else
    REASON(r, "the stream failed: %s", xs2s_strerror(ci->error));
}

/* ---- the certificate --------------------------------------------------- */

/* "a.test, _xmpp-server.b.test": the names that can match a domain. */
static size_t matchable_names(const xs2s_tls_cert_info *ci, char *buf,
                              size_t len) {
  size_t n = 0, used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < ci->name_count; i++) {
    const xs2s_tls_name *nm = &ci->names[i];
    if (nm->type != XS2S_TLS_NAME_DNS && nm->type != XS2S_TLS_NAME_SRV &&
        nm->type != XS2S_TLS_NAME_XMPPADDR)
      continue;
    int k = snprintf(buf + used, len - used, "%s%s", n ? ", " : "",
                     nm->value);
    if (k < 0 || (size_t)k >= len - used)
      break;
    used += (size_t)k;
    n++;
  }
  return n;
}

static void chain_reason(probe_report *r, char **list, size_t *n,
                         uint64_t wall_ms) {
  const xs2s_tls_cert_info *ci = r->cert;
  char date[64];
  int64_t now = (int64_t)(wall_ms / 1000);
  switch (r->verify.chain) {
  case XS2S_TLS_CHAIN_TRUSTED:
    return;
  case XS2S_TLS_CHAIN_NO_CERT:
    add(list, n, "the server presented no certificate");
    return;
  case XS2S_TLS_CHAIN_REVOKED:
    add(list, n, "certificate not trusted: it is revoked (listed in a CRL)");
    return;
  case XS2S_TLS_CHAIN_SELF_SIGNED:
    add(list, n, "certificate not trusted: it is self-signed");
    return;
  case XS2S_TLS_CHAIN_UNKNOWN_CA:
    add(list, n,
        "certificate not trusted: issued by %s, which is not a trusted CA "
        "(or an intermediate certificate is missing from the chain the "
        "server sends)",
        ci->issuer ? ci->issuer : "an unknown issuer");
    return;
  case XS2S_TLS_CHAIN_BAD_PURPOSE:
    add(list, n, "certificate not trusted: its extended key usage does not "
                 "allow TLS server authentication");
    return;
  case XS2S_TLS_CHAIN_INSECURE:
    add(list, n, "certificate not trusted: signed with an algorithm or key "
                 "size considered insecure");
    return;
  case XS2S_TLS_CHAIN_EXPIRED:
    date_text(ci->not_after, date, sizeof(date));
    if (ci->not_after < now)
      add(list, n, "certificate expired on %s", date);
    else
      add(list, n, "a certificate of the chain has expired");
    return;
  case XS2S_TLS_CHAIN_NOT_YET_VALID:
    date_text(ci->not_before, date, sizeof(date));
    if (ci->not_before > now)
      add(list, n, "certificate not valid before %s (check the clocks)",
          date);
    else
      add(list, n, "a certificate of the chain is not valid yet");
    return;
  case XS2S_TLS_CHAIN_INVALID:
    break;
  }
  add(list, n, "certificate not trusted: the chain is invalid");
}

static void judge_certificate(const probe_options *o, probe_report *r,
                              uint64_t wall_ms) {
  if (!r->verified) {
    REASON(r, "the certificate could not be checked");
    return;
  }
  if (!r->cert && r->verify.chain != XS2S_TLS_CHAIN_NO_CERT) {
    REASON(r, "the certificate could not be decoded");
    return;
  }
  const xs2s_tls_verify_result *v = &r->verify;
  /* With a DANE match the PKIX verdict no longer decides: say it anyway. */
  if (v->authenticated)
    chain_reason(r, r->notes, &r->nnotes, wall_ms);
  else
    chain_reason(r, r->reasons, &r->nreasons, wall_ms);
  if (r->cert && v->name == XS2S_TLS_MATCH_NONE) {
    char names[512];
    if (matchable_names(r->cert, names, sizeof(names)))
      REASON(r, "certificate names %s, not %s", names, o->domain);
    else
      REASON(r, "certificate names no domain (no subjectAltName dNSName, "
                "SRVName or xmppAddr; the subject CN is not used), so not "
                "%s",
             o->domain);
  }
  if (v->dane == XS2S_TLS_DANE_MISMATCH)
    REASON(r, "DANE: the DNSSEC-signed TLSA records match no certificate "
              "the server presented");
  else if (v->dane == XS2S_TLS_DANE_MATCH)
    NOTE(r, "DANE: a DNSSEC-signed TLSA record (usage %d) matches",
         v->dane_usage);
  if (r->cert && r->verify.chain == XS2S_TLS_CHAIN_TRUSTED) {
    int64_t left = r->cert->not_after - (int64_t)(wall_ms / 1000);
    if (left < (int64_t)EXPIRY_WARNING_DAYS * 86400) {
      char date[64];
      date_text(r->cert->not_after, date, sizeof(date));
      NOTE(r, "certificate expires in %lld days (%s)",
           (long long)(left / 86400), date);
    }
  }
}

/* ---- remarks on the features ------------------------------------------ */

static void judge_features(probe_report *r) {
  const xs2s_stanza *tls = r->features_plain
                               ? xs2s_stanza_find_child(r->features_plain,
                                                        "starttls",
                                                        XS2S_NS_TLS)
                               : NULL;
  if (r->features_plain && !tls && r->cand->tls == XS2S_RESOLVE_TLS_STARTTLS)
    REASON(r, "STARTTLS not offered: the server does not encrypt "
              "server-to-server streams");
  else if (tls && !xs2s_stanza_find_child(tls, "required", XS2S_NS_TLS))
    NOTE(r, "STARTTLS is offered but not required: the server also "
            "accepts unencrypted streams");
  const xs2s_stanza *last =
      r->features_tls ? r->features_tls : r->features_plain;
  if (last && r->phase == PROBE_PHASE_DONE &&
      !(xs2s_dialback_feature_parse(last) & XS2S_DIALBACK_FEATURE_OFFERED))
    NOTE(r, "dialback not advertised: servers without a certificate valid "
            "for their own domain may be unable to authenticate to it");
}

void probe_judge(const probe_options *o, probe_report *r, uint64_t wall_ms) {
  if (r->connected < 0) {
    r->verdict = PROBE_UNREACHABLE;
    judge_connect(o, r);
    return;
  }
  if (!r->stream_id) {
    r->verdict = PROBE_UNREACHABLE;
    judge_no_stream(o, r);
    return;
  }
  judge_features(r);
  if (r->tls_established)
    judge_certificate(o, r, wall_ms);
  if (r->phase != PROBE_PHASE_DONE)
    judge_end(o, r);
  int secure = r->tls_established && r->verified &&
               r->verify.authenticated && r->features_tls;
  r->verdict = secure ? PROBE_SECURE : PROBE_INSECURE;
  if (!secure && r->nreasons == 0)
    REASON(r, "no authenticated TLS stream");
}
