/*
 * Session tests without TLS: the stream life cycle, stanza authorisation,
 * stream errors, timers, and dialback between three servers (initiating,
 * receiving, authoritative) joined through memory with a fake clock.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "session_harness.h"

static h_server A = {{"a.test", "a2.test"}, 2, XS2S_SECURITY_OFF, NULL,
                     "secret-of-a", 0, NULL, NULL, {0}};
static h_server B = {{"b.test"}, 1, XS2S_SECURITY_OFF, NULL, "secret-of-b",
                     0, NULL, NULL, {0}};

static void world(h_world *w) {
  h_world_init(w);
  A.secret = "secret-of-a";
  B.allow = NULL;
  h_add_server(w, &A);
  h_add_server(w, &B);
}

static int send_message(h_peer *p, const char *from, const char *to,
                        const char *body) {
  xs2s_stanza *m = h_message(from, to, body);
  int rc = xs2s_session_send(p->s, m);
  xs2s_stanza_free(m);
  return rc;
}

static const char *body_of(const h_peer *p, int i) {
  if (i >= p->n_stanzas)
    return NULL;
  return xs2s_stanza_text(xs2s_stanza_find_child(p->stanzas[i], "body", NULL));
}

/* A connects to B and proves a.test by dialback. */
static h_link *dialback_link(h_world *w) {
  h_link *l = h_connect(w, &A, "a.test", &B, "b.test", 0);
  h_run(w);
  return l;
}

/* The verification link the harness opened for the last request. */
static h_link *verify_link(h_world *w) {
  for (int i = w->nlinks - 1; i >= 0; i--)
    if (w->links[i]->verify_link)
      return w->links[i];
  return NULL;
}

static void test_dialback_clear_text(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  /* The initiating side writes its header at once. */
  CHECK(xs2s_session_want_write(l->a.s));
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_WAIT_HEADER);
  CHECK_INT(send_message(&l->a, "u@a.test", "v@b.test", "early"),
            XS2S_ERR_BAD_STATE);
  h_run(&w);

  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_OPEN);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  CHECK(!xs2s_session_is_secure(l->a.s));
  CHECK(h_authenticated(&l->a, "a.test", "b.test", XS2S_AUTH_DIALBACK));
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(l->b.n_requests, 1);
  CHECK_STR(l->b.requests[0].originating, "a.test");
  CHECK_STR(l->b.requests[0].receiving, "b.test");
  CHECK_STR(l->b.requests[0].stream_id, xs2s_session_stream_id(l->b.s));
  CHECK_STR(xs2s_session_stream_id(l->a.s), xs2s_session_stream_id(l->b.s));
  CHECK_INT(strlen(xs2s_session_stream_id(l->b.s)), 32);
  CHECK_INT(xs2s_session_pair_method(l->a.s, "a.test", "b.test"),
            XS2S_AUTH_DIALBACK);
  CHECK_INT(xs2s_session_pair_method(l->b.s, "b.test", "a.test"),
            XS2S_AUTH_DIALBACK);
  CHECK_INT(xs2s_session_pair_method(l->b.s, "b.test", "a2.test"),
            XS2S_AUTH_NONE);

  /* The verification stream was used once and closed in order. */
  h_link *v = verify_link(&w);
  CHECK(v != NULL);
  if (v) {
    CHECK_INT(v->a.n_answers, 1);
    CHECK_INT(v->a.answers[0].result, XS2S_DIALBACK_VALID);
    CHECK_INT(xs2s_session_get_state(v->a.s), XS2S_SESSION_CLOSED);
    CHECK_INT(xs2s_session_get_state(v->b.s), XS2S_SESSION_CLOSED);
    CHECK_INT(v->a.close.error, 0);
    CHECK_INT(v->a.close.origin, XS2S_CLOSED_LOCALLY);
    CHECK_INT(v->b.close.origin, XS2S_CLOSED_BY_PEER);
    CHECK_INT(v->b.close.error, 0);
  }

  /* Stanzas flow, in order, with their content. */
  CHECK_INT(send_message(&l->a, "u@a.test/r", "v@b.test", "one"), 0);
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "two & <three>"), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 2);
  CHECK_STR(body_of(&l->b, 0), "one");
  CHECK_STR(body_of(&l->b, 1), "two & <three>");
  if (l->b.n_stanzas > 0)
    CHECK_STR(xs2s_stanza_attr(l->b.stanzas[0], "from"), "u@a.test/r");
  /* Unauthenticated pairs are refused at send time. */
  CHECK_INT(send_message(&l->a, "u@a2.test", "v@b.test", "x"),
            XS2S_ERR_NOT_AUTHENTICATED);
  CHECK_INT(send_message(&l->a, "u@a.test", "v@c.test", "x"),
            XS2S_ERR_NOT_AUTHENTICATED);

  /* Orderly close from the initiating side. */
  CHECK_INT(xs2s_session_close(l->a.s, XS2S_STREAM_ERR_NONE, NULL), 0);
  CHECK_INT(xs2s_session_close(l->a.s, XS2S_STREAM_ERR_NONE, NULL),
            XS2S_ERR_BAD_STATE);
  h_run(&w);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->a.closed, 1);
  CHECK_INT(l->b.closed, 1);
  CHECK_INT(l->b.close.origin, XS2S_CLOSED_BY_PEER);
  CHECK_INT(l->b.close.error, 0);
  CHECK(!xs2s_session_want_read(l->a.s));
  h_world_free(&w);
}

