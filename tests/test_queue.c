/* The outbound queue: byte bound checked at push time, FIFO order, drain
 * per local domain, expiry by age, taking everything for bounces, and
 * callbacks that queue again. */
#include <stdlib.h>

#include "alloc.h"
#include "check.h"
#include "queue.h"

static xs2s_mem mem;

static xs2s_stanza *msg(const char *from, const char *id) {
  xs2s_stanza *s = xs2s_stanza_new("message", XS2S_NS_SERVER);
  CHECK(s != NULL);
  xs2s_stanza_set_attr(s, "from", from);
  xs2s_stanza_set_attr(s, "to", "user@far.example");
  xs2s_stanza_set_attr(s, "id", id);
  xs2s_stanza *body = xs2s_stanza_add_child(s, "body", NULL);
  xs2s_stanza_add_text(body, "hello", 5);
  return s;
}

static size_t size_of(const xs2s_stanza *s) {
  size_t len = 0;
  xs2s_stanza_serialize(s, NULL, 0, &len);
  return len;
}

static int push(xs2s__queue *q, const char *local, const char *id,
                uint64_t now) {
  char from[64];
  snprintf(from, sizeof(from), "user@%s", local);
  xs2s_stanza *s = msg(from, id);
  int rc = xs2s__queue_push(q, s, local, strlen(local), now, (void *)id);
  xs2s_stanza_free(s);
  return rc;
}

/* Collects the ids of the entries handed over. */
typedef struct seen {
  const char *ids[16];
  int n;
  int keep_at;      /* drain: keep the entry with this index (-1: never) */
  int fail_at;      /* drain: fail at this index (-1: never) */
  xs2s__queue *requeue; /* take: push a new entry during the callback */
} seen;

static int on_drain(xs2s__qentry *e, void *arg) {
  seen *s = arg;
  if (s->n == s->keep_at)
    return XS2S__QUEUE_KEEP;
  if (s->n == s->fail_at)
    return XS2S_ERR_CALLBACK_FAILED;
  /* The tag (a static string) outlives the entry, the stanza does not. */
  CHECK_STR(e->tag, xs2s_stanza_attr(e->stanza, "id"));
  s->ids[s->n++] = e->tag;
  return 0;
}

static void on_take(xs2s__qentry *e, void *arg) {
  seen *s = arg;
  s->ids[s->n++] = e->tag; /* tags are static strings */
  if (s->requeue)
    CHECK_INT(push(s->requeue, e->local, "again", e->queued_ms + 1), 0);
}

static void test_fifo_and_bound(void) {
  xs2s_stanza *probe = msg("user@a.example", "1");
  size_t one = size_of(probe);
  xs2s_stanza_free(probe);
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 3 * one);
  CHECK_INT(push(&q, "a.example", "1", 10), 0);
  CHECK_INT(push(&q, "a.example", "2", 11), 0);
  CHECK_INT(push(&q, "a.example", "3", 12), 0);
  CHECK_INT(q.count, 3);
  CHECK_INT(q.bytes, 3 * one);
  /* Full: refused at once, nothing changes. */
  CHECK_INT(push(&q, "a.example", "4", 13), XS2S_ERR_LIMIT);
  CHECK_INT(q.count, 3);
  CHECK_INT(q.bytes, 3 * one);
  CHECK_STR(xs2s_stanza_attr(xs2s__queue_oldest(&q)->stanza, "id"), "1");
  seen s = {.keep_at = -1, .fail_at = -1};
  CHECK_INT(xs2s__queue_drain(&q, NULL, 0, on_drain, &s), 3);
  CHECK_INT(s.n, 3);
  CHECK_STR(s.ids[0], "1");
  CHECK_STR(s.ids[1], "2");
  CHECK_STR(s.ids[2], "3");
  CHECK_INT(q.count, 0);
  CHECK_INT(q.bytes, 0);
  CHECK(xs2s__queue_oldest(&q) == NULL);
  /* Room again, and the tail is usable after emptying. */
  CHECK_INT(push(&q, "a.example", "5", 20), 0);
  CHECK_INT(q.count, 1);
  xs2s__queue_free(&q);
  CHECK_INT(q.count, 0);

  /* A stanza larger than the whole bound never fits. */
  xs2s__queue small;
  xs2s__queue_init(&small, &mem, one - 1);
  CHECK_INT(push(&small, "a.example", "1", 0), XS2S_ERR_LIMIT);
  xs2s__queue_free(&small);
}

