/*
 * Written stanzas kept as bytes for XEP-0198: the bytes a session wrote
 * parse back into the same tree (namespaced children, prefixes the stream
 * header binds, escaped attributes and text, xml:lang); entries kept as
 * bytes count their size, become trees again for a bounce or a requeue in
 * order, and an entry that cannot be rebuilt is handed over, not lost.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"
#include "queue.h"
#include "serialize.h"
#include "session_harness.h"
#include "session_hold.h"
#include "sm_kept.h"

static xs2s_mem mem;

/* The scope a session writes stanzas in (serialize.h). */
static const xs2s__ns_binding s2s[] = {
    {NULL, XS2S_NS_SERVER},
    {"stream", XS2S_NS_STREAMS},
    {"db", XS2S_NS_DIALBACK},
};
static const xs2s__ns_scope scope = {s2s, 3, NULL};

/* A stanza with what a round trip could get wrong. */
static xs2s_stanza *rich(void) {
  xs2s_stanza *s = xs2s_stanza_new("message", XS2S_NS_SERVER);
  CHECK(s != NULL);
  xs2s_stanza_set_attr(s, "from", "alice@a.test/r");
  xs2s_stanza_set_attr(s, "to", "bob@b.test");
  xs2s_stanza_set_attr(s, "id", "a&b<c>\"d'e");
  xs2s_stanza_set_attr_ns(s, "lang", XS2S_NS_XML, "fr");
  xs2s_stanza *body = xs2s_stanza_add_child(s, "body", NULL);
  xs2s_stanza_add_text(body, "1 < 2 & 3 > 2 \xc3\xa9", 16);
  xs2s_stanza *x = xs2s_stanza_add_child(s, "x", "jabber:x:data");
  xs2s_stanza_set_attr(x, "type", "submit");
  xs2s_stanza_set_attr_ns(x, "hint", "urn:example:hints", "v&1");
  xs2s_stanza *field = xs2s_stanza_add_child(x, "field", "jabber:x:data");
  xs2s_stanza_set_attr(field, "var", "q'uote");
  xs2s_stanza_add_child(s, "result", XS2S_NS_DIALBACK); /* db: prefix */
  xs2s_stanza *thread = xs2s_stanza_add_child(s, "thread", NULL);
  xs2s_stanza_set_attr_ns(thread, "lang", XS2S_NS_XML, "en");
  xs2s_stanza_add_text(thread, "t", 1);
  return s;
}

/* Standalone XML of @s, for comparing trees. */
static char *standalone(const xs2s_stanza *s) {
  size_t len = 0;
  xs2s_stanza_serialize(s, NULL, 0, &len);
  char *out = malloc(len + 1);
  CHECK(out != NULL);
  CHECK_INT(xs2s_stanza_serialize(s, out, len + 1, &len), 0);
  return out;
}

/* Writes @s as a session does: in the stream's scope. */
static void write_in_scope(const xs2s_stanza *s, xs2s__buf *out) {
  xs2s__buf_init(out, &mem);
  CHECK_INT(xs2s__stanza_write(s, out, &scope), 0);
}

static void check_same(const xs2s_stanza *a, const xs2s_stanza *b) {
  char *xa = standalone(a), *xb = standalone(b);
  CHECK_STR(xb, xa);
  free(xa);
  free(xb);
}

