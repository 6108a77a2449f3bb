/*
 * fuzz_gateway_component.c: libFuzzer target for the sample gateway's
 * component port (examples/gateway/component.c, XEP-0114).
 *
 * Input: one byte of options, then chunks (a length byte, then up to that
 * many bytes) fed to one component stream. Options:
 *   bit 0: the driver plays a valid stream header for comp.example first;
 *   bit 1: ... and the right <handshake/> (so the bytes hit READY);
 *   bit 2: the gateway refuses the attach (conflict);
 *   bit 3: every stanza from the component is echoed back with
 *          gw_component_send(), and the router sends one jabber:server
 *          stanza to the component after each chunk;
 *   bit 4: the output is consumed only partially, so that it builds up;
 *   bit 5: the input ends with EOF rather than silence;
 *   bit 6: gw_component_close() with an orderly close after the chunks.
 *
 * Checks on every input:
 *   - a stanza reaches the router only in READY, only message, presence
 *     or iq in jabber:component:accept, with a 'to', and with a 'from' at
 *     the authenticated domain;
 *   - the component is attached at most once, for the configured domain,
 *     and only after the driver played the right handshake (the digest is
 *     SHA-1 over a fresh id: the input cannot know it);
 *   - everything the gateway writes is a well-formed stream that an XMPP
 *     parser reads without an error;
 *   - a failing feed leaves the stream CLOSED; nothing is read after it
 *     closed; once closed and drained the component is done.
 */
#include <stdint.h>
#include <string.h>

#include "../../examples/gateway/component.h"
#include "../../examples/gateway/stanzas.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DOMAIN "comp.example"
#define SECRET "fuzz-secret"
#define ID "fuzz-stream-id-0123456789"

typedef struct harness {
  gw_component *c;
  unsigned opts;
  int attaches;
  int handshake_played;
  uint64_t stanzas;
  /* The gateway's output, read back as a component would. */
  xs2s_parser *reader;
  int reader_open, reader_closed, reader_failed;
} harness;

static const char *secret_cb(const char *domain, void *ud) {
  (void)ud;
  return strcmp(domain, DOMAIN) == 0 ? SECRET : NULL;
}

static xs2s_stream_condition attach_cb(gw_component *c, const char *domain,
                                       void *ud) {
  harness *h = ud;
  FUZZ_ASSERT(c == h->c);
  FUZZ_ASSERT(strcmp(domain, DOMAIN) == 0);
  FUZZ_ASSERT(h->handshake_played);
  FUZZ_ASSERT(gw_component_state_of(c) == GW_COMP_HANDSHAKE);
  h->attaches++;
  FUZZ_ASSERT(h->attaches == 1);
  return (h->opts & 4) ? XS2S_STREAM_ERR_CONFLICT : XS2S_STREAM_ERR_NONE;
}

static void stanza_cb(gw_component *c, xs2s_stanza *s, void *ud) {
  harness *h = ud;
  FUZZ_ASSERT(c == h->c);
  FUZZ_ASSERT(gw_component_state_of(c) == GW_COMP_READY);
  FUZZ_ASSERT(strcmp(gw_component_domain(c), DOMAIN) == 0);
  FUZZ_ASSERT(strcmp(xs2s_stanza_ns(s), XS2S_NS_COMPONENT) == 0);
  const char *n = xs2s_stanza_name(s);
  FUZZ_ASSERT(!strcmp(n, "message") || !strcmp(n, "presence") ||
              !strcmp(n, "iq"));
  FUZZ_ASSERT(xs2s_stanza_attr(s, "to") != NULL);
  char dom[1024];
  FUZZ_ASSERT(gw_jid_domain(xs2s_stanza_attr(s, "from"), dom,
                            sizeof(dom)) == 0);
  FUZZ_ASSERT(strcmp(dom, DOMAIN) == 0);
  h->stanzas++;
  if (h->opts & 8) {
    int rc = gw_component_send(c, s);
    FUZZ_ASSERT(rc == 0 || rc == XS2S_ERR_LIMIT || rc == XS2S_ERR_NOMEM);
  }
}

/* -- Reading the gateway's output back --------------------------------- */

static int r_open(xs2s_parser *p, const xs2s_stream_header *hd, void *ud) {
  (void)p;
  harness *h = ud;
  FUZZ_ASSERT(hd->default_ns &&
              strcmp(hd->default_ns, XS2S_NS_COMPONENT) == 0);
  FUZZ_ASSERT(hd->id && strcmp(hd->id, ID) == 0);
  h->reader_open = 1;
  return 0;
}

static int r_stanza(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  (void)p;
  (void)s;
  (void)ud;
  return 0;
}

static void r_close(xs2s_parser *p, void *ud) {
  (void)p;
  ((harness *)ud)->reader_closed = 1;
}

