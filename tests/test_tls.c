/*
 * test_tls.c: two xs2s_tls sessions joined through memory: handshakes,
 * data, SNI, ALPN, every verification outcome of the test certificates,
 * DANE, close.
 *
 * Usage: test_tls CERTS_DIR (made by tests/data/make-certs.sh).
 */
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xs2s/tls.h>

#include "check.h"
#include "tls_int.h" /* the GnuTLS session, to send a KeyUpdate */

static const char *certs_dir;
static uint64_t now_ms;

static const char *path(const char *name) {
  static char buf[4][1024];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof(buf[i]), "%s/%s", certs_dir, name);
  return buf[i];
}

/* Credentials with the certificate NAME.pem/NAME.key (NULL for none)
 * serving @domain, trusting the test CA when @trust. */
static xs2s_tls_creds *creds_with(const char *name, const char *domain,
                                  int trust) {
  xs2s_tls_creds *c = xs2s_tls_creds_new(NULL);
  CHECK(c != NULL);
  if (name) {
    char cert[256], key[256];
    snprintf(cert, sizeof(cert), "%s.pem", name);
    snprintf(key, sizeof(key), "%s.key", name);
    int rc = xs2s_tls_creds_add_cert_file(c, domain, path(cert), path(key));
    CHECK_INT(rc, 0);
  }
  if (trust)
    CHECK_INT(xs2s_tls_creds_add_trust_file(c, path("ca.pem")), 0);
  return c;
}

/* Moves all pending output of @from into @to; returns the bytes moved. */
static size_t move(xs2s_tls *from, xs2s_tls *to) {
  size_t len;
  const void *p = xs2s_tls_output(from, &len);
  if (len > 0) {
    CHECK_INT(xs2s_tls_feed(to, p, len), 0);
    xs2s_tls_output_consume(from, len);
  }
  return len;
}

/* Like move() but one byte per feed, with a handshake step after each. */
static void move_bytewise(xs2s_tls *from, xs2s_tls *to, int *to_rc) {
  size_t len;
  const unsigned char *p = xs2s_tls_output(from, &len);
  for (size_t i = 0; i < len && *to_rc == XS2S_TLS_AGAIN; i++) {
    CHECK_INT(xs2s_tls_feed(to, p + i, 1), 0);
    *to_rc = xs2s_tls_handshake(to);
  }
  xs2s_tls_output_consume(from, len);
}

typedef struct pair {
  xs2s_tls *c; /* initiating */
  xs2s_tls *s; /* receiving */
  int crc, src;
} pair;

/* Runs the handshake between @p->c and @p->s to its end. */
static void handshake(pair *p, int bytewise) {
  p->crc = p->src = XS2S_TLS_AGAIN;
  for (int round = 0; round < 20; round++) {
    if (p->crc == XS2S_TLS_AGAIN)
      p->crc = xs2s_tls_handshake(p->c);
    if (bytewise)
      move_bytewise(p->c, p->s, &p->src);
    else
      move(p->c, p->s);
    if (p->src == XS2S_TLS_AGAIN)
      p->src = xs2s_tls_handshake(p->s);
    size_t moved = move(p->s, p->c);
    if (p->crc != XS2S_TLS_AGAIN && p->src != XS2S_TLS_AGAIN && moved == 0)
      return;
    if (p->crc < 0 && p->src < 0)
      return;
  }
  CHECK(!"handshake did not finish in 20 rounds");
}

static void pair_open(pair *p, xs2s_tls_creds *ccreds, xs2s_tls_creds *screds,
                      const char *remote, const char *local, unsigned cflags,
                      unsigned sflags) {
  xs2s_tls_options co = {remote, local, cflags};
  xs2s_tls_options so = {NULL, NULL, sflags};
  CHECK_INT(xs2s_tls_new(&p->c, ccreds, XS2S_TLS_INITIATING, &co, NULL), 0);
  CHECK_INT(xs2s_tls_new(&p->s, screds, XS2S_TLS_RECEIVING, &so, NULL), 0);
}

static void pair_close(pair *p) {
  xs2s_tls_free(p->c);
  xs2s_tls_free(p->s);
  p->c = p->s = NULL;
}

/* Reads everything @t has buffered into @buf; returns the byte count. */
static size_t read_all(xs2s_tls *t, char *buf, size_t cap) {
  size_t got = 0;
  for (;;) {
    ssize_t n = xs2s_tls_read(t, buf + got, cap - got > 4000 ? 4000 : cap - got);
    if (n <= 0) {
      CHECK_INT(n, 0);
      return got;
    }
    got += (size_t)n;
    if (got == cap)
      return got;
  }
}

/* Counts TLS records in @p and checks that none is larger than a full
 * 16 KiB record plus the largest expansion TLS 1.3 allows (256). */
static size_t count_records(const unsigned char *p, size_t len) {
  size_t n = 0, off = 0;
  while (off + 5 <= len) {
    size_t rlen = ((size_t)p[off + 3] << 8) | p[off + 4];
    CHECK(rlen <= 16384 + 256);
    off += 5 + rlen;
    n++;
  }
  CHECK_INT(off, len);
  return n;
}

