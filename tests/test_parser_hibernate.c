/* Parser hibernation (xs2s__parser_hibernate()): a stream hibernated at
 * any point where it may be, with any chunking, gives the same events,
 * errors, messages and feed results as one that never hibernated. */
#include <xs2s/parser.h>

#include "check.h"
#include "parser_internal.h"
#include "parser_util.h"
#include "rng.h"

/* Header, stanzas with prefixes declared on the header, keepalives (one
 * with newlines, one left pending before the end), a stanza declaring its
 * own namespaces, the end. */
static const char stream_a[] =
    "<?xml version='1.0'?>" HEADER
    "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>"
    "</stream:features>\n"
    "<db:result from='a.example' to='b.example'>abc</db:result>"
    "<message to='r@b.example' id='m1'><body>one &amp; &lt;two&gt;</body>"
    "</message> \n \n"
    "<message to='r@b.example' id='m2' xml:lang='fr'><body>\xc3\xa0 "
    "\xf0\x9f\x8c\xb9</body><x xmlns='jabber:x:data' xmlns:q='urn:q'>"
    "<q:v a='1'/></x></message>"
    "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>   "
    "<db:verify from='a.example' to='b.example' id='s-1'>k</db:verify>"
    "\n  </stream:stream>";

/* Prefixes of every kind: the stream element under prefix 's', a URI
 * holding characters that need escaping when written back, and 'c' bound
 * on the header and used by stanzas. */
static const char stream_b[] =
    "<s:stream xmlns:s='http://etherx.jabber.org/streams' "
    "xmlns='jabber:server' xmlns:c='urn:c&lt;1&gt;&apos;&quot;&#9;&#10;x \xc3\xa9'"
    " to='b.example' version='1.0'>"
    "<c:hello c:at='v'/>\r\n<message><c:x/></message>"
    "<c:bye xmlns:d='urn:d'><d:z/></c:bye></s:stream>";

/* No prefix on the stream element. */
static const char stream_c[] =
    "<stream xmlns='http://etherx.jabber.org/streams' to='b.example'>"
    "<message xmlns='jabber:server'><body>hi</body></message> "
    "<features/></stream>";

/* A header over several lines, after blank lines, and a wrong end tag
 * whose message names the header's line. */
static const char stream_d[] =
    "<?xml version='1.0'?>\n\n<stream:stream\n xmlns='jabber:server'\n"
    " xmlns:stream='http://etherx.jabber.org/streams'\n>\n<message/>\n"
    "<iq/>\n</stream:foo>";

/* Errors after a possible hibernation: each case is a valid beginning
 * and a bad end. */
static const char *const bad_tails[] = {
    "<y:foo/>",                         /* undeclared prefix */
    "text",                             /* text at stream level */
    "</stream:foo>",                    /* wrong end tag */
    "<message><body>x</body></presence>",
    "<!-- c -->",                       /* restricted XML */
    "<message>&ent;</message>",
    "<message a='1' a='2'/>",
    "<message>\xff</message>",          /* not UTF-8 */
    "<message><body>"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "</body></message>",                /* over the stanza limit */
    "\n\n<message>\n<body>x</body></message><iq>",
    "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01<iq/>",
};

/* How a run hibernates: never, after every feed, or by the generator. */
enum { HIB_NEVER, HIB_ALWAYS, HIB_RANDOM };

typedef struct run_result {
  char *log;
  int hibernated; /* how many times it did */
} run_result;

/* Feeds @data in chunks from the generator seeded with @seed (0: whole),
 * hibernating as @mode says, and returns the event log with every feed's
 * result in it. */
