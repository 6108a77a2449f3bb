/*
 * config.c: xs2s_config, the engine's settings as plain data.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "net.h"
#include "policy.h"

/* -- Limits and timeouts: names, defaults, ranges ------------------------- */

typedef struct knob {
  const char *name;
  uint64_t def, min, max;
} knob;

#define MS_MAX 2147483647u

static const knob limit_knobs[XS2S_LIMIT_COUNT_] = {
    [XS2S_LIMIT_QUEUE_BYTES] = {"queue-bytes", 1048576, 1, 1ULL << 40},
    [XS2S_LIMIT_STANZA_BYTES] = {"stanza-bytes", 262144, 1024, 1ULL << 30},
    [XS2S_LIMIT_CONNECTIONS] = {"connections", 4096, 1, 1u << 20},
    [XS2S_LIMIT_CONNECTIONS_PER_ADDRESS] = {"connections-per-address", 64, 1,
                                            1u << 20},
    [XS2S_LIMIT_PARSER_DEPTH] = {"parser-depth", 64, 2, 4096},
    [XS2S_LIMIT_PARSER_ATTRIBUTES] = {"parser-attributes", 64, 4, 4096},
    [XS2S_LIMIT_TCP_KEEPALIVE_COUNT] = {"tcp-keepalive-count", 3, 1, 127},
    [XS2S_LIMIT_LISTEN_BACKLOG] = {"listen-backlog", 128, 1, 65535},
    [XS2S_LIMIT_ACCEPT_BURST] = {"accept-burst", 64, 1, 1u << 20},
    [XS2S_LIMIT_ACCEPT_RATE] = {"accept-rate", 600, 0, 1u << 20},
    [XS2S_LIMIT_ACCEPT_SOURCES] = {"accept-sources", 4096, 8, 1u << 24},
    [XS2S_LIMIT_SM_RESUMABLE] = {"sm-resumable", 1024, 1, 1u << 20},
};

static const knob timeout_knobs[XS2S_TIMEOUT_COUNT_] = {
    [XS2S_TIMEOUT_CONNECT] = {"connect", 10000, 100, MS_MAX},
    [XS2S_TIMEOUT_HANDSHAKE] = {"handshake", 30000, 100, MS_MAX},
    [XS2S_TIMEOUT_DIALBACK] = {"dialback", 30000, 100, MS_MAX},
    [XS2S_TIMEOUT_IDLE] = {"idle", 600000, 0, MS_MAX},
    [XS2S_TIMEOUT_KEEPALIVE] = {"keepalive", 60000, 0, MS_MAX},
    [XS2S_TIMEOUT_CLOSING] = {"closing", 5000, 0, MS_MAX},
    [XS2S_TIMEOUT_QUEUE] = {"queue", 120000, 1000, MS_MAX},
    [XS2S_TIMEOUT_RETRY_MIN] = {"retry-min", 5000, 0, MS_MAX},
    [XS2S_TIMEOUT_RETRY_MAX] = {"retry-max", 300000, 0, MS_MAX},
    [XS2S_TIMEOUT_TCP_KEEPALIVE_IDLE] = {"tcp-keepalive-idle", 60000, 0,
                                         MS_MAX},
    [XS2S_TIMEOUT_SM_RESUME] = {"sm-resume", 60000, 0, MS_MAX},
    [XS2S_TIMEOUT_TCP_KEEPALIVE_INTERVAL] = {"tcp-keepalive-interval", 10000,
                                             1000, MS_MAX},
    [XS2S_TIMEOUT_REFUSAL_LOG] = {"refusal-log", 10000, 0, MS_MAX},
    [XS2S_TIMEOUT_TRIM] = {"trim", 5000, 0, MS_MAX},
};

static int knob_index(const knob *knobs, int count, const char *name) {
  for (int i = 0; name && i < count; i++)
    if (strcmp(knobs[i].name, name) == 0)
      return i;
  return count;
}

uint64_t xs2s_config_limit_default(xs2s_limit which) {
  return (unsigned)which < XS2S_LIMIT_COUNT_ ? limit_knobs[which].def : 0;
}

const char *xs2s_config_limit_name(xs2s_limit which) {
  return (unsigned)which < XS2S_LIMIT_COUNT_ ? limit_knobs[which].name : NULL;
}

xs2s_limit xs2s_config_limit_from_name(const char *name) {
  return (xs2s_limit)knob_index(limit_knobs, XS2S_LIMIT_COUNT_, name);
}

uint64_t xs2s_config_timeout_default(xs2s_timeout which) {
  return (unsigned)which < XS2S_TIMEOUT_COUNT_ ? timeout_knobs[which].def : 0;
}

