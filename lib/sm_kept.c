/*
 * sm_kept.c: turning a written stanza kept as bytes back into a tree
 * (XEP-0198; see sm_kept.h).
 */
#include "sm_kept.h"

#include <limits.h>
#include <string.h>

#include "alloc.h"
#include "parser_internal.h"
#include "stanza_internal.h"

/* What our stream header binds (session.c), around the stanza. */
static const char open_tag[] =
    "<w xmlns='" XS2S_NS_SERVER "' xmlns:stream='" XS2S_NS_STREAMS
    "' xmlns:db='" XS2S_NS_DIALBACK "'>";
static const char close_tag[] = "</w>";

/* Whether @prefix is one the header binds, to @ns. */
static int scope_prefix(const char *prefix, const char *ns) {
  return prefix && ((strcmp(prefix, "db") == 0 &&
                     strcmp(ns, XS2S_NS_DIALBACK) == 0) ||
                    (strcmp(prefix, "stream") == 0 &&
                     strcmp(ns, XS2S_NS_STREAMS) == 0));
}

static void forget_node_prefixes(xs2s_stanza *n) {
  if (scope_prefix(n->prefix, n->ns))
    n->prefix = NULL;
  for (uint32_t i = 0; i < n->attr_count; i++)
    if (scope_prefix(n->attrs[i].prefix, n->attrs[i].ns))
      n->attrs[i].prefix = NULL;
}

/* The serialiser wrote the header's prefixes where the tree had none (a
 * stanza built with the API); parsed, they would stick to the tree and
 * show in its standalone XML. Names and namespaces are unchanged. */
static void forget_scope_prefixes(xs2s_stanza *root) {
  xs2s_stanza *n = root;
  while (n) {
    if (n->type == XS2S_NODE_ELEMENT)
      forget_node_prefixes(n);
    if (n->first_child) {
      n = n->first_child;
      continue;
    }
    while (n != root && !n->next)
      n = n->parent;
    n = n == root ? NULL : n->next;
  }
}

/* The stanza inside the scope element, as a tree of its own. */
static xs2s_stanza *unwrap(const xs2s_stanza *w, int *err) {
  const xs2s_stanza *st = xs2s_stanza_first_child(w);
  if (!st || xs2s_stanza_type(st) != XS2S_NODE_ELEMENT ||
      xs2s_stanza_next(st)) {
    *err = XS2S_ERR_BAD_FORMAT;
    return NULL;
  }
  xs2s_stanza *copy = xs2s_stanza_copy(st);
  if (!copy)
    *err = XS2S_ERR_NOMEM;
  else
    forget_scope_prefixes(copy);
  return copy;
}

xs2s_stanza *xs2s__sm_kept_parse(const xs2s_mem *mem, const char *xml,
                                 size_t len, int *err) {
  size_t ol = sizeof(open_tag) - 1, cl = sizeof(close_tag) - 1;
  char *doc = xs2s__malloc(mem, ol + len + cl);
  if (!doc) {
    *err = XS2S_ERR_NOMEM;
    return NULL;
  }
  memcpy(doc, open_tag, ol);
  memcpy(doc + ol, xml, len);
  memcpy(doc + ol + len, close_tag, cl);
  /* It was written, whatever it holds: only the parser's own caps. */
  xs2s_parser_limits lim = {ol + len + cl, UINT_MAX, UINT_MAX};
  xs2s_stanza *w = xs2s__parse_fragment_lim(mem, doc, ol + len + cl, &lim,
                                            err);
  xs2s__free(mem, doc);
  if (!w)
    return NULL;
  xs2s_stanza *st = unwrap(w, err);
  xs2s_stanza_free(w);
  return st;
}

int xs2s__sm_kept_thaw(const xs2s_mem *mem, xs2s__qentry *e) {
  if (e->stanza || !e->xml)
    return 0;
  int err = 0;
  xs2s_stanza *st = xs2s__sm_kept_parse(mem, e->xml, e->bytes, &err);
  if (!st)
    return err < 0 ? err : XS2S_ERR_NOMEM;
  e->stanza = st;
  e->xml = NULL;
  return 0;
}