static void test_config_checks(void) {
  xs2s_session *s = (xs2s_session *)1;
  const char *dom[] = {"a.test"};
  xs2s_session_config c = {.role = XS2S_SESSION_INITIATING,
                           .local_domains = dom,
                           .local_domain_count = 1};
  CHECK_INT(xs2s_session_new(&s, &c, NULL, NULL, 0),
            XS2S_ERR_INVALID_ARGUMENT); /* no remote domain */
  CHECK(s == NULL);
  c.role = XS2S_SESSION_RECEIVING;
  c.verify_only = 1;
  CHECK_INT(xs2s_session_new(&s, &c, NULL, NULL, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  c.verify_only = 0;
  c.local_domain_count = 0;
  CHECK_INT(xs2s_session_new(&s, &c, NULL, NULL, 0),
            XS2S_ERR_INVALID_ARGUMENT);
  c.local_domain_count = 1;
  CHECK_INT(xs2s_session_new(&s, &c, NULL, NULL, 0), 0);
  CHECK(!xs2s_session_want_write(s)); /* receiving: waits for the peer */
  CHECK_INT(xs2s_session_get_role(s), XS2S_SESSION_RECEIVING);
  CHECK_STR(xs2s_session_state_name(xs2s_session_get_state(s)),
            "WAIT_HEADER");
  CHECK(xs2s_session_stream_id(s) == NULL);
  CHECK(xs2s_session_tls(s) == NULL);
  CHECK_INT(xs2s_session_send(s, NULL), XS2S_ERR_INVALID_ARGUMENT);
  xs2s_session_free(s);
  xs2s_session_free(NULL);
}

/* A raw initiator speaks to B's receiving session. */
static h_link *raw_to_b(h_world *w) {
  h_link *l = h_connect(w, NULL, NULL, &B, "b.test", 0);
  return l;
}

/* The raw peer answers the close; the session then reports it. */
static void raw_close(h_world *w, h_link *l) {
  h_raw_send(&l->a, "</stream:stream>");
  h_advance(w, XS2S_SESSION_DEFAULT_CLOSE_MS);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
}

static const char *raw_header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns:db='jabber:server:dialback' from='a.test' to='b.test' "
    "version='1.0'>";

static void test_header_and_features(void) {
  h_world w;
  world(&w);
  h_link *l = raw_to_b(&w);
  h_raw_send(&l->a, raw_header);
  h_run(&w);
  const char *got = h_raw_text(&l->a);
  /* Header and features in one write, with a fresh id, dialback offered,
   * no STARTTLS when TLS is off. */
  CHECK(strstr(got, "<stream:stream") != NULL);
  CHECK(strstr(got, "from='b.test'") != NULL);
  CHECK(strstr(got, "to='a.test'") != NULL);
  CHECK(strstr(got, "version='1.0'") != NULL);
  CHECK(strstr(got, "xmlns:db='jabber:server:dialback'") != NULL);
  CHECK(strstr(got, "id='") != NULL);
  CHECK(strstr(got, "<stream:features>") != NULL);
  CHECK(strstr(got, "urn:xmpp:features:dialback") != NULL);
  CHECK(strstr(got, "<errors/>") != NULL);
  CHECK(strstr(got, "starttls") == NULL);
  CHECK_INT(l->b.n_want_write, 1);

  /* A second stream's id differs. */
  h_link *l2 = raw_to_b(&w);
  h_raw_send(&l2->a, raw_header);
  h_run(&w);
  CHECK(strcmp(xs2s_session_stream_id(l->b.s),
               xs2s_session_stream_id(l2->b.s)) != 0);
  h_world_free(&w);
}

static void test_host_unknown(void) {
  h_world w;
  world(&w);
  h_link *l = raw_to_b(&w);
  h_raw_send(&l->a,
             "<stream:stream xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams' "
             "from='a.test' to='nothere.test' version='1.0'>");
  h_run(&w);
  const char *got = h_raw_text(&l->a);
  /* A header comes first, then the error, then the end of the stream.
   * The header has an id (RFC 6120 4.7.3), or an initiating peer that
   * insists on one (xs2s does) reports a malformed header instead of
   * host-unknown. */
  CHECK(strstr(got, "<stream:stream") != NULL);
  const char *id = strstr(got, " id='");
  CHECK(id != NULL && id < strstr(got, "<stream:error"));
  CHECK(strstr(got, "<host-unknown") != NULL);
  CHECK(strstr(got, "</stream:stream>") != NULL);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSING);
  h_raw_send(&l->a, "</stream:stream>");
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_HOST_UNKNOWN);
  CHECK_INT(l->b.close.origin, XS2S_CLOSED_LOCALLY);
  h_world_free(&w);
}

