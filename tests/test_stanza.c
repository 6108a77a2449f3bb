/* The element tree: building, lookup, copying, serialising, parsing one
 * element, namespaces on a stream, out-of-memory. */
#include <stdlib.h>

#include <xs2s/parser.h>
#include <xs2s/stanza.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "serialize.h"

/* ---- helpers ---- */

static char out[8192];

/* Standalone XML of @s (static buffer). */
static const char *xml(const xs2s_stanza *s) {
  size_t len = 0;
  if (xs2s_stanza_serialize(s, out, sizeof(out), &len) != 0)
    return "(serialize failed)";
  return out;
}

/* XML of @s written on a stream whose scope is @scope (static buffer). */
static const char *xml_in(const xs2s_stanza *s, const xs2s__ns_scope *scope) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__buf b;
  xs2s__buf_init(&b, &mem);
  if (xs2s__stanza_write(s, &b, scope) != 0 || b.len >= sizeof(out)) {
    xs2s__buf_free(&b);
    return "(write failed)";
  }
  memcpy(out, xs2s__buf_bytes(&b), b.len);
  out[b.len] = '\0';
  xs2s__buf_free(&b);
  return out;
}

static xs2s_stanza *parse(const char *text) {
  int err = 1;
  xs2s_stanza *s = xs2s_stanza_parse(text, strlen(text), &err);
  CHECK_INT(err, 0);
  return s;
}

static int parse_error(const char *text, size_t len) {
  int err = 0;
  xs2s_stanza *s = xs2s_stanza_parse(text, len, &err);
  CHECK(s == NULL);
  xs2s_stanza_free(s);
  return err;
}

#define PARSE_ERROR(text) parse_error(text, sizeof(text) - 1)

/* The scope of an S2S stream after its header. */
static const xs2s__ns_binding s2s_bindings[] = {
    {NULL, XS2S_NS_SERVER},
    {"stream", XS2S_NS_STREAMS},
    {"db", XS2S_NS_DIALBACK},
};
static const xs2s__ns_scope s2s_scope = {s2s_bindings, 3, NULL};

/* Counting allocator: fails once the budget is spent. */
static long budget = -1;
static long allocations;
static void *count_malloc(size_t n, void *ud) {
  (void)ud;
  if (budget == 0)
    return NULL;
  if (budget > 0)
    budget--;
  allocations++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (budget == 0)
    return NULL;
  if (budget > 0)
    budget--;
  allocations++;
  return realloc(p, n);
}
static void count_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static const xs2s_mem counting = {count_malloc, count_realloc, count_free,
                                  NULL};

/* ---- building and lookup ---- */

