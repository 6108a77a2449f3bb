/* The stream parser: a realistic stream, chunking independence, pause at
 * <proceed/>, resets, and every stream error condition. */
#include <xs2s/parser.h>

#include "check.h"
#include "parser_util.h"

/* A server-to-server stream as a peer sends it: XML declaration, header,
 * features, dialback, stanzas with non-ASCII text (2, 3 and 4-byte UTF-8),
 * escapes, CRLF, a CDATA section, white-space keepalives, and the end. */
static const char stream[] =
    "<?xml version='1.0'?>" HEADER
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
    "<required/></starttls><dialback xmlns='urn:xmpp:features:dialback'/>"
    "</stream:features>\n"
    "<db:result from='a.example' to='b.example'>b4835385f37fe2895af6c196b59"
    "097b16862406db80559900d96bf6fa7d23df3</db:result>\n"
    "<message from='juliet@a.example/balcony' to='romeo@b.example' "
    "type='chat' id='m1' xml:lang='de'><body>Gr\xc3\xbc\xc3\x9f"
    "e aus K\xc3\xb6ln &amp; &lt;Verona&gt; &#x1F339;</body>"
    "<thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread></message>"
    "  \n  "
    "<message from='juliet@a.example/balcony' to='romeo@b.example' "
    "id='m2' xml:lang='ja'><body>\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3"
    "\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88 \xf0\x9f\x98"
    "\x80\r\nline two\r\n"
    "O Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse "
    "thy name; or, if thou wilt not, be but sworn my love, and I'll no "
    "longer be a Capulet. \xe2\x80\x98Tis but thy name that is my enemy; "
    "thou art thyself, though not a Montague. What\xe2\x80\x99s Montague? "
    "It is nor hand, nor foot, nor arm, nor face, nor any other part "
    "belonging to a man. \xc3\xa9\xc3\xa8\xc3\xaa \xe2\x82\xac\xe2\x82\xac "
    "\xf0\x9f\x8c\xb9\xf0\x9f\x8c\xb9</body><x xmlns='jabber:x:data' "
    "type='result'><field var='a&amp;b' label='&quot;q&quot; &apos;s&apos;'>"
    "<value><![CDATA[<raw> & stuff]]></value></field></x></message>\n"
    "<presence from='juliet@a.example/balcony' to='romeo@b.example'>"
    "<show>away</show><status xml:lang='fr'>Partie \xc3\xa0 V\xc3\xa9rone"
    "</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
    "node='http://example.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
    "</presence> "
    "<iq from='a.example' to='b.example' id='ping-1' type='get'>"
    "<ping xmlns='urn:xmpp:ping'/></iq>"
    "<db:verify from='a.example' to='b.example' id='s-1'>k</db:verify>"
    "</stream:stream>";

