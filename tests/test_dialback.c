/*
 * Dialback: the XEP-0185 key, the elements, the stream feature, the
 * multiplexing rule, and the per-stream tables of three servers talking
 * through serialised XML: A (a.example, initiating and authoritative) and
 * B (b.example, receiving and verifying).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <xs2s/dialback.h>

#include <xs2s/parser.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "dialback.h"
#include "serialize.h"

#define SECRET_A "s3cr3tf0rd14lb4ck"
#define T0 1000000u /* an arbitrary start time, in ms */

/* The key. */

static void test_key_xep0185_vector(void) {
  char key[XS2S_DIALBACK_KEY_SIZE];
  /* XEP-0185 section 3: xmpp.example.com receives from example.org. */
  CHECK_INT(xs2s_dialback_key(SECRET_A, "xmpp.example.com", "example.org",
                              "D60000229F", key),
            0);
  CHECK_STR(key,
            "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643");
  /* XEP-0220 examples 1 and 5, one in each direction. */
  CHECK_INT(xs2s_dialback_key(SECRET_A, "montague.example", "capulet.example",
                              "D60000229F", key),
            0);
  CHECK_STR(key,
            "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3");
  CHECK_INT(xs2s_dialback_key("d14lb4ck43v3r", "capulet.example",
                              "montague.example", "417GAF25", key),
            0);
  CHECK_STR(key,
            "225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d");
}

static void test_key_depends_on_each_input(void) {
  char base[XS2S_DIALBACK_KEY_SIZE], k[XS2S_DIALBACK_KEY_SIZE];
  CHECK_INT(xs2s_dialback_key("secret", "b.example", "a.example", "ID1", base),
            0);
  CHECK_INT(strlen(base), 64);
  const char *variants[][4] = {
      {"secreT", "b.example", "a.example", "ID1"},
      {"secret", "c.example", "a.example", "ID1"},
      {"secret", "b.example", "c.example", "ID1"},
      {"secret", "b.example", "a.example", "ID2"},
      {"secret", "a.example", "b.example", "ID1"}, /* roles swapped */
      {"secret", "b.example", "a.example", "id1"}, /* ids are case-exact */
  };
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    CHECK_INT(xs2s_dialback_key(variants[i][0], variants[i][1], variants[i][2],
                                variants[i][3], k),
              0);
    CHECK(strcmp(k, base) != 0);
  }
  /* Same inputs, same key: the key is stateless. */
  CHECK_INT(xs2s_dialback_key("secret", "b.example", "a.example", "ID1", k), 0);
  CHECK_STR(k, base);
}

static void test_key_rejects_bad_input(void) {
  char k[XS2S_DIALBACK_KEY_SIZE];
  char longname[XS2S_DIALBACK_DOMAIN_MAX + 2];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  CHECK_INT(xs2s_dialback_key("", "b", "a", "id", k),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_STR(k, "");
  CHECK_INT(xs2s_dialback_key(NULL, "b", "a", "id", k),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_dialback_key("s", "", "a", "id", k),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_dialback_key("s", "b", "a", NULL, k),
            XS2S_ERR_INVALID_ARGUMENT);
  /* A space would make "b a" + "c" collide with "b" + "a c". */
  CHECK_INT(xs2s_dialback_key("s", "b a", "c", "id", k),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_dialback_key("s", "b", "a", "i d", k),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_dialback_key("s", longname, "a", "id", k),
            XS2S_ERR_INVALID_ARGUMENT);
  longname[XS2S_DIALBACK_DOMAIN_MAX] = '\0'; /* exactly the maximum */
  CHECK_INT(xs2s_dialback_key("s", longname, "a", "id", k), 0);
  CHECK_INT(xs2s_dialback_key("s", "b", "a", "id", NULL),
            XS2S_ERR_INVALID_ARGUMENT);
}

static void test_key_equal(void) {
  const char *k =
      "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643";
  char got[100];
  snprintf(got, sizeof(got), "\n    %s\n", k);
  CHECK(xs2s_dialback_key_equal(k, got, strlen(got)));
  CHECK(xs2s_dialback_key_equal(k, k, 64));
  CHECK(!xs2s_dialback_key_equal(k, k, 63));
  strcpy(got, k);
  got[63] = '4';
  CHECK(!xs2s_dialback_key_equal(k, got, 64));
  got[63] = '3';
  got[0] = '4';
  CHECK(!xs2s_dialback_key_equal(k, got, 64));
  CHECK(!xs2s_dialback_key_equal("", "", 0));
  CHECK(!xs2s_dialback_key_equal(k, "  ", 2));
  CHECK(!xs2s_dialback_key_equal(NULL, k, 64));
}

static void test_secret_generate(void) {
  char a[XS2S_DIALBACK_KEY_SIZE], b[XS2S_DIALBACK_KEY_SIZE];
  CHECK_INT(xs2s_dialback_secret_generate(a), 0);
  CHECK_INT(xs2s_dialback_secret_generate(b), 0);
  CHECK_INT(strlen(a), 64);
  CHECK(strspn(a, "0123456789abcdef") == 64);
  CHECK(strcmp(a, b) != 0);
}

static void test_state_names(void) {
  CHECK_STR(xs2s_dialback_state_name(XS2S_DIALBACK_NONE), "none");
  CHECK_STR(xs2s_dialback_state_name(XS2S_DIALBACK_PENDING), "pending");
  CHECK_STR(xs2s_dialback_state_name(XS2S_DIALBACK_VALID), "valid");
  CHECK_STR(xs2s_dialback_state_name(XS2S_DIALBACK_INVALID), "invalid");
  CHECK_STR(xs2s_dialback_state_name(XS2S_DIALBACK_ERROR), "error");
  CHECK(xs2s_dialback_state_name((xs2s_dialback_state)5) == NULL);
  CHECK(xs2s_dialback_state_name((xs2s_dialback_state)-1) == NULL);
}

/* XML on the wire. */

/* @s as XML text (malloc'd). */
static char *to_xml(const xs2s_stanza *s) {
  size_t len = 0;
  if (xs2s_stanza_serialize(s, NULL, 0, &len) != XS2S_ERR_BUFFER_TOO_SMALL)
    return NULL;
  char *xml = malloc(len + 1);
  if (xml && xs2s_stanza_serialize(s, xml, len + 1, &len) != 0) {
    free(xml);
    return NULL;
  }
  return xml;
}

/* What the peer reads when @s is written: serialised and parsed back. */
static xs2s_stanza *wire(const xs2s_stanza *s) {
  char *xml = to_xml(s);
  CHECK(xml != NULL);
  if (!xml)
    return NULL;
  int err = 0;
  xs2s_stanza *back = xs2s_stanza_parse(xml, strlen(xml), &err);
  CHECK_INT(err, 0);
  free(xml);
  return back;
}

static xs2s_stanza *parse(const char *xml) {
  int err = 0;
  xs2s_stanza *s = xs2s_stanza_parse(xml, strlen(xml), &err);
  CHECK_INT(err, 0);
  return s;
}

static void test_feature(void) {
  xs2s_stanza *f = xs2s_stanza_new("features", XS2S_NS_STREAMS);
  CHECK_INT(xs2s_dialback_feature_parse(f), 0);
  CHECK_INT(xs2s_dialback_feature_add(f), 0);
  xs2s_stanza *back = wire(f);
  CHECK_INT(xs2s_dialback_feature_parse(back),
            XS2S_DIALBACK_FEATURE_OFFERED | XS2S_DIALBACK_FEATURE_ERRORS);
  const xs2s_stanza *db =
      xs2s_stanza_find_child(back, "dialback", XS2S_NS_DIALBACK_FEATURE);
  CHECK(xs2s_stanza_find_child(db, "errors", XS2S_NS_DIALBACK_FEATURE));
  xs2s_stanza_free(back);
  xs2s_stanza_free(f);

  /* Older peers offer the feature without <errors/>. */
  f = parse("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
            "<dialback xmlns='urn:xmpp:features:dialback'/>"
            "</stream:features>");
  CHECK_INT(xs2s_dialback_feature_parse(f), XS2S_DIALBACK_FEATURE_OFFERED);
  xs2s_stanza_free(f);
  /* The right names in the wrong namespace are not the feature. */
  f = parse("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
            "<dialback xmlns='urn:example:other'><errors/></dialback>"
            "</stream:features>");
  CHECK_INT(xs2s_dialback_feature_parse(f), 0);
  xs2s_stanza_free(f);
  CHECK_INT(xs2s_dialback_feature_parse(NULL), 0);
  CHECK_INT(xs2s_dialback_feature_add(NULL), XS2S_ERR_INVALID_ARGUMENT);
}

static struct sockaddr_in v4(const char *ip, unsigned port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static struct sockaddr_in6 v6(const char *ip, unsigned port) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

static void test_may_multiplex(void) {
  const unsigned both =
      XS2S_DIALBACK_FEATURE_OFFERED | XS2S_DIALBACK_FEATURE_ERRORS;
  struct sockaddr_in peer = v4("10.44.0.4", 5269);
  struct sockaddr_in same = v4("10.44.0.4", 5269);
  struct sockaddr_in other_port = v4("10.44.0.4", 5270);
  struct sockaddr_in other_ip = v4("10.44.0.5", 5269);
  struct sockaddr_in6 mapped = v6("::ffff:10.44.0.4", 5269);
  struct sockaddr_in6 peer6 = v6("2001:db8::4", 5269);
  struct sockaddr_in6 same6 = v6("2001:db8::4", 5269);
  struct sockaddr_un local = {.sun_family = AF_UNIX};
  const struct sockaddr *one[] = {(struct sockaddr *)&same};
  const struct sockaddr *misses[] = {(struct sockaddr *)&other_port,
                                     (struct sockaddr *)&other_ip,
                                     (struct sockaddr *)&local};
  const struct sockaddr *later[] = {(struct sockaddr *)&other_ip,
                                    (struct sockaddr *)&same};
  const struct sockaddr *via6[] = {(struct sockaddr *)&mapped};
  const struct sockaddr *six[] = {(struct sockaddr *)&same6};

  CHECK_INT(xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer, one, 1),
            1);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer, later, 2), 1);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer, misses, 3),
      0);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer, via6, 1), 1);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer6, six, 1), 1);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer6, one, 1), 0);
  /* Without <errors/> the peer cannot refuse one pair gracefully. */
  CHECK_INT(xs2s_dialback_may_multiplex(XS2S_DIALBACK_FEATURE_OFFERED,
                                        (struct sockaddr *)&peer, one, 1),
            0);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&local, one, 1), 0);
  CHECK_INT(xs2s_dialback_may_multiplex(both, NULL, one, 1), 0);
  CHECK_INT(
      xs2s_dialback_may_multiplex(both, (struct sockaddr *)&peer, NULL, 0), 0);
}