static void test_build_and_lookup(void) {
  xs2s_stanza *m = xs2s_stanza_new("message", XS2S_NS_SERVER);
  CHECK(m != NULL);
  CHECK_INT(xs2s_stanza_type(m), XS2S_NODE_ELEMENT);
  CHECK_STR(xs2s_stanza_name(m), "message");
  CHECK_STR(xs2s_stanza_ns(m), XS2S_NS_SERVER);
  CHECK(xs2s_stanza_is(m, "message", XS2S_NS_SERVER));
  CHECK(xs2s_stanza_is(m, NULL, XS2S_NS_SERVER));
  CHECK(xs2s_stanza_is(m, "message", NULL));
  CHECK(!xs2s_stanza_is(m, "iq", NULL));
  CHECK(!xs2s_stanza_is(m, NULL, XS2S_NS_CLIENT));
  CHECK(!xs2s_stanza_is(NULL, NULL, NULL));
  CHECK(xs2s_stanza_parent(m) == NULL);

  CHECK_INT(xs2s_stanza_set_attr(m, "to", "b.example"), 0);
  CHECK_INT(xs2s_stanza_set_attr(m, "from", "a.example"), 0);
  CHECK_INT(xs2s_stanza_set_attr(m, "type", "chat"), 0);
  CHECK_INT(xs2s_stanza_set_attr_ns(m, "lang", XS2S_NS_XML, "en"), 0);
  CHECK_INT(xs2s_stanza_set_attr(m, "id", "1"), 0);
  CHECK_INT(xs2s_stanza_attr_count(m), 5);
  CHECK_STR(xs2s_stanza_attr(m, "to"), "b.example");
  CHECK(xs2s_stanza_attr(m, "lang") == NULL);
  CHECK_STR(xs2s_stanza_attr_ns(m, "lang", XS2S_NS_XML), "en");
  CHECK_STR(xs2s_stanza_attr_ns(m, "to", NULL), "b.example");
  CHECK_STR(xs2s_stanza_attr_ns(m, "to", ""), "b.example");
  /* Replacing keeps the position. */
  CHECK_INT(xs2s_stanza_set_attr(m, "type", "normal"), 0);
  CHECK_INT(xs2s_stanza_attr_count(m), 5);
  const char *name, *ns, *value;
  CHECK_INT(xs2s_stanza_attr_at(m, 2, &name, &ns, &value), 0);
  CHECK_STR(name, "type");
  CHECK_STR(ns, "");
  CHECK_STR(value, "normal");
  CHECK_INT(xs2s_stanza_attr_at(m, 3, &name, &ns, NULL), 0);
  CHECK_STR(name, "lang");
  CHECK_STR(ns, XS2S_NS_XML);
  CHECK_INT(xs2s_stanza_attr_at(m, 5, NULL, NULL, NULL), XS2S_ERR_NOT_FOUND);
  CHECK_INT(xs2s_stanza_remove_attr(m, "from"), 1);
  CHECK_INT(xs2s_stanza_remove_attr(m, "from"), 0);
  CHECK_INT(xs2s_stanza_attr_count(m), 4);
  CHECK_INT(xs2s_stanza_attr_at(m, 1, &name, NULL, NULL), 0);
  CHECK_STR(name, "type");

  xs2s_stanza *body = xs2s_stanza_add_child(m, "body", NULL);
  CHECK(body != NULL);
  CHECK_STR(xs2s_stanza_ns(body), XS2S_NS_SERVER);
  CHECK(xs2s_stanza_parent(body) == m);
  CHECK_INT(xs2s_stanza_add_text(body, "Hello, ", 7), 0);
  CHECK_INT(xs2s_stanza_add_text(body, "world", 5), 0);
  /* Adjacent text merges into one node. */
  xs2s_stanza *t = xs2s_stanza_first_child(body);
  CHECK(t != NULL && xs2s_stanza_next(t) == NULL);
  CHECK_INT(xs2s_stanza_type(t), XS2S_NODE_TEXT);
  CHECK(xs2s_stanza_name(t) == NULL);
  CHECK(xs2s_stanza_ns(t) == NULL);
  CHECK_STR(xs2s_stanza_text(t), "Hello, world");
  CHECK_STR(xs2s_stanza_text(body), "Hello, world");
  CHECK_STR(xs2s_stanza_text(m), "");

  xs2s_stanza *x = xs2s_stanza_add_child(m, "x", "jabber:x:oob");
  xs2s_stanza *none = xs2s_stanza_add_child(x, "plain", "");
  CHECK_STR(xs2s_stanza_ns(x), "jabber:x:oob");
  CHECK_STR(xs2s_stanza_ns(none), "");
  CHECK(xs2s_stanza_find_child(m, "body", XS2S_NS_SERVER) == body);
  CHECK(xs2s_stanza_find_child(m, "body", "jabber:x:oob") == NULL);
  CHECK(xs2s_stanza_find_child(m, NULL, "jabber:x:oob") == x);
  CHECK(xs2s_stanza_find_child(m, "x", NULL) == x);
  CHECK(xs2s_stanza_find_child(m, "nothing", NULL) == NULL);

  int n = 0;
  for (xs2s_stanza *c = xs2s_stanza_first_child(m); c; c = xs2s_stanza_next(c))
    n++;
  CHECK_INT(n, 2);

  CHECK_STR(xml(m), "<message xmlns='jabber:server' to='b.example' "
                    "type='normal' xml:lang='en' id='1'><body>Hello, world"
                    "</body><x xmlns='jabber:x:oob'><plain xmlns=''/></x>"
                    "</message>");

  /* Freeing a node that is not a root does nothing. */
  xs2s_stanza_free(body);
  CHECK_INT(xs2s_stanza_remove_child(m, body), 0);
  CHECK(xs2s_stanza_parent(body) == NULL);
  CHECK_INT(xs2s_stanza_remove_child(m, body), XS2S_ERR_NOT_FOUND);
  xs2s_stanza_free(body); /* detached, still not the root */
  CHECK_STR(xml(m), "<message xmlns='jabber:server' to='b.example' "
                    "type='normal' xml:lang='en' id='1'><x xmlns='jabber:x:"
                    "oob'><plain xmlns=''/></x></message>");
  xs2s_stanza_free(m);
  xs2s_stanza_free(NULL);
}

static void test_text_around_children(void) {
  xs2s_stanza *p = xs2s_stanza_new("p", NULL);
  CHECK_INT(xs2s_stanza_add_text(p, "one ", 4), 0);
  xs2s_stanza *b = xs2s_stanza_add_child(p, "b", NULL);
  CHECK_INT(xs2s_stanza_add_text(b, "two", 3), 0);
  CHECK_INT(xs2s_stanza_add_text(p, " three", 6), 0);
  CHECK_INT(xs2s_stanza_add_text(p, "", 0), 0);
  CHECK_STR(xs2s_stanza_text(p), "one  three");
  CHECK_STR(xml(p), "<p>one <b>two</b> three</p>");
  /* Not NUL-terminated input. */
  CHECK_INT(xs2s_stanza_add_text(p, "!!!xyz", 3), 0);
  CHECK_STR(xs2s_stanza_text(xs2s_stanza_next(b)), " three!!!");
  xs2s_stanza_free(p);
}

