/*
 * identity.c: does a certificate name an XMPP domain? (RFC 6125 as profiled
 * by RFC 6120 section 13.7.1.2 and RFC 7590).
 *
 * Pure: the names come decoded (cert.c), the domain as text. The domain is
 * put in the canonical form of domain.c (lower-case A-labels, no trailing
 * dot) and presented names are compared against it, so U-label input and
 * A-label certificates meet on one form.
 */
#include <string.h>

#include "tls_int.h"

static const char srv_prefix[] = "_xmpp-server.";

static char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Whether the presented @name (any case, one optional trailing dot) equals
 * the normalised @domain. */
static int name_equals(const char *name, size_t len, const char *domain) {
  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len != strlen(domain) || len == 0)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (ascii_lower(name[i]) != domain[i])
      return 0;
  return 1;
}

/* "*.parent" matches "label.parent": the wildcard is the whole left-most
 * label, stands for exactly one label, and at least two labels follow it
 * so that "*.test" cannot claim a whole top-level domain. */
static int wildcard_matches(const char *name, const char *domain) {
  if (name[0] != '*' || name[1] != '.')
    return 0;
  const char *parent = name + 2;
  size_t plen = strlen(parent);
  if (plen > 0 && parent[plen - 1] == '.')
    plen--;
  if (memchr(parent, '*', plen) || !memchr(parent, '.', plen))
    return 0;
  const char *dot = strchr(domain, '.');
  if (!dot || dot == domain)
    return 0;
  return name_equals(parent, plen, dot + 1);
}

static int srvname_matches(const char *name, const char *domain) {
  size_t n = sizeof(srv_prefix) - 1;
  for (size_t i = 0; i < n; i++)
    if (ascii_lower(name[i]) != srv_prefix[i])
      return 0;
  return name_equals(name + n, strlen(name + n), domain);
}

/* id-on-xmppAddr holds a JID in UTF-8; a server is a bare domain JID, so a
 * local part or resource never matches. */
static int xmppaddr_matches(const char *jid, const char *domain) {
  if (strpbrk(jid, "@/"))
    return 0;
  char norm[XS2S__DOMAIN_MAX + 1];
  if (xs2s__domain_normalize_host(jid, norm) < 0)
    return 0;
  return strcmp(norm, domain) == 0;
}

static int name_matches(const xs2s_tls_name *n, xs2s_tls_name_match how,
                        const char *domain) {
  if (!n->value)
    return 0;
  switch (how) {
  case XS2S_TLS_MATCH_DNSNAME:
    return n->type == XS2S_TLS_NAME_DNS &&
           name_equals(n->value, strlen(n->value), domain);
  case XS2S_TLS_MATCH_WILDCARD:
    return n->type == XS2S_TLS_NAME_DNS && wildcard_matches(n->value, domain);
  case XS2S_TLS_MATCH_SRVNAME:
    return n->type == XS2S_TLS_NAME_SRV && srvname_matches(n->value, domain);
  case XS2S_TLS_MATCH_XMPPADDR:
    return n->type == XS2S_TLS_NAME_XMPPADDR &&
           xmppaddr_matches(n->value, domain);
  default:
    return 0;
  }
}

xs2s_tls_name_match xs2s__match_names(const xs2s_tls_name *names,
                                      size_t count, const char *domain) {
  /* The most specific kind of match wins, whatever the order of SANs. */
  static const xs2s_tls_name_match order[] = {
      XS2S_TLS_MATCH_DNSNAME, XS2S_TLS_MATCH_WILDCARD, XS2S_TLS_MATCH_SRVNAME,
      XS2S_TLS_MATCH_XMPPADDR};
  for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
    for (size_t i = 0; i < count; i++)
      if (name_matches(&names[i], order[k], domain))
        return order[k];
  return XS2S_TLS_MATCH_NONE;
}

int xs2s_tls_match_name(const xs2s_tls_name *names, size_t count,
                        const char *domain) {
  char norm[XS2S__DOMAIN_MAX + 1];
  int rc = xs2s__domain_normalize_host(domain, norm);
  if (rc < 0)
    return rc;
  if (!names && count > 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  return (int)xs2s__match_names(names, count, norm);
}

const char *xs2s_tls_name_match_name(int match) {
  switch (match) {
  case XS2S_TLS_MATCH_NONE:
    return "none";
  case XS2S_TLS_MATCH_DNSNAME:
    return "dnsname";
  case XS2S_TLS_MATCH_WILDCARD:
    return "wildcard";
  case XS2S_TLS_MATCH_SRVNAME:
    return "srvname";
  case XS2S_TLS_MATCH_XMPPADDR:
    return "xmppaddr";
  case XS2S_TLS_MATCH_DANE:
    return "dane";
  }
  return "unknown";
}
