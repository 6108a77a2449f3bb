/*
 * test_identity.c: RFC 6125 / RFC 7590 name matching, without certificates.
 */
#include <string.h>

#include <xs2s/tls.h>

#include "check.h"

#define N(arr) (sizeof(arr) / sizeof((arr)[0]))

static int match1(xs2s_tls_name_type type, const char *value,
                  const char *domain) {
  xs2s_tls_name n = {type, value};
  return xs2s_tls_match_name(&n, 1, domain);
}

static int dns(const char *value, const char *domain) {
  return match1(XS2S_TLS_NAME_DNS, value, domain);
}

static void test_exact(void) {
  CHECK_INT(dns("example.com", "example.com"), XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("example.com", "www.example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("www.example.com", "example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("example.com", "example.org"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("example.com", "xample.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("example.com", "example.co"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("example.co", "example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("", "example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns(".", "example.com"), XS2S_TLS_MATCH_NONE);
}

static void test_case_and_trailing_dot(void) {
  CHECK_INT(dns("example.com", "EXAMPLE.Com"), XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("ExAmPlE.CoM", "example.com"), XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("example.com", "example.com."), XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("example.com.", "example.com"), XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("example.com.", "Example.Com."), XS2S_TLS_MATCH_DNSNAME);
  /* Only one trailing dot is the root; two is an empty label. */
  CHECK_INT(dns("example.com", "example.com.."), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(dns("example.com..", "example.com"), XS2S_TLS_MATCH_NONE);
}

static void test_wildcard(void) {
  CHECK_INT(dns("*.example.com", "a.example.com"), XS2S_TLS_MATCH_WILDCARD);
  CHECK_INT(dns("*.example.com", "XMPP.Example.COM."),
            XS2S_TLS_MATCH_WILDCARD);
  CHECK_INT(dns("*.EXAMPLE.com.", "a.example.com"), XS2S_TLS_MATCH_WILDCARD);
  /* Exactly one label, never the parent itself. */
  CHECK_INT(dns("*.example.com", "example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*.example.com", "a.b.example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*.example.com", "a.example.org"), XS2S_TLS_MATCH_NONE);
  /* The wildcard must be the whole left-most label. */
  CHECK_INT(dns("f*.example.com", "foo.example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*o.example.com", "foo.example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("a.*.example.com", "a.b.example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*.*.example.com", "a.b.example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*example.com", "aexample.com"), XS2S_TLS_MATCH_NONE);
  /* Not a whole top-level domain, not everything. */
  CHECK_INT(dns("*.com", "example.com"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*", "example"), XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("*.", "example"), XS2S_TLS_MATCH_NONE);
  /* A domain is never itself a pattern. */
  CHECK_INT(dns("*.example.com", "*.example.com"), XS2S_ERR_INVALID_ARGUMENT);
  /* Wildcards apply to dNSName only. */
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpp-server.*.example.com",
                   "a.example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "*.example.com", "a.example.com"),
            XS2S_TLS_MATCH_NONE);
}

static void test_srvname(void) {
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpp-server.example.com",
                   "example.com"),
            XS2S_TLS_MATCH_SRVNAME);
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_XMPP-Server.Example.COM.",
                   "example.com"),
            XS2S_TLS_MATCH_SRVNAME);
  /* The client service does not identify a server. */
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpp-client.example.com",
                   "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpps-server.example.com",
                   "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpp-server.example.com",
                   "sub.example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpp-server", "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "_xmpp-server.", "example.com"),
            XS2S_TLS_MATCH_NONE);
  /* An SRVName is not a dNSName, nor the reverse. */
  CHECK_INT(match1(XS2S_TLS_NAME_SRV, "example.com", "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(dns("_xmpp-server.example.com", "example.com"),
            XS2S_TLS_MATCH_NONE);
}

static void test_xmppaddr(void) {
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "example.com", "example.com"),
            XS2S_TLS_MATCH_XMPPADDR);
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "Example.COM", "example.com."),
            XS2S_TLS_MATCH_XMPPADDR);
  /* A server is a bare domain: local parts and resources never match. */
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "user@example.com", "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "example.com/res", "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "other.com", "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "", "example.com"),
            XS2S_TLS_MATCH_NONE);
}

static void test_idn(void) {
  /* Everything is compared as A-labels: bücher.example is
   * xn--bcher-kva.example. */
  CHECK_INT(dns("xn--bcher-kva.example", "b\xc3\xbc" "cher.example"),
            XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("xn--bcher-kva.example", "XN--BCHER-KVA.example"),
            XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(dns("*.xn--bcher-kva.example", "a.b\xc3\xbc" "cher.example"),
            XS2S_TLS_MATCH_WILDCARD);
  /* xmppAddr carries UTF-8 (U-labels); it is mapped to A-labels too. */
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "b\xc3\xbc" "cher.example",
                   "xn--bcher-kva.example"),
            XS2S_TLS_MATCH_XMPPADDR);
  CHECK_INT(match1(XS2S_TLS_NAME_XMPPADDR, "B\xc3\x9c" "CHER.example",
                   "b\xc3\xbc" "cher.example"),
            XS2S_TLS_MATCH_XMPPADDR);
  /* A dNSName must already be in A-labels; raw UTF-8 in one is junk. */
  CHECK_INT(dns("b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example"),
            XS2S_TLS_MATCH_NONE);
  /* Invalid UTF-8 is not a domain. */
  CHECK_INT(dns("example.com", "ex\xff.com"), XS2S_ERR_INVALID_ARGUMENT);
}