static void test_copy_is_independent(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 1 << 20);
  xs2s_stanza *s = msg("user@a.example", "orig");
  CHECK_INT(xs2s__queue_push(&q, s, "a.example", 9, 0, NULL), 0);
  xs2s_stanza_set_attr(s, "id", "changed");
  xs2s_stanza_free(s);
  CHECK_STR(xs2s_stanza_attr(q.head->stanza, "id"), "orig");
  CHECK_STR(q.head->local, "a.example");
  /* Only elements can be queued. */
  xs2s_stanza *t = msg("user@a.example", "t");
  CHECK_INT(xs2s__queue_push(&q, xs2s_stanza_first_child(
                                     xs2s_stanza_find_child(t, "body", NULL)),
                             "a.example", 9, 0, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__queue_push(&q, NULL, "a.example", 9, 0, NULL),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s_stanza_free(t);
  CHECK_INT(q.count, 1);
  xs2s__queue_free(&q);
}

static void test_drain_per_local_domain(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 1 << 20);
  push(&q, "a.example", "a1", 1);
  push(&q, "b.example", "b1", 2);
  push(&q, "a.example", "a2", 3);
  push(&q, "b.example", "b2", 4);
  push(&q, "a.example", "a3", 5);
  /* Pair (a, far) authenticated: only a's stanzas go, in order. */
  seen s = {.keep_at = -1, .fail_at = -1};
  CHECK_INT(xs2s__queue_drain(&q, "a.example", 9, on_drain, &s), 3);
  CHECK_STR(s.ids[0], "a1");
  CHECK_STR(s.ids[1], "a2");
  CHECK_STR(s.ids[2], "a3");
  CHECK_INT(q.count, 2);
  CHECK_STR(xs2s_stanza_attr(xs2s__queue_oldest(&q)->stanza, "id"), "b1");
  /* The tail is right after removing the last entry: append works. */
  push(&q, "b.example", "b3", 6);
  /* The writer can stop (output buffer full): the entry stays first. */
  seen k = {.keep_at = 1, .fail_at = -1};
  CHECK_INT(xs2s__queue_drain(&q, "b.example", 9, on_drain, &k), 1);
  CHECK_INT(q.count, 2);
  CHECK_STR(xs2s_stanza_attr(xs2s__queue_oldest(&q)->stanza, "id"), "b2");
  seen f = {.keep_at = -1, .fail_at = 0};
  CHECK_INT(xs2s__queue_drain(&q, "b.example", 9, on_drain, &f),
            XS2S_ERR_CALLBACK_FAILED);
  CHECK_INT(q.count, 2);
  seen rest = {.keep_at = -1, .fail_at = -1};
  CHECK_INT(xs2s__queue_drain(&q, "b.example", 9, on_drain, &rest), 2);
  CHECK_STR(rest.ids[0], "b2");
  CHECK_STR(rest.ids[1], "b3");
  CHECK_INT(q.count, 0);
  xs2s__queue_free(&q);
}

static void test_expire(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 1 << 20);
  push(&q, "a.example", "t10", 10);
  push(&q, "b.example", "t20", 20);
  push(&q, "a.example", "t30", 30);
  seen s = {0};
  CHECK_INT(xs2s__queue_expire(&q, 9, on_take, &s), 0);
  CHECK_INT(xs2s__queue_expire(&q, 20, on_take, &s), 2);
  CHECK_STR(s.ids[0], "t10");
  CHECK_STR(s.ids[1], "t20");
  CHECK_INT(q.count, 1);
  CHECK_INT(xs2s__queue_oldest(&q)->queued_ms, 30);
  xs2s__queue_free(&q);
}

static void test_push_owned(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 10); /* the bound does not apply */
  xs2s_stanza *s = msg("user@a.example", "o1");
  CHECK_INT(xs2s__queue_push_owned(&q, s, 500, "a.example", 9, 7, NULL), 0);
  push(&q, "a.example", "o2", 8); /* over the bound: refused */
  CHECK_INT(q.count, 1);
  CHECK_INT(q.bytes, 500);
  CHECK(xs2s__queue_oldest(&q)->stanza == s); /* taken, not copied */
  CHECK_INT(xs2s__queue_oldest(&q)->queued_ms, 7);
  CHECK_STR(xs2s__queue_oldest(&q)->local, "a.example");
  xs2s__queue_free(&q); /* frees it */
}