static void test_handshake_and_data(void) {
  xs2s_tls_creds *cc = creds_with("b.test", "b.test", 1);
  xs2s_tls_creds *sc = creds_with("a.test", "a.test", 1);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", "b.test", 0, 0);
  /* The sessions hold their own references. */
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
  CHECK(!xs2s_tls_is_established(p.c));
  char buf[64];
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), XS2S_ERR_BAD_STATE);
  CHECK_INT(xs2s_tls_write(p.c, "x", 1), XS2S_ERR_BAD_STATE);
  xs2s_tls_info info;
  CHECK_INT(xs2s_tls_get_info(p.c, &info), XS2S_ERR_BAD_STATE);

  handshake(&p, 0);
  CHECK_INT(p.crc, 0);
  CHECK_INT(p.src, 0);
  CHECK(xs2s_tls_is_established(p.c));
  CHECK(xs2s_tls_is_established(p.s));
  CHECK_INT(xs2s_tls_handshake(p.c), 0); /* and at every later call */

  CHECK_INT(xs2s_tls_get_info(p.s, &info), 0);
  CHECK_STR(info.sni, "a.test");
  CHECK(info.alpn == NULL);
  CHECK_INT(info.peer_cert, 1);
  CHECK(info.version && strncmp(info.version, "TLS1.", 5) == 0);
  CHECK(info.cipher && info.cipher[0]);
  CHECK(info.description && strstr(info.description, info.cipher));
  CHECK_INT(xs2s_tls_get_info(p.c, &info), 0);
  CHECK_STR(info.sni, "a.test");
  CHECK_INT(info.peer_cert, 1);

  /* Small data both ways; several writes end in one output buffer. */
  CHECK_INT(xs2s_tls_write(p.c, "<stream:stream>", 15), 0);
  CHECK_INT(xs2s_tls_write(p.c, "<message/>", 10), 0);
  size_t len;
  const unsigned char *out = xs2s_tls_output(p.c, &len);
  CHECK_INT(count_records(out, len), 2);
  move(p.c, p.s);
  CHECK_INT(read_all(p.s, buf, sizeof(buf)), 25);
  CHECK(memcmp(buf, "<stream:stream><message/>", 25) == 0);
  CHECK_INT(xs2s_tls_write(p.s, "pong", 4), 0);
  move(p.s, p.c);
  CHECK_INT(read_all(p.c, buf, sizeof(buf)), 4);
  CHECK(memcmp(buf, "pong", 4) == 0);
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), 0); /* nothing more */

  /* 100 000 bytes in one write: 7 records of at most 16 KiB. */
  size_t big = 100000;
  char *data = malloc(big), *back = malloc(big);
  for (size_t i = 0; i < big; i++)
    data[i] = (char)('a' + i % 26);
  CHECK_INT(xs2s_tls_write(p.s, data, big), 0);
  out = xs2s_tls_output(p.s, &len);
  CHECK_INT(count_records(out, len), 7);
  CHECK(len > big && len < big + 7 * 64);
  /* Delivered in odd-sized pieces, as a socket would. */
  size_t got = 0;
  for (size_t off = 0; off < len; off += 4999) {
    size_t n = len - off < 4999 ? len - off : 4999;
    CHECK_INT(xs2s_tls_feed(p.c, out + off, n), 0);
    got += read_all(p.c, back + got, big - got);
  }
  xs2s_tls_output_consume(p.s, len);
  CHECK_INT(got, big);
  CHECK(memcmp(data, back, big) == 0);
  /* And the other way. */
  CHECK_INT(xs2s_tls_write(p.c, data, big), 0);
  move(p.c, p.s);
  CHECK_INT(read_all(p.s, back, big), big);
  CHECK(memcmp(data, back, big) == 0);
  free(data);
  free(back);
  pair_close(&p);
}

