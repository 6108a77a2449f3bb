/*
 * alloc.c: default allocator and string helpers.
 */
#include "alloc.h"

#include <stdlib.h>

static void *libc_malloc(size_t size, void *ud) {
  (void)ud;
  return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}

void xs2s__mem_init(xs2s_mem *dst, const xs2s_mem *src) {
  if (src && src->malloc && src->realloc && src->free) {
    *dst = *src;
    return;
  }
  dst->malloc = libc_malloc;
  dst->realloc = libc_realloc;
  dst->free = libc_free;
  dst->mem_user_data = NULL;
}

char *xs2s__strndup(const xs2s_mem *m, const char *s, size_t len) {
  char *copy = xs2s__malloc(m, len + 1);
  if (!copy)
    return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

char *xs2s__strdup(const xs2s_mem *m, const char *s) {
  return s ? xs2s__strndup(m, s, strlen(s)) : NULL;
}