static void test_bad_namespace(void) {
  h_world w;
  world(&w);
  h_link *l = raw_to_b(&w);
  h_raw_send(&l->a, "<stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' "
                    "to='b.test' version='1.0'>");
  h_run(&w);
  CHECK(strstr(h_raw_text(&l->a), "<invalid-namespace") != NULL);
  raw_close(&w, l);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_INVALID_NAMESPACE);
  h_world_free(&w);
}

static void test_not_well_formed(void) {
  h_world w;
  world(&w);
  h_link *l = raw_to_b(&w);
  h_raw_send(&l->a, raw_header);
  h_raw_send(&l->a, "<message><body></message>");
  h_run(&w);
  CHECK(strstr(h_raw_text(&l->a), "<not-well-formed") != NULL);
  CHECK_INT(l->b.n_stanzas, 0);
  /* Input after the error is not parsed; the close timeout ends it. */
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSING);
  raw_close(&w, l);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_NOT_WELL_FORMED);
  h_world_free(&w);
}

static void test_stanza_before_auth(void) {
  h_world w;
  world(&w);
  h_link *l = raw_to_b(&w);
  h_raw_send(&l->a, raw_header);
  h_raw_send(&l->a, "<message from='u@a.test' to='v@b.test'>"
                    "<body>hi</body></message>");
  h_run(&w);
  CHECK(strstr(h_raw_text(&l->a), "<not-authorized") != NULL);
  raw_close(&w, l);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_NOT_AUTHORIZED);
  CHECK_INT(l->b.n_stanzas, 0);
  h_world_free(&w);
}

/* After a.test is authenticated, the peer's stanzas are checked. */
static void spoof_after_auth(const char *stanza, xs2s_stream_condition want) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK(h_inject(&l->b, stanza) < 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 0);
  CHECK_INT(xs2s_session_stanzas_refused(l->b.s), 1);
  CHECK_INT(l->b.close.condition, want);
  CHECK_INT(l->b.close.origin, XS2S_CLOSED_LOCALLY);
  /* The initiating side learns it from the stream error. */
  CHECK_INT(l->a.close.condition, want);
  CHECK_INT(l->a.close.error, XS2S_ERR_PEER_STREAM_ERROR);
  CHECK_INT(l->a.close.origin, XS2S_CLOSED_BY_PEER);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
  h_world_free(&w);
}

static void test_spoofed_from(void) {
  spoof_after_auth("<message from='u@evil.test' to='v@b.test'/>",
                   XS2S_STREAM_ERR_INVALID_FROM);
  /* Another of A's domains, not authenticated on this stream. */
  spoof_after_auth("<presence from='u@a2.test' to='v@b.test'/>",
                   XS2S_STREAM_ERR_INVALID_FROM);
}

static void test_to_not_local(void) {
  spoof_after_auth("<iq type='get' id='1' from='a.test' to='c.test'/>",
                   XS2S_STREAM_ERR_HOST_UNKNOWN);
}

static void test_missing_addresses(void) {
  spoof_after_auth("<message to='v@b.test'/>",
                   XS2S_STREAM_ERR_IMPROPER_ADDRESSING);
}

static void test_stanza_to_initiating_side(void) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  /* Streams carry stanzas one way: the receiving side never sends any. */
  CHECK(h_inject(&l->a, "<message from='b.test' to='a.test'/>") < 0);
  h_run(&w);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_NOT_AUTHORIZED);
  h_world_free(&w);
}

static void test_peer_stream_error(void) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  CHECK_INT(xs2s_session_close(l->a.s, XS2S_STREAM_ERR_SYSTEM_SHUTDOWN,
                               "going down"),
            0);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSING);
  h_run(&w);
  CHECK_INT(l->b.close.error, XS2S_ERR_PEER_STREAM_ERROR);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_SYSTEM_SHUTDOWN);
  CHECK_STR(l->b.close.text, "going down");
  CHECK_INT(l->b.close.origin, XS2S_CLOSED_BY_PEER);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_SYSTEM_SHUTDOWN);
  CHECK_INT(l->a.close.origin, XS2S_CLOSED_LOCALLY);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->a.closed, 1);
  CHECK_INT(l->b.closed, 1);
  h_world_free(&w);
}