static void test_round_trip(void) {
  xs2s_stanza *s = rich();
  xs2s__buf wire;
  write_in_scope(s, &wire);
  /* Written in scope: the stream header declares these, not the stanza. */
  /* The buffer has no terminating NUL (gcc's ASan checks strndup()'s
   * source as a string): copy it by length. */
  char *text = malloc(wire.len + 1);
  CHECK(text != NULL);
  memcpy(text, xs2s__buf_bytes(&wire), wire.len);
  text[wire.len] = '\0';
  CHECK(strstr(text, "jabber:server'") == NULL);
  CHECK(strstr(text, "<db:result") != NULL);
  free(text);
  int err = 1;
  xs2s_stanza *back =
      xs2s__sm_kept_parse(&mem, xs2s__buf_bytes(&wire), wire.len, &err);
  CHECK_INT(err, 0);
  CHECK(back != NULL);
  CHECK(xs2s_stanza_is(back, "message", XS2S_NS_SERVER));
  CHECK(xs2s_stanza_parent(back) == NULL);
  CHECK_STR(xs2s_stanza_attr(back, "id"), "a&b<c>\"d'e");
  CHECK_STR(xs2s_stanza_attr_ns(back, "lang", XS2S_NS_XML), "fr");
  CHECK(xs2s_stanza_find_child(back, "x", "jabber:x:data") != NULL);
  CHECK(xs2s_stanza_find_child(back, "result", XS2S_NS_DIALBACK) != NULL);
  const xs2s_stanza *body = xs2s_stanza_find_child(back, "body", NULL);
  CHECK(body && xs2s_stanza_is(body, "body", XS2S_NS_SERVER));
  CHECK_STR(xs2s_stanza_text(body), "1 < 2 & 3 > 2 \xc3\xa9");
  check_same(s, back);
  xs2s_stanza_free(back);
  /* Not what a session writes: an error, no tree. */
  back = xs2s__sm_kept_parse(&mem, "<message><x></message>", 22, &err);
  CHECK(back == NULL && err < 0);
  back = xs2s__sm_kept_parse(&mem, "<a/><b/>", 8, &err);
  CHECK(back == NULL && err == XS2S_ERR_BAD_FORMAT);
  xs2s__buf_free(&wire);
  xs2s_stanza_free(s);
}

/* Bigger and deeper than xs2s_stanza_parse()'s defaults allow. */
static void test_beyond_default_limits(void) {
  xs2s_stanza *s = xs2s_stanza_new("message", XS2S_NS_SERVER);
  xs2s_stanza_set_attr(s, "to", "bob@b.test");
  xs2s_stanza *p = s;
  for (int i = 0; i < 100; i++)
    p = xs2s_stanza_add_child(p, "d", "urn:example:deep");
  for (int i = 0; i < 80; i++) {
    char name[16];
    snprintf(name, sizeof(name), "a%d", i);
    xs2s_stanza_set_attr(s, name, "v");
  }
  size_t big = 300 * 1024;
  char *text = malloc(big);
  memset(text, 'x', big);
  xs2s_stanza_add_text(xs2s_stanza_add_child(s, "body", NULL), text, big);
  free(text);
  xs2s__buf wire;
  write_in_scope(s, &wire);
  int err = 1;
  xs2s_stanza *back =
      xs2s__sm_kept_parse(&mem, xs2s__buf_bytes(&wire), wire.len, &err);
  CHECK_INT(err, 0);
  CHECK(back != NULL);
  if (back)
    check_same(s, back);
  xs2s_stanza_free(back);
  xs2s__buf_free(&wire);
  xs2s_stanza_free(s);
}

/* -- Bytes as a real session wrote them -------------------------------- */

static h_server A = {{"a.test"}, 1, XS2S_SECURITY_OFF, NULL, "secret-of-a",
                     0, NULL, NULL, {0}};
static h_server B = {{"b.test"}, 1, XS2S_SECURITY_OFF, NULL, "secret-of-b",
                     0, NULL, NULL, {0}};

typedef struct kept {
  int calls;
  xs2s__buf bytes;
} kept;

static void keep_fn(const char *xml, size_t len, void *arg) {
  kept *k = arg;
  k->calls++;
  xs2s__buf_append(&k->bytes, xml, len);
}

