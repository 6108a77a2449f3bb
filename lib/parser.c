/*
 * parser.c: XMPP stream parser on libxml2's SAX2 push parser.
 *
 * libxml2 reports elements as they open and close; a depth counter turns
 * that into stream events: the element at depth 0 is the stream header,
 * an element closing back to depth 1 is a complete stanza, and the stream
 * element closing is the end of the stream. The stanza is built while it
 * arrives in a scratch tree whose arena is rewound after each stanza, with
 * libxml2's interned names stored as they are.
 *
 * Input reaches libxml2 in slices of bounded size. Before a slice goes in,
 * its bytes are checked as UTF-8; after it, the bytes buffered since the
 * last complete element are compared with the stanza limit. So whatever one
 * call is given, libxml2 never holds much more than one stanza's worth.
 *
 * Restricted XML (RFC 6120 section 11.1) is refused from the SAX events
 * that announce it: a DTD, comment, processing instruction or reference to
 * an entity other than the predefined five. libxml2 is never asked to
 * substitute entities, to load a DTD or to use the network.
 *
 * When a callback asks to stop (XS2S_PARSER_PAUSE, or a reset), libxml2 is
 * stopped at once, and the input position at the end of that element says
 * how many of the caller's bytes were used. Nothing after that point is
 * parsed, which the switch to TLS after <proceed/> depends on.
 */
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/dict.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "alloc.h"
#include "parser_internal.h"
#include "stanza_internal.h"
#include "utf8.h"

/* Largest slice given to libxml2 at once. */
#define SLICE_MAX 16384u
/* Smallest slice (for tiny stanza limits). */
#define SLICE_MIN 64u
/* libxml2 refuses documents deeper than 256 elements on its own; staying
 * below keeps our limit the one that applies. */
#define DEPTH_CAP 200u
/* Interned names and namespace URIs one stream may accumulate: at least
 * this, or four stanzas' worth. */
#define DICT_MIN (1024u * 1024u)
/* A stream whose header starts further down than this never hibernates
 * (its replay would keep a line break for each line). */
#define REPLAY_LINES_MAX 64u
/* The scratch tree's first chunk, inside the parser: a typical stanza is
 * built without any allocation. */
#define SCRATCH_SIZE 4096u

typedef enum parser_state {
  PARSER_HEADER, /* waiting for the stream header */
  PARSER_OPEN,   /* inside the stream */
  PARSER_PAUSED, /* a stanza callback paused; reset before more input */
  PARSER_CLOSED, /* the stream ended */
  PARSER_FAILED  /* an error; reset before more input */
} parser_state;

struct xs2s_parser {
  xs2s_mem mem;
  xs2s_parser_callbacks cb;
  void *user_data;
  size_t max_bytes;
  unsigned max_depth;
  unsigned max_attrs;
  size_t slice;
  size_t max_dict;
  int fragment; /* one element for xs2s_stanza_parse(), no stream */

  parser_state state;
  xmlParserCtxtPtr ctxt;
  unsigned depth;    /* elements open, the stream element included */
  unsigned top;      /* depth of top-level elements: 1, or 0 in a fragment */
  uint64_t fed;      /* bytes given to libxml2 since the stream began */
  uint64_t boundary; /* stream offset where the pending element began */
  uint64_t call_start; /* fed when the current xs2s_parser_feed() began */
  xs2s__utf8 utf8;
  char lead[3]; /* the first bytes of the stream */
  int amp_uris; /* a namespace declaration held an '&' */

  int busy;          /* inside xs2s_parser_feed() */
  int stopped;       /* parsing stopped after an element ... */
  uint64_t stop_at;  /* ... that ends at this stream offset */
  int paused;        /* ... because the stanza callback paused */
  int closed;        /* the stream element ended */
  int reset_pending; /* xs2s_parser_reset() was called during a feed */

  int error; /* first error, 0 while the stream is good */
  int error_by_callback;
  xs2s_stream_condition condition;
  char message[200];

  xs2s__tree tree;       /* scratch tree: header, then each stanza */
  xs2s_stanza *current;  /* innermost open element in it */
  char *scratch;         /* the tree's first chunk (SCRATCH_SIZE bytes) */

  /* Hibernation (xs2s__parser_hibernate()): an idle stream's libxml2
   * context and scratch memory are freed; the next feed builds them again
   * and replays @replay, a start tag binding the stream's namespaces as
   * its header did, with events suppressed. */
  char *replay;          /* that start tag, NUL-terminated, or NULL */
  size_t replay_len;
  int replaying;         /* the replay is being parsed */
  int64_t shift;         /* stream offset minus libxml2's offset */
  int line;              /* hibernated: libxml2's line number to restore */
  /* Before the header: lines begun so far and the lines of the first two
   * '<' (the header's, or the XML declaration's and the header's), so
   * that the replay puts the header on its line, as libxml2's messages
   * name it. */
  unsigned lines;
  unsigned lt_line[2];
  unsigned lt_seen;
  const char *frag_input; /* fragment mode: the input, and the result */
  size_t frag_len;
  xs2s_stanza *frag_result;
};

/* ---- errors ---- */

