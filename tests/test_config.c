/* xs2s_config: defaults, setters' checks and normal forms, getters, the
 * coherence check, copies, and behaviour when memory runs out. */
#include <stdlib.h>
#include <unistd.h>

#include <xs2s/parser.h>
#include <xs2s/xs2s.h>

#include "check.h"

static xs2s_config *cfg_new(void) {
  xs2s_config *cfg = xs2s_config_new(NULL);
  CHECK(cfg != NULL);
  return cfg;
}

static void test_defaults(void) {
  xs2s_config *cfg = cfg_new();
  CHECK_INT(xs2s_config_domain_count(cfg), 0);
  CHECK(xs2s_config_domain_at(cfg, 0, NULL, NULL) == NULL);
  CHECK(xs2s_config_ca_file(cfg) == NULL);
  CHECK_INT(xs2s_config_system_trust(cfg), 1);
  CHECK(xs2s_config_crl_file(cfg) == NULL);
  CHECK(xs2s_config_tls_priority(cfg) == NULL);
  CHECK(xs2s_config_dialback_secret(cfg) == NULL);
  CHECK_INT(xs2s_config_tls_mode(cfg), XS2S_TLS_OPTIONAL);
  CHECK_INT(xs2s_config_require_valid_cert(cfg), 0);
  CHECK_INT(xs2s_config_remote_policy_count(cfg), 0);
  CHECK_INT(xs2s_config_privacy_mode(cfg), XS2S_PRIVACY_OFF);
  CHECK_INT(xs2s_config_privacy_domain_count(cfg, XS2S_PRIVACY_ALLOW_LIST), 0);
  CHECK_INT(xs2s_config_privacy_domain_count(cfg, XS2S_PRIVACY_DENY_LIST), 0);
  CHECK_INT(xs2s_config_route_domain_count(cfg), 0);
  CHECK(xs2s_config_unbound_config(cfg) == NULL);
  CHECK(xs2s_config_resolv_conf(cfg) == NULL);
  CHECK_INT(xs2s_config_listener_count(cfg), 0);
  for (int i = 0; i < XS2S_LIMIT_COUNT_; i++)
    CHECK_INT(xs2s_config_limit(cfg, (xs2s_limit)i),
              xs2s_config_limit_default((xs2s_limit)i));
  for (int i = 0; i < XS2S_TIMEOUT_COUNT_; i++)
    CHECK_INT(xs2s_config_timeout(cfg, (xs2s_timeout)i),
              xs2s_config_timeout_default((xs2s_timeout)i));
  /* The documented defaults, and agreement with the layers below. */
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_QUEUE_BYTES), 1048576);
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_STANZA_BYTES),
            XS2S_DEFAULT_MAX_STANZA_BYTES);
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_PARSER_DEPTH),
            XS2S_DEFAULT_MAX_DEPTH);
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_PARSER_ATTRIBUTES),
            XS2S_DEFAULT_MAX_ATTRIBUTES);
  CHECK_INT(xs2s_config_timeout(cfg, XS2S_TIMEOUT_DIALBACK), 30000);
  CHECK_INT(xs2s_config_timeout(cfg, XS2S_TIMEOUT_IDLE), 600000);
  xs2s_mem mem;
  xs2s_config_get_mem(cfg, &mem);
  CHECK(mem.malloc != NULL && mem.realloc != NULL && mem.free != NULL);
  xs2s_config_free(cfg);
  xs2s_config_free(NULL);
}

