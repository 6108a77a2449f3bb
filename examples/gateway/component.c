/*
 * component.c: one XEP-0114 component stream, gateway side.
 *
 * States and transitions (see component.h for what each state waits for):
 *
 *   HEADER --valid header--> HANDSHAKE --right digest--> READY
 *      |                         |                          |
 *      +--bad header------------+--wrong digest / other----+--bad stanza
 *                                                              |
 *               stream error, </stream:stream> --> CLOSED <----+
 *   READY --gw_component_close(NONE)--> CLOSING --peer's close--> CLOSED
 *   any   --peer's </stream:stream> or EOF--> CLOSED (after our close)
 */
#include "component.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "config.h"
#include "stanzas.h"

struct gw_component {
  gw_component_callbacks cb;
  void *ud;
  gw_component_state state;
  xs2s_parser *parser;
  char id[65];
  char domain[1024]; /* claimed in the header; authenticated from READY */
  int header_sent;
  char *out; /* pending output: out[out_off .. out_len) */
  size_t out_len, out_off, out_cap, max_out;
  uint64_t stanzas_in, stanzas_out;
};

static void logf_(gw_component *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(gw_component *c, int level, const char *fmt, ...) {
  if (!c->cb.log)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  c->cb.log(c, level, line, c->ud);
}

/* -- Output --------------------------------------------------------------- */

static int out_reserve(gw_component *c, size_t n) {
  if (c->out_off && c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  if (c->out_len + n <= c->out_cap)
    return 0;
  if (c->out_off) { /* slide the unwritten part to the front first */
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
    if (c->out_len + n <= c->out_cap)
      return 0;
  }
  size_t cap = c->out_cap ? c->out_cap : 1024;
  while (cap < c->out_len + n)
    cap *= 2;
  char *p = realloc(c->out, cap);
  if (!p)
    return XS2S_ERR_NOMEM;
  c->out = p;
  c->out_cap = cap;
  return 0;
}

static int out_write(gw_component *c, const char *s, size_t n) {
  int rc = out_reserve(c, n);
  if (rc == 0) {
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
  }
  return rc;
}

static int out_str(gw_component *c, const char *s) {
  return out_write(c, s, strlen(s));
}

/* Serialises @s at the end of the output. */
static int out_stanza(gw_component *c, const xs2s_stanza *s) {
  size_t len = 0;
  int rc = xs2s_stanza_serialize(s, NULL, 0, &len);
  if (rc != XS2S_ERR_BUFFER_TOO_SMALL)
    return rc < 0 ? rc : XS2S_ERR_INTERNAL;
  if ((rc = out_reserve(c, len + 1)) < 0)
    return rc;
  rc = xs2s_stanza_serialize(s, c->out + c->out_len, len + 1, &len);
  if (rc == 0)
    c->out_len += len;
  return rc;
}

/* @v as an attribute value in single quotes. */
static int out_attr(gw_component *c, const char *name, const char *v) {
  int rc = out_str(c, " ");
  if (rc == 0)
    rc = out_str(c, name);
  if (rc == 0)
    rc = out_str(c, "='");
  for (; rc == 0 && *v; v++) {
    const char *esc = *v == '&' ? "&amp;" : *v == '<' ? "&lt;"
                      : *v == '>' ? "&gt;" : *v == '\'' ? "&apos;"
                      : *v == '"' ? "&quot;" : NULL;
    rc = esc ? out_str(c, esc) : out_write(c, v, 1);
  }
  return rc == 0 ? out_str(c, "'") : rc;
}

/* Our stream header, answering the component's: from its domain, with the
 * fresh id the handshake digest covers. */
static int send_header(gw_component *c) {
  c->header_sent = 1;
  int rc = out_str(c, "<?xml version='1.0'?><stream:stream "
                      "xmlns:stream='" XS2S_NS_STREAMS "' "
                      "xmlns='" XS2S_NS_COMPONENT "'");
  if (rc == 0 && c->domain[0])
    rc = out_attr(c, "from", c->domain);
  if (rc == 0)
    rc = out_attr(c, "id", c->id);
  return rc == 0 ? out_str(c, ">") : rc;
}

/* -- Closing -------------------------------------------------------------- */

void gw_component_close(gw_component *c, xs2s_stream_condition cond,
                        const char *text) {
  if (c->state == GW_COMP_CLOSED ||
      (c->state == GW_COMP_CLOSING && cond == XS2S_STREAM_ERR_NONE))
    return;
  if (!c->header_sent)
    send_header(c);
  const char *name = xs2s_stream_condition_name(cond);
  if (name && c->state != GW_COMP_CLOSING) {
    logf_(c, GW_LOG_WARNING, "component %s: stream error %s%s%s",
          c->domain[0] ? c->domain : "(unnamed)", name, text ? ": " : "",
          text ? text : "");
    xs2s_stanza *e = xs2s_stanza_new("error", XS2S_NS_STREAMS);
    xs2s_stanza *cond_el =
        e ? xs2s_stanza_add_child(e, name, XS2S_NS_STREAM_ERRORS) : NULL;
    xs2s_stanza *t =
        cond_el && text ? xs2s_stanza_add_child(e, "text",
                                                XS2S_NS_STREAM_ERRORS)
                        : NULL;
    if (t)
      xs2s_stanza_add_text(t, text, strlen(text));
    /* <stream:error> with the usual prefix, which the serialiser would
     * not choose by itself. */
    size_t len = 0;
    char buf[1024];
    if (cond_el && xs2s_stanza_serialize(cond_el, buf, sizeof(buf), &len) ==
                       0) {
      out_str(c, "<stream:error>");
      out_write(c, buf, len);
      if (t && xs2s_stanza_serialize(t, buf, sizeof(buf), &len) == 0)
        out_write(c, buf, len);
      out_str(c, "</stream:error>");
    }
    xs2s_stanza_free(e);
  }
  if (c->state != GW_COMP_CLOSING)
    out_str(c, "</stream:stream>");
  c->state = name || c->state == GW_COMP_HEADER ||
                     c->state == GW_COMP_HANDSHAKE
                 ? GW_COMP_CLOSED
                 : GW_COMP_CLOSING;
}

void gw_component_eof(gw_component *c) {
  if (c->state != GW_COMP_CLOSED && c->state != GW_COMP_CLOSING)
    logf_(c, GW_LOG_INFO, "component %s: connection closed without </stream:stream>",
          c->domain[0] ? c->domain : "(unnamed)");
  c->state = GW_COMP_CLOSED;
}

/* -- Parser callbacks ----------------------------------------------------- */

static int on_open(xs2s_parser *p, const xs2s_stream_header *h, void *ud) {
  (void)p;
  gw_component *c = ud;
  if (h->to && gw_jid_domain(h->to, c->domain, sizeof(c->domain)) < 0)
    c->domain[0] = '\0';
  if (!h->default_ns || strcmp(h->default_ns, XS2S_NS_COMPONENT) != 0) {
    gw_component_close(c, XS2S_STREAM_ERR_INVALID_NAMESPACE,
                       "the stream's namespace must be "
                       "jabber:component:accept");
    return XS2S_ERR_INVALID_NAMESPACE;
  }
  if (!h->to || !c->domain[0] || strchr(h->to, '@') || strchr(h->to, '/')) {
    c->domain[0] = '\0';
    gw_component_close(c, XS2S_STREAM_ERR_HOST_UNKNOWN,
                       "the stream header must name the component's domain");
    return XS2S_ERR_POLICY;
  }
  if (!c->cb.secret || !c->cb.secret(c->domain, c->ud)) {
    gw_component_close(c, XS2S_STREAM_ERR_HOST_UNKNOWN,
                       "no component is configured for this domain");
    return XS2S_ERR_POLICY;
  }
  int rc = send_header(c);
  if (rc < 0)
    return rc;
  c->state = GW_COMP_HANDSHAKE;
  return 0;
}

int gw_component_handshake_digest(const char *id, const char *secret,
                                  char out[41]) {
  size_t il = strlen(id), sl = strlen(secret);
  char *buf = malloc(il + sl + 1);
  unsigned char md[20];
  if (!buf)
    return -1;
  memcpy(buf, id, il);
  memcpy(buf + il, secret, sl);
  int rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, il + sl, md);
  gnutls_memset(buf, 0, il + sl);
  free(buf);
  if (rc < 0)
    return -1;
  for (int i = 0; i < 20; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

/* Compares the component's digest with ours without a data-dependent
 * early exit; upper-case hex is accepted. */
static int digest_matches(const char *got, const char *want) {
  if (strlen(got) != 40)
    return 0;
  unsigned diff = 0;
  for (int i = 0; i < 40; i++) {
    unsigned char g = (unsigned char)got[i];
    g = (unsigned char)(g | ((g >= 'A' && g <= 'F') ? 0x20 : 0));
    diff |= g ^ (unsigned char)want[i];
  }
  return diff == 0;
}

static int on_handshake(gw_component *c, xs2s_stanza *s) {
  if (!xs2s_stanza_is(s, "handshake", XS2S_NS_COMPONENT)) {
    gw_component_close(c, XS2S_STREAM_ERR_NOT_AUTHORIZED,
                       "the handshake must come first");
    return XS2S_ERR_NOT_AUTHENTICATED;
  }
  const char *secret = c->cb.secret(c->domain, c->ud);
  const char *got = xs2s_stanza_text(s);
  char want[41];
  if (!secret || !got || gw_component_handshake_digest(c->id, secret, want) < 0 ||
      !digest_matches(got, want)) {
    gw_component_close(c, XS2S_STREAM_ERR_NOT_AUTHORIZED,
                       "wrong handshake (secret)");
    return XS2S_ERR_NOT_AUTHENTICATED;
  }
  xs2s_stream_condition refuse =
      c->cb.attach ? c->cb.attach(c, c->domain, c->ud) : XS2S_STREAM_ERR_NONE;
  if (refuse != XS2S_STREAM_ERR_NONE) {
    gw_component_close(c, refuse,
                       refuse == XS2S_STREAM_ERR_CONFLICT
                           ? "another component is connected for this domain"
                           : NULL);
    return XS2S_ERR_POLICY;
  }
  c->state = GW_COMP_READY;
  return out_str(c, "<handshake/>");
}

static int is_stanza(const xs2s_stanza *s) {
  const char *n = xs2s_stanza_name(s);
  return strcmp(xs2s_stanza_ns(s), XS2S_NS_COMPONENT) == 0 &&
         (!strcmp(n, "message") || !strcmp(n, "presence") ||
          !strcmp(n, "iq"));
}

static int on_ready(gw_component *c, xs2s_stanza *s) {
  if (!is_stanza(s)) {
    gw_component_close(c, XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE, NULL);
    return XS2S_ERR_BAD_FORMAT;
  }
  const char *from = xs2s_stanza_attr(s, "from");
  char dom[1024];
  if (!from) {
    if (xs2s_stanza_set_attr(s, "from", c->domain) < 0)
      return XS2S_ERR_NOMEM;
  } else if (gw_jid_domain(from, dom, sizeof(dom)) < 0 ||
             strcmp(dom, c->domain) != 0) {
    char text[600];
    snprintf(text, sizeof(text), "'%.256s' is not an address at %.256s",
             from, c->domain);
    gw_component_close(c, XS2S_STREAM_ERR_INVALID_FROM, text);
    return XS2S_ERR_POLICY;
  }
  if (!xs2s_stanza_attr(s, "to")) {
    gw_component_close(c, XS2S_STREAM_ERR_IMPROPER_ADDRESSING,
                       "a stanza needs a 'to' address");
    return XS2S_ERR_POLICY;
  }
  c->stanzas_in++;
  if (c->cb.stanza)
    c->cb.stanza(c, s, c->ud);
  return 0;
}

static int on_stanza(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  (void)p;
  gw_component *c = ud;
  switch (c->state) {
  case GW_COMP_HANDSHAKE:
    return on_handshake(c, s);
  case GW_COMP_READY:
    return on_ready(c, s);
  default: /* CLOSING: the peer's last stanzas are dropped */
    return 0;
  }
}

static void on_close(xs2s_parser *p, void *ud) {
  (void)p;
  gw_component *c = ud;
  if (c->state != GW_COMP_CLOSING && c->state != GW_COMP_CLOSED)
    out_str(c, "</stream:stream>");
  c->state = GW_COMP_CLOSED;
}

static void on_error(xs2s_parser *p, int code, xs2s_stream_condition cond,
                     const char *message, void *ud) {
  (void)p;
  (void)code;
  gw_component_close(ud, cond, message);
}

/* -- API ------------------------------------------------------------------ */

gw_component *gw_component_new(const gw_component_callbacks *cb,
                               void *user_data, const char *id,
                               size_t max_stanza_bytes,
                               size_t max_output_bytes) {
  if (!id || strlen(id) >= sizeof(((gw_component *)0)->id))
    return NULL;
  gw_component *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->cb = *cb;
  c->ud = user_data;
  c->max_out = max_output_bytes;
  strcpy(c->id, id);
  xs2s_parser_callbacks pcb = {on_open, on_stanza, on_close, on_error};
  xs2s_parser_limits lim = {max_stanza_bytes, 0, 0};
  c->parser = xs2s_parser_new(&pcb, c, &lim);
  if (!c->parser) {
    free(c);
    return NULL;
  }
  return c;
}

void gw_component_free(gw_component *c) {
  if (!c)
    return;
  xs2s_parser_free(c->parser);
  free(c->out);
  free(c);
}

int gw_component_feed(gw_component *c, const char *data, size_t len) {
  if (c->state == GW_COMP_CLOSED)
    return 0;
  ssize_t n = xs2s_parser_feed(c->parser, data, len);
  if (n >= 0)
    return 0;
  /* A callback or the parser already chose the stream error; anything
   * else (out of memory) still closes the stream. */
  if (c->state != GW_COMP_CLOSED)
    gw_component_close(c, xs2s_stream_condition_from_error((int)n), NULL);
  return (int)n;
}

const char *gw_component_output(gw_component *c, size_t *len) {
  *len = c->out_len - c->out_off;
  return *len ? c->out + c->out_off : NULL;
}

void gw_component_consume(gw_component *c, size_t n) {
  size_t left = c->out_len - c->out_off;
  c->out_off += n < left ? n : left;
}

int gw_component_send(gw_component *c, const xs2s_stanza *stanza) {
  if (c->state != GW_COMP_READY)
    return XS2S_ERR_BAD_STATE;
  if (c->out_len - c->out_off > c->max_out)
    return XS2S_ERR_LIMIT;
  xs2s_stanza *moved = xs2s_stanza_copy_ns(stanza, XS2S_NS_COMPONENT);
  if (!moved)
    return XS2S_ERR_NOMEM;
  int rc = out_stanza(c, moved);
  xs2s_stanza_free(moved);
  if (rc == 0)
    c->stanzas_out++;
  return rc;
}

gw_component_state gw_component_state_of(const gw_component *c) {
  return c->state;
}

const char *gw_component_domain(const gw_component *c) {
  return c->state == GW_COMP_READY || c->state == GW_COMP_CLOSING
             ? c->domain
             : NULL;
}

int gw_component_done(const gw_component *c) {
  return c->state == GW_COMP_CLOSED && c->out_len == c->out_off;
}

uint64_t gw_component_stanzas_in(const gw_component *c) {
  return c->stanzas_in;
}

uint64_t gw_component_stanzas_out(const gw_component *c) {
  return c->stanzas_out;
}
