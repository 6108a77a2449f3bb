/*
 * stanza.c: the element tree: building, lookup, copying.
 *
 * Serialising is in serialize.c, parsing in parser.c.
 */
#include <string.h>

#include "alloc.h"
#include "parser_internal.h"
#include "stanza_internal.h"
#include "utf8.h"

/* First chunk of a tree built through the API: enough for a typical
 * message (three nodes, a few attributes and their strings) in the same
 * allocation as the tree header. */
#define TREE_FIRST_CHUNK (1024u - sizeof(xs2s__tree))

/* The namespace that xmlns attributes live in; nothing else may use it. */
#define NS_XMLNS "http://www.w3.org/2000/xmlns/"

/* ---- trees ---- */

void xs2s__tree_init(xs2s__tree *t, const xs2s_mem *mem, void *buf,
                     size_t size, int lent) {
  xs2s__mem_init(&t->mem, mem);
  xs2s__arena_init(&t->arena, &t->mem, buf, size);
  t->root = NULL;
  t->lent = lent;
}

void xs2s__tree_reset(xs2s__tree *t) {
  xs2s__arena_reset(&t->arena);
  t->root = NULL;
}

void xs2s__tree_release(xs2s__tree *t) {
  xs2s__arena_free(&t->arena);
  t->root = NULL;
}

/* A tree whose first chunk of @first bytes shares its allocation. */
static xs2s__tree *tree_create(const xs2s_mem *mem, size_t first) {
  xs2s_mem m;
  xs2s__mem_init(&m, mem);
  if (first > (size_t)-1 / 2)
    return NULL;
  xs2s__tree *t = xs2s__malloc(&m, sizeof(xs2s__tree) + first);
  if (!t)
    return NULL;
  xs2s__tree_init(t, &m, (char *)t + sizeof(xs2s__tree), first, 0);
  return t;
}

static void tree_destroy(xs2s__tree *t) {
  xs2s_mem m = t->mem;
  xs2s__tree_release(t);
  xs2s__free(&m, t);
}

/* ---- nodes ---- */

static void append_child(xs2s_stanza *parent, xs2s_stanza *child) {
  child->parent = parent;
  if (parent->last_child)
    parent->last_child->next = child;
  else
    parent->first_child = child;
  parent->last_child = child;
}

/* Links a finished node in: as the last child of @parent, or as the root. */
static void attach(xs2s__tree *t, xs2s_stanza *parent, xs2s_stanza *n) {
  if (parent)
    append_child(parent, n);
  else
    t->root = n;
}

static xs2s_stanza *node_alloc(xs2s__tree *t, xs2s_node_type type) {
  xs2s_stanza *n = xs2s__arena_alloc(&t->arena, sizeof(*n));
  if (!n)
    return NULL;
  memset(n, 0, sizeof(*n));
  n->tree = t;
  n->type = type;
  return n;
}

xs2s_stanza *xs2s__node_element(xs2s__tree *t, xs2s_stanza *parent,
                                const char *name, const char *ns,
                                const char *prefix) {
  xs2s_stanza *e = node_alloc(t, XS2S_NODE_ELEMENT);
  if (!e)
    return NULL;
  e->name = name;
  e->ns = ns;
  e->prefix = prefix;
  attach(t, parent, e);
  return e;
}

xs2s__attr *xs2s__node_attrs(xs2s_stanza *e, size_t n) {
  e->attr_count = 0;
  if (n == 0)
    return e->attrs;
  if (n > UINT32_MAX || n > (size_t)-1 / sizeof(xs2s__attr))
    return NULL;
  xs2s__attr *a = xs2s__arena_alloc(&e->tree->arena, n * sizeof(*a));
  if (!a)
    return NULL;
  e->attrs = a;
  e->attr_cap = (uint32_t)n;
  return a;
}