static void test_unexpected_eof(void) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  CHECK_INT(xs2s_session_on_eof(l->b.s, w.now), 0);
  CHECK_INT(l->b.close.error, XS2S_ERR_STREAM_CLOSED);
  CHECK_INT(l->b.close.origin, XS2S_CLOSED_BY_PEER);
  CHECK(!xs2s_session_want_read(l->b.s));
  CHECK_INT(xs2s_session_recv(l->b.s, (const uint8_t *)" ", 1, w.now),
            XS2S_ERR_STREAM_CLOSED);
  h_world_free(&w);
}

static void test_keepalive_and_idle(void) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  uint64_t start = w.now;
  CHECK_INT(xs2s_session_next_deadline(l->a.s),
            start + XS2S_SESSION_DEFAULT_KEEPALIVE_MS);
  /* Nothing is due early. */
  xs2s_session_on_timer(l->a.s, start + 1000);
  CHECK(!xs2s_session_want_write(l->a.s));
  /* One space when the keepalive interval passes without output. */
  w.now = start + XS2S_SESSION_DEFAULT_KEEPALIVE_MS;
  xs2s_session_on_timer(l->a.s, w.now);
  const uint8_t *out;
  CHECK_INT(xs2s_session_output(l->a.s, &out), 1);
  CHECK(out[0] == ' ');
  h_run(&w);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  /* Keepalives do not count as activity: the idle timeout still ends the
   * stream 10 minutes after the last stanza. */
  h_advance(&w, XS2S_SESSION_DEFAULT_IDLE_MS - 2 * 60000);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_OPEN);
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "still here"), 0);
  h_advance(&w, XS2S_SESSION_DEFAULT_IDLE_MS - 1000);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_OPEN);
  h_advance(&w, 2000);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->a.close.error, XS2S_ERR_TIMEOUT);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_NONE);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->b.n_stanzas, 1);
  h_world_free(&w);
}

static void test_handshake_timeout(void) {
  h_world w;
  world(&w);
  h_link *l = raw_to_b(&w);
  h_raw_send(&l->a, raw_header);
  h_run(&w);
  CHECK_INT(xs2s_session_next_deadline(l->b.s),
            1000 + XS2S_SESSION_DEFAULT_HANDSHAKE_MS);
  h_advance(&w, XS2S_SESSION_DEFAULT_HANDSHAKE_MS);
  CHECK(strstr(h_raw_text(&l->a), "<connection-timeout") != NULL);
  h_advance(&w, XS2S_SESSION_DEFAULT_CLOSE_MS);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSED);
  CHECK_INT(l->b.close.error, XS2S_ERR_TIMEOUT);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_CONNECTION_TIMEOUT);
  h_world_free(&w);
}

/* ---------------------------------------------------------------------- */
/* Dialback with three parties                                            */
/* ---------------------------------------------------------------------- */

/* Replaces the key of the db:result from @from_domain (filter data). */
static size_t corrupt_key(h_link *l, int dir, char *buf, size_t len,
                          size_t cap) {
  (void)cap;
  const char *from = l->filter_data;
  if (dir != 0)
    return len;
  buf[len] = '\0';
  char pat[128];
  snprintf(pat, sizeof(pat), "from='%s'", from);
  for (char *res = strstr(buf, "<db:result "); res;
       res = strstr(res + 1, "<db:result ")) {
    char *key = strchr(res, '>');
    char *attr = strstr(res, pat);
    if (key && attr && attr < key && key[1] != '<')
      key[1] = key[1] == '0' ? '1' : '0';
  }
  return len;
}

static void test_dialback_invalid_key(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = corrupt_key;
  l->filter_data = "a.test";
  h_run(&w);
  CHECK_INT(l->a.n_auth, 0);
  CHECK_INT(l->b.n_auth, 0);
  CHECK(h_failed(&l->a, "a.test", "b.test") != XS2S_STANZA_ERR_NONE);
  h_link *v = verify_link(&w);
  CHECK(v && v->a.n_answers == 1 &&
        v->a.answers[0].result == XS2S_DIALBACK_INVALID);
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "x"),
            XS2S_ERR_NOT_AUTHENTICATED);
  h_world_free(&w);
}

static void test_dialback_wrong_secret(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w); /* valid with the right secret */
  CHECK(h_authenticated(&l->a, "a.test", "b.test", XS2S_AUTH_DIALBACK));
  /* An authoritative server with another secret refuses the key. */
  h_link *l2 = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  A.secret = "not-the-secret";
  h_run(&w);
  CHECK_INT(l2->a.n_auth, 0);
  CHECK(h_failed(&l2->a, "a.test", "b.test") != XS2S_STANZA_ERR_NONE);
  CHECK_INT(l2->b.n_auth, 0);
  h_world_free(&w);
}