static void test_invalid_arguments(void) {
  CHECK(xs2s_stanza_new(NULL, NULL) == NULL);
  CHECK(xs2s_stanza_new("", NULL) == NULL);
  CHECK(xs2s_stanza_new("db:result", NULL) == NULL);
  CHECK(xs2s_stanza_new("1abc", NULL) == NULL);
  CHECK(xs2s_stanza_new("-a", NULL) == NULL);
  CHECK(xs2s_stanza_new("a b", NULL) == NULL);
  CHECK(xs2s_stanza_new("a\xff", NULL) == NULL);
  CHECK(xs2s_stanza_new("a", "bad\x01ns") == NULL);
  CHECK(xs2s_stanza_new("a", "\xc3\x28") == NULL);
  CHECK(xs2s_stanza_new("a", XS2S_NS_XML) == NULL);
  CHECK(xs2s_stanza_new("a", "http://www.w3.org/2000/xmlns/") == NULL);

  /* Valid names beyond ASCII. */
  xs2s_stanza *e = xs2s_stanza_new("\xc3\xa9t\xc3\xa9-1.x_\xc2\xb7", NULL);
  CHECK(e != NULL);
  xs2s_stanza *c = xs2s_stanza_new("_\xe6\x97\xa5\xe6\x9c\xac", "urn:x");
  CHECK(c != NULL);
  xs2s_stanza_free(c);

  CHECK_INT(xs2s_stanza_set_attr(e, "a:b", "v"), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "xmlns", "urn:x"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr_ns(e, "x", "http://www.w3.org/2000/xmlns/",
                                    "urn:x"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "\xc3\x28"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "\xed\xa0\x80"), /* surrogate */
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "\xc0\xaf"), /* overlong */
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "bell\a"),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "\xef\xbf\xbf"), /* U+FFFF */
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", NULL), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(NULL, "a", "v"), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "\xf0\x9f\x98\x80 tab\t nl\n"), 0);
  CHECK_INT(xs2s_stanza_add_text(e, "nul\0", 4), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_add_text(e, "\xe2\x82", 2), /* truncated */
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_add_text(e, NULL, 1), XS2S_ERR_INVALID_ARGUMENT);
  CHECK(xs2s_stanza_add_child(e, "a:b", NULL) == NULL);
  CHECK(xs2s_stanza_add_child(e, "x", XS2S_NS_XML) == NULL);
  CHECK(xs2s_stanza_add_child(NULL, "x", NULL) == NULL);

  /* A text node takes no children and no attributes. */
  CHECK_INT(xs2s_stanza_add_text(e, "t", 1), 0);
  xs2s_stanza *t = xs2s_stanza_first_child(e);
  CHECK(xs2s_stanza_add_child(t, "x", NULL) == NULL);
  CHECK_INT(xs2s_stanza_add_text(t, "x", 1), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_set_attr(t, "a", "b"), XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s_stanza_attr_count(t), 0);
  CHECK(xs2s_stanza_attr(t, "a") == NULL);
  CHECK(xs2s_stanza_first_child(t) == NULL);
  CHECK_INT(xs2s_stanza_remove_child(e, NULL), XS2S_ERR_NOT_FOUND);
  xs2s_stanza_free(e);
}

/* ---- serialising ---- */

static void test_escaping(void) {
  xs2s_stanza *e = xs2s_stanza_new("e", NULL);
  CHECK_INT(xs2s_stanza_set_attr(e, "a", "& < > \" ' \t\n\r end"), 0);
  CHECK_INT(xs2s_stanza_add_text(e, "& < > \" ' \t\n\r ]]> end", 21), 0);
  CHECK_STR(xml(e), "<e a='&amp; &lt; &gt; &quot; &apos; &#9;&#10;&#13; "
                    "end'>&amp; &lt; &gt; \" ' \t\n&#13; ]]&gt; end</e>");
  /* What is written parses back to the same values. */
  xs2s_stanza *back = parse(out);
  CHECK_STR(xs2s_stanza_attr(back, "a"), "& < > \" ' \t\n\r end");
  CHECK_STR(xs2s_stanza_text(back), "& < > \" ' \t\n\r ]]> end");
  xs2s_stanza_free(back);
  xs2s_stanza_free(e);
}