static void test_syntax_checks(void) {
  CHECK(xs2s__dialback_domain_ok("a.example"));
  CHECK(xs2s__dialback_domain_ok("localhost"));
  /* Accepted exactly when the name has a canonical form (domain.c), the
   * form pairs are matched by: no '_' (not a host name), and a trailing
   * dot is the same domain. */
  CHECK(!xs2s__dialback_domain_ok("_xmpp.example"));
  CHECK(xs2s__dialback_domain_ok("example."));
  CHECK(xs2s__dialback_domain_ok("\xc3\xa9t\xc3\xa9.example")); /* été */
  CHECK(xs2s__dialback_domain_ok("[2001:db8::1]"));
  CHECK(!xs2s__dialback_domain_ok(""));
  CHECK(!xs2s__dialback_domain_ok(NULL));
  CHECK(!xs2s__dialback_domain_ok("a..example"));
  CHECK(!xs2s__dialback_domain_ok(".example"));
  CHECK(!xs2s__dialback_domain_ok("a example"));
  CHECK(!xs2s__dialback_domain_ok("user@example"));
  CHECK(!xs2s__dialback_domain_ok("example/res"));
  CHECK(!xs2s__dialback_domain_ok("\xc3(.example"));        /* broken UTF-8 */
  CHECK(!xs2s__dialback_domain_ok("\xed\xa0\x80.example")); /* surrogate */
  CHECK(!xs2s__dialback_domain_ok("[2001:db8::1"));
  CHECK(!xs2s__dialback_domain_ok("[not-an-ip]"));
  char label[70];
  memset(label, 'x', 64);
  strcpy(label + 64, ".ex");
  CHECK(!xs2s__dialback_domain_ok(label)); /* a 64-byte label */
  strcpy(label + 63, ".ex");
  CHECK(xs2s__dialback_domain_ok(label)); /* 63 bytes is the maximum */

  CHECK(xs2s__dialback_id_ok("D60000229F"));
  CHECK(xs2s__dialback_id_ok("a-b_c.d"));
  CHECK(!xs2s__dialback_id_ok(""));
  CHECK(!xs2s__dialback_id_ok("a b"));
  CHECK(!xs2s__dialback_id_ok("a\nb"));
  char id[XS2S_DIALBACK_ID_MAX + 2];
  memset(id, 'i', sizeof(id) - 1);
  id[sizeof(id) - 1] = '\0';
  CHECK(!xs2s__dialback_id_ok(id));
  id[XS2S_DIALBACK_ID_MAX] = '\0';
  CHECK(xs2s__dialback_id_ok(id));
}

