/*
 * Session tests with a hostile peer: one receiving (or initiating) session
 * against bytes written by hand, with every allocation counted (the
 * session's through its allocator, libxml2's through xmlMemSetup), so that
 * "bounded memory" is measured rather than assumed.
 *
 *   - 10 MB of one stanza, of a stream header, of white space;
 *   - a stream header in the middle of a stanza;
 *   - invalid UTF-8 in every place it can hide;
 *   - a peer authenticated as a.test sending from b.test (our own domain);
 *   - a TLS-required stream where the peer skips STARTTLS;
 *   - floods of <db:result/> with random keys;
 *   - dialback answers for requests never made;
 *   - a peer that asks without reading the answers;
 *   - bytes trickled slowly to hold a stream open.
 *
 * Usage: test_session_adversarial CERTDIR (made by data/make-certs.sh).
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <libxml/xmlmemory.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "session_harness.h"
#include "session_int.h"

static const char *certs;

/* ---------------------------------------------------------------------- */
/* Counting every byte allocated                                          */
/* ---------------------------------------------------------------------- */

static size_t mem_now, mem_peak;

/* Each block carries its size in front (16 bytes keep the alignment). */
#define HDR 16

static void *count_malloc(size_t n) {
  unsigned char *p = malloc(n + HDR);
  if (!p)
    return NULL;
  memcpy(p, &n, sizeof(n));
  mem_now += n;
  if (mem_now > mem_peak)
    mem_peak = mem_now;
  return p + HDR;
}

static void count_free(void *ptr) {
  if (!ptr)
    return;
  unsigned char *p = (unsigned char *)ptr - HDR;
  size_t n;
  memcpy(&n, p, sizeof(n));
  mem_now -= n;
  free(p);
}

static void *count_realloc(void *ptr, size_t n) {
  if (!ptr)
    return count_malloc(n);
  unsigned char *p = (unsigned char *)ptr - HDR;
  size_t old;
  memcpy(&old, p, sizeof(old));
  unsigned char *q = realloc(p, n + HDR);
  if (!q)
    return NULL;
  memcpy(q, &n, sizeof(n));
  mem_now = mem_now - old + n;
  if (mem_now > mem_peak)
    mem_peak = mem_now;
  return q + HDR;
}

static char *count_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = count_malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void *mem_malloc(size_t n, void *ud) {
  (void)ud;
  return count_malloc(n);
}
static void *mem_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return count_realloc(p, n);
}
static void mem_free(void *p, void *ud) {
  (void)ud;
  count_free(p);
}
static const xs2s_mem counted = {mem_malloc, mem_realloc, mem_free, NULL};
/* For the test's own buffers, which are not counted. */
static xs2s_mem libc_mem;

/* ---------------------------------------------------------------------- */
/* One session and a hand-written peer                                    */
/* ---------------------------------------------------------------------- */

#define SECRET_A "secret-of-a"

typedef struct victim {
  xs2s_session *s;
  xs2s__buf sent; /* everything the session wrote */
  uint64_t now;
  int stanzas, auths, requests, answers, closed;
  int answer_requests; /* play the engine and a.test's authoritative server */
  int send_on_auth;    /* initiating: stanzas to send from the callback */
  size_t max_reply_backlog;
  xs2s_session_close_info close;
} victim;

static void on_stanza(xs2s_session *s, xs2s_stanza *st, void *ud) {
  (void)s;
  (void)st;
  ((victim *)ud)->stanzas++;
}

static void on_auth(xs2s_session *s, const char *local, const char *remote,
                    xs2s_auth_method how, void *ud) {
  (void)how;
  victim *v = ud;
  v->auths++;
  /* An engine drains its queue for the pair from here. */
  static char body[1024];
  memset(body, 'q', sizeof(body) - 1);
  for (int i = 0; i < v->send_on_auth; i++) {
    xs2s_stanza *m = h_message(local, remote, body);
    CHECK_INT(xs2s_session_send(s, m), 0);
    xs2s_stanza_free(m);
  }
}

/* The engine's part: ask a.test's authoritative server, which checks the
 * key with its secret; other domains cannot be reached. */
