/*
 * serialize.c: element trees to XML text, standalone or onto a stream
 * whose namespace scope is known (see serialize.h for the prefix rules).
 *
 * The walk is iterative, so a deep tree cannot exhaust the C stack: the
 * namespace declarations made on the open elements live on a stack of
 * bindings, and each open element a frame that says where its bindings
 * start and which prefix its end tag repeats.
 */
#include "serialize.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "stanza_internal.h"

/* Where the text goes: an xs2s__buf that grows, or a caller's fixed buffer
 * that is only measured once it overflows. */
typedef struct sink {
  xs2s__buf *buf; /* growing output, or NULL */
  char *out;      /* fixed output (may be NULL when only measuring) */
  size_t size;    /* bytes at out */
  size_t len;     /* bytes produced so far */
  int err;        /* XS2S_ERR_NOMEM once growing failed */
} sink;

typedef struct frame {
  size_t first_binding; /* bindings[first_binding..] were declared here */
  const char *prefix;   /* prefix of the element's name, or NULL */
} frame;

#define INLINE_BINDINGS 16
#define INLINE_FRAMES 16

typedef struct writer {
  sink out;
  const xs2s_mem *mem;
  const xs2s__ns_scope *base; /* scope of the surrounding output */
  xs2s__ns_binding *bindings; /* declared on the open elements */
  size_t nbindings, cap_bindings;
  frame *frames; /* open elements */
  size_t nframes, cap_frames;
  xs2s__arena names; /* generated prefixes */
  unsigned generated;
  xs2s__ns_binding inline_bindings[INLINE_BINDINGS];
  frame inline_frames[INLINE_FRAMES];
  char inline_names[64];
} writer;

/* ---- output ---- */

static void put(sink *s, const char *p, size_t n) {
  if (s->buf) {
    if (!s->err && xs2s__buf_append(s->buf, p, n) < 0)
      s->err = XS2S_ERR_NOMEM;
  } else if (s->out && s->len < s->size && n <= s->size - s->len) {
    memcpy(s->out + s->len, p, n);
  }
  s->len += n;
}

static void put_str(sink *s, const char *p) {
  put(s, p, strlen(p));
}

/* Replacements for characters that text must not carry literally. CR is
 * written as a reference because a parser would turn a literal CR LF into
 * LF; in attribute values tab and LF too, which would become spaces. */
static const char *const text_escapes[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['\r'] = "&#13;"};
static const char *const attr_escapes[256] = {
    ['&'] = "&amp;",   ['<'] = "&lt;",   ['>'] = "&gt;",
    ['"'] = "&quot;",  ['\''] = "&apos;", ['\r'] = "&#13;",
    ['\n'] = "&#10;",  ['\t'] = "&#9;"};

static void put_escaped(sink *s, const char *text, size_t len,
                        const char *const *escapes) {
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    const char *rep = escapes[(unsigned char)text[i]];
    if (!rep)
      continue;
    put(s, text + run, i - run);
    put_str(s, rep);
    run = i + 1;
  }
  put(s, text + run, len - run);
}

static void put_attr_value(sink *s, const char *value) {
  put(s, "='", 2);
  put_escaped(s, value, strlen(value), attr_escapes);
  put(s, "'", 1);
}

static void put_qname(sink *s, const char *prefix, const char *name) {
  if (prefix) {
    put_str(s, prefix);
    put(s, ":", 1);
  }
  put_str(s, name);
}

/* ---- growing the stacks ---- */

/* Grows *@array (elements of @size, *@cap of them, initially @inline_) to
 * hold one more. */
static int grow(writer *w, void **array, size_t *cap, size_t size,
                void *inline_) {
  if (*cap > (size_t)-1 / 2 / size)
    return XS2S_ERR_NOMEM;
  size_t ncap = *cap * 2;
  void *p;
  if (*array == inline_) {
    p = xs2s__malloc(w->mem, ncap * size);
    if (p)
      memcpy(p, *array, *cap * size);
  } else {
    p = xs2s__realloc(w->mem, *array, ncap * size);
  }
  if (!p)
    return XS2S_ERR_NOMEM;
  *array = p;
  *cap = ncap;
  return 0;
}

static int push_binding(writer *w, const char *prefix, const char *uri) {
  if (w->nbindings == w->cap_bindings &&
      grow(w, (void **)&w->bindings, &w->cap_bindings,
           sizeof(*w->bindings), w->inline_bindings) < 0)
    return w->out.err = XS2S_ERR_NOMEM;
  w->bindings[w->nbindings++] = (xs2s__ns_binding){prefix, uri};
  return 0;
}