static void test_dialback_timeout(void) {
  h_world w;
  world(&w);
  w.hold_requests = 1; /* the authoritative server never answers */
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(l->b.n_requests, 1);
  h_advance(&w, XS2S_SESSION_DEFAULT_DIALBACK_MS - 1000);
  CHECK_INT(l->a.n_failed, 0);
  h_advance(&w, 1000);
  CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
            XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  /* A late answer is ignored. */
  xs2s_dialback_answer late;
  memset(&late, 0, sizeof(late));
  snprintf(late.originating, sizeof(late.originating), "a.test");
  snprintf(late.receiving, sizeof(late.receiving), "b.test");
  snprintf(late.stream_id, sizeof(late.stream_id), "%s",
           xs2s_session_stream_id(l->b.s));
  late.result = XS2S_DIALBACK_VALID;
  xs2s_session_dialback_answer(l->b.s, &late);
  h_run(&w);
  CHECK_INT(l->b.n_auth, 0);
  CHECK_INT(l->a.n_auth, 0);
  h_world_free(&w);
}

static void test_dialback_error_keeps_stream(void) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  CHECK(h_authenticated(&l->a, "a.test", "b.test", XS2S_AUTH_DIALBACK));
  /* B does not host nothere.test: a dialback error for that pair only. */
  CHECK_INT(xs2s_session_add_pair(l->a.s, "a.test", "nothere.test"), 0);
  h_run(&w);
  CHECK_INT(h_failed(&l->a, "a.test", "nothere.test"),
            XS2S_STANZA_ERR_ITEM_NOT_FOUND);
  CHECK_INT(xs2s_session_get_state(l->a.s), XS2S_SESSION_OPEN);
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "after"), 0);
  h_run(&w);
  CHECK_STR(body_of(&l->b, 0), "after");
  /* Not one of our domains. */
  CHECK_INT(xs2s_session_add_pair(l->a.s, "c.test", "b.test"),
            XS2S_ERR_INVALID_ARGUMENT);
  h_world_free(&w);
}

static void test_dialback_piggyback(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  /* Asked before the stream is open: sent once it is. */
  CHECK_INT(xs2s_session_add_pair(l->a.s, "a2.test", "b.test"), 0);
  l->filter = corrupt_key;
  l->filter_data = "a2.test";
  h_run(&w);
  CHECK(h_authenticated(&l->a, "a.test", "b.test", XS2S_AUTH_DIALBACK));
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK(h_failed(&l->a, "a2.test", "b.test") != XS2S_STANZA_ERR_NONE);
  CHECK(!h_authenticated(&l->b, "b.test", "a2.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(l->b.n_requests, 2);
  /* The valid pair keeps working on the same stream. */
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "ok"), 0);
  CHECK_INT(send_message(&l->a, "a2.test", "b.test", "no"),
            XS2S_ERR_NOT_AUTHENTICATED);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  /* A stanza from the refused domain ends the stream. */
  CHECK_INT(h_inject(&l->b, "<message from='a2.test' to='b.test'/>"),
            XS2S_ERR_POLICY);
  h_run(&w);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_INVALID_FROM);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_INVALID_FROM);
  h_world_free(&w);
}

