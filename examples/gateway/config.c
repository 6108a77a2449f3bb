/*
 * config.c: gateway.xml -> gw_config.
 *
 * The file is parsed whole with libxml2 (no DTD, no network, no entity
 * substitution), then walked with one table of rules per element: which
 * attributes it takes, whether it may appear more than once, which child
 * elements it has. Every value goes through the xs2s_config setters, so
 * the file accepts exactly what the engine accepts, and every refusal is
 * reported with the line of the element that carried it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define MAX_ATTRS 12
#define MAX_RULES 16

typedef struct pctx {
  gw_config *cfg;
  const char *name;     /* file name for messages */
  const char *base_dir; /* NULL: current directory */
  char *err;
  size_t err_size;
} pctx;

typedef struct rule {
  const char *name;
  const char *attrs[MAX_ATTRS]; /* NULL-terminated */
  int repeat;                   /* may appear more than once */
  /* @v[i] is the value of attrs[i] or NULL. */
  int (*fn)(pctx *pc, xmlNode *n, char **v);
  const struct rule *children; /* NULL: no child elements */
} rule;

static int fail_at(pctx *pc, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "NAME:LINE: message" (no line when @line <= 0) and returns -1. */
static int fail_at(pctx *pc, long line, const char *fmt, ...) {
  if (!pc->err || pc->err_size == 0)
    return -1;
  int n = line > 0 ? snprintf(pc->err, pc->err_size, "%s:%ld: ", pc->name,
                              line)
                   : snprintf(pc->err, pc->err_size, "%s: ", pc->name);
  if (n < 0 || (size_t)n >= pc->err_size)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pc->err + n, pc->err_size - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static long line_of(const xmlNode *n) { return xmlGetLineNo(n); }

static const char *el(const xmlNode *n) { return (const char *)n->name; }

/* -- Values --------------------------------------------------------------- */

static int parse_bool(pctx *pc, xmlNode *n, const char *attr, const char *v,
                      int *out) {
  static const char *const yes[] = {"yes", "true", "on", "1"};
  static const char *const no[] = {"no", "false", "off", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcmp(v, yes[i]) == 0)
      return *out = 1, 0;
    if (strcmp(v, no[i]) == 0)
      return *out = 0, 0;
  }
  return fail_at(pc, line_of(n), "%s='%s' on <%s>: expected yes or no", attr,
                 v, el(n));
}

/* An unsigned decimal with an optional suffix from @units (each with its
 * multiplier); @units[0] with an empty name means a bare number is
 * allowed. */
typedef struct unit {
  const char *name;
  uint64_t mult;
} unit;

static int parse_scaled(const char *v, const unit *units, size_t nunits,
                        uint64_t *out) {
  const char *p = v;
  uint64_t x = 0;
  if (*p < '0' || *p > '9')
    return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (x > (UINT64_MAX - 9) / 10)
      return -1;
    x = x * 10 + (uint64_t)(*p - '0');
  }
  for (size_t i = 0; i < nunits; i++) {
    if (strcmp(p, units[i].name) != 0)
      continue;
    if (units[i].mult && x > UINT64_MAX / units[i].mult)
      return -1;
    *out = x * units[i].mult;
    return 0;
  }
  /* "0" needs no unit: zero of anything is zero. */
  if (*p == '\0' && x == 0)
    return *out = 0, 0;
  return -1;
}

static const unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}};
static const unit size_units[] = {
    {"", 1}, {"K", 1024}, {"M", 1024 * 1024}, {"G", 1024 * 1024 * 1024}};

static int parse_duration(pctx *pc, xmlNode *n, const char *attr,
                          const char *v, uint64_t *ms) {
  if (parse_scaled(v, duration_units, 4, ms) == 0)
    return 0;
  return fail_at(pc, line_of(n),
                 "%s='%s' on <%s>: expected a duration such as 500ms, 10s, "
                 "5min or 1h",
                 attr, v, el(n));
}

static int parse_tls_mode(pctx *pc, xmlNode *n, const char *attr,
                          const char *v, xs2s_tls_mode *out) {
  if (strcmp(v, "required") == 0)
    *out = XS2S_TLS_REQUIRED;
  else if (strcmp(v, "optional") == 0)
    *out = XS2S_TLS_OPTIONAL;
  else if (strcmp(v, "off") == 0)
    *out = XS2S_TLS_OFF;
  else
    return fail_at(pc, line_of(n),
                   "%s='%s' on <%s>: expected required, optional or off",
                   attr, v, el(n));
  return 0;
}

