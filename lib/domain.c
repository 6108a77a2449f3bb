/*
 * domain.c: the one canonical form of a domain name.
 *
 * Configuration, policy, stream headers, dialback and certificate names all
 * meet on it: IDNA A-labels (U-labels mapped with UTS #46 through
 * gnutls_idna_map), ASCII lower case, no trailing dot; IPv6 literals in
 * RFC 5952 form inside brackets. Comparisons are then plain strcmp().
 */
#include "domain.h"

#include <arpa/inet.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include <xs2s/common.h>

#include "utf8.h"

#define LABEL_MAX 63

static int normalize_ipv6(const char *in, size_t len,
                          char out[XS2S__DOMAIN_MAX + 1]) {
  char text[INET6_ADDRSTRLEN + 1];
  struct in6_addr a;
  if (len < 3 || in[len - 1] != ']' || len - 2 > INET6_ADDRSTRLEN)
    return XS2S_ERR_INVALID_ARGUMENT;
  memcpy(text, in + 1, len - 2);
  text[len - 2] = '\0';
  if (inet_pton(AF_INET6, text, &a) != 1)
    return XS2S_ERR_INVALID_ARGUMENT;
  out[0] = '[';
  if (!inet_ntop(AF_INET6, &a, out + 1, INET6_ADDRSTRLEN))
    return XS2S_ERR_INVALID_ARGUMENT;
  size_t n = strlen(out);
  out[n] = ']';
  out[n + 1] = '\0';
  return (int)n + 1;
}

static int is_ldh(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-';
}

/* Writes the ASCII name @p (@len bytes, no trailing dot) lower-cased into
 * @out after checking its labels: letters, digits and hyphens, no hyphen
 * first or last, 1..63 bytes. */
static int put_ldh(const unsigned char *p, size_t len,
                   char out[XS2S__DOMAIN_MAX + 1]) {
  size_t label = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || p[i] == '.') {
      if (label == 0 || label > LABEL_MAX || p[i - 1] == '-' ||
          p[i - label] == '-')
        return XS2S_ERR_INVALID_ARGUMENT;
      label = 0;
      if (i < len)
        out[i] = '.';
      continue;
    }
    if (!is_ldh(p[i]))
      return XS2S_ERR_INVALID_ARGUMENT;
    unsigned char c = p[i];
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    label++;
  }
  out[len] = '\0';
  return (int)len;
}

/* Maps a name with U-labels to A-labels, then checks those. */
static int put_idna(const char *in, size_t len,
                    char out[XS2S__DOMAIN_MAX + 1]) {
  if (!xs2s__utf8_valid(in, len) || memchr(in, '\0', len))
    return XS2S_ERR_INVALID_ARGUMENT;
  gnutls_datum_t ace = {NULL, 0};
  if (gnutls_idna_map(in, (unsigned)len, &ace, 0) < 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  int rc = XS2S_ERR_INVALID_ARGUMENT;
  size_t n = ace.size;
  if (n > 0 && ace.data[n - 1] == '.') /* a mapped full stop, e.g. U+3002 */
    n--;
  if (n > 0 && n <= XS2S__DOMAIN_MAX)
    rc = put_ldh(ace.data, n, out);
  gnutls_free(ace.data);
  return rc;
}

int xs2s__domain_normalize(const char *in, size_t len,
                           char out[XS2S__DOMAIN_MAX + 1]) {
  if (!in || len == 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (in[0] == '[')
    return normalize_ipv6(in, len, out);
  if (in[len - 1] == '.')
    len--;
  if (len == 0 || len > XS2S__DOMAIN_MAX)
    return XS2S_ERR_INVALID_ARGUMENT;
  const unsigned char *p = (const unsigned char *)in;
  for (size_t i = 0; i < len; i++)
    if (p[i] >= 0x80)
      return put_idna(in, len, out);
  return put_ldh(p, len, out);
}

int xs2s__domain_normalize_host(const char *in,
                                char out[XS2S__DOMAIN_MAX + 1]) {
  int n = in ? xs2s__domain_normalize(in, strlen(in), out)
             : XS2S_ERR_INVALID_ARGUMENT;
  if (n < 0 || out[0] == '[' || n > XS2S__DNS_NAME_MAX)
    return XS2S_ERR_INVALID_ARGUMENT;
  return 0;
}

int xs2s__domain_equal(const char *a, const char *b) {
  if (!a || !b)
    return 0;
  char na[XS2S__DOMAIN_MAX + 1], nb[XS2S__DOMAIN_MAX + 1];
  if (xs2s__domain_normalize(a, strlen(a), na) < 0 ||
      xs2s__domain_normalize(b, strlen(b), nb) < 0)
    return 0;
  return strcmp(na, nb) == 0;
}