static void test_dialback_piggyback_both_valid(void) {
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  CHECK_INT(xs2s_session_add_pair(l->a.s, "a2.test", "b.test"), 0);
  h_run(&w);
  CHECK(h_authenticated(&l->a, "a2.test", "b.test", XS2S_AUTH_DIALBACK));
  CHECK(h_authenticated(&l->b, "b.test", "a2.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(send_message(&l->a, "x@a2.test", "y@b.test", "second"), 0);
  h_run(&w);
  CHECK_STR(body_of(&l->b, 0), "second");
  h_world_free(&w);
}

/* Adds a forged answer for an id never asked about before the real one. */
static size_t forge_verify(h_link *l, int dir, char *buf, size_t len,
                           size_t cap) {
  (void)l;
  static const char forged[] =
      "<db:verify from='a.test' to='b.test' id='never-sent' type='valid'/>";
  buf[len] = '\0';
  char *at = dir == 1 ? strstr(buf, "<db:verify") : NULL;
  if (!at || len + sizeof(forged) > cap)
    return len;
  memmove(at + sizeof(forged) - 1, at, len - (size_t)(at - buf));
  memcpy(at, forged, sizeof(forged) - 1);
  return len + sizeof(forged) - 1;
}

static void test_forged_verify_answer(void) {
  h_world w;
  world(&w);
  w.hold_requests = 1;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(l->b.n_requests, 1);
  /* The test routes the request itself, through a forging filter. */
  h_link *v = h_connect(&w, &B, "b.test", &A, "a.test", 1);
  v->filter = forge_verify;
  CHECK_INT(xs2s_session_verify(v->a.s, &l->b.requests[0]), 0);
  h_run(&w);
  CHECK_INT(v->a.n_answers, 1);
  CHECK_STR(v->a.answers[0].stream_id, l->b.requests[0].stream_id);
  CHECK_INT(v->a.answers[0].result, XS2S_DIALBACK_VALID);
  CHECK_INT(xs2s_session_get_state(v->a.s), XS2S_SESSION_CLOSED);
  h_world_free(&w);
}

/* Remembers the key of the first db:result that passes. */
static char seen_key[128];
static size_t record_key(h_link *l, int dir, char *buf, size_t len,
                         size_t cap) {
  (void)l;
  (void)cap;
  buf[len] = '\0';
  char *res = dir == 0 ? strstr(buf, "<db:result ") : NULL;
  char *key = res ? strchr(res, '>') : NULL;
  char *end = key ? strchr(key, '<') : NULL;
  if (end && !seen_key[0] && end - key - 1 < (long)sizeof(seen_key))
    memcpy(seen_key, key + 1, (size_t)(end - key - 1));
  return len;
}

static void test_replayed_key(void) {
  h_world w;
  world(&w);
  seen_key[0] = '\0';
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = record_key;
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(strlen(seen_key), 64);
  /* An attacker replays the key on a new stream: the new stream id makes
   * the authoritative server refuse it. */
  h_link *r = raw_to_b(&w);
  h_raw_send(&r->a, raw_header);
  char res[256];
  snprintf(res, sizeof(res),
           "<db:result from='a.test' to='b.test'>%s</db:result>", seen_key);
  h_raw_send(&r->a, res);
  h_run(&w);
  CHECK_INT(r->b.n_requests, 1);
  CHECK(strcmp(r->b.requests[0].stream_id, l->b.requests[0].stream_id) != 0);
  CHECK_INT(r->b.n_auth, 0);
  CHECK(strstr(h_raw_text(&r->a), "type='valid'") == NULL);
  CHECK(strstr(h_raw_text(&r->a), "<db:result") != NULL);
  h_raw_send(&r->a, "<message from='a.test' to='b.test'/>");
  CHECK_INT(r->b.n_stanzas, 0);
  h_world_free(&w);
}

static int refuse_a(const char *domain, void *ud) {
  (void)ud;
  return strcmp(domain, "a.test") != 0;
}

static void test_dialback_policy_forbids(void) {
  h_world w;
  world(&w);
  B.allow = refuse_a;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(l->b.n_requests, 0); /* never asked the authoritative server */
  CHECK_INT(h_failed(&l->a, "a.test", "b.test"),
            XS2S_STANZA_ERR_POLICY_VIOLATION);
  CHECK_INT(l->b.n_auth, 0);
  B.allow = NULL;
  h_world_free(&w);
}

static void test_verify_before_open_and_close(void) {
  h_world w;
  world(&w);
  /* A verification stream whose peer disappears answers with an error. */
  h_link *v = h_connect(&w, &B, "b.test", &A, "a.test", 1);
  xs2s_dialback_request req;
  memset(&req, 0, sizeof(req));
  snprintf(req.originating, sizeof(req.originating), "a.test");
  snprintf(req.receiving, sizeof(req.receiving), "b.test");
  snprintf(req.stream_id, sizeof(req.stream_id), "abc");
  snprintf(req.key, sizeof(req.key), "00");
  CHECK_INT(xs2s_session_verify(v->a.s, &req), 0);
  xs2s_session_on_eof(v->a.s, w.now);
  CHECK_INT(v->a.n_answers, 1);
  CHECK_INT(v->a.answers[0].result, XS2S_DIALBACK_ERROR);
  CHECK_STR(v->a.answers[0].stream_id, "abc");
  CHECK_INT(xs2s_session_verify(v->a.s, &req), XS2S_ERR_BAD_STATE);
  h_world_free(&w);
}

static void test_authoritative_answers(void) {
  h_world w;
  world(&w);
  /* A raw receiving server asks A (authoritative) about keys. */
  h_link *l = h_connect(&w, NULL, NULL, &A, "a.test", 0);
  h_raw_send(&l->a, "<stream:stream xmlns='jabber:server' "
                    "xmlns:stream='http://etherx.jabber.org/streams' "
                    "xmlns:db='jabber:server:dialback' from='b.test' "
                    "to='a.test' version='1.0'>");
  char key[XS2S_DIALBACK_KEY_SIZE], req[512];
  CHECK_INT(xs2s_dialback_key("secret-of-a", "b.test", "a.test", "id1", key),
            0);
  snprintf(req, sizeof(req),
           "<db:verify from='b.test' to='a.test' id='id1'>%s</db:verify>"
           "<db:verify from='b.test' to='a.test' id='id2'>%s</db:verify>",
           key, key);
  h_raw_send(&l->a, req);
  h_run(&w);
  const char *got = h_raw_text(&l->a);
  const char *v1 = strstr(got, "id='id1'");
  const char *v2 = strstr(got, "id='id2'");
  CHECK(v1 && strstr(v1, "type='valid'"));
  CHECK(v2 && strstr(v2, "type='invalid'"));
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  /* Serving verifications ends the handshake timer. */
  h_advance(&w, XS2S_SESSION_DEFAULT_HANDSHAKE_MS);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  h_world_free(&w);
}

static void test_arbitrary_bytes(void) {
  /* Garbage and truncated input never crash and end the stream. */
  static const char *inputs[] = {
      "\x00\x01\x02", "<", "<stream:stream>", "</stream:stream>",
      "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>",
      "<stream:stream xmlns='jabber:server' "
      "xmlns:stream='http://etherx.jabber.org/streams' to='b.test'>"
      "<db:result/>",
  };
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    h_world w;
    world(&w);
    h_link *l = raw_to_b(&w);
    h_raw_send(&l->a, inputs[i]);
    h_run(&w);
    CHECK_INT(l->b.n_stanzas, 0);
    CHECK_INT(l->b.n_auth, 0);
    h_world_free(&w);
  }
}

static void test_chunked_delivery(void) {
  /* Every byte in its own read: the same outcome. */
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->chunk = 1;
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "bytewise"), 0);
  h_run(&w);
  CHECK_STR(body_of(&l->b, 0), "bytewise");
  h_world_free(&w);
}

