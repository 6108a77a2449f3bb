/* Parser limits, and memory that stays bounded whatever a peer sends.
 *
 * Every byte xs2s and libxml2 allocate goes through the counting allocator
 * below (libxml2's through xmlMemSetup(), which is process-wide: fine in a
 * test program, never in the library), so the peak a hostile input causes
 * is measured, not guessed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlmemory.h>

#include <xs2s/parser.h>

#include "check.h"
#include "parser_util.h"

/* ---- counting allocator ---- */

typedef union header {
  size_t size;
  max_align_t align;
} header;

static size_t current, peak;

static void *cnt_malloc(size_t n) {
  header *h = malloc(sizeof(header) + n);
  if (!h)
    return NULL;
  h->size = n;
  current += n;
  if (current > peak)
    peak = current;
  return h + 1;
}

static void cnt_free(void *p) {
  if (!p)
    return;
  header *h = (header *)p - 1;
  current -= h->size;
  free(h);
}

static void *cnt_realloc(void *p, size_t n) {
  if (!p)
    return cnt_malloc(n);
  header *h = (header *)p - 1;
  size_t old = h->size;
  header *g = realloc(h, sizeof(header) + n);
  if (!g)
    return NULL;
  g->size = n;
  current = current - old + n;
  if (current > peak)
    peak = current;
  return g + 1;
}

static char *cnt_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *c = cnt_malloc(n);
  if (c)
    memcpy(c, s, n);
  return c;
}

static void *mem_malloc(size_t n, void *ud) {
  (void)ud;
  return cnt_malloc(n);
}
static void *mem_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return cnt_realloc(p, n);
}
static void mem_free(void *p, void *ud) {
  (void)ud;
  cnt_free(p);
}
static const xs2s_mem counted = {mem_malloc, mem_realloc, mem_free, NULL};

/* Runs @data through a fresh parser in one feed and returns the result;
 * *@grown receives the peak memory above what was in use before. */
static ssize_t feed_measured(const char *data, size_t len,
                             const xs2s_parser_limits *limits, size_t *grown,
                             recorder *r) {
  size_t before = current;
  peak = current;
  xs2s_parser *p = xs2s_parser_new_mem(&rec_callbacks, r, limits, &counted);
  ssize_t rc = xs2s_parser_feed(p, data, len);
  xs2s_parser_free(p);
  *grown = peak - before;
  return rc;
}

#define MB (1024u * 1024u)

/* ---- hostile inputs ---- */

/* A buffer of @size bytes: HEADER, @open, @fill up to the end. */
static char *make(size_t size, const char *open, char fill) {
  char *s = malloc(size);
  memset(s, fill, size);
  size_t h = strlen(HEADER), o = strlen(open);
  memcpy(s, HEADER, h);
  memcpy(s + h, open, o);
  return s;
}

