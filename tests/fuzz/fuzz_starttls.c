/*
 * fuzz_starttls.c: libFuzzer target for a session fed arbitrary bytes at
 * the STARTTLS step, in both roles.
 *
 * Byte 0 chooses the set-up:
 *   bit 0  role: 0 receiving, 1 initiating
 *   bit 1  secured: the driver completes STARTTLS and a real TLS handshake
 *          with an in-memory peer; the rest of the input is what that
 *          peer then sends inside TLS (the restarted stream)
 *   bit 2  security optional (else required)
 *   bit 3  require a valid certificate
 *   bit 4  (not secured) the driver also takes the peer's next step
 *          (receiving: sends <starttls/>; initiating: answers <proceed/>),
 *          so the input is the peer's TLS records
 * Before the input, the driver plays the peer's stream header (and, for an
 * initiating session, features that offer STARTTLS), so the input starts
 * right after features and STARTTLS offer. The rest arrives in chunks whose
 * sizes come from a generator seeded with a hash of the input.
 *
 * Invariants: recv consumes everything or fails with the stream closing;
 * once <proceed/> is out or in, every byte the session writes is a whole
 * TLS record (no clear text after STARTTLS); with TLS required and no
 * handshake completed, no domain is authenticated, no key is sent for
 * verification and no stanza is delivered; nothing is delivered
 * unauthenticated; the closed callback comes exactly once.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "fuzz_creds.h"
#include "session_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
  M_INITIATING = 0x01,
  M_SECURED = 0x02,
  M_OPTIONAL = 0x04,
  M_REQUIRE_CERT = 0x08,
  M_STEP = 0x10
};

#define NS_STREAM_HEADER                                                       \
  "<stream:stream xmlns='jabber:server' "                                      \
  "xmlns:stream='http://etherx.jabber.org/streams' "                           \
  "xmlns:db='jabber:server:dialback' version='1.0'"
static const char peer_header_receiving[] =
    NS_STREAM_HEADER " from='a.example' to='b.example'>";
static const char peer_header_initiating[] =
    NS_STREAM_HEADER " from='b.example' id='peer-id-1'>"
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
    "<required/></starttls><dialback xmlns='urn:xmpp:features:dialback'>"
    "<errors/></dialback></stream:features>";
static const char starttls[] =
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
static const char proceed[] = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

typedef struct state {
  uint64_t rng;
  uint64_t now;
  unsigned mode;
  xs2s_session *s;
  xs2s_tls *peer; /* secured mode: the peer's end of TLS */
  int closed;
  int authenticated;
  int requests;
  int stanzas;
} state;

static uint64_t next(state *st) {
  st->rng = st->rng * 6364136223846793005ull + 1442695040888963407ull;
  return st->rng >> 33;
}