static void on_request(xs2s_session *s, const xs2s_dialback_request *r,
                       void *ud) {
  victim *v = ud;
  v->requests++;
  if (!v->answer_requests)
    return;
  xs2s_dialback_answer a;
  memset(&a, 0, sizeof(a));
  memcpy(a.originating, r->originating, sizeof(a.originating));
  memcpy(a.receiving, r->receiving, sizeof(a.receiving));
  memcpy(a.stream_id, r->stream_id, sizeof(a.stream_id));
  char key[XS2S_DIALBACK_KEY_SIZE];
  if (strcmp(r->originating, "a.test") != 0) {
    a.result = XS2S_DIALBACK_ERROR;
    a.condition = XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
  } else if (xs2s_dialback_key(SECRET_A, r->receiving, r->originating,
                               r->stream_id, key) == 0 &&
             xs2s_dialback_key_equal(key, r->key, strlen(r->key))) {
    a.result = XS2S_DIALBACK_VALID;
  } else {
    a.result = XS2S_DIALBACK_INVALID;
  }
  xs2s_session_dialback_answer(s, &a);
}

static void on_answer(xs2s_session *s, const xs2s_dialback_answer *a,
                      void *ud) {
  (void)s;
  (void)a;
  ((victim *)ud)->answers++;
}

static void on_closed(xs2s_session *s, const xs2s_session_close_info *info,
                      void *ud) {
  (void)s;
  victim *v = ud;
  v->closed++;
  v->close = *info;
  v->close.text = NULL;
}

static const xs2s_session_callbacks victim_cb = {
    .stanza = on_stanza,
    .authenticated = on_auth,
    .verify_request = on_request,
    .verify_answer = on_answer,
    .closed = on_closed,
};

static const char *const b_domains[] = {"b.test"};
static const char *const a_domains[] = {"a.test", "a2.test"};

/* A session of @role for b.test (receiving) or a.test (initiating to
 * b.test), its memory counted. */
static void victim_open_with(victim *v, xs2s_session_role role,
                             xs2s_security_mode mode, xs2s_tls_creds *creds,
                             size_t max_reply_backlog) {
  memset(v, 0, sizeof(*v));
  v->now = 1000;
  v->answer_requests = 1;
  xs2s__buf_init(&v->sent, &libc_mem);
  int initiating = role == XS2S_SESSION_INITIATING;
  xs2s_session_config cfg = {
      .role = role,
      .local_domains = initiating ? a_domains : b_domains,
      .local_domain_count = initiating ? 2 : 1,
      .remote_domain = initiating ? "b.test" : NULL,
      .security = mode,
      .tls_creds = creds,
      .dialback_secret = initiating ? SECRET_A : "secret-of-b",
      .mem = &counted,
      .max_reply_backlog = max_reply_backlog,
  };
  mem_peak = mem_now;
  int rc = xs2s_session_new(&v->s, &cfg, &victim_cb, v, v->now);
  CHECK_INT(rc, 0);
  if (rc)
    abort();
}

static void victim_open(victim *v, xs2s_session_role role,
                        xs2s_security_mode mode, xs2s_tls_creds *creds) {
  victim_open_with(v, role, mode, creds, 0);
}

static void victim_close(victim *v) {
  xs2s_session_free(v->s);
  xs2s__buf_free(&v->sent);
}

/* Takes the session's output into v->sent. */
static void collect(victim *v) {
  const uint8_t *out;
  size_t n = xs2s_session_output(v->s, &out);
  xs2s__buf_append(&v->sent, out, n);
  xs2s_session_consume(v->s, n);
}

/* The peer writes @n bytes; returns what recv returned. */
static ssize_t peer_bytes(victim *v, const void *data, size_t n) {
  if (!xs2s_session_want_read(v->s))
    return XS2S_ERR_STREAM_CLOSED;
  ssize_t rc = xs2s_session_recv(v->s, data, n, v->now);
  collect(v);
  return rc;
}

static ssize_t peer(victim *v, const char *text) {
  return peer_bytes(v, text, strlen(text));
}

/* The connection ends: the session reports why it closed. */
static void finish(victim *v) {
  xs2s_session_on_eof(v->s, v->now);
  CHECK_INT(v->closed, 1);
}

