/*
 * test_domain.c: the canonical form of a domain name.
 */
#include <string.h>

#include <xs2s/common.h>

#include "check.h"
#include "domain.h"

static const char *norm(const char *in) {
  static char out[XS2S__DOMAIN_MAX + 1];
  if (xs2s__domain_normalize(in, strlen(in), out) < 0)
    return "(invalid)";
  return out;
}

static void test_ascii(void) {
  CHECK_STR(norm("Example.COM"), "example.com");
  CHECK_STR(norm("example.com."), "example.com");
  CHECK_STR(norm("a-b.c0"), "a-b.c0");
  CHECK_STR(norm("192.0.2.1"), "192.0.2.1");
  CHECK_STR(norm("[2001:DB8:0:0::1]"), "[2001:db8::1]");
  CHECK_STR(norm("xn--bcher-kva.test"), "xn--bcher-kva.test");
}

static void test_idn(void) {
  /* U-labels become A-labels; UTS #46 folds the case of non-ASCII too. */
  CHECK_STR(norm("b\xc3\xbc" "cher.test"), "xn--bcher-kva.test");
  CHECK_STR(norm("B\xc3\x9c" "CHER.Test."), "xn--bcher-kva.test");
  CHECK_STR(norm("\xe4\xbe\x8b\xe3\x81\x88.test"), "xn--r8jz45g.test");
  CHECK(xs2s__domain_equal("b\xc3\xbc" "cher.test", "XN--BCHER-KVA.test"));
  CHECK(!xs2s__domain_equal("b\xc3\xbc" "cher.test", "bucher.test"));
  CHECK(!xs2s__domain_equal("bad..test", "bad..test"));
  CHECK(!xs2s__domain_equal(NULL, "a.test"));
}

static void test_invalid(void) {
  static const char *const bad[] = {
      "", ".", "a..b", "-a.test", "a-.test", "a_b.test", "a b.test",
      "[::1", "[not-an-address]", "b\xc3" "cher.test", /* broken UTF-8 */
      "a@b.test", "a/b.test",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char out[XS2S__DOMAIN_MAX + 1];
    CHECK_INT(xs2s__domain_normalize(bad[i], strlen(bad[i]), out),
              XS2S_ERR_INVALID_ARGUMENT);
  }
  /* A U-label whose A-label passes 63 bytes is refused too. */
  char label[200];
  memset(label, 'a', 60);
  strcpy(label + 60, "\xc3\xbc.test");
  CHECK_STR(norm(label), "(invalid)");
}

static void test_host(void) {
  char out[XS2S__DOMAIN_MAX + 1];
  CHECK_INT(xs2s__domain_normalize_host("b\xc3\xbc" "cher.test", out), 0);
  CHECK_STR(out, "xn--bcher-kva.test");
  CHECK_INT(xs2s__domain_normalize_host("[::1]", out),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__domain_normalize_host(NULL, out), XS2S_ERR_INVALID_ARGUMENT);
}

int main(void) {
  RUN(test_ascii);
  RUN(test_idn);
  RUN(test_invalid);
  RUN(test_host);
  return check_finish();
}
