/*
 * Session tests of XEP-0198 stream management: negotiation after
 * authentication, acknowledgement requests and answers, counts that wrap
 * modulo 2^32, a peer claiming too much, resumption accepted and refused,
 * and stream management elements at the wrong time or in the wrong
 * direction.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "session_harness.h"

static h_server A = {{"a.test", "a2.test"}, 2, XS2S_SECURITY_OFF, NULL,
                     "secret-of-a", 0, NULL, NULL, {0}};
static h_server B = {{"b.test"}, 1, XS2S_SECURITY_OFF, NULL, "secret-of-b",
                     0, NULL, NULL, {0}};

static const char raw_header[] =
    "<stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns:db='jabber:server:dialback' from='a.test' to='b.test' "
    "version='1.0'>";

static void world(h_world *w) {
  h_world_init(w);
  h_add_server(w, &A);
  h_add_server(w, &B);
  w->sm_resume_s = 60;
}

static int send_n(h_peer *p, int n) {
  int ok = 0;
  for (int i = 0; i < n; i++) {
    xs2s_stanza *m = h_message("alice@a.test", "bob@b.test", "hi");
    ok += xs2s_session_send(p->s, m) == 0;
    xs2s_stanza_free(m);
  }
  return ok;
}

/* Records what the initiating side writes. */
static char wire[65536];
static size_t wire_len;
static size_t record(h_link *l, int dir, char *buf, size_t len, size_t cap) {
  (void)l;
  (void)cap;
  if (dir == 0 && wire_len + len < sizeof(wire)) {
    memcpy(wire + wire_len, buf, len);
    wire_len += len;
    wire[wire_len] = '\0';
  }
  return len;
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

static void test_negotiation(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  xs2s_sm_info ia, ib;
  CHECK_INT(xs2s_session_sm_info(l->a.s, &ia), 1);
  CHECK_INT(xs2s_session_sm_info(l->b.s, &ib), 1);
  CHECK_INT(l->a.n_sm[XS2S_SM_ENABLED], 1);
  CHECK_INT(l->b.n_sm[XS2S_SM_ENABLED], 1);
  CHECK_INT(l->a.sm_last.max_s, 60);
  CHECK(ia.resumable && ib.resumable);
  CHECK(ia.id && ib.id && strcmp(ia.id, ib.id) == 0);
  CHECK_INT(strlen(ib.id), 32);
  CHECK_INT(l->a.closed + l->b.closed, 0);
  h_world_free(&w);

  /* Acknowledgements only: no id when the receiving side keeps no state. */
  world(&w);
  w.sm_resume_s = 0;
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(xs2s_session_sm_info(l->a.s, &ia), 1);
  CHECK_INT(ia.resumable, 0);
  CHECK(ia.id == NULL);
  h_world_free(&w);

  /* Switched off: nothing offered, nothing asked. */
  world(&w);
  w.sm_off = 1;
  wire_len = 0;
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = record;
  h_run(&w);
  CHECK(h_authenticated(&l->b, "b.test", "a.test", XS2S_AUTH_DIALBACK));
  CHECK_INT(xs2s_session_sm_info(l->a.s, &ia), 0);
  CHECK_INT(xs2s_session_sm_info(l->b.s, &ib), 0);
  CHECK(strstr(wire, "urn:xmpp:sm:3") == NULL);
  CHECK_INT(send_n(&l->a, 3), 3);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 3);
  h_world_free(&w);
}

/* Blanks the receiving side's <sm/> offer out of its features. */
static size_t hide_sm(h_link *l, int dir, char *buf, size_t len, size_t cap) {
  (void)l;
  (void)cap;
  static const char offer[] = "<sm xmlns='urn:xmpp:sm:3'/>";
  if (dir != 1)
    return len;
  for (size_t i = 0; i + sizeof(offer) - 1 <= len; i++)
    if (memcmp(buf + i, offer, sizeof(offer) - 1) == 0)
      memset(buf + i, ' ', sizeof(offer) - 1);
  return len;
}

/* The peer does not offer <sm/>: nothing is asked; a resumption asked
 * for fails at once (the embedder bounces). */
static void test_not_offered(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = hide_sm;
  h_run(&w);
  xs2s_sm_info i;
  CHECK_INT(xs2s_session_sm_info(l->a.s, &i), 0);
  CHECK_INT(xs2s_session_sm_info(l->b.s, &i), 0);
  CHECK_INT(l->a.n_sm[XS2S_SM_FAILED] + l->a.n_sm[XS2S_SM_ENABLED], 0);
  CHECK_INT(send_n(&l->a, 2), 2);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 2);
  h_world_free(&w);

  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = hide_sm;
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "prev-7", 0, 3), 0);
  h_run(&w);
  CHECK_INT(l->a.n_sm[XS2S_SM_FAILED], 1);
  CHECK_INT(l->a.sm_last.resume, 1);
  CHECK_INT(l->a.sm_last.has_h, 0);
  CHECK_INT(xs2s_session_sm_info(l->a.s, &i), 0);
  CHECK_INT(send_n(&l->a, 1), 1); /* not blocked */
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  h_world_free(&w);
}