static void test_domains(void) {
  xs2s_config *cfg = cfg_new();
  const char *cert, *key;
  CHECK_INT(xs2s_config_add_domain(cfg, "Example.COM.", "/c.pem", "/k.pem"), 0);
  CHECK_STR(xs2s_config_domain_at(cfg, 0, &cert, &key), "example.com");
  CHECK_STR(cert, "/c.pem");
  CHECK_STR(key, "/k.pem");
  CHECK_INT(xs2s_config_add_domain(cfg, "EXAMPLE.com", NULL, NULL),
            XS2S_ERR_EXISTS);
  CHECK_INT(xs2s_config_add_domain(cfg, "b.example", "/both.pem", NULL), 0);
  xs2s_config_domain_at(cfg, 1, &cert, &key);
  CHECK_STR(key, "/both.pem"); /* key in the certificate file */
  CHECK_INT(xs2s_config_add_domain(cfg, "c.example", NULL, NULL), 0);
  xs2s_config_domain_at(cfg, 2, &cert, &key);
  CHECK(cert == NULL && key == NULL);
  CHECK_INT(xs2s_config_add_domain(cfg, "d.example", NULL, "/k.pem"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_domain(cfg, "d.example", "", NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_domain(cfg, "caf\xc3\xa9.example", NULL, NULL), 0);
  CHECK_INT(xs2s_config_add_domain(cfg, "[2001:DB8::0001]", NULL, NULL), 0);
  CHECK_STR(xs2s_config_domain_at(cfg, 4, NULL, NULL), "[2001:db8::1]");
  CHECK_INT(xs2s_config_domain_count(cfg), 5);
  CHECK_INT(xs2s_config_is_local(cfg, "B.Example."), 1);
  CHECK_INT(xs2s_config_is_local(cfg, "[2001:db8:0::1]"), 1);
  CHECK_INT(xs2s_config_is_local(cfg, "other.example"), 0);
  CHECK_INT(xs2s_config_is_local(cfg, "bad..name"), 0);
  CHECK_INT(xs2s_config_is_local(cfg, NULL), 0);

  static const char *const bad[] = {
      "", ".", "a..b", ".a", "-a.example", "a-.example", "a b.example",
      "a@b.example", "a/b", "a:5269", "a_b.example", "[::1", "[zz::1]",
      "[192.0.2.1]", "\xc3\x28.example", "\xc0\xaf.example",
      "\xed\xa0\x80.example", "a..", NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_INT(xs2s_config_add_domain(cfg, bad[i], NULL, NULL),
              XS2S_ERR_INVALID_ARGUMENT);
  }
  /* Length limits: 63-byte labels, 1023-byte names. */
  char label[80];
  memset(label, 'a', 63);
  strcpy(label + 63, ".example");
  CHECK_INT(xs2s_config_add_domain(cfg, label, NULL, NULL), 0);
  memset(label, 'b', 64);
  strcpy(label + 64, ".example");
  CHECK_INT(xs2s_config_add_domain(cfg, label, NULL, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  /* 16 labels of 62 bytes and their dots, then 15 bytes: 1023 bytes. */
  char longname[1100];
  size_t n = 0;
  for (int i = 0; i < 16; i++, n += 63) {
    memset(longname + n, 'a' + i, 62);
    longname[n + 62] = '.';
  }
  memset(longname + n, 'z', 15);
  longname[n + 15] = '\0';
  CHECK_INT(strlen(longname), 1023);
  CHECK_INT(xs2s_config_add_domain(cfg, longname, NULL, NULL), 0);
  longname[1023] = 'y';
  longname[1024] = '\0';
  CHECK_INT(xs2s_config_add_domain(cfg, longname, NULL, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s_config_free(cfg);
}

static void test_trust_and_strings(void) {
  xs2s_config *cfg = cfg_new();
  CHECK_INT(xs2s_config_set_ca_file(cfg, "/ca.pem"), 0);
  CHECK_STR(xs2s_config_ca_file(cfg), "/ca.pem");
  CHECK_INT(xs2s_config_set_ca_file(cfg, ""), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_STR(xs2s_config_ca_file(cfg), "/ca.pem");
  CHECK_INT(xs2s_config_set_ca_file(cfg, NULL), 0);
  CHECK(xs2s_config_ca_file(cfg) == NULL);
  CHECK_INT(xs2s_config_set_system_trust(cfg, 0), 0);
  CHECK_INT(xs2s_config_system_trust(cfg), 0);
  CHECK_INT(xs2s_config_set_system_trust(cfg, 2), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_crl_file(cfg, "/crl.pem"), 0);
  CHECK_STR(xs2s_config_crl_file(cfg), "/crl.pem");
  CHECK_INT(xs2s_config_set_tls_priority(cfg, "NORMAL:-VERS-TLS1.2"), 0);
  CHECK_STR(xs2s_config_tls_priority(cfg), "NORMAL:-VERS-TLS1.2");
  CHECK_INT(xs2s_config_set_dialback_secret(cfg, ""),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_dialback_secret(cfg, "s3cret"), 0);
  CHECK_INT(xs2s_config_set_dialback_secret(cfg, "other"), 0);
  CHECK_STR(xs2s_config_dialback_secret(cfg), "other");
  CHECK_INT(xs2s_config_set_dialback_secret(cfg, NULL), 0);
  CHECK(xs2s_config_dialback_secret(cfg) == NULL);
  CHECK_INT(xs2s_config_set_unbound_config(cfg, "/ub.conf"), 0);
  CHECK_STR(xs2s_config_unbound_config(cfg), "/ub.conf");
  CHECK_INT(xs2s_config_set_resolv_conf(cfg, "/resolv.conf"), 0);
  CHECK_STR(xs2s_config_resolv_conf(cfg), "/resolv.conf");
  xs2s_config_free(cfg);
}

static void test_security(void) {
  xs2s_config *cfg = cfg_new();
  CHECK_INT(xs2s_config_set_tls_mode(cfg, XS2S_TLS_REQUIRED), 0);
  CHECK_INT(xs2s_config_tls_mode(cfg), XS2S_TLS_REQUIRED);
  CHECK_INT(xs2s_config_set_tls_mode(cfg, XS2S_TLS_INHERIT),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_tls_mode(cfg, (xs2s_tls_mode)7),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_tls_mode(cfg), XS2S_TLS_REQUIRED);
  CHECK_INT(xs2s_config_set_require_valid_cert(cfg, 1), 0);
  CHECK_INT(xs2s_config_require_valid_cert(cfg), 1);
  CHECK_INT(xs2s_config_set_require_valid_cert(cfg, -1),
            XS2S_ERR_INVALID_ARGUMENT);

  xs2s_tls_mode mode;
  int req;
  CHECK_INT(xs2s_config_set_remote_policy(cfg, "Legacy.Example",
                                          XS2S_TLS_OPTIONAL, 0),
            0);
  CHECK_INT(xs2s_config_set_remote_policy(cfg, "strict.example",
                                          XS2S_TLS_INHERIT, 1),
            0);
  CHECK_INT(xs2s_config_set_remote_policy(cfg, "legacy.example.",
                                          XS2S_TLS_OFF, -1),
            0); /* replaces */
  CHECK_INT(xs2s_config_remote_policy_count(cfg), 2);
  CHECK_STR(xs2s_config_remote_policy_at(cfg, 0, &mode, &req),
            "legacy.example");
  CHECK_INT(mode, XS2S_TLS_OFF);
  CHECK_INT(req, -1);
  CHECK_STR(xs2s_config_remote_policy_at(cfg, 1, &mode, &req),
            "strict.example");
  CHECK_INT(mode, XS2S_TLS_INHERIT);
  CHECK_INT(req, 1);
  CHECK(xs2s_config_remote_policy_at(cfg, 2, NULL, NULL) == NULL);
  CHECK_INT(xs2s_config_set_remote_policy(cfg, "x.example", (xs2s_tls_mode)4,
                                          0),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_remote_policy(cfg, "x.example", XS2S_TLS_OFF, 2),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_remote_policy(cfg, "x..example", XS2S_TLS_OFF, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_remote_policy_count(cfg), 2);
  xs2s_config_free(cfg);
}

static void test_privacy(void) {
  xs2s_config *cfg = cfg_new();
  CHECK_INT(xs2s_config_set_privacy_mode(cfg, XS2S_PRIVACY_DENY_LIST), 0);
  CHECK_INT(xs2s_config_privacy_mode(cfg), XS2S_PRIVACY_DENY_LIST);
  CHECK_INT(xs2s_config_set_privacy_mode(cfg, (xs2s_privacy_mode)3),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_ALLOW_LIST,
                                           "Friend.Example"),
            0);
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_ALLOW_LIST,
                                           "friend.example."),
            0); /* already there: no change */
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_DENY_LIST,
                                           "spam.example"),
            0);
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_OFF,
                                           "spam.example"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_DENY_LIST,
                                           "spam .example"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_privacy_domain_count(cfg, XS2S_PRIVACY_ALLOW_LIST), 1);
  CHECK_INT(xs2s_config_privacy_domain_count(cfg, XS2S_PRIVACY_DENY_LIST), 1);
  CHECK_INT(xs2s_config_privacy_domain_count(cfg, XS2S_PRIVACY_OFF), 0);
  CHECK_STR(xs2s_config_privacy_domain_at(cfg, XS2S_PRIVACY_ALLOW_LIST, 0),
            "friend.example");
  CHECK_STR(xs2s_config_privacy_domain_at(cfg, XS2S_PRIVACY_DENY_LIST, 0),
            "spam.example");
  CHECK(xs2s_config_privacy_domain_at(cfg, XS2S_PRIVACY_DENY_LIST, 1) == NULL);
  CHECK(xs2s_config_privacy_domain_at(cfg, XS2S_PRIVACY_OFF, 0) == NULL);
  xs2s_config_free(cfg);
}

static void test_routes(void) {
  xs2s_config *cfg = cfg_new();
  xs2s_route r;
  CHECK_INT(xs2s_config_add_route(cfg, "Partner.Example", "XMPP.Partner.Example",
                                  0),
            0);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example", "192.0.2.7:5299", 0),
            0);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example",
                                  "[2001:DB8::7]:5270", XS2S_ROUTE_DIRECT_TLS),
            0);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example", "[2001:db8::8]",
                                  XS2S_ROUTE_DIRECT_TLS),
            0);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example", "192.0.2.7:5299", 0),
            XS2S_ERR_EXISTS);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example",
                                  "xmpp.partner.example:5269", 0),
            XS2S_ERR_EXISTS);
  CHECK_INT(xs2s_config_route_domain_count(cfg), 1);
  CHECK_STR(xs2s_config_route_domain_at(cfg, 0), "partner.example");
  CHECK(xs2s_config_route_domain_at(cfg, 1) == NULL);
  CHECK_INT(xs2s_config_route_count(cfg, "PARTNER.example."), 4);
  CHECK_INT(xs2s_config_route_count(cfg, "other.example"), 0);
  CHECK_INT(xs2s_config_route_at(cfg, "partner.example", 0, &r), 0);
  CHECK_STR(r.host, "xmpp.partner.example");
  CHECK_INT(r.port, 5269);
  CHECK_INT(r.flags, 0);
  CHECK_INT(xs2s_config_route_at(cfg, "partner.example", 1, &r), 0);
  CHECK_STR(r.host, "192.0.2.7");
  CHECK_INT(r.port, 5299);
  CHECK_INT(xs2s_config_route_at(cfg, "partner.example", 2, &r), 0);
  CHECK_STR(r.host, "2001:db8::7");
  CHECK_INT(r.port, 5270);
  CHECK_INT(r.flags, XS2S_ROUTE_DIRECT_TLS);
  CHECK_INT(xs2s_config_route_at(cfg, "partner.example", 3, &r), 0);
  CHECK_INT(r.port, XS2S_DEFAULT_DIRECT_TLS_PORT);
  CHECK_INT(xs2s_config_route_at(cfg, "partner.example", 4, &r),
            XS2S_ERR_NOT_FOUND);
  CHECK_INT(xs2s_config_route_at(cfg, "other.example", 0, &r),
            XS2S_ERR_NOT_FOUND);

  static const char *const bad[] = {
      "2001:db8::1",        /* IPv6 without brackets */
      "[2001:db8::1]:",     /* empty port */
      "host:0",             /* port 0 */
      "host:65536",         /* port out of range */
      "host:52a",           /* not a number */
      "[192.0.2.1]",        /* IPv4 in brackets */
      "[2001:db8::1]x",     /* junk after the bracket */
      "bad host",           /* not a host name */
      "",                   /* empty */
      ":5269",              /* no host */
      NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(xs2s_config_add_route(cfg, "partner.example", bad[i], 0),
              XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_route(cfg, "bad..example", "host", 0),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example", "host", 0x10),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_route_count(cfg, "partner.example"), 4);
  xs2s_config_free(cfg);
}

static void test_limits_and_timeouts(void) {
  xs2s_config *cfg = cfg_new();
  for (int i = 0; i < XS2S_LIMIT_COUNT_; i++) {
    const char *name = xs2s_config_limit_name((xs2s_limit)i);
    CHECK(name != NULL);
    CHECK_INT(xs2s_config_limit_from_name(name), i);
  }
  for (int i = 0; i < XS2S_TIMEOUT_COUNT_; i++) {
    const char *name = xs2s_config_timeout_name((xs2s_timeout)i);
    CHECK(name != NULL);
    CHECK_INT(xs2s_config_timeout_from_name(name), i);
  }
  CHECK_STR(xs2s_config_limit_name(XS2S_LIMIT_QUEUE_BYTES), "queue-bytes");
  CHECK_STR(xs2s_config_timeout_name(XS2S_TIMEOUT_IDLE), "idle");
  CHECK(xs2s_config_limit_name(XS2S_LIMIT_COUNT_) == NULL);
  CHECK(xs2s_config_timeout_name((xs2s_timeout)-1) == NULL);
  CHECK_INT(xs2s_config_limit_from_name("no-such"), XS2S_LIMIT_COUNT_);
  CHECK_INT(xs2s_config_limit_from_name(NULL), XS2S_LIMIT_COUNT_);
  CHECK_INT(xs2s_config_timeout_from_name("no-such"), XS2S_TIMEOUT_COUNT_);

  CHECK_INT(xs2s_config_set_limit(cfg, XS2S_LIMIT_QUEUE_BYTES, 4096), 0);
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_QUEUE_BYTES), 4096);
  CHECK_INT(xs2s_config_set_limit(cfg, XS2S_LIMIT_QUEUE_BYTES, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_limit(cfg, XS2S_LIMIT_STANZA_BYTES, 100),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_limit(cfg, XS2S_LIMIT_TCP_KEEPALIVE_COUNT, 128),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_limit(cfg, XS2S_LIMIT_COUNT_, 1),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_COUNT_), 0);
  CHECK_INT(xs2s_config_limit(cfg, XS2S_LIMIT_QUEUE_BYTES), 4096);

  CHECK_INT(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_IDLE, 0), 0);
  CHECK_INT(xs2s_config_timeout(cfg, XS2S_TIMEOUT_IDLE), 0);
  CHECK_INT(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_CONNECT, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_CONNECT, 1ULL << 31),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_CONNECT, 2500), 0);
  CHECK_INT(xs2s_config_timeout(cfg, XS2S_TIMEOUT_CONNECT), 2500);
  CHECK_INT(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_TCP_KEEPALIVE_INTERVAL,
                                    0),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_COUNT_, 1),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s_config_free(cfg);
}