static void test_elements(void) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__dialback_elem e;

  /* A request carries its key as text. */
  xs2s_stanza *s =
      xs2s__dialback_build(&mem, "verify", "b.example", "a.example", "ID",
                           XS2S_DIALBACK_NONE, XS2S_STANZA_ERR_NONE, "abc");
  xs2s_stanza *back = wire(s);
  CHECK_INT(xs2s__dialback_parse(back, &e), 0);
  CHECK(e.is_verify);
  CHECK_STR(e.from, "b.example");
  CHECK_STR(e.to, "a.example");
  CHECK_STR(e.id, "ID");
  CHECK(!e.has_type);
  CHECK_INT(e.key_len, 3);
  CHECK(memcmp(e.key, "abc", 3) == 0);
  xs2s_stanza_free(back);
  xs2s_stanza_free(s);

  /* An error answer: <error type='wait'><remote-server-timeout/></error>
   * in jabber:server, and no text. */
  s = xs2s__dialback_build(&mem, "result", "b.example", "a.example", NULL,
                           XS2S_DIALBACK_ERROR,
                           XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT, "ignored");
  const xs2s_stanza *err = xs2s_stanza_find_child(s, "error", XS2S_NS_SERVER);
  CHECK(err != NULL);
  CHECK_STR(xs2s_stanza_attr(err, "type"), "wait");
  CHECK(xs2s_stanza_find_child(err, "remote-server-timeout",
                               XS2S_NS_STANZA_ERRORS));
  back = wire(s);
  CHECK_INT(xs2s__dialback_parse(back, &e), 0);
  CHECK(!e.is_verify);
  CHECK(e.id == NULL);
  CHECK(e.has_type);
  CHECK_INT(e.type, XS2S_DIALBACK_ERROR);
  CHECK_INT(e.condition, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  CHECK_INT(e.key_len, 0);
  xs2s_stanza_free(back);
  xs2s_stanza_free(s);

  /* A peer's error with an unknown or missing condition stays an error. */
  s = parse(
      "<db:result xmlns:db='jabber:server:dialback' from='b' to='a' "
      "type='error'><error type='cancel'><made-up "
      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>");
  CHECK_INT(xs2s__dialback_parse(s, &e), 0);
  CHECK_INT(e.condition, XS2S_STANZA_ERR_UNDEFINED_CONDITION);
  xs2s_stanza_free(s);
  s = parse("<db:result xmlns:db='jabber:server:dialback' from='b' to='a' "
            "type='error'/>");
  CHECK_INT(xs2s__dialback_parse(s, &e), 0);
  CHECK_INT(e.condition, XS2S_STANZA_ERR_UNDEFINED_CONDITION);
  xs2s_stanza_free(s);
  /* A type that is not one of the three. */
  s = parse("<db:result xmlns:db='jabber:server:dialback' from='b' to='a' "
            "type='maybe'/>");
  CHECK_INT(xs2s__dialback_parse(s, &e), 0);
  CHECK(e.has_type);
  CHECK_INT(e.type, XS2S_DIALBACK_NONE);
  xs2s_stanza_free(s);
  /* Not dialback. */
  s = parse("<result xmlns='jabber:server' from='b' to='a'/>");
  CHECK_INT(xs2s__dialback_parse(s, &e), XS2S_ERR_INVALID_ARGUMENT);
  xs2s_stanza_free(s);
}

/* Three servers. */

/* What one server serves and allows. */
typedef struct site {
  const char *local[3];   /* domains served here */
  const char *denied;     /* a remote domain the policy forbids */
  const char *cert_names; /* the domain the peer's certificate proves */
} site;

static int site_is_local(const char *domain, void *ud) {
  const site *s = ud;
  for (int i = 0; i < 3 && s->local[i]; i++)
    if (strcmp(s->local[i], domain) == 0)
      return 1;
  return 0;
}

static int site_allowed(const char *remote, const char *local, void *ud) {
  const site *s = ud;
  (void)local;
  return !s->denied || strcmp(s->denied, remote) != 0;
}

static int site_cert_names(const char *remote, void *ud) {
  const site *s = ud;
  return s->cert_names && strcmp(s->cert_names, remote) == 0;
}

static site site_a = {{"a.example", "chat.a.example"}, NULL, NULL};
static site site_b = {{"b.example", "conf.b.example"}, NULL, NULL};

static xs2s__dialback_policy policy_of(site *s) {
  return (xs2s__dialback_policy){
      .is_local = site_is_local,
      .allowed = site_allowed,
      .cert_names = site_cert_names,
      .user_data = s,
  };
}

/*
 * S1 carries stanzas from A to B: A's initiating table, B's receiving one.
 * S2 carries B's verifications to A: B's verifier table, A's
 * authoritative one. Every element crosses as XML text.
 */
typedef struct world {
  xs2s_mem mem;
  xs2s__dialback a_s1, b_s1, b_s2, a_s2;
  xs2s__dialback_policy pol_a, pol_b;
  const char *secret_init; /* A's secret when it makes keys */
  const char *secret_auth; /* A's secret when it checks them */
} world;

static void world_init(world *w, const xs2s__dialback_options *b_opts) {
  xs2s__mem_init(&w->mem, NULL);
  xs2s__dialback_init(&w->a_s1, &w->mem, XS2S__DIALBACK_OUTGOING, NULL);
  xs2s__dialback_init(&w->b_s1, &w->mem, XS2S__DIALBACK_INCOMING, b_opts);
  xs2s__dialback_init(&w->b_s2, &w->mem, XS2S__DIALBACK_OUTGOING, b_opts);
  xs2s__dialback_init(&w->a_s2, &w->mem, XS2S__DIALBACK_INCOMING, NULL);
  /* Stream ids come from the receiving end of each stream. */
  CHECK_INT(xs2s__dialback_set_stream_id(&w->a_s1, "s1-9f3c1a"), 0);
  CHECK_INT(xs2s__dialback_set_stream_id(&w->b_s1, "s1-9f3c1a"), 0);
  CHECK_INT(xs2s__dialback_set_stream_id(&w->b_s2, "s2-47aa0e"), 0);
  CHECK_INT(xs2s__dialback_set_stream_id(&w->a_s2, "s2-47aa0e"), 0);
  xs2s__dialback_set_peer_features(&w->a_s1, XS2S_DIALBACK_FEATURE_OFFERED |
                                                 XS2S_DIALBACK_FEATURE_ERRORS);
  w->pol_a = policy_of(&site_a);
  w->pol_b = policy_of(&site_b);
  w->secret_init = w->secret_auth = SECRET_A;
}

static void world_free(world *w) {
  xs2s__dialback_free(&w->a_s1);
  xs2s__dialback_free(&w->b_s1);
  xs2s__dialback_free(&w->b_s2);
  xs2s__dialback_free(&w->a_s2);
}

/* Writes @sent->reply and has @to read it. */
static int deliver(const xs2s__dialback_out *sent, xs2s__dialback *to,
                   uint64_t now, const xs2s__dialback_policy *pol,
                   const char *secret, xs2s__dialback_out *out) {
  CHECK(sent->reply != NULL);
  if (!sent->reply)
    return -1;
  xs2s_stanza *s = wire(sent->reply);
  int rc = xs2s__dialback_receive(to, s, now, pol, secret, out);
  xs2s_stanza_free(s);
  return rc;
}

/* Delivers XML text as written by a peer. */
static int deliver_xml(const char *xml, xs2s__dialback *to, uint64_t now,
                       const xs2s__dialback_policy *pol, const char *secret,
                       xs2s__dialback_out *out) {
  xs2s_stanza *s = parse(xml);
  int rc = xs2s__dialback_receive(to, s, now, pol, secret, out);
  xs2s_stanza_free(s);
  return rc;
}

/* Step 1: A sends its key for (from, to) on S1 and B reads it; B's output
 * lands in @b_out. @tamper changes one digit of the key in transit. */
static void step1(world *w, const char *from, const char *to, int tamper,
                  uint64_t now, xs2s__dialback_out *b_out) {
  xs2s__dialback_out a_out;
  xs2s__dialback_out_init(&a_out);
  CHECK_INT(
      xs2s__dialback_start(&w->a_s1, w->secret_init, from, to, now, &a_out), 0);
  CHECK_INT(xs2s__dialback_state(&w->a_s1, from, to, NULL),
            XS2S_DIALBACK_PENDING);
  char *xml = to_xml(a_out.reply);
  char *gt = xml ? strchr(xml, '>') : NULL;
  CHECK(gt && gt[1] && gt[1] != '<');
  if (gt && tamper)
    gt[1] = gt[1] == '0' ? '1' : '0';
  if (xml)
    CHECK_INT(deliver_xml(xml, &w->b_s1, now, &w->pol_b, NULL, b_out), 0);
  free(xml);
  xs2s__dialback_out_clear(&a_out);
}

/* Steps 2 and 3: B asks A over S2; A answers; B's verifier output (with
 * the answer to route) lands in @answer_out. */
static void steps23(world *w, const xs2s_dialback_request *req, uint64_t now,
                    xs2s__dialback_out *answer_out) {
  xs2s__dialback_out ask, told;
  xs2s__dialback_out_init(&ask);
  xs2s__dialback_out_init(&told);
  CHECK_INT(xs2s__dialback_verify(&w->b_s2, req, now, &ask), 0);
  CHECK_INT(xs2s__dialback_queries_pending(&w->b_s2), 1);
  CHECK_INT(deliver(&ask, &w->a_s2, now, &w->pol_a, w->secret_auth, &told), 0);
  CHECK(told.reply != NULL);
  CHECK_INT(deliver(&told, &w->b_s2, now, NULL, NULL, answer_out), 0);
  CHECK(answer_out->has_answer);
  xs2s__dialback_out_clear(&ask);
  xs2s__dialback_out_clear(&told);
}

/* Step 4: the verdict reaches S1 at B, whose answer reaches A. */
static void step4(world *w, const xs2s_dialback_answer *answer,
                  xs2s__dialback_out *b_out, xs2s__dialback_out *a_out) {
  CHECK_INT(xs2s__dialback_verified(&w->b_s1, answer, b_out), 0);
  CHECK(b_out->reply != NULL);
  if (b_out->reply)
    CHECK_INT(deliver(b_out, &w->a_s1, 0, NULL, NULL, a_out), 0);
}

/* The whole exchange for one pair; returns A's view of the pair. */
static xs2s_dialback_state dialback(world *w, const char *from, const char *to,
                                    int tamper, xs2s__dialback_out *b_final) {
  xs2s__dialback_out b1, ans, a4;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&ans);
  xs2s__dialback_out_init(&a4);
  step1(w, from, to, tamper, T0, &b1);
  CHECK(b1.has_request);
  CHECK(b1.reply == NULL);
  CHECK_INT(xs2s__dialback_state(&w->b_s1, from, to, NULL),
            XS2S_DIALBACK_PENDING);
  if (b1.has_request) {
    CHECK_STR(b1.request.originating, from);
    CHECK_STR(b1.request.receiving, to);
    CHECK_STR(b1.request.stream_id, "s1-9f3c1a");
    steps23(w, &b1.request, T0 + 10, &ans);
    CHECK_STR(ans.answer.stream_id, "s1-9f3c1a");
    step4(w, &ans.answer, b_final, &a4);
    CHECK(a4.pair != NULL);
  }
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&ans);
  xs2s__dialback_out_clear(&a4);
  return xs2s__dialback_state(&w->a_s1, from, to, NULL);
}

static void test_valid(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(dialback(&w, "a.example", "b.example", 0, &b4),
            XS2S_DIALBACK_VALID);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_VALID);
  CHECK(!b4.close);
  CHECK_STR(xs2s_stanza_attr(b4.reply, "from"), "b.example");
  CHECK_STR(xs2s_stanza_attr(b4.reply, "to"), "a.example");
  CHECK_STR(xs2s_stanza_attr(b4.reply, "type"), "valid");
  /* The verification stream has nothing left to wait for: close it. */
  CHECK_INT(xs2s__dialback_queries_pending(&w.b_s2), 0);
  CHECK_INT(xs2s__dialback_next_deadline(&w.b_s2), UINT64_MAX);
  CHECK_INT(xs2s__dialback_next_deadline(&w.b_s1), UINT64_MAX);
  /* Domains match regardless of ASCII case. */
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "A.Example", "B.EXAMPLE", NULL),
            XS2S_DIALBACK_VALID);
  xs2s__dialback_out_clear(&b4);
  world_free(&w);
}