static void test_realistic_stream(void) {
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  CHECK_INT(xs2s_parser_feed(p, stream, sizeof(stream) - 1),
            sizeof(stream) - 1);
  CHECK_INT(r->opens, 1);
  CHECK_INT(r->stanzas, 7);
  CHECK_INT(r->closes, 1);
  CHECK_INT(r->errors, 0);
  CHECK_INT(r->feed_in_callback, XS2S_ERR_BAD_STATE);
  CHECK(strstr(r->log,
               "open from=a.example to=b.example id=s-1 version=1.0 lang=en "
               "default=jabber:server ns[(null)]=jabber:server "
               "ns[stream]=http://etherx.jabber.org/streams "
               "ns[db]=jabber:server:dialback\n") == r->log);
  CHECK(strstr(r->log, "stanza {http://etherx.jabber.org/streams} "
                       "<stream:features xmlns:stream='http://etherx.jabber."
                       "org/streams'><starttls xmlns='urn:ietf:params:xml:"
                       "ns:xmpp-tls'><required/></starttls>"));
  CHECK(strstr(r->log, "stanza {jabber:server:dialback} <db:result "
                       "xmlns:db='jabber:server:dialback' from='a.example' "
                       "to='b.example'>b4835385"));
  CHECK(strstr(r->log, "stanza {jabber:server} <message xmlns='jabber:server'"
                       " from='juliet@a.example/balcony' to='romeo@b.example'"
                       " type='chat' id='m1' xml:lang='de'><body>Gr\xc3\xbc"
                       "\xc3\x9f" "e aus K\xc3\xb6ln &amp; &lt;Verona&gt; "
                       "\xf0\x9f\x8c\xb9</body>"));
  CHECK(strstr(r->log, "\xf0\x9f\x98\x80\nline two\nO Romeo"));
  CHECK(strstr(r->log, "<field var='a&amp;b' label='&quot;q&quot; &apos;s"
                       "&apos;'><value>&lt;raw&gt; &amp; stuff</value>"));
  CHECK(strstr(r->log, "stanza {jabber:server} <iq xmlns='jabber:server' "
                       "from='a.example' to='b.example' id='ping-1' "
                       "type='get'><ping xmlns='urn:xmpp:ping'/></iq>\n"));
  CHECK(strstr(r->log, "stanza {jabber:server:dialback} <db:verify"));
  CHECK(strstr(r->log, "</db:verify>\nclose\n"));
  CHECK_INT(xs2s_parser_condition(p), XS2S_STREAM_ERR_NONE);
  /* After the end, nothing more. */
  CHECK_INT(xs2s_parser_feed(p, " ", 1), XS2S_ERR_STREAM_CLOSED);
  /* A new stream after a reset. */
  CHECK_INT(xs2s_parser_reset(p), 0);
  CHECK_INT(xs2s_parser_feed(p, stream, sizeof(stream) - 1),
            sizeof(stream) - 1);
  CHECK_INT(r->opens, 2);
  CHECK_INT(r->stanzas, 14);
  xs2s_parser_free(p);
  rec_free(r);
}

/* The log of a whole run of @data fed in chunks chosen by @next_chunk. */
static char *run_log(const char *data, size_t len, size_t (*next)(void)) {
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  size_t off = 0;
  while (off < len) {
    size_t n = next();
    if (n > len - off)
      n = len - off;
    ssize_t rc = xs2s_parser_feed(p, data + off, n);
    CHECK_INT(rc, n);
    if (rc < 0)
      break;
    off += n;
  }
  char *log = strdup(r->log);
  xs2s_parser_free(p);
  rec_free(r);
  return log;
}

static size_t fixed_chunk;
static size_t next_fixed(void) {
  return fixed_chunk;
}
static unsigned long rng = 1;
static size_t next_random(void) {
  rng = rng * 6364136223846793005ul + 1442695040888963407ul;
  return 1 + (size_t)((rng >> 33) % 97);
}

/* Bigger than a slice, so that slicing is exercised too. */
static char *big_stream(size_t *len) {
  size_t cap = 200000, n = 0;
  char *s = malloc(cap);
  n += (size_t)sprintf(s + n, "%s", HEADER);
  for (int i = 0; n < cap - 1000; i++)
    n += (size_t)sprintf(s + n,
                         "<message to='u%d@b.example' from='x@a.example' "
                         "xml:lang='en'><body>n\xc2\xba %d \xe2\x9c\x93 &amp; "
                         "\xf0\x9f\x8e\x89</body></message>\r\n",
                         i, i);
  n += (size_t)sprintf(s + n, "</stream:stream>");
  *len = n;
  return s;
}

static void test_chunking_independent(void) {
  size_t len = sizeof(stream) - 1;
  fixed_chunk = len;
  char *whole = run_log(stream, len, next_fixed);
  CHECK(strstr(whole, "close\n") != NULL);
  static const size_t sizes[] = {1, 2, 3, 5, 7, 64, 300, 301, 1000};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    fixed_chunk = sizes[i];
    char *log = run_log(stream, len, next_fixed);
    CHECK_STR(log, whole);
    free(log);
  }
  for (rng = 1; rng < 20; rng++) {
    unsigned long seed = rng;
    char *log = run_log(stream, len, next_random);
    CHECK_STR(log, whole);
    free(log);
    rng = seed;
  }
  free(whole);

  char *big = big_stream(&len);
  fixed_chunk = len;
  whole = run_log(big, len, next_fixed);
  CHECK(strstr(whole, "close\n") != NULL);
  static const size_t big_sizes[] = {1, 13, 4096, 16384, 16385, 65536};
  for (size_t i = 0; i < sizeof(big_sizes) / sizeof(big_sizes[0]); i++) {
    fixed_chunk = big_sizes[i];
    char *log = run_log(big, len, next_fixed);
    CHECK(strcmp(log, whole) == 0);
    free(log);
  }
  free(whole);
  free(big);
}