static void test_listeners(void) {
  xs2s_config *cfg = cfg_new();
  unsigned flags;
  CHECK_INT(xs2s_config_add_listener(cfg, "0.0.0.0", 0), 0);
  CHECK_INT(xs2s_config_add_listener(cfg, "[::]", XS2S_LISTEN_REUSEPORT), 0);
  CHECK_INT(xs2s_config_add_listener(cfg, "[::]", XS2S_LISTEN_DIRECT_TLS), 0);
  CHECK_INT(xs2s_config_add_listener(cfg, "[2001:DB8::1]:5269", 0), 0);
  CHECK_INT(xs2s_config_add_listener(cfg, "127.0.0.1:0", 0), 0);
  CHECK_INT(xs2s_config_add_listener(cfg, "127.0.0.1:0", 0), 0);
  CHECK_INT(xs2s_config_add_listener(cfg, "0.0.0.0:5269", 0), XS2S_ERR_EXISTS);
  CHECK_INT(xs2s_config_listener_count(cfg), 6);
  CHECK_STR(xs2s_config_listener_at(cfg, 0, &flags), "0.0.0.0:5269");
  CHECK_INT(flags, 0);
  CHECK_STR(xs2s_config_listener_at(cfg, 1, &flags), "[::]:5269");
  CHECK_INT(flags, XS2S_LISTEN_REUSEPORT);
  CHECK_STR(xs2s_config_listener_at(cfg, 2, &flags), "[::]:5270");
  CHECK_INT(flags, XS2S_LISTEN_DIRECT_TLS);
  CHECK_STR(xs2s_config_listener_at(cfg, 3, NULL), "[2001:db8::1]:5269");
  CHECK_STR(xs2s_config_listener_at(cfg, 4, NULL), "127.0.0.1:0");
  CHECK(xs2s_config_listener_at(cfg, 6, NULL) == NULL);
  static const char *const bad[] = {"localhost:5269", "::1", "[::1",
                                    "[192.0.2.1]:5269", "1.2.3.4:99999",
                                    "1.2.3.4:", "", NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(xs2s_config_add_listener(cfg, bad[i], 0),
              XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_add_listener(cfg, "[::1]", 0x80),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_config_listener_count(cfg), 6);
  xs2s_config_free(cfg);
}

/* A readable temporary file; the caller unlinks it. */
static void temp_file(char path[64]) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, 64, "%s/xs2s-config-XXXXXX", dir ? dir : "/tmp");
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0)
    close(fd);
}