static void test_serialize_buffer_sizes(void) {
  xs2s_stanza *e = xs2s_stanza_new("iq", XS2S_NS_SERVER);
  xs2s_stanza_set_attr(e, "type", "get");
  const char *want = "<iq xmlns='jabber:server' type='get'/>";
  size_t len = 0;
  CHECK_INT(xs2s_stanza_serialize(e, NULL, 0, &len),
            XS2S_ERR_BUFFER_TOO_SMALL);
  CHECK_INT(len, strlen(want));
  char small[8];
  len = 0;
  CHECK_INT(xs2s_stanza_serialize(e, small, sizeof(small), &len),
            XS2S_ERR_BUFFER_TOO_SMALL);
  CHECK_INT(len, strlen(want));
  char exact[64];
  /* The text fits but not its NUL. */
  CHECK_INT(xs2s_stanza_serialize(e, exact, strlen(want), &len),
            XS2S_ERR_BUFFER_TOO_SMALL);
  CHECK_INT(xs2s_stanza_serialize(e, exact, strlen(want) + 1, &len), 0);
  CHECK_STR(exact, want);
  CHECK_INT(xs2s_stanza_serialize(NULL, exact, sizeof(exact), &len),
            XS2S_ERR_INVALID_ARGUMENT);
  /* A text node serialises as its escaped text. */
  xs2s_stanza *root = xs2s_stanza_new("r", NULL);
  xs2s_stanza_add_text(root, "a<b", 3);
  CHECK_STR(xml(xs2s_stanza_first_child(root)), "a&lt;b");
  xs2s_stanza_free(root);
  xs2s_stanza_free(e);
}

static void test_namespaces_standalone(void) {
  xs2s_stanza *r = xs2s_stanza_new("result", XS2S_NS_DIALBACK);
  xs2s_stanza_set_attr(r, "from", "a.example");
  CHECK_STR(xml(r), "<result xmlns='jabber:server:dialback' "
                    "from='a.example'/>");
  /* Namespaced attributes get a declared prefix. */
  xs2s_stanza *e = xs2s_stanza_new("e", "urn:a");
  CHECK_INT(xs2s_stanza_set_attr_ns(e, "x", "urn:b", "1"), 0);
  CHECK_INT(xs2s_stanza_set_attr_ns(e, "y", "urn:c", "2"), 0);
  CHECK_INT(xs2s_stanza_set_attr_ns(e, "z", "urn:b", "3"), 0);
  xs2s_stanza *c = xs2s_stanza_add_child(e, "c", NULL);
  CHECK_INT(xs2s_stanza_set_attr_ns(c, "w", "urn:b", "4"), 0);
  CHECK_STR(xml(e), "<e xmlns='urn:a' xmlns:ns1='urn:b' xmlns:ns2='urn:c' "
                    "ns1:x='1' ns2:y='2' ns1:z='3'><c ns1:w='4'/></e>");
  xs2s_stanza *back = parse(out);
  CHECK_STR(xs2s_stanza_attr_ns(back, "y", "urn:c"), "2");
  CHECK_STR(xs2s_stanza_attr_ns(xs2s_stanza_first_child(back), "w", "urn:b"),
            "4");
  xs2s_stanza_free(back);
  xs2s_stanza_free(e);
  xs2s_stanza_free(r);
}

static void test_parsed_prefixes(void) {
  xs2s_stanza *r = parse("<db:result xmlns:db='jabber:server:dialback' "
                         "from='a.example' to='b.example'>k3y</db:result>");
  CHECK(xs2s_stanza_is(r, "result", XS2S_NS_DIALBACK));
  const char *standalone = "<db:result xmlns:db='jabber:server:dialback' "
                           "from='a.example' to='b.example'>k3y</db:result>";
  CHECK_STR(xml(r), standalone);
  /* On a stream that declared db:, nothing is declared again. */
  CHECK_STR(xml_in(r, &s2s_scope),
            "<db:result from='a.example' to='b.example'>k3y</db:result>");
  /* A copy keeps the prefix. */
  xs2s_stanza *copy = xs2s_stanza_copy(r);
  CHECK_STR(xml(copy), standalone);
  xs2s_stanza_free(copy);
  xs2s_stanza_free(r);

  /* Prefix declared on the element itself, with a prefixed attribute and a
   * child in the default namespace. */
  r = parse("<p:a xmlns:p='urn:p' xmlns='urn:d' p:at='1'><b/></p:a>");
  CHECK(xs2s_stanza_is(r, "a", "urn:p"));
  CHECK_STR(xs2s_stanza_ns(xs2s_stanza_first_child(r)), "urn:d");
  CHECK_STR(xml(r), "<p:a xmlns:p='urn:p' p:at='1'><b xmlns='urn:d'/></p:a>");
  xs2s_stanza_free(r);
}