const char *xs2s_config_timeout_name(xs2s_timeout which) {
  return (unsigned)which < XS2S_TIMEOUT_COUNT_ ? timeout_knobs[which].name
                                               : NULL;
}

xs2s_timeout xs2s_config_timeout_from_name(const char *name) {
  return (xs2s_timeout)knob_index(timeout_knobs, XS2S_TIMEOUT_COUNT_, name);
}

int xs2s_config_set_limit(xs2s_config *cfg, xs2s_limit which,
                          uint64_t value) {
  if ((unsigned)which >= XS2S_LIMIT_COUNT_ ||
      value < limit_knobs[which].min || value > limit_knobs[which].max)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->limits[which] = value;
  return 0;
}

uint64_t xs2s_config_limit(const xs2s_config *cfg, xs2s_limit which) {
  return (unsigned)which < XS2S_LIMIT_COUNT_ ? cfg->limits[which] : 0;
}

int xs2s_config_set_timeout(xs2s_config *cfg, xs2s_timeout which,
                            uint64_t ms) {
  if ((unsigned)which >= XS2S_TIMEOUT_COUNT_ ||
      ms < timeout_knobs[which].min || ms > timeout_knobs[which].max)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->timeouts[which] = ms;
  return 0;
}

uint64_t xs2s_config_timeout(const xs2s_config *cfg, xs2s_timeout which) {
  return (unsigned)which < XS2S_TIMEOUT_COUNT_ ? cfg->timeouts[which] : 0;
}

/* -- Ordered domain tables ------------------------------------------------ */

static void dtab_init(xs2s__dtab *t, const xs2s_mem *mem) {
  memset(t, 0, sizeof(*t));
  xs2s__map_init(&t->map, mem);
}

/* Allocates an entry of @size bytes whose name is @name (normalised). */
static void *named_new(const xs2s_mem *mem, size_t size, const char *name,
                       size_t len) {
  xs2s__named *n = xs2s__calloc(mem, 1, size + len + 1);
  if (!n)
    return NULL;
  n->name = (char *)n + size;
  memcpy(n->name, name, len + 1);
  n->name_len = len;
  return n;
}

static int dtab_add(xs2s__dtab *t, const xs2s_mem *mem, xs2s__named *n) {
  if (t->len == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    xs2s__named **items = xs2s__realloc(mem, t->items, cap * sizeof(*items));
    if (!items)
      return XS2S_ERR_NOMEM;
    t->items = items;
    t->cap = cap;
  }
  int rc = xs2s__map_put(&t->map, n->name, n->name_len, n);
  if (rc < 0)
    return rc;
  t->items[t->len++] = n;
  return 0;
}

static void dtab_free(xs2s__dtab *t, const xs2s_mem *mem,
                      void (*free_entry)(const xs2s_mem *, xs2s__named *)) {
  for (size_t i = 0; i < t->len; i++) {
    if (free_entry)
      free_entry(mem, t->items[i]);
    xs2s__free(mem, t->items[i]);
  }
  xs2s__free(mem, t->items);
  xs2s__map_free(&t->map);
  memset(t, 0, sizeof(*t));
}

static void free_local(const xs2s_mem *mem, xs2s__named *n) {
  xs2s__cfg_local *l = (xs2s__cfg_local *)n;
  xs2s__free(mem, l->cert_file);
  xs2s__free(mem, l->key_file);
}

static void free_route(const xs2s_mem *mem, xs2s__named *n) {
  xs2s__cfg_route *r = (xs2s__cfg_route *)n;
  for (size_t i = 0; i < r->count; i++)
    xs2s__free(mem, (char *)r->targets[i].host);
  xs2s__free(mem, r->targets);
}

/* Normalises @domain into @buf; returns its length or
 * XS2S_ERR_INVALID_ARGUMENT. */
static int norm(const char *domain, char buf[XS2S__DOMAIN_MAX + 1]) {
  if (!domain)
    return XS2S_ERR_INVALID_ARGUMENT;
  return xs2s__domain_normalize(domain, strlen(domain), buf);
}

/* -- Life cycle ----------------------------------------------------------- */

xs2s_config *xs2s_config_new(const xs2s_mem *mem) {
  xs2s_mem m;
  xs2s__mem_init(&m, mem);
  xs2s_config *cfg = xs2s__calloc(&m, 1, sizeof(*cfg));
  if (!cfg)
    return NULL;
  cfg->mem = m;
  dtab_init(&cfg->locals, &cfg->mem);
  dtab_init(&cfg->remotes, &cfg->mem);
  dtab_init(&cfg->allow, &cfg->mem);
  dtab_init(&cfg->deny, &cfg->mem);
  dtab_init(&cfg->routes, &cfg->mem);
  cfg->system_trust = 1;
  cfg->tls_mode = XS2S_TLS_OPTIONAL;
  cfg->privacy = XS2S_PRIVACY_OFF;
  for (int i = 0; i < XS2S_LIMIT_COUNT_; i++)
    cfg->limits[i] = limit_knobs[i].def;
  for (int i = 0; i < XS2S_TIMEOUT_COUNT_; i++)
    cfg->timeouts[i] = timeout_knobs[i].def;
  return cfg;
}

