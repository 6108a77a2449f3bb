/*
 * xs2s - XMPP server-to-server federation library
 * stanza.h: the element tree that carries stanzas.
 *
 * An xs2s_stanza is a node of an XML tree: an element (name, namespace URI,
 * attributes, children) or a text node. A tree is created with
 * xs2s_stanza_new() or xs2s_stanza_parse(), grows with xs2s_stanza_add_child()
 * and xs2s_stanza_add_text(), and is freed whole with xs2s_stanza_free() on
 * its root.
 *
 * Memory: all nodes and strings of one tree live in one arena owned by the
 * root, so building a stanza costs a few allocations, not one per node or
 * attribute. Pointers returned by the accessors (names, values, text, child
 * nodes) stay valid until the root is freed; removing a child or replacing
 * an attribute unlinks it but keeps its memory until then.
 *
 * Namespaces: every element has a namespace URI ("" for none). A child added
 * with ns NULL inherits its parent's. Serialising declares whatever the
 * output needs, so a stanza taken from a stream (e.g. a <db:result> in
 * jabber:server:dialback) serialises to valid standalone XML.
 *
 * Thread-safety: a tree must not be used from two threads at once.
 */
#ifndef XS2S_STANZA_H
#define XS2S_STANZA_H

#include <xs2s/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Namespace of server-to-server stream content. */
#define XS2S_NS_SERVER "jabber:server"
/** Namespace of client-to-server stream content. */
#define XS2S_NS_CLIENT "jabber:client"
/** Namespace of XEP-0114 component stream content. */
#define XS2S_NS_COMPONENT "jabber:component:accept"
/** Namespace of the <stream:stream> element and its children. */
#define XS2S_NS_STREAMS "http://etherx.jabber.org/streams"
/** Namespace of XEP-0220 dialback elements (prefix "db"). */
#define XS2S_NS_DIALBACK "jabber:server:dialback"
/** Namespace of the XEP-0220 dialback stream feature. */
#define XS2S_NS_DIALBACK_FEATURE "urn:xmpp:features:dialback"
/** Namespace of STARTTLS negotiation. */
#define XS2S_NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
/** Namespace of SASL negotiation. */
#define XS2S_NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
/** The namespace the "xml" prefix is bound to (xml:lang). */
#define XS2S_NS_XML "http://www.w3.org/XML/1998/namespace"

/** A node of an element tree (opaque). */
typedef struct xs2s_stanza xs2s_stanza;

/** Kind of node. */
typedef enum xs2s_node_type {
  XS2S_NODE_ELEMENT = 1, /**< an element */
  XS2S_NODE_TEXT = 2     /**< character data */
} xs2s_node_type;

/**
 * xs2s_stanza_new - create the root element of a new tree.
 * @name: local name, e.g. "message" (required).
 * @ns: namespace URI, e.g. XS2S_NS_SERVER; NULL or "" for none.
 *
 * Returns the new root, or NULL when out of memory or @name is not a valid
 * XML name. Free it with xs2s_stanza_free().
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_new(const char *name, const char *ns);

/**
 * xs2s_stanza_new_mem - xs2s_stanza_new() with a custom allocator.
 * @mem: allocator hooks (copied); NULL for the C library's.
 * @name: local name.
 * @ns: namespace URI; NULL or "" for none.
 *
 * Every node later added to this tree uses the same allocator.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_new_mem(const xs2s_mem *mem,
                                             const char *name, const char *ns);

/**
 * xs2s_stanza_free - free a whole tree.
 * @root: a root returned by xs2s_stanza_new(), xs2s_stanza_parse() or
 *        xs2s_stanza_copy(); NULL is allowed.
 *
 * Freeing a node that is not a root does nothing (it belongs to its tree).
 */
XS2S_EXTERN void xs2s_stanza_free(xs2s_stanza *root);

/**
 * xs2s_stanza_copy - deep-copy a node and its subtree into a new tree.
 * @s: any node (element or text).
 *
 * Returns a new root owned by the caller, using @s's allocator, or NULL when
 * out of memory. This is how a callback keeps a stanza it was only lent.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_copy(const xs2s_stanza *s);

/**
 * xs2s_stanza_copy_ns - deep-copy a stanza into another stream's namespace.
 * @s: element to copy.
 * @ns: the content namespace of the destination stream, e.g. XS2S_NS_SERVER.
 *
 * Server, client and component streams carry the same stanzas, each in its
 * own namespace. The copy has every element that is in XS2S_NS_SERVER,
 * XS2S_NS_CLIENT, XS2S_NS_COMPONENT or no namespace moved into @ns;
 * elements in any other namespace (payloads) are copied unchanged, with
 * their subtrees. Returns a new root owned by the caller, using @s's
 * allocator, or NULL when out of memory or @s is not an element.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_copy_ns(const xs2s_stanza *s,
                                             const char *ns);

/**
 * xs2s_stanza_type - whether a node is an element or text.
 */