static void test_handshake_bytewise(void) {
  xs2s_tls_creds *cc = creds_with("b.test", "b.test", 1);
  xs2s_tls_creds *sc = creds_with("a.test", "a.test", 1);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", "b.test", 0, 0);
  handshake(&p, 1);
  CHECK_INT(p.crc, 0);
  CHECK_INT(p.src, 0);
  CHECK_INT(xs2s_tls_write(p.c, "hi", 2), 0);
  move(p.c, p.s);
  char buf[8];
  CHECK_INT(xs2s_tls_read(p.s, buf, sizeof(buf)), 2);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

/* The subject CN of the certificate @p's initiating side received. */
static const char *server_cn(pair *p) {
  const xs2s_tls_cert_info *ci;
  if (xs2s_tls_peer_cert(p->c, &ci) != 0)
    return "(none)";
  for (size_t i = 0; i < ci->name_count; i++)
    if (ci->names[i].type == XS2S_TLS_NAME_CN)
      return ci->names[i].value;
  return "(no CN)";
}

static void test_sni_selection(void) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  xs2s_tls_creds *sc = creds_with("a.test", "a.test", 1);
  CHECK_INT(xs2s_tls_creds_add_cert_file(sc, "b.test", path("b.test.pem"),
                                         path("b.test.key")),
            0);
  /* No domain given: serves the names in the certificate. */
  CHECK_INT(xs2s_tls_creds_add_cert_file(sc, NULL, path("multi.pem"),
                                         path("multi.key")),
            0);
  CHECK_INT(xs2s_tls_creds_add_cert_file(sc, NULL, path("w.test.pem"),
                                         path("w.test.key")),
            0);
  static const struct {
    const char *sni, *cn;
  } cases[] = {
      {"b.test", "b.test"},  {"B.Test.", "b.test"}, {"a.test", "a.test"},
      {"d.test", "c.test"},  {"c.test", "c.test"},  {"x.w.test", "*.w.test"},
      {"zzz.test", "a.test"} /* unknown name: the default */,
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pair p = {0};
    pair_open(&p, cc, sc, cases[i].sni, NULL, 0, 0);
    handshake(&p, 0);
    CHECK_INT(p.crc, 0);
    CHECK_STR(server_cn(&p), cases[i].cn);
    xs2s_tls_info info;
    CHECK_INT(xs2s_tls_get_info(p.s, &info), 0);
    CHECK(info.sni && strcasecmp(info.sni, cases[i].sni[0] == 'B'
                                                ? "b.test"
                                                : cases[i].sni) == 0);
    /* No local domain: the initiating side presented nothing, and the
     * receiving side went on without it (dialback remains possible). */
    CHECK_INT(info.peer_cert, 0);
    const xs2s_tls_cert_info *ci;
    CHECK_INT(xs2s_tls_peer_cert(p.s, &ci), XS2S_ERR_NOT_FOUND);
    xs2s_tls_verify_result r;
    CHECK_INT(xs2s_tls_verify_peer(p.s, "b.test", NULL, 0, now_ms, &r),
              XS2S_ERR_CERT_UNTRUSTED);
    CHECK_INT(r.chain, XS2S_TLS_CHAIN_NO_CERT);
    CHECK_INT(r.authenticated, 0);
    pair_close(&p);
  }
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

static void test_alpn(void) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  xs2s_tls_creds *sc = creds_with("a.test", "a.test", 1);
  static const struct {
    unsigned cflags, sflags;
    int negotiated;
  } cases[] = {{XS2S_TLS_DIRECT, XS2S_TLS_DIRECT, 1},
               {XS2S_TLS_DIRECT, 0, 0},
               {0, XS2S_TLS_DIRECT, 0},
               {0, 0, 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pair p = {0};
    pair_open(&p, cc, sc, "a.test", NULL, cases[i].cflags, cases[i].sflags);
    handshake(&p, 0);
    CHECK_INT(p.crc, 0);
    CHECK_INT(p.src, 0);
    xs2s_tls_info ci, si;
    CHECK_INT(xs2s_tls_get_info(p.c, &ci), 0);
    CHECK_INT(xs2s_tls_get_info(p.s, &si), 0);
    if (cases[i].negotiated) {
      CHECK_STR(ci.alpn, XS2S_TLS_ALPN_XMPP_SERVER);
      CHECK_STR(si.alpn, XS2S_TLS_ALPN_XMPP_SERVER);
    } else {
      CHECK(ci.alpn == NULL);
      CHECK(si.alpn == NULL);
    }
    pair_close(&p);
  }
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

/* The receiving side presents NAME; the initiating side verifies @domain. */
static int verify_server(const char *name, const char *domain, int with_crl,
                         uint64_t when, xs2s_tls_verify_result *r) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  if (with_crl)
    CHECK_INT(xs2s_tls_creds_add_crl_file(cc, path("crl.pem")), 0);
  xs2s_tls_creds *sc = xs2s_tls_creds_new(NULL);
  char cert[256], key[256];
  snprintf(cert, sizeof(cert), "%s.pem", name);
  snprintf(key, sizeof(key), "%s.key", name);
  /* chain.key goes with the whole chain file */
  if (strcmp(name, "chain-chain") == 0)
    snprintf(key, sizeof(key), "chain.key");
  CHECK_INT(xs2s_tls_creds_add_cert_file(sc, NULL, path(cert), path(key)), 0);
  pair p = {0};
  pair_open(&p, cc, sc, domain, NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(p.crc, 0);
  int rc = xs2s_tls_verify_peer(p.c, domain, NULL, 0, when, r);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
  return rc;
}

static void test_verify_outcomes(void) {
  static const struct {
    const char *cert, *domain;
    int crl;
    int rc;
    xs2s_tls_chain_status chain;
    xs2s_tls_name_match name;
  } cases[] = {
      {"a.test", "a.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_DNSNAME},
      {"a.test", "A.TEST.", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_DNSNAME},
      {"a.test", "b.test", 0, XS2S_ERR_CERT_NAME_MISMATCH,
       XS2S_TLS_CHAIN_TRUSTED, XS2S_TLS_MATCH_NONE},
      {"w.test", "x.w.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_WILDCARD},
      {"w.test", "w.test", 0, XS2S_ERR_CERT_NAME_MISMATCH,
       XS2S_TLS_CHAIN_TRUSTED, XS2S_TLS_MATCH_NONE},
      {"w.test", "a.b.w.test", 0, XS2S_ERR_CERT_NAME_MISMATCH,
       XS2S_TLS_CHAIN_TRUSTED, XS2S_TLS_MATCH_NONE},
      {"expired", "expired.test", 0, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_EXPIRED, XS2S_TLS_MATCH_DNSNAME},
      {"future", "future.test", 0, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_NOT_YET_VALID, XS2S_TLS_MATCH_DNSNAME},
      {"self", "self.test", 0, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_SELF_SIGNED, XS2S_TLS_MATCH_DNSNAME},
      {"unknown", "unknown.test", 0, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_UNKNOWN_CA, XS2S_TLS_MATCH_DNSNAME},
      {"revoked", "revoked.test", 1, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_REVOKED, XS2S_TLS_MATCH_DNSNAME},
      {"revoked", "revoked.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_DNSNAME},
      {"a.test", "a.test", 1, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_DNSNAME},
      {"srv", "srv.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_SRVNAME},
      {"xmpp", "xmpp.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_XMPPADDR},
      {"cn", "cn.test", 0, XS2S_ERR_CERT_NAME_MISMATCH,
       XS2S_TLS_CHAIN_TRUSTED, XS2S_TLS_MATCH_NONE},
      {"chain-chain", "chain.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_DNSNAME},
      {"chain", "chain.test", 0, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_UNKNOWN_CA, XS2S_TLS_MATCH_DNSNAME},
      {"serverauth", "serverauth.test", 0, 0, XS2S_TLS_CHAIN_TRUSTED,
       XS2S_TLS_MATCH_DNSNAME},
      /* A receiving server must be fit for serverAuth. */
      {"clientauth", "clientauth.test", 0, XS2S_ERR_CERT_UNTRUSTED,
       XS2S_TLS_CHAIN_BAD_PURPOSE, XS2S_TLS_MATCH_DNSNAME},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    xs2s_tls_verify_result r;
    int rc = verify_server(cases[i].cert, cases[i].domain, cases[i].crl,
                           now_ms, &r);
    if (rc != cases[i].rc || r.chain != cases[i].chain ||
        r.name != cases[i].name)
      fprintf(stderr, "case %zu (%s as %s): rc %s chain %s name %s\n", i,
              cases[i].cert, cases[i].domain, xs2s_error_name(rc),
              xs2s_tls_chain_status_name(r.chain),
              xs2s_tls_name_match_name(r.name));
    CHECK_INT(rc, cases[i].rc);
    CHECK_INT(r.chain, cases[i].chain);
    CHECK_INT(r.name, cases[i].name);
    CHECK_INT(r.authenticated, cases[i].rc == 0);
    CHECK_INT(r.dane, XS2S_TLS_DANE_NONE);
    CHECK_INT(r.dane_usage, -1);
  }
}

static void test_verify_time_is_the_callers(void) {
  xs2s_tls_verify_result r;
  uint64_t year = 366ull * 24 * 3600 * 1000;
  /* a.test is valid for ten years from now... */
  CHECK_INT(verify_server("a.test", "a.test", 0, now_ms + 9 * year, &r), 0);
  CHECK_INT(verify_server("a.test", "a.test", 0, now_ms + 11 * year, &r),
            XS2S_ERR_CERT_UNTRUSTED);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_EXPIRED);
  CHECK_INT(verify_server("a.test", "a.test", 0, now_ms - year, &r),
            XS2S_ERR_CERT_UNTRUSTED);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_NOT_YET_VALID);
  /* ...expired.test was valid 200 days ago, future.test will be. */
  CHECK_INT(verify_server("expired", "expired.test", 0,
                          now_ms - 200ull * 24 * 3600 * 1000, &r),
            0);
  CHECK_INT(verify_server("future", "future.test", 0, now_ms + 15 * year, &r),
            0);
}

/* The initiating side presents NAME for its local domain; the receiving
 * side verifies it. */
static int verify_client(const char *name, const char *domain,
                         xs2s_tls_verify_result *r) {
  xs2s_tls_creds *cc = creds_with(name, domain, 1);
  xs2s_tls_creds *sc = creds_with("a.test", "a.test", 1);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", domain, 0, 0);
  handshake(&p, 0);
  CHECK_INT(p.crc, 0);
  CHECK_INT(p.src, 0);
  int rc = xs2s_tls_verify_peer(p.s, domain, NULL, 0, now_ms, r);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
  return rc;
}

static void test_initiating_peer_certificates(void) {
  xs2s_tls_verify_result r;
  /* serverAuth only, as public CAs issue since 2026: accepted. */
  CHECK_INT(verify_client("serverauth", "serverauth.test", &r), 0);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_TRUSTED);
  CHECK_INT(r.name, XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(r.authenticated, 1);
  CHECK_INT(verify_client("clientauth", "clientauth.test", &r), 0);
  CHECK_INT(verify_client("b.test", "b.test", &r), 0);
  CHECK_INT(verify_client("xmpp", "xmpp.test", &r), 0);
  CHECK_INT(r.name, XS2S_TLS_MATCH_XMPPADDR);
  /* A certificate for another domain does not prove this one. */
  CHECK_INT(verify_client("b.test", "a.test", &r),
            XS2S_ERR_CERT_NAME_MISMATCH);
  CHECK_INT(verify_client("self", "self.test", &r), XS2S_ERR_CERT_UNTRUSTED);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_SELF_SIGNED);
}

/* TLSA association data for @file by @selector / @matching (RFC 6698). */
static size_t tlsa_data(const char *file, int selector, int matching,
                        unsigned char *out, size_t cap) {
  gnutls_datum_t pem, der = {NULL, 0};
  gnutls_x509_crt_t crt;
  CHECK_INT(gnutls_load_file(path(file), &pem), 0);
  gnutls_x509_crt_init(&crt);
  CHECK_INT(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
  if (selector == 0) {
    CHECK_INT(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), 0);
  } else {
    gnutls_pubkey_t pub;
    gnutls_pubkey_init(&pub);
    CHECK_INT(gnutls_pubkey_import_x509(pub, crt, 0), 0);
    CHECK_INT(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_pubkey_deinit(pub);
  }
  size_t n = 0;
  if (matching == 0) {
    n = der.size <= cap ? der.size : 0;
    memcpy(out, der.data, n);
  } else {
    gnutls_digest_algorithm_t alg =
        matching == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512;
    gnutls_hash_fast(alg, der.data, der.size, out);
    n = gnutls_hash_get_len(alg);
  }
  gnutls_free(der.data);
  gnutls_free(pem.data);
  gnutls_x509_crt_deinit(crt);
  return n;
}

/* The receiving side presents CERT (key KEY); the initiating side, with or
 * without trust in the test CA, checks @domain against one TLSA record
 * made from FROM. */
static int verify_dane(const char *cert, const char *key, int trust,
                       const char *domain, int usage, int selector,
                       int matching, const char *from,
                       xs2s_tls_verify_result *r) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, trust);
  xs2s_tls_creds *sc = xs2s_tls_creds_new(NULL);
  CHECK_INT(xs2s_tls_creds_add_cert_file(sc, NULL, path(cert), path(key)), 0);
  pair p = {0};
  pair_open(&p, cc, sc, domain, NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(p.crc, 0);
  unsigned char data[4096];
  xs2s_tlsa rec = {(uint8_t)usage, (uint8_t)selector, (uint8_t)matching, data,
                   tlsa_data(from, selector, matching, data, sizeof(data))};
  int rc = xs2s_tls_verify_peer(p.c, domain, &rec, 1, now_ms, r);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
  return rc;
}

static void test_dane(void) {
  xs2s_tls_verify_result r;
  /* DANE-EE authenticates without any CA and whatever the names. */
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 0, "a.test", 3, 1, 1,
                        "a.test.pem", &r),
            0);
  CHECK_INT(r.authenticated, 1);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_UNKNOWN_CA);
  CHECK_INT(r.name, XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(r.dane, XS2S_TLS_DANE_MATCH);
  CHECK_INT(r.dane_usage, 3);
  CHECK_INT(verify_dane("self.pem", "self.key", 0, "other.test", 3, 1, 1,
                        "self.pem", &r),
            0);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_SELF_SIGNED);
  CHECK_INT(r.name, XS2S_TLS_MATCH_DANE);
  CHECK_INT(verify_dane("expired.pem", "expired.key", 1, "expired.test", 3, 0,
                        0, "expired.pem", &r),
            0);
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 0, "a.test", 3, 0, 2,
                        "a.test.pem", &r),
            0);
  /* A mismatch fails closed, even with a trusted chain and a good name. */
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 1, "a.test", 3, 1, 1,
                        "b.test.pem", &r),
            XS2S_ERR_DANE_MISMATCH);
  CHECK_INT(r.authenticated, 0);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_TRUSTED);
  CHECK_INT(r.name, XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(r.dane, XS2S_TLS_DANE_MISMATCH);
  CHECK_INT(r.dane_usage, -1);

  /* DANE-TA: a CA of the presented chain is the anchor; names count. */
  CHECK_INT(verify_dane("chain-chain.pem", "chain.key", 0, "chain.test", 2, 0,
                        1, "inter.pem", &r),
            0);
  CHECK_INT(r.dane_usage, 2);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_UNKNOWN_CA);
  CHECK_INT(verify_dane("chain-chain.pem", "chain.key", 0, "chain.test", 2, 1,
                        1, "ca.pem", &r),
            0);
  CHECK_INT(verify_dane("chain-chain.pem", "chain.key", 0, "other.test", 2, 0,
                        1, "inter.pem", &r),
            XS2S_ERR_DANE_MISMATCH);
  CHECK_INT(verify_dane("chain-chain.pem", "chain.key", 0, "chain.test", 2, 0,
                        1, "unknown-ca.pem", &r),
            XS2S_ERR_DANE_MISMATCH);

  /* PKIX-EE and PKIX-TA also need the public chain and the name. */
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 1, "a.test", 1, 1, 1,
                        "a.test.pem", &r),
            0);
  CHECK_INT(r.dane_usage, 1);
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 0, "a.test", 1, 1, 1,
                        "a.test.pem", &r),
            XS2S_ERR_DANE_MISMATCH);
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 1, "b.test", 1, 1, 1,
                        "a.test.pem", &r),
            XS2S_ERR_DANE_MISMATCH);
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 1, "a.test", 0, 0, 1,
                        "ca.pem", &r),
            0); /* the anchor was not sent: found in the trust store */
  CHECK_INT(r.dane_usage, 0);
  CHECK_INT(verify_dane("chain-chain.pem", "chain.key", 1, "chain.test", 0, 1,
                        2, "inter.pem", &r),
            0);
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 1, "a.test", 0, 0, 1,
                        "unknown-ca.pem", &r),
            XS2S_ERR_DANE_MISMATCH);

  /* Unusable records are ignored: PKIX decides alone. */
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 1, "a.test", 4, 1, 1,
                        "b.test.pem", &r),
            0);
  CHECK_INT(r.dane, XS2S_TLS_DANE_NONE);
  CHECK_INT(verify_dane("a.test.pem", "a.test.key", 0, "a.test", 3, 2, 1,
                        "a.test.pem", &r),
            XS2S_ERR_CERT_UNTRUSTED);
  CHECK_INT(r.dane, XS2S_TLS_DANE_NONE);
}