static void test_invalid_key(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(dialback(&w, "a.example", "b.example", 1, &b4),
            XS2S_DIALBACK_INVALID);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_INVALID);
  CHECK_STR(xs2s_stanza_attr(b4.reply, "type"), "invalid");
  /* XEP-0220 2.2.1: B closes the stream after an invalid key. */
  CHECK(b4.close);
  CHECK_INT(b4.stream_error, XS2S_STREAM_ERR_NONE);
  CHECK(b4.why != NULL);
  xs2s__dialback_out_clear(&b4);
  world_free(&w);
}

static void test_wrong_secret(void) {
  world w;
  world_init(&w, NULL);
  w.secret_auth = "not-the-secret-A-keys-were-made-with";
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(dialback(&w, "a.example", "b.example", 0, &b4),
            XS2S_DIALBACK_INVALID);
  xs2s__dialback_out_clear(&b4);
  world_free(&w);
}

static void test_timeout(void) {
  xs2s__dialback_options opts = {.timeout_ms = 5000};
  world w;
  world_init(&w, &opts);
  xs2s__dialback_out b1, ask, out, a_out;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&ask);
  xs2s__dialback_out_init(&out);
  xs2s__dialback_out_init(&a_out);
  step1(&w, "a.example", "b.example", 0, T0, &b1);
  CHECK(b1.has_request);
  CHECK_INT(xs2s__dialback_verify(&w.b_s2, &b1.request, T0 + 100, &ask), 0);
  /* A never answers. B's pair is due at T0 + 5000 (its own timeout), the
   * query at T0 + 5100, and A's pair after the default 30 s. */
  CHECK_INT(xs2s__dialback_next_deadline(&w.b_s1), T0 + 5000);
  CHECK_INT(xs2s__dialback_next_deadline(&w.b_s2), T0 + 5100);
  CHECK_INT(xs2s__dialback_next_deadline(&w.a_s1),
            T0 + XS2S_DIALBACK_DEFAULT_TIMEOUT_MS);
  CHECK_INT(xs2s__dialback_expire(&w.b_s1, T0 + 4999, &out), 0);
  CHECK(out.reply == NULL);
  CHECK_INT(xs2s__dialback_expire(&w.b_s1, T0 + 5000, &out), 1);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_ERROR);
  CHECK(!out.close);
  CHECK(out.reply != NULL);
  CHECK_INT(deliver(&out, &w.a_s1, T0 + 5000, NULL, NULL, &a_out), 0);
  xs2s_stanza_condition cond;
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "b.example", &cond),
            XS2S_DIALBACK_ERROR);
  CHECK_INT(cond, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  CHECK_INT(xs2s__dialback_next_deadline(&w.a_s1), UINT64_MAX);
  CHECK_INT(xs2s__dialback_expire(&w.b_s1, T0 + 99999, &out), 0);
  xs2s__dialback_out_clear(&out);

  /* The verifier's query expires too, and its answer finds nothing
   * pending any more: dropped. */
  CHECK_INT(xs2s__dialback_expire(&w.b_s2, T0 + 5099, &out), 0);
  CHECK_INT(xs2s__dialback_expire(&w.b_s2, T0 + 5100, &out), 1);
  CHECK(out.has_answer);
  CHECK(out.reply == NULL);
  CHECK_INT(out.answer.result, XS2S_DIALBACK_ERROR);
  CHECK_INT(out.answer.condition, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  CHECK_INT(xs2s__dialback_queries_pending(&w.b_s2), 0);
  xs2s__dialback_out late;
  xs2s__dialback_out_init(&late);
  CHECK_INT(xs2s__dialback_verified(&w.b_s1, &out.answer, &late), 0);
  CHECK(late.reply == NULL);
  CHECK(late.why != NULL);
  xs2s__dialback_out_clear(&late);

  /* After an error the pair may be tried again on the same stream. */
  xs2s__dialback_out_clear(&out);
  xs2s__dialback_out_clear(&b1);
  step1(&w, "a.example", "b.example", 0, T0 + 6000, &b1);
  CHECK(b1.has_request);

  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&ask);
  xs2s__dialback_out_clear(&out);
  xs2s__dialback_out_clear(&a_out);
  world_free(&w);
}

static void test_initiating_timeout(void) {
  /* B never answers A at all: A's own timer ends the wait. */
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "a.example", "b.example",
                                 T0, &out),
            0);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(xs2s__dialback_expire(
                &w.a_s1, T0 + XS2S_DIALBACK_DEFAULT_TIMEOUT_MS - 1, &out),
            0);
  CHECK_INT(xs2s__dialback_expire(&w.a_s1,
                                  T0 + XS2S_DIALBACK_DEFAULT_TIMEOUT_MS, &out),
            1);
  CHECK(out.reply == NULL); /* nothing to tell B */
  CHECK(out.pair != NULL);
  if (out.pair) {
    CHECK_INT(out.pair->state, XS2S_DIALBACK_ERROR);
    CHECK_INT(out.pair->condition, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
  }
  xs2s__dialback_out_clear(&out);
  world_free(&w);
}

/* The authoritative server does not serve the domain: item-not-found at
 * step 3 becomes remote-server-not-found at step 4 (XEP-0220 2.4.3). */
static void test_error_from_authoritative(void) {
  static site nowhere = {{"elsewhere.example"}, NULL, NULL};
  world w;
  world_init(&w, NULL);
  w.pol_a = policy_of(&nowhere);
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(dialback(&w, "a.example", "b.example", 0, &b4),
            XS2S_DIALBACK_ERROR);
  xs2s_stanza_condition cond;
  xs2s__dialback_state(&w.a_s1, "a.example", "b.example", &cond);
  CHECK_INT(cond, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND);
  CHECK(!b4.close); /* dialback errors never end the stream */
  xs2s__dialback_out_clear(&b4);
  world_free(&w);
}

/* The engine could not reach the authoritative server at all. */
static void test_error_made_by_engine(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b1, b4, a4;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&b4);
  xs2s__dialback_out_init(&a4);
  step1(&w, "a.example", "b.example", 0, T0, &b1);
  xs2s_dialback_answer answer;
  xs2s__dialback_answer_error(
      &b1.request, XS2S_STANZA_ERR_REMOTE_CONNECTION_FAILED, &answer);
  step4(&w, &answer, &b4, &a4);
  const xs2s_stanza *err = xs2s_stanza_find_child(b4.reply, "error", NULL);
  CHECK(xs2s_stanza_find_child(err, "remote-connection-failed",
                               XS2S_NS_STANZA_ERRORS));
  xs2s_stanza_condition cond;
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "b.example", &cond),
            XS2S_DIALBACK_ERROR);
  CHECK_INT(cond, XS2S_STANZA_ERR_REMOTE_CONNECTION_FAILED);
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&b4);
  xs2s__dialback_out_clear(&a4);

  /* A condition out of range still makes an error, never a success. */
  step1(&w, "chat.a.example", "b.example", 0, T0, &b1);
  xs2s__dialback_answer_error(&b1.request, (xs2s_stanza_condition)999, &answer);
  step4(&w, &answer, &b4, &a4);
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "chat.a.example", "b.example", &cond),
            XS2S_DIALBACK_ERROR);
  CHECK_INT(cond, XS2S_STANZA_ERR_UNDEFINED_CONDITION);
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&b4);
  xs2s__dialback_out_clear(&a4);
  world_free(&w);
}

/* Each dialback error condition the issue names travels B -> A intact. */
static void test_error_conditions_understood(void) {
  static const xs2s_stanza_condition conds[] = {
      XS2S_STANZA_ERR_ITEM_NOT_FOUND,
      XS2S_STANZA_ERR_REMOTE_CONNECTION_FAILED,
      XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
      XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT,
      XS2S_STANZA_ERR_POLICY_VIOLATION,
      XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR,
  };
  for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++) {
    world w;
    world_init(&w, NULL);
    xs2s__dialback_out b1, b4, a4;
    xs2s__dialback_out_init(&b1);
    xs2s__dialback_out_init(&b4);
    xs2s__dialback_out_init(&a4);
    step1(&w, "a.example", "b.example", 0, T0, &b1);
    xs2s_dialback_answer answer;
    xs2s__dialback_answer_error(&b1.request, conds[i], &answer);
    step4(&w, &answer, &b4, &a4);
    xs2s_stanza_condition cond;
    CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "b.example", &cond),
              XS2S_DIALBACK_ERROR);
    CHECK_INT(cond, conds[i]);
    CHECK(a4.pair != NULL);
    xs2s__dialback_out_clear(&b1);
    xs2s__dialback_out_clear(&b4);
    xs2s__dialback_out_clear(&a4);
    world_free(&w);
  }
}