static void test_acks(void) {
  h_world w;
  world(&w);
  w.sm_ack_every = 4;
  wire_len = 0;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = record;
  h_run(&w);
  size_t before = count_of(wire, "<r xmlns");
  CHECK_INT(before, 0);
  /* Ten stanzas written in one go: <r/> after the fourth and the eighth
   * (every four, answered or not). */
  CHECK_INT(send_n(&l->a, 10), 10);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 10);
  xs2s_sm_info ia, ib;
  xs2s_session_sm_info(l->a.s, &ia);
  xs2s_session_sm_info(l->b.s, &ib);
  CHECK_INT(ia.sent, 10);
  CHECK_INT(ib.handled, 10);
  CHECK_INT(count_of(wire, "<r xmlns"), 2);
  CHECK_INT(ia.acked, 8);
  /* The rest is asked for after a quiet second. */
  h_advance(&w, 1500);
  xs2s_session_sm_info(l->a.s, &ia);
  CHECK_INT(ia.acked, 10);
  CHECK_INT(l->a.sm_acked, 10);
  CHECK_INT(count_of(wire, "<r xmlns"), 3);
  /* Nothing unacknowledged: no more requests, whatever the time. */
  h_advance(&w, 5000);
  CHECK_INT(count_of(wire, "<r xmlns"), 3);
  /* The embedder's request (its queue drained). */
  CHECK_INT(xs2s_session_sm_request_ack(l->a.s), 0);
  CHECK_INT(send_n(&l->a, 1), 1);
  CHECK_INT(xs2s_session_sm_request_ack(l->a.s), 1);
  CHECK_INT(xs2s_session_sm_request_ack(l->a.s), 0); /* one outstanding */
  h_run(&w);
  CHECK_INT(l->a.sm_acked, 11);
  /* An orderly close asks for the last acknowledgement first. */
  CHECK_INT(send_n(&l->a, 2), 2);
  CHECK_INT(xs2s_session_close(l->a.s, XS2S_STREAM_ERR_NONE, NULL), 0);
  h_run(&w);
  CHECK_INT(l->a.sm_acked, 13);
  CHECK_INT(l->a.closed, 1);
  CHECK_INT(l->a.close.error, 0);
  CHECK_INT(l->b.close.error, 0);
  h_world_free(&w);
}

static void test_too_high(void) {
  h_world w;
  world(&w);
  wire_len = 0;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  l->filter = record;
  h_run(&w);
  CHECK_INT(send_n(&l->a, 3), 3);
  h_run(&w);
  /* The peer claims four of three. */
  CHECK(h_inject(&l->a, "<a xmlns='urn:xmpp:sm:3' h='4'/>") < 0);
  h_run(&w);
  CHECK_INT(l->a.closed, 1);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_UNDEFINED_CONDITION);
  CHECK(strstr(wire, "<handled-count-too-high xmlns='urn:xmpp:sm:3' h='4' "
                     "send-count='3'/>") != NULL);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_UNDEFINED_CONDITION);
  /* The peer's own last acknowledgement, before its close, is true. */
  CHECK_INT(l->a.sm_acked, 3);
  h_world_free(&w);

  /* Malformed counts are stream errors too. */
  const char *bad[] = {"<a xmlns='urn:xmpp:sm:3' h='-1'/>",
                       "<a xmlns='urn:xmpp:sm:3' h='4294967296'/>",
                       "<a xmlns='urn:xmpp:sm:3'/>",
                       "<a xmlns='urn:xmpp:sm:3' h=' 1'/>"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    world(&w);
    l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
    h_run(&w);
    CHECK(h_inject(&l->a, bad[i]) < 0);
    CHECK(xs2s_session_get_state(l->a.s) >= XS2S_SESSION_CLOSING);
    h_world_free(&w);
  }

  /* The receiving side sends nothing: any h but 0 from the initiating
   * side is too high. */
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(h_inject(&l->b, "<a xmlns='urn:xmpp:sm:3' h='0'/>"), 32);
  CHECK(h_inject(&l->b, "<a xmlns='urn:xmpp:sm:3' h='1'/>") < 0);
  h_run(&w);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_UNDEFINED_CONDITION);
  h_world_free(&w);
}