static void test_no_cn_fallback(void) {
  CHECK_INT(match1(XS2S_TLS_NAME_CN, "example.com", "example.com"),
            XS2S_TLS_MATCH_NONE);
  xs2s_tls_name with_sans[] = {{XS2S_TLS_NAME_DNS, "other.com"},
                               {XS2S_TLS_NAME_CN, "example.com"}};
  CHECK_INT(xs2s_tls_match_name(with_sans, N(with_sans), "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(match1(XS2S_TLS_NAME_OTHER, "example.com", "example.com"),
            XS2S_TLS_MATCH_NONE);
  CHECK_INT(xs2s_tls_match_name(NULL, 0, "example.com"), XS2S_TLS_MATCH_NONE);
}

static void test_several_names(void) {
  /* The most specific kind wins whatever the order of the SANs. */
  xs2s_tls_name names[] = {{XS2S_TLS_NAME_XMPPADDR, "example.com"},
                           {XS2S_TLS_NAME_SRV, "_xmpp-server.example.com"},
                           {XS2S_TLS_NAME_DNS, "*.example.com"},
                           {XS2S_TLS_NAME_DNS, "example.com"},
                           {XS2S_TLS_NAME_DNS, "b.test"}};
  CHECK_INT(xs2s_tls_match_name(names, N(names), "example.com"),
            XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(xs2s_tls_match_name(names, 3, "example.com"),
            XS2S_TLS_MATCH_SRVNAME);
  CHECK_INT(xs2s_tls_match_name(names, 1, "example.com"),
            XS2S_TLS_MATCH_XMPPADDR);
  CHECK_INT(xs2s_tls_match_name(names, N(names), "a.example.com"),
            XS2S_TLS_MATCH_WILDCARD);
  CHECK_INT(xs2s_tls_match_name(names, N(names), "b.test"),
            XS2S_TLS_MATCH_DNSNAME);
  CHECK_INT(xs2s_tls_match_name(names, N(names), "c.test"),
            XS2S_TLS_MATCH_NONE);
  xs2s_tls_name null_value = {XS2S_TLS_NAME_DNS, NULL};
  CHECK_INT(xs2s_tls_match_name(&null_value, 1, "example.com"),
            XS2S_TLS_MATCH_NONE);
}

static void test_bad_domains(void) {
  static const char *bad[] = {
      "", ".", "..", "a..b", ".example.com", "exa mple.com", "a_b.com",
      "example.com/x", "user@example.com",
      /* a label of 64 bytes */
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"};
  for (size_t i = 0; i < N(bad); i++)
    CHECK_INT(dns("example.com", bad[i]), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(dns("example.com", NULL), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_tls_match_name(NULL, 1, "example.com"),
            XS2S_ERR_INVALID_ARGUMENT);
  /* 63-byte labels are fine; 254 bytes in all are not. */
  char name[300];
  memset(name, 'a', 63);
  strcpy(name + 63, ".com");
  CHECK_INT(dns(name, name), XS2S_TLS_MATCH_DNSNAME);
  for (int i = 0; i < 4; i++)
    memcpy(name + 64 * i, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.",
           64);
  name[254] = '\0';
  name[253] = 'a';
  CHECK_INT(dns("example.com", name), XS2S_ERR_INVALID_ARGUMENT);
  name[253] = '\0';
  CHECK_INT(dns(name, name), XS2S_TLS_MATCH_DNSNAME);
}

static void test_match_names(void) {
  CHECK_STR(xs2s_tls_name_match_name(XS2S_TLS_MATCH_NONE), "none");
  CHECK_STR(xs2s_tls_name_match_name(XS2S_TLS_MATCH_DNSNAME), "dnsname");
  CHECK_STR(xs2s_tls_name_match_name(XS2S_TLS_MATCH_WILDCARD), "wildcard");
  CHECK_STR(xs2s_tls_name_match_name(XS2S_TLS_MATCH_SRVNAME), "srvname");
  CHECK_STR(xs2s_tls_name_match_name(XS2S_TLS_MATCH_XMPPADDR), "xmppaddr");
  CHECK_STR(xs2s_tls_name_match_name(XS2S_TLS_MATCH_DANE), "dane");
  CHECK_STR(xs2s_tls_name_match_name(99), "unknown");
}

int main(void) {
  RUN(test_exact);
  RUN(test_case_and_trailing_dot);
  RUN(test_wildcard);
  RUN(test_srvname);
  RUN(test_xmppaddr);
  RUN(test_idn);
  RUN(test_no_cn_fallback);
  RUN(test_several_names);
  RUN(test_bad_domains);
  RUN(test_match_names);
  return check_finish();
}