/* Records the first error; the caller stops libxml2 if it may. */
static void fail(xs2s_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(xs2s_parser *p, int code, const char *fmt, ...) {
  if (p->error)
    return;
  p->error = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->message, sizeof(p->message), fmt, ap);
  va_end(ap);
}

/* Stops libxml2 from a SAX event handler: it parses nothing more. */
static void halt(xs2s_parser *p) {
  xmlStopParser(p->ctxt);
}

static void fail_halt(xs2s_parser *p, int code, const char *what) {
  fail(p, code, "%s", what);
  halt(p);
}

/* 1 when SAX events must be ignored: after an error or a stop. */
static int ignoring(const xs2s_parser *p) {
  return p->error || p->stopped;
}

/* Stream offset libxml2 has parsed up to. */
static uint64_t position(const xs2s_parser *p) {
  const xmlParserInput *in = p->ctxt ? p->ctxt->input : NULL;
  if (!in || !in->base)
    return p->fed;
  return (uint64_t)((int64_t)in->consumed + (int64_t)(in->cur - in->base) +
                    p->shift);
}

/* Stops parsing right after an element that ends at @at. */
static void stop_after(xs2s_parser *p, uint64_t at) {
  p->stopped = 1;
  p->stop_at = at;
  halt(p);
}

/* Whether @input is only XML white space. */
static int blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
      return 0;
  return 1;
}

/* The error of a document that ended wrongly: for a fragment, anything but
 * exactly one element (surrounded by white space) is bad-format, unless
 * the element itself was cut short. */
static int fragment_end_error(const xs2s_parser *p) {
  if (p->frag_result || blank(p->frag_input, p->frag_len))
    return XS2S_ERR_BAD_FORMAT;
  return XS2S_ERR_NOT_WELL_FORMED;
}

/* Our error code for a libxml2 error, 0 to ignore it. */
static int map_xml_error(const xs2s_parser *p, const xmlError *e) {
  /* A namespace name that is not a valid or absolute URI: XML Namespaces
   * only recommends URIs, a namespace is compared as a string, and the
   * tree API accepts any text. */
  if (e->code == XML_WAR_NS_URI || e->code == XML_WAR_NS_URI_RELATIVE ||
      e->code == XML_WAR_NS_COLUMN)
    return 0;
  if (e->domain == XML_FROM_NAMESPACE)
    return e->code == XML_NS_ERR_UNDEFINED_NAMESPACE
               ? XS2S_ERR_BAD_NAMESPACE_PREFIX
               : XS2S_ERR_NOT_WELL_FORMED;
  switch (e->code) {
  case XML_ERR_NO_MEMORY:
    return XS2S_ERR_NOMEM;
  case XML_ERR_USER_STOP:
    return 0;
  case XML_ERR_UNKNOWN_ENCODING:
  case XML_ERR_UNSUPPORTED_ENCODING:
  case XML_ERR_ENCODING_NAME:
  case XML_ERR_INVALID_ENCODING:
    return XS2S_ERR_UNSUPPORTED_ENCODING;
  case XML_ERR_UNDECLARED_ENTITY:
  case XML_WAR_UNDECLARED_ENTITY:
    return XS2S_ERR_RESTRICTED_XML;
  case XML_ERR_DOCUMENT_EMPTY:
    return p->fragment ? XS2S_ERR_BAD_FORMAT : XS2S_ERR_NOT_WELL_FORMED;
  case XML_ERR_DOCUMENT_END:
    return p->fragment ? fragment_end_error(p) : XS2S_ERR_NOT_WELL_FORMED;
  default:
    return XS2S_ERR_NOT_WELL_FORMED;
  }
}

/* libxml2's structured error channel, namespace errors included (libxml2
 * only warns about an undeclared prefix and goes on; we do not). Errors
 * are recorded, not acted on here: libxml2 is in the middle of its work. */
static void on_xml_error(void *ud, xmlErrorPtr e) {
  xs2s_parser *p = ud;
  if (!e || e->level < XML_ERR_ERROR || ignoring(p))
    return;
  int code = map_xml_error(p, e);
  if (code == 0)
    return;
  const char *msg = e->message ? e->message : "XML error";
  int n = (int)strcspn(msg, "\n");
  fail(p, code, "line %d: %.*s", e->line, n, msg);
}

/* ---- restricted XML ---- */

static void restricted(xs2s_parser *p, const char *what) {
  if (ignoring(p))
    return;
  fail(p, XS2S_ERR_RESTRICTED_XML, "%s is not allowed in XMPP", what);
  halt(p);
}

static void on_comment(void *ud, const xmlChar *value) {
  (void)value;
  restricted(ud, "a comment");
}

static void on_pi(void *ud, const xmlChar *target, const xmlChar *data) {
  (void)target;
  (void)data;
  restricted(ud, "a processing instruction");
}

static void on_dtd(void *ud, const xmlChar *name, const xmlChar *public_id,
                   const xmlChar *system_id) {
  (void)name;
  (void)public_id;
  (void)system_id;
  restricted(ud, "a DTD");
}