static void free_secret(xs2s_config *cfg) {
  if (cfg->dialback_secret) {
    explicit_bzero(cfg->dialback_secret, strlen(cfg->dialback_secret));
    xs2s__free(&cfg->mem, cfg->dialback_secret);
    cfg->dialback_secret = NULL;
  }
}

void xs2s_config_free(xs2s_config *cfg) {
  if (!cfg)
    return;
  const xs2s_mem *mem = &cfg->mem;
  dtab_free(&cfg->locals, mem, free_local);
  dtab_free(&cfg->remotes, mem, NULL);
  dtab_free(&cfg->allow, mem, NULL);
  dtab_free(&cfg->deny, mem, NULL);
  dtab_free(&cfg->routes, mem, free_route);
  xs2s__free(mem, cfg->ca_file);
  xs2s__free(mem, cfg->crl_file);
  xs2s__free(mem, cfg->tls_priority);
  free_secret(cfg);
  xs2s__free(mem, cfg->unbound_config);
  xs2s__free(mem, cfg->resolv_conf);
  xs2s__free(mem, cfg->listeners);
  xs2s_mem copy = *mem;
  xs2s__free(&copy, cfg);
}

void xs2s_config_get_mem(const xs2s_config *cfg, xs2s_mem *out) {
  *out = cfg->mem;
}

/* Replays every setting through the setters, so a copy is built by the
 * same checks as the original. */
static int copy_into(xs2s_config *dst, const xs2s_config *src) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < src->locals.len; i++) {
    const xs2s__cfg_local *l = (const xs2s__cfg_local *)src->locals.items[i];
    rc = xs2s_config_add_domain(dst, l->n.name, l->cert_file, l->key_file);
  }
  for (size_t i = 0; rc == 0 && i < src->remotes.len; i++) {
    const xs2s__cfg_remote *r =
        (const xs2s__cfg_remote *)src->remotes.items[i];
    rc = xs2s_config_set_remote_policy(dst, r->n.name, r->tls_mode,
                                       r->require_valid_cert);
  }
  for (size_t i = 0; rc == 0 && i < src->allow.len; i++)
    rc = xs2s_config_add_privacy_domain(dst, XS2S_PRIVACY_ALLOW_LIST,
                                        src->allow.items[i]->name);
  for (size_t i = 0; rc == 0 && i < src->deny.len; i++)
    rc = xs2s_config_add_privacy_domain(dst, XS2S_PRIVACY_DENY_LIST,
                                        src->deny.items[i]->name);
  for (size_t i = 0; rc == 0 && i < src->routes.len; i++) {
    const xs2s__cfg_route *r = (const xs2s__cfg_route *)src->routes.items[i];
    for (size_t j = 0; rc == 0 && j < r->count; j++) {
      char hp[XS2S__HOST_MAX + 16];
      const xs2s_route *t = &r->targets[j];
      snprintf(hp, sizeof(hp), strchr(t->host, ':') ? "[%s]:%u" : "%s:%u",
               t->host, (unsigned)t->port);
      rc = xs2s_config_add_route(dst, r->n.name, hp, t->flags);
    }
  }
  for (size_t i = 0; rc == 0 && i < src->listener_count; i++)
    rc = xs2s_config_add_listener(dst, src->listeners[i].text,
                                  src->listeners[i].flags);
  if (rc == 0)
    rc = xs2s_config_set_ca_file(dst, src->ca_file);
  if (rc == 0)
    rc = xs2s_config_set_crl_file(dst, src->crl_file);
  if (rc == 0)
    rc = xs2s_config_set_tls_priority(dst, src->tls_priority);
  if (rc == 0)
    rc = xs2s_config_set_dialback_secret(dst, src->dialback_secret);
  if (rc == 0)
    rc = xs2s_config_set_unbound_config(dst, src->unbound_config);
  if (rc == 0)
    rc = xs2s_config_set_resolv_conf(dst, src->resolv_conf);
  dst->system_trust = src->system_trust;
  dst->tls_mode = src->tls_mode;
  dst->require_valid_cert = src->require_valid_cert;
  dst->bidi = src->bidi;
  dst->sm_off = src->sm_off;
  dst->privacy = src->privacy;
  memcpy(dst->limits, src->limits, sizeof(dst->limits));
  memcpy(dst->timeouts, src->timeouts, sizeof(dst->timeouts));
  return rc;
}