/* Runs the check and compares the start of the message. */
static void expect_check(const xs2s_config *cfg, int want,
                         const char *msg_start, int line) {
  char msg[256];
  int rc = xs2s_config_check(cfg, msg, sizeof(msg));
  check_count++;
  if (rc != want || strncmp(msg, msg_start, strlen(msg_start)) != 0) {
    fprintf(stderr, "%s:%d: check gave %d \"%s\", expected %d \"%s...\"\n",
            __FILE__, line, rc, msg, want, msg_start);
    check_failures++;
  }
}
#define EXPECT_CHECK(cfg, want, start) expect_check(cfg, want, start, __LINE__)

static void test_check(void) {
  char cert[64], key[64];
  temp_file(cert);
  temp_file(key);
  xs2s_config *cfg = cfg_new();
  EXPECT_CHECK(cfg, XS2S_ERR_CONFIG, "no local domain");
  CHECK_INT(xs2s_config_add_domain(cfg, "a.example", cert, key), 0);
  EXPECT_CHECK(cfg, 0, "");
  CHECK_INT(xs2s_config_add_domain(cfg, "plain.example", NULL, NULL), 0);
  EXPECT_CHECK(cfg, 0, "");

  /* TLS required with a domain that has no certificate. */
  xs2s_config_set_tls_mode(cfg, XS2S_TLS_REQUIRED);
  EXPECT_CHECK(cfg, XS2S_ERR_CONFIG,
               "TLS is required but local domain plain.example has no "
               "certificate");
  xs2s_config_set_tls_mode(cfg, XS2S_TLS_OPTIONAL);
  xs2s_config_set_remote_policy(cfg, "secure.example", XS2S_TLS_REQUIRED, -1);
  EXPECT_CHECK(cfg, XS2S_ERR_CONFIG, "TLS is required with secure.example");
  xs2s_config_set_remote_policy(cfg, "secure.example", XS2S_TLS_INHERIT, 1);
  EXPECT_CHECK(cfg, XS2S_ERR_CONFIG, "TLS is required with secure.example");
  xs2s_config_set_remote_policy(cfg, "secure.example", XS2S_TLS_INHERIT, -1);
  EXPECT_CHECK(cfg, 0, "");
  /* Requiring valid certificates requires TLS, hence certificates. */
  xs2s_config_set_require_valid_cert(cfg, 1);
  EXPECT_CHECK(cfg, XS2S_ERR_CONFIG,
               "TLS is required but local domain plain.example");
  xs2s_config_set_require_valid_cert(cfg, 0);
  xs2s_config_add_listener(cfg, "127.0.0.1:0", XS2S_LISTEN_DIRECT_TLS);
  EXPECT_CHECK(cfg, XS2S_ERR_CONFIG, "direct-TLS listener 127.0.0.1:0");

  /* Valid certificates required while TLS is off, or with no trust. */
  xs2s_config *c2 = cfg_new();
  xs2s_config_add_domain(c2, "a.example", cert, NULL);
  xs2s_config_set_tls_mode(c2, XS2S_TLS_OFF);
  xs2s_config_set_require_valid_cert(c2, 1);
  EXPECT_CHECK(c2, XS2S_ERR_CONFIG, "a valid certificate is required but TLS");
  xs2s_config_set_tls_mode(c2, XS2S_TLS_OPTIONAL);
  EXPECT_CHECK(c2, 0, "");
  xs2s_config_set_remote_policy(c2, "old.example", XS2S_TLS_OFF, -1);
  EXPECT_CHECK(c2, XS2S_ERR_CONFIG,
               "a valid certificate is required from old.example");
  xs2s_config_set_remote_policy(c2, "old.example", XS2S_TLS_OFF, 0);
  EXPECT_CHECK(c2, 0, "");
  xs2s_config_set_tls_mode(c2, XS2S_TLS_OFF);
  xs2s_config_set_require_valid_cert(c2, 0);
  xs2s_config_set_remote_policy(c2, "strict.example", XS2S_TLS_INHERIT, 1);
  EXPECT_CHECK(c2, XS2S_ERR_CONFIG,
               "a valid certificate is required from strict.example");
  xs2s_config_set_remote_policy(c2, "strict.example", XS2S_TLS_OPTIONAL, 1);
  EXPECT_CHECK(c2, 0, "");
  xs2s_config_set_remote_policy(c2, "strict.example", XS2S_TLS_INHERIT, -1);
  xs2s_config_set_tls_mode(c2, XS2S_TLS_OPTIONAL);
  xs2s_config_set_require_valid_cert(c2, 1);
  xs2s_config_set_system_trust(c2, 0);
  EXPECT_CHECK(c2, XS2S_ERR_CONFIG, "valid certificates are required but no CA");
  xs2s_config_set_ca_file(c2, cert);
  EXPECT_CHECK(c2, 0, "");
  xs2s_config_set_require_valid_cert(c2, 0);
  xs2s_config_set_ca_file(c2, NULL);
  EXPECT_CHECK(c2, 0, ""); /* no requirement, no trust needed */
  xs2s_config_set_remote_policy(c2, "strict.example", XS2S_TLS_INHERIT, 1);
  EXPECT_CHECK(c2, XS2S_ERR_CONFIG, "valid certificates are required");

  /* Files that cannot be read. */
  xs2s_config *c3 = cfg_new();
  xs2s_config_add_domain(c3, "a.example", "/nonexistent/cert.pem", NULL);
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG,
               "cannot read certificate file /nonexistent/cert.pem of "
               "a.example");
  xs2s_config_free(c3);
  c3 = cfg_new();
  xs2s_config_add_domain(c3, "a.example", cert, "/nonexistent/key.pem");
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "cannot read key file /nonexistent/key.pem");
  xs2s_config_free(c3);
  c3 = cfg_new();
  xs2s_config_add_domain(c3, "a.example", NULL, NULL);
  xs2s_config_set_crl_file(c3, "/nonexistent/crl.pem");
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "cannot read CRL file /nonexistent/crl.pem");
  xs2s_config_set_crl_file(c3, NULL);
  xs2s_config_set_resolv_conf(c3, "/nonexistent/resolv.conf");
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "cannot read resolv.conf file");
  xs2s_config_set_resolv_conf(c3, NULL);
  xs2s_config_set_unbound_config(c3, "/nonexistent/unbound.conf");
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "cannot read unbound configuration file");
  xs2s_config_set_unbound_config(c3, NULL);
  xs2s_config_set_ca_file(c3, "/nonexistent/ca.pem");
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "cannot read CA file");
  xs2s_config_set_ca_file(c3, NULL);
  EXPECT_CHECK(c3, 0, "");

  /* Routes that contradict other settings. */
  xs2s_config_add_route(c3, "A.example", "192.0.2.1", 0);
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "static route for local domain a.example");
  xs2s_config_free(c3);
  c3 = cfg_new();
  xs2s_config_add_domain(c3, "a.example", NULL, NULL);
  xs2s_config_add_route(c3, "partner.example", "192.0.2.1", 0);
  xs2s_config_add_privacy_domain(c3, XS2S_PRIVACY_DENY_LIST, "partner.example");
  EXPECT_CHECK(c3, 0, ""); /* deny list not in force */
  xs2s_config_set_privacy_mode(c3, XS2S_PRIVACY_DENY_LIST);
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "partner.example is on the deny list");
  xs2s_config_set_privacy_mode(c3, XS2S_PRIVACY_ALLOW_LIST);
  EXPECT_CHECK(c3, 0, "");

  /* Numbers that contradict each other. */
  xs2s_config_set_limit(c3, XS2S_LIMIT_QUEUE_BYTES, 4096);
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG,
               "queue-bytes (4096) is smaller than stanza-bytes (262144)");
  xs2s_config_set_limit(c3, XS2S_LIMIT_STANZA_BYTES, 4096);
  EXPECT_CHECK(c3, 0, "");
  xs2s_config_set_timeout(c3, XS2S_TIMEOUT_RETRY_MIN, 10000);
  xs2s_config_set_timeout(c3, XS2S_TIMEOUT_RETRY_MAX, 5000);
  EXPECT_CHECK(c3, XS2S_ERR_CONFIG, "retry-min (10000 ms) exceeds retry-max");

  /* The message is cut to the buffer and NUL-terminated; NULL is fine. */
  char small[8];
  CHECK_INT(xs2s_config_check(c3, small, sizeof(small)), XS2S_ERR_CONFIG);
  CHECK_STR(small, "retry-m");
  CHECK_INT(xs2s_config_check(c3, NULL, 0), XS2S_ERR_CONFIG);

  xs2s_config_free(c3);
  xs2s_config_free(c2);
  xs2s_config_free(cfg);
  unlink(cert);
  unlink(key);
}