/* A required attribute. */
static int need(pctx *pc, xmlNode *n, const char *attr, const char *v) {
  if (v && v[0])
    return 0;
  return fail_at(pc, line_of(n), "<%s> needs a non-empty %s attribute",
                 el(n), attr);
}

/* @v as a path: absolute, or relative to the configuration's directory.
 * The file must be readable now, so that a typo is reported at its line.
 * Returns a malloc'ed path or NULL (message written). */
static char *file_path(pctx *pc, xmlNode *n, const char *attr, const char *v) {
  if (need(pc, n, attr, v) < 0)
    return NULL;
  size_t dlen = pc->base_dir && v[0] != '/' ? strlen(pc->base_dir) : 0;
  char *path = malloc(dlen + 1 + strlen(v) + 1);
  if (!path) {
    fail_at(pc, line_of(n), "out of memory");
    return NULL;
  }
  if (dlen)
    sprintf(path, "%s/%s", pc->base_dir, v);
  else
    strcpy(path, v);
  if (access(path, R_OK) != 0) {
    fail_at(pc, line_of(n), "%s='%s' on <%s>: cannot read %s: %s", attr, v,
            el(n), path, strerror(errno));
    free(path);
    return NULL;
  }
  return path;
}

/* Reports a refused setter call: @what names the value for the reader. */
static int setter(pctx *pc, xmlNode *n, int rc, const char *what) {
  if (rc == 0)
    return 0;
  if (rc == XS2S_ERR_EXISTS)
    return fail_at(pc, line_of(n), "%s is listed twice", what);
  if (rc == XS2S_ERR_NOMEM)
    return fail_at(pc, line_of(n), "out of memory");
  return fail_at(pc, line_of(n), "invalid %s", what);
}

/* -- Elements ------------------------------------------------------------- */

static int on_log(pctx *pc, xmlNode *n, char **v) {
  gw_config *cfg = pc->cfg;
  if (v[0]) {
    int level = -1;
    for (int i = GW_LOG_ERROR; i <= GW_LOG_DEBUG; i++)
      if (strcmp(v[0], gw_log_level_name((gw_log_level)i)) == 0)
        level = i;
    if (level < 0)
      return fail_at(pc, line_of(n),
                     "level='%s' on <log>: expected error, warning, info or "
                     "debug",
                     v[0]);
    cfg->log_level = (gw_log_level)level;
  }
  if (v[1])
    return parse_duration(pc, n, "status-interval", v[1],
                          &cfg->status_interval_ms);
  return 0;
}

static int on_domain(pctx *pc, xmlNode *n, char **v) {
  if (need(pc, n, "name", v[0]) < 0)
    return -1;
  if (v[2] && !v[1])
    return fail_at(pc, line_of(n),
                   "<domain name='%s'> has a key but no certificate", v[0]);
  char *cert = v[1] ? file_path(pc, n, "certificate", v[1]) : NULL;
  char *key = v[2] && cert ? file_path(pc, n, "key", v[2]) : NULL;
  int rc = -1;
  if ((!v[1] || cert) && (!v[2] || key)) {
    char what[300];
    snprintf(what, sizeof(what), "local domain '%s'", v[0]);
    rc = setter(pc, n, xs2s_config_add_domain(pc->cfg->xs2s, v[0], cert, key),
                what);
  }
  free(cert);
  free(key);
  return rc;
}

static int on_listen(pctx *pc, xmlNode *n, char **v) {
  if (need(pc, n, "address", v[0]) < 0)
    return -1;
  int direct = 0, reuse = 0;
  if ((v[1] && parse_bool(pc, n, "direct-tls", v[1], &direct) < 0) ||
      (v[2] && parse_bool(pc, n, "reuseport", v[2], &reuse) < 0))
    return -1;
  unsigned flags = (direct ? XS2S_LISTEN_DIRECT_TLS : 0u) |
                   (reuse ? XS2S_LISTEN_REUSEPORT : 0u);
  char what[300];
  snprintf(what, sizeof(what),
           "listener address '%s' (an IP address with an optional port: "
           "0.0.0.0, 192.0.2.1:5269, [::]:5269)",
           v[0]);
  return setter(pc, n, xs2s_config_add_listener(pc->cfg->xs2s, v[0], flags),
                what);
}

