/*
 * Session tests with TLS: the security modes on both sides, certificate
 * authentication with real certtool certificates (SASL EXTERNAL, XEP-0344,
 * fallback to dialback, refusal when a valid certificate is required),
 * STARTTLS stripping and injection, TLS failures.
 *
 * Usage: test_session_tls CERTDIR (made by data/make-certs.sh).
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "check.h"
#include "session_harness.h"
#include "session_hold.h"

static const char *certs;

static int send_message(h_peer *p, const char *from, const char *to) {
  xs2s_stanza *m = h_message(from, to, "hello");
  int rc = xs2s_session_send(p->s, m);
  xs2s_stanza_free(m);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Security modes                                                         */
/* ---------------------------------------------------------------------- */

static const char *mode_name(xs2s_security_mode m) {
  return m == XS2S_SECURITY_REQUIRED   ? "required"
         : m == XS2S_SECURITY_OPTIONAL ? "optional"
                                       : "off";
}

static void one_mode_pair(xs2s_security_mode ma, xs2s_security_mode mb) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, ma, h_creds(certs, "a.test", "a.test"),
                "secret-a", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, mb, h_creds(certs, "b.test", "b.test"),
                "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);

  int tls = ma != XS2S_SECURITY_OFF && mb != XS2S_SECURITY_OFF;
  int fails = (ma == XS2S_SECURITY_REQUIRED && mb == XS2S_SECURITY_OFF) ||
              (ma == XS2S_SECURITY_OFF && mb == XS2S_SECURITY_REQUIRED);
  int before = check_failures;
  if (fails) {
    /* Nothing but negotiation was exchanged: no key, no stanza. */
    CHECK_INT(l->a.n_auth, 0);
    CHECK_INT(l->b.n_requests, 0);
    CHECK_INT(l->b.n_auth, 0);
    CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
              XS2S_STANZA_ERR_POLICY_VIOLATION);
    CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
    CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
    CHECK_INT(l->a.close.origin, XS2S_CLOSED_LOCALLY);
    CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
    CHECK_INT(l->b.close.origin, XS2S_CLOSED_BY_PEER);
  } else {
    CHECK_INT(xs2s_session_is_secure(l->a.s), tls);
    CHECK_INT(xs2s_session_is_secure(l->b.s), tls);
    /* With TLS the certificates prove the domain (SASL EXTERNAL), in
     * clear text dialback does. */
    xs2s_auth_method how =
        tls ? XS2S_AUTH_SASL_EXTERNAL : XS2S_AUTH_DIALBACK;
    CHECK(h_authenticated(&l->a, "a.test", "b.test", how));
    CHECK(h_authenticated(&l->b, "b.test", "a.test", how));
    CHECK_INT(xs2s_session_pair_method(l->b.s, "b.test", "a.test"), how);
    CHECK_INT(send_message(&l->a, "u@a.test", "v@b.test"), 0);
    h_run(&w);
    CHECK_INT(l->b.n_stanzas, 1);
    CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_OPEN);
    if (tls) {
      CHECK(xs2s_session_tls(l->a.s) != NULL);
      xs2s_tls_info info;
      CHECK_INT(xs2s_tls_get_info(xs2s_session_tls(l->a.s), &info), 0);
    }
    /* Orderly close under TLS too. */
    xs2s_session_close(l->a.s, XS2S_STREAM_ERR_NONE, NULL);
    h_run(&w);
    CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
    CHECK_INT(l->b.close.error, 0);
    CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  }
  if (check_failures != before)
    fprintf(stderr, "  (initiating %s, receiving %s)\n", mode_name(ma),
            mode_name(mb));
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

static void test_security_modes(void) {
  static const xs2s_security_mode modes[] = {
      XS2S_SECURITY_REQUIRED, XS2S_SECURITY_OPTIONAL, XS2S_SECURITY_OFF};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      one_mode_pair(modes[i], modes[j]);
}

/* ---------------------------------------------------------------------- */
/* Certificates                                                           */
/* ---------------------------------------------------------------------- */

typedef struct cert_case {
  const char *domain; /* the initiating server's domain */
  const char *cert;   /* the certificate it presents */
  int valid;          /* does it prove the domain? */
} cert_case;

