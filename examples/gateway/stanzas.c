/*
 * stanzas.c: namespace moves and JID domains for the gateway.
 */
#include "stanzas.h"

#include <string.h>

static int is_content_ns(const char *ns) {
  return !ns[0] || strcmp(ns, XS2S_NS_SERVER) == 0 ||
         strcmp(ns, XS2S_NS_CLIENT) == 0 ||
         strcmp(ns, XS2S_NS_COMPONENT) == 0;
}

/* Copies @s under @parent (or as a new root when @parent is NULL). */
static xs2s_stanza *move(const xs2s_stanza *s, xs2s_stanza *parent,
                         const char *ns) {
  const char *own = xs2s_stanza_ns(s);
  if (!is_content_ns(own))
    return parent ? xs2s_stanza_add_copy(parent, s) : xs2s_stanza_copy(s);
  xs2s_stanza *e = parent ? xs2s_stanza_add_child(parent,
                                                  xs2s_stanza_name(s), ns)
                          : xs2s_stanza_new(xs2s_stanza_name(s), ns);
  if (!e)
    return NULL;
  for (size_t i = 0, n = xs2s_stanza_attr_count(s); i < n; i++) {
    const char *an, *ans, *av;
    xs2s_stanza_attr_at(s, i, &an, &ans, &av);
    if (xs2s_stanza_set_attr_ns(e, an, ans, av) < 0)
      goto fail;
  }
  for (const xs2s_stanza *ch = xs2s_stanza_first_child(s); ch;
       ch = xs2s_stanza_next(ch)) {
    if (xs2s_stanza_type(ch) == XS2S_NODE_TEXT) {
      const char *t = xs2s_stanza_text(ch);
      if (!t || xs2s_stanza_add_text(e, t, strlen(t)) < 0)
        goto fail;
    } else if (!move(ch, e, ns)) {
      goto fail;
    }
  }
  return e;
fail:
  if (!parent)
    xs2s_stanza_free(e);
  return NULL;
}

xs2s_stanza *gw_stanza_move_ns(const xs2s_stanza *s, const char *ns) {
  if (!s || xs2s_stanza_type(s) != XS2S_NODE_ELEMENT)
    return NULL;
  return move(s, NULL, ns);
}

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
