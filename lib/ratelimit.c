/*
 * ratelimit.c: token buckets per source address, in a fixed-size table,
 * and the refusal log's summary windows. See ratelimit.h.
 */
#include "ratelimit.h"

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <string.h>

#include "alloc.h"
#include "hashmap.h"

#define MILLI 1000u

static size_t table_size(size_t max_sources) {
  size_t n = XS2S__RATE_WAYS;
  while (n * 2 <= max_sources && n < ((size_t)1 << 24))
    n *= 2;
  return n;
}

void xs2s__ratelimit_init(xs2s__ratelimit *rl, const xs2s_mem *mem,
                          uint32_t burst, uint32_t per_minute,
                          size_t max_sources) {
  memset(rl, 0, sizeof(*rl));
  rl->mem = mem;
  rl->burst = burst ? burst : 1;
  rl->per_minute = per_minute;
  rl->nslots = table_size(max_sources);
  gnutls_rnd(GNUTLS_RND_NONCE, rl->sipkey, sizeof(rl->sipkey));
}

void xs2s__ratelimit_configure(xs2s__ratelimit *rl, uint32_t burst,
                               uint32_t per_minute, size_t max_sources) {
  size_t n = table_size(max_sources);
  if (n != rl->nslots) {
    xs2s__free(rl->mem, rl->slots);
    rl->slots = NULL;
    rl->used = 0;
    rl->nslots = n;
  }
  rl->burst = burst ? burst : 1;
  rl->per_minute = per_minute;
}

void xs2s__ratelimit_free(xs2s__ratelimit *rl) {
  xs2s__free(rl->mem, rl->slots);
  rl->slots = NULL;
  rl->used = 0;
}

size_t xs2s__ratelimit_bytes(const xs2s__ratelimit *rl) {
  return rl->slots ? rl->nslots * sizeof(*rl->slots) : 0;
}

/* The source of @sa: 4 bytes of IPv4, or the first 8 of IPv6. */
static int source_of(const struct sockaddr *sa, uint8_t key[8],
                     uint8_t *family) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  memset(key, 0, 8);
  if (sa->sa_family == AF_INET) {
    memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    *family = 4;
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
      memcpy(key, a + 12, 4);
      *family = 4;
    } else {
      memcpy(key, a, 8);
      *family = 6;
    }
    return 0;
  }
  return -1;
}

/* Tokens (thousandths) in @e at @now after the refill. */
static uint32_t refilled(const xs2s__ratelimit *rl, const xs2s__rate_entry *e,
                         uint64_t now) {
  uint64_t full = (uint64_t)rl->burst * MILLI;
  if (rl->per_minute == 0 || now <= e->last)
    return e->tokens;
  uint64_t dt = now - e->last;
  /* per_minute tokens per 60,000 ms, in thousandths: dt * rate / 60. */
  uint64_t add = dt > full * 60 ? full : dt * rl->per_minute / 60;
  uint64_t t = e->tokens + add;
  return (uint32_t)(t > full ? full : t);
}

int xs2s__ratelimit_take(xs2s__ratelimit *rl, const struct sockaddr *sa,
                         uint64_t now_ms) {
  uint8_t key[8], family;
  if (rl->per_minute == 0 || source_of(sa, key, &family) < 0)
    return 1;
  if (!rl->slots) {
    rl->slots = xs2s__calloc(rl->mem, rl->nslots, sizeof(*rl->slots));
    if (!rl->slots)
      return 1;
  }
  uint64_t k0, k1;
  memcpy(&k0, rl->sipkey, 8);
  memcpy(&k1, rl->sipkey + 8, 8);
  uint8_t hk[9];
  memcpy(hk, key, 8);
  hk[8] = family;
  size_t mask = rl->nslots - 1;
  size_t base = (size_t)xs2s__siphash(k0, k1, hk, sizeof(hk)) & mask;
  xs2s__rate_entry *e = NULL, *victim = NULL;
  uint32_t victim_tokens = 0;
  for (size_t i = 0; i < XS2S__RATE_WAYS; i++) {
    xs2s__rate_entry *s = &rl->slots[(base + i) & mask];
    if (s->family == family && memcmp(s->key, key, 8) == 0) {
      e = s;
      break;
    }
    uint32_t t = s->family ? refilled(rl, s, now_ms) : UINT32_MAX;
    if (!victim || t > victim_tokens) {
      victim = s;
      victim_tokens = t;
    }
  }
  if (!e) {
    /* A new source starts full; it takes a free slot, else the fullest
     * bucket of its window (which loses the least). */
    e = victim;
    if (e->family)
      rl->evictions++;
    else
      rl->used++;
    memcpy(e->key, key, 8);
    e->family = family;
    e->tokens = rl->burst * MILLI;
    e->last = now_ms;
  } else {
    e->tokens = refilled(rl, e, now_ms);
    if (now_ms > e->last)
      e->last = now_ms;
  }
  if (e->tokens < MILLI)
    return 0;
  e->tokens -= MILLI;
  return 1;
}

/* -- Refusal log ----------------------------------------------------------- */

int xs2s__refusal_log_note(xs2s__refusal_log *l, uint64_t now_ms) {
  l->total++;
  if (l->interval_ms == 0)
    return 1;
  if (l->window_end != 0) {
    l->suppressed++;
    return 0;
  }
  l->window_end = now_ms + l->interval_ms;
  l->suppressed = 0;
  return 1;
}

uint64_t xs2s__refusal_log_due(const xs2s__refusal_log *l) {
  return l->window_end ? l->window_end : UINT64_MAX;
}

uint64_t xs2s__refusal_log_flush(xs2s__refusal_log *l, uint64_t now_ms) {
  if (l->window_end == 0 || now_ms < l->window_end)
    return 0;
  uint64_t n = l->suppressed;
  l->suppressed = 0;
  /* Refusals went on: keep summarising; a quiet window closes. */
  l->window_end = n ? now_ms + l->interval_ms : 0;
  return n;
}