/* After <proceed/> the bytes are TLS: not one of them may be parsed,
 * wherever the feeds are cut. */
static void check_pause(const char *proceed) {
  char buf[1024];
  /* A ClientHello start, a fake stanza that must never be seen, and bytes
   * that are not UTF-8. */
  static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                            "<message><body>injected</body></message>"
                            "\xff\xfe\x80";
  size_t head = (size_t)snprintf(buf, sizeof(buf), "%s<starttls xmlns='urn:"
                                 "ietf:params:xml:ns:xmpp-tls'/>%s",
                                 HEADER, proceed);
  memcpy(buf + head, tls, sizeof(tls) - 1);
  size_t total = head + sizeof(tls) - 1;
  for (size_t cut = 0; cut <= total; cut++) {
    recorder *r = rec_new();
    r->pause_on = "proceed";
    xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
    size_t used = 0;
    ssize_t rc = cut ? xs2s_parser_feed(p, buf, cut) : 0;
    if (cut && rc >= 0)
      used += (size_t)rc;
    if (rc >= 0 && (size_t)rc == cut && r->stanzas < 2) {
      rc = xs2s_parser_feed(p, buf + cut, total - cut);
      if (rc >= 0)
        used += (size_t)rc;
    }
    if (rc < 0)
      fprintf(stderr, "cut %zu of %zu: %s\n%s", cut, total,
              xs2s_error_name((int)rc), r->log);
    CHECK(rc >= 0);
    CHECK_INT(used, head);
    CHECK_INT(r->stanzas, 2);
    CHECK_INT(r->errors, 0);
    CHECK(strstr(r->log, "injected") == NULL);
    /* Paused: no more input until reset. */
    CHECK_INT(xs2s_parser_feed(p, HEADER, strlen(HEADER)), XS2S_ERR_BAD_STATE);
    CHECK_INT(xs2s_parser_reset(p), 0);
    CHECK_INT(xs2s_parser_feed(p, HEADER "<iq/>", strlen(HEADER) + 5),
              strlen(HEADER) + 5);
    CHECK_INT(r->opens, 2);
    CHECK_INT(r->stanzas, 3);
    xs2s_parser_free(p);
    rec_free(r);
  }
}

