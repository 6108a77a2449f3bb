/* Policy decisions: privacy modes, static-route auto-allow, effective
 * security settings per remote domain, route lookup. */
#include <xs2s/xs2s.h>

#include "check.h"
#include "policy.h"

static xs2s_config *base(void) {
  xs2s_config *cfg = xs2s_config_new(NULL);
  CHECK(cfg != NULL);
  CHECK_INT(xs2s_config_add_domain(cfg, "home.example", NULL, NULL), 0);
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_ALLOW_LIST,
                                           "Friend.Example"),
            0);
  CHECK_INT(xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_DENY_LIST,
                                           "foe.example"),
            0);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example", "192.0.2.9:5299", 0),
            0);
  CHECK_INT(xs2s_config_add_route(cfg, "partner.example", "relay.example",
                                  XS2S_ROUTE_DIRECT_TLS),
            0);
  return cfg;
}

static void test_privacy_off(void) {
  xs2s_config *cfg = base();
  CHECK_INT(xs2s__policy_may_talk(cfg, "friend.example"), 0);
  CHECK_INT(xs2s__policy_may_talk(cfg, "foe.example"), 0);
  CHECK_INT(xs2s__policy_may_talk(cfg, "stranger.example"), 0);
  CHECK_INT(xs2s__policy_may_talk(cfg, "bad..example"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__policy_may_talk(cfg, NULL), XS2S_ERR_INVALID_ARGUMENT);
  xs2s_config_free(cfg);
}

static void test_allow_list(void) {
  xs2s_config *cfg = base();
  xs2s_config_set_privacy_mode(cfg, XS2S_PRIVACY_ALLOW_LIST);
  CHECK_INT(xs2s__policy_may_talk(cfg, "friend.example"), 0);
  /* Exact names, ASCII case and a trailing dot ignored. */
  CHECK_INT(xs2s__policy_may_talk(cfg, "FRIEND.example."), 0);
  CHECK_INT(xs2s__policy_may_talk(cfg, "sub.friend.example"), XS2S_ERR_POLICY);
  CHECK_INT(xs2s__policy_may_talk(cfg, "example"), XS2S_ERR_POLICY);
  CHECK_INT(xs2s__policy_may_talk(cfg, "stranger.example"), XS2S_ERR_POLICY);
  CHECK_INT(xs2s__policy_may_talk(cfg, "foe.example"), XS2S_ERR_POLICY);
  /* Static routes are allowed without being listed. */
  CHECK_INT(xs2s__policy_may_talk(cfg, "Partner.Example"), 0);
  xs2s_config_free(cfg);
}

static void test_deny_list(void) {
  xs2s_config *cfg = base();
  xs2s_config_set_privacy_mode(cfg, XS2S_PRIVACY_DENY_LIST);
  CHECK_INT(xs2s__policy_may_talk(cfg, "foe.example"), XS2S_ERR_POLICY);
  CHECK_INT(xs2s__policy_may_talk(cfg, "Foe.Example."), XS2S_ERR_POLICY);
  CHECK_INT(xs2s__policy_may_talk(cfg, "sub.foe.example"), 0);
  CHECK_INT(xs2s__policy_may_talk(cfg, "stranger.example"), 0);
  CHECK_INT(xs2s__policy_may_talk(cfg, "friend.example"), 0);
  /* A routed domain wins over the deny list (the check flags that). */
  xs2s_config_add_privacy_domain(cfg, XS2S_PRIVACY_DENY_LIST,
                                 "partner.example");
  CHECK_INT(xs2s__policy_may_talk(cfg, "partner.example"), 0);
  xs2s_config_free(cfg);
}

static void test_security(void) {
  xs2s_config *cfg = base();
  CHECK_INT(xs2s__policy_tls_mode(cfg, "any.example"), XS2S_TLS_OPTIONAL);
  CHECK_INT(xs2s__policy_require_valid_cert(cfg, "any.example"), 0);
  xs2s_config_set_tls_mode(cfg, XS2S_TLS_REQUIRED);
  xs2s_config_set_remote_policy(cfg, "legacy.example", XS2S_TLS_OFF, -1);
  xs2s_config_set_remote_policy(cfg, "strict.example", XS2S_TLS_INHERIT, 1);
  xs2s_config_set_remote_policy(cfg, "loose.example", XS2S_TLS_OPTIONAL, 1);
  CHECK_INT(xs2s__policy_tls_mode(cfg, "any.example"), XS2S_TLS_REQUIRED);
  CHECK_INT(xs2s__policy_tls_mode(cfg, "LEGACY.example"), XS2S_TLS_OFF);
  CHECK_INT(xs2s__policy_require_valid_cert(cfg, "legacy.example"), 0);
  CHECK_INT(xs2s__policy_tls_mode(cfg, "strict.example"), XS2S_TLS_REQUIRED);
  CHECK_INT(xs2s__policy_require_valid_cert(cfg, "strict.example"), 1);
  /* A valid certificate can only be seen over TLS. */
  CHECK_INT(xs2s__policy_tls_mode(cfg, "loose.example"), XS2S_TLS_REQUIRED);

  /* The global requirement applies unless an override says otherwise. */
  xs2s_config_set_require_valid_cert(cfg, 1);
  xs2s_config_set_tls_mode(cfg, XS2S_TLS_OPTIONAL);
  xs2s_config_set_remote_policy(cfg, "dialback-ok.example", XS2S_TLS_INHERIT,
                                0);
  CHECK_INT(xs2s__policy_require_valid_cert(cfg, "any.example"), 1);
  CHECK_INT(xs2s__policy_tls_mode(cfg, "any.example"), XS2S_TLS_REQUIRED);
  CHECK_INT(xs2s__policy_require_valid_cert(cfg, "dialback-ok.example"), 0);
  CHECK_INT(xs2s__policy_tls_mode(cfg, "dialback-ok.example"),
            XS2S_TLS_OPTIONAL);
  /* Malformed names get the global policy. */
  CHECK_INT(xs2s__policy_require_valid_cert(cfg, "bad..example"), 1);
  CHECK_INT(xs2s__policy_tls_mode(cfg, "bad..example"), XS2S_TLS_REQUIRED);
  xs2s_config_free(cfg);
}

static void test_routes(void) {
  xs2s_config *cfg = base();
  size_t n = 99;
  const xs2s_route *r = xs2s__policy_routes(cfg, "PARTNER.example", &n);
  CHECK_INT(n, 2);
  CHECK(r != NULL);
  if (r && n == 2) {
    CHECK_STR(r[0].host, "192.0.2.9");
    CHECK_INT(r[0].port, 5299);
    CHECK_STR(r[1].host, "relay.example");
    CHECK_INT(r[1].port, XS2S_DEFAULT_DIRECT_TLS_PORT);
    CHECK_INT(r[1].flags, XS2S_ROUTE_DIRECT_TLS);
  }
  CHECK(xs2s__policy_routes(cfg, "friend.example", &n) == NULL);
  CHECK_INT(n, 0);
  CHECK(xs2s__policy_routes(cfg, "bad..example", &n) == NULL);
  CHECK_INT(n, 0);
  xs2s_config_free(cfg);
}

static void test_lookup_all_at_once(void) {
  xs2s_config *cfg = base();
  xs2s_config_set_privacy_mode(cfg, XS2S_PRIVACY_ALLOW_LIST);
  xs2s__remote_policy p;
  CHECK_INT(xs2s__policy_lookup(cfg, "partner.example", &p), 0);
  CHECK_INT(p.allowed, 1);
  CHECK_INT(p.route_count, 2);
  CHECK_INT(p.tls_mode, XS2S_TLS_OPTIONAL);
  CHECK_INT(xs2s__policy_lookup(cfg, "stranger.example", &p), 0);
  CHECK_INT(p.allowed, 0);
  CHECK(p.routes == NULL);
  CHECK_INT(xs2s__policy_lookup(cfg, "a b", &p), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(p.allowed, 0);
  xs2s__policy_lookup_norm(cfg, "friend.example", 14, &p);
  CHECK_INT(p.allowed, 1);
  xs2s_config_free(cfg);
}

int main(void) {
  RUN(test_privacy_off);
  RUN(test_allow_list);
  RUN(test_deny_list);
  RUN(test_security);
  RUN(test_routes);
  RUN(test_lookup_all_at_once);
  return check_finish();
}
