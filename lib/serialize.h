/*
 * serialize.h: writing element trees as XML onto a stream (internal).
 *
 * xs2s_stanza_serialize() writes a tree as standalone XML: every namespace
 * it uses is declared in it. On an open XMPP stream that is redundant: the
 * stream header already bound the default namespace (jabber:server) and
 * prefixes such as stream: and db:, and a peer reads every stanza in that
 * scope. xs2s__stanza_write() takes the scope in force where the stanza
 * goes and declares only what it does not already bind.
 *
 * A scope is a chain of arrays of bindings. Within an array a later binding
 * of the same prefix wins; an array wins over its parent. The prefix "xml"
 * is always bound to XS2S_NS_XML and needs no binding. A binding of the
 * default namespace has prefix NULL; a default namespace of "" means none
 * (as does the absence of any default binding).
 *
 * Example, the scope a session writes stanzas in after sending
 *   <stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback'
 *                  xmlns:stream='http://etherx.jabber.org/streams'>:
 *
 *   static const xs2s__ns_binding s2s[] = {
 *       {NULL, XS2S_NS_SERVER},
 *       {"stream", XS2S_NS_STREAMS},
 *       {"db", XS2S_NS_DIALBACK},
 *   };
 *   const xs2s__ns_scope scope = {s2s, 3, NULL};
 *
 * How prefixes are chosen for an element:
 *   - a prefix it carried when parsed is kept, and declared on it unless
 *     the scope binds that prefix to its namespace already (so <db:result>
 *     stays <db:result>);
 *   - otherwise the default namespace is used when it is the element's;
 *     else a prefix the scope binds to that namespace (an element built in
 *     jabber:server:dialback is written <db:result> on the stream above);
 *     else the element declares its namespace as the default.
 * Namespaced attributes use the prefix they were parsed with when it is
 * bound (or can be), else any prefix bound to their namespace, else a new
 * one ("ns1", ...) declared on the element.
 */
#ifndef XS2S_SERIALIZE_H
#define XS2S_SERIALIZE_H

#include <xs2s/stanza.h>

#include "buf.h"

/* One namespace binding: @prefix (NULL for the default namespace) to
 * @uri. */
typedef struct xs2s__ns_binding {
  const char *prefix;
  const char *uri;
} xs2s__ns_binding;

/* The bindings in force where output goes (see above). The strings must
 * outlive the call that uses the scope. */
typedef struct xs2s__ns_scope {
  const xs2s__ns_binding *bindings;
  size_t count;
  const struct xs2s__ns_scope *parent; /* enclosing scope, or NULL */
} xs2s__ns_scope;

/* Appends @s (element or text, with its subtree) to @out as XML valid in
 * @scope (NULL: an empty scope, i.e. standalone XML). Returns 0, or
 * XS2S_ERR_NOMEM with @out as it was before the call. */
int xs2s__stanza_write(const xs2s_stanza *s, xs2s__buf *out,
                       const xs2s__ns_scope *scope);

#endif /* XS2S_SERIALIZE_H */