XS2S_EXTERN xs2s_node_type xs2s_stanza_type(const xs2s_stanza *s);

/**
 * xs2s_stanza_name - local name of an element (NULL for a text node).
 */
XS2S_EXTERN const char *xs2s_stanza_name(const xs2s_stanza *s);

/**
 * xs2s_stanza_ns - namespace URI of an element ("" for none; NULL for text).
 */
XS2S_EXTERN const char *xs2s_stanza_ns(const xs2s_stanza *s);

/**
 * xs2s_stanza_is - test an element's name and namespace.
 * @s: node to test (NULL gives 0).
 * @name: local name, or NULL for any.
 * @ns: namespace URI, or NULL for any.
 *
 * Returns 1 when @s is an element that matches, else 0.
 */
XS2S_EXTERN int xs2s_stanza_is(const xs2s_stanza *s, const char *name,
                               const char *ns);

/**
 * xs2s_stanza_attr - value of an attribute in no namespace.
 * @s: element.
 * @name: attribute name, e.g. "to".
 *
 * Returns the value (valid until the tree is freed or the attribute is
 * changed), or NULL when absent.
 */
XS2S_EXTERN const char *xs2s_stanza_attr(const xs2s_stanza *s,
                                         const char *name);

/**
 * xs2s_stanza_attr_ns - value of a namespaced attribute.
 * @s: element.
 * @name: local name, e.g. "lang".
 * @ns: namespace URI, e.g. XS2S_NS_XML; NULL or "" for no namespace.
 *
 * Returns the value or NULL when absent.
 */
XS2S_EXTERN const char *xs2s_stanza_attr_ns(const xs2s_stanza *s,
                                            const char *name, const char *ns);

/**
 * xs2s_stanza_set_attr - set (add or replace) an attribute in no namespace.
 * @s: element.
 * @name: attribute name (a valid XML name without a colon).
 * @value: value, any UTF-8 text; it is escaped when serialised.
 *
 * Returns 0, XS2S_ERR_NOMEM, or XS2S_ERR_INVALID_ARGUMENT (bad name or the
 * name "xmlns", @s not an element, @value not valid UTF-8 or holding a
 * character XML 1.0 forbids, such as a control character other than tab,
 * LF and CR).
 */
XS2S_EXTERN int xs2s_stanza_set_attr(xs2s_stanza *s, const char *name,
                                     const char *value);

/**
 * xs2s_stanza_set_attr_ns - set a namespaced attribute (e.g. xml:lang).
 * @s: element.
 * @name: local name.
 * @ns: namespace URI; NULL or "" for none.
 * @value: value.
 *
 * Returns 0 or a negative error code as for xs2s_stanza_set_attr().
 */
XS2S_EXTERN int xs2s_stanza_set_attr_ns(xs2s_stanza *s, const char *name,
                                        const char *ns, const char *value);

/**
 * xs2s_stanza_remove_attr - remove an attribute in no namespace.
 *
 * Returns 1 when it was present, 0 when it was not.
 */
XS2S_EXTERN int xs2s_stanza_remove_attr(xs2s_stanza *s, const char *name);

/**
 * xs2s_stanza_attr_count - number of attributes of an element.
 */
XS2S_EXTERN size_t xs2s_stanza_attr_count(const xs2s_stanza *s);

/**
 * xs2s_stanza_attr_at - the attribute at position @i (document order).
 * @s: element.
 * @i: index below xs2s_stanza_attr_count().
 * @name: receives the local name (may be NULL).
 * @ns: receives the namespace URI, "" for none (may be NULL).
 * @value: receives the value (may be NULL).
 *
 * Returns 0, or XS2S_ERR_NOT_FOUND when @i is out of range.
 */
XS2S_EXTERN int xs2s_stanza_attr_at(const xs2s_stanza *s, size_t i,
                                    const char **name, const char **ns,
                                    const char **value);