/* A resumption whose counts cross 2^32. */
static void test_resume_wraparound(void) {
  h_world w;
  world(&w);
  w.sm_ack_every = 1000;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  /* 32 stanzas were unacknowledged: from 2^32 - 16 to 16 (wrapped). */
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "prev-1", 0xFFFFFFF0u, 0x10u), 0);
  l->b.sm_accept_id = "prev-1";
  l->b.sm_accept_handled = 0xFFFFFFF8u; /* 8 of them were handled */
  l->b.sm_pair_local = "b.test";
  l->b.sm_pair_remote = "a.test";
  h_run(&w);
  CHECK_INT(l->b.n_sm[XS2S_SM_RESUME_REQUEST], 1);
  CHECK_INT(l->a.n_sm[XS2S_SM_RESUMED], 1);
  CHECK_INT(l->a.sm_last.count, 8);
  CHECK_INT(l->a.sm_last.h, 0xFFFFFFF8u);
  xs2s_sm_info ia, ib;
  xs2s_session_sm_info(l->a.s, &ia);
  xs2s_session_sm_info(l->b.s, &ib);
  CHECK(ia.on && ia.resumable && strcmp(ia.id, "prev-1") == 0);
  CHECK_INT(ib.handled, 0xFFFFFFF8u);
  /* The 24 others again, then the count goes on through zero. */
  CHECK_INT(send_n(&l->a, 24), 24);
  h_run(&w);
  h_advance(&w, 1500);
  xs2s_session_sm_info(l->a.s, &ia);
  xs2s_session_sm_info(l->b.s, &ib);
  CHECK_INT(ib.handled, 0x10u);
  CHECK_INT(ia.sent, 0x10u);
  CHECK_INT(ia.acked, 0x10u);
  CHECK_INT(l->a.sm_acked, 24);
  CHECK_INT(l->a.closed + l->b.closed, 0);
  h_world_free(&w);

  /* <resumed/> claiming more than was sent, across the wrap. */
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "prev-2", 0xFFFFFFF0u, 0x10u), 0);
  l->b.sm_accept_id = "prev-2";
  l->b.sm_accept_handled = 0x11u;
  l->b.sm_pair_local = "b.test";
  l->b.sm_pair_remote = "a.test";
  h_run(&w);
  CHECK_INT(l->a.n_sm[XS2S_SM_RESUMED], 0);
  CHECK_INT(l->a.closed, 1);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_UNDEFINED_CONDITION);
  h_world_free(&w);
}

static void test_resume_refused(void) {
  h_world w;
  world(&w);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "prev-3", 5, 9), 0);
  /* The state belongs to another domain pair (a2.test -> b.test): this
   * stream, authenticated for a.test, may not take it over. */
  l->b.sm_accept_id = "prev-3";
  l->b.sm_pair_local = "b.test";
  l->b.sm_pair_remote = "a2.test";
  /* Sends wait while the resumption is unanswered. */
  h_run(&w);
  CHECK_INT(l->b.n_sm[XS2S_SM_RESUME_REQUEST], 1);
  CHECK_INT(l->a.n_sm[XS2S_SM_FAILED], 1);
  CHECK_INT(l->a.sm_last.type, XS2S_SM_ENABLED);
  CHECK_INT(l->a.n_sm[XS2S_SM_RESUMED], 0);
  /* Then stream management starts afresh on the new stream. */
  CHECK_INT(l->a.n_sm[XS2S_SM_ENABLED], 1);
  xs2s_sm_info ia;
  CHECK_INT(xs2s_session_sm_info(l->a.s, &ia), 1);
  CHECK(strcmp(ia.id, "prev-3") != 0);
  CHECK_INT(send_n(&l->a, 2), 2);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 2);
  CHECK_INT(l->a.closed + l->b.closed, 0);
  h_world_free(&w);

  /* An unknown id: refused the same way. */
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "nobody-knows", 0, 1), 0);
  h_run(&w);
  CHECK_INT(l->a.n_sm[XS2S_SM_FAILED], 1);
  CHECK_INT(l->a.n_sm[XS2S_SM_ENABLED], 1);
  h_world_free(&w);

  world(&w);
  w.sm_off = 1;
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  /* sm_off applies to both; the refusal of the call says so. */
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "prev-4", 0, 1),
            XS2S_ERR_BAD_STATE);
  h_world_free(&w);
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "bad id", 0, 1),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_session_sm_resume(l->b.s, "prev-5", 0, 1),
            XS2S_ERR_BAD_STATE);
  h_run(&w);
  CHECK_INT(xs2s_session_sm_resume(l->a.s, "prev-6", 0, 1),
            XS2S_ERR_BAD_STATE); /* too late: authenticated */
  h_world_free(&w);
}

