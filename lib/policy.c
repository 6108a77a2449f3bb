/*
 * policy.c: privacy, security and routing decisions for a remote domain.
 */
#include "policy.h"

#include <string.h>

#include "config.h"

static int privacy_allows(const xs2s_config *cfg, const char *domain,
                          size_t len) {
  switch (cfg->privacy) {
  case XS2S_PRIVACY_ALLOW_LIST:
    return xs2s__dtab_get(&cfg->allow, domain, len) != NULL;
  case XS2S_PRIVACY_DENY_LIST:
    return xs2s__dtab_get(&cfg->deny, domain, len) == NULL;
  case XS2S_PRIVACY_OFF:
  default:
    return 1;
  }
}

void xs2s__policy_lookup_norm(const xs2s_config *cfg, const char *domain,
                              size_t len, xs2s__remote_policy *out) {
  const xs2s__cfg_route *route = xs2s__dtab_get(&cfg->routes, domain, len);
  const xs2s__cfg_remote *over = xs2s__dtab_get(&cfg->remotes, domain, len);
  out->routes = route ? route->targets : NULL;
  out->route_count = route ? route->count : 0;
  out->allowed = route != NULL || privacy_allows(cfg, domain, len);
  out->tls_mode = over && over->tls_mode != XS2S_TLS_INHERIT ? over->tls_mode
                                                             : cfg->tls_mode;
  out->require_valid_cert = over && over->require_valid_cert >= 0
                                ? over->require_valid_cert
                                : cfg->require_valid_cert;
  if (out->require_valid_cert)
    out->tls_mode = XS2S_TLS_REQUIRED;
}

int xs2s__policy_lookup(const xs2s_config *cfg, const char *domain,
                        xs2s__remote_policy *out) {
  char name[XS2S__DOMAIN_MAX + 1];
  int len = domain ? xs2s__domain_normalize(domain, strlen(domain), name)
                   : XS2S_ERR_INVALID_ARGUMENT;
  if (len < 0) {
    memset(out, 0, sizeof(*out));
    out->tls_mode = cfg->require_valid_cert ? XS2S_TLS_REQUIRED : cfg->tls_mode;
    out->require_valid_cert = cfg->require_valid_cert;
    return XS2S_ERR_INVALID_ARGUMENT;
  }
  xs2s__policy_lookup_norm(cfg, name, (size_t)len, out);
  return 0;
}

int xs2s__policy_may_talk(const xs2s_config *cfg, const char *domain) {
  xs2s__remote_policy p;
  int rc = xs2s__policy_lookup(cfg, domain, &p);
  if (rc < 0)
    return rc;
  return p.allowed ? 0 : XS2S_ERR_POLICY;
}

xs2s_tls_mode xs2s__policy_tls_mode(const xs2s_config *cfg,
                                    const char *domain) {
  xs2s__remote_policy p;
  xs2s__policy_lookup(cfg, domain, &p);
  return p.tls_mode;
}

int xs2s__policy_require_valid_cert(const xs2s_config *cfg,
                                    const char *domain) {
  xs2s__remote_policy p;
  xs2s__policy_lookup(cfg, domain, &p);
  return p.require_valid_cert;
}

const xs2s_route *xs2s__policy_routes(const xs2s_config *cfg,
                                      const char *domain, size_t *count) {
  xs2s__remote_policy p;
  xs2s__policy_lookup(cfg, domain, &p);
  *count = p.route_count;
  return p.routes;
}
