/* Error replies per RFC 6120 8.3: addressing, id, payload, the <error/>
 * element, which stanzas are never answered, and running out of memory. */
#include <stdlib.h>

#include <xs2s/xs2s.h>

#include "bounce.h"
#include "check.h"

static xs2s_stanza *parse(const char *xml) {
  int err = 0;
  xs2s_stanza *s = xs2s_stanza_parse(xml, strlen(xml), &err);
  CHECK(s != NULL);
  CHECK_INT(err, 0);
  return s;
}

static int child_count(const xs2s_stanza *s) {
  int n = 0;
  for (const xs2s_stanza *c = xs2s_stanza_first_child(s); c;
       c = xs2s_stanza_next(c))
    n += xs2s_stanza_type(c) == XS2S_NODE_ELEMENT;
  return n;
}

static void test_message(void) {
  xs2s_stanza *orig = parse(
      "<message xmlns='jabber:server' from='romeo@home.example/orchard' "
      "to='juliet@far.example' type='chat' id='m1' xml:lang='it'>"
      "<body>Wherefore?</body><thread>t1</thread></message>");
  xs2s_stanza *reply = NULL;
  CHECK_INT(xs2s__bounce_build(orig, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
                               "far.example has no XMPP service",
                               "home.example", 4096, NULL, &reply),
            0);
  CHECK(xs2s_stanza_is(reply, "message", XS2S_NS_SERVER));
  CHECK_STR(xs2s_stanza_attr(reply, "from"), "juliet@far.example");
  CHECK_STR(xs2s_stanza_attr(reply, "to"), "romeo@home.example/orchard");
  CHECK_STR(xs2s_stanza_attr(reply, "type"), "error");
  CHECK_STR(xs2s_stanza_attr(reply, "id"), "m1");
  CHECK_STR(xs2s_stanza_attr_ns(reply, "lang", XS2S_NS_XML), "it");
  /* The payload comes back, then the error. */
  CHECK_INT(child_count(reply), 3);
  const xs2s_stanza *body = xs2s_stanza_find_child(reply, "body", NULL);
  CHECK(body != NULL);
  CHECK_STR(xs2s_stanza_text(body), "Wherefore?");
  const xs2s_stanza *err = xs2s_stanza_find_child(reply, "error", NULL);
  CHECK(err != NULL);
  CHECK_STR(xs2s_stanza_ns(err), XS2S_NS_SERVER);
  CHECK_STR(xs2s_stanza_attr(err, "type"), "cancel");
  CHECK_STR(xs2s_stanza_attr(err, "by"), "home.example");
  const xs2s_stanza *cond = xs2s_stanza_first_child(err);
  CHECK(xs2s_stanza_is(cond, "remote-server-not-found",
                       XS2S_NS_STANZA_ERRORS));
  CHECK(xs2s_stanza_first_child(cond) == NULL);
  const xs2s_stanza *text =
      xs2s_stanza_find_child(err, "text", XS2S_NS_STANZA_ERRORS);
  CHECK(text != NULL);
  CHECK_STR(xs2s_stanza_text(text), "far.example has no XMPP service");
  CHECK_STR(xs2s_stanza_attr_ns(text, "lang", XS2S_NS_XML), "en");
  /* It serialises to XML that parses back to the same reply. */
  char buf[1024];
  size_t len;
  CHECK_INT(xs2s_stanza_serialize(reply, buf, sizeof(buf), &len), 0);
  xs2s_stanza *again = parse(buf);
  CHECK_STR(xs2s_stanza_attr(again, "type"), "error");
  /* An error is never answered: bouncing the bounce gives nothing. */
  xs2s_stanza *second = (xs2s_stanza *)1;
  CHECK_INT(xs2s__bounce_build(again, XS2S_STANZA_ERR_SERVICE_UNAVAILABLE,
                               NULL, NULL, 4096, NULL, &second),
            XS2S__BOUNCE_NONE);
  CHECK(second == NULL);
  xs2s_stanza_free(again);
  xs2s_stanza_free(reply);
  xs2s_stanza_free(orig);
}