static void on_entity_decl(void *ud, const xmlChar *name, int type,
                           const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content) {
  (void)name;
  (void)type;
  (void)public_id;
  (void)system_id;
  (void)content;
  restricted(ud, "an entity declaration");
}

/* Asked only for entities other than the predefined five: refuse. libxml2
 * then reports the reference as undefined and stops by itself. */
static xmlEntityPtr on_get_entity(void *ud, const xmlChar *name) {
  xs2s_parser *p = ud;
  if (!ignoring(p))
    fail(p, XS2S_ERR_RESTRICTED_XML, "entity reference &%s; is not allowed",
         (const char *)name);
  return NULL;
}

static xmlParserInputPtr on_resolve_entity(void *ud, const xmlChar *public_id,
                                           const xmlChar *system_id) {
  xs2s_parser *p = ud;
  (void)public_id;
  if (!ignoring(p))
    fail(p, XS2S_ERR_RESTRICTED_XML, "external entity %s is not allowed",
         system_id ? (const char *)system_id : "");
  return NULL;
}

/* ---- document and encoding ---- */

static int is_utf8_name(const char *enc) {
  return strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0;
}

/* Called once the XML declaration (if any) is read: libxml2 has chosen a
 * decoder by then, from a byte order mark or the declaration. */
static void on_start_document(void *ud) {
  xs2s_parser *p = ud;
  const xmlParserCtxt *c = p->ctxt;
  if (p->replaying)
    return;
  const char *enc = (const char *)(c->encoding ? c->encoding
                                               : c->input->encoding);
  int decoding = c->input->buf && c->input->buf->encoder;
  if (ignoring(p) || (!decoding && (!enc || is_utf8_name(enc))))
    return;
  fail(p, XS2S_ERR_UNSUPPORTED_ENCODING, "encoding %s is not UTF-8",
       enc ? enc : "(detected)");
  halt(p);
}

/* ---- elements ---- */

/* Copies an attribute value. With entity substitution off, libxml2 hands
 * an '&' in a value on as "&#38;" (whatever the input wrote); undo that. */
static const char *copy_value(xs2s__arena *a, const char *v, size_t len) {
  char *out = xs2s__arena_alloc_aligned(a, len + 1, 1);
  if (!out)
    return NULL;
  const char *amp = memchr(v, '&', len);
  if (!amp) {
    memcpy(out, v, len);
    out[len] = '\0';
    return out;
  }
  size_t o = 0, i = 0;
  while (i < len) {
    if (v[i] == '&' && len - i >= 5 && memcmp(v + i, "&#38;", 5) == 0) {
      out[o++] = '&';
      i += 5;
    } else {
      out[o++] = v[i++];
    }
  }
  out[o] = '\0';
  return out;
}

/* Namespace URIs come the same way as values ("&#38;" for '&'), but they
 * are interned and stored without copying. Such URIs are rare: look for
 * them only once a declaration (@nb_ns URIs at @ns) has shown one. */
static void check_ns_decls(xs2s_parser *p, int nb_ns, const xmlChar **ns) {
  for (int i = 0; i < nb_ns && !p->amp_uris; i++)
    if (ns[2 * i + 1] && strchr((const char *)ns[2 * i + 1], '&'))
      p->amp_uris = 1;
}

/* A namespace URI as the tree stores it ("" for none); NULL when out of
 * memory. */
static const char *ns_uri(const xs2s_parser *p, xs2s__arena *a,
                          const xmlChar *uri) {
  const char *u = uri ? (const char *)uri : "";
  if (!p->amp_uris || !strchr(u, '&'))
    return u;
  return copy_value(a, u, strlen(u));
}

/* Stores libxml2's attributes (localname, prefix, URI, value, end) on
 * element @e; names and URIs are interned, values are copied. */
static int set_attrs(const xs2s_parser *p, xs2s_stanza *e, int n,
                     const xmlChar **attrs) {
  if (n <= 0)
    return 0;
  xs2s__attr *a = xs2s__node_attrs(e, (size_t)n);
  if (!a)
    return XS2S_ERR_NOMEM;
  for (int i = 0; i < n; i++) {
    const xmlChar **at = attrs + 5 * i;
    a[i].name = (const char *)at[0];
    a[i].prefix = (const char *)at[1];
    a[i].ns = ns_uri(p, &e->tree->arena, at[2]);
    a[i].value = copy_value(&e->tree->arena, (const char *)at[3],
                            (size_t)(at[4] - at[3]));
    if (!a[i].ns || !a[i].value)
      return XS2S_ERR_NOMEM;
  }
  e->attr_count = (uint32_t)n;
  return 0;
}

static int too_many_attrs(xs2s_parser *p, int nb_ns, int nb_attrs) {
  if ((unsigned)nb_ns + (unsigned)nb_attrs <= p->max_attrs)
    return 0;
  fail(p, XS2S_ERR_LIMIT, "element with more than %u attributes",
       p->max_attrs);
  halt(p);
  return 1;
}

/* A callback returned @rc < 0: the feed fails with it, no error callback. */
static void callback_failed(xs2s_parser *p, int rc) {
  fail(p, rc, "a callback failed");
  p->error_by_callback = 1;
  halt(p);
}