static void one_cert_case(const cert_case *c, int require) {
  h_world w;
  h_world_init(&w);
  h_server X = {{c->domain}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, c->domain, c->cert), "secret-x", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", require,
                NULL, NULL, {0}};
  h_add_server(&w, &X);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &X, c->domain, &B, "b.test", 0);
  h_run(&w);
  int before = check_failures;
  CHECK(xs2s_session_is_secure(l->b.s));
  if (c->valid) {
    CHECK(h_authenticated(&l->b, "b.test", c->domain,
                          XS2S_AUTH_SASL_EXTERNAL));
    CHECK_INT(l->b.n_requests, 0);
  } else if (!require) {
    /* Falls back to dialback, verified over TLS with the authoritative
     * server. */
    CHECK(h_authenticated(&l->b, "b.test", c->domain, XS2S_AUTH_DIALBACK));
    CHECK(h_authenticated(&l->a, c->domain, "b.test", XS2S_AUTH_DIALBACK));
    CHECK_INT(l->b.n_requests, 1);
  } else {
    /* A key alone is not enough. */
    CHECK_INT(l->b.n_auth, 0);
    CHECK_INT(l->b.n_requests, 0);
    CHECK_INT(h_failed(&l->a, c->domain, "b.test"),
              XS2S_STANZA_ERR_NOT_AUTHORIZED);
    CHECK_INT(send_message(&l->a, c->domain, "b.test"),
              XS2S_ERR_NOT_AUTHENTICATED);
  }
  if (check_failures != before)
    fprintf(stderr, "  (certificate %s for %s, valid required %d)\n",
            c->cert, c->domain, require);
  h_world_free(&w);
  xs2s_tls_creds_unref(X.creds);
  xs2s_tls_creds_unref(B.creds);
}

static void test_certificates(void) {
  static const cert_case cases[] = {
      {"a.test", "a.test", 1},             /* valid */
      {"a.test", "multi", 0},              /* wrong name */
      {"x.w.test", "w.test", 1},           /* wildcard */
      {"expired.test", "expired", 0},      /* expired */
      {"self.test", "self", 0},            /* self-signed */
      {"unknown.test", "unknown", 0},      /* unknown CA */
      {"revoked.test", "revoked", 0},      /* revoked by the CRL */
      {"srv.test", "srv", 1},              /* SRVName only */
      {"xmpp.test", "xmpp", 1},            /* id-on-xmppAddr only */
      {"a.w.b.w.test", "w.test", 0},       /* wildcard covers one label */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    one_cert_case(&cases[i], 0);
    one_cert_case(&cases[i], 1);
  }
}

/* One canonical form (A-labels): a server configured with its domain as a
 * U-label accepts a stream whose 'to' is the A-label, presents the
 * certificate whose dNSName is the A-label, and the initiating side (which
 * requires a valid certificate) accepts it; and the other way round. */
static void one_idn_case(const char *configured, const char *asked) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 1, NULL, NULL,
                {0}};
  h_server B = {{configured}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, configured, "idn"), "secret-b", 1, NULL, NULL,
                {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, asked, 0);
  h_run(&w);
  CHECK(xs2s_session_is_secure(l->a.s));
  CHECK_INT(l->b.n_auth, 1);
  CHECK_INT(l->b.auth_how[0], XS2S_AUTH_SASL_EXTERNAL);
  CHECK_INT(l->a.n_auth, 1);
  CHECK_INT(l->a.n_failed, 0);
  xs2s_tls_verify_result vr;
  CHECK_INT(xs2s_tls_verify_peer(xs2s_session_tls(l->a.s), configured, NULL,
                                 0, w.wall, &vr), 0);
  CHECK_INT(vr.name, XS2S_TLS_MATCH_DNSNAME);
  /* A stanza addressed with either form reaches the receiving side. */
  CHECK_INT(send_message(&l->a, "a.test", asked), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  CHECK_INT(l->b.closed, 0);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

static void test_idn_canonical(void) {
  one_idn_case("b\xc3\xbc" "cher.test", "xn--bcher-kva.test");
  one_idn_case("xn--bcher-kva.test", "B\xc3\x9c" "CHER.test.");
  one_idn_case("B\xc3\x9c" "cher.Test", "b\xc3\xbc" "cher.test");
}

/* First bytes seen in each direction (direct TLS: both must be TLS
 * handshake records, content type 22). */
static int first_byte[2];
static size_t record_first(h_link *l, int dir, char *buf, size_t len,
                           size_t cap) {
  (void)l;
  (void)cap;
  if (len > 0 && first_byte[dir] < 0)
    first_byte[dir] = (unsigned char)buf[0];
  return len;
}

static void check_alpn(xs2s_session *s) {
  xs2s_tls_info info;
  CHECK_INT(xs2s_tls_get_info(xs2s_session_tls(s), &info), 0);
  CHECK_STR(info.alpn ? info.alpn : "(none)", XS2S_TLS_ALPN_XMPP_SERVER);
}

/* XEP-0368: TLS from the first byte, ALPN xmpp-server, then the stream
 * inside TLS with SASL EXTERNAL; no STARTTLS anywhere. */
static void test_direct_tls(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 1, NULL, NULL,
                {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 1, NULL, NULL,
                {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  w.direct_tls = 1;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_TLS_HANDSHAKE);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_TLS_HANDSHAKE);
  CHECK(xs2s_session_want_write(l->a.s)); /* the ClientHello */
  first_byte[0] = first_byte[1] = -1;
  l->filter = record_first;
  h_run(&w);
  CHECK_INT(first_byte[0], 22);
  CHECK_INT(first_byte[1], 22);
  CHECK(xs2s_session_is_secure(l->a.s));
  CHECK(xs2s_session_is_secure(l->b.s));
  check_alpn(l->a.s);
  check_alpn(l->b.s);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_SASL_EXTERNAL));
  CHECK(h_authenticated(&l->a, "a.test", "b.test", XS2S_AUTH_SASL_EXTERNAL));
  CHECK_INT(send_message(&l->a, "a.test", "b.test"), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_OPEN);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