static int on_components(pctx *pc, xmlNode *n, char **v) {
  if (!v[0])
    return 0;
  if (need(pc, n, "address", v[0]) < 0)
    return -1;
  char *copy = strdup(v[0]);
  if (!copy)
    return fail_at(pc, line_of(n), "out of memory");
  free(pc->cfg->component_address);
  pc->cfg->component_address = copy;
  return 0;
}

/* The normal form xs2s_config stores: ASCII lower-cased, one trailing dot
 * removed. */
static void domain_normal(char *d) {
  for (char *p = d; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  size_t len = strlen(d);
  if (len > 1 && d[len - 1] == '.')
    d[len - 1] = '\0';
}

static int on_component(pctx *pc, xmlNode *n, char **v) {
  if (need(pc, n, "domain", v[0]) < 0 || need(pc, n, "secret", v[1]) < 0)
    return -1;
  gw_config *cfg = pc->cfg;
  char *domain = strdup(v[0]);
  if (!domain)
    return fail_at(pc, line_of(n), "out of memory");
  domain_normal(domain);
  const gw_component_conf *dup = gw_config_component(cfg, domain);
  if (dup) {
    free(domain);
    return fail_at(pc, line_of(n),
                   "a component for '%s' is already configured at line %d "
                   "(one component per domain)",
                   v[0], dup->line);
  }
  gw_component_conf *grown = realloc(
      cfg->components, (cfg->component_count + 1) * sizeof(*grown));
  char *secret = strdup(v[1]);
  if (!grown || !secret) {
    free(domain);
    free(secret);
    if (grown)
      cfg->components = grown;
    return fail_at(pc, line_of(n), "out of memory");
  }
  cfg->components = grown;
  cfg->components[cfg->component_count++] =
      (gw_component_conf){domain, secret, (int)line_of(n)};
  return 0;
}

static int on_trust(pctx *pc, xmlNode *n, char **v) {
  xs2s_config *x = pc->cfg->xs2s;
  int rc = 0;
  if (v[0]) {
    char *p = file_path(pc, n, "ca", v[0]);
    rc = p ? setter(pc, n, xs2s_config_set_ca_file(x, p), "CA file") : -1;
    free(p);
  }
  if (rc == 0 && v[1]) {
    char *p = file_path(pc, n, "crl", v[1]);
    rc = p ? setter(pc, n, xs2s_config_set_crl_file(x, p), "CRL file") : -1;
    free(p);
  }
  int on;
  if (rc == 0 && v[2])
    rc = parse_bool(pc, n, "system", v[2], &on) < 0
             ? -1
             : setter(pc, n, xs2s_config_set_system_trust(x, on), "system");
  return rc;
}

static int on_dialback(pctx *pc, xmlNode *n, char **v) {
  if (need(pc, n, "secret", v[0]) < 0)
    return -1;
  return setter(pc, n, xs2s_config_set_dialback_secret(pc->cfg->xs2s, v[0]),
                "dialback secret");
}

static int on_security(pctx *pc, xmlNode *n, char **v) {
  xs2s_config *x = pc->cfg->xs2s;
  xs2s_tls_mode mode;
  int on;
  if (v[0] && (parse_tls_mode(pc, n, "tls", v[0], &mode) < 0 ||
               setter(pc, n, xs2s_config_set_tls_mode(x, mode), "tls") < 0))
    return -1;
  if (v[1] &&
      (parse_bool(pc, n, "require-valid-certificate", v[1], &on) < 0 ||
       setter(pc, n, xs2s_config_set_require_valid_cert(x, on),
              "require-valid-certificate") < 0))
    return -1;
  if (v[2] && (need(pc, n, "tls-priority", v[2]) < 0 ||
               setter(pc, n, xs2s_config_set_tls_priority(x, v[2]),
                      "tls-priority") < 0))
    return -1;
  return 0;
}

static int on_remote(pctx *pc, xmlNode *n, char **v) {
  if (need(pc, n, "domain", v[0]) < 0)
    return -1;
  xs2s_tls_mode mode = XS2S_TLS_INHERIT;
  int require = -1;
  if (v[1] && parse_tls_mode(pc, n, "tls", v[1], &mode) < 0)
    return -1;
  if (v[2] && parse_bool(pc, n, "require-valid-certificate", v[2],
                         &require) < 0)
    return -1;
  char what[300];
  snprintf(what, sizeof(what), "domain '%s'", v[0]);
  return setter(pc, n,
                xs2s_config_set_remote_policy(pc->cfg->xs2s, v[0], mode,
                                              require),
                what);
}

static int on_privacy(pctx *pc, xmlNode *n, char **v) {
  if (!v[0])
    return 0;
  xs2s_privacy_mode mode;
  if (strcmp(v[0], "off") == 0)
    mode = XS2S_PRIVACY_OFF;
  else if (strcmp(v[0], "allow") == 0)
    mode = XS2S_PRIVACY_ALLOW_LIST;
  else if (strcmp(v[0], "deny") == 0)
    mode = XS2S_PRIVACY_DENY_LIST;
  else
    return fail_at(pc, line_of(n),
                   "mode='%s' on <privacy>: expected off, allow or deny",
                   v[0]);
  return setter(pc, n, xs2s_config_set_privacy_mode(pc->cfg->xs2s, mode),
                "mode");
}

static int privacy_entry(pctx *pc, xmlNode *n, const char *domain,
                         xs2s_privacy_mode list) {
  if (need(pc, n, "domain", domain) < 0)
    return -1;
  char what[300];
  snprintf(what, sizeof(what), "domain '%s'", domain);
  return setter(pc, n,
                xs2s_config_add_privacy_domain(pc->cfg->xs2s, list, domain),
                what);
}

static int on_allow(pctx *pc, xmlNode *n, char **v) {
  return privacy_entry(pc, n, v[0], XS2S_PRIVACY_ALLOW_LIST);
}

static int on_deny(pctx *pc, xmlNode *n, char **v) {
  return privacy_entry(pc, n, v[0], XS2S_PRIVACY_DENY_LIST);
}

static int on_route(pctx *pc, xmlNode *n, char **v) {
  if (need(pc, n, "domain", v[0]) < 0 || need(pc, n, "target", v[1]) < 0)
    return -1;
  int direct = 0;
  if (v[2] && parse_bool(pc, n, "direct-tls", v[2], &direct) < 0)
    return -1;
  char what[600];
  snprintf(what, sizeof(what),
           "route to '%s' for '%s' (a domain, and a host with an optional "
           "port: host, 192.0.2.1:5269, [2001:db8::1]:5269)",
           v[1], v[0]);
  return setter(pc, n,
                xs2s_config_add_route(pc->cfg->xs2s, v[0], v[1],
                                      direct ? XS2S_ROUTE_DIRECT_TLS : 0u),
                what);
}

static int on_resolver(pctx *pc, xmlNode *n, char **v) {
  xs2s_config *x = pc->cfg->xs2s;
  int rc = 0;
  if (v[0]) {
    char *p = file_path(pc, n, "unbound-config", v[0]);
    rc = p ? setter(pc, n, xs2s_config_set_unbound_config(x, p),
                    "unbound-config")
           : -1;
    free(p);
  }
  if (rc == 0 && v[1]) {
    char *p = file_path(pc, n, "resolv-conf", v[1]);
    rc = p ? setter(pc, n, xs2s_config_set_resolv_conf(x, p), "resolv-conf")
           : -1;
    free(p);
  }
  return rc;
}

/* <limits> and <timeouts> take any attribute the engine names; checked
 * here rather than through a fixed list (see walk()). */
static int on_limits(pctx *pc, xmlNode *n, char **v) {
  (void)v;
  for (xmlAttr *a = n->properties; a; a = a->next) {
    const char *name = (const char *)a->name;
    xs2s_limit which = xs2s_config_limit_from_name(name);
    xmlChar *value = xmlNodeGetContent((xmlNode *)a);
    uint64_t x = 0;
    int rc = 0;
    if (which == XS2S_LIMIT_COUNT_)
      rc = fail_at(pc, line_of(n), "unknown limit '%s' on <limits>", name);
    else if (!value || parse_scaled((const char *)value, size_units, 4, &x) < 0)
      rc = fail_at(pc, line_of(n),
                   "%s='%s' on <limits>: expected a number, optionally "
                   "followed by K, M or G",
                   name, value ? (const char *)value : "");
    else if (xs2s_config_set_limit(pc->cfg->xs2s, which, x) < 0)
      rc = fail_at(pc, line_of(n), "%s='%s' on <limits>: out of range", name,
                   (const char *)value);
    xmlFree(value);
    if (rc < 0)
      return -1;
  }
  return 0;
}

static int on_timeouts(pctx *pc, xmlNode *n, char **v) {
  (void)v;
  for (xmlAttr *a = n->properties; a; a = a->next) {
    const char *name = (const char *)a->name;
    xs2s_timeout which = xs2s_config_timeout_from_name(name);
    xmlChar *value = xmlNodeGetContent((xmlNode *)a);
    uint64_t ms = 0;
    int rc = 0;
    if (which == XS2S_TIMEOUT_COUNT_)
      rc = fail_at(pc, line_of(n), "unknown timeout '%s' on <timeouts>",
                   name);
    else if (parse_duration(pc, n, name, value ? (const char *)value : "",
                            &ms) < 0)
      rc = -1;
    else if (xs2s_config_set_timeout(pc->cfg->xs2s, which, ms) < 0)
      rc = fail_at(pc, line_of(n), "%s='%s' on <timeouts>: out of range",
                   name, (const char *)value);
    xmlFree(value);
    if (rc < 0)
      return -1;
  }
  return 0;
}

/* Marks an element whose attributes are free-form (checked by its fn). */
#define ANY_ATTR "*"

static const rule component_rules[] = {
    {"component", {"domain", "secret", NULL}, 1, on_component, NULL},
    {NULL, {NULL}, 0, NULL, NULL}};
static const rule security_rules[] = {
    {"remote", {"domain", "tls", "require-valid-certificate", NULL}, 1,
     on_remote, NULL},
    {NULL, {NULL}, 0, NULL, NULL}};
static const rule privacy_rules[] = {
    {"allow", {"domain", NULL}, 1, on_allow, NULL},
    {"deny", {"domain", NULL}, 1, on_deny, NULL},
    {NULL, {NULL}, 0, NULL, NULL}};
static const rule gateway_rules[] = {
    {"log", {"level", "status-interval", NULL}, 0, on_log, NULL},
    {"domain", {"name", "certificate", "key", NULL}, 1, on_domain, NULL},
    {"listen", {"address", "direct-tls", "reuseport", NULL}, 1, on_listen,
     NULL},
    {"components", {"address", NULL}, 0, on_components, component_rules},
    {"trust", {"ca", "crl", "system", NULL}, 0, on_trust, NULL},
    {"dialback", {"secret", NULL}, 0, on_dialback, NULL},
    {"security", {"tls", "require-valid-certificate", "tls-priority", NULL},
     0, on_security, security_rules},
    {"privacy", {"mode", NULL}, 0, on_privacy, privacy_rules},
    {"route", {"domain", "target", "direct-tls", NULL}, 1, on_route, NULL},
    {"resolver", {"unbound-config", "resolv-conf", NULL}, 0, on_resolver,
     NULL},
    {"limits", {ANY_ATTR, NULL}, 0, on_limits, NULL},
    {"timeouts", {ANY_ATTR, NULL}, 0, on_timeouts, NULL},
    {NULL, {NULL}, 0, NULL, NULL}};

/* -- Walking the tree ----------------------------------------------------- */

/* Fills @v from @n's attributes per @r; unknown ones are errors. */
static int read_attrs(pctx *pc, xmlNode *n, const rule *r, char **v) {
  int any = r->attrs[0] && strcmp(r->attrs[0], ANY_ATTR) == 0;
  for (xmlAttr *a = n->properties; a; a = a->next) {
    if (a->ns)
      return fail_at(pc, line_of(n), "namespaced attribute '%s:%s' on <%s>",
                     (const char *)a->ns->prefix, (const char *)a->name,
                     el(n));
    if (any)
      continue;
    size_t i = 0;
    while (r->attrs[i] && strcmp(r->attrs[i], (const char *)a->name) != 0)
      i++;
    if (!r->attrs[i])
      return fail_at(pc, line_of(n), "unknown attribute '%s' on <%s>",
                     (const char *)a->name, el(n));
    v[i] = (char *)xmlNodeGetContent((xmlNode *)a);
    if (!v[i])
      return fail_at(pc, line_of(n), "out of memory");
  }
  return 0;
}

static int is_blank(const xmlChar *s) {
  for (; s && *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
      return 0;
  return 1;
}

/* libxml2 gives a text node the line where it ends; the reader wants the
 * line of its first visible character. */
static long text_line(const xmlNode *n) {
  const char *t = (const char *)n->content;
  const char *first = t + strspn(t, " \t\r\n");
  long line = line_of(n);
  for (const char *p = first; *p; p++)
    line -= *p == '\n';
  return line;
}

static int walk(pctx *pc, xmlNode *parent, const rule *rules);

static int element(pctx *pc, xmlNode *n, const rule *r) {
  char *v[MAX_ATTRS] = {NULL};
  int rc = read_attrs(pc, n, r, v);
  if (rc == 0)
    rc = r->fn(pc, n, v);
  for (size_t i = 0; i < MAX_ATTRS; i++)
    xmlFree(v[i]);
  if (rc == 0 && r->children)
    rc = walk(pc, n, r->children);
  else if (rc == 0)
    rc = walk(pc, n, NULL);
  return rc;
}

/* Checks and applies the children of @parent; @rules NULL: none allowed. */
static int walk(pctx *pc, xmlNode *parent, const rule *rules) {
  long seen[MAX_RULES] = {0};
  for (xmlNode *n = parent->children; n; n = n->next) {
    switch (n->type) {
    case XML_COMMENT_NODE:
      continue;
    case XML_TEXT_NODE:
      if (is_blank(n->content))
        continue;
      return fail_at(pc, text_line(n), "unexpected text inside <%s>",
                     el(parent));
    case XML_ELEMENT_NODE:
      break;
    default:
      return fail_at(pc, line_of(n), "unexpected %s inside <%s>",
                     n->type == XML_CDATA_SECTION_NODE ? "CDATA section"
                     : n->type == XML_ENTITY_REF_NODE  ? "entity reference"
                     : n->type == XML_PI_NODE ? "processing instruction"
                                              : "node",
                     el(parent));
    }
    if (n->ns)
      return fail_at(pc, line_of(n), "element <%s> in namespace '%s': the "
                                     "configuration uses no namespace",
                     el(n), (const char *)n->ns->href);
    size_t i = 0;
    while (rules && rules[i].name && strcmp(rules[i].name, el(n)) != 0)
      i++;
    if (!rules || !rules[i].name)
      return fail_at(pc, line_of(n), "unknown element <%s> inside <%s>",
                     el(n), el(parent));
    if (!rules[i].repeat && seen[i])
      return fail_at(pc, line_of(n), "<%s> given twice (first at line %ld)",
                     el(n), seen[i]);
    seen[i] = line_of(n);
    if (element(pc, n, &rules[i]) < 0)
      return -1;
  }
  return 0;
}

/* Checks that need the whole file: components name local domains. */
static int finish(pctx *pc) {
  gw_config *cfg = pc->cfg;
  for (size_t i = 0; i < cfg->component_count; i++) {
    gw_component_conf *c = &cfg->components[i];
    if (!xs2s_config_is_local(cfg->xs2s, c->domain))
      return fail_at(pc, c->line,
                     "component domain '%s' is not a local <domain>",
                     c->domain);
  }
  if (xs2s_config_listener_count(cfg->xs2s) == 0 &&
      xs2s_config_add_listener(cfg->xs2s, "0.0.0.0:5269", 0) < 0)
    return fail_at(pc, 0, "out of memory");
  char msg[512];
  if (xs2s_config_check(cfg->xs2s, msg, sizeof(msg)) < 0)
    return fail_at(pc, 0, "%s", msg);
  return 0;
}

static int parse_doc(pctx *pc, xmlDoc *doc) {
  xmlNode *root = xmlDocGetRootElement(doc);
  if (doc->intSubset || doc->extSubset)
    return fail_at(pc, root ? line_of(root) : 0,
                   "a DTD is not allowed in the configuration");
  if (!root)
    return fail_at(pc, 0, "the file has no root element");
  if (strcmp(el(root), "gateway") != 0 || root->ns)
    return fail_at(pc, line_of(root),
                   "the root element is <%s>, expected <gateway>", el(root));
  if (root->properties)
    return fail_at(pc, line_of(root), "unknown attribute '%s' on <gateway>",
                   (const char *)root->properties->name);
  if (walk(pc, root, gateway_rules) < 0)
    return -1;
  return finish(pc);
}

static gw_config *config_new(void) {
  gw_config *cfg = calloc(1, sizeof(*cfg));
  if (!cfg)
    return NULL;
  cfg->xs2s = xs2s_config_new(NULL);
  cfg->component_address = strdup(GW_DEFAULT_COMPONENT_ADDRESS);
  cfg->log_level = GW_LOG_INFO;
  if (!cfg->xs2s || !cfg->component_address) {
    gw_config_free(cfg);
    return NULL;
  }
  return cfg;
}

int gw_config_parse(const char *xml, size_t len, const char *name,
                    const char *base_dir, gw_config **out, char *err,
                    size_t err_size) {
  pctx pc = {NULL, name ? name : "config", base_dir, err, err_size};
  *out = NULL;
  if (err && err_size)
    err[0] = '\0';
  if (len > GW_CONFIG_MAX_BYTES || len > INT32_MAX)
    return fail_at(&pc, 0, "larger than %d bytes", GW_CONFIG_MAX_BYTES);
  xmlParserCtxt *ctxt = xmlNewParserCtxt();
  if (!ctxt)
    return fail_at(&pc, 0, "out of memory");
  /* No entity substitution, no DTD loading, nothing from the network. */
  int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
             XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA;
  xmlDoc *doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, opts);
  int rc = -1;
  if (!doc) {
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message
                                                     : "not well-formed XML");
    msg[strcspn(msg, "\n")] = '\0';
    fail_at(&pc, e ? e->line : 0, "XML error: %s", msg);
  } else {
    pc.cfg = config_new();
    if (!pc.cfg)
      fail_at(&pc, 0, "out of memory");
    else if (parse_doc(&pc, doc) == 0)
      rc = 0;
  }
  xmlFreeDoc(doc);
  xmlFreeParserCtxt(ctxt);
  if (rc == 0)
    *out = pc.cfg;
  else
    gw_config_free(pc.cfg);
  return rc;
}