/* Appends @s to @out at *@n (when @out is not NULL) and advances *@n;
 * with @attr, characters that would not read back as themselves in a
 * quoted attribute value are written as character references. */
static void put(char *out, size_t *n, const char *s, int attr) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (attr && (c < 0x20 || c == '<' || c == '&' || c == '\'')) {
      char ref[8];
      int k = snprintf(ref, sizeof(ref), "&#%u;", c);
      if (out)
        memcpy(out + *n, ref, (size_t)k);
      *n += (size_t)k;
    } else {
      if (out)
        out[*n] = (char)c;
      (*n)++;
    }
  }
}

/* Writes the replayed header (see struct xs2s_parser) into @out, or only
 * counts its bytes when @out is NULL; returns the length. */
static size_t write_replay(char *out, unsigned line, const char *prefix,
                           int nb_ns, const xmlChar **ns) {
  size_t n = 0;
  for (unsigned i = 1; i < line; i++)
    put(out, &n, "\n", 0);
  put(out, &n, "<", 0);
  if (prefix) {
    put(out, &n, prefix, 0);
    put(out, &n, ":", 0);
  }
  put(out, &n, "stream", 0);
  for (int i = 0; i < nb_ns; i++) {
    put(out, &n, ns[2 * i] ? " xmlns:" : " xmlns", 0);
    if (ns[2 * i])
      put(out, &n, (const char *)ns[2 * i], 0);
    put(out, &n, "='", 0);
    put(out, &n, ns[2 * i + 1] ? (const char *)ns[2 * i + 1] : "", 1);
    put(out, &n, "'", 0);
  }
  put(out, &n, ">", 0);
  return n;
}

/* Keeps what hibernation replays. Without memory, or with a namespace URI
 * libxml2 reports escaped ('&'), the stream simply never hibernates. */
static void save_replay(xs2s_parser *p, const char *prefix, int nb_ns,
                        const xmlChar **ns) {
  for (int i = 0; i < nb_ns; i++)
    if (ns[2 * i + 1] && strchr((const char *)ns[2 * i + 1], '&'))
      return;
  /* The header's line: the first '<' is the XML declaration's when the
   * stream begins with one. */
  unsigned line = p->lt_line[memcmp(p->lead, "<?", 2) == 0 ? 1 : 0];
  if (line == 0 || line > REPLAY_LINES_MAX)
    return;
  size_t len = write_replay(NULL, line, prefix, nb_ns, ns);
  p->replay = xs2s__malloc(&p->mem, len + 1);
  if (!p->replay)
    return;
  write_replay(p->replay, line, prefix, nb_ns, ns);
  p->replay[len] = '\0';
  p->replay_len = len;
}

/* The stream header (depth 0 in a stream). */
static void on_header(xs2s_parser *p, const char *localname,
                      const char *prefix, const char *uri, int nb_ns,
                      const xmlChar **ns, int nb_attrs,
                      const xmlChar **attrs) {
  if (strcmp(localname, "stream") != 0) {
    fail(p, XS2S_ERR_BAD_FORMAT, "the root element is <%s>, not <stream>",
         localname);
    halt(p);
    return;
  }
  if (!uri || strcmp(uri, XS2S_NS_STREAMS) != 0) {
    fail(p, XS2S_ERR_INVALID_NAMESPACE,
         "the stream element is not in namespace " XS2S_NS_STREAMS);
    halt(p);
    return;
  }
  if (too_many_attrs(p, nb_ns, nb_attrs))
    return;
  check_ns_decls(p, nb_ns, ns);
  /* libxml2 stopped on the '>' (or "/>") of the start tag. */
  const xmlChar *cur = p->ctxt->input->cur;
  uint64_t end = position(p) + (cur[0] == '/' ? 2 : 1);
  if (end > p->max_bytes) {
    fail_halt(p, XS2S_ERR_LIMIT, "stream header too large");
    return;
  }
  xs2s__tree *t = &p->tree;
  xs2s__tree_reset(t);
  xs2s_stanza *e = xs2s__node_element(t, NULL, localname, uri, prefix);
  const char **prefixes = xs2s__arena_alloc(&t->arena,
                                            2 * (size_t)nb_ns * sizeof(char *));
  if (!e || (nb_ns && !prefixes) || set_attrs(p, e, nb_attrs, attrs) < 0) {
    fail_halt(p, XS2S_ERR_NOMEM, "out of memory");
    return;
  }
  xs2s_stream_header h = {0};
  const char **uris = prefixes + nb_ns;
  for (int i = 0; i < nb_ns; i++) {
    prefixes[i] = (const char *)ns[2 * i];
    uris[i] = ns_uri(p, &t->arena, ns[2 * i + 1]);
    if (!uris[i]) {
      fail_halt(p, XS2S_ERR_NOMEM, "out of memory");
      return;
    }
    if (!prefixes[i])
      h.default_ns = uris[i];
  }
  h.from = xs2s_stanza_attr(e, "from");
  h.to = xs2s_stanza_attr(e, "to");
  h.id = xs2s_stanza_attr(e, "id");
  h.version = xs2s_stanza_attr(e, "version");
  h.lang = xs2s_stanza_attr_ns(e, "lang", XS2S_NS_XML);
  h.ns_count = (size_t)nb_ns;
  h.ns_prefixes = prefixes;
  h.ns_uris = uris;
  h.element = e;
  save_replay(p, prefix, nb_ns, ns);
  p->depth++;
  p->boundary = end;
  p->state = PARSER_OPEN;
  int rc = p->cb.stream_open ? p->cb.stream_open(p, &h, p->user_data) : 0;
  if (rc < 0)
    callback_failed(p, rc);
  else if (p->reset_pending)
    stop_after(p, end);
  xs2s__tree_reset(t);
}