static void test_before_auth(void) {
  h_world w;
  world(&w);
  /* <enable/> before any pair is authenticated: <failed/> with
   * unexpected-request; the stream goes on. */
  h_link *l = h_connect(&w, NULL, NULL, &B, "b.test", 0);
  h_raw_send(&l->a, raw_header);
  h_run(&w);
  CHECK(strstr(h_raw_text(&l->a), "<sm xmlns='urn:xmpp:sm:3'/>") != NULL);
  h_raw_send(&l->a, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  h_run(&w);
  CHECK(strstr(h_raw_text(&l->a),
               "<failed xmlns='urn:xmpp:sm:3'><unexpected-request") != NULL);
  CHECK_INT(l->b.closed, 0);
  CHECK_INT(l->b.n_sm[XS2S_SM_ENABLED], 0);
  /* <resume/> likewise. */
  h_raw_send(&l->a, "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>");
  h_run(&w);
  CHECK_INT(count_of(h_raw_text(&l->a), "<unexpected-request"), 2);
  CHECK_INT(l->b.n_sm[XS2S_SM_RESUME_REQUEST], 0);
  /* <r/> without stream management: a stream error. */
  h_raw_send(&l->a, "<r xmlns='urn:xmpp:sm:3'/>");
  h_run(&w);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_CLOSING);
  CHECK(strstr(h_raw_text(&l->a), "<unsupported-stanza-type") != NULL);
  CHECK(strstr(h_raw_text(&l->a), "<a xmlns") == NULL);
  h_world_free(&w);

  /* Wrong direction: the initiating side's elements sent to it. */
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_inject(&l->a, "<enable xmlns='urn:xmpp:sm:3'/>") < 0);
  h_run(&w);
  CHECK_INT(l->a.close.condition, XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE);
  h_world_free(&w);
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_inject(&l->b, "<enabled xmlns='urn:xmpp:sm:3' id='x'/>") < 0);
  h_run(&w);
  CHECK_INT(l->b.close.condition, XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE);
  h_world_free(&w);
  /* A second <enabled/> or an unasked <resumed/>. */
  world(&w);
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK(h_inject(&l->a, "<resumed xmlns='urn:xmpp:sm:3' previd='x' h='0'/>") <
        0);
  h_world_free(&w);
  /* A second <enable/> on an enabled stream: <failed/>, no new id. */
  world(&w);
  wire_len = 0;
  l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  xs2s_sm_info ib;
  xs2s_session_sm_info(l->b.s, &ib);
  char id[80];
  snprintf(id, sizeof(id), "%s", ib.id);
  CHECK(h_inject(&l->b, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>") > 0);
  xs2s_session_sm_info(l->b.s, &ib);
  CHECK(strcmp(ib.id, id) == 0);
  CHECK_INT(l->b.n_sm[XS2S_SM_ENABLED], 1);
  h_world_free(&w);
}

/* Records what the receiving side writes and keeps it from the other. */
static size_t swallow_to_a(h_link *l, int dir, char *buf, size_t len,
                           size_t cap) {
  (void)l;
  (void)cap;
  if (dir != 1)
    return len;
  if (wire_len + len < sizeof(wire)) {
    memcpy(wire + wire_len, buf, len);
    wire_len += len;
    wire[wire_len] = '\0';
  }
  return 0;
}

/* Bidirectional streams carry stanzas both ways: no stream management;
 * a peer that asks anyway is refused, not cut off. */
static void test_bidi(void) {
  h_world w;
  world(&w);
  w.bidi_init = w.bidi_recv = 1;
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  CHECK_INT(xs2s_session_is_bidi(l->a.s), 1);
  xs2s_sm_info i;
  CHECK_INT(xs2s_session_sm_info(l->a.s, &i), 0);
  CHECK_INT(xs2s_session_sm_info(l->b.s, &i), 0);
  wire_len = 0;
  l->filter = swallow_to_a; /* what b.test answers, a.test never asked */
  CHECK(h_inject(&l->b, "<enable xmlns='urn:xmpp:sm:3'/>") > 0);
  h_run(&w);
  CHECK(strstr(wire, "<failed xmlns='urn:xmpp:sm:3'><feature-not-implemented")
        != NULL);
  CHECK_INT(xs2s_session_get_state(l->b.s), XS2S_SESSION_OPEN);
  CHECK_INT(l->b.n_sm[XS2S_SM_ENABLED], 0);
  h_world_free(&w);
}

int main(void) {
  RUN(test_negotiation);
  RUN(test_not_offered);
  RUN(test_acks);
  RUN(test_too_high);
  RUN(test_resume_wraparound);
  RUN(test_resume_refused);
  RUN(test_before_auth);
  RUN(test_bidi);
  return check_finish();
}
