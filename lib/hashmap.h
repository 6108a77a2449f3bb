/*
 * hashmap.h: a hash table from byte-string keys to pointers (internal).
 *
 * Used wherever the engine looks something up by a name that can come from
 * the network (remote domains, peer addresses), so lookups are O(1) and
 * never a scan. Keys are hashed with SipHash-2-4 under a random per-map key,
 * so a peer cannot choose names that collide.
 *
 * The map does not copy keys: an entry's key bytes must stay valid and
 * unchanged while the entry is in the map (typically the key lives inside
 * the value). Open addressing with linear probing and backward-shift
 * deletion; no tombstones, so a long-lived map does not degrade.
 */
#ifndef XS2S_HASHMAP_H
#define XS2S_HASHMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xs2s/common.h>

typedef struct xs2s__map_slot {
  const void *key; /* NULL: empty slot */
  size_t klen;
  uint64_t hash;
  void *value;
} xs2s__map_slot;

typedef struct xs2s__map {
  xs2s__map_slot *slots;
  size_t cap; /* 0 or a power of two */
  size_t len;
  uint64_t k0, k1; /* SipHash key */
  const xs2s_mem *mem;
} xs2s__map;

/* SipHash-2-4 of @len bytes with the 128-bit key (k0, k1). */
uint64_t xs2s__siphash(uint64_t k0, uint64_t k1, const void *data,
                       size_t len);

/* An empty map; its hash key comes from gnutls_rnd. Allocates nothing. */
void xs2s__map_init(xs2s__map *m, const xs2s_mem *mem);

/* Frees the table (not the keys or values). */
void xs2s__map_free(xs2s__map *m);

/* The value stored under the key, or NULL. */
void *xs2s__map_get(const xs2s__map *m, const void *key, size_t klen);

/* Adds an entry. 0; XS2S_ERR_EXISTS when the key is present (the map is
 * unchanged); XS2S_ERR_NOMEM. @value must not be NULL. */
int xs2s__map_put(xs2s__map *m, const void *key, size_t klen, void *value);

/* Removes an entry and returns its value, or NULL when absent. */
void *xs2s__map_remove(xs2s__map *m, const void *key, size_t klen);

/* Iteration in no particular order: start with *pos = 0; returns the next
 * value (and its key when @key is not NULL), or NULL at the end. The map
 * must not change during an iteration. */
void *xs2s__map_next(const xs2s__map *m, size_t *pos, const void **key,
                     size_t *klen);

static inline void *xs2s__map_get_str(const xs2s__map *m, const char *s) {
  return xs2s__map_get(m, s, strlen(s));
}

#endif /* XS2S_HASHMAP_H */