/* Makes room for @extra more bytes in text node @n. */
static int text_reserve(xs2s_stanza *n, size_t extra) {
  if (extra > (size_t)-1 / 4 - n->text_len)
    return XS2S_ERR_NOMEM;
  size_t need = n->text_len + extra + 1;
  if (need <= n->text_cap)
    return 0;
  xs2s__arena *a = &n->tree->arena;
  if (xs2s__arena_extend(a, n->text, n->text_cap, need)) {
    n->text_cap = need;
    return 0;
  }
  /* Doubling keeps many small appends (text split by the parser, or built
   * piecewise) linear overall. */
  size_t cap = need < 2 * n->text_cap ? 2 * n->text_cap : need;
  char *p = xs2s__arena_alloc_aligned(a, cap, 1);
  if (!p)
    return XS2S_ERR_NOMEM;
  memcpy(p, n->text, n->text_len + 1);
  n->text = p;
  n->text_cap = cap;
  return 0;
}

/* A new text node under @parent (NULL: as a root) holding a copy of text. */
static xs2s_stanza *text_node(xs2s__tree *t, xs2s_stanza *parent,
                              const char *text, size_t len) {
  xs2s_stanza *n = node_alloc(t, XS2S_NODE_TEXT);
  if (!n)
    return NULL;
  /* Allocated right after the node, so that appending more text can grow
   * it in place. */
  n->text = xs2s__arena_strndup(&t->arena, text, len);
  if (!n->text)
    return NULL;
  n->text_len = len;
  n->text_cap = len + 1;
  attach(t, parent, n);
  return n;
}

int xs2s__node_text(xs2s_stanza *parent, const char *text, size_t len) {
  xs2s_stanza *last = parent->last_child;
  if (last && last->type == XS2S_NODE_TEXT) {
    int rc = text_reserve(last, len);
    if (rc < 0)
      return rc;
    memcpy(last->text + last->text_len, text, len);
    last->text_len += len;
    last->text[last->text_len] = '\0';
    return 0;
  }
  return text_node(parent->tree, parent, text, len) ? 0 : XS2S_ERR_NOMEM;
}

/* ---- copying ---- */

/* A namespace a copy can share instead of copying: "" and the XML
 * namespace are static, and a namespace equal to the enclosing element's
 * reuses its string. NULL when it must be copied. */
static const char *shared_ns(const char *ns, const char *enclosing) {
  if (ns[0] == '\0')
    return "";
  if (enclosing && (ns == enclosing || strcmp(ns, enclosing) == 0))
    return enclosing;
  if (strcmp(ns, XS2S_NS_XML) == 0)
    return XS2S_NS_XML;
  return NULL;
}

static size_t str_size(const char *s) {
  return s ? strlen(s) + 1 : 0;
}

/* Arena bytes a copy of @n (node only) needs; @parent_ns is the namespace
 * of the element it will be copied under (NULL for none). */
static size_t node_size(const xs2s_stanza *n, const char *parent_ns) {
  size_t size = xs2s__arena_need(sizeof(*n), sizeof(void *));
  if (n->type == XS2S_NODE_TEXT)
    return size + n->text_len + 1;
  size += str_size(n->name) + str_size(n->prefix);
  if (!shared_ns(n->ns, parent_ns))
    size += str_size(n->ns);
  if (n->attr_count)
    size += xs2s__arena_need(n->attr_count * sizeof(xs2s__attr),
                             sizeof(void *));
  for (uint32_t i = 0; i < n->attr_count; i++) {
    const xs2s__attr *a = &n->attrs[i];
    size += str_size(a->name) + str_size(a->prefix) + str_size(a->value);
    if (!shared_ns(a->ns, n->ns))
      size += str_size(a->ns);
  }
  return size;
}

/* The next node after @n in document order within @top's subtree. */
static const xs2s_stanza *walk_next(const xs2s_stanza *top,
                                    const xs2s_stanza *n) {
  if (n->type == XS2S_NODE_ELEMENT && n->first_child)
    return n->first_child;
  while (n != top && !n->next)
    n = n->parent;
  return n == top ? NULL : n->next;
}

/* Arena bytes a copy of @src's whole subtree needs as a root. */
static size_t subtree_size(const xs2s_stanza *src) {
  size_t size = 0;
  for (const xs2s_stanza *n = src; n; n = walk_next(src, n))
    size += node_size(n, n == src ? NULL : n->parent->ns);
  return size;
}

static const char *copy_ns(xs2s__arena *a, const char *ns,
                           const char *enclosing) {
  const char *s = shared_ns(ns, enclosing);
  return s ? s : xs2s__arena_strndup(a, ns, strlen(ns));
}

