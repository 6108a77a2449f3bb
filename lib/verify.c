/*
 * verify.c: did the peer prove a domain? PKIX chain, names, DANE.
 *
 * GnuTLS checks signatures, CA constraints, CRLs and key purpose; dates
 * are checked here against the caller's time (GnuTLS would read the
 * clock), over the certificates GnuTLS would check: the presented path up
 * to the first one issued by a trust anchor.
 */
#include <string.h>

#include "alloc.h"
#include "tls_int.h"

static const unsigned verify_flags =
    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;

/* Whether a trust anchor in @tl issued @crt. */
static int issued_by_anchor(gnutls_x509_trust_list_t tl,
                            gnutls_x509_crt_t crt) {
  gnutls_x509_crt_t issuer;
  if (gnutls_x509_trust_list_get_issuer(tl, crt, &issuer,
                                        GNUTLS_TL_GET_COPY) < 0)
    return 0;
  gnutls_x509_crt_deinit(issuer);
  return 1;
}

/* How many leading certificates of @crts form a path (each issued by the
 * next one). */
static size_t path_length(gnutls_x509_crt_t *crts, size_t n) {
  size_t k = 1;
  while (k < n && gnutls_x509_crt_check_issuer(crts[k - 1], crts[k]))
    k++;
  return k;
}

static xs2s_tls_chain_status check_dates(gnutls_x509_trust_list_t tl,
                                         gnutls_x509_crt_t *crts, size_t n,
                                         time_t now) {
  size_t k = path_length(crts, n);
  for (size_t i = 0; i < k; i++) {
    if (now < gnutls_x509_crt_get_activation_time(crts[i]))
      return XS2S_TLS_CHAIN_NOT_YET_VALID;
    if (now > gnutls_x509_crt_get_expiration_time(crts[i]))
      return XS2S_TLS_CHAIN_EXPIRED;
    if (issued_by_anchor(tl, crts[i]))
      break;
  }
  return XS2S_TLS_CHAIN_TRUSTED;
}

static int pkix_status(gnutls_x509_trust_list_t tl, gnutls_x509_crt_t *crts,
                       size_t n, const char *purpose, unsigned *status) {
  gnutls_typed_vdata_st vdata = {GNUTLS_DT_KEY_PURPOSE_OID,
                                 (unsigned char *)purpose, 0};
  return gnutls_x509_trust_list_verify_crt2(tl, crts, (unsigned)n, &vdata, 1,
                                            verify_flags, status, NULL);
}

/* The PKIX verdict on @crts against @tl. @role is ours: when we are
 * RECEIVING, the peer initiated and acted as TLS client, and either
 * serverAuth or clientAuth will do — public CAs stopped issuing clientAuth
 * in 2026, and S2S peers use their server certificate in both
 * directions. */
static xs2s_tls_chain_status chain_status(gnutls_x509_trust_list_t tl,
                                          gnutls_x509_crt_t *crts, size_t n,
                                          xs2s_tls_role role, time_t now) {
  unsigned status = 0;
  if (pkix_status(tl, crts, n, GNUTLS_KP_TLS_WWW_SERVER, &status) < 0)
    return XS2S_TLS_CHAIN_INVALID;
  if ((status & GNUTLS_CERT_PURPOSE_MISMATCH) &&
      role == XS2S_TLS_RECEIVING &&
      pkix_status(tl, crts, n, GNUTLS_KP_TLS_WWW_CLIENT, &status) < 0)
    return XS2S_TLS_CHAIN_INVALID;
  if (!(status & GNUTLS_CERT_INVALID))
    return check_dates(tl, crts, n, now);
  if (status & GNUTLS_CERT_REVOKED)
    return XS2S_TLS_CHAIN_REVOKED;
  if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
    return n == 1 && gnutls_x509_crt_check_issuer(crts[0], crts[0])
               ? XS2S_TLS_CHAIN_SELF_SIGNED
               : XS2S_TLS_CHAIN_UNKNOWN_CA;
  if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
    return XS2S_TLS_CHAIN_BAD_PURPOSE;
  if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
    return XS2S_TLS_CHAIN_INSECURE;
  return XS2S_TLS_CHAIN_INVALID;
}