static void on_start_element(void *ud, const xmlChar *localname,
                             const xmlChar *prefix, const xmlChar *uri,
                             int nb_ns, const xmlChar **ns, int nb_attrs,
                             int nb_defaulted, const xmlChar **attrs) {
  xs2s_parser *p = ud;
  (void)nb_defaulted; /* no DTD, so no default attributes */
  if (ignoring(p))
    return;
  if (p->replaying) {
    p->depth++; /* the replayed header: no event */
    return;
  }
  if (p->depth < p->top) {
    on_header(p, (const char *)localname, (const char *)prefix,
              (const char *)uri, nb_ns, ns, nb_attrs, attrs);
    return;
  }
  unsigned level = p->depth - p->top + 1; /* 1 for the stanza itself */
  if (level > p->max_depth) {
    fail(p, XS2S_ERR_LIMIT, "elements nested deeper than %u", p->max_depth);
    halt(p);
    return;
  }
  if (too_many_attrs(p, nb_ns, nb_attrs))
    return;
  check_ns_decls(p, nb_ns, ns);
  xs2s__tree *t = &p->tree;
  if (level == 1)
    xs2s__tree_reset(t);
  const char *u = ns_uri(p, &t->arena, uri);
  xs2s_stanza *e =
      u ? xs2s__node_element(t, level == 1 ? NULL : p->current,
                             (const char *)localname, u, (const char *)prefix)
        : NULL;
  if (!e || set_attrs(p, e, nb_attrs, attrs) < 0) {
    fail_halt(p, XS2S_ERR_NOMEM, "out of memory");
    return;
  }
  p->current = e;
  p->depth++;
}

/* The stream element ended. */
static void on_stream_end(xs2s_parser *p) {
  p->closed = 1;
  stop_after(p, position(p));
  if (p->cb.stream_close)
    p->cb.stream_close(p, p->user_data);
}

/* A top-level element ending at stream offset @end is complete. */
static void on_stanza(xs2s_parser *p, xs2s_stanza *root, uint64_t end) {
  if (xmlDictGetUsage(p->ctxt->dict) > p->max_dict) {
    fail_halt(p, XS2S_ERR_LIMIT, "too many distinct names on one stream");
    return;
  }
  if (p->fragment) {
    p->frag_result = xs2s__stanza_copy_mem(&p->mem, root);
    if (!p->frag_result)
      fail_halt(p, XS2S_ERR_NOMEM, "out of memory");
    return;
  }
  int rc = p->cb.stanza ? p->cb.stanza(p, root, p->user_data) : 0;
  if (rc < 0)
    callback_failed(p, rc);
  else if (rc == XS2S_PARSER_PAUSE || p->reset_pending)
    stop_after(p, end);
  p->paused = rc == XS2S_PARSER_PAUSE;
}

static void on_end_element(void *ud, const xmlChar *localname,
                           const xmlChar *prefix, const xmlChar *uri) {
  xs2s_parser *p = ud;
  (void)localname;
  (void)prefix;
  (void)uri;
  if (ignoring(p))
    return;
  p->depth--;
  if (p->depth < p->top) {
    on_stream_end(p);
    return;
  }
  if (p->depth > p->top) {
    p->current = p->current->parent;
    return;
  }
  uint64_t end = position(p);
  if (end - p->boundary > p->max_bytes) {
    fail(p, XS2S_ERR_LIMIT, "stanza larger than %zu bytes", p->max_bytes);
    halt(p);
    return;
  }
  p->boundary = end;
  on_stanza(p, p->tree.root, end);
  xs2s__tree_reset(&p->tree);
  p->current = NULL;
}

static void on_characters(void *ud, const xmlChar *ch, int len) {
  xs2s_parser *p = ud;
  if (ignoring(p) || len <= 0)
    return;
  if (p->depth > p->top) {
    if (xs2s__node_text(p->current, (const char *)ch, (size_t)len) < 0)
      fail_halt(p, XS2S_ERR_NOMEM, "out of memory");
    return;
  }
  /* Between stanzas only white space (keepalives) may appear. */
  if (!blank((const char *)ch, (size_t)len)) {
    fail_halt(p, XS2S_ERR_BAD_FORMAT, "text at stream level");
    return;
  }
  p->boundary = position(p);
}

