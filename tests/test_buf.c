/* The internal byte buffer: append, consume from the front, reuse, OOM. */
#include <stdlib.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"

static void test_append_consume(void) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__buf b;
  xs2s__buf_init(&b, &mem);
  CHECK_INT(b.len, 0);
  CHECK_STR(xs2s__buf_bytes(&b), "");
  for (int i = 0; i < 1000; i++)
    CHECK_INT(xs2s__buf_append_str(&b, "0123456789"), 0);
  CHECK_INT(b.len, 10000);
  xs2s__buf_consume(&b, 9995);
  CHECK_INT(b.len, 5);
  CHECK(memcmp(xs2s__buf_bytes(&b), "56789", 5) == 0);
  size_t cap = b.cap;
  /* Consumed space is reclaimed before the buffer grows. */
  for (int i = 0; i < 999; i++)
    CHECK_INT(xs2s__buf_append_str(&b, "abcdefghij"), 0);
  CHECK_INT(b.cap, cap);
  CHECK(memcmp(xs2s__buf_bytes(&b), "56789abcde", 10) == 0);
  xs2s__buf_consume(&b, b.len + 10);
  CHECK_INT(b.len, 0);
  xs2s__buf_free(&b);
}

static int allowed_allocations;
static void *counting_malloc(size_t n, void *ud) {
  (void)ud;
  return allowed_allocations-- > 0 ? malloc(n) : NULL;
}
static void *counting_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return allowed_allocations-- > 0 ? realloc(p, n) : NULL;
}
static void plain_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_out_of_memory_keeps_contents(void) {
  xs2s_mem custom = {counting_malloc, counting_realloc, plain_free, NULL};
  xs2s_mem mem;
  xs2s__mem_init(&mem, &custom);
  xs2s__buf b;
  xs2s__buf_init(&b, &mem);
  allowed_allocations = 1;
  CHECK_INT(xs2s__buf_append_str(&b, "hello"), 0);
  char big[1024] = {0};
  CHECK_INT(xs2s__buf_append(&b, big, sizeof(big)), XS2S_ERR_NOMEM);
  CHECK_INT(b.len, 5);
  CHECK(memcmp(xs2s__buf_bytes(&b), "hello", 5) == 0);
  xs2s__buf_free(&b);
}

int main(void) {
  RUN(test_append_consume);
  RUN(test_out_of_memory_keeps_contents);
  return check_finish();
}