xs2s_config *xs2s_config_copy(const xs2s_config *cfg) {
  xs2s_config *copy = xs2s_config_new(&cfg->mem);
  if (copy && copy_into(copy, cfg) < 0) {
    xs2s_config_free(copy);
    return NULL;
  }
  return copy;
}

/* -- Strings -------------------------------------------------------------- */

/* Replaces *@field with a copy of @value (NULL clears it). */
static int set_string(xs2s_config *cfg, char **field, const char *value) {
  if (value && value[0] == '\0')
    return XS2S_ERR_INVALID_ARGUMENT;
  char *copy = NULL;
  if (value && !(copy = xs2s__strdup(&cfg->mem, value)))
    return XS2S_ERR_NOMEM;
  xs2s__free(&cfg->mem, *field);
  *field = copy;
  return 0;
}

int xs2s_config_set_ca_file(xs2s_config *cfg, const char *path) {
  return set_string(cfg, &cfg->ca_file, path);
}

const char *xs2s_config_ca_file(const xs2s_config *cfg) {
  return cfg->ca_file;
}

int xs2s_config_set_crl_file(xs2s_config *cfg, const char *path) {
  return set_string(cfg, &cfg->crl_file, path);
}

const char *xs2s_config_crl_file(const xs2s_config *cfg) {
  return cfg->crl_file;
}

int xs2s_config_set_tls_priority(xs2s_config *cfg, const char *priority) {
  return set_string(cfg, &cfg->tls_priority, priority);
}

const char *xs2s_config_tls_priority(const xs2s_config *cfg) {
  return cfg->tls_priority;
}

int xs2s_config_set_dialback_secret(xs2s_config *cfg, const char *secret) {
  if (secret && secret[0] == '\0')
    return XS2S_ERR_INVALID_ARGUMENT;
  char *copy = NULL;
  if (secret && !(copy = xs2s__strdup(&cfg->mem, secret)))
    return XS2S_ERR_NOMEM;
  free_secret(cfg);
  cfg->dialback_secret = copy;
  return 0;
}

const char *xs2s_config_dialback_secret(const xs2s_config *cfg) {
  return cfg->dialback_secret;
}

int xs2s_config_set_unbound_config(xs2s_config *cfg, const char *path) {
  return set_string(cfg, &cfg->unbound_config, path);
}

const char *xs2s_config_unbound_config(const xs2s_config *cfg) {
  return cfg->unbound_config;
}

int xs2s_config_set_resolv_conf(xs2s_config *cfg, const char *path) {
  return set_string(cfg, &cfg->resolv_conf, path);
}

const char *xs2s_config_resolv_conf(const xs2s_config *cfg) {
  return cfg->resolv_conf;
}

/* -- Flags and modes ------------------------------------------------------ */

int xs2s_config_set_system_trust(xs2s_config *cfg, int on) {
  if (on != 0 && on != 1)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->system_trust = on;
  return 0;
}

int xs2s_config_system_trust(const xs2s_config *cfg) {
  return cfg->system_trust;
}

int xs2s_config_set_tls_mode(xs2s_config *cfg, xs2s_tls_mode mode) {
  if (mode != XS2S_TLS_REQUIRED && mode != XS2S_TLS_OPTIONAL &&
      mode != XS2S_TLS_OFF)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->tls_mode = mode;
  return 0;
}

xs2s_tls_mode xs2s_config_tls_mode(const xs2s_config *cfg) {
  return cfg->tls_mode;
}

int xs2s_config_set_require_valid_cert(xs2s_config *cfg, int on) {
  if (on != 0 && on != 1)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->require_valid_cert = on;
  return 0;
}

int xs2s_config_require_valid_cert(const xs2s_config *cfg) {
  return cfg->require_valid_cert;
}

int xs2s_config_set_bidi(xs2s_config *cfg, int on) {
  if (on != 0 && on != 1)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->bidi = on;
  return 0;
}

int xs2s_config_bidi(const xs2s_config *cfg) {
  return cfg->bidi;
}

int xs2s_config_set_stream_management(xs2s_config *cfg, int on) {
  if (on != 0 && on != 1)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->sm_off = !on;
  return 0;
}

int xs2s_config_stream_management(const xs2s_config *cfg) {
  return !cfg->sm_off;
}

