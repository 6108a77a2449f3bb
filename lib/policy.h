/*
 * policy.h: what the configuration says about one remote domain
 * (internal). Pure functions over an xs2s_config; O(1) per question.
 *
 * Rules (DESIGN.md "Policy as the deployment guides know it"):
 *  - a domain with static routes is always allowed, and is reached only
 *    through its routes, never through DNS SRV;
 *  - otherwise privacy mode off allows every domain, allow-list mode only
 *    listed ones, deny-list mode every domain but listed ones (exact
 *    names, ASCII case ignored, subdomains not included);
 *  - the TLS mode and the valid-certificate requirement come from the
 *    domain's override when it sets them, else from the global settings;
 *    requiring a valid certificate makes TLS required, since a
 *    certificate is only seen over TLS.
 */
#ifndef XS2S_POLICY_H
#define XS2S_POLICY_H

#include <stddef.h>

#include <xs2s/xs2s.h>

/* Everything the engine needs to decide about one remote domain. */
typedef struct xs2s__remote_policy {
  int allowed;               /* 1: may be talked to */
  xs2s_tls_mode tls_mode;    /* REQUIRED, OPTIONAL or OFF */
  int require_valid_cert;    /* 1: dialback alone is not enough */
  const xs2s_route *routes;  /* static route targets, NULL: use DNS */
  size_t route_count;
} xs2s__remote_policy;

/* The policy for a domain already in normal form (xs2s__domain_normalize)
 * of @len bytes. Never fails. */
void xs2s__policy_lookup_norm(const xs2s_config *cfg, const char *domain,
                              size_t len, xs2s__remote_policy *out);

/* The policy for a domain in any spelling. Returns 0, or
 * XS2S_ERR_INVALID_ARGUMENT for a malformed domain (then *@out is the
 * policy of a domain that may not be talked to). */
int xs2s__policy_lookup(const xs2s_config *cfg, const char *domain,
                        xs2s__remote_policy *out);

/* 0 when the domain may be talked to, XS2S_ERR_POLICY when privacy mode
 * forbids it, XS2S_ERR_INVALID_ARGUMENT when it is malformed. */
int xs2s__policy_may_talk(const xs2s_config *cfg, const char *domain);

/* The effective TLS mode for a domain (REQUIRED, OPTIONAL or OFF). A
 * malformed domain gets the global mode. */
xs2s_tls_mode xs2s__policy_tls_mode(const xs2s_config *cfg,
                                    const char *domain);

/* 1 when a valid certificate is required from the domain, else 0. */
int xs2s__policy_require_valid_cert(const xs2s_config *cfg,
                                    const char *domain);

/* The static route targets of a domain (in the order to try them) and
 * their number in *@count; NULL with *@count 0 when the domain has none. */
const xs2s_route *xs2s__policy_routes(const xs2s_config *cfg,
                                      const char *domain, size_t *count);

#endif /* XS2S_POLICY_H */