static void test_payload_limit_and_minimal(void) {
  xs2s_stanza *orig = parse("<message xmlns='jabber:server' from='a@x.example' "
                            "to='b@y.example'><body>a long text</body>"
                            "</message>");
  xs2s_stanza *reply;
  /* Too large to send back: only the error. No text, no by, no id. */
  CHECK_INT(xs2s__bounce_build(orig, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT,
                               NULL, NULL, 20, NULL, &reply),
            0);
  CHECK_INT(child_count(reply), 1);
  CHECK(xs2s_stanza_attr(reply, "id") == NULL);
  const xs2s_stanza *err = xs2s_stanza_find_child(reply, "error", NULL);
  CHECK_STR(xs2s_stanza_attr(err, "type"), "wait");
  CHECK(xs2s_stanza_attr(err, "by") == NULL);
  CHECK_INT(child_count(err), 1);
  xs2s_stanza_free(reply);
  /* max_payload 0 never copies. */
  CHECK_INT(xs2s__bounce_build(orig, XS2S_STANZA_ERR_POLICY_VIOLATION, NULL,
                               NULL, 0, NULL, &reply),
            0);
  CHECK_INT(child_count(reply), 1);
  CHECK_STR(xs2s_stanza_attr(xs2s_stanza_find_child(reply, "error", NULL),
                             "type"),
            "modify");
  xs2s_stanza_free(reply);
  xs2s_stanza_free(orig);
}

static void test_iq(void) {
  xs2s_stanza *get = parse("<iq xmlns='jabber:client' type='get' id='p1' "
                           "from='a@x.example/r' to='y.example'>"
                           "<ping xmlns='urn:xmpp:ping'/></iq>");
  xs2s_stanza *reply;
  CHECK_INT(xs2s__bounce_build(get, XS2S_STANZA_ERR_SERVICE_UNAVAILABLE, NULL,
                               NULL, 1024, NULL, &reply),
            0);
  CHECK(xs2s_stanza_is(reply, "iq", XS2S_NS_CLIENT)); /* same namespace */
  CHECK_STR(xs2s_stanza_attr(reply, "id"), "p1");
  CHECK(xs2s_stanza_find_child(reply, "ping", "urn:xmpp:ping") != NULL);
  xs2s_stanza_free(reply);
  xs2s_stanza_free(get);

  /* An iq without id still gets one, empty. */
  xs2s_stanza *noid = parse("<iq xmlns='jabber:server' type='set' "
                            "from='x.example' to='y.example'/>");
  CHECK_INT(xs2s__bounce_build(noid, XS2S_STANZA_ERR_BAD_REQUEST, NULL, NULL,
                               0, NULL, &reply),
            0);
  CHECK_STR(xs2s_stanza_attr(reply, "id"), "");
  xs2s_stanza_free(reply);
  xs2s_stanza_free(noid);

  static const char *const never[] = {
      "<iq xmlns='jabber:server' type='result' id='1' from='a.example' "
      "to='b.example'/>",
      "<iq xmlns='jabber:server' type='error' id='1' from='a.example' "
      "to='b.example'/>",
  };
  for (size_t i = 0; i < 2; i++) {
    xs2s_stanza *s = parse(never[i]);
    CHECK_INT(xs2s__bounce_due(s), 0);
    CHECK_INT(xs2s__bounce_build(s, XS2S_STANZA_ERR_SERVICE_UNAVAILABLE, NULL,
                                 NULL, 0, NULL, &reply),
              XS2S__BOUNCE_NONE);
    xs2s_stanza_free(s);
  }
}