static void test_session_bytes(void) {
  h_world w;
  h_world_init(&w);
  h_add_server(&w, &A);
  h_add_server(&w, &B);
  h_link *l = h_connect(&w, &A, "a.test", &B, "b.test", 0);
  h_run(&w);
  kept k = {0};
  xs2s__buf_init(&k.bytes, &mem);
  xs2s_stanza *s = rich();
  xs2s_stanza_set_attr(s, "from", "alice@a.test");
  CHECK_INT(xs2s__session_send_keep(l->a.s, s, keep_fn, &k), 0);
  CHECK_INT(k.calls, 1);
  CHECK_INT(k.bytes.len, xs2s__session_sent_bytes(l->a.s));
  int err = 1;
  xs2s_stanza *back =
      xs2s__sm_kept_parse(&mem, xs2s__buf_bytes(&k.bytes), k.bytes.len, &err);
  CHECK(back != NULL);
  if (back)
    check_same(s, back);
  xs2s_stanza_free(back);
  /* Refused before writing: nothing shown. */
  xs2s_stanza_set_attr(s, "from", "alice@elsewhere.test");
  CHECK(xs2s__session_send_keep(l->a.s, s, keep_fn, &k) < 0);
  CHECK_INT(k.calls, 1);
  h_run(&w);
  CHECK_INT(l->b.n_stanzas, 1);
  if (l->b.n_stanzas == 1) /* the peer read those same bytes */
    CHECK_STR(xs2s_stanza_attr(l->b.stanzas[0], "id"), "a&b<c>\"d'e");
  xs2s_stanza_free(s);
  xs2s__buf_free(&k.bytes);
  h_world_free(&w);
}

/* -- Entries kept as bytes --------------------------------------------- */

static xs2s__qentry *entry(const char *id) {
  xs2s_stanza *s = rich();
  xs2s_stanza_set_attr(s, "id", id);
  xs2s__buf wire;
  write_in_scope(s, &wire);
  xs2s__qentry *e = xs2s__queue_entry_xml(
      &mem, xs2s__buf_bytes(&wire), wire.len, "a.test", 6, 5, (void *)id);
  CHECK(e != NULL);
  CHECK(e && e->bytes == wire.len && e->stanza == NULL && e->xml != NULL);
  xs2s__buf_free(&wire);
  xs2s_stanza_free(s);
  return e;
}

static void test_entry_thaw(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 100);
  xs2s__qentry *e = entry("one");
  size_t bytes = e->bytes;
  xs2s__queue_append(&q, e); /* whatever the bound: written already */
  CHECK_INT(q.count, 1);
  CHECK_INT(q.bytes, bytes);
  CHECK(bytes > 100);
  CHECK_INT(xs2s__sm_kept_thaw(&mem, e), 0);
  CHECK(e->stanza != NULL && e->xml == NULL);
  CHECK_STR(xs2s_stanza_attr(e->stanza, "id"), "one");
  CHECK_STR(e->local, "a.test");
  CHECK(e->tag == (void *)"one" && e->queued_ms == 5);
  const xs2s_stanza *was = e->stanza;
  CHECK_INT(xs2s__sm_kept_thaw(&mem, e), 0); /* a tree already */
  CHECK(e->stanza == was);
  CHECK_INT(q.bytes, bytes);
  xs2s__queue_free(&q);
  /* An entry freed while still bytes. */
  xs2s__queue_entry_free(&mem, entry("two"));
  xs2s__queue_entry_free(&mem, NULL);
}

/* An allocator that fails once armed, to see an entry survive. */
static int fail_armed;
static void *failing_malloc(size_t n, void *ud) {
  (void)ud;
  return fail_armed ? NULL : malloc(n);
}
static void *failing_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return fail_armed ? NULL : realloc(p, n);
}
static void plain_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_thaw_out_of_memory(void) {
  xs2s_mem fm = {failing_malloc, failing_realloc, plain_free, NULL};
  xs2s__qentry *e = entry("x");
  const char *xml = e->xml;
  fail_armed = 1;
  CHECK_INT(xs2s__sm_kept_thaw(&fm, e), XS2S_ERR_NOMEM);
  fail_armed = 0;
  CHECK(e->stanza == NULL && e->xml == xml); /* unchanged, still kept */
  CHECK_INT(xs2s__sm_kept_thaw(&fm, e), 0);
  CHECK(e->stanza != NULL);
  xs2s__queue_entry_free(&mem, e);
}