static int push_frame(writer *w, size_t first_binding, const char *prefix) {
  if (w->nframes == w->cap_frames &&
      grow(w, (void **)&w->frames, &w->cap_frames, sizeof(*w->frames),
           w->inline_frames) < 0)
    return w->out.err = XS2S_ERR_NOMEM;
  w->frames[w->nframes++] = (frame){first_binding, prefix};
  return 0;
}

/* ---- scope lookups ---- */

static int same(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* The URI @prefix is bound to (NULL: the default namespace, "" when none),
 * or NULL when the prefix is not bound. */
static const char *lookup(const writer *w, const char *prefix) {
  for (size_t i = w->nbindings; i-- > 0;)
    if (same(w->bindings[i].prefix, prefix))
      return w->bindings[i].uri;
  for (const xs2s__ns_scope *sc = w->base; sc; sc = sc->parent)
    for (size_t i = sc->count; i-- > 0;)
      if (same(sc->bindings[i].prefix, prefix))
        return sc->bindings[i].uri;
  if (!prefix)
    return "";
  return strcmp(prefix, "xml") == 0 ? XS2S_NS_XML : NULL;
}

/* 1 when binding @b names a prefix that currently maps to @uri. */
static int usable(const writer *w, const xs2s__ns_binding *b,
                  const char *uri) {
  return b->prefix && same(b->uri, uri) && same(lookup(w, b->prefix), uri);
}

/* A prefix bound to @uri in the current scope, or NULL. */
static const char *prefix_for(const writer *w, const char *uri) {
  if (strcmp(uri, XS2S_NS_XML) == 0)
    return "xml";
  for (size_t i = w->nbindings; i-- > 0;)
    if (usable(w, &w->bindings[i], uri))
      return w->bindings[i].prefix;
  for (const xs2s__ns_scope *sc = w->base; sc; sc = sc->parent)
    for (size_t i = sc->count; i-- > 0;)
      if (usable(w, &sc->bindings[i], uri))
        return sc->bindings[i].prefix;
  return NULL;
}

/* A prefix the node carried that may be written with @uri: "xml" only for
 * the XML namespace, "xmlns" never, and nothing for no namespace. */
static const char *kept_prefix(const char *prefix, const char *uri) {
  if (!prefix || uri[0] == '\0' || strcmp(prefix, "xmlns") == 0)
    return NULL;
  if (strcmp(prefix, "xml") == 0 && strcmp(uri, XS2S_NS_XML) != 0)
    return NULL;
  return prefix;
}

/* A fresh prefix "nsN" that nothing in scope binds. */
static const char *generate_prefix(writer *w) {
  char name[24];
  do
    snprintf(name, sizeof(name), "ns%u", ++w->generated);
  while (lookup(w, name));
  char *p = xs2s__arena_strndup(&w->names, name, strlen(name));
  if (!p)
    w->out.err = XS2S_ERR_NOMEM;
  return p;
}

/* ---- elements ---- */

/* Chooses the prefix of element @e's name, declaring what is missing. */
static const char *element_prefix(writer *w, const xs2s_stanza *e) {
  const char *kept = kept_prefix(e->prefix, e->ns);
  if (kept) {
    if (!same(lookup(w, kept), e->ns))
      push_binding(w, kept, e->ns);
    return kept;
  }
  if (same(lookup(w, NULL), e->ns))
    return NULL;
  const char *bound = e->ns[0] ? prefix_for(w, e->ns) : NULL;
  if (bound)
    return bound;
  push_binding(w, NULL, e->ns);
  return NULL;
}

/* The prefix a namespaced attribute is written with, once declared. */
static const char *attr_prefix(const writer *w, const xs2s__attr *a) {
  const char *kept = kept_prefix(a->prefix, a->ns);
  if (kept && same(lookup(w, kept), a->ns))
    return kept;
  return prefix_for(w, a->ns);
}

/* Declares a prefix for attribute @a when none is bound to its namespace.
 * A new binding never shadows one in scope, so the prefixes chosen for the
 * other attributes stay valid. */
static void declare_attr_ns(writer *w, const xs2s__attr *a) {
  if (a->ns[0] == '\0' || attr_prefix(w, a))
    return;
  const char *kept = kept_prefix(a->prefix, a->ns);
  const char *p = kept && !lookup(w, kept) ? kept : generate_prefix(w);
  if (p)
    push_binding(w, p, a->ns);
}

/* Writes the start tag of @e; @empty closes it at once. */
static void start_element(writer *w, const xs2s_stanza *e, int empty) {
  size_t first = w->nbindings;
  const char *prefix = element_prefix(w, e);
  for (uint32_t i = 0; i < e->attr_count; i++)
    declare_attr_ns(w, &e->attrs[i]);
  sink *s = &w->out;
  put(s, "<", 1);
  put_qname(s, prefix, e->name);
  for (size_t i = first; i < w->nbindings; i++) {
    put(s, " xmlns", 6);
    if (w->bindings[i].prefix) {
      put(s, ":", 1);
      put_str(s, w->bindings[i].prefix);
    }
    put_attr_value(s, w->bindings[i].uri);
  }
  for (uint32_t i = 0; i < e->attr_count; i++) {
    const xs2s__attr *a = &e->attrs[i];
    put(s, " ", 1);
    put_qname(s, a->ns[0] ? attr_prefix(w, a) : NULL, a->name);
    put_attr_value(s, a->value);
  }
  if (empty) {
    put(s, "/>", 2);
    w->nbindings = first;
    return;
  }
  put(s, ">", 1);
  push_frame(w, first, prefix);
}

static void end_element(writer *w, const xs2s_stanza *e) {
  frame *f = &w->frames[--w->nframes];
  put(&w->out, "</", 2);
  put_qname(&w->out, f->prefix, e->name);
  put(&w->out, ">", 1);
  w->nbindings = f->first_binding;
}

static void write_node(writer *w, const xs2s_stanza *n) {
  if (n->type == XS2S_NODE_TEXT)
    put_escaped(&w->out, n->text, n->text_len, text_escapes);
  else
    start_element(w, n, n->first_child == NULL);
}

static void write_tree(writer *w, const xs2s_stanza *top) {
  const xs2s_stanza *n = top;
  for (;;) {
    write_node(w, n);
    if (w->out.err)
      return;
    if (n->type == XS2S_NODE_ELEMENT && n->first_child) {
      n = n->first_child;
      continue;
    }
    while (n != top && !n->next) {
      n = n->parent;
      end_element(w, n);
    }
    if (n == top)
      return;
    n = n->next;
  }
}

/* ---- entry points ---- */

static void writer_init(writer *w, const xs2s_stanza *s,
                        const xs2s__ns_scope *scope) {
  memset(&w->out, 0, sizeof(w->out));
  w->mem = &s->tree->mem;
  w->base = scope;
  w->bindings = w->inline_bindings;
  w->nbindings = 0;
  w->cap_bindings = INLINE_BINDINGS;
  w->frames = w->inline_frames;
  w->nframes = 0;
  w->cap_frames = INLINE_FRAMES;
  w->generated = 0;
  xs2s__arena_init(&w->names, w->mem, w->inline_names,
                   sizeof(w->inline_names));
}

static void writer_done(writer *w) {
  if (w->bindings != w->inline_bindings)
    xs2s__free(w->mem, w->bindings);
  if (w->frames != w->inline_frames)
    xs2s__free(w->mem, w->frames);
  xs2s__arena_free(&w->names);
}

int xs2s__stanza_write(const xs2s_stanza *s, xs2s__buf *out,
                       const xs2s__ns_scope *scope) {
  if (!s || !out)
    return XS2S_ERR_INVALID_ARGUMENT;
  writer w;
  writer_init(&w, s, scope);
  w.out.buf = out;
  size_t before = out->len;
  write_tree(&w, s);
  int rc = w.out.err;
  writer_done(&w);
  if (rc < 0)
    out->len = before;
  return rc;
}

int xs2s_stanza_serialize(const xs2s_stanza *s, char *buf, size_t size,
                          size_t *len) {
  if (!s || (!buf && size))
    return XS2S_ERR_INVALID_ARGUMENT;
  writer w;
  writer_init(&w, s, NULL);
  w.out.out = buf;
  w.out.size = size;
  write_tree(&w, s);
  int rc = w.out.err;
  size_t n = w.out.len;
  writer_done(&w);
  if (rc < 0)
    return rc;
  if (len)
    *len = n;
  if (!buf || n >= size)
    return XS2S_ERR_BUFFER_TOO_SMALL;
  buf[n] = '\0';
  return 0;
}
