/*
 * arena.c: chunked bump allocator.
 */
#include "arena.h"

#include <string.h>

#include "alloc.h"

/* Header of a chunk the arena allocated; the usable bytes follow it. */
struct xs2s__arena_chunk {
  xs2s__arena_chunk *next;
};

/* Chunk sizes grow from here up to the cap; a larger request gets a chunk of
 * its own. */
#define ARENA_MIN_CHUNK 1024u
#define ARENA_MAX_CHUNK (64u * 1024u)

/* Usable bytes start right after the header, at pointer alignment. */
#define CHUNK_HEADER                                                           \
  ((sizeof(xs2s__arena_chunk) + sizeof(void *) - 1) & ~(sizeof(void *) - 1))

static char *chunk_data(xs2s__arena_chunk *c) {
  return (char *)c + CHUNK_HEADER;
}

void xs2s__arena_init(xs2s__arena *a, const xs2s_mem *mem, void *first,
                      size_t first_size) {
  memset(a, 0, sizeof(*a));
  a->mem = mem;
  a->first = first;
  a->first_size = first ? first_size : 0;
  a->cur = first;
  a->end = first ? (char *)first + first_size : NULL;
  a->next_size = ARENA_MIN_CHUNK;
}

static void free_chunks(xs2s__arena *a) {
  xs2s__arena_chunk *c = a->chunks;
  while (c) {
    xs2s__arena_chunk *next = c->next;
    xs2s__free(a->mem, c);
    c = next;
  }
  a->chunks = NULL;
}

void xs2s__arena_reset(xs2s__arena *a) {
  free_chunks(a);
  a->cur = a->first;
  a->end = a->first ? a->first + a->first_size : NULL;
  a->next_size = ARENA_MIN_CHUNK;
}

void xs2s__arena_free(xs2s__arena *a) {
  free_chunks(a);
  a->cur = a->end = NULL;
}

void *xs2s__arena_alloc_slow(xs2s__arena *a, size_t size, size_t align) {
  if (size > (size_t)-1 / 2)
    return NULL;
  size_t need = size + align - 1;
  /* A request bigger than a quarter of the next chunk gets its own chunk,
   * so the space left in the current one is not wasted. */
  int dedicated = need > a->next_size / 4;
  size_t usable = dedicated ? need : a->next_size;
  xs2s__arena_chunk *c = xs2s__malloc(a->mem, CHUNK_HEADER + usable);
  if (!c)
    return NULL;
  char *data = chunk_data(c);
  uintptr_t p = ((uintptr_t)data + (align - 1)) & ~(uintptr_t)(align - 1);
  c->next = a->chunks;
  a->chunks = c;
  if (dedicated)
    return (void *)p; /* keep bump-allocating from the current chunk */
  a->cur = (char *)p + size;
  a->end = data + usable;
  if (a->next_size < ARENA_MAX_CHUNK)
    a->next_size *= 2;
  return (void *)p;
}

char *xs2s__arena_strndup(xs2s__arena *a, const char *s, size_t len) {
  char *copy = xs2s__arena_alloc_aligned(a, len + 1, 1);
  if (!copy)
    return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

int xs2s__arena_extend(xs2s__arena *a, void *p, size_t old_size,
                       size_t new_size) {
  if ((char *)p + old_size != a->cur || new_size < old_size)
    return 0;
  if (new_size - old_size > (size_t)(a->end - a->cur))
    return 0;
  a->cur = (char *)p + new_size;
  return 1;
}