static const char *copy_opt(xs2s__arena *a, const char *s, int *ok) {
  if (!s)
    return NULL;
  char *c = xs2s__arena_strndup(a, s, strlen(s));
  if (!c)
    *ok = 0;
  return c;
}

/* Copies one node (not its children) under @parent (NULL: as the root). */
static xs2s_stanza *copy_node(xs2s__tree *t, xs2s_stanza *parent,
                              const xs2s_stanza *src) {
  xs2s__arena *a = &t->arena;
  if (src->type == XS2S_NODE_TEXT) {
    if (!parent)
      return text_node(t, NULL, src->text, src->text_len);
    if (xs2s__node_text(parent, src->text, src->text_len) < 0)
      return NULL;
    return parent->last_child;
  }
  int ok = 1;
  const char *name = copy_opt(a, src->name, &ok);
  const char *ns = copy_ns(a, src->ns, parent ? parent->ns : NULL);
  const char *prefix = copy_opt(a, src->prefix, &ok);
  if (!ok || !ns)
    return NULL;
  xs2s_stanza *e = xs2s__node_element(t, parent, name, ns, prefix);
  if (!e || (src->attr_count && !xs2s__node_attrs(e, src->attr_count)))
    return NULL;
  for (uint32_t i = 0; i < src->attr_count; i++) {
    const xs2s__attr *sa = &src->attrs[i];
    xs2s__attr *da = &e->attrs[i];
    da->name = copy_opt(a, sa->name, &ok);
    da->ns = copy_ns(a, sa->ns, e->ns);
    da->prefix = copy_opt(a, sa->prefix, &ok);
    da->value = copy_opt(a, sa->value, &ok);
    if (!ok || !da->ns)
      return NULL;
    e->attr_count = i + 1;
  }
  return e;
}

/* Unlinks @child, the last child of @parent. */
static void drop_last_child(xs2s_stanza *parent, xs2s_stanza *child) {
  xs2s_stanza *prev = NULL;
  for (xs2s_stanza *c = parent->first_child; c != child; c = c->next)
    prev = c;
  if (prev)
    prev->next = NULL;
  else
    parent->first_child = NULL;
  parent->last_child = prev;
  child->parent = NULL;
}

xs2s_stanza *xs2s__stanza_copy_into(xs2s__tree *t, xs2s_stanza *parent,
                                    const xs2s_stanza *src) {
  xs2s_stanza *top = copy_node(t, parent, src);
  if (!top || src->type == XS2S_NODE_TEXT)
    return top;
  const xs2s_stanza *s = src;
  xs2s_stanza *d = top, *dparent;
  for (;;) {
    if (s->type == XS2S_NODE_ELEMENT && s->first_child) {
      s = s->first_child;
      dparent = d;
    } else {
      while (s != src && !s->next) {
        s = s->parent;
        d = d->parent;
      }
      if (s == src)
        break;
      s = s->next;
      dparent = d->parent;
    }
    d = copy_node(t, dparent, s);
    if (!d) {
      /* Leave @parent as it was: half a copy is no copy. */
      if (parent)
        drop_last_child(parent, top);
      return NULL;
    }
  }
  return top;
}

xs2s_stanza *xs2s__stanza_copy_mem(const xs2s_mem *mem,
                                   const xs2s_stanza *src) {
  xs2s__tree *t = tree_create(mem, subtree_size(src));
  if (!t)
    return NULL;
  xs2s_stanza *root = xs2s__stanza_copy_into(t, NULL, src);
  if (!root) {
    tree_destroy(t);
    return NULL;
  }
  t->root = root;
  return root;
}

/* ---- public API: trees ---- */

/* An element or attribute namespace the API accepts: UTF-8 text, and not
 * one of the two namespaces XML reserves for its own prefixes. */
static int ns_ok(const char *ns, int for_element) {
  if (!xs2s__xml_text_valid(ns, strlen(ns)) || strcmp(ns, NS_XMLNS) == 0)
    return 0;
  return !(for_element && strcmp(ns, XS2S_NS_XML) == 0);
}