static void test_write_on_stream(void) {
  /* Stanzas in the stream's default namespace carry no declaration. */
  xs2s_stanza *m = xs2s_stanza_new("message", XS2S_NS_SERVER);
  xs2s_stanza_set_attr(m, "to", "b.example");
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", NULL);
  xs2s_stanza_add_text(b, "hi", 2);
  xs2s_stanza_add_child(m, "active", "http://jabber.org/protocol/chatstates");
  CHECK_STR(xml_in(m, &s2s_scope),
            "<message to='b.example'><body>hi</body><active xmlns='http://"
            "jabber.org/protocol/chatstates'/></message>");
  xs2s_stanza_free(m);

  /* Built in a namespace the stream binds to a prefix: that prefix. */
  xs2s_stanza *r = xs2s_stanza_new("verify", XS2S_NS_DIALBACK);
  xs2s_stanza_set_attr(r, "id", "s1");
  CHECK_STR(xml_in(r, &s2s_scope), "<db:verify id='s1'/>");
  CHECK_STR(xml(r), "<verify xmlns='jabber:server:dialback' id='s1'/>");
  xs2s_stanza_free(r);

  xs2s_stanza *f = xs2s_stanza_new("features", XS2S_NS_STREAMS);
  xs2s_stanza *st = xs2s_stanza_add_child(f, "starttls", XS2S_NS_TLS);
  xs2s_stanza_add_child(st, "required", NULL);
  xs2s_stanza_add_child(f, "dialback", XS2S_NS_DIALBACK_FEATURE);
  CHECK_STR(xml_in(f, &s2s_scope),
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-"
            "tls'><required/></starttls><dialback xmlns='urn:xmpp:features:"
            "dialback'/></stream:features>");
  xs2s_stanza_free(f);

  /* A parsed prefix that the stream binds to another namespace is
   * redeclared on the element. */
  xs2s_stanza *odd = parse("<db:x xmlns:db='urn:other'/>");
  CHECK_STR(xml_in(odd, &s2s_scope), "<db:x xmlns:db='urn:other'/>");
  xs2s_stanza_free(odd);

  /* No namespace on a stream with a default namespace. */
  xs2s_stanza *plain = xs2s_stanza_new("plain", NULL);
  CHECK_STR(xml_in(plain, &s2s_scope), "<plain xmlns=''/>");
  xs2s_stanza_free(plain);

  /* Scopes chain; the inner one wins. */
  static const xs2s__ns_binding inner_b[] = {{NULL, XS2S_NS_CLIENT},
                                             {"db", "urn:shadow"}};
  xs2s__ns_scope inner = {inner_b, 2, &s2s_scope};
  xs2s_stanza *msg = xs2s_stanza_new("message", XS2S_NS_CLIENT);
  xs2s_stanza_add_child(msg, "result", XS2S_NS_DIALBACK);
  xs2s_stanza_add_child(msg, "s", XS2S_NS_STREAMS);
  CHECK_STR(xml_in(msg, &inner), "<message><result xmlns='jabber:server:"
                                 "dialback'/><stream:s/></message>");
  xs2s_stanza_free(msg);

  /* Writing appends and leaves what was there. */
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__buf buf;
  xs2s__buf_init(&buf, &mem);
  xs2s__buf_append_str(&buf, "<x/>");
  xs2s_stanza *iq = xs2s_stanza_new("iq", XS2S_NS_SERVER);
  CHECK_INT(xs2s__stanza_write(iq, &buf, &s2s_scope), 0);
  CHECK_INT(buf.len, 9);
  CHECK(memcmp(xs2s__buf_bytes(&buf), "<x/><iq/>", 9) == 0);
  xs2s_stanza_free(iq);
  xs2s__buf_free(&buf);
}

/* ---- copying ---- */

static const char *sample =
    "<message xmlns='jabber:server' from='a@a.example/r' to='b@b.example' "
    "type='chat' id='m1' xml:lang='en'><body>Hello &amp; welcome &lt;3"
    "</body><thread>t1</thread><x xmlns='jabber:x:oob' "
    "xmlns:q='urn:q' q:flag='y'><url>http://example.com/?a=1&amp;b=2</url>"
    "</x></message>";

