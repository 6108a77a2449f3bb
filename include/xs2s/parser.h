/*
 * xs2s - XMPP server-to-server federation library
 * parser.h: incremental parser for XMPP XML streams.
 *
 * An XMPP stream is one long XML document: <stream:stream ...> opens it,
 * each child of that element is a stanza (or a stream-level element such as
 * <stream:features/>, <starttls/>, <db:result/>), and </stream:stream> ends
 * it. The parser takes the bytes of such a stream in chunks of any size and
 * calls back once for the header, once per complete top-level element with
 * its whole tree, and once at the end.
 *
 * It enforces RFC 6120 section 11: no DTD, comments, processing instructions
 * or entities other than the five predefined ones and character references;
 * UTF-8 only; and limits on bytes per stanza, element depth and attributes
 * per element, so a hostile peer cannot make it use unbounded memory.
 * After the first error it refuses further input until xs2s_parser_reset().
 *
 * Built on libxml2's SAX2 push parser. Thread-safety: one parser, one thread
 * at a time.
 */
#ifndef XS2S_PARSER_H
#define XS2S_PARSER_H

#include <xs2s/common.h>
#include <xs2s/condition.h>
#include <xs2s/stanza.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A stream parser (opaque). */
typedef struct xs2s_parser xs2s_parser;

/** Default for xs2s_parser_limits.max_stanza_bytes: 256 KiB. */
#define XS2S_DEFAULT_MAX_STANZA_BYTES (256u * 1024u)
/** Default for xs2s_parser_limits.max_depth. */
#define XS2S_DEFAULT_MAX_DEPTH 64u
/** Default for xs2s_parser_limits.max_attributes. */
#define XS2S_DEFAULT_MAX_ATTRIBUTES 64u

/**
 * struct xs2s_parser_limits - bounds on what one peer can make us hold.
 *
 * A zero field takes its default. Exceeding a limit is XS2S_ERR_LIMIT, which
 * a session reports to the peer as policy-violation.
 */
typedef struct xs2s_parser_limits {
  /** Bytes of one top-level element, from its '<' to the end of its end
   * tag; also bounds the stream header. */
  size_t max_stanza_bytes;
  /** Element depth inside a stanza (the stanza itself is depth 1); at
   * most 200, the most libxml2 allows under a stream element. */
  unsigned max_depth;
  /** Attributes (namespace declarations included) on one element. */
  unsigned max_attributes;
} xs2s_parser_limits;

/**
 * struct xs2s_stream_header - the opening <stream:stream> element.
 *
 * All strings are borrowed for the duration of the stream_open callback;
 * absent attributes are NULL.
 */
typedef struct xs2s_stream_header {
  const char *from;       /**< 'from' attribute */
  const char *to;         /**< 'to' attribute */
  const char *id;         /**< 'id' attribute */
  const char *version;    /**< 'version' attribute, e.g. "1.0" */
  const char *lang;       /**< 'xml:lang' attribute */
  const char *default_ns; /**< default namespace, e.g. "jabber:server" */
  /** Namespace declarations made on the header (default included, with
   * prefix NULL), in document order. */
  size_t ns_count;
  const char *const *ns_prefixes;
  const char *const *ns_uris;
  /** The header as an element, with every attribute (no children). */
  const xs2s_stanza *element;
} xs2s_stream_header;

/** Return from a stanza callback to stop parsing right after that stanza. */
#define XS2S_PARSER_PAUSE 1

/**
 * struct xs2s_parser_callbacks - what the parser reports.
 *
 * Copied at xs2s_parser_new(); any member may be NULL. A callback may call
 * xs2s_parser functions on @p except xs2s_parser_free() and
 * xs2s_parser_feed().
 */
