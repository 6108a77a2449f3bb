/*
 * alloc.h: the one path every xs2s allocation takes (internal).
 *
 * Objects keep a copy of the embedder's struct xs2s_mem (or the libc
 * defaults) and allocate through it, so a custom allocator sees every byte
 * xs2s itself allocates.
 */
#ifndef XS2S_ALLOC_H
#define XS2S_ALLOC_H

#include <string.h>

#include <xs2s/common.h>

/* Fills @dst with @src, or with the C library's allocator when @src is NULL
 * or incomplete. */
void xs2s__mem_init(xs2s_mem *dst, const xs2s_mem *src);

static inline void *xs2s__malloc(const xs2s_mem *m, size_t size) {
  return m->malloc(size, m->mem_user_data);
}

static inline void *xs2s__calloc(const xs2s_mem *m, size_t n, size_t size) {
  if (size != 0 && n > (size_t)-1 / size)
    return NULL;
  void *p = m->malloc(n * size, m->mem_user_data);
  if (p)
    memset(p, 0, n * size);
  return p;
}

static inline void *xs2s__realloc(const xs2s_mem *m, void *ptr, size_t size) {
  return m->realloc(ptr, size, m->mem_user_data);
}

static inline void xs2s__free(const xs2s_mem *m, void *ptr) {
  if (ptr)
    m->free(ptr, m->mem_user_data);
}

/* A NUL-terminated copy of the first @len bytes of @s; NULL on OOM. */
char *xs2s__strndup(const xs2s_mem *m, const char *s, size_t len);

/* A copy of @s (NULL gives NULL). */
char *xs2s__strdup(const xs2s_mem *m, const char *s);

#endif /* XS2S_ALLOC_H */
