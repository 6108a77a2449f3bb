/*
 * fuzz_creds.h: TLS credentials for fuzz targets, made in memory with
 * GnuTLS at first use: one self-signed ECDSA P-256 certificate naming
 * a.example and b.example, which is also the only trust anchor. So both
 * ends of a fuzzed stream can complete a handshake and prove their domain
 * by certificate, with no files beside the target.
 */
#ifndef XS2S_FUZZ_CREDS_H
#define XS2S_FUZZ_CREDS_H

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <xs2s/tls.h>

#include "fuzz_check.h"

/* Wall-clock time the certificate is valid around (ms since the epoch). */
#define FUZZ_WALL_CLOCK_MS 1700000000000ull

static xs2s_tls_creds *fuzz_creds_made;

static void fuzz_creds_release(void) {
  xs2s_tls_creds_unref(fuzz_creds_made);
  fuzz_creds_made = NULL;
}

/* The trust anchor goes through a file: that is the API's only way in. */
static void fuzz_creds_trust(xs2s_tls_creds *creds, const gnutls_datum_t *pem) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof(path), "%s/xs2s-fuzz-ca-XXXXXX",
           dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  FUZZ_ASSERT(fd >= 0);
  FUZZ_ASSERT(write(fd, pem->data, pem->size) == (ssize_t)pem->size);
  close(fd);
  int rc = xs2s_tls_creds_add_trust_file(creds, path);
  unlink(path);
  FUZZ_ASSERT(rc == 0);
}

/* The shared credentials (a reference the caller need not drop). */
static xs2s_tls_creds *fuzz_creds(void) {
  if (fuzz_creds_made)
    return fuzz_creds_made;
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  FUZZ_ASSERT(gnutls_x509_privkey_init(&key) == 0);
  FUZZ_ASSERT(gnutls_x509_privkey_generate(
                  key, GNUTLS_PK_ECDSA,
                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_init(&crt) == 0);
  time_t now = (time_t)(FUZZ_WALL_CLOCK_MS / 1000);
  unsigned char serial[] = {0x01};
  static const char *const names[] = {"a.example", "b.example"};
  FUZZ_ASSERT(gnutls_x509_crt_set_version(crt, 3) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_set_activation_time(crt, now - 86400) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_set_expiration_time(crt, now + 3650 * 86400) ==
              0);
  FUZZ_ASSERT(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
                                            0, names[0], 9) == 0);
  for (int i = 0; i < 2; i++)
    FUZZ_ASSERT(gnutls_x509_crt_set_subject_alt_name(
                    crt, GNUTLS_SAN_DNSNAME, names[i], 9,
                    GNUTLS_FSAN_APPEND) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_set_basic_constraints(crt, 1, -1) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_set_key_usage(
                  crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                           GNUTLS_KEY_KEY_CERT_SIGN) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_set_key(crt, key) == 0);
  FUZZ_ASSERT(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) == 0);
  gnutls_datum_t cert_pem, key_pem;
  FUZZ_ASSERT(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem) ==
              0);
  FUZZ_ASSERT(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM,
                                          &key_pem) == 0);
  xs2s_tls_creds *creds = xs2s_tls_creds_new(NULL);
  FUZZ_ASSERT(creds != NULL);
  FUZZ_ASSERT(xs2s_tls_creds_add_cert_mem(creds, NULL, (char *)cert_pem.data,
                                          cert_pem.size, (char *)key_pem.data,
                                          key_pem.size) == 0);
  fuzz_creds_trust(creds, &cert_pem);
  gnutls_free(cert_pem.data);
  gnutls_free(key_pem.data);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(key);
  fuzz_creds_made = creds;
  atexit(fuzz_creds_release);
  return creds;
}

#endif /* XS2S_FUZZ_CREDS_H */
