/*
 * parser_util.h: a recorder for parser tests: it logs every event as text,
 * so that two runs can be compared byte for byte.
 */
#ifndef XS2S_TEST_PARSER_UTIL_H
#define XS2S_TEST_PARSER_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xs2s/parser.h>

#define HEADER                                                                 \
  "<stream:stream xmlns='jabber:server' "                                      \
  "xmlns:stream='http://etherx.jabber.org/streams' "                           \
  "xmlns:db='jabber:server:dialback' from='a.example' to='b.example' "         \
  "version='1.0' id='s-1' xml:lang='en'>"

typedef struct recorder {
  char log[1 << 20]; /* one line per event */
  size_t len;
  int opens, stanzas, closes, errors;
  int last_error;
  xs2s_stream_condition last_condition;
  const char *pause_on; /* stanza name that makes the callback pause */
  const char *reset_on; /* stanza name that makes the callback reset */
  int fail_open;        /* stream_open returns this when nonzero */
  int fail_stanza;      /* stanza returns this when nonzero */
  xs2s_stanza *kept;    /* copy of the last stanza */
  int keep;
  int feed_in_callback; /* result of a feed attempted from a callback */
} recorder;

/* Appends @before, @arg ("(null)" when NULL) and @after to the log. */
static void rec_log(recorder *r, const char *before, const char *arg,
                    const char *after) {
  if (r->len < sizeof(r->log))
    r->len += (size_t)snprintf(r->log + r->len, sizeof(r->log) - r->len,
                               "%s%s%s", before, arg ? arg : "(null)", after);
}

static int rec_open(xs2s_parser *p, const xs2s_stream_header *h, void *ud) {
  recorder *r = ud;
  (void)p;
  r->opens++;
  rec_log(r, "open from=", h->from, "");
  rec_log(r, " to=", h->to, "");
  rec_log(r, " id=", h->id, "");
  rec_log(r, " version=", h->version, "");
  rec_log(r, " lang=", h->lang, "");
  rec_log(r, " default=", h->default_ns, "");
  for (size_t i = 0; i < h->ns_count; i++) {
    rec_log(r, " ns[", h->ns_prefixes[i], "");
    rec_log(r, "]=", h->ns_uris[i], "");
  }
  rec_log(r, "", "", "\n");
  return r->fail_open;
}

static int rec_stanza(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  recorder *r = ud;
  static char xml[1 << 16];
  size_t len = 0;
  r->stanzas++;
  if (xs2s_stanza_serialize(s, xml, sizeof(xml), &len) != 0)
    strcpy(xml, "(too big)");
  rec_log(r, "stanza {", xs2s_stanza_ns(s), "}");
  rec_log(r, " ", xml, "\n");
  if (r->keep) {
    xs2s_stanza_free(r->kept);
    r->kept = xs2s_stanza_copy(s);
  }
  r->feed_in_callback = (int)xs2s_parser_feed(p, "x", 1);
  if (r->reset_on && xs2s_stanza_is(s, r->reset_on, NULL))
    xs2s_parser_reset(p);
  if (r->pause_on && xs2s_stanza_is(s, r->pause_on, NULL))
    return XS2S_PARSER_PAUSE;
  return r->fail_stanza;
}

static void rec_close(xs2s_parser *p, void *ud) {
  recorder *r = ud;
  (void)p;
  r->closes++;
  rec_log(r, "", "close", "\n");
}

static void rec_error(xs2s_parser *p, int code, xs2s_stream_condition c,
                      const char *message, void *ud) {
  recorder *r = ud;
  (void)p;
  r->errors++;
  r->last_error = code;
  r->last_condition = c;
  rec_log(r, "error ", xs2s_stream_condition_name(c), "");
  rec_log(r, " (", message, ")\n");
}

static const xs2s_parser_callbacks rec_callbacks = {rec_open, rec_stanza,
                                                    rec_close, rec_error};

static recorder *rec_new(void) {
  recorder *r = calloc(1, sizeof(*r));
  return r;
}

static void rec_free(recorder *r) {
  xs2s_stanza_free(r->kept);
  free(r);
}

/* Feeds @len bytes in chunks of @chunk (0: all at once); returns the
 * bytes consumed in all, or the first negative result. */
static ssize_t feed_chunks(xs2s_parser *p, const char *data, size_t len,
                           size_t chunk) {
  ssize_t rc = 0, total = 0;
  size_t off = 0;
  if (chunk == 0)
    chunk = len ? len : 1;
  while (off < len) {
    size_t n = len - off < chunk ? len - off : chunk;
    rc = xs2s_parser_feed(p, data + off, n);
    if (rc < 0)
      return rc;
    total += rc;
    off += n;
  }
  return total;
}

#endif /* XS2S_TEST_PARSER_UTIL_H */