int xs2s_config_set_privacy_mode(xs2s_config *cfg, xs2s_privacy_mode mode) {
  if (mode != XS2S_PRIVACY_OFF && mode != XS2S_PRIVACY_ALLOW_LIST &&
      mode != XS2S_PRIVACY_DENY_LIST)
    return XS2S_ERR_INVALID_ARGUMENT;
  cfg->privacy = mode;
  return 0;
}

xs2s_privacy_mode xs2s_config_privacy_mode(const xs2s_config *cfg) {
  return cfg->privacy;
}

/* -- Local domains -------------------------------------------------------- */

int xs2s_config_add_domain(xs2s_config *cfg, const char *domain,
                           const char *cert_file, const char *key_file) {
  char name[XS2S__DOMAIN_MAX + 1];
  int len = norm(domain, name);
  if (len < 0 || (cert_file && !cert_file[0]) || (key_file && !key_file[0]) ||
      (key_file && !cert_file))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (xs2s__dtab_get(&cfg->locals, name, (size_t)len))
    return XS2S_ERR_EXISTS;
  xs2s__cfg_local *l =
      named_new(&cfg->mem, sizeof(*l), name, (size_t)len);
  if (!l)
    return XS2S_ERR_NOMEM;
  int rc = 0;
  if ((cert_file && !(l->cert_file = xs2s__strdup(&cfg->mem, cert_file))) ||
      (key_file && !(l->key_file = xs2s__strdup(&cfg->mem, key_file))))
    rc = XS2S_ERR_NOMEM;
  if (rc == 0)
    rc = dtab_add(&cfg->locals, &cfg->mem, &l->n);
  if (rc < 0) {
    free_local(&cfg->mem, &l->n);
    xs2s__free(&cfg->mem, l);
  }
  return rc;
}

size_t xs2s_config_domain_count(const xs2s_config *cfg) {
  return cfg->locals.len;
}

const char *xs2s_config_domain_at(const xs2s_config *cfg, size_t i,
                                  const char **cert_file,
                                  const char **key_file) {
  if (i >= cfg->locals.len)
    return NULL;
  const xs2s__cfg_local *l = (const xs2s__cfg_local *)cfg->locals.items[i];
  if (cert_file)
    *cert_file = l->cert_file;
  if (key_file)
    *key_file = l->key_file ? l->key_file : l->cert_file;
  return l->n.name;
}

int xs2s_config_is_local(const xs2s_config *cfg, const char *domain) {
  char name[XS2S__DOMAIN_MAX + 1];
  int len = norm(domain, name);
  return len > 0 && xs2s__dtab_get(&cfg->locals, name, (size_t)len) != NULL;
}

/* -- Remote overrides ----------------------------------------------------- */

int xs2s_config_set_remote_policy(xs2s_config *cfg, const char *domain,
                                  xs2s_tls_mode tls_mode,
                                  int require_valid_cert) {
  char name[XS2S__DOMAIN_MAX + 1];
  int len = norm(domain, name);
  if (len < 0 || (unsigned)tls_mode > XS2S_TLS_OFF ||
      require_valid_cert < -1 || require_valid_cert > 1)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s__cfg_remote *r = xs2s__dtab_get(&cfg->remotes, name, (size_t)len);
  if (!r) {
    r = named_new(&cfg->mem, sizeof(*r), name, (size_t)len);
    if (!r)
      return XS2S_ERR_NOMEM;
    int rc = dtab_add(&cfg->remotes, &cfg->mem, &r->n);
    if (rc < 0) {
      xs2s__free(&cfg->mem, r);
      return rc;
    }
  }
  r->tls_mode = tls_mode;
  r->require_valid_cert = require_valid_cert;
  return 0;
}

size_t xs2s_config_remote_policy_count(const xs2s_config *cfg) {
  return cfg->remotes.len;
}

const char *xs2s_config_remote_policy_at(const xs2s_config *cfg, size_t i,
                                         xs2s_tls_mode *tls_mode,
                                         int *require_valid_cert) {
  if (i >= cfg->remotes.len)
    return NULL;
  const xs2s__cfg_remote *r = (const xs2s__cfg_remote *)cfg->remotes.items[i];
  if (tls_mode)
    *tls_mode = r->tls_mode;
  if (require_valid_cert)
    *require_valid_cert = r->require_valid_cert;
  return r->n.name;
}

/* -- Privacy lists -------------------------------------------------------- */

static xs2s__dtab *privacy_list(xs2s_config *cfg, xs2s_privacy_mode list) {
  if (list == XS2S_PRIVACY_ALLOW_LIST)
    return &cfg->allow;
  if (list == XS2S_PRIVACY_DENY_LIST)
    return &cfg->deny;
  return NULL;
}