static void init_sax(xmlSAXHandler *sax) {
  memset(sax, 0, sizeof(*sax));
  sax->initialized = XML_SAX2_MAGIC;
  sax->startDocument = on_start_document;
  sax->startElementNs = on_start_element;
  sax->endElementNs = on_end_element;
  sax->characters = on_characters;
  sax->ignorableWhitespace = on_characters;
  sax->cdataBlock = on_characters;
  sax->comment = on_comment;
  sax->processingInstruction = on_pi;
  sax->internalSubset = on_dtd;
  sax->externalSubset = on_dtd;
  sax->entityDecl = on_entity_decl;
  sax->getEntity = on_get_entity;
  sax->getParameterEntity = on_get_entity;
  sax->resolveEntity = on_resolve_entity;
  sax->serror = on_xml_error;
}

/* ---- feeding ---- */

/* Notes the lines of the first '<' characters (see struct xs2s_parser). */
static void count_lines(xs2s_parser *p, const char *data, size_t n) {
  for (size_t i = 0; i < n && p->lt_seen < 2; i++) {
    if (data[i] == '\n')
      p->lines++;
    else if (data[i] == '<')
      p->lt_line[p->lt_seen++] = p->lines + 1;
  }
}

/* Checks the next @n bytes before libxml2 sees them; returns how many may
 * be parsed: all of them, or those before an error described by *@code
 * and *@why. */
static size_t check_bytes(xs2s_parser *p, const char *data, size_t n,
                          int *code, const char **why) {
  for (size_t i = 0; p->fed + i < sizeof(p->lead) && i < n; i++) {
    size_t at = (size_t)p->fed + i;
    p->lead[at] = data[i];
    /* UTF-16 and UCS-4 without a byte order mark put a NUL in the first
     * two bytes (libxml2 would just see a bad character). */
    if (at < 2 && data[i] == '\0') {
      *code = XS2S_ERR_UNSUPPORTED_ENCODING;
      *why = "the stream is not UTF-8 (UTF-16 or UCS-4)";
      return i;
    }
    /* RFC 6120 11.6: U+FEFF is a character, never a byte order mark, so
     * here it is text before the stream header. */
    if (at == 2 && memcmp(p->lead, "\xef\xbb\xbf", 3) == 0) {
      *code = XS2S_ERR_NOT_WELL_FORMED;
      *why = "U+FEFF (a byte order mark) before the root element";
      return i;
    }
  }
  if (p->state == PARSER_HEADER && !p->fragment)
    count_lines(p, data, n);
  size_t ok = xs2s__utf8_scan(&p->utf8, data, n);
  if (ok < n) {
    *code = XS2S_ERR_UNSUPPORTED_ENCODING;
    *why = "invalid UTF-8";
  }
  return ok;
}

static void parse(xs2s_parser *p, const char *data, size_t n, int terminate) {
  int rc = xmlParseChunk(p->ctxt, data, (int)n, terminate);
  p->fed += n;
  if (rc != 0 && !ignoring(p))
    fail(p, XS2S_ERR_NOT_WELL_FORMED, "XML error %d", rc);
}

static void feed_slices(xs2s_parser *p, const char *data, size_t len,
                        int terminate) {
  size_t off = 0;
  while (off < len && !ignoring(p)) {
    size_t n = len - off < p->slice ? len - off : p->slice;
    const char *why = NULL;
    int code = 0;
    size_t ok = check_bytes(p, data + off, n, &code, &why);
    if (ok > 0)
      parse(p, data + off, ok, 0);
    if (ignoring(p))
      break;
    if (code) {
      fail(p, code, "%s at byte %llu", why, (unsigned long long)p->fed);
      break;
    }
    off += n;
    if (p->fed - p->boundary > p->max_bytes)
      fail(p, XS2S_ERR_LIMIT, "more than %zu bytes without a complete stanza",
           p->max_bytes);
  }
  if (!terminate || ignoring(p))
    return;
  if (p->utf8.need)
    fail(p, XS2S_ERR_UNSUPPORTED_ENCODING, "truncated UTF-8 sequence");
  else
    parse(p, NULL, 0, 1);
}

/* ---- lifecycle ---- */

static int create_ctxt(xs2s_parser *p) {
  xmlSAXHandler sax;
  init_sax(&sax);
  p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
  if (!p->ctxt)
    return XS2S_ERR_NOMEM;
  /* No entity substitution, no DTD loading or defaulted attributes (all
   * off by default), and never the network. */
  xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET);
  /* A backstop behind our own check in on_stanza(). */
  xmlDictSetLimit(p->ctxt->dict, 2 * p->max_dict);
  return 0;
}

/* Gives the scratch tree its first chunk back if hibernation freed it,
 * and rewinds the tree. 0 or XS2S_ERR_NOMEM. */
static int wake_scratch(xs2s_parser *p) {
  if (!p->scratch) {
    p->scratch = xs2s__malloc(&p->mem, SCRATCH_SIZE);
    if (!p->scratch)
      return XS2S_ERR_NOMEM;
    xs2s__tree_init(&p->tree, &p->mem, p->scratch, SCRATCH_SIZE, 1);
  }
  xs2s__tree_reset(&p->tree);
  return 0;
}

/* Frees libxml2's context. A DOCTYPE is refused at once, but libxml2 may
 * already have built a document to hold the declarations it read with it
 * (ctxt->myDoc), which xmlFreeParserCtxt() leaves to the caller. */