static void test_copy(void) {
  xs2s_stanza *m = parse(sample);
  char first[2048];
  strcpy(first, xml(m));
  xs2s_stanza *c = xs2s_stanza_copy(m);
  CHECK_STR(xml(c), first);
  /* Independent of the original. */
  xs2s_stanza_set_attr(c, "to", "changed");
  CHECK_STR(xml(m), first);
  xs2s_stanza_free(m);
  CHECK_STR(xs2s_stanza_attr(c, "to"), "changed");
  CHECK_STR(xs2s_stanza_text(xs2s_stanza_find_child(c, "body", NULL)),
            "Hello & welcome <3");

  /* A subtree copied into another tree, and into its own tree. */
  xs2s_stanza *holder = xs2s_stanza_new("forwarded", "urn:xmpp:forward:0");
  xs2s_stanza *added = xs2s_stanza_add_copy(holder, c);
  CHECK(added != NULL && xs2s_stanza_parent(added) == holder);
  CHECK(xs2s_stanza_add_copy(c, c) != NULL);
  xs2s_stanza *inner = xs2s_stanza_find_child(c, "message", NULL);
  CHECK(inner != NULL);
  CHECK(xs2s_stanza_find_child(inner, "message", NULL) == NULL);
  CHECK(xs2s_stanza_find_child(inner, "x", "jabber:x:oob") != NULL);
  xs2s_stanza_free(c);
  CHECK_STR(xs2s_stanza_attr(added, "to"), "changed");
  CHECK(strstr(xml(holder), "<forwarded xmlns='urn:xmpp:forward:0'><message "
                            "xmlns='jabber:server'") == out);
  xs2s_stanza_free(holder);

  /* A text node copies as a root of its own. */
  xs2s_stanza *e = parse("<e>text</e>");
  xs2s_stanza *t = xs2s_stanza_copy(xs2s_stanza_first_child(e));
  CHECK_INT(xs2s_stanza_type(t), XS2S_NODE_TEXT);
  CHECK_STR(xs2s_stanza_text(t), "text");
  CHECK(xs2s_stanza_copy(NULL) == NULL);
  /* Copying text after text merges. */
  xs2s_stanza_add_copy(e, t);
  CHECK_STR(xs2s_stanza_text(e), "texttext");
  CHECK(xs2s_stanza_next(xs2s_stanza_first_child(e)) == NULL);
  xs2s_stanza_free(t);
  xs2s_stanza_free(e);
}

/* A typical stanza costs one allocation, built or copied. */
static void test_one_allocation(void) {
  allocations = 0;
  xs2s_stanza *m = xs2s_stanza_new_mem(&counting, "message", XS2S_NS_SERVER);
  xs2s_stanza_set_attr(m, "from", "juliet@capulet.example/balcony");
  xs2s_stanza_set_attr(m, "to", "romeo@montague.example");
  xs2s_stanza_set_attr(m, "type", "chat");
  xs2s_stanza_set_attr(m, "id", "ktx72v49");
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", NULL);
  xs2s_stanza_add_text(b, "Art thou not Romeo, and a Montague?", 35);
  CHECK_INT(allocations, 1);
  allocations = 0;
  xs2s_stanza *p = xs2s_stanza_parse_mem(&counting, sample, strlen(sample),
                                         NULL);
  CHECK(p != NULL);
  allocations = 0;
  xs2s_stanza *c = xs2s_stanza_copy(p);
  CHECK_INT(allocations, 1);
  CHECK(c != NULL);
  allocations = 0;
  xs2s_stanza *c2 = xs2s_stanza_copy(m);
  CHECK_INT(allocations, 1);
  xs2s_stanza_free(c2);
  xs2s_stanza_free(c);
  xs2s_stanza_free(p);
  xs2s_stanza_free(m);

  /* A bigger tree grows in chunks, not per node. */
  allocations = 0;
  xs2s_stanza *big = xs2s_stanza_new_mem(&counting, "query", "urn:q");
  for (int i = 0; i < 200; i++) {
    xs2s_stanza *item = xs2s_stanza_add_child(big, "item", NULL);
    xs2s_stanza_set_attr(item, "jid", "someone@example.org");
  }
  CHECK(allocations < 12);
  xs2s_stanza_free(big);
}

/* Every allocation failing in turn: no crash, no leak, a clean error. */
static void test_out_of_memory(void) {
  for (long fail_at = 0; fail_at < 40; fail_at++) {
    budget = fail_at;
    xs2s_stanza *m = xs2s_stanza_new_mem(&counting, "message", "urn:a");
    if (!m)
      continue;
    int ok = 1;
    for (int i = 0; i < 30 && ok; i++) {
      xs2s_stanza *c = xs2s_stanza_add_child(m, "child", "urn:b");
      ok = c && xs2s_stanza_set_attr(c, "attribute", "some value") == 0 &&
           xs2s_stanza_add_text(c, "text text text text", 19) == 0;
    }
    xs2s_stanza *copy = xs2s_stanza_copy(m);
    xs2s_stanza_free(copy);
    char small[64];
    size_t len;
    int rc = xs2s_stanza_serialize(m, small, sizeof(small), &len);
    CHECK(rc == XS2S_ERR_BUFFER_TOO_SMALL || rc == 0 || rc == XS2S_ERR_NOMEM);
    xs2s_stanza_free(m);
  }
  for (long fail_at = 0; fail_at < 10; fail_at++) {
    budget = fail_at;
    int err = 0;
    xs2s_stanza *p =
        xs2s_stanza_parse_mem(&counting, sample, strlen(sample), &err);
    CHECK(p ? err == 0 : err == XS2S_ERR_NOMEM);
    xs2s_stanza_free(p);
  }
  budget = -1;
}