static void on_stanza(xs2s_session *s, xs2s_stanza *stanza, void *ud) {
  state *st = ud;
  FUZZ_ASSERT(st->authenticated > 0);
  FUZZ_ASSERT(xs2s_session_get_role(s) == XS2S_SESSION_RECEIVING);
  fuzz_check_round_trip(stanza);
  st->stanzas++;
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
  st->requests++;
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

/* @n bytes are a whole number of well-formed TLS records. */
static void check_records(const uint8_t *p, size_t n) {
  size_t off = 0;
  while (off < n) {
    FUZZ_ASSERT(n - off >= 5);
    FUZZ_ASSERT(p[off] >= 20 && p[off] <= 23); /* content type */
    FUZZ_ASSERT(p[off + 1] == 3);              /* protocol major version */
    size_t len = (size_t)p[off + 3] << 8 | p[off + 4];
    off += 5 + len;
  }
  FUZZ_ASSERT(off == n);
}

static int tls_began(xs2s__tls_state t) {
  return t == XS2S__TLS_HANDSHAKING || t == XS2S__TLS_ACTIVE;
}

/* Takes what the session wrote. Once TLS has begun (@tls_before: the TLS
 * state before the call that produced it) it must be records only; the
 * secured peer gets them. */
static void take_output(state *st, xs2s__tls_state tls_before) {
  const uint8_t *out;
  size_t n = xs2s_session_output(st->s, &out);
  xs2s__tls_state tls_now = st->s->tls_state;
  int records = tls_began(tls_before) ||
                (tls_began(tls_now) && st->s->role == XS2S_SESSION_INITIATING);
  if (records) {
    check_records(out, n);
  } else if (tls_began(tls_now)) {
    /* Receiving: <proceed/> is the last clear text. */
    size_t pl = sizeof(proceed) - 1;
    FUZZ_ASSERT(n >= pl && memcmp(out + n - pl, proceed, pl) == 0);
  }
  if (st->peer && records && n > 0 && xs2s_tls_feed(st->peer, out, n) == 0 &&
      xs2s_tls_is_established(st->peer)) {
    char buf[XS2S_TLS_MAX_RECORD];
    while (xs2s_tls_read(st->peer, buf, sizeof(buf)) > 0)
      ;
  }
  xs2s_session_consume(st->s, n);
  FUZZ_ASSERT(!xs2s_session_want_write(st->s));
}

static ssize_t feed(state *st, const uint8_t *p, size_t n) {
  xs2s__tls_state before = st->s->tls_state;
  ssize_t rc = xs2s_session_recv(st->s, p, n, st->now);
  FUZZ_ASSERT(rc == (ssize_t)n || rc < 0);
  if (rc < 0)
    FUZZ_ASSERT(xs2s_session_get_state(st->s) >= XS2S_SESSION_CLOSING);
  take_output(st, before);
  return rc;
}

static void feed_str(state *st, const char *text) {
  feed(st, (const uint8_t *)text, strlen(text));
}

/* Moves the peer's TLS output into the session. */
static void peer_flush(state *st) {
  size_t n = 0;
  const void *p = xs2s_tls_output(st->peer, &n);
  if (n == 0 || !xs2s_session_want_read(st->s))
    return;
  /* A copy: feeding may call back into the peer's buffers. */
  uint8_t *copy = malloc(n);
  FUZZ_ASSERT(copy != NULL);
  memcpy(copy, p, n);
  xs2s_tls_output_consume(st->peer, n);
  feed(st, copy, n);
  free(copy);
}

/* Secured mode: STARTTLS and a handshake with a real peer. */
static void secure(state *st) {
  int initiating = st->s->role == XS2S_SESSION_INITIATING;
  xs2s_tls_options opts = {.remote_domain = "b.example",
                           .local_domain = "a.example"};
  FUZZ_ASSERT(xs2s_tls_new(&st->peer, fuzz_creds(),
                           initiating ? XS2S_TLS_RECEIVING
                                      : XS2S_TLS_INITIATING,
                           initiating ? NULL : &opts, NULL) == 0);
  /* An initiating session writes its ClientHello on <proceed/>. */
  feed_str(st, initiating ? proceed : starttls);
  FUZZ_ASSERT(st->s->tls_state == XS2S__TLS_HANDSHAKING);
  for (int i = 0; i < 16 && !xs2s_tls_is_established(st->peer); i++) {
    int rc = xs2s_tls_handshake(st->peer);
    FUZZ_ASSERT(rc == 0 || rc == XS2S_TLS_AGAIN);
    peer_flush(st);
  }
  FUZZ_ASSERT(xs2s_tls_is_established(st->peer));
  FUZZ_ASSERT(st->s->tls_state == XS2S__TLS_ACTIVE);
}

static void pump(state *st, const uint8_t *p, size_t left) {
  while (left > 0 && xs2s_session_want_read(st->s)) {
    size_t chunk = 1 + (size_t)(next(st) % 64);
    if (chunk > left)
      chunk = left;
    if (st->peer) {
      if (xs2s_tls_write(st->peer, p, chunk) < 0)
        break;
      peer_flush(st);
    } else {
      feed(st, p, chunk);
    }
    p += chunk;
    left -= chunk;
    /* Mostly short pauses; now and then one long enough for timers. */
    st->now += next(st) % 16 ? next(st) % 1000 : next(st) % 20000;
    if (xs2s_session_next_deadline(st->s) <= st->now) {
      xs2s__tls_state before = st->s->tls_state;
      xs2s_session_on_timer(st->s, st->now);
      take_output(st, before);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  state st;
  memset(&st, 0, sizeof(st));
  st.rng = 1469598103934665603ull;
  for (size_t i = 0; i < size; i++)
    st.rng = (st.rng ^ data[i]) * 1099511628211ull;
  st.mode = data[0];
  int initiating = (st.mode & M_INITIATING) != 0;
  static const char *const ours_receiving[] = {"b.example"};
  static const char *const ours_initiating[] = {"a.example"};
  xs2s_session_config cfg = {
      .role = initiating ? XS2S_SESSION_INITIATING : XS2S_SESSION_RECEIVING,
      .local_domains = initiating ? ours_initiating : ours_receiving,
      .local_domain_count = 1,
      .remote_domain = "b.example",
      .security = st.mode & M_OPTIONAL ? XS2S_SECURITY_OPTIONAL
                                       : XS2S_SECURITY_REQUIRED,
      .require_valid_certificate = (st.mode & M_REQUIRE_CERT) != 0,
      .tls_creds = fuzz_creds(),
      .wall_clock_ms = FUZZ_WALL_CLOCK_MS,
      .dialback_secret = "fuzz",
  };
  xs2s_session_callbacks cb = {
      .stanza = on_stanza,
      .authenticated = on_auth,
      .verify_request = on_request,
      .closed = on_closed,
  };
  FUZZ_ASSERT(xs2s_session_new(&st.s, &cfg, &cb, &st, st.now) == 0);
  take_output(&st, XS2S__TLS_NONE);

  /* Up to the STARTTLS offer. */
  feed_str(&st, initiating ? peer_header_initiating : peer_header_receiving);
  FUZZ_ASSERT(xs2s_session_get_state(st.s) ==
              (initiating ? XS2S_SESSION_STARTTLS : XS2S_SESSION_OPEN));
  if (st.mode & M_SECURED)
    secure(&st);
  else if (st.mode & M_STEP)
    feed_str(&st, initiating ? proceed : starttls);

  pump(&st, data + 1, size - 1);

  int secured = st.s->tls_state == XS2S__TLS_ACTIVE;
  if (!secured && !(st.mode & M_OPTIONAL)) {
    /* TLS required and never established: nothing but negotiation. */
    FUZZ_ASSERT(st.authenticated == 0);
    FUZZ_ASSERT(st.requests == 0);
    FUZZ_ASSERT(st.stanzas == 0);
  }
  xs2s__tls_state before = st.s->tls_state;
  xs2s_session_on_eof(st.s, st.now);
  take_output(&st, before);
  FUZZ_ASSERT(xs2s_session_get_state(st.s) == XS2S_SESSION_CLOSED);
  FUZZ_ASSERT(st.closed == 1);
  xs2s_session_free(st.s);
  xs2s_tls_free(st.peer);
  return 0;
}
