/* The gateway's XEP-0114 component streams over memory: the handshake,
 * wrong secrets, unknown domains, conflicts, the 'from' rules, closing,
 * and output bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "component.h"
#include "stanzas.h"

#define ID "3BF96D32"

typedef struct peer {
  int attach_calls;
  xs2s_stream_condition refuse;
  int stanzas;
  char last[4096];
  char out[16384]; /* everything the gateway wrote */
} peer;

static const char *secret_of(const char *domain, void *ud) {
  (void)ud;
  return strcmp(domain, "bot.a.test") == 0 ? "test" : NULL;
}

static xs2s_stream_condition on_attach(gw_component *c, const char *domain,
                                       void *ud) {
  (void)c;
  peer *p = ud;
  p->attach_calls++;
  CHECK_STR(domain, "bot.a.test");
  return p->refuse;
}

static void on_stanza(gw_component *c, xs2s_stanza *s, void *ud) {
  (void)c;
  peer *p = ud;
  size_t len;
  p->stanzas++;
  CHECK_INT(xs2s_stanza_serialize(s, p->last, sizeof(p->last), &len), 0);
}

static const gw_component_callbacks cbs = {secret_of, on_attach, on_stanza,
                                           NULL};

/* Moves the gateway's output into p->out. */
static void drain(gw_component *c, peer *p) {
  size_t len;
  const char *o = gw_component_output(c, &len);
  strncat(p->out, o ? o : "", len);
  gw_component_consume(c, len);
}

static int feed(gw_component *c, peer *p, const char *s) {
  int rc = gw_component_feed(c, s, strlen(s));
  drain(c, p);
  return rc;
}

#define HEADER                                                                 \
  "<stream:stream xmlns='jabber:component:accept' "                            \
  "xmlns:stream='http://etherx.jabber.org/streams' to='bot.a.test'>"
/* hex(SHA-1("3BF96D32" "test")), computed independently. */
#define DIGEST "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e"

static gw_component *ready(peer *p) {
  memset(p, 0, sizeof(*p));
  gw_component *c = gw_component_new(&cbs, p, ID, 65536, 4096);
  CHECK(c != NULL);
  CHECK_INT(feed(c, p, HEADER), 0);
  CHECK_INT(gw_component_state_of(c), GW_COMP_HANDSHAKE);
  CHECK_INT(feed(c, p, "<handshake>" DIGEST "</handshake>"), 0);
  CHECK_INT(gw_component_state_of(c), GW_COMP_READY);
  return c;
}

static void test_digest(void) {
  char hex[41];
  CHECK_INT(gw_component_handshake_digest(ID, "test", hex), 0);
  CHECK_STR(hex, DIGEST);
}

static void test_handshake(void) {
  peer p;
  gw_component *c = ready(&p);
  CHECK(strstr(p.out, "<?xml version='1.0'?><stream:stream ") == p.out);
  CHECK(strstr(p.out, "xmlns='jabber:component:accept'") != NULL);
  CHECK(strstr(p.out, "from='bot.a.test'") != NULL);
  CHECK(strstr(p.out, "id='" ID "'") != NULL);
  CHECK(strstr(p.out, "><handshake/>") != NULL);
  CHECK_INT(p.attach_calls, 1);
  CHECK_STR(gw_component_domain(c), "bot.a.test");
  gw_component_free(c);
}

/* Upper-case hex and one byte at a time are accepted too. */
static void test_handshake_bytewise(void) {
  peer p;
  memset(&p, 0, sizeof(p));
  gw_component *c = gw_component_new(&cbs, &p, ID, 65536, 4096);
  const char *in = HEADER "<handshake>AAEE83C26AEEAFCBABEABFCBCD50DF997E0A2A1E"
                          "</handshake>";
  for (size_t i = 0; in[i]; i++)
    CHECK_INT(gw_component_feed(c, in + i, 1), 0);
  CHECK_INT(gw_component_state_of(c), GW_COMP_READY);
  gw_component_free(c);
}

static void expect_error(gw_component *c, peer *p, const char *cond) {
  char want[200];
  snprintf(want, sizeof(want), "<stream:error><%s xmlns=", cond);
  CHECK(strstr(p->out, want) != NULL);
  CHECK(strstr(p->out, "</stream:error></stream:stream>") != NULL);
  CHECK_INT(gw_component_state_of(c), GW_COMP_CLOSED);
  CHECK(gw_component_done(c));
  if (!strstr(p->out, want))
    fprintf(stderr, "output: %s\n", p->out);
}