xs2s_stanza *xs2s_stanza_new_mem(const xs2s_mem *mem, const char *name,
                                 const char *ns) {
  if (!name || !xs2s__xml_ncname_valid(name))
    return NULL;
  if (!ns)
    ns = "";
  if (!ns_ok(ns, 1))
    return NULL;
  xs2s__tree *t = tree_create(mem, TREE_FIRST_CHUNK);
  if (!t)
    return NULL;
  xs2s__arena *a = &t->arena;
  const char *n = xs2s__arena_strndup(a, name, strlen(name));
  const char *u = copy_ns(a, ns, NULL);
  xs2s_stanza *root = n && u ? xs2s__node_element(t, NULL, n, u, NULL) : NULL;
  if (!root) {
    tree_destroy(t);
    return NULL;
  }
  return root;
}

xs2s_stanza *xs2s_stanza_new(const char *name, const char *ns) {
  return xs2s_stanza_new_mem(NULL, name, ns);
}

void xs2s_stanza_free(xs2s_stanza *root) {
  if (!root || root->tree->lent || root->tree->root != root)
    return;
  tree_destroy(root->tree);
}

xs2s_stanza *xs2s_stanza_copy(const xs2s_stanza *s) {
  if (!s)
    return NULL;
  return xs2s__stanza_copy_mem(&s->tree->mem, s);
}

static int is_content_ns(const char *ns) {
  return !ns[0] || strcmp(ns, XS2S_NS_SERVER) == 0 ||
         strcmp(ns, XS2S_NS_CLIENT) == 0 ||
         strcmp(ns, XS2S_NS_COMPONENT) == 0;
}

/* Copies element @s under @parent, or as a new root using @mem when
 * @parent is NULL, moving content-namespace elements into @ns. */
static xs2s_stanza *copy_into_ns(const xs2s_stanza *s, xs2s_stanza *parent,
                                 const char *ns, const xs2s_mem *mem) {
  if (!is_content_ns(s->ns))
    return parent ? xs2s_stanza_add_copy(parent, s)
                  : xs2s__stanza_copy_mem(mem, s);
  xs2s_stanza *e = parent ? xs2s_stanza_add_child(parent, s->name, ns)
                          : xs2s_stanza_new_mem(mem, s->name, ns);
  if (!e)
    return NULL;
  for (size_t i = 0, n = xs2s_stanza_attr_count(s); i < n; i++) {
    const char *an, *ans, *av;
    xs2s_stanza_attr_at(s, i, &an, &ans, &av);
    if (xs2s_stanza_set_attr_ns(e, an, ans, av) < 0)
      goto fail;
  }
  for (const xs2s_stanza *ch = s->first_child; ch; ch = ch->next) {
    if (ch->type == XS2S_NODE_TEXT) {
      const char *t = xs2s_stanza_text(ch);
      if (!t || xs2s_stanza_add_text(e, t, strlen(t)) < 0)
        goto fail;
    } else if (!copy_into_ns(ch, e, ns, mem)) {
      goto fail;
    }
  }
  return e;
fail:
  if (!parent)
    xs2s_stanza_free(e);
  return NULL;
}

xs2s_stanza *xs2s__stanza_copy_ns_mem(const xs2s_mem *mem,
                                      const xs2s_stanza *s, const char *ns) {
  if (!s || s->type != XS2S_NODE_ELEMENT || !ns)
    return NULL;
  return copy_into_ns(s, NULL, ns, mem);
}

xs2s_stanza *xs2s_stanza_copy_ns(const xs2s_stanza *s, const char *ns) {
  return s ? xs2s__stanza_copy_ns_mem(&s->tree->mem, s, ns) : NULL;
}

/* ---- public API: lookup ---- */

xs2s_node_type xs2s_stanza_type(const xs2s_stanza *s) {
  return s ? s->type : (xs2s_node_type)0;
}

static int is_element(const xs2s_stanza *s) {
  return s && s->type == XS2S_NODE_ELEMENT;
}

const char *xs2s_stanza_name(const xs2s_stanza *s) {
  return is_element(s) ? s->name : NULL;
}

const char *xs2s_stanza_ns(const xs2s_stanza *s) {
  return is_element(s) ? s->ns : NULL;
}

int xs2s_stanza_is(const xs2s_stanza *s, const char *name, const char *ns) {
  if (!is_element(s))
    return 0;
  if (name && strcmp(s->name, name) != 0)
    return 0;
  return !ns || strcmp(s->ns, ns) == 0;
}