int xs2s_config_add_privacy_domain(xs2s_config *cfg, xs2s_privacy_mode list,
                                   const char *domain) {
  xs2s__dtab *t = privacy_list(cfg, list);
  char name[XS2S__DOMAIN_MAX + 1];
  int len = norm(domain, name);
  if (!t || len < 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (xs2s__dtab_get(t, name, (size_t)len))
    return 0;
  xs2s__named *n = named_new(&cfg->mem, sizeof(*n), name, (size_t)len);
  if (!n)
    return XS2S_ERR_NOMEM;
  int rc = dtab_add(t, &cfg->mem, n);
  if (rc < 0)
    xs2s__free(&cfg->mem, n);
  return rc;
}

size_t xs2s_config_privacy_domain_count(const xs2s_config *cfg,
                                        xs2s_privacy_mode list) {
  const xs2s__dtab *t = privacy_list((xs2s_config *)cfg, list);
  return t ? t->len : 0;
}

const char *xs2s_config_privacy_domain_at(const xs2s_config *cfg,
                                          xs2s_privacy_mode list, size_t i) {
  const xs2s__dtab *t = privacy_list((xs2s_config *)cfg, list);
  return t && i < t->len ? t->items[i]->name : NULL;
}

/* -- Static routes -------------------------------------------------------- */

/* Checks a route's host and writes its normal form into @out. */
static int route_host(const char *host, int bracketed,
                      char out[XS2S__DOMAIN_MAX + 1]) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (bracketed) {
    /* Must be IPv6; store it without brackets, in canonical form. */
    char tmp[XS2S__DOMAIN_MAX + 3], canon[XS2S__DOMAIN_MAX + 1];
    snprintf(tmp, sizeof(tmp), "[%s]", host);
    int n = xs2s__domain_normalize(tmp, strlen(tmp), canon);
    if (n < 0)
      return n;
    memcpy(out, canon + 1, (size_t)n - 2);
    out[n - 2] = '\0';
    return 0;
  }
  if (xs2s__net_make_addr(host, 0, &ss, &len) == 0) {
    if (ss.ss_family != AF_INET)
      return XS2S_ERR_INVALID_ARGUMENT; /* IPv6 must be bracketed */
    snprintf(out, XS2S__DOMAIN_MAX + 1, "%s", host);
    return 0;
  }
  return xs2s__domain_normalize(host, strlen(host), out) < 0
             ? XS2S_ERR_INVALID_ARGUMENT
             : 0;
}

static xs2s__cfg_route *route_entry(xs2s_config *cfg, const char *name,
                                    size_t len, int *rc) {
  xs2s__cfg_route *r = xs2s__dtab_get(&cfg->routes, name, len);
  if (r)
    return r;
  r = named_new(&cfg->mem, sizeof(*r), name, len);
  if (!r) {
    *rc = XS2S_ERR_NOMEM;
    return NULL;
  }
  if ((*rc = dtab_add(&cfg->routes, &cfg->mem, &r->n)) < 0) {
    xs2s__free(&cfg->mem, r);
    return NULL;
  }
  return r;
}

int xs2s_config_add_route(xs2s_config *cfg, const char *domain,
                          const char *host_port, unsigned flags) {
  char name[XS2S__DOMAIN_MAX + 1], hostbuf[XS2S__HOST_MAX + 1];
  char host[XS2S__DOMAIN_MAX + 1];
  uint16_t port;
  int bracketed;
  int len = norm(domain, name);
  if (len < 0 || !host_port || (flags & ~XS2S_ROUTE_DIRECT_TLS))
    return XS2S_ERR_INVALID_ARGUMENT;
  uint16_t def = (flags & XS2S_ROUTE_DIRECT_TLS) ? XS2S_DEFAULT_DIRECT_TLS_PORT
                                                 : XS2S_DEFAULT_PORT;
  if (xs2s__net_split_host_port(host_port, hostbuf, sizeof(hostbuf), &port,
                                def, &bracketed) < 0 ||
      port == 0 || route_host(hostbuf, bracketed, host) < 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s__cfg_route *r = xs2s__dtab_get(&cfg->routes, name, (size_t)len);
  for (size_t i = 0; r && i < r->count; i++)
    if (r->targets[i].port == port && strcmp(r->targets[i].host, host) == 0)
      return XS2S_ERR_EXISTS;
  int rc = 0;
  if (!(r = route_entry(cfg, name, (size_t)len, &rc)))
    return rc;
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 4;
    xs2s_route *t = xs2s__realloc(&cfg->mem, r->targets, cap * sizeof(*t));
    if (!t)
      return XS2S_ERR_NOMEM;
    r->targets = t;
    r->cap = cap;
  }
  char *copy = xs2s__strdup(&cfg->mem, host);
  if (!copy)
    return XS2S_ERR_NOMEM;
  r->targets[r->count++] = (xs2s_route){copy, port, flags};
  return 0;
}