static void test_wrong_secret(void) {
  peer p;
  memset(&p, 0, sizeof(p));
  gw_component *c = gw_component_new(&cbs, &p, ID, 65536, 4096);
  feed(c, &p, HEADER);
  CHECK(feed(c, &p, "<handshake>0000000000000000000000000000000000000000"
                    "</handshake>") < 0);
  expect_error(c, &p, "not-authorized");
  CHECK_INT(p.attach_calls, 0);
  CHECK(gw_component_domain(c) == NULL);
  /* Input after the close is ignored. */
  CHECK_INT(feed(c, &p, "<message to='x'/>"), 0);
  CHECK_INT(p.stanzas, 0);
  gw_component_free(c);

  /* A digest of the wrong length, and a stanza instead of a handshake. */
  const char *bad[] = {"<handshake>" DIGEST "00</handshake>",
                       "<handshake/>",
                       "<message from='bot.a.test' to='b.test'/>"};
  for (size_t i = 0; i < 3; i++) {
    memset(&p, 0, sizeof(p));
    c = gw_component_new(&cbs, &p, ID, 65536, 4096);
    feed(c, &p, HEADER);
    CHECK(feed(c, &p, bad[i]) < 0);
    expect_error(c, &p, "not-authorized");
    gw_component_free(c);
  }
}