static xs2s__attr *find_attr(const xs2s_stanza *s, const char *name,
                             const char *ns) {
  if (!is_element(s) || !name)
    return NULL;
  if (!ns)
    ns = "";
  for (uint32_t i = 0; i < s->attr_count; i++) {
    xs2s__attr *a = &s->attrs[i];
    if (strcmp(a->name, name) == 0 && strcmp(a->ns, ns) == 0)
      return a;
  }
  return NULL;
}

const char *xs2s_stanza_attr(const xs2s_stanza *s, const char *name) {
  const xs2s__attr *a = find_attr(s, name, "");
  return a ? a->value : NULL;
}

const char *xs2s_stanza_attr_ns(const xs2s_stanza *s, const char *name,
                                const char *ns) {
  const xs2s__attr *a = find_attr(s, name, ns);
  return a ? a->value : NULL;
}

size_t xs2s_stanza_attr_count(const xs2s_stanza *s) {
  return is_element(s) ? s->attr_count : 0;
}

int xs2s_stanza_attr_at(const xs2s_stanza *s, size_t i, const char **name,
                        const char **ns, const char **value) {
  if (!is_element(s) || i >= s->attr_count)
    return XS2S_ERR_NOT_FOUND;
  const xs2s__attr *a = &s->attrs[i];
  if (name)
    *name = a->name;
  if (ns)
    *ns = a->ns;
  if (value)
    *value = a->value;
  return 0;
}

xs2s_stanza *xs2s_stanza_parent(const xs2s_stanza *s) {
  return s ? s->parent : NULL;
}

xs2s_stanza *xs2s_stanza_first_child(const xs2s_stanza *s) {
  return is_element(s) ? s->first_child : NULL;
}

xs2s_stanza *xs2s_stanza_next(const xs2s_stanza *s) {
  return s ? s->next : NULL;
}

xs2s_stanza *xs2s_stanza_find_child(const xs2s_stanza *s, const char *name,
                                    const char *ns) {
  if (!is_element(s))
    return NULL;
  for (xs2s_stanza *c = s->first_child; c; c = c->next)
    if (xs2s_stanza_is(c, name, ns))
      return c;
  return NULL;
}

const char *xs2s_stanza_text(const xs2s_stanza *s) {
  if (!s)
    return NULL;
  if (s->type == XS2S_NODE_TEXT)
    return s->text;
  const xs2s_stanza *only = NULL;
  size_t total = 0, count = 0;
  for (const xs2s_stanza *c = s->first_child; c; c = c->next) {
    if (c->type != XS2S_NODE_TEXT)
      continue;
    only = c;
    total += c->text_len;
    count++;
  }
  if (count == 0)
    return "";
  if (count == 1)
    return only->text;
  /* Text split by child elements: join it in the tree's arena. */
  char *joined = xs2s__arena_alloc_aligned(&s->tree->arena, total + 1, 1);
  if (!joined)
    return NULL;
  size_t off = 0;
  for (const xs2s_stanza *c = s->first_child; c; c = c->next) {
    if (c->type != XS2S_NODE_TEXT)
      continue;
    memcpy(joined + off, c->text, c->text_len);
    off += c->text_len;
  }
  joined[off] = '\0';
  return joined;
}

/* ---- public API: changing a tree ---- */

int xs2s_stanza_set_attr_ns(xs2s_stanza *s, const char *name, const char *ns,
                            const char *value) {
  if (!is_element(s) || !name || !value || !xs2s__xml_ncname_valid(name))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!ns)
    ns = "";
  /* An unprefixed "xmlns" would be a namespace declaration. */
  if ((ns[0] == '\0' && strcmp(name, "xmlns") == 0) || !ns_ok(ns, 0))
    return XS2S_ERR_INVALID_ARGUMENT;
  size_t vlen = strlen(value);
  if (!xs2s__xml_text_valid(value, vlen))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s__arena *a = &s->tree->arena;
  char *v = xs2s__arena_strndup(a, value, vlen);
  if (!v)
    return XS2S_ERR_NOMEM;
  xs2s__attr *old = find_attr(s, name, ns);
  if (old) {
    old->value = v;
    return 0;
  }
  if (s->attr_count == s->attr_cap) {
    uint32_t cap = s->attr_cap ? 2 * s->attr_cap : 4;
    xs2s__attr *grown = xs2s__arena_alloc(a, cap * sizeof(*grown));
    if (!grown)
      return XS2S_ERR_NOMEM;
    if (s->attr_count)
      memcpy(grown, s->attrs, s->attr_count * sizeof(*grown));
    s->attrs = grown;
    s->attr_cap = cap;
  }
  const char *n = xs2s__arena_strndup(a, name, strlen(name));
  const char *u = copy_ns(a, ns, s->ns);
  if (!n || !u)
    return XS2S_ERR_NOMEM;
  s->attrs[s->attr_count++] = (xs2s__attr){n, u, NULL, v};
  return 0;
}

