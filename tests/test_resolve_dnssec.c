/*
 * DNSSEC through the resolver, against the signed and unsigned zones that
 * tests/dnssec-knot.sh serves with Knot DNS on loopback: secure answers
 * with TLSA records for DANE, insecure answers, and bogus ones refused.
 *
 *   test_resolve_dnssec UNBOUND-CONF
 */
#include <stdlib.h>

#include <xs2s/resolve.h>

#include "check.h"
#include "rng.h"

static xs2s_resolver *resolver;

static void on_result(const xs2s_resolve_result *res, void *ud) {
  xs2s_resolve_result **out = ud;
  CHECK_INT(xs2s_resolve_result_copy(res, NULL, out), 0);
}

static xs2s_resolve_result *resolve(const char *domain) {
  xs2s_resolve_result *res = NULL;
  CHECK_INT(xs2s_resolve(resolver, domain, on_result, &res, NULL), 0);
  CHECK_INT(xs2s_resolver_wait(resolver, 20000), 0);
  CHECK(res != NULL);
  if (!res) {
    static const xs2s_resolve_result none = {.error = XS2S_ERR_INTERNAL};
    xs2s_resolve_result_copy(&none, NULL, &res);
  }
  return res;
}

static const xs2s_resolve_candidate *by_port(const xs2s_resolve_result *res,
                                             uint16_t port) {
  for (size_t i = 0; i < res->ncandidates; i++)
    if (res->candidates[i].port == port)
      return &res->candidates[i];
  CHECK(!"no candidate on that port");
  static const xs2s_resolve_candidate none = {.host = "", .error = -1};
  return &none;
}

static void test_secure(void) {
  xs2s_resolve_result *res = resolve("secure.test");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_SRV);
  CHECK_INT(res->ncandidates, 2);
  CHECK(res->why_bogus == NULL);

  const xs2s_resolve_candidate *c = by_port(res, 5269);
  CHECK_STR(c->host, "xmpp.secure.test");
  CHECK_INT(c->tls, XS2S_RESOLVE_TLS_STARTTLS);
  CHECK_INT(c->dnssec, XS2S_DNSSEC_SECURE);
  CHECK_INT(c->error, 0);
  CHECK_INT(c->naddrs, 2);
  if (c->naddrs == 2)
    CHECK_INT(c->addrs[0].sa.sa_family, AF_INET6);
  CHECK_INT(c->tlsa_checked, 1);
  CHECK_INT(c->tlsa_dnssec, XS2S_DNSSEC_SECURE);
  CHECK_INT(c->ntlsa, 1);
  if (c->ntlsa == 1) {
    static const unsigned char want[32] = {
        0x8c, 0xb0, 0xfc, 0x6c, 0x52, 0x75, 0x06, 0xa0, 0x53, 0xf4, 0xf1,
        0x4c, 0x84, 0x64, 0xbe, 0xbb, 0xd6, 0xde, 0xde, 0x27, 0x38, 0xd1,
        0x14, 0x68, 0xdd, 0x95, 0x3d, 0x7d, 0x6a, 0x30, 0x21, 0xf1};
    CHECK_INT(c->tlsa[0].usage, 3);
    CHECK_INT(c->tlsa[0].selector, 1);
    CHECK_INT(c->tlsa[0].matching_type, 1);
    CHECK_INT(c->tlsa[0].len, 32);
    CHECK(c->tlsa[0].len == 32 && memcmp(c->tlsa[0].data, want, 32) == 0);
  }

  /* Direct TLS on 5223: secure too, and a proven absence of TLSA. */
  c = by_port(res, 5223);
  CHECK_INT(c->tls, XS2S_RESOLVE_TLS_DIRECT);
  CHECK_INT(c->dnssec, XS2S_DNSSEC_SECURE);
  CHECK_INT(c->tlsa_checked, 1);
  CHECK_INT(c->tlsa_dnssec, XS2S_DNSSEC_SECURE);
  CHECK_INT(c->ntlsa, 0);
  CHECK_INT(c->error, 0);
  xs2s_resolve_result_free(res);
}