static void free_ctxt(xs2s_parser *p) {
  if (!p->ctxt)
    return;
  if (p->ctxt->myDoc) {
    xmlFreeDoc(p->ctxt->myDoc);
    p->ctxt->myDoc = NULL;
  }
  xmlFreeParserCtxt(p->ctxt);
  p->ctxt = NULL;
}

/* Starts over: a fresh libxml2 context and a clean state. Never called
 * from inside libxml2. */
static int do_reset(xs2s_parser *p) {
  p->reset_pending = 0;
  free_ctxt(p);
  p->state = PARSER_HEADER;
  p->depth = 0;
  p->fed = p->boundary = p->call_start = 0;
  memset(&p->utf8, 0, sizeof(p->utf8));
  memset(p->lead, 0, sizeof(p->lead));
  p->amp_uris = 0;
  p->stopped = p->paused = p->closed = 0;
  p->stop_at = 0;
  p->error = p->error_by_callback = 0;
  p->condition = XS2S_STREAM_ERR_NONE;
  p->message[0] = '\0';
  xs2s__free(&p->mem, p->replay);
  p->replay = NULL;
  p->replay_len = 0;
  p->replaying = 0;
  p->shift = 0;
  p->lines = p->lt_seen = 0;
  memset(p->lt_line, 0, sizeof(p->lt_line));
  p->current = NULL;
  int rc = wake_scratch(p);
  if (rc == 0)
    rc = create_ctxt(p);
  if (rc < 0) {
    p->state = PARSER_FAILED;
    p->error = rc;
    p->condition = xs2s_stream_condition_from_error(rc);
  }
  return rc;
}

static xs2s_parser *parser_create(const xs2s_parser_callbacks *callbacks,
                                  void *user_data,
                                  const xs2s_parser_limits *limits,
                                  const xs2s_mem *mem, int fragment) {
  xs2s_mem m;
  xs2s__mem_init(&m, mem);
  xs2s_parser *p = xs2s__malloc(&m, sizeof(*p));
  if (!p)
    return NULL;
  memset(p, 0, sizeof(*p));
  p->mem = m;
  if (callbacks)
    p->cb = *callbacks;
  p->user_data = user_data;
  xs2s_parser_limits lim = {0, 0, 0};
  if (limits)
    lim = *limits;
  p->max_bytes = lim.max_stanza_bytes ? lim.max_stanza_bytes
                                      : XS2S_DEFAULT_MAX_STANZA_BYTES;
  p->max_depth = lim.max_depth ? lim.max_depth : XS2S_DEFAULT_MAX_DEPTH;
  if (p->max_depth > DEPTH_CAP)
    p->max_depth = DEPTH_CAP;
  p->max_attrs =
      lim.max_attributes ? lim.max_attributes : XS2S_DEFAULT_MAX_ATTRIBUTES;
  p->slice = p->max_bytes < SLICE_MIN   ? SLICE_MIN
             : p->max_bytes > SLICE_MAX ? SLICE_MAX
                                        : p->max_bytes;
  p->max_dict = p->max_bytes > DICT_MIN / 4 ? 4 * p->max_bytes : DICT_MIN;
  p->fragment = fragment;
  p->top = fragment ? 0 : 1;
  xs2s__tree_init(&p->tree, &p->mem, NULL, 0, 1);
  xmlInitParser();
  if (do_reset(p) < 0) {
    xs2s_parser_free(p);
    return NULL;
  }
  return p;
}

xs2s_parser *xs2s_parser_new_mem(const xs2s_parser_callbacks *callbacks,
                                 void *user_data,
                                 const xs2s_parser_limits *limits,
                                 const xs2s_mem *mem) {
  return parser_create(callbacks, user_data, limits, mem, 0);
}

xs2s_parser *xs2s_parser_new(const xs2s_parser_callbacks *callbacks,
                             void *user_data,
                             const xs2s_parser_limits *limits) {
  return parser_create(callbacks, user_data, limits, NULL, 0);
}

void xs2s_parser_free(xs2s_parser *p) {
  if (!p)
    return;
  free_ctxt(p);
  xs2s__tree_release(&p->tree);
  xs2s__free(&p->mem, p->scratch);
  xs2s__free(&p->mem, p->replay);
  xs2s_mem m = p->mem;
  xs2s__free(&m, p);
}

int xs2s_parser_reset(xs2s_parser *p) {
  if (!p)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (p->busy) {
    /* From a callback: libxml2 is on the stack. Stop after the current
     * element and start over once xs2s_parser_feed() returns. */
    p->reset_pending = 1;
    return 0;
  }
  return do_reset(p);
}

/* ---- hibernation ---- */