typedef struct xs2s_parser_callbacks {
  /** The stream header was parsed. Return 0 to go on or a negative error
   * code to stop (xs2s_parser_feed() then returns that code). */
  int (*stream_open)(xs2s_parser *p, const xs2s_stream_header *header,
                     void *user_data);
  /** One complete top-level element. @stanza is lent for the call only
   * (xs2s_stanza_copy() keeps it); elements prefixed "db:" have namespace
   * XS2S_NS_DIALBACK, unprefixed ones inherit the stream's default
   * namespace. Return 0 to go on, XS2S_PARSER_PAUSE to stop after this
   * element (e.g. after <proceed/>: the bytes that follow belong to TLS),
   * or a negative error code to fail. */
  int (*stanza)(xs2s_parser *p, xs2s_stanza *stanza, void *user_data);
  /** </stream:stream> was parsed. Further input is XS2S_ERR_STREAM_CLOSED. */
  void (*stream_close)(xs2s_parser *p, void *user_data);
  /** The stream is bad: @code is the negative error code that
   * xs2s_parser_feed() is about to return, @condition the stream error to
   * send the peer, @message a human-readable detail (borrowed). Not called
   * for errors returned by the other callbacks. */
  void (*error)(xs2s_parser *p, int code, xs2s_stream_condition condition,
                const char *message, void *user_data);
} xs2s_parser_callbacks;

/**
 * xs2s_parser_new - create a stream parser.
 * @callbacks: what to call (copied; NULL for none).
 * @user_data: passed to every callback.
 * @limits: bounds (copied; NULL or zero fields for the defaults).
 *
 * Returns the parser or NULL when out of memory. Free it with
 * xs2s_parser_free().
 */
XS2S_EXTERN xs2s_parser *
xs2s_parser_new(const xs2s_parser_callbacks *callbacks, void *user_data,
                const xs2s_parser_limits *limits);

/**
 * xs2s_parser_new_mem - xs2s_parser_new() with a custom allocator.
 * @mem: allocator for the parser and the stanzas it builds; NULL for libc's.
 */
XS2S_EXTERN xs2s_parser *
xs2s_parser_new_mem(const xs2s_parser_callbacks *callbacks, void *user_data,
                    const xs2s_parser_limits *limits, const xs2s_mem *mem);

/**
 * xs2s_parser_feed - parse the next bytes of the stream.
 * @p: parser.
 * @data: bytes as received (any chunking; UTF-8 sequences may be split).
 * @len: number of bytes.
 *
 * Calls back as elements complete. Returns the number of bytes consumed,
 * which is @len unless a stanza callback returned XS2S_PARSER_PAUSE: then it
 * is the number of bytes up to the end of that element, the rest of @data
 * was not parsed, and the parser must be reset before it takes more input.
 * Returns a negative error code when the stream is bad (the error callback
 * has named the condition), when a callback failed, or
 * XS2S_ERR_PARSER_FAILED / XS2S_ERR_STREAM_CLOSED for input after an error
 * or after the end of the stream, XS2S_ERR_BAD_STATE when paused or when
 * called from a callback.
 */
XS2S_EXTERN ssize_t xs2s_parser_feed(xs2s_parser *p, const char *data,
                                     size_t len);

/**
 * xs2s_parser_reset - start over with a new stream.
 *
 * Used for the stream restart after STARTTLS (or SASL): buffered input is
 * dropped, the next bytes must begin a new stream header. Clears any error
 * or pause. Returns 0 or XS2S_ERR_NOMEM.
 *
 * Called from a callback, it takes effect when xs2s_parser_feed() returns,
 * and parsing stops right after the current element as with
 * XS2S_PARSER_PAUSE: the feed returns the bytes consumed up to its end, and
 * the bytes after it are the caller's to feed to the new stream.
 */
XS2S_EXTERN int xs2s_parser_reset(xs2s_parser *p);

/**
 * xs2s_parser_condition - the stream-error condition of the last failure.
 *
 * XS2S_STREAM_ERR_NONE while the stream is good.
 */
XS2S_EXTERN xs2s_stream_condition xs2s_parser_condition(const xs2s_parser *p);

/**
 * xs2s_parser_free - free a parser; NULL is allowed.
 */
XS2S_EXTERN void xs2s_parser_free(xs2s_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_PARSER_H */