static void test_bad_header(void) {
  const struct {
    const char *header, *cond;
  } cases[] = {
      {"<stream:stream xmlns='jabber:component:accept' "
       "xmlns:stream='http://etherx.jabber.org/streams' to='other.test'>",
       "host-unknown"},
      {"<stream:stream xmlns='jabber:component:accept' "
       "xmlns:stream='http://etherx.jabber.org/streams'>",
       "host-unknown"},
      {"<stream:stream xmlns='jabber:server' "
       "xmlns:stream='http://etherx.jabber.org/streams' to='bot.a.test'>",
       "invalid-namespace"},
      {"<stream xmlns='jabber:component:accept' to='bot.a.test'>",
       "invalid-namespace"},
      {"<!DOCTYPE x>", "restricted-xml"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    peer p;
    memset(&p, 0, sizeof(p));
    gw_component *c = gw_component_new(&cbs, &p, ID, 65536, 4096);
    CHECK(feed(c, &p, cases[i].header) < 0);
    /* The error still follows a stream header of ours. */
    CHECK(strstr(p.out, "<stream:stream ") != NULL);
    expect_error(c, &p, cases[i].cond);
    gw_component_free(c);
  }
}

static void test_conflict(void) {
  peer p;
  memset(&p, 0, sizeof(p));
  p.refuse = XS2S_STREAM_ERR_CONFLICT;
  gw_component *c = gw_component_new(&cbs, &p, ID, 65536, 4096);
  feed(c, &p, HEADER);
  CHECK(feed(c, &p, "<handshake>" DIGEST "</handshake>") < 0);
  CHECK_INT(p.attach_calls, 1);
  expect_error(c, &p, "conflict");
  CHECK(strstr(p.out, "<handshake/>") == NULL);
  gw_component_free(c);
}

static void test_from_rules(void) {
  peer p;
  gw_component *c = ready(&p);
  /* The domain itself, a user at it, a resource: all fine, any case. */
  CHECK_INT(feed(c, &p, "<message from='bot.a.test' to='x@b.test'>"
                        "<body>1</body></message>"
                        "<presence from='Alice@BOT.a.test/r' to='b.test'/>"
                        "<iq from='bot.a.test./x' to='b.test' type='get' "
                        "id='1'/>"),
            0);
  CHECK_INT(p.stanzas, 3);
  CHECK_INT(gw_component_stanzas_in(c), 3);
  /* No 'from': the component's domain is filled in. */
  CHECK_INT(feed(c, &p, "<message to='x@b.test'/>"), 0);
  CHECK_INT(p.stanzas, 4);
  xs2s_stanza *last = xs2s_stanza_parse(p.last, strlen(p.last), NULL);
  CHECK_STR(xs2s_stanza_attr(last, "from"), "bot.a.test");
  xs2s_stanza_free(last);
  /* A subdomain is another domain: invalid-from, the stanza dropped. */
  CHECK(feed(c, &p, "<message from='evil.bot.a.test' to='x@b.test'/>") < 0);
  CHECK_INT(p.stanzas, 4);
  expect_error(c, &p, "invalid-from");
  gw_component_free(c);

  const char *bad[] = {"<message from='a.test' to='b.test'/>",
                       "<message from='x@b.test' to='b.test'/>",
                       "<message from='@bot.a.test' to='b.test'/>",
                       "<message from='bot.a.test/' to='b.test'/>"};
  for (size_t i = 0; i < 4; i++) {
    c = ready(&p);
    CHECK(feed(c, &p, bad[i]) < 0);
    expect_error(c, &p, "invalid-from");
    CHECK_INT(p.stanzas, 0);
    gw_component_free(c);
  }
  c = ready(&p);
  CHECK(feed(c, &p, "<message from='bot.a.test'/>") < 0);
  expect_error(c, &p, "improper-addressing");
  gw_component_free(c);
  c = ready(&p);
  CHECK(feed(c, &p, "<db:result xmlns:db='jabber:server:dialback' "
                    "from='bot.a.test' to='b.test'>k</db:result>") < 0);
  expect_error(c, &p, "unsupported-stanza-type");
  gw_component_free(c);
}

static void test_send(void) {
  peer p;
  gw_component *c = ready(&p);
  p.out[0] = '\0';
  const char *xml = "<message xmlns='jabber:server' from='x@b.test' "
                    "to='bot.a.test'><body>hi</body>"
                    "<x xmlns='jabber:x:oob'/></message>";
  xs2s_stanza *s = xs2s_stanza_parse(xml, strlen(xml), NULL);
  CHECK_INT(gw_component_send(c, s), 0);
  drain(c, &p);
  /* In the component namespace, the payload namespace kept. */
  xs2s_stanza *back = xs2s_stanza_parse(p.out, strlen(p.out), NULL);
  CHECK(xs2s_stanza_is(back, "message", XS2S_NS_COMPONENT));
  CHECK(xs2s_stanza_find_child(back, "body", XS2S_NS_COMPONENT) != NULL);
  CHECK(xs2s_stanza_find_child(back, "x", "jabber:x:oob") != NULL);
  CHECK_INT(gw_component_stanzas_out(c), 1);
  xs2s_stanza_free(back);
  /* A component that does not read: the bound refuses further stanzas. */
  int rc = 0, sent = 0;
  while ((rc = gw_component_send(c, s)) == 0 && sent < 1000)
    sent++;
  CHECK_INT(rc, XS2S_ERR_LIMIT);
  CHECK(sent > 10 && sent < 100);
  /* Reading makes room again. */
  size_t len;
  gw_component_output(c, &len);
  gw_component_consume(c, len);
  CHECK_INT(gw_component_send(c, s), 0);
  gw_component_free(c);

  /* Not before the handshake. */
  memset(&p, 0, sizeof(p));
  c = gw_component_new(&cbs, &p, ID, 65536, 4096);
  CHECK_INT(gw_component_send(c, s), XS2S_ERR_BAD_STATE);
  gw_component_free(c);
  xs2s_stanza_free(s);
}

static void test_close(void) {
  peer p;
  /* The component closes: we answer and are done. */
  gw_component *c = ready(&p);
  CHECK_INT(feed(c, &p, "</stream:stream>"), 0);
  CHECK_INT(gw_component_state_of(c), GW_COMP_CLOSED);
  CHECK(strstr(p.out, "<handshake/></stream:stream>") != NULL);
  CHECK(gw_component_done(c));
  gw_component_free(c);
  /* We close: CLOSING until the component's close arrives. */
  c = ready(&p);
  gw_component_close(c, XS2S_STREAM_ERR_NONE, NULL);
  drain(c, &p);
  CHECK_INT(gw_component_state_of(c), GW_COMP_CLOSING);
  CHECK(!gw_component_done(c));
  CHECK_INT(feed(c, &p, "<message from='bot.a.test' to='b.test'/>"), 0);
  CHECK_INT(p.stanzas, 0);
  CHECK_INT(feed(c, &p, "</stream:stream>"), 0);
  CHECK(gw_component_done(c));
  /* One </stream:stream> of ours, not two. */
  const char *first = strstr(p.out, "</stream:stream>");
  CHECK(first && !strstr(first + 1, "</stream:stream>"));
  gw_component_free(c);
  /* EOF without a close. */
  c = ready(&p);
  gw_component_eof(c);
  CHECK(gw_component_done(c));
  gw_component_free(c);
}

static void test_limits(void) {
  peer p;
  memset(&p, 0, sizeof(p));
  gw_component *c = gw_component_new(&cbs, &p, ID, 2048, 4096);
  feed(c, &p, HEADER "<handshake>" DIGEST "</handshake>");
  char big[4096];
  snprintf(big, sizeof(big), "<message from='bot.a.test' to='b.test'><body>");
  size_t head = strlen(big);
  memset(big + head, 'x', 3000);
  big[head + 3000] = '\0';
  CHECK(feed(c, &p, big) < 0);
  expect_error(c, &p, "policy-violation");
  gw_component_free(c);
  /* An id that does not fit is refused at creation. */
  char longid[100];
  memset(longid, 'a', sizeof(longid) - 1);
  longid[99] = '\0';
  CHECK(gw_component_new(&cbs, &p, longid, 2048, 4096) == NULL);
}

static void test_jid_domain(void) {
  char d[64];
  CHECK_INT(gw_jid_domain("u@Example.COM./r@x", d, sizeof(d)), 0);
  CHECK_STR(d, "example.com");
  CHECK_INT(gw_jid_domain("example.com", d, sizeof(d)), 0);
  CHECK_STR(d, "example.com");
  CHECK_INT(gw_jid_domain("@example.com", d, sizeof(d)), -1);
  CHECK_INT(gw_jid_domain("u@", d, sizeof(d)), -1);
  CHECK_INT(gw_jid_domain("a@b@c", d, sizeof(d)), -1);
  CHECK_INT(gw_jid_domain("example.com/", d, sizeof(d)), -1);
  CHECK_INT(gw_jid_domain("", d, sizeof(d)), -1);
  CHECK_INT(gw_jid_domain("a-very-long-domain.example", d, 8), -1);
}

int main(void) {
  RUN(test_digest);
  RUN(test_handshake);
  RUN(test_handshake_bytewise);
  RUN(test_wrong_secret);
  RUN(test_bad_header);
  RUN(test_conflict);
  RUN(test_from_rules);
  RUN(test_send);
  RUN(test_close);
  RUN(test_limits);
  RUN(test_jid_domain);
  return check_finish();
}