/* Builds a config that uses every setter. Returns the first error. */
static int build_full(xs2s_config *cfg) {
  int rc = 0;
#define TRY(call)                                                              \
  if (rc == 0)                                                                 \
  rc = (call)
  TRY(xs2s_config_add_domain(cfg, "a.example", "/a.pem", "/a.key"));
  TRY(xs2s_config_add_domain(cfg, "b.example", NULL, NULL));
  TRY(xs2s_config_set_ca_file(cfg, "/ca.pem"));
  TRY(xs2s_config_set_crl_file(cfg, "/crl.pem"));
  TRY(xs2s_config_set_tls_priority(cfg, "NORMAL"));
  TRY(xs2s_config_set_system_trust(cfg, 0));
  TRY(xs2s_config_set_dialback_secret(cfg, "cluster-secret"));
  TRY(xs2s_config_set_tls_mode(cfg, XS2S_TLS_REQUIRED));
  TRY(xs2s_config_set_require_valid_cert(cfg, 1));
  TRY(xs2s_config_set_remote_policy(cfg, "old.example", XS2S_TLS_OPTIONAL, 0));
  TRY(xs2s_config_set_privacy_mode(cfg, XS2S_PRIVACY_ALLOW_LIST));
  TRY(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_ALLOW_LIST,
                                     "friend.example"));
  TRY(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_DENY_LIST,
                                     "foe.example"));
  TRY(xs2s_config_add_route(cfg, "partner.example", "[2001:db8::7]:5299",
                            XS2S_ROUTE_DIRECT_TLS));
  TRY(xs2s_config_add_route(cfg, "partner.example", "relay.example", 0));
  TRY(xs2s_config_set_unbound_config(cfg, "/ub.conf"));
  TRY(xs2s_config_set_resolv_conf(cfg, "/resolv.conf"));
  TRY(xs2s_config_set_limit(cfg, XS2S_LIMIT_CONNECTIONS, 77));
  TRY(xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_KEEPALIVE, 0));
  TRY(xs2s_config_add_listener(cfg, "[::1]:5269", XS2S_LISTEN_REUSEPORT));
  TRY(xs2s_config_add_listener(cfg, "127.0.0.1:0", 0));