static const char *sent(victim *v) {
  xs2s__buf_append(&v->sent, "", 1);
  v->sent.len--;
  return xs2s__buf_bytes(&v->sent);
}

/* Whether the session sent a stream error with @cond. */
static int sent_error(victim *v, xs2s_stream_condition cond) {
  char pat[128];
  snprintf(pat, sizeof(pat), "<stream:error><%s ",
           xs2s_stream_condition_name(cond));
  return strstr(sent(v), pat) != NULL;
}

#define HEADER                                                                 \
  "<stream:stream xmlns='jabber:server' "                                      \
  "xmlns:stream='http://etherx.jabber.org/streams' "                           \
  "xmlns:db='jabber:server:dialback' version='1.0'"
static const char header_a[] =
    "<?xml version='1.0'?>" HEADER " from='a.test' to='b.test'>";

/* The receiving victim with a.test proved by dialback: the peer knows
 * a.test's secret, so its key is the one the authoritative server makes. */
static void authenticated_as_a(victim *v) {
  victim_open(v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  peer(v, header_a);
  char key[XS2S_DIALBACK_KEY_SIZE], res[256];
  CHECK_INT(xs2s_dialback_key(SECRET_A, "b.test", "a.test",
                              xs2s_session_stream_id(v->s), key),
            0);
  snprintf(res, sizeof(res),
           "<db:result from='a.test' to='b.test'>%s</db:result>", key);
  peer(v, res);
  CHECK_INT(v->auths, 1);
  CHECK(strstr(sent(v), "type='valid'") != NULL);
}

/* ---------------------------------------------------------------------- */
/* Size                                                                   */
/* ---------------------------------------------------------------------- */

#define TEN_MB (10u * 1024u * 1024u)
/* What one stream may make us hold, all included, at the default limit of
 * 256 KiB per stanza. */
#define MEMORY_BOUND (2u * 1024u * 1024u)

/* Sends @prefix, then 10 MB of @fill in 64 KiB writes, then @suffix. */
static void ten_megabytes(victim *v, const char *prefix, char fill,
                          const char *suffix) {
  static char chunk[64 * 1024];
  memset(chunk, fill, sizeof(chunk));
  peer(v, prefix);
  int failed_at = -1;
  for (unsigned i = 0; i < TEN_MB / sizeof(chunk); i++) {
    ssize_t rc = peer_bytes(v, chunk, sizeof(chunk));
    if (rc < 0 && failed_at < 0)
      failed_at = (int)i;
  }
  peer(v, suffix);
  if (failed_at >= 0) /* refused within the limit, not at the end */
    CHECK(failed_at * sizeof(chunk) <= XS2S_DEFAULT_MAX_STANZA_BYTES);
}

static void test_ten_megabyte_stanza(void) {
  static const struct {
    const char *prefix, *suffix;
  } cases[] = {
      /* text */
      {"<message from='u@a.test' to='v@b.test'><body>", "</body></message>"},
      /* one attribute value */
      {"<message from='u@a.test' to='v@b.test' x='", "'/>"},
      /* one element name */
      {"<message from='u@a.test' to='v@b.test'><a", "/></message>"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    victim v;
    victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
    peer(&v, header_a);
    ten_megabytes(&v, cases[i].prefix, 'x', cases[i].suffix);
    CHECK(sent_error(&v, XS2S_STREAM_ERR_POLICY_VIOLATION));
    finish(&v);
    CHECK_INT(v.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
    CHECK_INT(v.close.error, XS2S_ERR_LIMIT);
    CHECK_INT(v.stanzas, 0);
    CHECK(mem_peak < MEMORY_BOUND);
    printf("  case %zu: peak memory %zu bytes\n", i, mem_peak);
    victim_close(&v);
  }
}

static void test_ten_megabyte_header(void) {
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  ten_megabytes(&v, HEADER " from='", 'a', ".test' to='b.test'>");
  CHECK(sent_error(&v, XS2S_STREAM_ERR_POLICY_VIOLATION));
  finish(&v);
  CHECK_INT(v.close.error, XS2S_ERR_LIMIT);
  /* Never accepted: the refusal went out under a header of our own
   * (RFC 6120 4.7.3 wants an id there), and the stream ended. */
  CHECK_INT(xs2s_session_get_state(v.s), XS2S_SESSION_CLOSED);
  CHECK(mem_peak < MEMORY_BOUND);
  victim_close(&v);
}

/* White space between stanzas is a keepalive: 10 MB of it costs nothing
 * and the stream goes on. */
static void test_ten_megabytes_of_space(void) {
  victim v;
  authenticated_as_a(&v);
  ten_megabytes(&v, "", ' ', "<message from='a.test' to='b.test'/>");
  CHECK_INT(xs2s_session_get_state(v.s), XS2S_SESSION_OPEN);
  CHECK_INT(v.stanzas, 1);
  CHECK(mem_peak < MEMORY_BOUND);
  victim_close(&v);
}

/* ---------------------------------------------------------------------- */
/* A stream header where a stanza goes on                                 */
/* ---------------------------------------------------------------------- */

static void test_restart_mid_stanza(void) {
  /* The header opens an element inside the stanza that is never closed:
   * the stanza's end tag does not match. */
  victim v;
  authenticated_as_a(&v);
  const char *id = xs2s_session_stream_id(v.s);
  char *id_before = strdup(id);
  size_t sent_before = v.sent.len;
  peer(&v, "<message from='a.test' to='b.test'><body>hel");
  CHECK_INT(v.sent.len, sent_before); /* no answer to a header here */
  CHECK(peer(&v, HEADER " from='a.test' to='b.test'>") > 0);
  CHECK_INT(v.sent.len, sent_before);
  CHECK_STR(xs2s_session_stream_id(v.s), id_before);
  peer(&v, "lo</body></message>");
  CHECK(sent_error(&v, XS2S_STREAM_ERR_NOT_WELL_FORMED));
  CHECK_INT(v.stanzas, 0);
  CHECK(strstr(sent(&v) + sent_before, "<stream:stream") == NULL);
  victim_close(&v);
  free(id_before);

  /* A header at stanza level is not a restart: no new stream, no new id,
   * and the authentication is not carried into anything new. */
  authenticated_as_a(&v);
  id_before = strdup(xs2s_session_stream_id(v.s));
  sent_before = v.sent.len;
  CHECK(peer(&v, HEADER " from='a.test' to='b.test'/>") < 0);
  CHECK(sent_error(&v, XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE));
  CHECK_STR(xs2s_session_stream_id(v.s), id_before);
  CHECK(strstr(sent(&v) + sent_before, "<stream:stream") == NULL);
  peer(&v, "<message from='a.test' to='b.test'/>");
  CHECK_INT(v.stanzas, 0);
  victim_close(&v);
  free(id_before);
}

/* ---------------------------------------------------------------------- */
/* Invalid UTF-8                                                          */
/* ---------------------------------------------------------------------- */

static void test_invalid_utf8(void) {
  static const char *const bad[] = {
      "\xc3\x28",         /* a lead byte without its continuation */
      "\x80",             /* a lone continuation byte */
      "\xc0\xaf",         /* overlong '/' */
      "\xe0\x80\xaf",     /* overlong, three bytes */
      "\xed\xa0\x80",     /* UTF-16 surrogate */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xff",             /* never in UTF-8 */
  };
  static const char *const where[][2] = {
      {"<message from='a.test' to='b.test'><body>", "</body></message>"},
      {"<message from='a.test' to='b.test' id='", "'/>"},
      {"<message from='a.test' to='b.test'><x", "/></message>"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    for (size_t j = 0; j < sizeof(where) / sizeof(where[0]); j++) {
      victim v;
      authenticated_as_a(&v);
      char stanza[256];
      snprintf(stanza, sizeof(stanza), "%s%s%s", where[j][0], bad[i],
               where[j][1]);
      CHECK(peer(&v, stanza) < 0);
      CHECK(sent_error(&v, XS2S_STREAM_ERR_UNSUPPORTED_ENCODING));
      finish(&v);
      CHECK_INT(v.close.error, XS2S_ERR_UNSUPPORTED_ENCODING);
      CHECK_INT(v.stanzas, 0);
      victim_close(&v);
    }
  /* In the stream header, before anything is accepted. */
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  peer(&v, HEADER " from='a\xc3\x28.test' to='b.test'>");
  CHECK(sent_error(&v, XS2S_STREAM_ERR_UNSUPPORTED_ENCODING));
  CHECK(xs2s_session_get_state(v.s) == XS2S_SESSION_CLOSING ||
        xs2s_session_get_state(v.s) == XS2S_SESSION_CLOSED);
  victim_close(&v);
  /* A valid character split across two reads is fine. */
  authenticated_as_a(&v);
  peer(&v, "<message from='a.test' to='b.test'><body>caf\xc3");
  peer(&v, "\xa9</body></message>");
  CHECK_INT(v.stanzas, 1);
  victim_close(&v);
}

/* ---------------------------------------------------------------------- */
/* Authorisation                                                          */
/* ---------------------------------------------------------------------- */

/* Authenticated as a.test, the peer claims to speak for our own domain. */
static void test_from_our_own_domain(void) {
  static const char *const stanzas[] = {
      "<message from='b.test' to='b.test'/>",
      "<message from='u@b.test/r' to='v@b.test'/>",
      "<presence from='B.TEST' to='b.test'/>",
  };
  for (size_t i = 0; i < sizeof(stanzas) / sizeof(stanzas[0]); i++) {
    victim v;
    authenticated_as_a(&v);
    CHECK(peer(&v, stanzas[i]) < 0);
    CHECK(sent_error(&v, XS2S_STREAM_ERR_INVALID_FROM));
    CHECK_INT(v.stanzas, 0);
    victim_close(&v);
  }
}

/* ---------------------------------------------------------------------- */
/* TLS required, STARTTLS skipped                                         */
/* ---------------------------------------------------------------------- */

static void test_tls_required_skipped(void) {
  static const char *const attempts[] = {
      "<db:result from='a.test' to='b.test'>0123456789abcdef</db:result>",
      "<db:verify from='c.test' to='b.test' id='x'>0123</db:verify>",
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>"
      "=</auth>",
      "<message from='a.test' to='b.test'><body>hi</body></message>",
      /* An old server's header without version, then a key. */
      NULL,
  };
  xs2s_tls_creds *creds = h_creds(certs, "b.test", "b.test");
  for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
    victim v;
    victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_REQUIRED, creds);
    if (attempts[i]) {
      peer(&v, header_a);
      /* STARTTLS is offered as required. */
      CHECK(strstr(sent(&v), "<starttls xmlns='urn:ietf:params:xml:ns:"
                             "xmpp-tls'><required/></starttls>") != NULL);
      CHECK(peer(&v, attempts[i]) < 0);
    } else {
      peer(&v, "<stream:stream xmlns='jabber:server' "
               "xmlns:stream='http://etherx.jabber.org/streams' "
               "xmlns:db='jabber:server:dialback' from='a.test' "
               "to='b.test'><db:result from='a.test' to='b.test'>00"
               "</db:result>");
    }
    CHECK(sent_error(&v, XS2S_STREAM_ERR_POLICY_VIOLATION));
    finish(&v);
    CHECK_INT(v.close.error, XS2S_ERR_POLICY);
    CHECK_INT(v.requests, 0);
    CHECK_INT(v.auths, 0);
    CHECK_INT(v.stanzas, 0);
    CHECK(strstr(sent(&v), "<db:") == NULL); /* no dialback answer */
    CHECK(!xs2s_session_is_secure(v.s));
    victim_close(&v);
  }
  xs2s_tls_creds_unref(creds);
}

/* ---------------------------------------------------------------------- */
/* Dialback floods                                                        */
/* ---------------------------------------------------------------------- */

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

static void test_dialback_flood(void) {
  enum { KEYS = 1000 };
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  peer(&v, header_a);
  size_t peak_after_header = mem_peak;
  for (int i = 0; i < KEYS; i++) {
    unsigned char raw[32];
    char key[2 * sizeof(raw) + 1], res[256], from[64];
    CHECK_INT(gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof(raw)), 0);
    for (size_t k = 0; k < sizeof(raw); k++)
      snprintf(key + 2 * k, 3, "%02x", raw[k]);
    /* A third claim a.test with a guessed key, the rest domains that no
     * authoritative server answers for. */
    if (i % 3 == 0)
      snprintf(from, sizeof(from), "a.test");
    else
      snprintf(from, sizeof(from), "r%d.example", i);
    snprintf(res, sizeof(res),
             "<db:result from='%s' to='b.test'>%s</db:result>", from, key);
    CHECK(peer(&v, res) == (ssize_t)strlen(res));
  }
  const char *out = sent(&v);
  /* Every key refused, one answer each, none valid. */
  CHECK_INT(v.auths, 0);
  CHECK_INT(count(out, "<db:result "), KEYS);
  CHECK_INT(count(out, "type='error'"), KEYS);
  CHECK_INT(count(out, "type='valid'"), 0);
  /* Guessed keys for a.test: the authoritative server said no. */
  CHECK_INT(count(out, "<forbidden "), (KEYS + 2) / 3);
  /* The pairs a stream holds are bounded; past the bound the answer is
   * resource-constraint, without asking anyone. */
  CHECK(v.s->db.npairs <= XS2S_DIALBACK_DEFAULT_MAX_PAIRS);
  CHECK(count(out, "<resource-constraint ") > 0);
  CHECK(v.requests < KEYS);
  CHECK(mem_peak - peak_after_header < 256u * 1024u);
  /* The stream still delivers nothing. */
  CHECK(peer(&v, "<message from='a.test' to='b.test'/>") < 0);
  CHECK(sent_error(&v, XS2S_STREAM_ERR_NOT_AUTHORIZED));
  CHECK_INT(v.stanzas, 0);
  victim_close(&v);
}

/* Keys sent faster than the authoritative server answers: repeated keys
 * for a pending pair are ignored, so requests stay bounded. */
static void test_dialback_flood_pending(void) {
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  v.answer_requests = 0;
  peer(&v, header_a);
  for (int i = 0; i < 500; i++) {
    char res[128];
    snprintf(res, sizeof(res),
             "<db:result from='a.test' to='b.test'>%08x</db:result>", i);
    peer(&v, res);
  }
  CHECK_INT(v.requests, 1);
  CHECK_INT(count(sent(&v), "<db:result "), 0);
  CHECK_INT(xs2s_session_get_state(v.s), XS2S_SESSION_OPEN);
  /* The one pending key times out with an error answer. */
  v.now += XS2S_SESSION_DEFAULT_DIALBACK_MS;
  xs2s_session_on_timer(v.s, v.now);
  collect(&v);
  CHECK(strstr(sent(&v), "<remote-server-timeout ") != NULL);
  CHECK_INT(v.auths, 0);
  victim_close(&v);
}

/* ---------------------------------------------------------------------- */
/* A peer that asks and never reads the answers                           */
/* ---------------------------------------------------------------------- */

/* The peer writes @n db:verify requests (answered at once, with the
 * secret); with @reads it also reads what it is sent. Returns how many
 * requests went in before the session refused input. */
static int verify_requests(victim *v, int n, int reads) {
  for (int i = 0; i < n; i++) {
    char req[256];
    int len = snprintf(req, sizeof(req),
                       "<db:verify from='x%d.test' to='b.test' id='i%d'>"
                       "0123456789abcdef</db:verify>",
                       i, i);
    ssize_t rc = xs2s_session_recv(v->s, (const uint8_t *)req, (size_t)len,
                                   v->now);
    if (reads)
      collect(v);
    if (rc < 0)
      return i;
  }
  return n;
}

static void test_reply_backlog(void) {
  /* 20,000 requests (3 MB of answers) read as they come: all answered. */
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  peer(&v, header_a);
  CHECK_INT(verify_requests(&v, 20000, 1), 20000);
  CHECK_INT(count(sent(&v), "type='invalid'"), 20000);
  CHECK_INT(xs2s_session_get_state(v.s), XS2S_SESSION_OPEN);
  victim_close(&v);

  /* The same unread: the answers stop at the backlog limit. */
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  peer(&v, header_a);
  int taken = verify_requests(&v, 20000, 0);
  CHECK(taken < 20000);
  const uint8_t *out;
  size_t pending = xs2s_session_output(v.s, &out);
  CHECK(pending > XS2S_SESSION_DEFAULT_REPLY_BACKLOG);
  CHECK(pending < XS2S_SESSION_DEFAULT_REPLY_BACKLOG + 4096);
  /* More input changes nothing: it is not answered. */
  verify_requests(&v, 1000, 0);
  CHECK_INT(xs2s_session_output(v.s, &out), pending);
  collect(&v);
  CHECK(sent_error(&v, XS2S_STREAM_ERR_POLICY_VIOLATION));
  finish(&v);
  CHECK_INT(v.close.error, XS2S_ERR_LIMIT);
  CHECK(mem_peak < 2 * XS2S_SESSION_DEFAULT_REPLY_BACKLOG + MEMORY_BOUND);
  victim_close(&v);

  /* A smaller limit from the configuration; output the peer read does
   * not count, whatever came before. */
  victim_open_with(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL,
                   4096);
  peer(&v, header_a);
  CHECK_INT(verify_requests(&v, 1000, 1), 1000);
  taken = verify_requests(&v, 1000, 0);
  pending = xs2s_session_output(v.s, &out);
  CHECK(taken > 0 && taken < 1000);
  CHECK(pending > 4096 && pending < 4096 + 512);
  victim_close(&v);
}

/* Stanzas an engine sends from a callback are not answers: a limit far
 * below them does not fire. */
static void test_reply_backlog_ignores_sent_stanzas(void) {
  victim v;
  victim_open_with(&v, XS2S_SESSION_INITIATING, XS2S_SECURITY_OFF, NULL,
                   4096);
  v.send_on_auth = 100; /* 100 KiB */
  peer(&v, HEADER " from='b.test' id='peer-id'><stream:features><dialback "
               "xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
               "</stream:features>");
  static const char valid[] =
      "<db:result from='b.test' to='a.test' type='valid'/>";
  CHECK_INT(xs2s_session_recv(v.s, (const uint8_t *)valid, strlen(valid),
                              v.now),
            strlen(valid));
  CHECK_INT(v.auths, 1);
  const uint8_t *out;
  CHECK(xs2s_session_output(v.s, &out) > 100 * 1024);
  CHECK_INT(xs2s_session_get_state(v.s), XS2S_SESSION_OPEN);
  victim_close(&v);
}

/* ---------------------------------------------------------------------- */
/* Slow peers                                                             */
/* ---------------------------------------------------------------------- */

/* Runs the session's timers up to @now, collecting what they write. */
static void advance_to(victim *v, uint64_t now) {
  while (xs2s_session_next_deadline(v->s) <= now &&
         xs2s_session_get_state(v->s) != XS2S_SESSION_CLOSED) {
    v->now = xs2s_session_next_deadline(v->s);
    xs2s_session_on_timer(v->s, v->now);
    collect(v);
  }
  v->now = now;
}

/* One byte at a time, slowly: arriving bytes do not move the deadlines. */
static void test_trickle(void) {
  /* A header trickled one byte a second: the handshake timeout ends it. */
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  uint64_t start = v.now;
  for (size_t i = 0; header_a[i] && xs2s_session_want_read(v.s); i++) {
    advance_to(&v, v.now + 1000);
    if (xs2s_session_get_state(v.s) != XS2S_SESSION_WAIT_HEADER)
      break;
    peer_bytes(&v, header_a + i, 1);
  }
  CHECK(sent_error(&v, XS2S_STREAM_ERR_CONNECTION_TIMEOUT));
  CHECK(v.now - start <= XS2S_SESSION_DEFAULT_HANDSHAKE_MS + 1000);
  finish(&v);
  CHECK_INT(v.close.error, XS2S_ERR_TIMEOUT);
  victim_close(&v);

  /* Authenticated, then a stanza trickled one byte every 30 s: the idle
   * timeout counts from the last complete stanza and ends it. */
  authenticated_as_a(&v);
  start = v.now;
  static const char slow[] =
      "<message from='a.test' to='b.test'><body>0123456789012345678901234"
      "567890123456789</body></message>";
  for (size_t i = 0; slow[i] && xs2s_session_want_read(v.s); i++) {
    advance_to(&v, v.now + 30000);
    if (xs2s_session_get_state(v.s) != XS2S_SESSION_OPEN)
      break;
    peer_bytes(&v, slow + i, 1);
  }
  CHECK(xs2s_session_get_state(v.s) != XS2S_SESSION_OPEN);
  finish(&v);
  CHECK_INT(v.close.error, XS2S_ERR_TIMEOUT);
  CHECK_INT(v.stanzas, 0);
  CHECK(v.now - start <= XS2S_SESSION_DEFAULT_IDLE_MS + 30000);
  victim_close(&v);
}

/* ---------------------------------------------------------------------- */
/* Answers nobody asked for                                               */
/* ---------------------------------------------------------------------- */

static void test_unsolicited_answers(void) {
  /* On a receiving stream, answers are never requests. */
  victim v;
  victim_open(&v, XS2S_SESSION_RECEIVING, XS2S_SECURITY_OFF, NULL);
  peer(&v, header_a);
  peer(&v, "<db:result from='a.test' to='b.test' type='valid'/>"
           "<db:verify from='a.test' to='b.test' id='x' type='valid'/>");
  CHECK_INT(v.auths, 0);
  CHECK_INT(v.requests, 0);
  CHECK_INT(xs2s_session_get_state(v.s), XS2S_SESSION_OPEN);
  CHECK(peer(&v, "<message from='a.test' to='b.test'/>") < 0);
  CHECK_INT(v.stanzas, 0);
  victim_close(&v);

  /* On an initiating stream, only the answer to the key we sent counts;
   * db:verify answers for streams never asked about are dropped. */
  victim_open(&v, XS2S_SESSION_INITIATING, XS2S_SECURITY_OFF, NULL);
  collect(&v);
  peer(&v, HEADER " from='b.test' id='peer-id'><stream:features><dialback "
               "xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
               "</stream:features>");
  CHECK(strstr(sent(&v), "<db:result from='a.test' to='b.test'>") != NULL);
  peer(&v, "<db:result from='b.test' to='a2.test' type='valid'/>"
           "<db:result from='c.test' to='a.test' type='valid'/>"
           "<db:verify from='b.test' to='a.test' id='never' type='valid'/>"
           "<db:verify from='b.test' to='a.test' id='peer-id' type='valid'/>");
  CHECK_INT(v.auths, 0);
  CHECK_INT(v.answers, 0);
  CHECK_INT(xs2s_session_pair_method(v.s, "a2.test", "b.test"),
            XS2S_AUTH_NONE);
  CHECK_INT(xs2s_session_pair_method(v.s, "a.test", "c.test"),
            XS2S_AUTH_NONE);
  xs2s_stanza *m = h_message("a2.test", "b.test", "x");
  CHECK_INT(xs2s_session_send(v.s, m), XS2S_ERR_NOT_AUTHENTICATED);
  xs2s_stanza_free(m);
  /* The real answer still works. */
  peer(&v, "<db:result from='b.test' to='a.test' type='valid'/>");
  CHECK_INT(v.auths, 1);
  CHECK_INT(xs2s_session_pair_method(v.s, "a.test", "b.test"),
            XS2S_AUTH_DIALBACK);
  victim_close(&v);
}

int main(int argc, char **argv) {
  /* Before libxml2 allocates anything. */
  xmlMemSetup(count_free, count_malloc, count_realloc, count_strdup);
  xs2s__mem_init(&libc_mem, NULL);
  if (argc < 2) {
    fprintf(stderr, "usage: %s CERTDIR\n", argv[0]);
    return 2;
  }
  certs = argv[1];
  RUN(test_ten_megabyte_stanza);
  RUN(test_ten_megabyte_header);
  RUN(test_ten_megabytes_of_space);
  RUN(test_restart_mid_stanza);
  RUN(test_invalid_utf8);
  RUN(test_from_our_own_domain);
  RUN(test_tls_required_skipped);
  RUN(test_dialback_flood);
  RUN(test_dialback_flood_pending);
  RUN(test_unsolicited_answers);
  RUN(test_reply_backlog);
  RUN(test_reply_backlog_ignores_sent_stanzas);
  RUN(test_trickle);
  return check_finish();
}