/* DANE-TA: with crts[ta] as the only trust anchor, is crts[0..ta) a valid
 * chain? 1, 0 or a negative error. */
static int dane_ta_chain(xs2s_tls *t, size_t ta, time_t now) {
  gnutls_x509_trust_list_t tl;
  gnutls_x509_crt_t anchor;
  gnutls_datum_t der = {NULL, 0};
  if (gnutls_x509_trust_list_init(&tl, 0) < 0)
    return XS2S_ERR_NOMEM;
  int rc = XS2S_ERR_TLS;
  if (gnutls_x509_crt_export2(t->peer[ta], GNUTLS_X509_FMT_DER, &der) == 0 &&
      gnutls_x509_crt_init(&anchor) == 0) {
    if (gnutls_x509_crt_import(anchor, &der, GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_trust_list_add_cas(tl, &anchor, 1, 0) == 1)
      rc = chain_status(tl, t->peer, ta, t->role, now) ==
           XS2S_TLS_CHAIN_TRUSTED;
    else
      gnutls_x509_crt_deinit(anchor);
  }
  gnutls_free(der.data);
  gnutls_x509_trust_list_deinit(tl, 1);
  return rc;
}

/* PKIX-TA: does @rec match a CA of the validated path (presented or the
 * anchor that issued it)? */
static int pkix_ta_match(xs2s_tls *t, gnutls_x509_trust_list_t tl,
                         const xs2s_tlsa *rec) {
  size_t k = path_length(t->peer, t->peer_count);
  for (size_t i = 1; i < k; i++) {
    int m = xs2s__tlsa_match(rec, t->peer[i]);
    if (m != 0)
      return m;
  }
  gnutls_x509_crt_t anchor;
  if (gnutls_x509_trust_list_get_issuer(tl, t->peer[k - 1], &anchor,
                                        GNUTLS_TL_GET_COPY) < 0)
    return 0;
  int m = xs2s__tlsa_match(rec, anchor);
  gnutls_x509_crt_deinit(anchor);
  return m;
}

/* Whether @rec is satisfied (1), not (0), or an error (< 0). */
static int dane_satisfied(xs2s_tls *t, gnutls_x509_trust_list_t tl,
                          const xs2s_tlsa *rec,
                          const xs2s_tls_verify_result *r, time_t now) {
  int pkix_ok = r->chain == XS2S_TLS_CHAIN_TRUSTED &&
                r->name != XS2S_TLS_MATCH_NONE;
  switch (rec->usage) {
  case 0: /* PKIX-TA */
    return pkix_ok ? pkix_ta_match(t, tl, rec) : 0;
  case 1: /* PKIX-EE */
    return pkix_ok ? xs2s__tlsa_match(rec, t->peer[0]) : 0;
  case 2: /* DANE-TA: the name still has to match */
    if (r->name == XS2S_TLS_MATCH_NONE)
      return 0;
    for (size_t i = 1; i < t->peer_count; i++) {
      int m = xs2s__tlsa_match(rec, t->peer[i]);
      if (m != 0)
        m = m < 0 ? m : dane_ta_chain(t, i, now);
      if (m != 0)
        return m;
    }
    return 0;
  case 3: /* DANE-EE: the key is the identity */
    return xs2s__tlsa_match(rec, t->peer[0]);
  default:
    return 0;
  }
}

static int verify_loaded(xs2s_tls *t, const char *norm, const xs2s_tlsa *tlsa,
                         size_t tlsa_count, uint64_t now_ms,
                         xs2s_tls_verify_result *result);

int xs2s_tls_verify_peer(xs2s_tls *t, const char *domain,
                         const xs2s_tlsa *tlsa, size_t tlsa_count,
                         uint64_t now_ms, xs2s_tls_verify_result *result) {
  if (!t || !result || (!tlsa && tlsa_count > 0))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!t->established)
    return XS2S_ERR_BAD_STATE;
  char norm[XS2S__DOMAIN_MAX + 1];
  int rc = xs2s__domain_normalize_host(domain, norm);
  if (rc < 0)
    return rc;
  if ((rc = xs2s__tls_load_peer(t)) < 0)
    return rc;
  rc = verify_loaded(t, norm, tlsa, tlsa_count, now_ms, result);
  xs2s__tls_drop_peer(t); /* decoded again if ever needed */
  return rc;
}