static void test_ten_megabyte_stanza(void) {
  size_t size = 10 * MB, grown = 0;
  static const char *opens[] = {"<message><body>", "<message to='",
                                "<message ", "<"};
  static const char fills[] = {'x', 'x', 'a', 'a'};
  for (size_t i = 0; i < 4; i++) {
    char *s = make(size, opens[i], fills[i]);
    recorder *r = rec_new();
    ssize_t rc = feed_measured(s, size, NULL, &grown, r);
    CHECK_INT(rc, XS2S_ERR_LIMIT);
    CHECK_INT(r->last_condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
    printf("10 MB after %s: peak %zu bytes\n", opens[i], grown);
    CHECK(grown < 3 * MB);
    rec_free(r);
    free(s);
  }
}

static void test_deep_nesting(void) {
  size_t depth = 100000, grown = 0;
  size_t size = strlen(HEADER) + 3 * depth;
  char *s = malloc(size);
  memcpy(s, HEADER, strlen(HEADER));
  for (size_t i = 0; i < depth; i++)
    memcpy(s + strlen(HEADER) + 3 * i, "<a>", 3);
  recorder *r = rec_new();
  CHECK_INT(feed_measured(s, size, NULL, &grown, r), XS2S_ERR_LIMIT);
  CHECK_INT(r->last_condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
  printf("100000 deep: peak %zu bytes\n", grown);
  CHECK(grown < 1 * MB);
  rec_free(r);
  free(s);
}

static void test_entity_attacks(void) {
  /* Billion laughs, XXE through file:// and http://, an external DTD. */
  char path[] = "/tmp/xs2s-xxe-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const char secret[] = "SECRET-CONTENT-xs2s";
  CHECK_INT(write(fd, secret, sizeof(secret) - 1), sizeof(secret) - 1);
  close(fd);
  char buf[4096];
  const char *laughs =
      "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
      "<!ENTITY l1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
      "<!ENTITY l2 '&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;'>"
      "<!ENTITY l3 '&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;'>"
      "<!ENTITY l4 '&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;'>"
      "<!ENTITY l5 '&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;'>"
      "<!ENTITY l6 '&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;'>"
      "<!ENTITY l7 '&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;'>"
      "<!ENTITY l8 '&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;'>"
      "<!ENTITY l9 '&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;'>]>" HEADER
      "<message><body>&l9;</body></message><a l='&l9;'/>";
  /* Each attack around the path of a file holding a secret. */
  static const char *const forms[][2] = {
      {"<!DOCTYPE s [<!ENTITY x SYSTEM 'file://",
       "'>]>" HEADER "<message><body>&x;</body></message>"},
      {"<!DOCTYPE s [<!ENTITY x SYSTEM 'http://127.0.0.1:9",
       "'>]>" HEADER "<message><body>&x;</body></message>"},
      {"<!DOCTYPE s SYSTEM 'file://", "'>" HEADER "<message/>"},
      {"<!DOCTYPE s [<!ENTITY % p SYSTEM 'file://", "'> %p;]>" HEADER
       "<message/>"},
      {HEADER "<message><body>&x;</body></message><!-- ", " -->"},
  };
  for (size_t i = 0; i <= sizeof(forms) / sizeof(forms[0]); i++) {
    if (i == 0)
      snprintf(buf, sizeof(buf), "%s", laughs);
    else
      snprintf(buf, sizeof(buf), "%s%s%s", forms[i - 1][0], path,
               forms[i - 1][1]);
    size_t grown = 0;
    recorder *r = rec_new();
    CHECK_INT(feed_measured(buf, strlen(buf), NULL, &grown, r),
              XS2S_ERR_RESTRICTED_XML);
    CHECK_INT(r->last_condition, XS2S_STREAM_ERR_RESTRICTED_XML);
    CHECK_INT(r->stanzas, 0);
    CHECK(strstr(r->log, "SECRET") == NULL);
    printf("entity attack %zu: peak %zu bytes\n", i, grown);
    CHECK(grown < 1 * MB);
    rec_free(r);
  }
  unlink(path);
}

/* ---- each limit, exactly ---- */

/* <message><body>xxx...</body></message> of exactly @size bytes. */
static size_t stanza_of(char *out, size_t size) {
  const char *open = "<message><body>", *close = "</body></message>";
  size_t o = strlen(open), c = strlen(close);
  memcpy(out, open, o);
  memset(out + o, 'x', size - o - c);
  memcpy(out + size - c, close, c);
  return size;
}

static void test_stanza_bytes(void) {
  static const size_t limits[] = {300, 1000, 20000,
                                  XS2S_DEFAULT_MAX_STANZA_BYTES};
  size_t cap = strlen(HEADER) + 2 * XS2S_DEFAULT_MAX_STANZA_BYTES + 16;
  char *buf = malloc(cap);
  for (size_t i = 0; i < 4; i++) {
    xs2s_parser_limits lim = {limits[i] == XS2S_DEFAULT_MAX_STANZA_BYTES
                                  ? 0
                                  : limits[i],
                              0, 0};
    /* Exactly the limit passes, with keepalives around it. */
    size_t n = (size_t)sprintf(buf, "%s \n", HEADER);
    n += stanza_of(buf + n, limits[i]);
    n += (size_t)sprintf(buf + n, "\n ");
    n += stanza_of(buf + n, limits[i]);
    recorder *r = rec_new();
    xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, &lim);
    CHECK_INT(feed_chunks(p, buf, n, 0), n);
    xs2s_parser_reset(p);
    CHECK_INT(feed_chunks(p, buf, n, 1), n);
    CHECK_INT(r->stanzas, 4);
    /* One byte more does not, whole or in pieces. */
    n = (size_t)sprintf(buf, "%s", HEADER);
    n += stanza_of(buf + n, limits[i] + 1);
    for (size_t chunk = 0; chunk < 3; chunk++) {
      xs2s_parser_reset(p);
      CHECK_INT(feed_chunks(p, buf, n, chunk * 7), XS2S_ERR_LIMIT);
    }
    CHECK_INT(r->last_condition, XS2S_STREAM_ERR_POLICY_VIOLATION);
    CHECK_INT(r->stanzas, 4);
    xs2s_parser_free(p);
    rec_free(r);
  }
  free(buf);
}

static void test_header_bytes(void) {
  xs2s_parser_limits lim = {200, 0, 0};
  char buf[512];
  int n = snprintf(buf, sizeof(buf), "<stream:stream xmlns:stream='http://"
                   "etherx.jabber.org/streams' to='%0150d'>", 0);
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, &lim);
  CHECK_INT(xs2s_parser_feed(p, buf, (size_t)n), XS2S_ERR_LIMIT);
  CHECK_INT(r->opens, 0);
  /* And a header that never ends. */
  memset(buf, ' ', sizeof(buf));
  memcpy(buf, "<stream:stream ", 15);
  xs2s_parser_reset(p);
  CHECK_INT(xs2s_parser_feed(p, buf, sizeof(buf)), XS2S_ERR_LIMIT);
  xs2s_parser_free(p);
  rec_free(r);
}