/* Two sender domains on S1: one key good, one tampered. */
static void test_piggyback_valid_and_invalid(void) {
  /* Default: the invalid key ends the stream, the valid pair was valid. */
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(dialback(&w, "a.example", "b.example", 0, &b4),
            XS2S_DIALBACK_VALID);
  xs2s__dialback_out_clear(&b4);
  CHECK_INT(dialback(&w, "chat.a.example", "b.example", 1, &b4),
            XS2S_DIALBACK_INVALID);
  CHECK(b4.close);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_VALID);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "chat.a.example", "b.example", NULL),
            XS2S_DIALBACK_INVALID);
  xs2s__dialback_out_clear(&b4);
  world_free(&w);

  /* invalid_as_error: a <forbidden/> error, the stream and the valid pair
   * stay. */
  xs2s__dialback_options opts = {.invalid_as_error = 1};
  world_init(&w, &opts);
  CHECK_INT(dialback(&w, "a.example", "b.example", 0, &b4),
            XS2S_DIALBACK_VALID);
  xs2s__dialback_out_clear(&b4);
  CHECK_INT(dialback(&w, "chat.a.example", "b.example", 1, &b4),
            XS2S_DIALBACK_ERROR);
  CHECK(!b4.close);
  xs2s_stanza_condition cond;
  xs2s__dialback_state(&w.a_s1, "chat.a.example", "b.example", &cond);
  CHECK_INT(cond, XS2S_STANZA_ERR_FORBIDDEN);
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_VALID);
  CHECK_INT(xs2s__dialback_count(&w.b_s1, XS2S_DIALBACK_VALID), 1);
  CHECK_INT(xs2s__dialback_count(&w.b_s1, XS2S_DIALBACK_ERROR), 1);
  xs2s__dialback_out_clear(&b4);
  world_free(&w);
}

/* Several pairs pending at once, answered out of order. */
static void test_piggyback_interleaved(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out r1, r2, ans1, ans2, b4, a4;
  xs2s__dialback_out_init(&r1);
  xs2s__dialback_out_init(&r2);
  xs2s__dialback_out_init(&ans1);
  xs2s__dialback_out_init(&ans2);
  xs2s__dialback_out_init(&b4);
  xs2s__dialback_out_init(&a4);
  step1(&w, "a.example", "b.example", 0, T0, &r1);
  /* Target multiplexing: the peer advertised <errors/>. */
  step1(&w, "a.example", "conf.b.example", 0, T0, &r2);
  CHECK(r1.has_request && r2.has_request);
  CHECK_INT(xs2s__dialback_count(&w.b_s1, XS2S_DIALBACK_PENDING), 2);
  steps23(&w, &r1.request, T0, &ans1);
  xs2s__dialback_out ask2;
  xs2s__dialback_out_init(&ask2);
  CHECK_INT(xs2s__dialback_verify(&w.b_s2, &r2.request, T0, &ask2), 0);
  xs2s__dialback_out_clear(&ask2);
  CHECK_INT(xs2s__dialback_queries_pending(&w.b_s2), 1);
  /* The second answer is made by the engine; the first comes later. */
  xs2s__dialback_answer_error(
      &r2.request, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT, &ans2.answer);
  step4(&w, &ans2.answer, &b4, &a4);
  xs2s__dialback_out_clear(&b4);
  xs2s__dialback_out_clear(&a4);
  step4(&w, &ans1.answer, &b4, &a4);
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_VALID);
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "conf.b.example", NULL),
            XS2S_DIALBACK_ERROR);
  xs2s__dialback_out_clear(&r1);
  xs2s__dialback_out_clear(&r2);
  xs2s__dialback_out_clear(&ans1);
  xs2s__dialback_out_clear(&ans2);
  xs2s__dialback_out_clear(&b4);
  xs2s__dialback_out_clear(&a4);
  world_free(&w);
}

static void test_target_multiplexing_needs_errors(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_set_peer_features(&w.a_s1, XS2S_DIALBACK_FEATURE_OFFERED);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "a.example", "b.example",
                                 T0, &out),
            0);
  xs2s__dialback_out_clear(&out);
  /* Sender multiplexing needs nothing... */
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "chat.a.example",
                                 "b.example", T0, &out),
            0);
  xs2s__dialback_out_clear(&out);
  /* ...a second target needs the peer's <errors/>. */
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "a.example",
                                 "conf.b.example", T0, &out),
            XS2S_ERR_POLICY);
  CHECK(out.reply == NULL);
  /* The same pair twice while pending is refused as well. */
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "a.example", "b.example",
                                 T0, &out),
            XS2S_ERR_BAD_STATE);
  world_free(&w);
}

/* Answers nobody asked for (XEP-0220 section 3.1). */
static void test_forged_answers_ignored(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b1, ask, out;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&ask);
  xs2s__dialback_out_init(&out);
  step1(&w, "a.example", "b.example", 0, T0, &b1);
  CHECK_INT(xs2s__dialback_verify(&w.b_s2, &b1.request, T0, &ask), 0);

  /* A 'valid' for a stream id B never sent a db:verify about. */
  CHECK_INT(deliver_xml("<db:verify xmlns:db='jabber:server:dialback' "
                        "from='a.example' to='b.example' id='never-sent' "
                        "type='valid'/>",
                        &w.b_s2, T0, NULL, NULL, &out),
            0);
  CHECK(!out.has_answer);
  CHECK(out.why != NULL);
  xs2s__dialback_out_clear(&out);
  /* The right id but the wrong domains. */
  CHECK_INT(deliver_xml("<db:verify xmlns:db='jabber:server:dialback' "
                        "from='evil.example' to='b.example' id='s1-9f3c1a' "
                        "type='valid'/>",
                        &w.b_s2, T0, NULL, NULL, &out),
            0);
  CHECK(!out.has_answer);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(xs2s__dialback_queries_pending(&w.b_s2), 1);

  /* A 'valid' result on S1 for a pair A never asked about. */
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='b.example' to='evil.example' type='valid'/>",
                        &w.a_s1, T0, NULL, NULL, &out),
            0);
  CHECK(out.pair == NULL);
  CHECK(out.why != NULL);
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "evil.example", "b.example", NULL),
            XS2S_DIALBACK_NONE);
  xs2s__dialback_out_clear(&out);
  /* Answers arriving on an incoming stream are never taken as results. */
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='a.example' to='b.example' type='valid'/>",
                        &w.b_s1, T0, &w.pol_b, NULL, &out),
            0);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_PENDING);
  CHECK(out.why != NULL);
  xs2s__dialback_out_clear(&out);
  /* A verdict routed to the wrong incoming stream is dropped. */
  xs2s_dialback_answer wrong = {.result = XS2S_DIALBACK_VALID};
  strcpy(wrong.originating, "a.example");
  strcpy(wrong.receiving, "b.example");
  strcpy(wrong.stream_id, "s9-other");
  CHECK_INT(xs2s__dialback_verified(&w.b_s1, &wrong, &out), 0);
  CHECK(out.reply == NULL);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_PENDING);
  xs2s__dialback_out_clear(&out);
  /* Requests arriving on an outgoing stream are ignored too. */
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='b.example' to='a.example'>abcd</db:result>",
                        &w.a_s1, T0, NULL, NULL, &out),
            0);
  CHECK(out.reply == NULL && !out.has_request);
  xs2s__dialback_out_clear(&out);

  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&ask);
  world_free(&w);
}

/* A key seen on one stream, sent again on a new stream: it was made for
 * the old stream id, so the authoritative server finds it invalid. */
static void test_replayed_key_refused(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out a1;
  xs2s__dialback_out_init(&a1);
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "a.example", "b.example",
                                 T0, &a1),
            0);
  char *captured = to_xml(a1.reply);

  /* The attacker opens S3 to B and replays the element. */
  xs2s__dialback b_s3;
  xs2s__dialback_init(&b_s3, &w.mem, XS2S__DIALBACK_INCOMING, NULL);
  CHECK_INT(xs2s__dialback_set_stream_id(&b_s3, "s3-replay"), 0);
  xs2s__dialback_out b1, ans, b4;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&ans);
  xs2s__dialback_out_init(&b4);
  CHECK_INT(deliver_xml(captured, &b_s3, T0, &w.pol_b, NULL, &b1), 0);
  CHECK(b1.has_request);
  CHECK_STR(b1.request.stream_id, "s3-replay");
  steps23(&w, &b1.request, T0, &ans);
  CHECK_INT(ans.answer.result, XS2S_DIALBACK_INVALID);
  CHECK_STR(ans.answer.stream_id, "s3-replay");
  CHECK_INT(xs2s__dialback_verified(&b_s3, &ans.answer, &b4), 0);
  CHECK_INT(xs2s__dialback_state(&b_s3, "a.example", "b.example", NULL),
            XS2S_DIALBACK_INVALID);
  CHECK(b4.close);
  /* The genuine S1 still works with the same key. */
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_NONE);

  free(captured);
  xs2s__dialback_out_clear(&a1);
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&ans);
  xs2s__dialback_out_clear(&b4);
  xs2s__dialback_free(&b_s3);
  world_free(&w);
}

