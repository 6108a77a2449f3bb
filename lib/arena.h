/*
 * arena.h: chunked bump allocator (internal).
 *
 * An arena hands out memory by advancing a pointer through a chunk and frees
 * everything at once. A stanza tree keeps all its nodes and strings in one
 * arena, so building or copying a typical stanza costs one allocation, and
 * the parser reuses one arena for every stanza of a stream.
 *
 * The first chunk may be supplied by the owner (memory embedded in a larger
 * object, never freed by the arena); further chunks come from the allocator
 * and grow geometrically. Pointers stay valid until xs2s__arena_reset() or
 * xs2s__arena_free().
 */
#ifndef XS2S_ARENA_H
#define XS2S_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include <xs2s/common.h>

typedef struct xs2s__arena_chunk xs2s__arena_chunk;

typedef struct xs2s__arena {
  char *cur;                 /* next free byte of the current chunk */
  char *end;                 /* end of the current chunk */
  xs2s__arena_chunk *chunks; /* chunks the arena allocated, newest first */
  char *first;               /* owner-supplied first chunk, or NULL */
  size_t first_size;         /* its size */
  size_t next_size;          /* size of the next chunk to allocate */
  const xs2s_mem *mem;       /* allocator (borrowed from the owner) */
} xs2s__arena;

/* Starts an empty arena. @first (may be NULL) of @first_size bytes is used
 * before anything is allocated; it stays owned by the caller. */
void xs2s__arena_init(xs2s__arena *a, const xs2s_mem *mem, void *first,
                      size_t first_size);

/* Frees every allocated chunk and rewinds to the first chunk. */
void xs2s__arena_reset(xs2s__arena *a);

/* Frees every allocated chunk; the arena must be initialised again before
 * further use. */
void xs2s__arena_free(xs2s__arena *a);

/* Slow paths of the inline allocators below. */
void *xs2s__arena_alloc_slow(xs2s__arena *a, size_t size, size_t align);

/* @size bytes aligned to @align (a power of two); NULL when out of memory. */
static inline void *xs2s__arena_alloc_aligned(xs2s__arena *a, size_t size,
                                              size_t align) {
  uintptr_t p = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
  if (p <= (uintptr_t)a->end && size <= (uintptr_t)a->end - p) {
    a->cur = (char *)p + size;
    return (void *)p;
  }
  return xs2s__arena_alloc_slow(a, size, align);
}

/* Memory for objects (aligned for pointers and size_t). */
static inline void *xs2s__arena_alloc(xs2s__arena *a, size_t size) {
  return xs2s__arena_alloc_aligned(a, size, sizeof(void *));
}

/* A NUL-terminated copy of @len bytes of @s. */
char *xs2s__arena_strndup(xs2s__arena *a, const char *s, size_t len);

/* Grows the most recent allocation @p from @old_size to @new_size bytes in
 * place when the current chunk has room. Returns 1 when it did, else 0 (the
 * caller then allocates anew and copies). */
int xs2s__arena_extend(xs2s__arena *a, void *p, size_t old_size,
                       size_t new_size);

/* Bytes needed to hold one object of @size at alignment @align, for
 * callers that size a first chunk exactly. */
static inline size_t xs2s__arena_need(size_t size, size_t align) {
  return size + align - 1;
}

#endif /* XS2S_ARENA_H */
