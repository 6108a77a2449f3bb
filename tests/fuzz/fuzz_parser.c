/*
 * fuzz_parser.c: libFuzzer target for the stream parser.
 *
 * The input is a stream, fed in chunks whose sizes come from a generator
 * seeded with a hash of the input. A stanza callback checks that each
 * stanza round-trips and writes it as a session would; it pauses on
 * <proceed/>, and the driver then resets and feeds the rest, as after
 * STARTTLS. After an error the driver resets and goes on too, a few times.
 *
 * Each input runs twice, the second time hibernating the parser
 * (xs2s__parser_hibernate()) after feeds chosen by the generator; both
 * runs must see the same stanzas and pause positions up to their first
 * error. Where and how an invalid stream is refused may differ: libxml2
 * parses stray character data once it sees '<' or holds 300 bytes of it,
 * counted from where its buffer starts, which a wake-up moves, so the
 * refusal may come later or name another fault (docs/PARSER.md,
 * hibernation); a stanza cannot slip through before it, since a stanza
 * starts with '<'. The runs go on after the first error, for coverage,
 * but the comparison stops there.
 */
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "fuzz_check.h"
#include "parser_internal.h"
#include "serialize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const xs2s__ns_binding s2s_bindings[] = {
    {NULL, XS2S_NS_SERVER},
    {"stream", XS2S_NS_STREAMS},
    {"db", XS2S_NS_DIALBACK},
};
static const xs2s__ns_scope s2s_scope = {s2s_bindings, 3, NULL};

static int on_open(xs2s_parser *p, const xs2s_stream_header *h, void *ud) {
  (void)p;
  (void)ud;
  FUZZ_ASSERT(xs2s_stanza_is(h->element, "stream", XS2S_NS_STREAMS));
  for (size_t i = 0; i < h->ns_count; i++)
    FUZZ_ASSERT(h->ns_uris[i] != NULL);
  return 0;
}

typedef struct state {
  xs2s__buf out;
  int paused;
  uint64_t hash; /* of every stanza and pause up to an error */
  int failed;    /* an error was reported: the hash is final */
} state;

static void mix(state *st, const void *p, size_t n) {
  const unsigned char *b = p;
  if (st->failed)
    return;
  for (size_t i = 0; i < n; i++)
    st->hash = (st->hash ^ b[i]) * 1099511628211ull;
}

static int on_stanza(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  state *st = ud;
  (void)p;
  fuzz_check_round_trip(s);
  FUZZ_ASSERT(xs2s__stanza_write(s, &st->out, &s2s_scope) == 0);
  mix(st, xs2s__buf_bytes(&st->out), st->out.len);
  xs2s__buf_clear(&st->out);
  st->paused = xs2s_stanza_is(s, "proceed", NULL);
  return st->paused ? XS2S_PARSER_PAUSE : 0;
}

static void on_error(xs2s_parser *p, int code, xs2s_stream_condition c,
                     const char *message, void *ud) {
  state *st = ud;
  st->failed = 1;
  FUZZ_ASSERT(code < 0 && message != NULL);
  FUZZ_ASSERT(xs2s_stream_condition_name(c) != NULL);
  FUZZ_ASSERT(xs2s_parser_condition(p) == c);
}

/* One run over the input; @hibernate: sometimes hibernate after a feed.
 * Returns the hash of what happened. */
static uint64_t drive(const uint8_t *data, size_t size, int hibernate) {
  uint64_t rng = 1469598103934665603ull;
  for (size_t i = 0; i < size; i++)
    rng = (rng ^ data[i]) * 1099511628211ull;
  xs2s_mem mem;
  state st = {.paused = 0, .hash = 1469598103934665603ull};
  xs2s__mem_init(&mem, NULL);
  xs2s__buf_init(&st.out, &mem);
  xs2s_parser_callbacks cb = {on_open, on_stanza, NULL, on_error};
  xs2s_parser *p = xs2s_parser_new(&cb, &st, NULL);
  FUZZ_ASSERT(p != NULL);
  const char *s = (const char *)data;
  size_t off = 0;
  int restarts = 0;
  while (off < size && restarts < 4) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    size_t chunk = 1 + (size_t)((rng >> 33) % 64);
    if (chunk > size - off)
      chunk = size - off;
    ssize_t rc = xs2s_parser_feed(p, s + off, chunk);
    if (rc >= 0 && (size_t)rc != chunk)
      mix(&st, &rc, sizeof(rc)); /* where a pause stopped the feed */
    if (hibernate && (rng >> 20) % 3 == 0)
      xs2s__parser_hibernate(p);
    if (rc >= 0) {
      FUZZ_ASSERT((size_t)rc <= chunk);
      off += (size_t)rc;
      if (!st.paused) {
        FUZZ_ASSERT((size_t)rc == chunk);
        continue;
      }
      st.paused = 0;
    } else if (rc != XS2S_ERR_STREAM_CLOSED) {
      FUZZ_ASSERT(xs2s_parser_condition(p) != XS2S_STREAM_ERR_NONE);
      off += chunk;
    } else {
      off += chunk;
    }
    /* Paused, failed or closed: start a new stream. */
    FUZZ_ASSERT(xs2s_parser_reset(p) == 0);
    restarts++;
  }
  xs2s_parser_free(p);
  xs2s__buf_free(&st.out);
  return st.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FUZZ_ASSERT(drive(data, size, 0) == drive(data, size, 1));
  return 0;
}