/* Collects ids handed over. */
typedef struct seen {
  char ids[8][16];
  int n;
  int trees;
} seen;

static void take(xs2s__qentry *e, void *arg) {
  seen *s = arg;
  const char *id = e->tag;
  snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
  s->trees += e->stanza != NULL;
}

static int drain_one(xs2s__qentry *e, void *arg) {
  take(e, arg);
  return 0;
}

/* Thaws, refusing the entry whose id is "bad" (as out of memory would). */
static int thaw_or_refuse(xs2s__qentry *e, void *arg) {
  (void)arg;
  if (strcmp(e->tag, "bad") == 0)
    return 1;
  return xs2s__sm_kept_thaw(&mem, e) < 0;
}

/* Resumption: the unacknowledged entries go back, as trees and in order,
 * to the front of the remote's queue; one that cannot be rebuilt is
 * handed over (to be counted), not dropped. */
static void test_requeue_from_bytes(void) {
  xs2s__queue unacked, queue;
  xs2s__queue_init(&unacked, &mem, 1 << 20);
  xs2s__queue_init(&queue, &mem, 1 << 20);
  const char *ids[] = {"u1", "bad", "u2", "u3"};
  for (int i = 0; i < 4; i++)
    xs2s__queue_append(&unacked, entry(ids[i]));
  xs2s_stanza *later = rich();
  CHECK_INT(xs2s__queue_push(&queue, later, "a.test", 6, 9, "q1"), 0);
  xs2s_stanza_free(later);
  size_t before = unacked.bytes;
  seen lost = {0};
  CHECK_INT(xs2s__queue_take_refused(&unacked, thaw_or_refuse, take, &lost),
            1);
  CHECK_INT(lost.n, 1);
  CHECK_STR(lost.ids[0], "bad");
  CHECK_INT(unacked.count, 3);
  CHECK(unacked.bytes < before);
  xs2s__queue_prepend(&queue, &unacked);
  CHECK_INT(unacked.count, 0);
  seen out = {0};
  CHECK_INT(xs2s__queue_drain(&queue, NULL, 0, drain_one, &out), 4);
  CHECK_INT(out.n, 4);
  CHECK_INT(out.trees, 4);
  CHECK_STR(out.ids[0], "u1");
  CHECK_STR(out.ids[1], "u2");
  CHECK_STR(out.ids[2], "u3");
  CHECK_STR(out.ids[3], "q1");
  CHECK_INT(queue.bytes, 0);
  xs2s__queue_free(&queue);
  xs2s__queue_free(&unacked);
}

/* A bounce: entries leave in order and each gets its tree back first. */
static void bounce_one(xs2s__qentry *e, void *arg) {
  seen *s = arg;
  CHECK_INT(xs2s__sm_kept_thaw(&mem, e), 0);
  CHECK(e->stanza && strcmp(xs2s_stanza_attr(e->stanza, "id"), e->tag) == 0);
  take(e, s);
}

static void test_bounce_from_bytes(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 10);
  xs2s__queue_append(&q, entry("b1"));
  xs2s__queue_append(&q, entry("b2"));
  seen s = {0};
  CHECK_INT(xs2s__queue_take_all(&q, NULL, 0, bounce_one, &s), 2);
  CHECK_INT(s.trees, 2);
  CHECK_STR(s.ids[0], "b1");
  CHECK_STR(s.ids[1], "b2");
  CHECK_INT(q.count, 0);
  CHECK_INT(q.bytes, 0);
  xs2s__queue_free(&q);
}

int main(void) {
  xs2s__mem_init(&mem, NULL);
  RUN(test_round_trip);
  RUN(test_beyond_default_limits);
  RUN(test_session_bytes);
  RUN(test_entry_thaw);
  RUN(test_thaw_out_of_memory);
  RUN(test_requeue_from_bytes);
  RUN(test_bounce_from_bytes);
  return check_finish();
}