static void test_pause_after_proceed(void) {
  check_pause("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  check_pause("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'></proceed>");
  check_pause("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\n</proceed>");

  /* The element ending exactly at the end of the input. */
  recorder *r = rec_new();
  r->pause_on = "proceed";
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  const char *s = HEADER "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK_INT(xs2s_parser_feed(p, "<a/>", 4), XS2S_ERR_BAD_STATE);
  xs2s_parser_free(p);
  rec_free(r);
}

/* A reset requested from a callback (the SASL restart) stops after that
 * element; the rest belongs to the new stream. */
static void test_reset_from_callback(void) {
  recorder *r = rec_new();
  r->reset_on = "success";
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  const char *first = HEADER "<success xmlns='urn:ietf:params:xml:ns:"
                             "xmpp-sasl'/>";
  char buf[2048];
  snprintf(buf, sizeof(buf), "%s%s<iq id='after'/>", first, HEADER);
  size_t len = strlen(buf);
  ssize_t rc = xs2s_parser_feed(p, buf, len);
  CHECK_INT(rc, strlen(first));
  CHECK_INT(r->opens, 1);
  rc = xs2s_parser_feed(p, buf + rc, len - (size_t)rc);
  CHECK_INT(rc, len - strlen(first));
  CHECK_INT(r->opens, 2);
  CHECK_INT(r->stanzas, 2);
  CHECK(strstr(r->log, "<iq xmlns='jabber:server' id='after'/>"));
  xs2s_parser_free(p);
  rec_free(r);
}

typedef struct bad_input {
  const char *name;
  const char *data;
  size_t len; /* 0: strlen */
  int code;
  xs2s_stream_condition condition;
  int stanzas; /* delivered before the error */
} bad_input;

#define NWF XS2S_ERR_NOT_WELL_FORMED, XS2S_STREAM_ERR_NOT_WELL_FORMED, 0
#define RESTRICTED XS2S_ERR_RESTRICTED_XML, XS2S_STREAM_ERR_RESTRICTED_XML, 0
#define INVALID_NS XS2S_ERR_INVALID_NAMESPACE, XS2S_STREAM_ERR_INVALID_NAMESPACE, 0
#define BAD_PREFIX                                                             \
  XS2S_ERR_BAD_NAMESPACE_PREFIX, XS2S_STREAM_ERR_BAD_NAMESPACE_PREFIX, 0
#define ENCODING                                                               \
  XS2S_ERR_UNSUPPORTED_ENCODING, XS2S_STREAM_ERR_UNSUPPORTED_ENCODING, 0
#define BAD_FORMAT XS2S_ERR_BAD_FORMAT, XS2S_STREAM_ERR_BAD_FORMAT, 0

#define LAUGHS                                                                 \
  "<!DOCTYPE lolz [<!ENTITY lol 'lol'>"                                        \
  "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"        \
  "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"    \
  "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"    \
  "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"    \
  "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"    \
  "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"    \
  "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"    \
  "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"    \
  "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>]>"

static const bad_input bad_inputs[] = {
    {"mismatched tags", HEADER "<a></b>", 0, NWF},
    {"duplicate attribute", HEADER "<a b='1' b='2'/>", 0, NWF},
    {"control character", HEADER "<a>\x01</a>", 0, NWF},
    {"NUL character reference", HEADER "<a>&#0;</a>", 0, NWF},
    {"NUL byte", HEADER "<a>\0</a>", sizeof(HEADER "<a>\0</a>") - 1, NWF},
    {"empty namespace prefix binding", HEADER "<a xmlns:p=''/>", 0, NWF},
    {"late XML declaration", HEADER "<?xml version='1.0'?>", 0, NWF},
    {"UTF-8 byte order mark", "\xef\xbb\xbf" HEADER, 0, NWF},
    {"not XML", "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n", 0, NWF},
    {"comment before the header", "<!-- hi -->" HEADER, 0, RESTRICTED},
    {"comment between stanzas", HEADER "<!-- hi --><a/>", 0, RESTRICTED},
    {"comment in a stanza", HEADER "<a><!-- hi --></a>", 0, RESTRICTED},
    {"processing instruction", HEADER "<?php echo 1; ?>", 0, RESTRICTED},
    {"processing instruction in a stanza", HEADER "<a><?x y?></a>", 0,
     RESTRICTED},
    {"internal DTD", "<!DOCTYPE stream:stream []>" HEADER, 0, RESTRICTED},
    {"billion laughs", "<?xml version='1.0'?>" LAUGHS HEADER "<a>&lol9;</a>",
     0, RESTRICTED},
    {"XXE file", "<!DOCTYPE s [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
     HEADER "<a>&x;</a>", 0, RESTRICTED},
    {"XXE http", "<!DOCTYPE s [<!ENTITY x SYSTEM 'http://127.0.0.1:9/x'>]>"
     HEADER "<a>&x;</a>", 0, RESTRICTED},
    {"external DTD", "<!DOCTYPE s SYSTEM 'http://127.0.0.1:9/s.dtd'>" HEADER,
     0, RESTRICTED},
    {"parameter entity", "<!DOCTYPE s [<!ENTITY % p SYSTEM 'file:///etc/"
     "passwd'> %p;]>" HEADER, 0, RESTRICTED},
    {"undeclared entity", HEADER "<a>&nbsp;</a>", 0, RESTRICTED},
    {"undeclared entity in attribute", HEADER "<a b='&x;'/>", 0, RESTRICTED},
    {"wrong stream namespace",
     "<stream:stream xmlns:stream='http://etherx.jabber.org/streams/x'>", 0,
     INVALID_NS},
    {"stream in the content namespace", "<stream xmlns='jabber:server'>", 0,
     INVALID_NS},
    {"stream in no namespace", "<stream>", 0, INVALID_NS},
    {"undeclared prefix in a stanza", HEADER "<foo:bar/>", 0, BAD_PREFIX},
    {"undeclared prefix on an attribute", HEADER "<a foo:x='1'/>", 0,
     BAD_PREFIX},
    {"undeclared stream prefix", "<stream:stream xmlns='jabber:server'>", 0,
     BAD_PREFIX},
    {"ISO-8859-1 declared",
     "<?xml version='1.0' encoding='ISO-8859-1'?>" HEADER, 0, ENCODING},
    {"UTF-16 declared", "<?xml version='1.0' encoding='UTF-16'?>" HEADER, 0,
     ENCODING},
    {"UTF-16LE byte order mark", "\xff\xfe<\0s\0", 6, ENCODING},
    {"UTF-16BE byte order mark", "\xfe\xff\0<\0s", 6, ENCODING},
    {"UTF-16LE without byte order mark", "<\0?\0x\0", 6, ENCODING},
    {"UTF-16BE without byte order mark", "\0<\0?\0x", 6, ENCODING},
    {"UCS-4", "\0\0\0<", 4, ENCODING},
    {"invalid UTF-8 in text", HEADER "<a>\xc3\x28</a>", 0, ENCODING},
    {"invalid UTF-8 in an attribute", HEADER "<a b='\xe9t\xe9'/>", 0,
     ENCODING},
    {"invalid UTF-8 in a name", HEADER "<\xff/>", 0, ENCODING},
    {"invalid UTF-8 in the header", "<stream:stream to='\x80'", 0, ENCODING},
    {"overlong UTF-8", HEADER "<a>\xc0\xbc</a>", 0, ENCODING},
    {"UTF-8 surrogate", HEADER "<a>\xed\xa0\x80</a>", 0, ENCODING},
    {"UTF-8 above U+10FFFF", HEADER "<a>\xf4\x90\x80\x80</a>", 0, ENCODING},
    {"lone continuation byte", HEADER "<a>\x80</a>", 0, ENCODING},
    {"text at stream level", HEADER "hello<a/>", 0, BAD_FORMAT},
    {"text between stanzas", HEADER "<a/>text<b/>", 0, XS2S_ERR_BAD_FORMAT,
     XS2S_STREAM_ERR_BAD_FORMAT, 1},
    {"root not a stream", "<message xmlns='jabber:server'/>", 0, BAD_FORMAT},
    {"root named otherwise",
     "<foo xmlns='http://etherx.jabber.org/streams'>", 0, BAD_FORMAT},
};

static void check_bad(const bad_input *b, size_t chunk) {
  size_t len = b->len ? b->len : strlen(b->data);
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  ssize_t rc = feed_chunks(p, b->data, len, chunk);
  if (rc != b->code || r->last_condition != b->condition) {
    fprintf(stderr, "%s (chunk %zu): got %s, log:\n%s", b->name, chunk,
            xs2s_error_name((int)rc), r->log);
  }
  CHECK_INT(rc, b->code);
  CHECK_INT(r->errors, 1);
  CHECK_INT(r->last_error, b->code);
  CHECK_INT(r->last_condition, b->condition);
  CHECK_INT(xs2s_parser_condition(p), b->condition);
  CHECK_INT(r->stanzas, b->stanzas);
  CHECK_INT(xs2s_parser_feed(p, "<a/>", 4), XS2S_ERR_PARSER_FAILED);
  CHECK_INT(xs2s_parser_reset(p), 0);
  CHECK_INT(xs2s_parser_condition(p), XS2S_STREAM_ERR_NONE);
  CHECK_INT(xs2s_parser_feed(p, HEADER "<a/>", strlen(HEADER) + 4),
            strlen(HEADER) + 4);
  CHECK_INT(r->stanzas, b->stanzas + 1);
  xs2s_parser_free(p);
  rec_free(r);
}

static void test_stream_errors(void) {
  for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
    check_bad(&bad_inputs[i], 0);
    check_bad(&bad_inputs[i], 1);
    check_bad(&bad_inputs[i], 7);
  }
}