static void test_prepend(void) {
  xs2s__queue dst, src;
  xs2s__queue_init(&dst, &mem, 1 << 20);
  xs2s__queue_init(&src, &mem, 1 << 20);
  xs2s__queue_prepend(&dst, &src); /* both empty */
  CHECK_INT(dst.count, 0);
  push(&src, "a.example", "s1", 1);
  push(&src, "a.example", "s2", 2);
  xs2s__queue_prepend(&dst, &src); /* into an empty queue */
  CHECK_INT(dst.count, 2);
  CHECK_INT(src.count, 0);
  CHECK_INT(src.bytes, 0);
  push(&dst, "a.example", "d3", 5); /* the tail still works */
  push(&src, "a.example", "s0", 0);
  size_t bytes = dst.bytes + src.bytes;
  xs2s__queue_prepend(&dst, &src);
  CHECK_INT(dst.count, 4);
  CHECK_INT(dst.bytes, bytes);
  push(&src, "a.example", "s9", 9); /* src usable again */
  CHECK_INT(src.count, 1);
  seen all = {0};
  CHECK_INT(xs2s__queue_take_all(&dst, NULL, 0, on_take, &all), 4);
  CHECK_STR(all.ids[0], "s0");
  CHECK_STR(all.ids[1], "s1");
  CHECK_STR(all.ids[2], "s2");
  CHECK_STR(all.ids[3], "d3");
  CHECK_INT(dst.bytes, 0);
  xs2s__queue_free(&dst);
  xs2s__queue_free(&src);
}

static void test_take_all_with_requeue(void) {
  xs2s__queue q;
  xs2s__queue_init(&q, &mem, 1 << 20);
  push(&q, "a.example", "a1", 1);
  push(&q, "b.example", "b1", 2);
  push(&q, "a.example", "a2", 3);
  /* The application re-sends each bounced stanza from its callback: the
   * new entries stay queued, the call ends. */
  seen s = {.requeue = &q};
  CHECK_INT(xs2s__queue_take_all(&q, "a.example", 9, on_take, &s), 2);
  CHECK_STR(s.ids[0], "a1");
  CHECK_STR(s.ids[1], "a2");
  CHECK_INT(q.count, 3);
  seen all = {0};
  CHECK_INT(xs2s__queue_take_all(&q, NULL, 0, on_take, &all), 3);
  CHECK_STR(all.ids[0], "b1");
  CHECK_STR(all.ids[1], "again");
  CHECK_STR(all.ids[2], "again");
  CHECK_INT(q.count, 0);
  CHECK_INT(q.bytes, 0);
  xs2s__queue_free(&q);
}

static void *no_malloc(size_t n, void *ud) {
  (void)n, (void)ud;
  return NULL;
}
static void *no_realloc(void *p, size_t n, void *ud) {
  (void)p, (void)n, (void)ud;
  return NULL;
}
static void no_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static int gate_open;
static void *gate_malloc(size_t n, void *ud) {
  (void)ud;
  return gate_open ? malloc(n) : NULL;
}
static void *gate_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return gate_open ? realloc(p, n) : NULL;
}

static void test_out_of_memory(void) {
  xs2s_mem none = {no_malloc, no_realloc, no_free, NULL};
  xs2s__queue q;
  xs2s__queue_init(&q, &none, 1 << 20);
  CHECK_INT(push(&q, "a.example", "1", 0), XS2S_ERR_NOMEM);
  CHECK_INT(q.count, 0);
  CHECK_INT(q.bytes, 0);
  xs2s__queue_free(&q);
  /* The copy uses the stanza's own allocator: when that fails, the push
   * fails and the queue is unchanged. */
  xs2s__queue_init(&q, &mem, 1 << 20);
  xs2s_mem gate = {gate_malloc, gate_realloc, no_free, NULL};
  gate_open = 1;
  xs2s_stanza *s = xs2s_stanza_new_mem(&gate, "message", XS2S_NS_SERVER);
  CHECK(s != NULL);
  gate_open = 0;
  CHECK_INT(xs2s__queue_push(&q, s, "a.example", 9, 0, NULL), XS2S_ERR_NOMEM);
  CHECK_INT(q.count, 0);
  gate_open = 1;
  CHECK_INT(xs2s__queue_push(&q, s, "a.example", 9, 0, NULL), 0);
  CHECK_INT(q.count, 1);
  xs2s_stanza_free(s);
  xs2s__queue_free(&q);
}

int main(void) {
  xs2s__mem_init(&mem, NULL);
  RUN(test_fifo_and_bound);
  RUN(test_copy_is_independent);
  RUN(test_drain_per_local_domain);
  RUN(test_expire);
  RUN(test_take_all_with_requeue);
  RUN(test_prepend);
  RUN(test_push_owned);
  RUN(test_out_of_memory);
  return check_finish();
}
