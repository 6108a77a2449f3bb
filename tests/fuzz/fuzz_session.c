/*
 * fuzz_session.c: libFuzzer target for the session fed arbitrary bytes.
 *
 * Bit 0 of the first byte picks the role (0: receiving, 1: initiating).
 * With bit 1 set the driver first plays a valid stream header (and, for an
 * initiating session, features offering dialback), so that the input is
 * what follows a valid header whatever the mutations do to it. The rest
 * is what the peer sends, in chunks whose sizes come from a generator
 * seeded with a hash of the input. The fake engine answers every dialback
 * verification request at once (valid or not, from the generator), takes
 * all output after each call and moves the clock on, so that keys,
 * stanzas, timers and closing all get exercised. Invariants: recv consumes
 * everything or fails with the stream closing; nothing is delivered
 * unauthenticated; the closed callback comes exactly once. The session is
 * trimmed (as the engine does to idle ones) after a third of the chunks.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "session_trim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct state {
  uint64_t rng;
  int closed;
  int authenticated;
} state;

static uint64_t next(state *st) {
  st->rng = st->rng * 6364136223846793005ull + 1442695040888963407ull;
  return st->rng >> 33;
}

static void on_stanza(xs2s_session *s, xs2s_stanza *stanza, void *ud) {
  state *st = ud;
  FUZZ_ASSERT(st->authenticated > 0);
  FUZZ_ASSERT(xs2s_session_get_role(s) == XS2S_SESSION_RECEIVING);
  FUZZ_ASSERT(xs2s_stanza_attr(stanza, "from") != NULL);
  FUZZ_ASSERT(xs2s_stanza_attr(stanza, "to") != NULL);
  fuzz_check_round_trip(stanza);
}

static void on_auth(xs2s_session *s, const char *local, const char *remote,
                    xs2s_auth_method how, void *ud) {
  (void)s;
  state *st = ud;
  FUZZ_ASSERT(local && remote && how != XS2S_AUTH_NONE);
  st->authenticated++;
}

static void on_request(xs2s_session *s, const xs2s_dialback_request *req,
                       void *ud) {
  state *st = ud;
  xs2s_dialback_answer a;
  memset(&a, 0, sizeof(a));
  memcpy(a.originating, req->originating, sizeof(a.originating));
  memcpy(a.receiving, req->receiving, sizeof(a.receiving));
  memcpy(a.stream_id, req->stream_id, sizeof(a.stream_id));
  a.result = next(st) % 2 ? XS2S_DIALBACK_VALID : XS2S_DIALBACK_INVALID;
  xs2s_session_dialback_answer(s, &a);
}

static void on_closed(xs2s_session *s, const xs2s_session_close_info *info,
                      void *ud) {
  state *st = ud;
  FUZZ_ASSERT(xs2s_session_get_state(s) == XS2S_SESSION_CLOSED);
  FUZZ_ASSERT(info->origin == XS2S_CLOSED_LOCALLY ||
              info->origin == XS2S_CLOSED_BY_PEER);
  st->closed++;
}

#define HEADER                                                                 \
  "<stream:stream xmlns='jabber:server' "                                      \
  "xmlns:stream='http://etherx.jabber.org/streams' "                           \
  "xmlns:db='jabber:server:dialback' version='1.0'"
static const char header_receiving[] =
    HEADER " from='a.example' to='b.example'>";
static const char header_initiating[] =
    HEADER " from='a.example' id='fuzz-stream'><stream:features><dialback "
    "xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
    "</stream:features>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  state st = {.rng = 1469598103934665603ull};
  for (size_t i = 0; i < size; i++)
    st.rng = (st.rng ^ data[i]) * 1099511628211ull;
  static const char *const domains[] = {"b.example", "c.example"};
  xs2s_session_config cfg = {
      .role = data[0] % 2 ? XS2S_SESSION_INITIATING : XS2S_SESSION_RECEIVING,
      .local_domains = domains,
      .local_domain_count = 2,
      .remote_domain = "a.example",
      .security = XS2S_SECURITY_OFF,
      .dialback_secret = "fuzz",
  };
  xs2s_session_callbacks cb = {
      .stanza = on_stanza,
      .authenticated = on_auth,
      .verify_request = on_request,
      .closed = on_closed,
  };
  uint64_t now = 0;
  xs2s_session *s = NULL;
  FUZZ_ASSERT(xs2s_session_new(&s, &cfg, &cb, &st, now) == 0);
  if (data[0] & 2) {
    const char *h = cfg.role == XS2S_SESSION_RECEIVING ? header_receiving
                                                       : header_initiating;
    size_t n = strlen(h);
    FUZZ_ASSERT(xs2s_session_recv(s, (const uint8_t *)h, n, now) ==
                (ssize_t)n);
    FUZZ_ASSERT(xs2s_session_get_state(s) == XS2S_SESSION_OPEN);
  }
  const uint8_t *p = data + 1;
  size_t left = size - 1;
  while (left > 0 && xs2s_session_want_read(s)) {
    size_t chunk = 1 + (size_t)(next(&st) % 64);
    if (chunk > left)
      chunk = left;
    ssize_t rc = xs2s_session_recv(s, p, chunk, now);
    FUZZ_ASSERT(rc == (ssize_t)chunk || rc < 0);
    if (rc < 0)
      FUZZ_ASSERT(xs2s_session_get_state(s) >= XS2S_SESSION_CLOSING);
    p += chunk;
    left -= chunk;
    const uint8_t *out;
    size_t n = xs2s_session_output(s, &out);
    xs2s_session_consume(s, n);
    FUZZ_ASSERT(!xs2s_session_want_write(s));
    if (chunk % 3 == 0) /* idle trimming (session_trim.h) */
      xs2s__session_trim(s);
    now += next(&st) % 20000;
    if (xs2s_session_next_deadline(s) <= now)
      xs2s_session_on_timer(s, now);
  }
  xs2s_session_on_eof(s, now);
  FUZZ_ASSERT(xs2s_session_get_state(s) == XS2S_SESSION_CLOSED);
  FUZZ_ASSERT(st.closed == 1);
  FUZZ_ASSERT(!xs2s_session_want_read(s));
  xs2s_session_free(s);
  return 0;
}