/* B reads one <db:result> from A under a policy; returns B's output. */
static void read_result(world *w, const char *from, const char *to,
                        const xs2s__dialback_policy *pol,
                        xs2s__dialback_out *out) {
  xs2s__dialback_out a;
  xs2s__dialback_out_init(&a);
  CHECK_INT(xs2s__dialback_start(&w->a_s1, SECRET_A, from, to, T0, &a), 0);
  CHECK_INT(deliver(&a, &w->b_s1, T0, pol, NULL, out), 0);
  xs2s__dialback_out_clear(&a);
}

/* B's answer must be an error with @cond, and nothing verified. */
static void check_refused(world *w, const xs2s__dialback_out *out,
                          xs2s_stanza_condition cond) {
  CHECK(!out->has_request);
  CHECK(!out->close);
  CHECK(out->why != NULL);
  CHECK(out->reply != NULL);
  if (!out->reply)
    return;
  CHECK_STR(xs2s_stanza_attr(out->reply, "type"), "error");
  xs2s__dialback_out a;
  xs2s__dialback_out_init(&a);
  CHECK_INT(deliver(out, &w->a_s1, T0, NULL, NULL, &a), 0);
  CHECK(a.pair != NULL);
  if (a.pair) {
    CHECK_INT(a.pair->state, XS2S_DIALBACK_ERROR);
    CHECK_INT(a.pair->condition, cond);
  }
  xs2s__dialback_out_clear(&a);
}

static void test_policy_violation_for_forbidden_domain(void) {
  site deny = {{"b.example"}, "a.example", NULL};
  world w;
  world_init(&w, NULL);
  xs2s__dialback_policy pol = policy_of(&deny);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  read_result(&w, "a.example", "b.example", &pol, &out);
  check_refused(&w, &out, XS2S_STANZA_ERR_POLICY_VIOLATION);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_ERROR);
  xs2s__dialback_out_clear(&out);
  /* Another sender on the same stream is unaffected. */
  read_result(&w, "chat.a.example", "b.example", &pol, &out);
  CHECK(out.has_request);
  xs2s__dialback_out_clear(&out);
  world_free(&w);
}

static void test_unknown_target_domain(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  read_result(&w, "a.example", "nothere.example", &w.pol_b, &out);
  check_refused(&w, &out, XS2S_STANZA_ERR_ITEM_NOT_FOUND);
  /* The error names the requested domain, to identify the request. */
  CHECK_STR(xs2s_stanza_attr(out.reply, "from"), "nothere.example");
  xs2s__dialback_out_clear(&out);
  world_free(&w);
}

static void test_tls_policy(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);

  /* TLS required and absent: refused. */
  xs2s__dialback_policy pol = w.pol_b;
  pol.tls_required = 1;
  read_result(&w, "a.example", "b.example", &pol, &out);
  check_refused(&w, &out, XS2S_STANZA_ERR_POLICY_VIOLATION);
  xs2s__dialback_out_clear(&out);
  /* TLS required and present: verified as usual. */
  pol.tls = 1;
  read_result(&w, "a.example", "b.example", &pol, &out);
  CHECK(out.has_request);
  xs2s__dialback_out_clear(&out);
  /* TLS optional and absent: dialback still works. */
  pol.tls_required = 0;
  pol.tls = 0;
  read_result(&w, "chat.a.example", "b.example", &pol, &out);
  CHECK(out.has_request);
  xs2s__dialback_out_clear(&out);
  world_free(&w);
}

static void test_certificate_shortcut(void) {
  site certified = {{"b.example"}, NULL, "a.example"};
  world w;
  world_init(&w, NULL);
  xs2s__dialback_policy pol = policy_of(&certified);
  xs2s__dialback_out out, a;
  xs2s__dialback_out_init(&out);
  xs2s__dialback_out_init(&a);

  /* XEP-0344: over TLS with a certificate for a.example, valid at once. */
  pol.tls = 1;
  read_result(&w, "a.example", "b.example", &pol, &out);
  CHECK(!out.has_request);
  CHECK_STR(xs2s_stanza_attr(out.reply, "type"), "valid");
  const xs2s__dialback_pair *p =
      xs2s__dialback_find(&w.b_s1, "a.example", "b.example");
  CHECK(p && p->state == XS2S_DIALBACK_VALID && p->by_certificate);
  CHECK_INT(deliver(&out, &w.a_s1, T0, NULL, NULL, &a), 0);
  CHECK_INT(xs2s__dialback_state(&w.a_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_VALID);
  xs2s__dialback_out_clear(&out);
  xs2s__dialback_out_clear(&a);

  /* The certificate does not name chat.a.example: dialback as usual... */
  read_result(&w, "chat.a.example", "b.example", &pol, &out);
  CHECK(out.has_request);
  xs2s__dialback_out_clear(&out);
  world_free(&w);

  /* ...unless policy wants a certificate: then not-authorized. */
  world_init(&w, NULL);
  pol.cert_required = 1;
  read_result(&w, "chat.a.example", "b.example", &pol, &out);
  check_refused(&w, &out, XS2S_STANZA_ERR_NOT_AUTHORIZED);
  xs2s__dialback_out_clear(&out);
  /* Without TLS a certificate proves nothing. */
  pol.tls = 0;
  read_result(&w, "a.example", "b.example", &pol, &out);
  check_refused(&w, &out, XS2S_STANZA_ERR_NOT_AUTHORIZED);
  xs2s__dialback_out_clear(&out);
  world_free(&w);
}

static void test_duplicates(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b1, again;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&again);
  step1(&w, "a.example", "b.example", 0, T0, &b1);
  /* The same request again while pending: no second verification. */
  const char *xml = "<db:result xmlns:db='jabber:server:dialback' "
                    "from='a.example' to='b.example'>0123</db:result>";
  CHECK_INT(deliver_xml(xml, &w.b_s1, T0, &w.pol_b, NULL, &again), 0);
  CHECK(!again.has_request && !again.reply);
  xs2s__dialback_out_clear(&again);
  /* Once valid, a repeated request is answered valid at once. */
  xs2s__dialback_out ans, b4, a4;
  xs2s__dialback_out_init(&ans);
  xs2s__dialback_out_init(&b4);
  xs2s__dialback_out_init(&a4);
  steps23(&w, &b1.request, T0, &ans);
  step4(&w, &ans.answer, &b4, &a4);
  CHECK_INT(deliver_xml(xml, &w.b_s1, T0, &w.pol_b, NULL, &again), 0);
  CHECK(!again.has_request);
  CHECK_STR(xs2s_stanza_attr(again.reply, "type"), "valid");
  xs2s__dialback_out_clear(&again);
  /* A verdict that arrives twice changes nothing the second time. */
  CHECK_INT(xs2s__dialback_verified(&w.b_s1, &ans.answer, &again), 0);
  CHECK(again.reply == NULL);
  /* The verifier does not send the same question twice at once. */
  xs2s__dialback_out_clear(&again);
  CHECK_INT(xs2s__dialback_verify(&w.b_s2, &b1.request, T0, &again), 0);
  xs2s__dialback_out_clear(&again);
  CHECK_INT(xs2s__dialback_verify(&w.b_s2, &b1.request, T0, &again),
            XS2S_ERR_BAD_STATE);
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&ans);
  xs2s__dialback_out_clear(&b4);
  xs2s__dialback_out_clear(&a4);
  world_free(&w);
}

/* The condition of the error in out->reply, NONE when it is no error. */
static xs2s_stanza_condition reply_condition(const xs2s__dialback_out *out) {
  xs2s__dialback_elem e;
  if (!out->reply || xs2s__dialback_parse(out->reply, &e) != 0 ||
      e.type != XS2S_DIALBACK_ERROR)
    return XS2S_STANZA_ERR_NONE;
  return e.condition;
}