static void r_error(xs2s_parser *p, int code, xs2s_stream_condition cond,
                    const char *message, void *ud) {
  (void)p;
  (void)cond;
  (void)ud;
  fprintf(stderr, "the gateway wrote a bad stream: %s (%s)\n", message,
          xs2s_strerror(code));
  FUZZ_ASSERT(!"the gateway's output parses");
}

/* Reads (part of) the pending output into the reader. */
static void drain(harness *h, int partial) {
  size_t len;
  const char *out = gw_component_output(h->c, &len);
  if (!out)
    return;
  if (partial && len > 1)
    len = len / 2;
  if (!h->reader_closed) {
    ssize_t n = xs2s_parser_feed(h->reader, out, len);
    FUZZ_ASSERT(n >= 0);
  }
  gw_component_consume(h->c, len);
}

static void feed(harness *h, const char *p, size_t n) {
  gw_component_state before = gw_component_state_of(h->c);
  size_t pending0;
  gw_component_output(h->c, &pending0);
  int rc = gw_component_feed(h->c, p, n);
  if (rc < 0)
    FUZZ_ASSERT(gw_component_state_of(h->c) == GW_COMP_CLOSED);
  if (before == GW_COMP_CLOSED) {
    /* Nothing is read once the stream is over. */
    size_t pending1;
    gw_component_output(h->c, &pending1);
    FUZZ_ASSERT(rc == 0 && pending1 == pending0);
  }
}

static void router_send(harness *h) {
  xs2s_stanza *m = xs2s_stanza_new("message", XS2S_NS_SERVER);
  if (!m)
    return;
  xs2s_stanza_set_attr(m, "from", "alice@far.example");
  xs2s_stanza_set_attr(m, "to", "bot@" DOMAIN);
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", XS2S_NS_SERVER);
  if (b)
    xs2s_stanza_add_text(b, "<&'\">", 5);
  int rc = gw_component_send(h->c, m);
  gw_component_state st = gw_component_state_of(h->c);
  FUZZ_ASSERT(st == GW_COMP_READY ? (rc == 0 || rc == XS2S_ERR_LIMIT ||
                                     rc == XS2S_ERR_NOMEM)
                                  : rc == XS2S_ERR_BAD_STATE);
  xs2s_stanza_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  harness h;
  memset(&h, 0, sizeof(h));
  h.opts = data[0];
  data++;
  size--;
  gw_component_callbacks cb = {secret_cb, attach_cb, stanza_cb, NULL};
  /* Small bounds, so that the fuzzer reaches them. */
  h.c = gw_component_new(&cb, &h, ID, 2048, 4096);
  xs2s_parser_callbacks rcb = {r_open, r_stanza, r_close, r_error};
  h.reader = xs2s_parser_new(&rcb, &h, NULL);
  FUZZ_ASSERT(h.c && h.reader);
  if (h.opts & 1) {
    feed(&h,
         "<?xml version='1.0'?><stream:stream "
         "xmlns='jabber:component:accept' "
         "xmlns:stream='http://etherx.jabber.org/streams' to='" DOMAIN "'>",
         strlen("<?xml version='1.0'?><stream:stream "
                "xmlns='jabber:component:accept' "
                "xmlns:stream='http://etherx.jabber.org/streams' to='" DOMAIN
                "'>"));
    FUZZ_ASSERT(gw_component_state_of(h.c) == GW_COMP_HANDSHAKE);
    if (h.opts & 2) {
      char digest[41], hs[80];
      FUZZ_ASSERT(gw_component_handshake_digest(ID, SECRET, digest) == 0);
      snprintf(hs, sizeof(hs), "<handshake>%s</handshake>", digest);
      h.handshake_played = 1;
      feed(&h, hs, strlen(hs));
      FUZZ_ASSERT(gw_component_state_of(h.c) ==
                  ((h.opts & 4) ? GW_COMP_CLOSED : GW_COMP_READY));
    }
  }
  while (size > 0) {
    size_t n = data[0];
    data++;
    size--;
    if (n > size)
      n = size;
    feed(&h, (const char *)data, n);
    data += n;
    size -= n;
    if (h.opts & 8)
      router_send(&h);
    drain(&h, (h.opts & 16) != 0);
  }
  if (h.opts & 64)
    gw_component_close(h.c, XS2S_STREAM_ERR_NONE, NULL);
  if (h.opts & 32)
    gw_component_eof(h.c);
  drain(&h, 0);
  FUZZ_ASSERT(gw_component_stanzas_in(h.c) == h.stanzas);
  if (!h.handshake_played || (h.opts & 4))
    FUZZ_ASSERT(h.stanzas == 0);
  if (h.opts & 32) {
    FUZZ_ASSERT(gw_component_state_of(h.c) == GW_COMP_CLOSED);
    FUZZ_ASSERT(gw_component_done(h.c));
  }
  if (gw_component_state_of(h.c) == GW_COMP_CLOSED)
    FUZZ_ASSERT(gw_component_done(h.c));
  xs2s_parser_free(h.reader);
  gw_component_free(h.c);
  return 0;
}