static void test_dane_several_records(void) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 0);
  xs2s_tls_creds *sc = creds_with("a.test", NULL, 0);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", NULL, 0, 0);
  handshake(&p, 0);
  unsigned char wrong[32], right[32], junk[5] = {1, 2, 3, 4, 5};
  tlsa_data("b.test.pem", 1, 1, wrong, sizeof(wrong));
  tlsa_data("a.test.pem", 1, 1, right, sizeof(right));
  xs2s_tlsa recs[] = {{3, 1, 1, wrong, 32}, {3, 1, 1, junk, 5},
                      {3, 1, 1, right, 32}};
  xs2s_tls_verify_result r;
  CHECK_INT(xs2s_tls_verify_peer(p.c, "a.test", recs, 3, now_ms, &r), 0);
  CHECK_INT(r.dane_usage, 3);
  CHECK_INT(xs2s_tls_verify_peer(p.c, "a.test", recs, 2, now_ms, &r),
            XS2S_ERR_DANE_MISMATCH);
  CHECK_INT(xs2s_tls_verify_peer(p.c, "a.test", recs + 1, 1, now_ms, &r),
            XS2S_ERR_CERT_UNTRUSTED);
  CHECK_INT(xs2s_tls_verify_peer(p.c, "a.test", NULL, 1, now_ms, &r),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_verify_peer(p.c, "bad domain", NULL, 0, now_ms, &r),
            XS2S_ERR_INVALID_ARGUMENT);
  /* With no peer certificate, TLSA records cannot be satisfied. */
  CHECK_INT(xs2s_tls_verify_peer(p.s, "b.test", recs, 3, now_ms, &r),
            XS2S_ERR_DANE_MISMATCH);
  CHECK_INT(r.chain, XS2S_TLS_CHAIN_NO_CERT);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