static run_result run(const char *data, size_t len, uint64_t seed, int mode,
                      const xs2s_parser_limits *lim) {
  recorder *r = rec_new();
  r->pause_on = "proceed";
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, lim);
  CHECK(p != NULL);
  run_result out = {NULL, 0};
  uint64_t rs = seed * 7919u + 1, hs = seed * 104729u + 3;
  size_t off = 0;
  while (off < len) {
    size_t n = len - off;
    if (seed) {
      size_t k = 1 + test_rng(&rs) % 40;
      n = n < k ? n : k;
    }
    ssize_t rc = xs2s_parser_feed(p, data + off, n);
    char num[64];
    snprintf(num, sizeof(num), "%zd", rc);
    rec_log(r, "fed ", num, "\n");
    if (rc < 0 || (size_t)rc < n)
      break;
    off += n;
    int want = mode == HIB_ALWAYS || (mode == HIB_RANDOM && test_rng(&hs) % 2);
    if (want && xs2s__parser_hibernate(p) == 1) {
      out.hibernated++;
      CHECK(xs2s__parser_hibernating(p));
      /* Twice is harmless. */
      CHECK_INT(xs2s__parser_hibernate(p), 0);
    }
  }
  out.log = strdup(r->log);
  xs2s_parser_free(p);
  rec_free(r);
  return out;
}

/* Every chunking and hibernation pattern matches the plain run. */
static void check_same(const char *data, size_t len,
                       const xs2s_parser_limits *lim, int expect_hib) {
  run_result plain = run(data, len, 0, HIB_NEVER, lim);
  int total = 0;
  for (uint64_t seed = 1; seed <= 60; seed++) {
    run_result ref = run(data, len, seed, HIB_NEVER, lim);
    CHECK_INT(ref.hibernated, 0);
    for (int mode = HIB_ALWAYS; mode <= HIB_RANDOM; mode++) {
      run_result h = run(data, len, seed, mode, lim);
      if (strcmp(h.log, ref.log) != 0)
        fprintf(stderr, "seed %llu mode %d:\n%s--- expected:\n%s",
                (unsigned long long)seed, mode, h.log, ref.log);
      CHECK_STR(h.log, ref.log);
      total += h.hibernated;
      free(h.log);
    }
    free(ref.log);
  }
  /* Whole-input run: hibernating after the only feed changes nothing. */
  run_result h = run(data, len, 0, HIB_ALWAYS, lim);
  CHECK_STR(h.log, plain.log);
  free(h.log);
  free(plain.log);
  if (expect_hib)
    CHECK(total > 0);
  else
    CHECK_INT(total, 0);
}

static void test_streams_identical(void) {
  check_same(stream_a, sizeof(stream_a) - 1, NULL, 1);
  check_same(stream_b, sizeof(stream_b) - 1, NULL, 1);
  check_same(stream_c, sizeof(stream_c) - 1, NULL, 1);
  check_same(stream_d, sizeof(stream_d) - 1, NULL, 1);
  run_result d = run(stream_d, sizeof(stream_d) - 1, 0, HIB_NEVER, NULL);
  CHECK(strstr(d.log, "stream line 3 and") != NULL);
  free(d.log);
}

/* Errors, their messages (line numbers included) and the bytes a pause
 * used are the same after a hibernation. */
static void test_errors_identical(void) {
  xs2s_parser_limits lim = {300, 0, 0};
  const char *start = "<?xml version='1.0'?>\n" HEADER
                      "\n<message><body>a</body></message>\n \n";
  for (size_t i = 0; i < sizeof(bad_tails) / sizeof(bad_tails[0]); i++) {
    size_t len = strlen(start) + strlen(bad_tails[i]);
    char *s = malloc(len + 1);
    strcpy(s, start);
    strcat(s, bad_tails[i]);
    check_same(s, len, &lim, 1);
    free(s);
  }
}

/* Where hibernation is refused: before the header, inside a stanza, with
 * text pending, while paused, after the end, and for a header whose
 * namespace libxml2 reports escaped. */
