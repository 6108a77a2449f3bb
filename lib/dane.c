/*
 * dane.c: does a certificate match a TLSA record? (RFC 6698 section 2.1).
 *
 * Only the selector and matching type are applied here; what a match of
 * each usage means is decided in verify.c.
 */
#include <gnutls/crypto.h>
#include <string.h>

#include "tls_int.h"

int xs2s__tlsa_usable(const xs2s_tlsa *rec) {
  if (rec->usage > 3 || rec->selector > 1 || !rec->data)
    return 0;
  switch (rec->matching_type) {
  case 0:
    return rec->data_len > 0;
  case 1:
    return rec->data_len == 32;
  case 2:
    return rec->data_len == 64;
  default:
    return 0;
  }
}

/* The bytes the selector picks: the whole DER certificate, or its DER
 * SubjectPublicKeyInfo. Allocated by GnuTLS. */
static int selected_bytes(gnutls_x509_crt_t crt, uint8_t selector,
                          gnutls_datum_t *out) {
  if (selector == 0)
    return gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, out) < 0
               ? XS2S_ERR_TLS
               : 0;
  gnutls_pubkey_t pub;
  if (gnutls_pubkey_init(&pub) < 0)
    return XS2S_ERR_NOMEM;
  int rc = 0;
  if (gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
      gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out) < 0)
    rc = XS2S_ERR_TLS;
  gnutls_pubkey_deinit(pub);
  return rc;
}

int xs2s__tlsa_match(const xs2s_tlsa *rec, gnutls_x509_crt_t crt) {
  gnutls_datum_t sel = {NULL, 0};
  int rc = selected_bytes(crt, rec->selector, &sel);
  if (rc < 0)
    return rc;
  unsigned char digest[64];
  const unsigned char *cmp = sel.data;
  size_t cmp_len = sel.size;
  if (rec->matching_type != 0) {
    gnutls_digest_algorithm_t alg =
        rec->matching_type == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512;
    if (gnutls_hash_fast(alg, sel.data, sel.size, digest) < 0)
      rc = XS2S_ERR_TLS;
    cmp = digest;
    cmp_len = gnutls_hash_get_len(alg);
  }
  if (rc == 0)
    rc = cmp_len == rec->data_len && memcmp(cmp, rec->data, cmp_len) == 0;
  gnutls_free(sel.data);
  return rc;
}