static void test_stanza_limit(void) {
  h_world w;
  world(&w);
  B.limits.max_stanza_bytes = 1024;
  h_link *l = dialback_link(&w);
  char body[2048];
  memset(body, 'x', sizeof(body) - 1);
  body[sizeof(body) - 1] = '\0';
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "small"), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  /* A peer that ignores the advertised limit gets policy-violation. */
  char raw[2300];
  snprintf(raw, sizeof(raw),
           "<message from='a.test' to='b.test'><body>%s</body></message>",
           body);
  h_inject(&l->b, raw);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
  CHECK_INT(l->a.close.origin, XS2S_CLOSED_BY_PEER);
  B.limits.max_stanza_bytes = 0;
  h_world_free(&w);
}

/* XEP-0478: the receiving side advertises its limits; the initiating side
 * refuses to send what the peer would not accept (the stream stays up) and
 * keeps its keepalives within the peer's idle time. */
static size_t bytes_to_b;
static size_t count_to_b(h_link *l, int dir, char *buf, size_t len,
                         size_t cap) {
  (void)l;
  (void)buf;
  (void)cap;
  if (dir == 0)
    bytes_to_b += len;
  return len;
}

/* XEP-0288: with both sides willing, the receiving side answers on the
 * stream the initiating side opened, for the pair the peer proved. */
static void test_bidi(void) {
  h_world w;
  world(&w);
  w.bidi_init = w.bidi_recv = 1;
  h_link *l = dialback_link(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(xs2s_session_is_bidi(l->a.s), 1);
  CHECK_INT(xs2s_session_is_bidi(l->b.s), 1);
  CHECK_INT(send_message(&l->a, "a.test", "b.test", "there"), 0);
  CHECK_INT(send_message(&l->b, "b.test", "a.test", "and back"), 0);
  h_run(&w);
  CHECK_STR(body_of(&l->b, 0), "there");
  CHECK_INT(l->a.n_stanzas, 1);
  CHECK_STR(body_of(&l->a, 0), "and back");
  /* Only the reverse of a proved pair: b.test has not proved c.test. */
  CHECK_INT(send_message(&l->b, "b.test", "c.test", "no"),
            XS2S_ERR_NOT_AUTHENTICATED);
  CHECK_INT(l->a.closed + l->b.closed, 0);
  /* A forged 'from' on the way back costs the stream. */
  h_inject(&l->a, "<message from='x.test' to='a.test'><body>x</body>"
                  "</message>");
  h_run(&w);
  CHECK_INT(l->a.n_stanzas, 1);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_INVALID_FROM);
  h_world_free(&w);
}

/* Offered but not requested (or requested but not offered): one-way. */
static void test_bidi_one_sided(void) {
  for (int i = 0; i < 2; i++) {
    h_world w;
    world(&w);
    w.bidi_init = i;
    w.bidi_recv = !i;
    h_link *l = dialback_link(&w);
    CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
    CHECK_INT(xs2s_session_is_bidi(l->a.s), 0);
    CHECK_INT(xs2s_session_is_bidi(l->b.s), 0);
    CHECK_INT(send_message(&l->b, "b.test", "a.test", "no"),
              XS2S_ERR_BAD_STATE);
    CHECK_INT(send_message(&l->a, "a.test", "b.test", "yes"), 0);
    h_run(&w);
    CHECK_INT(l->b.n_stanzas, 1);
    CHECK_INT(l->a.closed + l->b.closed, 0);
    h_world_free(&w);
  }
}