/* ---- parsing one element ---- */

static void test_parse(void) {
  /* The XML declaration must come first. */
  CHECK_INT(PARSE_ERROR(" <?xml version='1.0'?><a/>"),
            XS2S_ERR_NOT_WELL_FORMED);
  xs2s_stanza *s = parse("<?xml version='1.0' encoding='UTF-8'?>\n<iq type='get'><ping "
            "xmlns='urn:xmpp:ping'/></iq>\n\t ");
  CHECK(xs2s_stanza_is(s, "iq", ""));
  CHECK(xs2s_stanza_find_child(s, "ping", "urn:xmpp:ping") != NULL);
  xs2s_stanza_free(s);
  /* An '&' in a namespace name, and names that are not URIs. */
  s = parse("<p:a xmlns:p='urn:a&amp;b' xmlns='x&#38;y' p:at='&amp;'>"
            "<b xmlns:q='not a uri &lt;' q:c='1'/></p:a>");
  CHECK_STR(xs2s_stanza_ns(s), "urn:a&b");
  CHECK_STR(xs2s_stanza_attr_ns(s, "at", "urn:a&b"), "&");
  xs2s_stanza *b = xs2s_stanza_first_child(s);
  CHECK_STR(xs2s_stanza_ns(b), "x&y");
  CHECK_STR(xs2s_stanza_attr_ns(b, "c", "not a uri <"), "1");
  CHECK_STR(xml(s), "<p:a xmlns:p='urn:a&amp;b' p:at='&amp;'><b xmlns='x&amp;"
                    "y' xmlns:q='not a uri &lt;' q:c='1'/></p:a>");
  xs2s_stanza_free(s);
  s = parse("<a x='&#38;&amp;&#x26;&lt;'>&#x1F600;<![CDATA[<&>]]></a>");
  CHECK_STR(xs2s_stanza_attr(s, "x"), "&&&<");
  CHECK_STR(xs2s_stanza_text(s), "\xf0\x9f\x98\x80<&>");
  xs2s_stanza_free(s);
}