static void test_secure_fallback(void) {
  /* The SRV names are proven absent, the address is signed: DANE applies
   * to the domain itself on 5269. */
  xs2s_resolve_result *res = resolve("fb.secure.test");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_FALLBACK);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1) {
    const xs2s_resolve_candidate *c = &res->candidates[0];
    CHECK_INT(c->dnssec, XS2S_DNSSEC_SECURE);
    CHECK_INT(c->tlsa_checked, 1);
    CHECK_INT(c->ntlsa, 1);
    CHECK_INT(c->naddrs, 1);
  }
  xs2s_resolve_result_free(res);

  res = resolve("nothing.secure.test");
  CHECK_INT(res->error, XS2S_ERR_DNS_NXDOMAIN);
  CHECK_INT(res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  xs2s_resolve_result_free(res);
}

static void test_insecure(void) {
  xs2s_resolve_result *res = resolve("insecure.test");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1) {
    const xs2s_resolve_candidate *c = &res->candidates[0];
    CHECK_INT(c->dnssec, XS2S_DNSSEC_INSECURE);
    /* Unsigned: its TLSA record is not even looked up. */
    CHECK_INT(c->tlsa_checked, 0);
    CHECK_INT(c->ntlsa, 0);
    CHECK_INT(c->naddrs, 1);
  }
  xs2s_resolve_result_free(res);

  /* A signed SRV record pointing into the unsigned zone: the chain is
   * only as strong as its weakest answer. */
  res = resolve("mixed.secure.test");
  CHECK_INT(res->error, 0);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1) {
    CHECK_STR(res->candidates[0].host, "xmpp.insecure.test");
    CHECK_INT(res->candidates[0].dnssec, XS2S_DNSSEC_INSECURE);
    CHECK_INT(res->candidates[0].tlsa_checked, 0);
  }
  xs2s_resolve_result_free(res);
}

static void test_bogus(void) {
  /* The SRV answer itself is bogus: refused. */
  xs2s_resolve_result *res = resolve("bogus.test");
  CHECK_INT(res->error, XS2S_ERR_DNSSEC_BOGUS);
  CHECK_INT(res->condition, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  CHECK_INT(res->ncandidates, 0);
  CHECK(res->why_bogus != NULL);
  if (res->why_bogus)
    printf("why bogus: %s\n", res->why_bogus);
  xs2s_resolve_result_free(res);

  /* A secure SRV record whose target's addresses are bogus. */
  res = resolve("tobogus.secure.test");
  CHECK_INT(res->error, XS2S_ERR_DNSSEC_BOGUS);
  CHECK_INT(res->source, XS2S_RESOLVE_SOURCE_SRV);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1) {
    CHECK_INT(res->candidates[0].error, XS2S_ERR_DNSSEC_BOGUS);
    CHECK_INT(res->candidates[0].naddrs, 0);
  }
  xs2s_resolve_result_free(res);

  /* Secure addresses, bogus TLSA: RFC 7673 forbids connecting. */
  res = resolve("danebad.secure.test");
  CHECK_INT(res->error, XS2S_ERR_DNSSEC_BOGUS);
  CHECK_INT(res->ncandidates, 1);
  if (res->ncandidates == 1) {
    const xs2s_resolve_candidate *c = &res->candidates[0];
    CHECK_INT(c->tlsa_checked, 1);
    CHECK_INT(c->tlsa_dnssec, XS2S_DNSSEC_BOGUS);
    CHECK_INT(c->error, XS2S_ERR_DNSSEC_BOGUS);
    CHECK_INT(c->naddrs, 0);
  }
  xs2s_resolve_result_free(res);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s UNBOUND-CONF (run by dnssec-knot.sh)\n",
            argv[0]);
    return 2;
  }
  uint64_t seed = 1;
  xs2s_resolver_options o = {0};
  o.unbound_conf = argv[1];
  o.random = test_rng;
  o.random_user_data = &seed;
  CHECK_INT(xs2s_resolver_new(&resolver, &o), 0);
  if (!resolver)
    return check_finish();
  RUN(test_secure);
  RUN(test_secure_fallback);
  RUN(test_insecure);
  RUN(test_bogus);
  xs2s_resolver_free(resolver);
  return check_finish();
}