/* Direct TLS with a certificate that does not prove the initiating domain:
 * dialback inside TLS, verified over a direct-TLS stream too. */
static void test_direct_tls_dialback(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "multi"), "secret-a", 0, NULL, NULL,
                {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL,
                {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  w.direct_tls = 1;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(l->b.n_requests, 1);
  CHECK_INT(send_message(&l->a, "a.test", "b.test"), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

/* A peer that speaks clear XMPP to a direct-TLS port gets nothing in clear
 * text back: the handshake fails and the stream ends. */
static void test_direct_tls_clear_peer(void) {
  h_world w;
  h_world_init(&w);
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL,
                {0}};
  h_add_server(&w, &B);
  w.direct_tls = 1;
  h_link *l = h_connect(&w, NULL, "a.test", &B, "b.test", 0);
  h_raw_send(&l->a,
             "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams' "
             "from='a.test' to='b.test' version='1.0'>");
  h_run(&w);
  CHECK_INT(l->b.closed, 1);
  CHECK_INT(l->b.close.error, XS2S_ERR_TLS_HANDSHAKE);
  CHECK(strstr(h_raw_text(&l->a), "stream") == NULL);
  CHECK_INT(l->b.n_auth, 0);
  h_world_free(&w);
  xs2s_tls_creds_unref(B.creds);
}

static void test_direct_tls_config(void) {
  const char *dom[] = {"a.test"};
  xs2s_session_config cfg = {.role = XS2S_SESSION_INITIATING,
                             .local_domains = dom,
                             .local_domain_count = 1,
                             .remote_domain = "b.test",
                             .direct_tls = 1};
  xs2s_session *s = NULL;
  CHECK_INT(xs2s_session_new(&s, &cfg, NULL, NULL, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  cfg.tls_creds = h_creds(certs, "a.test", "a.test");
  cfg.security = XS2S_SECURITY_OFF;
  CHECK_INT(xs2s_session_new(&s, &cfg, NULL, NULL, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  cfg.security = XS2S_SECURITY_OPTIONAL;
  CHECK_INT(xs2s_session_new(&s, &cfg, NULL, NULL, 0), 0);
  const uint8_t *out;
  size_t n = xs2s_session_output(s, &out);
  CHECK(n > 5);
  CHECK_INT(n > 0 ? out[0] : 0, 22); /* a handshake record, no header */
  xs2s_session_free(s);
  xs2s_tls_creds_unref(cfg.tls_creds);
}

/* XEP-0344: a second domain named by the same certificate is accepted
 * from its <db:result/> without asking the authoritative server. */
static void test_dialback_by_certificate(void) {
  h_world w;
  h_world_init(&w);
  h_server X = {{"c.test", "d.test"}, 2, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "c.test", "multi"), "secret-x", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 1, NULL, NULL, {0}};
  h_add_server(&w, &X);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &X, "c.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "c.test", XS2S_AUTH_SASL_EXTERNAL));
  CHECK_INT(xs2s_session_add_pair(l->a.s, "d.test", "b.test"), 0);
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "d.test", XS2S_AUTH_CERTIFICATE));
  CHECK(h_authenticated(&l->a, "d.test", "b.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(l->b.n_requests, 0);
  CHECK_INT(send_message(&l->a, "d.test", "b.test"), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  h_world_free(&w);
  xs2s_tls_creds_unref(X.creds);
  xs2s_tls_creds_unref(B.creds);
}

/* The initiating side that requires a valid certificate does not talk to
 * a peer whose certificate does not name the domain it wanted. */
static void test_initiating_requires_peer_cert(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 1, NULL, NULL, {0}};
  h_server S = {{"self.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "self.test", "self"), "secret-s", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &S);
  h_link *l = h_connect(&w, &A, "a.test", &S, "self.test", 0);
  h_run(&w);
  CHECK(xs2s_session_is_secure(l->a.s));
  CHECK_INT(l->a.close.error, XS2S_ERR_CERT_UNTRUSTED);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
  CHECK_INT(l->b.n_requests, 0);
  CHECK_INT(l->b.n_auth, 0);
  CHECK_INT(h_failed(&l->a, "a.test", "self.test"),
            XS2S_STANZA_ERR_POLICY_VIOLATION);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(S.creds);
}

/* ---------------------------------------------------------------------- */
/* DANE                                                                   */
/* ---------------------------------------------------------------------- */

/* SHA-256 of the SubjectPublicKeyInfo of certificate @name (TLSA 3 1 1). */
static void spki_sha256(const char *name, unsigned char out[32]) {
  char file[512];
  snprintf(file, sizeof(file), "%s/%s.pem", certs, name);
  gnutls_datum_t pem = {NULL, 0}, der = {NULL, 0};
  gnutls_x509_crt_t crt;
  gnutls_pubkey_t pub;
  CHECK_INT(gnutls_load_file(file, &pem), 0);
  gnutls_x509_crt_init(&crt);
  gnutls_pubkey_init(&pub);
  CHECK_INT(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
  CHECK_INT(gnutls_pubkey_import_x509(pub, crt, 0), 0);
  CHECK_INT(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), 0);
  gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out);
  gnutls_free(der.data);
  gnutls_free(pem.data);
  gnutls_pubkey_deinit(pub);
  gnutls_x509_crt_deinit(crt);
}

/* An initiating side that requires a valid certificate connects to a peer
 * whose certificate no CA vouches for (self-signed): a secure DANE-EE
 * record for its key authenticates it (RFC 7673); a record for another
 * key fails closed, whether or not a valid certificate is required. */
static void one_dane_case(const char *tlsa_of, int require, int expect_ok) {
  unsigned char digest[32];
  spki_sha256(tlsa_of, digest);
  xs2s_tlsa rec = {3, 1, 1, digest, sizeof(digest)};
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", require, NULL,
                NULL, {0}};
  h_server S = {{"self.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "self.test", "self"), "secret-s", 0, NULL, NULL,
                {0}};
  w.tlsa = &rec;
  w.tlsa_count = 1;
  h_add_server(&w, &A);
  h_add_server(&w, &S);
  h_link *l = h_connect(&w, &A, "a.test", &S, "self.test", 0);
  h_run(&w);
  CHECK(xs2s_session_is_secure(l->a.s));
  if (expect_ok) {
    CHECK(h_authenticated(&l->a, "a.test", "self.test", XS2S_AUTH_DIALBACK) ||
          h_authenticated(&l->a, "a.test", "self.test",
                          XS2S_AUTH_SASL_EXTERNAL));
    CHECK_INT(l->a.close.error, 0);
  } else {
    CHECK_INT(l->a.close.error, XS2S_ERR_DANE_MISMATCH);
    CHECK_INT(l->b.n_auth, 0);
    CHECK_INT(h_failed(&l->a, "a.test", "self.test"),
              XS2S_STANZA_ERR_POLICY_VIOLATION);
  }
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(S.creds);
}

static void test_dane(void) {
  one_dane_case("self", 1, 1);
  one_dane_case("a.test", 1, 0);
  /* A mismatch fails closed even where dialback alone would be enough. */
  one_dane_case("a.test", 0, 0);
}

/* ---------------------------------------------------------------------- */
/* Attacks on STARTTLS                                                    */
/* ---------------------------------------------------------------------- */

/* A man in the middle removes the STARTTLS offer from the features. */
static int strips;
static size_t strip_starttls(h_link *l, int dir, char *buf, size_t len,
                             size_t cap) {
  (void)l;
  (void)cap;
  buf[len] = '\0';
  char *start = dir == 1 ? strstr(buf, "<starttls") : NULL;
  if (!start)
    return len;
  char *end = strstr(start, "</starttls>");
  end = end ? end + strlen("</starttls>") : strstr(start, "/>") + 2;
  memmove(start, end, len - (size_t)(end - buf) + 1);
  strips++;
  return len - (size_t)(end - start);
}

static void test_mitm_strips_starttls(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_OPTIONAL,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = strip_starttls;
  strips = 0;
  h_run(&w);
  CHECK_INT(strips, 1); /* the offer was there and removed */
  /* Fails closed: no key and no stanza ever leave A in clear text. */
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
  CHECK_INT(l->a.close.error, XS2S_ERR_POLICY);
  CHECK_INT(l->b.n_requests, 0);
  CHECK_INT(l->b.n_auth, 0);
  CHECK_INT(l->a.n_auth, 0);
  CHECK(!xs2s_session_is_secure(l->a.s));
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

/* Appends clear text right after <proceed/> (dir 1) or <starttls/>
 * (dir 0), in the same buffer. */
static const char *injected;
static int injections;
static size_t inject_after(h_link *l, int dir, char *buf, size_t len,
                           size_t cap) {
  const char *mark = l->filter_data;
  int want_dir = strstr(mark, "proceed") ? 1 : 0;
  buf[len] = '\0';
  char *at = dir == want_dir ? strstr(buf, mark) : NULL;
  size_t n = strlen(injected);
  if (!at || at + strlen(mark) != buf + len || len + n >= cap)
    return len;
  memcpy(buf + len, injected, n);
  injections++;
  return len + n;
}

static void injection(const char *mark, const char *text) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = inject_after;
  l->filter_data = (void *)mark;
  injected = text;
  injections = 0;
  h_run(&w);
  CHECK_INT(injections, 1);
  /* The injected bytes were dropped: the handshake went on, nothing they
   * said took effect, and the pair was proved by certificate. */
  CHECK(xs2s_session_is_secure(l->a.s));
  CHECK(xs2s_session_is_secure(l->b.s));
  CHECK_INT(l->a.closed, 0);
  CHECK_INT(l->b.closed, 0);
  CHECK_INT(l->b.n_requests, 0);
  CHECK_INT(l->b.n_stanzas, 0);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_SASL_EXTERNAL));
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

static void test_injection_after_proceed(void) {
  injection("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            "<stream:error><not-authorized "
            "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
  injection("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            "<stream:features><dialback "
            "xmlns='urn:xmpp:features:dialback'/></stream:features>");
}

static void test_injection_after_starttls(void) {
  injection("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            "<db:result from='a.test' to='b.test'>beef</db:result>"
            "<message from='a.test' to='b.test'/>");
}

/* Garbles the first TLS flight from the receiving side. */
static int after_proceed;
static size_t garble_server_hello(h_link *l, int dir, char *buf, size_t len,
                                  size_t cap) {
  (void)l;
  (void)cap;
  if (dir == 1 && after_proceed == 1 && len > 20) {
    for (size_t i = 10; i < len; i += 7)
      buf[i] ^= 0x5a;
    after_proceed = 2;
  }
  buf[len] = '\0';
  if (dir == 1 && strstr(buf, "<proceed"))
    after_proceed = 1;
  /* After the proceed, nothing the initiating side sends is XML. */
  if (dir == 0 && after_proceed && strstr(buf, "stream"))
    after_proceed = 99;
  return len;
}

static void test_tls_handshake_failure(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_OPTIONAL,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_OPTIONAL,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = garble_server_hello;
  after_proceed = 0;
  h_run(&w);
  CHECK_INT(after_proceed, 2);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->a.close.error, XS2S_ERR_TLS_HANDSHAKE);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->b.n_requests, 0);
  /* The server was reached but TLS failed: RFC 6120 8.3.3.17. */
  CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
            XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

static void test_starttls_refused(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_OPTIONAL,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_link *l = h_connect(&w, &A, "a.test", NULL, "b.test", 0);
  h_run(&w);
  h_raw_send(&l->b,
             "<stream:stream xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams' "
             "xmlns:db='jabber:server:dialback' from='b.test' id='x1' "
             "version='1.0'><stream:features><starttls "
             "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><dialback "
             "xmlns='urn:xmpp:features:dialback'/></stream:features>");
  h_run(&w);
  const char *got = h_raw_text(&l->b);
  CHECK(strstr(got, "<starttls") != NULL);
  size_t sent = strlen(got);
  h_raw_send(&l->b, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  h_run(&w);
  /* Nothing more in clear text, not even a key. */
  CHECK_INT(strlen(h_raw_text(&l->b)), sent);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->a.close.error, XS2S_ERR_TLS);
  CHECK_INT(l->a.close.origin, XS2S_CLOSED_BY_PEER);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
}

/* A peer that asks for STARTTLS where TLS is off gets <failure/>. */
static void test_starttls_not_offered(void) {
  h_world w;
  h_world_init(&w);
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_OFF, NULL, "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, NULL, NULL, &B, "b.test", 0);
  h_raw_send(&l->a, "<stream:stream xmlns='jabber:server' "
                    "xmlns:stream='http://etherx.jabber.org/streams' "
                    "from='a.test' to='b.test' version='1.0'>"
                    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  h_run(&w);
  const char *got = h_raw_text(&l->a);
  CHECK(strstr(got, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
  CHECK(strstr(got, "</stream:stream>"));
  h_world_free(&w);
}

static void test_chunked_tls(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->chunk = 5; /* TLS records split across reads */
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_SASL_EXTERNAL));
  CHECK_INT(send_message(&l->a, "a.test", "b.test"), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

/* The features callback sees each stream's features (before TLS, after
 * TLS, after SASL) before the session acts on them; closing from it stops
 * the negotiation there. */
static void one_features_case(int close_at) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->a.close_on_features = close_at;
  h_run(&w);
  /* STARTTLS, SASL: three streams. */
  int calls = close_at ? close_at : 3;
  CHECK_INT(l->a.n_features, calls);
  CHECK_INT(l->b.n_features, 0); /* initiating side only */
  /* Required mode offers STARTTLS and nothing else; after TLS, SASL
   * EXTERNAL and dialback. */
  CHECK_INT(l->a.features[0], H_FEAT_STARTTLS);
  if (calls > 1)
    CHECK_INT(l->a.features[1],
              H_FEAT_SECURE | H_FEAT_EXTERNAL | H_FEAT_DIALBACK);
  if (calls > 2)
    CHECK_INT(l->a.features[2], H_FEAT_SECURE | H_FEAT_DIALBACK);
  if (close_at == 0) {
    CHECK(h_authenticated(&l->a, "a.test", "b.test",
                          XS2S_AUTH_SASL_EXTERNAL));
  } else {
    /* Nothing was acted on: no TLS after the first, no SASL after the
     * second; an orderly close on both ends. */
    CHECK_INT(xs2s_session_is_secure(l->a.s), close_at > 1);
    CHECK_INT(l->a.n_auth, 0);
    CHECK_INT(l->b.n_auth, 0);
    CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
    CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
    CHECK_INT(l->a.close.error, 0);
    CHECK_INT(l->a.close.origin, XS2S_CLOSED_LOCALLY);
    CHECK_INT(l->b.close.error, 0);
    CHECK_INT(l->b.close.origin, XS2S_CLOSED_BY_PEER);
  }
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

/* The engine's holding mode: stanzas sent on a TLS stream wait in clear
 * text until released (or until a record's worth is waiting), then go out
 * as few full records; order and content are kept. */
static void test_hold_batches_records(void) {
  h_world w;
  h_world_init(&w);
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "a.test", "a.test"), "secret-a", 0, NULL,
                NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_REQUIRED,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL,
                NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_authenticated(&l->a, "a.test", "b.test", XS2S_AUTH_SASL_EXTERNAL));
  const uint8_t *p;
  CHECK_INT(xs2s_session_output(l->a.s, &p), 0);

  xs2s__session_hold(l->a.s, 1);
  size_t clear = 0;
  for (int i = 0; i < 12; i++) {
    xs2s_stanza *m = h_message("u@a.test", "v@b.test", "held back");
    size_t len = 0;
    xs2s_stanza_serialize(m, NULL, 0, &len);
    clear += len;
    CHECK_INT(xs2s_session_send(l->a.s, m), 0);
    xs2s_stanza_free(m);
  }
  CHECK(xs2s__session_holding(l->a.s));
  CHECK_INT(xs2s_session_output(l->a.s, &p), 0); /* nothing encrypted yet */
  CHECK_INT(xs2s__session_release(l->a.s), 0);
  CHECK(!xs2s__session_holding(l->a.s));
  /* One record (about 22 bytes of framing) instead of 12. */
  size_t wire = xs2s_session_output(l->a.s, &p);
  CHECK(wire > 0 && wire < clear + 3 * 22);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 12);
  CHECK_STR(xs2s_stanza_text(xs2s_stanza_first_child(l->b.stanzas[11])),
            "held back");

  /* More than a record's worth is encrypted without waiting. */
  for (int i = 0; i < 400; i++) {
    xs2s_stanza *m = h_message("u@a.test", "v@b.test", "a longer burst");
    CHECK_INT(xs2s_session_send(l->a.s, m), 0);
    xs2s_stanza_free(m);
  }
  CHECK(xs2s_session_output(l->a.s, &p) >= XS2S__HOLD_BYTES);
  /* Turning holding off releases the rest. */
  xs2s__session_hold(l->a.s, 0);
  CHECK(!xs2s__session_holding(l->a.s));
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 16); /* the harness keeps the first 16 */
  CHECK_INT(xs2s_session_output(l->a.s, &p), 0);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  h_world_free(&w);
  xs2s_tls_creds_unref(A.creds);
  xs2s_tls_creds_unref(B.creds);
}

static void test_features_callback(void) {
  one_features_case(0);
  one_features_case(1);
  one_features_case(2);
}

/* ---------------------------------------------------------------------- */
/* Per-remote-domain policy on receiving streams                          */
/* ---------------------------------------------------------------------- */

/* The override the receiving server's hook applies to a.test only. */
static xs2s_security_mode strict_mode;
static int strict_cert;

static int strict_a(const char *domain, xs2s_security_mode *mode,
                    int *require_valid_cert, void *user_data) {
  (void)user_data;
  if (strcmp(domain, "a.test") == 0) {
    *mode = strict_mode;
    *require_valid_cert = strict_cert;
  }
  return 0;
}

/* A server of c.test and a.test that speaks clear text only. */
static h_link *clear_peer_link(h_world *w, h_server *X, h_server *B) {
  h_add_server(w, X);
  h_add_server(w, B);
  h_link *l = h_connect(w, X, "c.test", B, "b.test", 0);
  h_run(w);
  CHECK(!xs2s_session_is_secure(l->b.s));
  /* c.test has no override: dialback in clear text is enough for it. */
  CHECK(h_authenticated(&l->b, "b.test", "c.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(send_message(&l->a, "c.test", "b.test"), 0);
  h_run(w);
  CHECK_INT(l->b.n_stanzas, 1);
  /* a.test rides the same stream: its own policy decides. */
  CHECK_INT(xs2s_session_add_pair(l->a.s, "a.test", "b.test"), 0);
  h_run(w);
  return l;
}

/* Global mode optional, TLS required for a.test: a.test is refused at
 * dialback in clear text (even on a stream another domain opened), and
 * its stanzas are not delivered; over TLS it is accepted. */
static void test_peer_policy_tls(void) {
  strict_mode = XS2S_SECURITY_REQUIRED;
  strict_cert = 0;
  h_world w;
  h_world_init(&w);
  w.peer_policy = strict_a;
  h_server X = {{"c.test", "a.test"}, 2, XS2S_SECURITY_OFF, NULL, "secret-x",
                0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_OPTIONAL,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL,
                {0}};
  h_link *l = clear_peer_link(&w, &X, &B);
  CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
            XS2S_STANZA_ERR_POLICY_VIOLATION);
  CHECK_INT(l->b.n_requests, 1); /* c.test's only: a.test's key went nowhere */
  CHECK_INT(xs2s_session_pair_method(l->b.s, "b.test", "a.test"),
            XS2S_AUTH_NONE);
  CHECK_INT(send_message(&l->a, "a.test", "b.test"),
            XS2S_ERR_NOT_AUTHENTICATED);
  /* Sent anyway, a stanza from a.test ends the stream undelivered. */
  h_inject(&l->b, "<message from='u@a.test' to='v@b.test'><body>x</body>"
                  "</message>");
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_INVALID_FROM);
  h_world_free(&w);

  /* A clear-text peer naming a.test in its header is told TLS is required
   * and, unable to do it, gives up before any key is sent. */
  h_world_init(&w);
  w.peer_policy = strict_a;
  h_server A = {{"a.test"}, 1, XS2S_SECURITY_OFF, NULL, "secret-a", 0, NULL,
                NULL, {0}};
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
  CHECK_INT(l->b.n_requests, 0);
  CHECK_INT(l->b.n_auth, 0);
  h_world_free(&w);

  /* With TLS a.test gets in, by certificate or (a certificate that does
   * not name it) by dialback over TLS. */
  static const char *const names[] = {"a.test", "multi"};
  for (int i = 0; i < 2; i++) {
    h_world_init(&w);
    w.peer_policy = strict_a;
    h_server T = {{"a.test"}, 1, XS2S_SECURITY_OPTIONAL,
                  h_creds(certs, "a.test", names[i]), "secret-a", 0, NULL,
                  NULL, {0}};
    h_add_server(&w, &T);
    h_add_server(&w, &B);
    l = h_connect(&w, &T, "a.test", &B, "b.test", 0);
    h_run(&w);
    CHECK(xs2s_session_is_secure(l->b.s));
    CHECK(h_authenticated(&l->b, "b.test", "a.test",
                          i == 0 ? XS2S_AUTH_SASL_EXTERNAL
                                 : XS2S_AUTH_DIALBACK));
    CHECK_INT(send_message(&l->a, "a.test", "b.test"), 0);
    h_run(&w);
    CHECK_INT(l->b.n_stanzas, 1);
    h_world_free(&w);
    xs2s_tls_creds_unref(T.creds);
  }
  xs2s_tls_creds_unref(B.creds);
}

/* Global: dialback is enough; a.test must present a valid certificate.
 * A key alone is refused for it (in clear text and over TLS with a
 * certificate that does not name it); its certificate is accepted. */
static void test_peer_policy_certificate(void) {
  strict_mode = XS2S_SECURITY_OPTIONAL;
  strict_cert = 1;
  h_world w;
  h_world_init(&w);
  w.peer_policy = strict_a;
  h_server X = {{"c.test", "a.test"}, 2, XS2S_SECURITY_OFF, NULL, "secret-x",
                0, NULL, NULL, {0}};
  h_server B = {{"b.test"}, 1, XS2S_SECURITY_OPTIONAL,
                h_creds(certs, "b.test", "b.test"), "secret-b", 0, NULL, NULL,
                {0}};
  h_link *l = clear_peer_link(&w, &X, &B);
  CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
            XS2S_STANZA_ERR_NOT_AUTHORIZED);
  CHECK_INT(l->b.n_requests, 1);
  CHECK_INT(send_message(&l->a, "a.test", "b.test"),
            XS2S_ERR_NOT_AUTHENTICATED);
  h_world_free(&w);

  static const char *const names[] = {"multi", "a.test"};
  for (int i = 0; i < 2; i++) {
    h_world_init(&w);
    w.peer_policy = strict_a;
    h_server T = {{"a.test"}, 1, XS2S_SECURITY_OPTIONAL,
                  h_creds(certs, "a.test", names[i]), "secret-a", 0, NULL,
                  NULL, {0}};
    h_add_server(&w, &T);
    h_add_server(&w, &B);
    l = h_connect(&w, &T, "a.test", &B, "b.test", 0);
    h_run(&w);
    CHECK(xs2s_session_is_secure(l->b.s));
    if (i == 0) {
      CHECK_INT(l->b.n_auth, 0);
      CHECK_INT(l->b.n_requests, 0);
      CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
                XS2S_STANZA_ERR_NOT_AUTHORIZED);
    } else {
      CHECK(h_authenticated(&l->b, "b.test", "a.test",
                            XS2S_AUTH_SASL_EXTERNAL));
      CHECK_INT(send_message(&l->a, "a.test", "b.test"), 0);
      h_run(&w);
      CHECK_INT(l->b.n_stanzas, 1);
    }
    h_world_free(&w);
    xs2s_tls_creds_unref(T.creds);
  }
  xs2s_tls_creds_unref(B.creds);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CERTDIR\n", argv[0]);
    return 2;
  }
  certs = argv[1];
  RUN(test_security_modes);
  RUN(test_certificates);
  RUN(test_dialback_by_certificate);
  RUN(test_idn_canonical);
  RUN(test_direct_tls);
  RUN(test_direct_tls_dialback);
  RUN(test_direct_tls_clear_peer);
  RUN(test_direct_tls_config);
  RUN(test_initiating_requires_peer_cert);
  RUN(test_dane);
  RUN(test_mitm_strips_starttls);
  RUN(test_injection_after_proceed);
  RUN(test_injection_after_starttls);
  RUN(test_tls_handshake_failure);
  RUN(test_starttls_refused);
  RUN(test_starttls_not_offered);
  RUN(test_chunked_tls);
  RUN(test_features_callback);
  RUN(test_hold_batches_records);
  RUN(test_peer_policy_tls);
  RUN(test_peer_policy_certificate);
  return check_finish();
}