/* xs2s_tls_verify_peer() with the chain decoded. */
static int verify_loaded(xs2s_tls *t, const char *norm, const xs2s_tlsa *tlsa,
                         size_t tlsa_count, uint64_t now_ms,
                         xs2s_tls_verify_result *result) {
  int rc;
  xs2s_tls_verify_result r;
  memset(&r, 0, sizeof(r));
  r.chain = XS2S_TLS_CHAIN_NO_CERT;
  r.dane_usage = -1;
  time_t now = (time_t)(now_ms / 1000);
  gnutls_x509_trust_list_t tl;
  gnutls_certificate_get_trust_list(t->creds->cred, &tl);
  if (t->peer_count > 0) {
    r.chain = chain_status(tl, t->peer, t->peer_count, t->role, now);
    r.name = xs2s__match_names(t->peer_info.names, t->peer_info.name_count,
                               norm);
  }

  int usable = 0;
  for (size_t i = 0; i < tlsa_count && r.dane != XS2S_TLS_DANE_MATCH; i++) {
    if (!xs2s__tlsa_usable(&tlsa[i]))
      continue;
    usable = 1;
    if (t->peer_count == 0)
      break;
    int m = dane_satisfied(t, tl, &tlsa[i], &r, now);
    if (m < 0)
      return m;
    if (m) {
      r.dane = XS2S_TLS_DANE_MATCH;
      r.dane_usage = tlsa[i].usage;
    }
  }

  if (r.dane == XS2S_TLS_DANE_MATCH) {
    if (r.name == XS2S_TLS_MATCH_NONE)
      r.name = XS2S_TLS_MATCH_DANE;
    r.authenticated = 1;
    rc = 0;
  } else if (usable) {
    r.dane = XS2S_TLS_DANE_MISMATCH;
    rc = XS2S_ERR_DANE_MISMATCH;
  } else if (r.chain != XS2S_TLS_CHAIN_TRUSTED) {
    rc = XS2S_ERR_CERT_UNTRUSTED;
  } else if (r.name == XS2S_TLS_MATCH_NONE) {
    rc = XS2S_ERR_CERT_NAME_MISMATCH;
  } else {
    r.authenticated = 1;
    rc = 0;
  }
  *result = r;
  return rc;
}

const char *xs2s_tls_chain_status_name(int status) {
  switch (status) {
  case XS2S_TLS_CHAIN_TRUSTED:
    return "trusted";
  case XS2S_TLS_CHAIN_NO_CERT:
    return "no-certificate";
  case XS2S_TLS_CHAIN_REVOKED:
    return "revoked";
  case XS2S_TLS_CHAIN_SELF_SIGNED:
    return "self-signed";
  case XS2S_TLS_CHAIN_UNKNOWN_CA:
    return "unknown-ca";
  case XS2S_TLS_CHAIN_BAD_PURPOSE:
    return "bad-purpose";
  case XS2S_TLS_CHAIN_INSECURE:
    return "insecure-algorithm";
  case XS2S_TLS_CHAIN_EXPIRED:
    return "expired";
  case XS2S_TLS_CHAIN_NOT_YET_VALID:
    return "not-yet-valid";
  case XS2S_TLS_CHAIN_INVALID:
    return "invalid";
  }
  return "unknown";
}
