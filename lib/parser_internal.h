/*
 * parser_internal.h: what the stream parser offers the rest of the library
 * (internal).
 */
#ifndef XS2S_PARSER_INTERNAL_H
#define XS2S_PARSER_INTERNAL_H

#include <xs2s/parser.h>

/* Parses @xml as a document made of one element (xs2s_stanza_parse()):
 * the stream parser's rules and default limits, no stream header. Returns
 * a new tree using allocator @mem, or NULL with the error code in *@err. */
xs2s_stanza *xs2s__parse_fragment(const xs2s_mem *mem, const char *xml,
                                  size_t len, int *err);

/* xs2s__parse_fragment() within @limits (NULL or zero fields: defaults). */
xs2s_stanza *xs2s__parse_fragment_lim(const xs2s_mem *mem, const char *xml,
                                      size_t len,
                                      const xs2s_parser_limits *limits,
                                      int *err);

/* Frees the libxml2 context and the scratch memory of a stream that sits
 * between stanzas (no element open below the stream element, nothing
 * buffered but white space): an idle stream then keeps about 1 KiB here.
 * The next xs2s_parser_feed() rebuilds them, with the same namespace
 * bindings and stream offsets, so no caller can tell. Not from a callback.
 * Returns 1 when it hibernated, 0 when it cannot now (or already did). */
int xs2s__parser_hibernate(xs2s_parser *p);

/* 1 while @p is hibernating. */
int xs2s__parser_hibernating(const xs2s_parser *p);

#endif /* XS2S_PARSER_INTERNAL_H */