size_t xs2s_config_route_domain_count(const xs2s_config *cfg) {
  return cfg->routes.len;
}

const char *xs2s_config_route_domain_at(const xs2s_config *cfg, size_t i) {
  return i < cfg->routes.len ? cfg->routes.items[i]->name : NULL;
}

static const xs2s__cfg_route *find_route(const xs2s_config *cfg,
                                         const char *domain) {
  char name[XS2S__DOMAIN_MAX + 1];
  int len = norm(domain, name);
  return len < 0 ? NULL : xs2s__dtab_get(&cfg->routes, name, (size_t)len);
}

size_t xs2s_config_route_count(const xs2s_config *cfg, const char *domain) {
  const xs2s__cfg_route *r = find_route(cfg, domain);
  return r ? r->count : 0;
}

int xs2s_config_route_at(const xs2s_config *cfg, const char *domain,
                         size_t i, xs2s_route *out) {
  const xs2s__cfg_route *r = find_route(cfg, domain);
  if (!r || i >= r->count)
    return XS2S_ERR_NOT_FOUND;
  *out = r->targets[i];
  return 0;
}

/* -- Listeners ------------------------------------------------------------ */

int xs2s_config_add_listener(xs2s_config *cfg, const char *addr_port,
                             unsigned flags) {
  char host[XS2S__HOST_MAX + 1];
  uint16_t port;
  int bracketed;
  xs2s__cfg_listener l;
  memset(&l, 0, sizeof(l));
  if (!addr_port || (flags & ~(XS2S_LISTEN_DIRECT_TLS | XS2S_LISTEN_REUSEPORT)))
    return XS2S_ERR_INVALID_ARGUMENT;
  uint16_t def = (flags & XS2S_LISTEN_DIRECT_TLS) ? XS2S_DEFAULT_DIRECT_TLS_PORT
                                                  : XS2S_DEFAULT_PORT;
  if (xs2s__net_split_host_port(addr_port, host, sizeof(host), &port, def,
                                &bracketed) < 0 ||
      xs2s__net_make_addr(host, port, &l.addr, &l.addr_len) < 0 ||
      (l.addr.ss_family == AF_INET6) != (bracketed != 0))
    return XS2S_ERR_INVALID_ARGUMENT;
  l.flags = flags;
  xs2s__net_format_addr((struct sockaddr *)&l.addr, l.text);
  for (size_t i = 0; port != 0 && i < cfg->listener_count; i++)
    if (strcmp(cfg->listeners[i].text, l.text) == 0)
      return XS2S_ERR_EXISTS;
  if (cfg->listener_count == cfg->listener_cap) {
    size_t cap = cfg->listener_cap ? cfg->listener_cap * 2 : 4;
    xs2s__cfg_listener *p =
        xs2s__realloc(&cfg->mem, cfg->listeners, cap * sizeof(*p));
    if (!p)
      return XS2S_ERR_NOMEM;
    cfg->listeners = p;
    cfg->listener_cap = cap;
  }
  cfg->listeners[cfg->listener_count++] = l;
  return 0;
}

size_t xs2s_config_listener_count(const xs2s_config *cfg) {
  return cfg->listener_count;
}

const char *xs2s_config_listener_at(const xs2s_config *cfg, size_t i,
                                    unsigned *flags) {
  if (i >= cfg->listener_count)
    return NULL;
  if (flags)
    *flags = cfg->listeners[i].flags;
  return cfg->listeners[i].text;
}

/* -- Coherence ------------------------------------------------------------ */

static int fail(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t size, const char *fmt, ...) {
  if (msg && size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
  }
  return XS2S_ERR_CONFIG;
}

static int readable(const char *path) {
  return !path || access(path, R_OK) == 0;
}

/* The first local domain without a certificate, or NULL. */
static const char *local_without_cert(const xs2s_config *cfg) {
  for (size_t i = 0; i < cfg->locals.len; i++) {
    const xs2s__cfg_local *l = (const xs2s__cfg_local *)cfg->locals.items[i];
    if (!l->cert_file)
      return l->n.name;
  }
  return NULL;
}

static int check_files(const xs2s_config *cfg, char *msg, size_t size) {
  for (size_t i = 0; i < cfg->locals.len; i++) {
    const xs2s__cfg_local *l = (const xs2s__cfg_local *)cfg->locals.items[i];
    if (!readable(l->cert_file))
      return fail(msg, size, "cannot read certificate file %s of %s",
                  l->cert_file, l->n.name);
    if (!readable(l->key_file))
      return fail(msg, size, "cannot read key file %s of %s", l->key_file,
                  l->n.name);
  }
  const struct {
    const char *what, *path;
  } files[] = {{"CA file", cfg->ca_file},
               {"CRL file", cfg->crl_file},
               {"unbound configuration file", cfg->unbound_config},
               {"resolv.conf file", cfg->resolv_conf}};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    if (!readable(files[i].path))
      return fail(msg, size, "cannot read %s %s", files[i].what,
                  files[i].path);
  return 0;
}