#undef TRY
  return rc;
}

/* Compares two configs through the getters. */
static void check_same(const xs2s_config *a, const xs2s_config *b) {
  CHECK_INT(xs2s_config_domain_count(a), xs2s_config_domain_count(b));
  for (size_t i = 0; i < xs2s_config_domain_count(a); i++) {
    const char *ca, *ka, *cb, *kb;
    CHECK_STR(xs2s_config_domain_at(a, i, &ca, &ka),
              xs2s_config_domain_at(b, i, &cb, &kb));
    CHECK((ca == NULL) == (cb == NULL) && (!ca || strcmp(ca, cb) == 0));
    CHECK((ka == NULL) == (kb == NULL) && (!ka || strcmp(ka, kb) == 0));
  }
  CHECK_STR(xs2s_config_ca_file(a), xs2s_config_ca_file(b));
  CHECK_STR(xs2s_config_crl_file(a), xs2s_config_crl_file(b));
  CHECK_STR(xs2s_config_tls_priority(a), xs2s_config_tls_priority(b));
  CHECK_INT(xs2s_config_system_trust(a), xs2s_config_system_trust(b));
  CHECK_STR(xs2s_config_dialback_secret(a), xs2s_config_dialback_secret(b));
  CHECK_INT(xs2s_config_tls_mode(a), xs2s_config_tls_mode(b));
  CHECK_INT(xs2s_config_require_valid_cert(a),
            xs2s_config_require_valid_cert(b));
  CHECK_INT(xs2s_config_remote_policy_count(a),
            xs2s_config_remote_policy_count(b));
  xs2s_tls_mode ma, mb;
  int ra, rb;
  CHECK_STR(xs2s_config_remote_policy_at(a, 0, &ma, &ra),
            xs2s_config_remote_policy_at(b, 0, &mb, &rb));
  CHECK_INT(ma, mb);
  CHECK_INT(ra, rb);
  CHECK_INT(xs2s_config_privacy_mode(a), xs2s_config_privacy_mode(b));
  CHECK_STR(xs2s_config_privacy_domain_at(a, XS2S_PRIVACY_ALLOW_LIST, 0),
            xs2s_config_privacy_domain_at(b, XS2S_PRIVACY_ALLOW_LIST, 0));
  CHECK_STR(xs2s_config_privacy_domain_at(a, XS2S_PRIVACY_DENY_LIST, 0),
            xs2s_config_privacy_domain_at(b, XS2S_PRIVACY_DENY_LIST, 0));
  CHECK_INT(xs2s_config_route_count(a, "partner.example"),
            xs2s_config_route_count(b, "partner.example"));
  for (size_t i = 0; i < xs2s_config_route_count(a, "partner.example"); i++) {
    xs2s_route x, y;
    xs2s_config_route_at(a, "partner.example", i, &x);
    xs2s_config_route_at(b, "partner.example", i, &y);
    CHECK_STR(x.host, y.host);
    CHECK_INT(x.port, y.port);
    CHECK_INT(x.flags, y.flags);
  }
  CHECK_STR(xs2s_config_unbound_config(a), xs2s_config_unbound_config(b));
  CHECK_STR(xs2s_config_resolv_conf(a), xs2s_config_resolv_conf(b));
  for (int i = 0; i < XS2S_LIMIT_COUNT_; i++)
    CHECK_INT(xs2s_config_limit(a, (xs2s_limit)i),
              xs2s_config_limit(b, (xs2s_limit)i));
  for (int i = 0; i < XS2S_TIMEOUT_COUNT_; i++)
    CHECK_INT(xs2s_config_timeout(a, (xs2s_timeout)i),
              xs2s_config_timeout(b, (xs2s_timeout)i));
  CHECK_INT(xs2s_config_listener_count(a), xs2s_config_listener_count(b));
  for (size_t i = 0; i < xs2s_config_listener_count(a); i++) {
    unsigned fa, fb;
    CHECK_STR(xs2s_config_listener_at(a, i, &fa),
              xs2s_config_listener_at(b, i, &fb));
    CHECK_INT(fa, fb);
  }
}

