/* The chunked bump allocator: alignment, growth, big requests, growing in
 * place, rewinding, out of memory. */
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "arena.h"
#include "check.h"

static long mallocs;
static int fail_malloc;
static void *count_malloc(size_t n, void *ud) {
  (void)ud;
  if (fail_malloc)
    return NULL;
  mallocs++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return realloc(p, n);
}
static void plain_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_first_chunk_then_growth(void) {
  xs2s_mem m = {count_malloc, count_realloc, plain_free, NULL}, mem;
  xs2s__mem_init(&mem, &m);
  _Alignas(16) char first[256];
  xs2s__arena a;
  xs2s__arena_init(&a, &mem, first, sizeof(first));
  mallocs = 0;
  char *s = xs2s__arena_strndup(&a, "abc", 3);
  CHECK_STR(s, "abc");
  void *p = xs2s__arena_alloc(&a, 24);
  CHECK(((uintptr_t)p & (sizeof(void *) - 1)) == 0);
  CHECK((char *)p >= first && (char *)p < first + sizeof(first));
  CHECK_INT(mallocs, 0);
  /* Beyond the first chunk: chunks, not one allocation per request. */
  for (int i = 0; i < 1000; i++) {
    void *q = xs2s__arena_alloc(&a, 40);
    CHECK(q != NULL && ((uintptr_t)q & (sizeof(void *) - 1)) == 0);
    memset(q, 0xAB, 40);
  }
  CHECK(mallocs > 0 && mallocs < 12);
  /* A big request gets a chunk of its own; small ones continue where they
   * were. */
  long before = mallocs;
  char *small1 = xs2s__arena_alloc_aligned(&a, 1, 1);
  char *big = xs2s__arena_alloc(&a, 100000);
  char *small2 = xs2s__arena_alloc_aligned(&a, 1, 1);
  CHECK(big != NULL);
  memset(big, 1, 100000);
  CHECK(small2 == small1 + 1);
  CHECK_INT(mallocs, before + 1);
  /* Rewinding frees the chunks and starts from the first one again. */
  xs2s__arena_reset(&a);
  CHECK(xs2s__arena_alloc_aligned(&a, 1, 1) == first);
  xs2s__arena_free(&a);
}

static void test_extend(void) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__arena a;
  xs2s__arena_init(&a, &mem, NULL, 0);
  char *p = xs2s__arena_alloc_aligned(&a, 10, 1);
  CHECK(p != NULL);
  CHECK_INT(xs2s__arena_extend(&a, p, 10, 20), 1);
  char *q = xs2s__arena_alloc_aligned(&a, 1, 1);
  CHECK(q == p + 20);
  /* Only the last allocation grows in place. */
  CHECK_INT(xs2s__arena_extend(&a, p, 20, 30), 0);
  CHECK_INT(xs2s__arena_extend(&a, q, 1, 1u << 30), 0);
  xs2s__arena_free(&a);
}

static void test_out_of_memory(void) {
  xs2s_mem m = {count_malloc, count_realloc, plain_free, NULL}, mem;
  xs2s__mem_init(&mem, &m);
  xs2s__arena a;
  xs2s__arena_init(&a, &mem, NULL, 0);
  fail_malloc = 1;
  CHECK(xs2s__arena_alloc(&a, 8) == NULL);
  CHECK(xs2s__arena_strndup(&a, "x", 1) == NULL);
  CHECK(xs2s__arena_alloc(&a, (size_t)-1 / 2 + 1) == NULL);
  fail_malloc = 0;
  CHECK(xs2s__arena_alloc(&a, 8) != NULL);
  xs2s__arena_free(&a);
}

int main(void) {
  RUN(test_first_chunk_then_growth);
  RUN(test_extend);
  RUN(test_out_of_memory);
  return check_finish();
}