static void test_malformed_requests(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  /* No 'to': nothing to answer for, a stream error. */
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='a.example'>0123</db:result>",
                        &w.b_s1, T0, &w.pol_b, NULL, &out),
            0);
  CHECK(out.close);
  CHECK_INT(out.stream_error, XS2S_STREAM_ERR_IMPROPER_ADDRESSING);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='a@example' to='b.example'>0123</db:result>",
                        &w.b_s1, T0, &w.pol_b, NULL, &out),
            0);
  CHECK_INT(out.stream_error, XS2S_STREAM_ERR_INVALID_FROM);
  xs2s__dialback_out_clear(&out);
  /* No key, or a key with spaces in it: not-acceptable. */
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='a.example' to='b.example'>  </db:result>",
                        &w.b_s1, T0, &w.pol_b, NULL, &out),
            0);
  CHECK(!out.has_request);
  CHECK_INT(reply_condition(&out), XS2S_STANZA_ERR_NOT_ACCEPTABLE);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(deliver_xml("<db:result xmlns:db='jabber:server:dialback' "
                        "from='chat.a.example' to='b.example'>ab cd"
                        "</db:result>",
                        &w.b_s1, T0, &w.pol_b, NULL, &out),
            0);
  CHECK(!out.has_request);
  CHECK_INT(reply_condition(&out), XS2S_STANZA_ERR_NOT_ACCEPTABLE);
  xs2s__dialback_out_clear(&out);
  /* Keys longer than XS2S_DIALBACK_KEY_MAX are refused, that long pass. */
  char xml[600];
  char key[XS2S_DIALBACK_KEY_MAX + 2];
  memset(key, 'k', sizeof(key) - 1);
  key[sizeof(key) - 1] = '\0';
  snprintf(xml, sizeof(xml),
           "<db:result xmlns:db='jabber:server:dialback' "
           "from='x.a.example' to='b.example'>%s</db:result>",
           key);
  CHECK_INT(deliver_xml(xml, &w.b_s1, T0, &w.pol_b, NULL, &out), 0);
  CHECK_INT(reply_condition(&out), XS2S_STANZA_ERR_NOT_ACCEPTABLE);
  xs2s__dialback_out_clear(&out);
  key[XS2S_DIALBACK_KEY_MAX] = '\0';
  snprintf(xml, sizeof(xml),
           "<db:result xmlns:db='jabber:server:dialback' "
           "from='x.a.example' to='b.example'>%s</db:result>",
           key);
  CHECK_INT(deliver_xml(xml, &w.b_s1, T0, &w.pol_b, NULL, &out), 0);
  CHECK(out.has_request);
  CHECK_INT(strlen(out.request.key), XS2S_DIALBACK_KEY_MAX);
  xs2s__dialback_out_clear(&out);
  /* A db:verify without an id cannot be answered. */
  CHECK_INT(deliver_xml("<db:verify xmlns:db='jabber:server:dialback' "
                        "from='b.example' to='a.example'>0123</db:verify>",
                        &w.a_s2, T0, &w.pol_a, SECRET_A, &out),
            0);
  CHECK_INT(out.stream_error, XS2S_STREAM_ERR_BAD_FORMAT);
  xs2s__dialback_out_clear(&out);
  /* An authoritative server without a secret says so, gracefully. */
  CHECK_INT(deliver_xml("<db:verify xmlns:db='jabber:server:dialback' "
                        "from='b.example' to='a.example' id='x'>0123"
                        "</db:verify>",
                        &w.a_s2, T0, &w.pol_a, NULL, &out),
            0);
  CHECK_INT(reply_condition(&out), XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR);
  xs2s__dialback_out_clear(&out);
  /* Not a dialback element at all. */
  xs2s_stanza *msg = parse("<message xmlns='jabber:server'/>");
  CHECK_INT(xs2s__dialback_receive(&w.b_s1, msg, T0, NULL, NULL, &out),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s_stanza_free(msg);
  world_free(&w);
}

static void test_limits(void) {
  xs2s__dialback_options opts = {.max_pairs = 2};
  world w;
  world_init(&w, &opts);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  read_result(&w, "a.example", "b.example", &w.pol_b, &out);
  CHECK(out.has_request);
  xs2s__dialback_out_clear(&out);
  read_result(&w, "chat.a.example", "b.example", &w.pol_b, &out);
  CHECK(out.has_request);
  xs2s__dialback_out_clear(&out);
  /* A third pair on the stream: resource-constraint, nothing verified. */
  read_result(&w, "x.a.example", "b.example", &w.pol_b, &out);
  check_refused(&w, &out, XS2S_STANZA_ERR_RESOURCE_CONSTRAINT);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(xs2s__dialback_count(&w.b_s1, XS2S_DIALBACK_PENDING), 2);

  /* The initiating side is bounded the same way. */
  xs2s__dialback a;
  xs2s__dialback_init(&a, &w.mem, XS2S__DIALBACK_OUTGOING, &opts);
  CHECK_INT(
      xs2s__dialback_start(&a, SECRET_A, "a.example", "b.example", T0, &out),
      XS2S_ERR_BAD_STATE); /* no stream id yet */
  CHECK_INT(xs2s__dialback_set_stream_id(&a, "id"), 0);
  CHECK_INT(
      xs2s__dialback_start(&a, SECRET_A, "a.example", "b.example", T0, &out),
      0);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(
      xs2s__dialback_start(&a, SECRET_A, "c.a.example", "b.example", T0, &out),
      0);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(
      xs2s__dialback_start(&a, SECRET_A, "d.a.example", "b.example", T0, &out),
      XS2S_ERR_LIMIT);
  /* And so is the verifier. */
  xs2s_dialback_request req = {.key = "00"};
  strcpy(req.originating, "a.example");
  strcpy(req.receiving, "b.example");
  const char *ids[] = {"i1", "i2", "i3"};
  for (int i = 0; i < 3; i++) {
    strcpy(req.stream_id, ids[i]);
    CHECK_INT(xs2s__dialback_verify(&w.b_s2, &req, T0, &out),
              i < 2 ? 0 : XS2S_ERR_LIMIT);
    xs2s__dialback_out_clear(&out);
  }
  xs2s__dialback_free(&a);
  world_free(&w);
}

static void test_stream_lost(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b1, ask, out;
  xs2s__dialback_out_init(&b1);
  xs2s__dialback_out_init(&ask);
  xs2s__dialback_out_init(&out);
  step1(&w, "a.example", "b.example", 0, T0, &b1);
  CHECK_INT(xs2s__dialback_verify(&w.b_s2, &b1.request, T0, &ask), 0);
  /* A stream id cannot change under a pending key. */
  CHECK_INT(xs2s__dialback_set_stream_id(&w.a_s1, "other"), XS2S_ERR_BAD_STATE);
  CHECK_INT(xs2s__dialback_set_stream_id(&w.a_s1, "s1-9f3c1a"), 0);

  /* S2 drops: the question counts as answered with an error. */
  CHECK_INT(xs2s__dialback_fail_pending(&w.b_s2, &out), 1);
  CHECK(out.has_answer && out.reply == NULL);
  CHECK_INT(out.answer.result, XS2S_DIALBACK_ERROR);
  CHECK_STR(out.answer.stream_id, "s1-9f3c1a");
  xs2s__dialback_out_clear(&out);
  CHECK_INT(xs2s__dialback_fail_pending(&w.b_s2, &out), 0);
  /* S1 drops: A's pending pair fails, B's too; nothing is sent. */
  CHECK_INT(xs2s__dialback_fail_pending(&w.a_s1, &out), 1);
  CHECK(out.reply == NULL);
  CHECK(out.pair && out.pair->state == XS2S_DIALBACK_ERROR);
  xs2s__dialback_out_clear(&out);
  CHECK_INT(xs2s__dialback_fail_pending(&w.a_s1, &out), 0);
  CHECK_INT(xs2s__dialback_fail_pending(&w.b_s1, &out), 1);
  CHECK(out.reply == NULL);
  xs2s__dialback_out_clear(&out);
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&ask);
  world_free(&w);
}

static void test_restart_forgets_pairs(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(dialback(&w, "a.example", "b.example", 0, &b4),
            XS2S_DIALBACK_VALID);
  xs2s__dialback_out_clear(&b4);
  /* The same id again changes nothing... */
  CHECK_INT(xs2s__dialback_set_stream_id(&w.b_s1, "s1-9f3c1a"), 0);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_VALID);
  /* ...a restarted stream has a new id and starts unauthenticated. */
  CHECK_INT(xs2s__dialback_set_stream_id(&w.b_s1, "s1-restarted"), 0);
  CHECK_INT(xs2s__dialback_state(&w.b_s1, "a.example", "b.example", NULL),
            XS2S_DIALBACK_NONE);
  CHECK_INT(xs2s__dialback_count(&w.b_s1, XS2S_DIALBACK_VALID), 0);
  CHECK_INT(xs2s__dialback_set_stream_id(&w.b_s1, "bad id"),
            XS2S_ERR_INVALID_ARGUMENT);
  world_free(&w);
}