/* White-space keepalives do not add up to a stanza. */
static void test_keepalives(void) {
  xs2s_parser_limits lim = {1000, 0, 0};
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, &lim);
  CHECK_INT(xs2s_parser_feed(p, HEADER, strlen(HEADER)), strlen(HEADER));
  for (int i = 0; i < 5000; i++)
    CHECK_INT(xs2s_parser_feed(p, " ", 1), 1);
  CHECK_INT(xs2s_parser_feed(p, "<a/>", 4), 4);
  CHECK_INT(r->stanzas, 1);
  xs2s_parser_free(p);
  rec_free(r);
}

static void test_depth(void) {
  for (unsigned limit = 0; limit <= 200; limit += 100) {
    unsigned eff = limit ? limit : XS2S_DEFAULT_MAX_DEPTH;
    xs2s_parser_limits lim = {0, limit, 0};
    char *buf = malloc(strlen(HEADER) + 8 * (eff + 1) + 1);
    CHECK(buf != NULL);
    if (!buf)
      return;
    for (unsigned extra = 0; extra < 2; extra++) {
      size_t n = (size_t)sprintf(buf, "%s", HEADER);
      for (unsigned i = 0; i < eff + extra; i++)
        n += (size_t)sprintf(buf + n, "<a>");
      for (unsigned i = 0; i < eff + extra; i++)
        n += (size_t)sprintf(buf + n, "</a>");
      recorder *r = rec_new();
      xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, &lim);
      CHECK_INT(xs2s_parser_feed(p, buf, n),
                extra ? XS2S_ERR_LIMIT : (ssize_t)n);
      CHECK_INT(r->stanzas, extra ? 0 : 1);
      xs2s_parser_free(p);
      rec_free(r);
    }
    free(buf);
  }
  /* Above what libxml2 allows, the cap applies. */
  xs2s_parser_limits lim = {0, 100000, 0};
  char buf[2048 * 3 + sizeof(HEADER)];
  size_t n = (size_t)sprintf(buf, "%s", HEADER);
  for (int i = 0; i < 2048; i++)
    n += (size_t)sprintf(buf + n, "<a>");
  xs2s_parser *p = xs2s_parser_new(NULL, NULL, &lim);
  CHECK_INT(xs2s_parser_feed(p, buf, n), XS2S_ERR_LIMIT);
  xs2s_parser_free(p);
}

static void test_attributes(void) {
  for (unsigned limit = 0; limit <= 10; limit += 10) {
    unsigned eff = limit ? limit : XS2S_DEFAULT_MAX_ATTRIBUTES;
    xs2s_parser_limits lim = {0, 0, limit};
    char buf[4096];
    for (unsigned extra = 0; extra < 2; extra++) {
      /* Namespace declarations count as attributes. */
      size_t n = (size_t)sprintf(buf, "%s<a xmlns:p='urn:p'", HEADER);
      for (unsigned i = 1; i < eff + extra; i++)
        n += (size_t)sprintf(buf + n, " a%u='%u'", i, i);
      n += (size_t)sprintf(buf + n, "/>");
      recorder *r = rec_new();
      xs2s_parser *p = xs2s_parser_new(&rec_callbacks, r, &lim);
      CHECK_INT(xs2s_parser_feed(p, buf, n),
                extra ? XS2S_ERR_LIMIT : (ssize_t)n);
      CHECK_INT(r->stanzas, extra ? 0 : 1);
      xs2s_parser_free(p);
      rec_free(r);
    }
  }
}

/* Names are interned for the stream's lifetime: a peer sending ever new
 * names is stopped before that grows without bound. */
static void test_distinct_names(void) {
  recorder *r = rec_new();
  xs2s_parser *p = xs2s_parser_new_mem(&rec_callbacks, r, NULL, &counted);
  CHECK_INT(xs2s_parser_feed(p, HEADER, strlen(HEADER)), strlen(HEADER));
  char buf[300];
  ssize_t rc = 0;
  int i;
  size_t before = current;
  peak = current;
  for (i = 0; i < 100000 && rc >= 0; i++) {
    int n = snprintf(buf, sizeof(buf), "<e%0200d/>", i);
    rc = xs2s_parser_feed(p, buf, (size_t)n);
  }
  CHECK_INT(rc, XS2S_ERR_LIMIT);
  CHECK(i < 20000);
  CHECK(peak - before < 8 * MB);
  xs2s_parser_free(p);
  rec_free(r);
}

int main(void) {
  xmlMemSetup(cnt_free, cnt_malloc, cnt_realloc, cnt_strdup);
  xmlInitParser();
  RUN(test_ten_megabyte_stanza);
  RUN(test_deep_nesting);
  RUN(test_entity_attacks);
  RUN(test_stanza_bytes);
  RUN(test_header_bytes);
  RUN(test_keepalives);
  RUN(test_depth);
  RUN(test_attributes);
  RUN(test_distinct_names);
  xmlCleanupParser();
  return check_finish();
}