int xs2s__parser_hibernate(xs2s_parser *p) {
  if (!p || p->busy || p->fragment || p->state != PARSER_OPEN || !p->ctxt ||
      !p->replay || ignoring(p) || p->depth != p->top || p->utf8.need)
    return 0;
  const xmlParserCtxt *c = p->ctxt;
  const xmlParserInput *in = c->input;
  if (c->instate != XML_PARSER_CONTENT || c->inputNr != 1 || !in ||
      !in->base || !in->cur || !in->end || (in->buf && in->buf->encoder))
    return 0;
  /* libxml2 may hold bytes it has not parsed yet: only white space between
   * stanzas (a keepalive waits for the next '<') may be dropped, since it
   * makes no event. */
  size_t held = (size_t)(in->end - in->cur);
  if (!blank((const char *)in->cur, held) || position(p) + held != p->fed)
    return 0;
  int line = in->line;
  for (size_t i = 0; i < held; i++)
    line += in->cur[i] == '\n';
  free_ctxt(p);
  xs2s__tree_release(&p->tree);
  xs2s__free(&p->mem, p->scratch);
  p->scratch = NULL;
  xs2s__tree_init(&p->tree, &p->mem, NULL, 0, 1);
  p->current = NULL;
  p->depth = p->top - 1;
  p->boundary = p->fed;
  p->line = line;
  return 1;
}

int xs2s__parser_hibernating(const xs2s_parser *p) {
  return p && !p->ctxt && p->state == PARSER_OPEN;
}

/* Rebuilds what hibernation freed: a new libxml2 context in the state the
 * old one had between stanzas. From xs2s_parser_feed() only; an error is
 * recorded as the feed's. */
static void wake(xs2s_parser *p) {
  if (wake_scratch(p) < 0 || create_ctxt(p) < 0) {
    fail(p, XS2S_ERR_NOMEM, "out of memory");
    return;
  }
  p->replaying = 1;
  int rc = xmlParseChunk(p->ctxt, p->replay, (int)p->replay_len, 0);
  p->replaying = 0;
  xmlParserInput *in = p->ctxt->input;
  int64_t at = in && in->base ? (int64_t)in->consumed + (in->cur - in->base)
                              : -1;
  if (rc != 0 || p->error || p->depth != p->top ||
      at != (int64_t)p->replay_len) {
    fail(p, XS2S_ERR_NOMEM, "out of memory"); /* libxml2 ran out */
    return;
  }
  p->shift = (int64_t)p->fed - at;
  in->line = p->line;
}

xs2s_stream_condition xs2s_parser_condition(const xs2s_parser *p) {
  return p ? p->condition : XS2S_STREAM_ERR_NONE;
}

/* Settles the outcome of a feed of @len bytes. */
static ssize_t finish_feed(xs2s_parser *p, size_t len) {
  ssize_t ret = (ssize_t)len;
  if (p->error) {
    p->state = PARSER_FAILED;
    p->condition = xs2s_stream_condition_from_error(p->error);
    ret = p->error;
    if (!p->error_by_callback && p->cb.error)
      p->cb.error(p, p->error, p->condition, p->message, p->user_data);
  } else if (p->closed) {
    p->state = PARSER_CLOSED;
  } else if (p->paused) {
    p->state = PARSER_PAUSED;
  }
  if (!p->error && p->stopped && (p->paused || p->reset_pending)) {
    uint64_t used = p->stop_at > p->call_start ? p->stop_at - p->call_start : 0;
    ret = used < len ? (ssize_t)used : (ssize_t)len;
  }
  if (p->reset_pending && do_reset(p) < 0 && ret >= 0)
    ret = XS2S_ERR_NOMEM;
  return ret;
}

ssize_t xs2s_parser_feed(xs2s_parser *p, const char *data, size_t len) {
  if (!p || (!data && len) || len > (size_t)SSIZE_MAX)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (p->busy)
    return XS2S_ERR_BAD_STATE;
  switch (p->state) {
  case PARSER_FAILED:
    return XS2S_ERR_PARSER_FAILED;
  case PARSER_CLOSED:
    return XS2S_ERR_STREAM_CLOSED;
  case PARSER_PAUSED:
    return XS2S_ERR_BAD_STATE;
  default:
    break;
  }
  if (len == 0)
    return 0;
  p->busy = 1;
  p->call_start = p->fed;
  if (!p->ctxt)
    wake(p);
  if (!p->error)
    feed_slices(p, data, len, 0);
  ssize_t ret = finish_feed(p, len);
  p->busy = 0;
  return ret;
}

xs2s_stanza *xs2s__parse_fragment(const xs2s_mem *mem, const char *xml,
                                  size_t len, int *err) {
  return xs2s__parse_fragment_lim(mem, xml, len, NULL, err);
}

xs2s_stanza *xs2s__parse_fragment_lim(const xs2s_mem *mem, const char *xml,
                                      size_t len,
                                      const xs2s_parser_limits *limits,
                                      int *err) {
  xs2s_parser *p = parser_create(NULL, NULL, limits, mem, 1);
  if (!p) {
    *err = XS2S_ERR_NOMEM;
    return NULL;
  }
  p->frag_input = xml;
  p->frag_len = len;
  p->busy = 1;
  feed_slices(p, xml, len, 1);
  xs2s_stanza *result = p->frag_result;
  int rc = p->error;
  if (!rc && !result)
    rc = XS2S_ERR_BAD_FORMAT;
  if (rc < 0) {
    xs2s_stanza_free(result);
    result = NULL;
  }
  *err = rc;
  xs2s_parser_free(p);
  return result;
}