static void test_peer_cert_details(void) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  xs2s_tls_creds *sc = xs2s_tls_creds_new(NULL);
  CHECK_INT(xs2s_tls_creds_add_cert_file(sc, NULL, path("chain-chain.pem"),
                                         path("chain.key")),
            0);
  pair p = {0};
  pair_open(&p, cc, sc, "chain.test", NULL, 0, 0);
  const xs2s_tls_cert_info *ci = NULL;
  CHECK_INT(xs2s_tls_peer_cert(p.c, &ci), XS2S_ERR_BAD_STATE);
  handshake(&p, 0);
  CHECK_INT(xs2s_tls_peer_cert(p.c, &ci), 0);
  CHECK(ci != NULL);
  if (ci) {
    CHECK(strstr(ci->subject, "CN=chain.test") != NULL);
    CHECK(strstr(ci->issuer, "CN=xs2s test intermediate") != NULL);
    CHECK_INT(strlen(ci->sha256), 64);
    CHECK(strlen(ci->serial) > 0);
    CHECK_INT(ci->chain_length, 3);
    CHECK(ci->not_before <= (int64_t)(now_ms / 1000));
    CHECK(ci->not_after > (int64_t)(now_ms / 1000) + 9 * 365 * 24 * 3600);
    CHECK_INT(ci->name_count, 2);
    if (ci->name_count == 2) {
      CHECK_INT(ci->names[0].type, XS2S_TLS_NAME_DNS);
      CHECK_STR(ci->names[0].value, "chain.test");
      CHECK_INT(ci->names[1].type, XS2S_TLS_NAME_CN);
      CHECK_STR(ci->names[1].value, "chain.test");
    }
  }
  pair_close(&p);
  xs2s_tls_creds_unref(sc);
  sc = creds_with("srv", NULL, 0);
  pair_open(&p, cc, sc, "srv.test", NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(xs2s_tls_peer_cert(p.c, &ci), 0);
  if (ci && ci->name_count >= 1) {
    CHECK_INT(ci->names[0].type, XS2S_TLS_NAME_SRV);
    CHECK_STR(ci->names[0].value, "_xmpp-server.srv.test");
  }
  pair_close(&p);
  xs2s_tls_creds_unref(sc);
  xs2s_tls_creds_unref(cc);
}