/* The scope of an S2S stream header with the db prefix. */
static const xs2s__ns_binding s2s_bindings[] = {
    {NULL, XS2S_NS_SERVER},
    {"stream", XS2S_NS_STREAMS},
    {"db", XS2S_NS_DIALBACK},
};
static const xs2s__ns_scope s2s_scope = {s2s_bindings, 3, NULL};

/* @s as a session writes it on a stream. */
static void check_on_stream(const xs2s_stanza *s, const char *want) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__buf b;
  xs2s__buf_init(&b, &mem);
  CHECK_INT(xs2s__stanza_write(s, &b, &s2s_scope), 0);
  CHECK_INT(xs2s__buf_append(&b, "", 1), 0);
  CHECK_STR(xs2s__buf_bytes(&b), want);
  xs2s__buf_free(&b);
}

typedef struct stream_reader {
  xs2s__dialback *db;
  const xs2s__dialback_policy *policy;
  xs2s__dialback_out *out;
  int elements;
} stream_reader;

static int reader_stanza(xs2s_parser *p, xs2s_stanza *stanza, void *ud) {
  stream_reader *r = ud;
  (void)p;
  r->elements++;
  return xs2s__dialback_receive(r->db, stanza, T0, r->policy, SECRET_A, r->out);
}

/* The elements as they appear inside streams: written with the db prefix
 * the stream header declares, read back by the stream parser. */
static void test_on_a_real_stream(void) {
  world w;
  world_init(&w, NULL);
  xs2s__dialback_out a1, b1;
  xs2s__dialback_out_init(&a1);
  xs2s__dialback_out_init(&b1);
  CHECK_INT(xs2s__dialback_start(&w.a_s1, SECRET_A, "a.example", "b.example",
                                 T0, &a1),
            0);
  char key[XS2S_DIALBACK_KEY_SIZE];
  xs2s_dialback_key(SECRET_A, "b.example", "a.example", "s1-9f3c1a", key);
  char want[200];
  snprintf(want, sizeof(want),
           "<db:result from='a.example' to='b.example'>%s</db:result>", key);
  check_on_stream(a1.reply, want);

  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__buf bytes;
  xs2s__buf_init(&bytes, &mem);
  CHECK_INT(xs2s__buf_append_str(
                &bytes,
                "<?xml version='1.0'?><stream:stream "
                "xmlns='jabber:server' xmlns:db='jabber:server:dialback' "
                "xmlns:stream='http://etherx.jabber.org/streams' "
                "from='a.example' to='b.example' version='1.0'>"),
            0);
  CHECK_INT(xs2s__stanza_write(a1.reply, &bytes, &s2s_scope), 0);
  stream_reader r = {&w.b_s1, &w.pol_b, &b1, 0};
  xs2s_parser_callbacks cb = {.stanza = reader_stanza};
  xs2s_parser *parser = xs2s_parser_new(&cb, &r, NULL);
  CHECK(parser != NULL);
  CHECK_INT(xs2s_parser_feed(parser, xs2s__buf_bytes(&bytes), bytes.len),
            (long long)bytes.len);
  CHECK_INT(r.elements, 1);
  CHECK(b1.has_request);
  CHECK_STR(b1.request.key, key);
  xs2s_parser_free(parser);
  xs2s__buf_free(&bytes);

  /* An error answer: <error/> is in the stream's default namespace. */
  xs2s__dialback_answer_error(&b1.request, XS2S_STANZA_ERR_ITEM_NOT_FOUND,
                              &b1.answer);
  xs2s__dialback_out b4;
  xs2s__dialback_out_init(&b4);
  CHECK_INT(xs2s__dialback_verified(&w.b_s1, &b1.answer, &b4), 0);
  check_on_stream(b4.reply,
                  "<db:result from='b.example' to='a.example' type='error'>"
                  "<error type='cancel'><item-not-found "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
                  "</db:result>");
  xs2s__dialback_out_clear(&a1);
  xs2s__dialback_out_clear(&b1);
  xs2s__dialback_out_clear(&b4);
  world_free(&w);
}

static void test_mark_valid(void) {
  world w;
  world_init(&w, NULL);
  /* SASL EXTERNAL authenticated the stream: no dialback for that pair. */
  CHECK_INT(xs2s__dialback_mark_valid(&w.b_s1, "a.example", "b.example"), 0);
  const xs2s__dialback_pair *p =
      xs2s__dialback_find(&w.b_s1, "a.example", "b.example");
  CHECK(p && p->state == XS2S_DIALBACK_VALID && p->by_certificate);
  CHECK_INT(xs2s__dialback_mark_valid(&w.b_s1, "a example", "b.example"),
            XS2S_ERR_INVALID_ARGUMENT);
  world_free(&w);
}

/* Out of memory at every allocation of a whole exchange: each step either
 * works or says XS2S_ERR_NOMEM, and nothing leaks (valgrind checks). */
static long budget;
static void *tight_malloc(size_t n, void *ud) {
  (void)ud;
  return budget-- > 0 ? malloc(n) : NULL;
}
static void *tight_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return budget-- > 0 ? realloc(p, n) : NULL;
}
static void plain_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static int exchange_under(long allowed) {
  xs2s_mem custom = {tight_malloc, tight_realloc, plain_free, NULL}, mem;
  xs2s__mem_init(&mem, &custom);
  xs2s__dialback a, b;
  xs2s__dialback_init(&a, &mem, XS2S__DIALBACK_OUTGOING, NULL);
  xs2s__dialback_init(&b, &mem, XS2S__DIALBACK_INCOMING, NULL);
  xs2s__dialback_set_stream_id(&a, "id1");
  xs2s__dialback_set_stream_id(&b, "id1");
  xs2s__dialback_policy pol = policy_of(&site_b);
  xs2s__dialback_out oa, ob;
  xs2s__dialback_out_init(&oa);
  xs2s__dialback_out_init(&ob);
  budget = allowed;
  int rc =
      xs2s__dialback_start(&a, SECRET_A, "a.example", "b.example", T0, &oa);
  if (rc == 0) {
    /* Element exchange through a tree copy, not XML, to stay inside the
     * budget. */
    xs2s_stanza *copy = xs2s_stanza_copy(oa.reply);
    rc = copy ? xs2s__dialback_receive(&b, copy, T0, &pol, NULL, &ob)
              : XS2S_ERR_NOMEM;
    xs2s_stanza_free(copy);
  }
  if (rc == 0 && ob.has_request) {
    xs2s_dialback_answer ans;
    xs2s__dialback_answer_error(&ob.request, XS2S_STANZA_ERR_NONE, &ans);
    ans.result = XS2S_DIALBACK_VALID;
    xs2s__dialback_out_clear(&ob);
    rc = xs2s__dialback_verified(&b, &ans, &ob);
  }
  CHECK(rc == 0 || rc == XS2S_ERR_NOMEM);
  xs2s__dialback_out_clear(&oa);
  xs2s__dialback_out_clear(&ob);
  xs2s__dialback_free(&a);
  xs2s__dialback_free(&b);
  budget = 1L << 30;
  return rc;
}

static void test_out_of_memory(void) {
  long n = 0;
  while (exchange_under(n) == XS2S_ERR_NOMEM && n < 1000)
    n++;
  CHECK(n > 0);
  CHECK(n < 1000);
}

int main(void) {
  RUN(test_key_xep0185_vector);
  RUN(test_key_depends_on_each_input);
  RUN(test_key_rejects_bad_input);
  RUN(test_key_equal);
  RUN(test_secret_generate);
  RUN(test_state_names);
  RUN(test_feature);
  RUN(test_may_multiplex);
  RUN(test_syntax_checks);
  RUN(test_elements);
  RUN(test_valid);
  RUN(test_invalid_key);
  RUN(test_wrong_secret);
  RUN(test_timeout);
  RUN(test_initiating_timeout);
  RUN(test_error_from_authoritative);
  RUN(test_error_made_by_engine);
  RUN(test_error_conditions_understood);
  RUN(test_piggyback_valid_and_invalid);
  RUN(test_piggyback_interleaved);
  RUN(test_target_multiplexing_needs_errors);
  RUN(test_forged_answers_ignored);
  RUN(test_replayed_key_refused);
  RUN(test_policy_violation_for_forbidden_domain);
  RUN(test_unknown_target_domain);
  RUN(test_tls_policy);
  RUN(test_certificate_shortcut);
  RUN(test_duplicates);
  RUN(test_malformed_requests);
  RUN(test_limits);
  RUN(test_stream_lost);
  RUN(test_restart_forgets_pairs);
  RUN(test_on_a_real_stream);
  RUN(test_mark_valid);
  RUN(test_out_of_memory);
  return check_finish();
}