int xs2s_stanza_set_attr(xs2s_stanza *s, const char *name, const char *value) {
  return xs2s_stanza_set_attr_ns(s, name, "", value);
}

int xs2s_stanza_remove_attr(xs2s_stanza *s, const char *name) {
  xs2s__attr *a = find_attr(s, name, "");
  if (!a)
    return 0;
  size_t i = (size_t)(a - s->attrs);
  memmove(a, a + 1, (s->attr_count - i - 1) * sizeof(*a));
  s->attr_count--;
  return 1;
}

xs2s_stanza *xs2s_stanza_add_child(xs2s_stanza *parent, const char *name,
                                   const char *ns) {
  if (!is_element(parent) || !name || !xs2s__xml_ncname_valid(name))
    return NULL;
  xs2s__arena *a = &parent->tree->arena;
  const char *u = parent->ns;
  if (ns) {
    if (!ns_ok(ns, 1))
      return NULL;
    u = copy_ns(a, ns, parent->ns);
  }
  const char *n = xs2s__arena_strndup(a, name, strlen(name));
  if (!n || !u)
    return NULL;
  return xs2s__node_element(parent->tree, parent, n, u, NULL);
}

int xs2s_stanza_add_text(xs2s_stanza *parent, const char *text, size_t len) {
  if (!is_element(parent) || (!text && len))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!xs2s__xml_text_valid(text, len))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (len == 0)
    return 0;
  return xs2s__node_text(parent, text, len);
}

xs2s_stanza *xs2s_stanza_add_copy(xs2s_stanza *parent,
                                  const xs2s_stanza *subtree) {
  if (!is_element(parent) || !subtree)
    return NULL;
  if (subtree->tree != parent->tree)
    return xs2s__stanza_copy_into(parent->tree, parent, subtree);
  /* Copying within one tree could walk into the copy being made: go
   * through a separate tree. */
  xs2s_stanza *tmp = xs2s__stanza_copy_mem(&parent->tree->mem, subtree);
  if (!tmp)
    return NULL;
  xs2s_stanza *copy = xs2s__stanza_copy_into(parent->tree, parent, tmp);
  xs2s_stanza_free(tmp);
  return copy;
}

int xs2s_stanza_remove_child(xs2s_stanza *parent, xs2s_stanza *child) {
  if (!is_element(parent) || !child || child->parent != parent)
    return XS2S_ERR_NOT_FOUND;
  xs2s_stanza *prev = NULL;
  for (xs2s_stanza *c = parent->first_child; c != child; c = c->next)
    prev = c;
  if (prev)
    prev->next = child->next;
  else
    parent->first_child = child->next;
  if (parent->last_child == child)
    parent->last_child = prev;
  child->parent = NULL;
  child->next = NULL;
  return 0;
}

/* ---- parsing ---- */

xs2s_stanza *xs2s_stanza_parse_mem(const xs2s_mem *mem, const char *xml,
                                   size_t len, int *err) {
  int rc = 0;
  xs2s_stanza *s = NULL;
  if (!xml && len)
    rc = XS2S_ERR_INVALID_ARGUMENT;
  else
    s = xs2s__parse_fragment(mem, xml ? xml : "", len, &rc);
  if (err)
    *err = rc;
  return s;
}

xs2s_stanza *xs2s_stanza_parse(const char *xml, size_t len, int *err) {
  return xs2s_stanza_parse_mem(NULL, xml, len, err);
}
