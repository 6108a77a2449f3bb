/*
 * hashmap.c: SipHash-2-4 keyed open-addressing hash table.
 */
#include "hashmap.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "alloc.h"

#define MAP_MIN_CAP 16u

static inline uint64_t rotl(uint64_t x, unsigned b) {
  return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = rotl(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = rotl(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = rotl(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = rotl(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = rotl(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = rotl(v2, 32);                                                         \
  } while (0)

uint64_t xs2s__siphash(uint64_t k0, uint64_t k1, const void *data,
                       size_t len) {
  const unsigned char *p = data;
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;
  size_t full = len & ~(size_t)7;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = load_le64(p + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t i = 0; i < (len & 7); i++)
    b |= (uint64_t)p[full + i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

void xs2s__map_init(xs2s__map *m, const xs2s_mem *mem) {
  memset(m, 0, sizeof(*m));
  m->mem = mem;
  uint64_t key[2] = {0, 0};
  /* Without randomness the map still works; only collision resistance
   * against chosen names is lost, so a failure here is not fatal. */
  if (gnutls_rnd(GNUTLS_RND_NONCE, key, sizeof(key)) != 0) {
    key[0] = (uint64_t)(uintptr_t)m;
    key[1] = 0x9e3779b97f4a7c15ULL;
  }
  m->k0 = key[0];
  m->k1 = key[1];
}

void xs2s__map_free(xs2s__map *m) {
  xs2s__free(m->mem, m->slots);
  m->slots = NULL;
  m->cap = m->len = 0;
}

static inline int slot_matches(const xs2s__map_slot *s, uint64_t h,
                               const void *key, size_t klen) {
  return s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0;
}

/* Index of the key's slot, or of the empty slot where it would go. */
static size_t probe(const xs2s__map *m, uint64_t h, const void *key,
                    size_t klen) {
  size_t mask = m->cap - 1;
  size_t i = (size_t)h & mask;
  while (m->slots[i].key && !slot_matches(&m->slots[i], h, key, klen))
    i = (i + 1) & mask;
  return i;
}

void *xs2s__map_get(const xs2s__map *m, const void *key, size_t klen) {
  if (m->len == 0)
    return NULL;
  uint64_t h = xs2s__siphash(m->k0, m->k1, key, klen);
  size_t i = probe(m, h, key, klen);
  return m->slots[i].key ? m->slots[i].value : NULL;
}

static int grow(xs2s__map *m) {
  size_t cap = m->cap ? m->cap * 2 : MAP_MIN_CAP;
  if (cap > (size_t)-1 / sizeof(xs2s__map_slot))
    return XS2S_ERR_NOMEM;
  xs2s__map_slot *slots = xs2s__calloc(m->mem, cap, sizeof(*slots));
  if (!slots)
    return XS2S_ERR_NOMEM;
  xs2s__map_slot *old = m->slots;
  size_t old_cap = m->cap;
  m->slots = slots;
  m->cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key)
      m->slots[probe(m, old[i].hash, old[i].key, old[i].klen)] = old[i];
  xs2s__free(m->mem, old);
  return 0;
}

int xs2s__map_put(xs2s__map *m, const void *key, size_t klen, void *value) {
  /* Keep the load at or below 3/4 so probe sequences stay short. */
  if ((m->len + 1) * 4 > m->cap * 3) {
    int rc = grow(m);
    if (rc < 0)
      return rc;
  }
  uint64_t h = xs2s__siphash(m->k0, m->k1, key, klen);
  size_t i = probe(m, h, key, klen);
  if (m->slots[i].key)
    return XS2S_ERR_EXISTS;
  m->slots[i] = (xs2s__map_slot){key, klen, h, value};
  m->len++;
  return 0;
}

void *xs2s__map_remove(xs2s__map *m, const void *key, size_t klen) {
  if (m->len == 0)
    return NULL;
  uint64_t h = xs2s__siphash(m->k0, m->k1, key, klen);
  size_t mask = m->cap - 1;
  size_t i = probe(m, h, key, klen);
  if (!m->slots[i].key)
    return NULL;
  void *value = m->slots[i].value;
  /* Backward-shift: move later members of the probe run into the hole
   * when their home slot does not lie (cyclically) after the hole. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->slots[j].key)
      break;
    size_t home = (size_t)m->slots[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  memset(&m->slots[i], 0, sizeof(m->slots[i]));
  m->len--;
  return value;
}

void *xs2s__map_next(const xs2s__map *m, size_t *pos, const void **key,
                     size_t *klen) {
  for (size_t i = *pos; i < m->cap; i++) {
    if (m->slots[i].key) {
      *pos = i + 1;
      if (key)
        *key = m->slots[i].key;
      if (klen)
        *klen = m->slots[i].klen;
      return m->slots[i].value;
    }
  }
  *pos = m->cap;
  return NULL;
}