static int check_tls(const xs2s_config *cfg, char *msg, size_t size) {
  const char *bare = local_without_cert(cfg);
  if (cfg->require_valid_cert && cfg->tls_mode == XS2S_TLS_OFF)
    return fail(msg, size, "a valid certificate is required but TLS is off");
  /* Requiring a valid certificate requires TLS (policy.h). */
  int any_require = cfg->require_valid_cert;
  if (bare && (cfg->tls_mode == XS2S_TLS_REQUIRED || cfg->require_valid_cert))
    return fail(msg, size,
                "TLS is required but local domain %s has no certificate",
                bare);
  for (size_t i = 0; bare && i < cfg->listener_count; i++)
    if (cfg->listeners[i].flags & XS2S_LISTEN_DIRECT_TLS)
      return fail(msg, size,
                  "direct-TLS listener %s but local domain %s has no "
                  "certificate",
                  cfg->listeners[i].text, bare);
  for (size_t i = 0; i < cfg->remotes.len; i++) {
    const xs2s__cfg_remote *r =
        (const xs2s__cfg_remote *)cfg->remotes.items[i];
    xs2s__remote_policy p;
    xs2s__policy_lookup_norm(cfg, r->n.name, r->n.name_len, &p);
    any_require |= p.require_valid_cert;
    xs2s_tls_mode asked =
        r->tls_mode == XS2S_TLS_INHERIT ? cfg->tls_mode : r->tls_mode;
    if (p.require_valid_cert && asked == XS2S_TLS_OFF)
      return fail(msg, size,
                  "a valid certificate is required from %s but TLS is off "
                  "for it",
                  r->n.name);
    if (bare && p.tls_mode == XS2S_TLS_REQUIRED)
      return fail(msg, size,
                  "TLS is required with %s but local domain %s has no "
                  "certificate",
                  r->n.name, bare);
  }
  if (any_require && !cfg->system_trust && !cfg->ca_file)
    return fail(msg, size,
                "valid certificates are required but no CA file is set and "
                "the system trust store is off");
  return 0;
}

static int check_routes(const xs2s_config *cfg, char *msg, size_t size) {
  for (size_t i = 0; i < cfg->routes.len; i++) {
    const xs2s__named *n = cfg->routes.items[i];
    if (xs2s__dtab_get(&cfg->locals, n->name, n->name_len))
      return fail(msg, size, "static route for local domain %s", n->name);
    if (cfg->privacy == XS2S_PRIVACY_DENY_LIST &&
        xs2s__dtab_get(&cfg->deny, n->name, n->name_len))
      return fail(msg, size,
                  "%s is on the deny list but has a static route (routed "
                  "domains are always allowed)",
                  n->name);
  }
  return 0;
}

int xs2s_config_check(const xs2s_config *cfg, char *msg, size_t msg_size) {
  if (msg && msg_size > 0)
    msg[0] = '\0';
  if (cfg->locals.len == 0)
    return fail(msg, msg_size, "no local domain is configured");
  int rc = check_tls(cfg, msg, msg_size);
  if (rc == 0)
    rc = check_routes(cfg, msg, msg_size);
  if (rc == 0)
    rc = check_files(cfg, msg, msg_size);
  if (rc < 0)
    return rc;
  if (cfg->limits[XS2S_LIMIT_QUEUE_BYTES] <
      cfg->limits[XS2S_LIMIT_STANZA_BYTES])
    return fail(msg, msg_size,
                "queue-bytes (%llu) is smaller than stanza-bytes (%llu)",
                (unsigned long long)cfg->limits[XS2S_LIMIT_QUEUE_BYTES],
                (unsigned long long)cfg->limits[XS2S_LIMIT_STANZA_BYTES]);
  if (cfg->timeouts[XS2S_TIMEOUT_RETRY_MIN] >
      cfg->timeouts[XS2S_TIMEOUT_RETRY_MAX])
    return fail(msg, msg_size, "retry-min (%llu ms) exceeds retry-max (%llu ms)",
                (unsigned long long)cfg->timeouts[XS2S_TIMEOUT_RETRY_MIN],
                (unsigned long long)cfg->timeouts[XS2S_TIMEOUT_RETRY_MAX]);
  return 0;
}