static void test_header_forms(void) {
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  /* No XML declaration, the stream namespace as the default, an empty
   * stream. */
  const char *s = "<stream xmlns='http://etherx.jabber.org/streams'/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK_STR(r->log, "open from=(null) to=(null) id=(null) version=(null) "
                    "lang=(null) default=http://etherx.jabber.org/streams "
                    "ns[(null)]=http://etherx.jabber.org/streams\nclose\n");
  xs2s_parser_reset(p);
  /* A client stream: stanzas take its default namespace. */
  s = "<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n"
      "<stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams'>"
      "<message><body/></message><db:x xmlns:db='urn:d'/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  CHECK(strstr(r->log, "stanza {jabber:client} <message xmlns='jabber:"
                       "client'><body/></message>\n"));
  CHECK(strstr(r->log, "stanza {urn:d} <db:x xmlns:db='urn:d'/>\n"));
  xs2s_parser_free(p);
  rec_free(r);
}

static void test_callbacks_fail(void) {
  recorder *r = rec_new();
  r->fail_open = XS2S_ERR_CALLBACK_FAILED;
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  CHECK_INT(xs2s_parser_feed(p, HEADER "<a/>", strlen(HEADER) + 4),
            XS2S_ERR_CALLBACK_FAILED);
  CHECK_INT(r->errors, 0); /* not the stream's fault */
  CHECK_INT(r->stanzas, 0);
  CHECK_INT(xs2s_parser_feed(p, "<a/>", 4), XS2S_ERR_PARSER_FAILED);
  r->fail_open = 0;
  r->fail_stanza = XS2S_ERR_POLICY;
  xs2s_parser_reset(p);
  CHECK_INT(xs2s_parser_feed(p, HEADER "<a/><b/>", strlen(HEADER) + 8),
            XS2S_ERR_POLICY);
  CHECK_INT(r->stanzas, 1);
  CHECK_INT(r->errors, 0);
  xs2s_parser_free(p);
  rec_free(r);

  /* No callbacks at all. */
  p = xs2s_parser_new(NULL, NULL, NULL);
  CHECK_INT(xs2s_parser_feed(p, stream, sizeof(stream) - 1),
            sizeof(stream) - 1);
  xs2s_parser_free(p);
}

