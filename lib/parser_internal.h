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

#endif /* XS2S_PARSER_INTERNAL_H */
