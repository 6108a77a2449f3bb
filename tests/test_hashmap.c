/* The internal hash map: SipHash-2-4 reference values, and a long random
 * sequence of puts and removes checked against a plain array. */
#include <stdlib.h>

#include "alloc.h"
#include "check.h"
#include "hashmap.h"

static void test_siphash_vectors(void) {
  /* From the SipHash paper: key 00..0f, messages 00, 00 01, ... */
  uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  unsigned char msg[15];
  for (int i = 0; i < 15; i++)
    msg[i] = (unsigned char)i;
  CHECK(xs2s__siphash(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ULL);
  CHECK(xs2s__siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5ULL);
  CHECK(xs2s__siphash(k0, k1, msg, 8) != xs2s__siphash(k0, k1, msg, 7));
}

#define N 2000

static void test_against_reference(void) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__map m;
  xs2s__map_init(&m, &mem);
  static char keys[N][16];
  static int present[N];
  size_t count = 0;
  srand(7);
  for (int i = 0; i < N; i++)
    snprintf(keys[i], sizeof(keys[i]), "k%d.example", i);
  for (int step = 0; step < 20000; step++) {
    int i = rand() % N;
    if (rand() % 3) {
      int rc = xs2s__map_put(&m, keys[i], strlen(keys[i]), keys[i]);
      CHECK_INT(rc, present[i] ? XS2S_ERR_EXISTS : 0);
      if (!present[i])
        count++;
      present[i] = 1;
    } else {
      void *v = xs2s__map_remove(&m, keys[i], strlen(keys[i]));
      CHECK(v == (present[i] ? keys[i] : NULL));
      if (present[i])
        count--;
      present[i] = 0;
    }
  }
  CHECK_INT(m.len, count);
  for (int i = 0; i < N; i++)
    CHECK(xs2s__map_get_str(&m, keys[i]) == (present[i] ? keys[i] : NULL));
  /* Iteration visits each entry once. */
  size_t pos = 0, seen = 0;
  const void *key;
  size_t klen;
  void *v;
  while ((v = xs2s__map_next(&m, &pos, &key, &klen))) {
    CHECK(v == key);
    CHECK_INT(klen, strlen(v));
    seen++;
  }
  CHECK_INT(seen, count);
  /* Keys are compared by length too, and may hold any bytes. */
  CHECK(xs2s__map_get(&m, "k1.example", 2) == NULL);
  static const char bin[] = {0, 1, 0, 2};
  CHECK_INT(xs2s__map_put(&m, bin, 4, (void *)bin), 0);
  CHECK(xs2s__map_get(&m, bin, 4) == bin);
  CHECK(xs2s__map_get(&m, bin, 3) == NULL);
  xs2s__map_free(&m);
  CHECK(xs2s__map_get_str(&m, "k1.example") == NULL);
  CHECK(xs2s__map_remove(&m, "x", 1) == NULL);
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

static void test_out_of_memory(void) {
  xs2s_mem mem = {no_malloc, no_realloc, no_free, NULL};
  xs2s__map m;
  xs2s__map_init(&m, &mem);
  CHECK_INT(xs2s__map_put(&m, "a", 1, "a"), XS2S_ERR_NOMEM);
  CHECK_INT(m.len, 0);
  CHECK(xs2s__map_get(&m, "a", 1) == NULL);
  xs2s__map_free(&m);
}

int main(void) {
  RUN(test_siphash_vectors);
  RUN(test_against_reference);
  RUN(test_out_of_memory);
  return check_finish();
}