/**
 * xs2s_stanza_add_child - append a new child element.
 * @parent: element.
 * @name: local name.
 * @ns: namespace URI; NULL inherits @parent's, "" means none.
 *
 * Returns the child (owned by the tree) or NULL when out of memory or on a
 * bad argument.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_add_child(xs2s_stanza *parent,
                                               const char *name,
                                               const char *ns);

/**
 * xs2s_stanza_add_text - append character data.
 * @parent: element.
 * @text: UTF-8 text, not NUL-terminated necessarily.
 * @len: bytes of @text.
 *
 * Text appended right after text merges into one text node. Returns 0,
 * XS2S_ERR_NOMEM, or XS2S_ERR_INVALID_ARGUMENT for invalid UTF-8 or a
 * character XML 1.0 forbids.
 */
XS2S_EXTERN int xs2s_stanza_add_text(xs2s_stanza *parent, const char *text,
                                     size_t len);

/**
 * xs2s_stanza_add_copy - append a deep copy of another tree's node.
 * @parent: element that receives the copy.
 * @subtree: node to copy (from any tree, even @parent's own).
 *
 * Returns the copy (owned by @parent's tree) or NULL when out of memory.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_add_copy(xs2s_stanza *parent,
                                              const xs2s_stanza *subtree);

/**
 * xs2s_stanza_remove_child - unlink a child from its parent.
 *
 * The child's memory stays with the tree until the root is freed. Returns 0,
 * or XS2S_ERR_NOT_FOUND when @child is not a child of @parent.
 */
XS2S_EXTERN int xs2s_stanza_remove_child(xs2s_stanza *parent,
                                         xs2s_stanza *child);

/**
 * xs2s_stanza_parent - the parent element, NULL for a root.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_parent(const xs2s_stanza *s);

/**
 * xs2s_stanza_first_child - first child node (element or text), or NULL.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_first_child(const xs2s_stanza *s);

/**
 * xs2s_stanza_next - next sibling node (element or text), or NULL.
 *
 * Iterate with: for (c = xs2s_stanza_first_child(s); c; c = xs2s_stanza_next(c))
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_next(const xs2s_stanza *s);

/**
 * xs2s_stanza_find_child - first child element with a name and namespace.
 * @s: element.
 * @name: local name, or NULL for any.
 * @ns: namespace URI, or NULL for any.
 *
 * Returns the child or NULL.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_find_child(const xs2s_stanza *s,
                                                const char *name,
                                                const char *ns);

/**
 * xs2s_stanza_text - character data of a node.
 * @s: a text node, or an element.
 *
 * For a text node, its text. For an element, the concatenation of its
 * direct text children ("" when it has none); child elements' text is not
 * included. Returns NULL only when out of memory. Valid until the tree is
 * freed.
 */
XS2S_EXTERN const char *xs2s_stanza_text(const xs2s_stanza *s);

/**
 * xs2s_stanza_serialize - write a node as standalone XML.
 * @s: node to write (and its subtree).
 * @buf: output buffer, or NULL to only measure.
 * @size: bytes available at @buf.
 * @len: receives the length of the XML, without the terminating NUL.
 *
 * Escapes & < > " ' in attribute values and & < > in text, and declares every
 * namespace the output uses, so the result parses on its own. When the XML
 * and its NUL fit in @size bytes it is written and 0 is returned; otherwise
 * nothing is guaranteed about @buf and XS2S_ERR_BUFFER_TOO_SMALL is
 * returned with *@len set to the size needed (less the NUL).
 */
XS2S_EXTERN int xs2s_stanza_serialize(const xs2s_stanza *s, char *buf,
                                      size_t size, size_t *len);

/**
 * xs2s_stanza_parse - build a tree from one XML element.
 * @xml: the element as text, e.g. "<message to='a.test'><body>hi</body></message>".
 * @len: bytes of @xml.
 * @err: receives 0 or a negative error code (may be NULL).
 *
 * Applies the stream parser's rules and default limits: no DTD, comment,
 * processing instruction or entity other than the predefined five and
 * character references (XS2S_ERR_RESTRICTED_XML); well-formed
 * (XS2S_ERR_NOT_WELL_FORMED); exactly one element, surrounded at most by
 * whitespace (XS2S_ERR_BAD_FORMAT); UTF-8 (XS2S_ERR_UNSUPPORTED_ENCODING);
 * declared prefixes (XS2S_ERR_BAD_NAMESPACE_PREFIX); limits (XS2S_ERR_LIMIT).
 * Returns the new root, or NULL with the reason in *@err.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_parse(const char *xml, size_t len,
                                           int *err);

/**
 * xs2s_stanza_parse_mem - xs2s_stanza_parse() with a custom allocator.
 */
XS2S_EXTERN xs2s_stanza *xs2s_stanza_parse_mem(const xs2s_mem *mem,
                                               const char *xml, size_t len,
                                               int *err);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_STANZA_H */