/* Handshake messages after the handshake (TLS 1.3 KeyUpdate here; OpenSSL
 * servers such as Prosody's send NewSessionTickets) followed by data in the
 * same input: the first read returns the data, not "feed more". */
static void test_post_handshake_messages(void) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  xs2s_tls_creds *sc = creds_with("a.test", NULL, 1);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(gnutls_protocol_get_version(p.s->session), GNUTLS_TLS1_3);
  CHECK_INT(gnutls_session_key_update(p.s->session, 0), 0);
  CHECK_INT(gnutls_session_key_update(p.s->session, 0), 0);
  CHECK_INT(xs2s_tls_write(p.s, "after", 5), 0);
  CHECK(move(p.s, p.c) > 0);
  char buf[16];
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), 5);
  CHECK(memcmp(buf, "after", 5) == 0);
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), 0);
  /* Nothing behind it: "feed more", not a spin. */
  CHECK_INT(gnutls_session_key_update(p.s->session, 0), 0);
  CHECK(move(p.s, p.c) > 0);
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), 0);
  CHECK_INT(xs2s_tls_write(p.s, "again", 5), 0);
  move(p.s, p.c);
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), 5);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

static void test_bye(void) {
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  xs2s_tls_creds *sc = creds_with("a.test", NULL, 1);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(xs2s_tls_write(p.c, "last", 4), 0);
  CHECK_INT(xs2s_tls_bye(p.c), 0);
  CHECK_INT(xs2s_tls_bye(p.c), 0); /* no-op */
  CHECK_INT(xs2s_tls_write(p.c, "more", 4), XS2S_ERR_BAD_STATE);
  CHECK(move(p.c, p.s) > 0);
  char buf[16];
  CHECK_INT(xs2s_tls_read(p.s, buf, sizeof(buf)), 4);
  CHECK_INT(xs2s_tls_read(p.s, buf, sizeof(buf)), XS2S_ERR_TLS_PEER_CLOSED);
  CHECK_INT(xs2s_tls_read(p.s, buf, sizeof(buf)), XS2S_ERR_TLS_PEER_CLOSED);
  CHECK_INT(xs2s_tls_feed(p.s, "x", 1), XS2S_ERR_STREAM_CLOSED);
  /* The other direction stays open until the receiving side closes it. */
  CHECK_INT(xs2s_tls_write(p.s, "reply", 5), 0);
  CHECK_INT(xs2s_tls_bye(p.s), 0);
  move(p.s, p.c);
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), 5);
  CHECK_INT(xs2s_tls_read(p.c, buf, sizeof(buf)), XS2S_ERR_TLS_PEER_CLOSED);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