static void test_parse_errors(void) {
  CHECK_INT(PARSE_ERROR("<a>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a></b>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a b='1' b='2'/>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("\xef\xbb\xbf<a/>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a>\x01</a>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a>&#0;</a>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a>\0</a>"), XS2S_ERR_NOT_WELL_FORMED);
  CHECK_INT(PARSE_ERROR("<a/>\0"), XS2S_ERR_BAD_FORMAT);
  CHECK_INT(PARSE_ERROR(""), XS2S_ERR_BAD_FORMAT);
  CHECK_INT(PARSE_ERROR(" \n"), XS2S_ERR_BAD_FORMAT);
  CHECK_INT(PARSE_ERROR("<a/><b/>"), XS2S_ERR_BAD_FORMAT);
  CHECK_INT(PARSE_ERROR("<a/>x"), XS2S_ERR_BAD_FORMAT);
  CHECK_INT(PARSE_ERROR("x<a/>"), XS2S_ERR_BAD_FORMAT);
  CHECK_INT(PARSE_ERROR("<!-- c --><a/>"), XS2S_ERR_RESTRICTED_XML);
  CHECK_INT(PARSE_ERROR("<a><!-- c --></a>"), XS2S_ERR_RESTRICTED_XML);
  CHECK_INT(PARSE_ERROR("<a><?pi x?></a>"), XS2S_ERR_RESTRICTED_XML);
  CHECK_INT(PARSE_ERROR("<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>"),
            XS2S_ERR_RESTRICTED_XML);
  CHECK_INT(PARSE_ERROR("<a>&nbsp;</a>"), XS2S_ERR_RESTRICTED_XML);
  CHECK_INT(PARSE_ERROR("<a b='&nbsp;'/>"), XS2S_ERR_RESTRICTED_XML);
  CHECK_INT(PARSE_ERROR("<p:a/>"), XS2S_ERR_BAD_NAMESPACE_PREFIX);
  CHECK_INT(PARSE_ERROR("<a p:b='1'/>"), XS2S_ERR_BAD_NAMESPACE_PREFIX);
  CHECK_INT(PARSE_ERROR("<a>\xc3\x28</a>"), XS2S_ERR_UNSUPPORTED_ENCODING);
  CHECK_INT(PARSE_ERROR("<a>\xc3</a>"), XS2S_ERR_UNSUPPORTED_ENCODING);
  CHECK_INT(PARSE_ERROR("<a>\xe2\x82"), XS2S_ERR_UNSUPPORTED_ENCODING);
  CHECK_INT(PARSE_ERROR("<?xml version='1.0' encoding='ISO-8859-1'?><a/>"),
            XS2S_ERR_UNSUPPORTED_ENCODING);
  CHECK_INT(PARSE_ERROR("\xff\xfe<\0a\0/\0>\0"),
            XS2S_ERR_UNSUPPORTED_ENCODING);

  /* Default limits apply. */
  char deep[65 * 3 + 66 * 4 + 1], *d = deep;
  for (int i = 0; i < 65; i++)
    d += sprintf(d, "<a>");
  for (int i = 0; i < 65; i++)
    d += sprintf(d, "</a>");
  CHECK_INT(parse_error(deep, strlen(deep)), XS2S_ERR_LIMIT);
  xs2s_stanza *ok = xs2s_stanza_parse(deep + 3, strlen(deep) - 7, NULL);
  CHECK(ok != NULL); /* 64 deep is fine */
  xs2s_stanza_free(ok);
  char attrs[65 * 8 + 8], *a = attrs;
  a += sprintf(a, "<e");
  for (int i = 0; i < 65; i++)
    a += sprintf(a, " a%d=''", i);
  sprintf(a, "/>");
  CHECK_INT(parse_error(attrs, strlen(attrs)), XS2S_ERR_LIMIT);
  size_t big = XS2S_DEFAULT_MAX_STANZA_BYTES + 1;
  char *huge = malloc(big);
  memset(huge, 'x', big);
  memcpy(huge, "<a>", 3);
  memcpy(huge + big - 4, "</a>", 4);
  CHECK_INT(parse_error(huge, big), XS2S_ERR_LIMIT);
  /* One byte less fits exactly. */
  memcpy(huge + big - 5, "</a>", 4);
  xs2s_stanza *fits = xs2s_stanza_parse(huge, big - 1, NULL);
  CHECK(fits != NULL);
  xs2s_stanza_free(fits);
  free(huge);

  int err = 0;
  CHECK(xs2s_stanza_parse(NULL, 3, &err) == NULL);
  CHECK_INT(err, XS2S_ERR_INVALID_ARGUMENT);
}

/* Moving a stanza between stream kinds: content namespaces change,
 * payload namespaces and text stay. */
static void test_copy_ns(void) {
  const char *xml =
      "<message xmlns='jabber:component:accept' to='a@b.test' xml:lang='en'>"
      "<body>hi &amp; bye</body>"
      "<x xmlns='urn:example'><body>kept</body></x>"
      "<thread xmlns='jabber:client'>t</thread></message>";
  int err = 0;
  xs2s_stanza *s = xs2s_stanza_parse(xml, strlen(xml), &err);
  CHECK(s != NULL);
  xs2s_stanza *c = xs2s_stanza_copy_ns(s, XS2S_NS_SERVER);
  CHECK(c != NULL);
  if (c) {
    CHECK_STR(xs2s_stanza_ns(c), XS2S_NS_SERVER);
    CHECK_STR(xs2s_stanza_attr(c, "to"), "a@b.test");
    CHECK_STR(xs2s_stanza_attr_ns(c, "lang", XS2S_NS_XML), "en");
    xs2s_stanza *body = xs2s_stanza_find_child(c, "body", XS2S_NS_SERVER);
    CHECK(body && strcmp(xs2s_stanza_text(body), "hi & bye") == 0);
    xs2s_stanza *x = xs2s_stanza_find_child(c, "x", "urn:example");
    CHECK(x && xs2s_stanza_find_child(x, "body", "urn:example"));
    CHECK(xs2s_stanza_find_child(c, "thread", XS2S_NS_SERVER) != NULL);
    CHECK(xs2s_stanza_find_child(c, NULL, XS2S_NS_COMPONENT) == NULL);
  }
  CHECK(xs2s_stanza_copy_ns(NULL, XS2S_NS_SERVER) == NULL);
  xs2s_stanza_free(c);
  xs2s_stanza_free(s);
}

int main(void) {
  RUN(test_copy_ns);
  RUN(test_build_and_lookup);
  RUN(test_text_around_children);
  RUN(test_invalid_arguments);
  RUN(test_escaping);
  RUN(test_serialize_buffer_sizes);
  RUN(test_namespaces_standalone);
  RUN(test_parsed_prefixes);
  RUN(test_write_on_stream);
  RUN(test_copy);
  RUN(test_one_allocation);
  RUN(test_out_of_memory);
  RUN(test_parse);
  RUN(test_parse_errors);
  return check_finish();
}