static void test_misuse(void) {
  xs2s_parser *p = xs2s_parser_new(NULL, NULL, NULL);
  CHECK_INT(xs2s_parser_feed(p, NULL, 1), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_parser_feed(NULL, "a", 1), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_parser_feed(p, NULL, 0), 0);
  CHECK_INT(xs2s_parser_reset(NULL), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_parser_condition(NULL), XS2S_STREAM_ERR_NONE);
  xs2s_parser_free(p);
  xs2s_parser_free(NULL);
}

/* A stanza kept with xs2s_stanza_copy() outlives the callback and the
 * parser. */
static void test_keep_stanza(void) {
  recorder *r = rec_new();
  r->keep = 1;
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, NULL);
  const char *s = HEADER "<message to='x'><body>kept</body></message><b/>";
  xs2s_parser_feed(p, s, strlen(s) - 4);
  xs2s_parser_free(p);
  CHECK(xs2s_stanza_is(r->kept, "message", XS2S_NS_SERVER));
  CHECK_STR(xs2s_stanza_text(xs2s_stanza_find_child(r->kept, "body", NULL)),
            "kept");
  rec_free(r);
}

/* Freeing a lent stanza does nothing; the callback may change it. */
static int free_lent(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  (void)p;
  (void)ud;
  xs2s_stanza_free(s);
  xs2s_stanza_set_attr(s, "added", "yes");
  xs2s_stanza_add_text(xs2s_stanza_add_child(s, "more", NULL), "t", 1);
  return 0;
}

static void test_lent_stanza(void) {
  xs2s_parser_callbacks cb = {NULL, free_lent, NULL, NULL};
  xs2s_parser *p = xs2s_parser_new(&cb, NULL, NULL);
  const char *s = HEADER "<a x='1'/><b/>";
  CHECK_INT(xs2s_parser_feed(p, s, strlen(s)), strlen(s));
  xs2s_parser_free(p);
}

int main(void) {
  RUN(test_realistic_stream);
  RUN(test_chunking_independent);
  RUN(test_pause_after_proceed);
  RUN(test_reset_from_callback);
  RUN(test_stream_errors);
  RUN(test_header_forms);
  RUN(test_callbacks_fail);
  RUN(test_misuse);
  RUN(test_keep_stanza);
  RUN(test_lent_stanza);
  return check_finish();
}