static void test_copy(void) {
  xs2s_config *cfg = cfg_new();
  CHECK_INT(build_full(cfg), 0);
  xs2s_config *copy = xs2s_config_copy(cfg);
  CHECK(copy != NULL);
  check_same(cfg, copy);
  /* The copy is independent of the original. */
  xs2s_config_set_dialback_secret(cfg, "changed");
  xs2s_config_free(cfg);
  CHECK_STR(xs2s_config_dialback_secret(copy), "cluster-secret");
  CHECK_INT(xs2s_config_is_local(copy, "a.example"), 1);
  xs2s_config_free(copy);
}

/* An allocator that fails after a budget of allocations. */
typedef struct budget {
  long left;
  long live;
} budget;
static void *b_malloc(size_t n, void *ud) {
  budget *b = ud;
  if (b->left-- <= 0)
    return NULL;
  void *p = malloc(n);
  b->live += p != NULL;
  return p;
}
static void *b_realloc(void *p, size_t n, void *ud) {
  budget *b = ud;
  if (b->left-- <= 0)
    return NULL;
  void *q = realloc(p, n);
  b->live += q != NULL && p == NULL;
  return q;
}
static void b_free(void *p, void *ud) {
  budget *b = ud;
  b->live -= p != NULL;
  free(p);
}

