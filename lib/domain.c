/*
 * domain.c: RFC 7622 domainpart checks and normal form.
 */
#include "domain.h"

#include <arpa/inet.h>
#include <string.h>

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

/* Checks one label and appends its normal form at out[*pos]. */
static int put_label(const unsigned char *p, size_t len, char *out,
                     size_t *pos) {
  if (len == 0 || p[0] == '-' || p[len - 1] == '-')
    return XS2S_ERR_INVALID_ARGUMENT;
  int ascii = 1;
  for (size_t i = 0; i < len;) {
    if (p[i] < 0x80) {
      if (!is_ldh(p[i]))
        return XS2S_ERR_INVALID_ARGUMENT;
      unsigned char c = p[i];
      out[(*pos)++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      i++;
      continue;
    }
    /* Multi-byte UTF-8 sequences use only bytes >= 0x80, so a maximal run
     * of such bytes must be whole characters. */
    size_t n = 0;
    while (i + n < len && p[i + n] >= 0x80)
      n++;
    if (!xs2s__utf8_valid((const char *)p + i, n))
      return XS2S_ERR_INVALID_ARGUMENT;
    memcpy(out + *pos, p + i, n);
    *pos += n;
    i += n;
    ascii = 0;
  }
  /* The 63-byte limit applies to the A-label; without IDNA tables it is
   * only checked for ASCII labels. */
  if (ascii && len > LABEL_MAX)
    return XS2S_ERR_INVALID_ARGUMENT;
  return 0;
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
  size_t pos = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && p[i] != '.')
      continue;
    if (start > 0)
      out[pos++] = '.';
    int rc = put_label(p + start, i - start, out, &pos);
    if (rc < 0)
      return rc;
    start = i + 1;
  }
  out[pos] = '\0';
  return (int)pos;
}