int gw_config_load(const char *path, gw_config **out, char *err,
                   size_t err_size) {
  pctx pc = {NULL, path, NULL, err, err_size};
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return fail_at(&pc, 0, "cannot open: %s", strerror(errno));
  char *buf = malloc(GW_CONFIG_MAX_BYTES + 1);
  size_t len = buf ? fread(buf, 1, GW_CONFIG_MAX_BYTES + 1, f) : 0;
  int bad = ferror(f);
  fclose(f);
  if (!buf)
    return fail_at(&pc, 0, "out of memory");
  if (bad) {
    free(buf);
    return fail_at(&pc, 0, "read error");
  }
  /* The directory of @path, for relative file names. */
  char *dir = strdup(path);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash)
    slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
  int rc = dir ? gw_config_parse(buf, len, path, slash ? dir : NULL, out, err,
                                 err_size)
               : fail_at(&pc, 0, "out of memory");
  free(dir);
  free(buf);
  return rc;
}

void gw_config_free(gw_config *cfg) {
  if (!cfg)
    return;
  for (size_t i = 0; i < cfg->component_count; i++) {
    gw_component_conf *c = &cfg->components[i];
    /* volatile, so that the wipe is not optimised away */
    for (volatile char *p = c->secret; *p; p++)
      *p = 0;
    free(c->secret);
    free(c->domain);
  }
  free(cfg->components);
  free(cfg->component_address);
  xs2s_config_free(cfg->xs2s);
  free(cfg);
}