static void test_out_of_memory(void) {
  /* Every allocation failure is reported as XS2S_ERR_NOMEM (or NULL), and
   * nothing leaks, whichever allocation fails. */
  int completed = 0;
  for (long n = 0; n < 400 && !completed; n++) {
    budget b = {n, 0};
    xs2s_mem mem = {b_malloc, b_realloc, b_free, &b};
    xs2s_config *cfg = xs2s_config_new(&mem);
    if (!cfg) {
      CHECK_INT(b.live, 0);
      continue;
    }
    int rc = build_full(cfg);
    CHECK(rc == 0 || rc == XS2S_ERR_NOMEM);
    if (rc == 0) {
      xs2s_config *copy = xs2s_config_copy(cfg);
      if (copy) {
        check_same(cfg, copy);
        completed = 1;
      }
      xs2s_config_free(copy);
    }
    xs2s_config_free(cfg);
    CHECK_INT(b.live, 0);
  }
  CHECK(completed);
}

int main(void) {
  RUN(test_defaults);
  RUN(test_domains);
  RUN(test_trust_and_strings);
  RUN(test_security);
  RUN(test_privacy);
  RUN(test_routes);
  RUN(test_limits_and_timeouts);
  RUN(test_listeners);
  RUN(test_check);
  RUN(test_copy);
  RUN(test_out_of_memory);
  return check_finish();
}