static void test_refused(void) {
  recorder *r = rec_new();
  r->pause_on = "proceed";
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  CHECK_INT(xs2s__parser_hibernate(p), 0);
  CHECK_INT(xs2s_parser_feed(p, "<stream:str", 11), 11);
  CHECK_INT(xs2s__parser_hibernate(p), 0);
  const char *rest = HEADER + 11;
  CHECK_INT(xs2s_parser_feed(p, rest, strlen(rest)), strlen(rest));
  CHECK_INT(xs2s__parser_hibernate(p), 1);
  CHECK_INT(xs2s_parser_feed(p, "<message><bo", 12), 12);
  CHECK_INT(xs2s__parser_hibernate(p), 0);
  CHECK_INT(xs2s_parser_feed(p, "dy/></message> <i", 17), 17);
  CHECK_INT(xs2s__parser_hibernate(p), 0);
  CHECK_INT(xs2s_parser_feed(p, "q/>", 3), 3);
  CHECK_INT(r->stanzas, 2);
  CHECK_INT(xs2s__parser_hibernate(p), 1);
  CHECK_INT(xs2s_parser_feed(p, "\xc3", 1), 1); /* half a character */
  CHECK_INT(xs2s__parser_hibernate(p), 0);
  CHECK_INT(xs2s_parser_feed(p, "\xa0", 1), 1);
  CHECK_INT(xs2s__parser_hibernate(p), 0); /* text at stream level */
  CHECK(xs2s_parser_feed(p, "<iq/>", 5) < 0);
  CHECK_INT(r->errors, 1);
  xs2s_parser_free(p);
  rec_free(r);

  r = rec_new();
  r->pause_on = "proceed";
  p = xs2s_parser_new(&rec_callbacks, r, NULL);
  const char *s = HEADER "<proceed/><iq/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s) - 5);
  CHECK_INT(xs2s__parser_hibernate(p), 0); /* paused */
  CHECK_INT(xs2s_parser_reset(p), 0);
  CHECK_INT(xs2s__parser_hibernate(p), 0); /* waiting for a header */
  s = HEADER "</stream:stream>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK_INT(xs2s__parser_hibernate(p), 0); /* closed */
  CHECK_INT(r->closes, 1);
  xs2s_parser_free(p);
  rec_free(r);

  r = rec_new();
  p = xs2s_parser_new(&rec_callbacks, r, NULL);
  s = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns='jabber:server' xmlns:x='urn:a&amp;b'><x:m/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK_INT(xs2s__parser_hibernate(p), 0);
  CHECK(strstr(r->log, "stanza {urn:a&b}") != NULL);
  xs2s_parser_free(p);
  rec_free(r);
}

/* A reset of a hibernating parser starts a new stream as usual, and a
 * freed hibernating parser leaks nothing (valgrind run). */
static void test_reset_and_free(void) {
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  const char *s = HEADER "<iq/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK_INT(xs2s__parser_hibernate(p), 1);
  CHECK_INT(xs2s_parser_reset(p), 0);
  CHECK(!xs2s__parser_hibernating(p));
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK_INT(r->opens, 2);
  CHECK_INT(r->stanzas, 2);
  CHECK_INT(xs2s__parser_hibernate(p), 1);
  xs2s_parser_free(p);
  rec_free(r);
}

/* Many wake-ups: one stanza per feed, hibernating after each. */
static void test_many_wakeups(void) {
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  CHECK_INT(xs2s_parser_feed(p, HEADER, strlen(HEADER)), strlen(HEADER));
  const char *m = "<message to='x@b.example'><body>hello</body></message> ";
  for (int i = 0; i < 2000; i++) {
    CHECK_INT(xs2s__parser_hibernate(p), 1);
    CHECK_INT(xs2s_parser_feed(p, m, strlen(m)), strlen(m));
  }
  CHECK_INT(r->stanzas, 2000);
  CHECK_INT(r->errors, 0);
  xs2s_parser_free(p);
  rec_free(r);
}

int main(void) {
  (void)feed_chunks;
  RUN(test_streams_identical);
  RUN(test_errors_identical);
  RUN(test_refused);
  RUN(test_reset_and_free);
  RUN(test_many_wakeups);
  return check_finish();
}
