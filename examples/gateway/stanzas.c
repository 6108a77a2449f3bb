/*
 * stanzas.c: JID domains for the gateway.
 */
#include "stanzas.h"

#include <string.h>

int gw_jid_domain(const char *jid, char *out, size_t size) {
  if (!jid)
    return -1;
  size_t end = strcspn(jid, "/");
  const char *at = memchr(jid, '@', end);
  if (at == jid || (jid[end] == '/' && jid[end + 1] == '\0'))
    return -1; /* empty localpart or resourcepart */
  const char *d = at ? at + 1 : jid;
  size_t len = end - (size_t)(d - jid);
  if (len > 1 && d[len - 1] == '.')
    len--;
  if (len == 0 || len >= size || memchr(d, '@', len))
    return -1;
  for (size_t i = 0; i < len; i++)
    out[i] = d[i] >= 'A' && d[i] <= 'Z' ? (char)(d[i] - 'A' + 'a') : d[i];
  out[len] = '\0';
  return 0;
}