const gw_component_conf *gw_config_component(const gw_config *cfg,
                                             const char *domain) {
  char norm[1024];
  if (!domain || strlen(domain) >= sizeof(norm))
    return NULL;
  strcpy(norm, domain);
  domain_normal(norm);
  for (size_t i = 0; i < cfg->component_count; i++)
    if (strcmp(cfg->components[i].domain, norm) == 0)
      return &cfg->components[i];
  return NULL;
}

const char *gw_log_level_name(gw_log_level level) {
  static const char *const names[] = {"error", "warning", "info", "debug"};
  return (unsigned)level < 4 ? names[level] : NULL;
}

/* -- Comparing engine settings -------------------------------------------- */

typedef struct text {
  char *p;
  size_t len, cap;
  int oom;
} text;

static void addf(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void addf(text *t, const char *fmt, ...) {
  for (int tries = 0; tries < 2 && !t->oom; tries++) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0,
                      fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->oom = 1;
      return;
    }
    if (t->p && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap ? t->cap : 256) + (size_t)n + 256;
    char *p = realloc(t->p, cap * 2);
    if (!p)
      t->oom = 1;
    else
      t->p = p, t->cap = cap * 2;
  }
}

static void add_file(text *t, const char *what, const char *path) {
  struct stat st;
  if (!path)
    return addf(t, "%s -\n", what);
  if (stat(path, &st) != 0)
    return addf(t, "%s %s missing\n", what, path);
  addf(t, "%s %s %llu %lld %lld.%09ld\n", what, path,
       (unsigned long long)st.st_ino, (long long)st.st_size,
       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

char *gw_config_engine_text(const xs2s_config *x) {
  text t = {NULL, 0, 0, 0};
  const char *cert, *key, *d;
  for (size_t i = 0; (d = xs2s_config_domain_at(x, i, &cert, &key)); i++) {
    addf(&t, "domain %s\n", d);
    add_file(&t, " cert", cert);
    add_file(&t, " key", key);
  }
  unsigned flags;
  for (size_t i = 0; (d = xs2s_config_listener_at(x, i, &flags)); i++)
    addf(&t, "listen %s %u\n", d, flags);
  add_file(&t, "ca", xs2s_config_ca_file(x));
  add_file(&t, "crl", xs2s_config_crl_file(x));
  add_file(&t, "unbound", xs2s_config_unbound_config(x));
  add_file(&t, "resolv", xs2s_config_resolv_conf(x));
  const char *prio = xs2s_config_tls_priority(x);
  const char *secret = xs2s_config_dialback_secret(x);
  addf(&t, "system %d\npriority %s\nsecret %s\ntls %d\nrequire %d\n",
       xs2s_config_system_trust(x), prio ? prio : "-", secret ? secret : "-",
       (int)xs2s_config_tls_mode(x), xs2s_config_require_valid_cert(x));
  xs2s_tls_mode mode;
  int req;
  for (size_t i = 0; (d = xs2s_config_remote_policy_at(x, i, &mode, &req));
       i++)
    addf(&t, "remote %s %d %d\n", d, (int)mode, req);
  addf(&t, "privacy %d\n", (int)xs2s_config_privacy_mode(x));
  for (int l = XS2S_PRIVACY_ALLOW_LIST; l <= XS2S_PRIVACY_DENY_LIST; l++)
    for (size_t i = 0;
         (d = xs2s_config_privacy_domain_at(x, (xs2s_privacy_mode)l, i)); i++)
      addf(&t, "list %d %s\n", l, d);
  for (size_t i = 0; (d = xs2s_config_route_domain_at(x, i)); i++) {
    xs2s_route r;
    for (size_t j = 0; xs2s_config_route_at(x, d, j, &r) == 0; j++)
      addf(&t, "route %s %s %u %u\n", d, r.host, (unsigned)r.port, r.flags);
  }
  for (int l = 0; l < XS2S_LIMIT_COUNT_; l++)
    addf(&t, "limit %d %llu\n", l,
         (unsigned long long)xs2s_config_limit(x, (xs2s_limit)l));
  for (int l = 0; l < XS2S_TIMEOUT_COUNT_; l++)
    addf(&t, "timeout %d %llu\n", l,
         (unsigned long long)xs2s_config_timeout(x, (xs2s_timeout)l));
  if (t.oom) {
    free(t.p);
    return NULL;
  }
  return t.p;
}