static void test_stream_limits(void) {
  h_world w;
  world(&w);
  B.limits.max_stanza_bytes = 1024;
  w.idle_ms = 20000;
  h_link *l = dialback_link(&w);
  uint64_t max = 0, idle = 0;
  CHECK_INT(xs2s_session_peer_limits(l->a.s, &max, &idle), 1);
  CHECK_INT(max, 1024);
  CHECK_INT(idle, 20);
  char body[2048];
  memset(body, 'x', sizeof(body) - 1);
  body[sizeof(body) - 1] = '\0';
  CHECK_INT(send_message(&l->a, "a.test", "b.test", body), XS2S_ERR_LIMIT);
  CHECK_INT(xs2s_session_want_write(l->a.s), 0); /* nothing of it queued */
  body[900] = '\0';
  CHECK_INT(send_message(&l->a, "a.test", "b.test", body), 0);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  CHECK_INT(l->a.closed + l->b.closed, 0);
  /* Keepalive: 60 s configured, but the peer tolerates 20 s of silence:
   * a space goes out within 10 s (after the stream management request
   * for the stanza above has been answered). */
  h_advance(&w, 2000);
  bytes_to_b = 0;
  l->filter = count_to_b;
  h_advance(&w, 11000);
  CHECK_INT(bytes_to_b, 1);
  CHECK_INT(l->a.closed + l->b.closed, 0);
  B.limits.max_stanza_bytes = 0;
  h_world_free(&w);
}

/* An allocator that fails from the n-th call on. */
static long alloc_budget;
static long alloc_calls;
static void *budget_malloc(size_t n, void *ud) {
  (void)ud;
  alloc_calls++;
  return alloc_budget-- > 0 ? malloc(n) : NULL;
}
static void *budget_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  alloc_calls++;
  return alloc_budget-- > 0 ? realloc(p, n) : NULL;
}
static void budget_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_out_of_memory(void) {
  static const xs2s_mem mem = {budget_malloc, budget_realloc, budget_free,
                               NULL};
  /* Count what a whole exchange allocates, then fail each allocation in
   * turn: every run must end without a crash or a leak. */
  alloc_budget = 1L << 30;
  alloc_calls = 0;
  A.mem = &mem;
  B.mem = &mem;
  h_world w;
  world(&w);
  h_link *l = dialback_link(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  send_message(&l->a, "a.test", "b.test", "x");
  h_run(&w);
  h_world_free(&w);
  long total = alloc_calls;
  CHECK(total > 10);
  int ok = 0;
  for (long k = 0; k < total; k++) {
    alloc_budget = k;
    world(&w);
    l = dialback_link(&w);
    if (l->a.s)
      send_message(&l->a, "a.test", "b.test", "x");
    h_advance(&w, XS2S_SESSION_DEFAULT_HANDSHAKE_MS +
                      XS2S_SESSION_DEFAULT_CLOSE_MS);
    ok += l->b.n_stanzas;
    h_world_free(&w);
  }
  CHECK(ok < total); /* the failures did bite */
  A.mem = B.mem = NULL;
}

int main(void) {
  RUN(test_config_checks);
  RUN(test_dialback_clear_text);
  RUN(test_header_and_features);
  RUN(test_host_unknown);
  RUN(test_bad_namespace);
  RUN(test_not_well_formed);
  RUN(test_stanza_before_auth);
  RUN(test_spoofed_from);
  RUN(test_to_not_local);
  RUN(test_missing_addresses);
  RUN(test_stanza_to_initiating_side);
  RUN(test_peer_stream_error);
  RUN(test_unexpected_eof);
  RUN(test_keepalive_and_idle);
  RUN(test_handshake_timeout);
  RUN(test_dialback_invalid_key);
  RUN(test_dialback_wrong_secret);
  RUN(test_dialback_timeout);
  RUN(test_dialback_error_keeps_stream);
  RUN(test_dialback_piggyback);
  RUN(test_dialback_piggyback_both_valid);
  RUN(test_forged_verify_answer);
  RUN(test_replayed_key);
  RUN(test_dialback_policy_forbids);
  RUN(test_verify_before_open_and_close);
  RUN(test_authoritative_answers);
  RUN(test_arbitrary_bytes);
  RUN(test_chunked_delivery);
  RUN(test_stanza_limit);
  RUN(test_stream_limits);
  RUN(test_bidi);
  RUN(test_bidi_one_sided);
  RUN(test_out_of_memory);
  return check_finish();
}