static void test_handshake_failures(void) {
  /* No common protocol version. */
  xs2s_tls_creds *cc = creds_with(NULL, NULL, 1);
  xs2s_tls_creds *sc = creds_with("a.test", NULL, 1);
  CHECK_INT(xs2s_tls_creds_set_priority(cc, "NORMAL:-VERS-ALL:+VERS-TLS1.3"),
            0);
  CHECK_INT(xs2s_tls_creds_set_priority(sc, "NORMAL:-VERS-ALL:+VERS-TLS1.2"),
            0);
  pair p = {0};
  pair_open(&p, cc, sc, "a.test", NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(p.src, XS2S_ERR_TLS_HANDSHAKE);
  CHECK_INT(p.crc, XS2S_ERR_TLS_HANDSHAKE);
  CHECK(xs2s_tls_error_detail(p.s)[0] != '\0');
  CHECK(strstr(xs2s_tls_error_detail(p.c), "alert") != NULL);
  CHECK(!xs2s_tls_is_established(p.c));
  CHECK_INT(xs2s_tls_handshake(p.c), XS2S_ERR_TLS_HANDSHAKE);
  CHECK_INT(xs2s_tls_feed(p.c, "x", 1), XS2S_ERR_STREAM_CLOSED);
  pair_close(&p);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);

  /* A receiving side without any certificate cannot complete. */
  cc = creds_with(NULL, NULL, 1);
  sc = creds_with(NULL, NULL, 1);
  pair_open(&p, cc, sc, "a.test", NULL, 0, 0);
  handshake(&p, 0);
  CHECK_INT(p.src, XS2S_ERR_TLS_HANDSHAKE);
  CHECK_INT(p.crc, XS2S_ERR_TLS_HANDSHAKE);
  pair_close(&p);

  /* Garbage instead of a ClientHello. */
  xs2s_tls *s;
  CHECK_INT(xs2s_tls_new(&s, cc, XS2S_TLS_RECEIVING, NULL, NULL), 0);
  CHECK_INT(xs2s_tls_feed(s, "<stream:stream xmlns='jabber:server'>", 37), 0);
  CHECK_INT(xs2s_tls_handshake(s), XS2S_ERR_TLS_HANDSHAKE);
  size_t len;
  xs2s_tls_output(s, &len);
  CHECK(len > 0); /* an alert for the peer */
  xs2s_tls_free(s);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

static void test_creds_errors(void) {
  xs2s_tls_creds *c = xs2s_tls_creds_new(NULL);
  CHECK_INT(xs2s_tls_creds_add_cert_file(c, NULL, path("missing.pem"),
                                         path("a.test.key")),
            XS2S_ERR_TLS_CREDENTIALS);
  /* A key that does not belong to the certificate. */
  CHECK_INT(xs2s_tls_creds_add_cert_file(c, NULL, path("a.test.pem"),
                                         path("b.test.key")),
            XS2S_ERR_TLS_CREDENTIALS);
  CHECK_INT(xs2s_tls_creds_add_cert_file(c, NULL, path("a.test.key"),
                                         path("a.test.key")),
            XS2S_ERR_TLS_CREDENTIALS);
  CHECK_INT(xs2s_tls_creds_add_cert_file(c, "bad domain", path("a.test.pem"),
                                         path("a.test.key")),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_creds_add_trust_file(c, path("missing.pem")),
            XS2S_ERR_TLS_CREDENTIALS);
  CHECK_INT(xs2s_tls_creds_add_trust_file(c, path("a.test.key")),
            XS2S_ERR_TLS_CREDENTIALS);
  CHECK_INT(xs2s_tls_creds_add_crl_file(c, path("missing.pem")),
            XS2S_ERR_TLS_CREDENTIALS);
  CHECK_INT(xs2s_tls_creds_set_priority(c, "NOT-A-PRIORITY"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_creds_set_priority(c, NULL), 0);

  /* From memory. */
  gnutls_datum_t cert, key;
  CHECK_INT(gnutls_load_file(path("a.test.pem"), &cert), 0);
  CHECK_INT(gnutls_load_file(path("a.test.key"), &key), 0);
  CHECK_INT(xs2s_tls_creds_add_cert_mem(c, "a.test", (char *)cert.data,
                                        cert.size, (char *)key.data, key.size),
            0);
  CHECK_INT(xs2s_tls_creds_add_cert_mem(c, "a.test", (char *)cert.data,
                                        cert.size / 2, (char *)key.data,
                                        key.size),
            XS2S_ERR_TLS_CREDENTIALS);
  gnutls_free(cert.data);
  gnutls_free(key.data);

  xs2s_tls *t = (xs2s_tls *)1;
  CHECK_INT(xs2s_tls_new(&t, c, XS2S_TLS_INITIATING, NULL, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK(t == NULL);
  xs2s_tls_options o = {"not a domain", NULL, 0};
  CHECK_INT(xs2s_tls_new(&t, c, XS2S_TLS_INITIATING, &o, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_new(&t, c, (xs2s_tls_role)7, NULL, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_new(&t, NULL, XS2S_TLS_RECEIVING, NULL, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_new(&t, c, XS2S_TLS_RECEIVING, NULL, NULL), 0);
  /* In use now: no more changes. */
  CHECK_INT(xs2s_tls_creds_add_trust_file(c, path("ca.pem")),
            XS2S_ERR_BAD_STATE);
  CHECK_INT(xs2s_tls_creds_add_cert_file(c, NULL, path("b.test.pem"),
                                         path("b.test.key")),
            XS2S_ERR_BAD_STATE);
  CHECK_INT(xs2s_tls_creds_set_priority(c, NULL), XS2S_ERR_BAD_STATE);
  CHECK_INT(xs2s_tls_bye(t), 0); /* before the handshake: nothing to send */
  size_t len;
  xs2s_tls_output(t, &len);
  CHECK_INT(len, 0);
  xs2s_tls_free(t);
  xs2s_tls_free(NULL);
  xs2s_tls_creds_unref(c);
  xs2s_tls_creds_unref(NULL);
}

/* An allocator that fails after a budget of allocations. */
static long budget;
static void *budget_malloc(size_t n, void *ud) {
  (void)ud;
  return budget-- > 0 ? malloc(n) : NULL;
}
static void *budget_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return budget-- > 0 ? realloc(p, n) : NULL;
}
static void budget_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

/* Moves @from's output to @to without checks; returns 0 or the error. */
static int move_quiet(xs2s_tls *from, xs2s_tls *to) {
  size_t len;
  const void *p = xs2s_tls_output(from, &len);
  int rc = len ? xs2s_tls_feed(to, p, len) : 0;
  xs2s_tls_output_consume(from, len);
  return rc;
}

/* A handshake in which any step may fail: the first error, or 0. A stall
 * without an error would be a bug, reported as XS2S_ERR_INTERNAL. */
static int handshake_quiet(xs2s_tls *c, xs2s_tls *s) {
  int crc = XS2S_TLS_AGAIN, src = XS2S_TLS_AGAIN;
  for (int round = 0; round < 20; round++) {
    int rc = 0;
    if (crc == XS2S_TLS_AGAIN && (crc = xs2s_tls_handshake(c)) < 0)
      return crc;
    if ((rc = move_quiet(c, s)) < 0)
      return rc;
    if (src == XS2S_TLS_AGAIN && (src = xs2s_tls_handshake(s)) < 0)
      return src;
    if ((rc = move_quiet(s, c)) < 0)
      return rc;
    if (crc == 0 && src == 0)
      return 0;
  }
  return XS2S_ERR_INTERNAL;
}

static void test_out_of_memory(void) {
  xs2s_mem mem = {budget_malloc, budget_realloc, budget_free, NULL};
  xs2s_tls_creds *cc = creds_with("b.test", "b.test", 1);
  xs2s_tls_creds *sc = creds_with("a.test", "a.test", 1);
  int completed = 0, failures = 0;
  for (long limit = 0; limit < 200 && !completed; limit++) {
    budget = limit;
    xs2s_tls *c = NULL, *s = NULL;
    xs2s_tls_options co = {"a.test", "b.test", 0};
    int rc = xs2s_tls_new(&c, cc, XS2S_TLS_INITIATING, &co, &mem);
    if (rc == 0)
      rc = xs2s_tls_new(&s, sc, XS2S_TLS_RECEIVING, NULL, &mem);
    if (rc == 0)
      rc = handshake_quiet(c, s);
    xs2s_tls_verify_result r;
    if (rc == 0)
      rc = xs2s_tls_verify_peer(s, "b.test", NULL, 0, now_ms, &r);
    if (rc == 0)
      rc = xs2s_tls_write(c, "hello", 5);
    if (rc == 0) {
      completed = 1;
    } else {
      failures++;
      /* The only failure a lack of memory may cause. */
      CHECK_INT(rc, XS2S_ERR_NOMEM);
    }
    xs2s_tls_free(c);
    xs2s_tls_free(s);
  }
  CHECK(completed);
  CHECK(failures > 5);
  xs2s_tls_creds_unref(cc);
  xs2s_tls_creds_unref(sc);
}

static void test_status_names(void) {
  CHECK_STR(xs2s_tls_chain_status_name(XS2S_TLS_CHAIN_TRUSTED), "trusted");
  CHECK_STR(xs2s_tls_chain_status_name(XS2S_TLS_CHAIN_UNKNOWN_CA),
            "unknown-ca");
  CHECK_STR(xs2s_tls_chain_status_name(XS2S_TLS_CHAIN_EXPIRED), "expired");
  CHECK_STR(xs2s_tls_chain_status_name(XS2S_TLS_CHAIN_NOT_YET_VALID),
            "not-yet-valid");
  CHECK_STR(xs2s_tls_chain_status_name(XS2S_TLS_CHAIN_INVALID), "invalid");
  CHECK_STR(xs2s_tls_chain_status_name(-1), "unknown");
  for (int s = XS2S_TLS_CHAIN_TRUSTED; s <= XS2S_TLS_CHAIN_INVALID; s++)
    CHECK(strcmp(xs2s_tls_chain_status_name(s), "unknown") != 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_tls CERTS_DIR (see tests/data/make-certs.sh)\n");
    return 1;
  }
  certs_dir = argv[1];
  now_ms = (uint64_t)time(NULL) * 1000;
  RUN(test_handshake_and_data);
  RUN(test_handshake_bytewise);
  RUN(test_sni_selection);
  RUN(test_alpn);
  RUN(test_verify_outcomes);
  RUN(test_verify_time_is_the_callers);
  RUN(test_initiating_peer_certificates);
  RUN(test_dane);
  RUN(test_dane_several_records);
  RUN(test_peer_cert_details);
  RUN(test_post_handshake_messages);
  RUN(test_bye);
  RUN(test_handshake_failures);
  RUN(test_creds_errors);
  RUN(test_out_of_memory);
  RUN(test_status_names);
  return check_finish();
}