static void test_which_are_answered(void) {
  static const struct {
    const char *xml;
    int due;
  } cases[] = {
      {"<presence xmlns='jabber:server' from='a@x.example' to='b@y.example'/>",
       1},
      {"<presence xmlns='jabber:server' type='subscribe' from='a@x.example' "
       "to='b@y.example'/>",
       1},
      {"<presence xmlns='jabber:server' type='unavailable' from='a@x.example' "
       "to='b@y.example'/>",
       0},
      {"<presence xmlns='jabber:server' type='probe' from='a@x.example' "
       "to='b@y.example'/>",
       0},
      {"<presence xmlns='jabber:server' type='error' from='a@x.example' "
       "to='b@y.example'/>",
       0},
      {"<message xmlns='jabber:server' type='error' from='a@x.example' "
       "to='b@y.example'/>",
       0},
      {"<message xmlns='jabber:server' type='groupchat' from='a@x.example' "
       "to='b@y.example'/>",
       1},
      {"<message xmlns='jabber:server' to='b@y.example'/>", 0}, /* no from */
      {"<message xmlns='jabber:server' from='a@x.example'/>", 1}, /* no to */
      {"<db:result xmlns:db='jabber:server:dialback' from='x.example' "
       "to='y.example'>key</db:result>",
       0},
      {"<foo xmlns='jabber:server' from='x.example' to='y.example'/>", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    xs2s_stanza *s = parse(cases[i].xml);
    xs2s_stanza *reply = NULL;
    int rc = xs2s__bounce_build(s, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
                                NULL, NULL, 0, NULL, &reply);
    if (xs2s__bounce_due(s) != cases[i].due ||
        rc != (cases[i].due ? 0 : XS2S__BOUNCE_NONE))
      fprintf(stderr, "case %zu: %s\n", i, cases[i].xml);
    CHECK_INT(xs2s__bounce_due(s), cases[i].due);
    CHECK_INT(rc, cases[i].due ? 0 : XS2S__BOUNCE_NONE);
    CHECK((reply != NULL) == cases[i].due);
    /* Without 'to' the reply has no 'from'. */
    if (reply && !xs2s_stanza_attr(s, "to"))
      CHECK(xs2s_stanza_attr(reply, "from") == NULL);
    xs2s_stanza_free(reply);
    xs2s_stanza_free(s);
  }
}

static void test_bad_arguments(void) {
  xs2s_stanza *s = parse("<message xmlns='jabber:server' from='a@x.example' "
                         "to='b@y.example'>hi<error type='cancel'/></message>");
  xs2s_stanza *reply = (xs2s_stanza *)1;
  CHECK_INT(xs2s__bounce_build(s, XS2S_STANZA_ERR_NONE, NULL, NULL, 0, NULL,
                               &reply),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK(reply == NULL);
  CHECK_INT(xs2s__bounce_build(s, XS2S_STANZA_ERR_COUNT_, NULL, NULL, 0, NULL,
                               &reply),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__bounce_build(xs2s_stanza_first_child(s),
                               XS2S_STANZA_ERR_GONE, NULL, NULL, 0, NULL,
                               &reply),
            XS2S_ERR_INVALID_ARGUMENT); /* a text node */
  CHECK_INT(xs2s__bounce_build(NULL, XS2S_STANZA_ERR_GONE, NULL, NULL, 0,
                               NULL, &reply),
            XS2S_ERR_INVALID_ARGUMENT);
  /* A stray <error/> in the original is not copied: the reply has one. */
  CHECK_INT(xs2s__bounce_build(s, XS2S_STANZA_ERR_GONE, NULL, NULL, 1024, NULL,
                               &reply),
            0);
  int errors = 0;
  for (const xs2s_stanza *c = xs2s_stanza_first_child(reply); c;
       c = xs2s_stanza_next(c))
    errors += xs2s_stanza_is(c, "error", NULL);
  CHECK_INT(errors, 1);
  CHECK_STR(xs2s_stanza_text(reply), "hi");
  xs2s_stanza_free(reply);
  xs2s_stanza_free(s);
}

typedef struct budget {
  long left, live;
} budget;
static void *b_malloc(size_t n, void *ud) {
  budget *b = ud;
  if (b->left-- <= 0)
    return NULL;
  void *p = malloc(n);
  b->live += p != NULL;
  return p;
}
static void *b_realloc(void *p, size_t n, void *ud) {
  budget *b = ud;
  if (b->left-- <= 0)
    return NULL;
  void *q = realloc(p, n);
  b->live += q != NULL && p == NULL;
  return q;
}
static void b_free(void *p, void *ud) {
  budget *b = ud;
  b->live -= p != NULL;
  free(p);
}

static void test_out_of_memory(void) {
  xs2s_stanza *s = parse("<message xmlns='jabber:server' from='a@x.example' "
                         "to='b@y.example' id='z'><body>payload</body>"
                         "</message>");
  int built = 0;
  for (long n = 0; n < 200 && !built; n++) {
    budget b = {n, 0};
    xs2s_mem mem = {b_malloc, b_realloc, b_free, &b};
    xs2s_stanza *reply = NULL;
    int rc = xs2s__bounce_build(s, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
                                "unreachable", "x.example", 1024, &mem,
                                &reply);
    CHECK(rc == 0 || rc == XS2S_ERR_NOMEM);
    CHECK((rc == 0) == (reply != NULL));
    if (rc == 0) {
      built = 1;
      CHECK(xs2s_stanza_find_child(reply, "body", NULL) != NULL);
    }
    xs2s_stanza_free(reply);
    CHECK_INT(b.live, 0);
  }
  CHECK(built);
  xs2s_stanza_free(s);
}

/* The public entry point: the same reply, payload within the bound, and
 * nothing for a stanza that must not be answered. */
static void test_public_reply(void) {
  xs2s_stanza *orig = parse(
      "<iq xmlns='jabber:component:accept' from='bot.a.test' "
      "to='b.test' type='get' id='q1'><ping xmlns='urn:xmpp:ping'/></iq>");
  xs2s_stanza *reply = NULL;
  CHECK_INT(xs2s_stanza_error_reply(orig, XS2S_STANZA_ERR_SERVICE_UNAVAILABLE,
                                    NULL, &reply),
            0);
  CHECK(xs2s_stanza_is(reply, "iq", XS2S_NS_COMPONENT));
  CHECK_STR(xs2s_stanza_attr(reply, "to"), "bot.a.test");
  CHECK_STR(xs2s_stanza_attr(reply, "from"), "b.test");
  CHECK_STR(xs2s_stanza_attr(reply, "id"), "q1");
  CHECK(xs2s_stanza_find_child(reply, "ping", "urn:xmpp:ping") != NULL);
  const xs2s_stanza *err = xs2s_stanza_find_child(reply, "error", NULL);
  CHECK(err && xs2s_stanza_find_child(err, "service-unavailable",
                                      XS2S_NS_STANZA_ERRORS));
  CHECK(xs2s_stanza_attr(err, "by") == NULL);
  xs2s_stanza *none = (xs2s_stanza *)1;
  CHECK_INT(xs2s_stanza_error_reply(reply, XS2S_STANZA_ERR_SERVICE_UNAVAILABLE,
                                    NULL, &none),
            1);
  CHECK(none == NULL);
  CHECK_INT(xs2s_stanza_error_reply(orig, XS2S_STANZA_ERR_NONE, NULL, &none),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_error_reply(orig, XS2S_STANZA_ERR_CONFLICT, NULL,
                                    NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s_stanza_free(reply);
  xs2s_stanza_free(orig);
}

int main(void) {
  RUN(test_message);
  RUN(test_payload_limit_and_minimal);
  RUN(test_iq);
  RUN(test_which_are_answered);
  RUN(test_bad_arguments);
  RUN(test_out_of_memory);
  RUN(test_public_reply);
  return check_finish();
}
