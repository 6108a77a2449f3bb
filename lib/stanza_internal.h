/*
 * stanza_internal.h: the element tree's layout and the helpers the parser
 * and serialiser use (internal).
 *
 * A tree is one xs2s__tree (allocator, arena) and nodes allocated from its
 * arena. A tree made by xs2s_stanza_new(), xs2s_stanza_copy() or
 * xs2s_stanza_parse() lives in one block: the xs2s__tree header followed by
 * the arena's first chunk, so a typical stanza is one allocation. The parser
 * keeps a tree of its own ("lent": xs2s_stanza_free() on it does nothing)
 * whose arena it rewinds after each stanza.
 *
 * Strings: the public API copies every name, namespace and value into the
 * arena after checking it. The parser's helpers below store names, prefixes
 * and namespace URIs as given, without copying: it passes libxml2's
 * interned strings, which outlive the lent tree. xs2s__stanza_copy_into()
 * always copies, so a copy owns all its strings.
 */
#ifndef XS2S_STANZA_INTERNAL_H
#define XS2S_STANZA_INTERNAL_H

#include <stdint.h>

#include <xs2s/stanza.h>

#include "arena.h"

/* One attribute. */
typedef struct xs2s__attr {
  const char *name;   /* local name */
  const char *ns;     /* namespace URI, "" for none */
  const char *prefix; /* prefix it carried when parsed; NULL when none */
  const char *value;  /* NUL-terminated */
} xs2s__attr;

typedef struct xs2s__tree {
  xs2s__arena arena;
  xs2s_mem mem;
  xs2s_stanza *root; /* the node xs2s_stanza_free() accepts */
  int lent;          /* owned by a parser: xs2s_stanza_free() does nothing */
} xs2s__tree;

struct xs2s_stanza {
  xs2s__tree *tree;
  xs2s_stanza *parent;
  xs2s_stanza *next;
  xs2s_stanza *first_child;
  xs2s_stanza *last_child;
  xs2s_node_type type;
  union {
    struct { /* XS2S_NODE_ELEMENT */
      const char *name;
      const char *ns;     /* "" for none */
      const char *prefix; /* prefix it carried when parsed; NULL otherwise */
      xs2s__attr *attrs;
      uint32_t attr_count;
      uint32_t attr_cap;
    };
    struct { /* XS2S_NODE_TEXT */
      char *text; /* NUL-terminated */
      size_t text_len;
      size_t text_cap; /* bytes allocated at text, NUL included */
    };
  };
};

/* Sets up a tree whose arena starts in @buf (@size bytes, owned by the
 * caller). @lent marks a parser's scratch tree. */
void xs2s__tree_init(xs2s__tree *t, const xs2s_mem *mem, void *buf,
                     size_t size, int lent);

/* Drops every node of @t, keeping its first chunk for reuse. */
void xs2s__tree_reset(xs2s__tree *t);

/* Frees what @t allocated (not @t itself). */
void xs2s__tree_release(xs2s__tree *t);

/* A new element in @t, appended to @parent (NULL: it becomes the tree's
 * root). @name, @ns ("" for none) and @prefix (may be NULL) are stored as
 * given: they must live as long as the tree. NULL when out of memory. */
xs2s_stanza *xs2s__node_element(xs2s__tree *t, xs2s_stanza *parent,
                                const char *name, const char *ns,
                                const char *prefix);

/* Room for @n attributes on element @e (count set to 0, capacity @n);
 * returns the array or NULL when out of memory. */
xs2s__attr *xs2s__node_attrs(xs2s_stanza *e, size_t n);

/* Appends @len bytes of text to @parent (copied; merged into a text node
 * that ends the child list). 0 or XS2S_ERR_NOMEM. The text is not checked. */
int xs2s__node_text(xs2s_stanza *parent, const char *text, size_t len);

/* Deep-copies @src (any tree) under @parent of tree @t (NULL parent: as the
 * root of @t), copying every string. Returns the copy or NULL (out of
 * memory). @src must not be inside @parent's subtree's tree unless the
 * caller made sure the walk cannot see the copy. */
xs2s_stanza *xs2s__stanza_copy_into(xs2s__tree *t, xs2s_stanza *parent,
                                    const xs2s_stanza *src);

/* xs2s_stanza_copy_ns() into a tree that uses allocator @mem. */
xs2s_stanza *xs2s__stanza_copy_ns_mem(const xs2s_mem *mem,
                                      const xs2s_stanza *s, const char *ns);

/* xs2s_stanza_copy() into a tree that uses allocator @mem. */
xs2s_stanza *xs2s__stanza_copy_mem(const xs2s_mem *mem,
                                   const xs2s_stanza *src);

#endif /* XS2S_STANZA_INTERNAL_H */
