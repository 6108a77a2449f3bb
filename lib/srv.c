/*
 * srv.c: SRV rdata decoding and RFC 2782 ordering.
 */
#include "srv.h"

#include <string.h>

static int is_host_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

size_t xs2s__host_name_len(const char *name) {
  size_t len = strlen(name);
  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0 || len > XS2S__DNAME_MAX)
    return 0;
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    if (name[i] == '.') {
      if (label == 0)
        return 0;
      label = 0;
    } else if (!is_host_char((unsigned char)name[i]) || ++label > 63) {
      return 0;
    }
  }
  return label ? len : 0;
}

int xs2s__dname_decode(const unsigned char *p, size_t len,
                       char out[XS2S__DNAME_MAX + 1]) {
  size_t in = 0, o = 0;
  for (;;) {
    if (in >= len)
      return XS2S_ERR_BAD_FORMAT;
    size_t label = p[in++];
    if (label == 0)
      break;
    /* 0xC0 would be a compression pointer, 0x40 an extended label type:
     * neither belongs in rdata as libunbound hands it over. */
    if (label > 63 || label > len - in)
      return XS2S_ERR_BAD_FORMAT;
    if (o + (o > 0) + label > XS2S__DNAME_MAX)
      return XS2S_ERR_BAD_FORMAT;
    if (o > 0)
      out[o++] = '.';
    for (size_t i = 0; i < label; i++) {
      if (!is_host_char(p[in + i]))
        return XS2S_ERR_BAD_FORMAT;
      out[o++] = (char)p[in + i];
    }
    in += label;
  }
  if (in != len)
    return XS2S_ERR_BAD_FORMAT;
  out[o] = '\0';
  return 0;
}

static uint16_t get16(const unsigned char *p) {
  return (uint16_t)((p[0] << 8) | p[1]);
}

int xs2s__srv_decode(const unsigned char *p, size_t len,
                     xs2s__srv_rdata *out) {
  if (len < 7)
    return XS2S_ERR_BAD_FORMAT;
  out->priority = get16(p);
  out->weight = get16(p + 2);
  out->port = get16(p + 4);
  return xs2s__dname_decode(p + 6, len - 6, out->target);
}

/* Moves idx[from] to idx[to] (to <= from), shifting the ones between up by
 * one so that their relative order is kept. */
static void move_back(size_t *idx, size_t to, size_t from) {
  size_t v = idx[from];
  memmove(&idx[to + 1], &idx[to], (from - to) * sizeof(*idx));
  idx[to] = v;
}

/* A uniform number in [0, bound] from 32 random bits. Multiply-shift needs
 * no retry loop, so a constant generator (as in fuzzing) cannot stall it;
 * the bias is below bound / 2^32. */
static uint64_t uniform(xs2s__random_fn rnd, void *ud, uint64_t bound) {
  return ((uint64_t)rnd(ud) * (bound + 1)) >> 32;
}

/* RFC 2782 selection inside one priority. The RFC leaves the arrangement
 * of the records free ("any order") except that zero-weight records come
 * first: a shuffle makes records of equal weight (zero included) equally
 * likely to go first. Then, repeatedly, a number in [0, sum of weights]
 * picks the first record whose running weight sum reaches it. */
static void weighted_order(const xs2s__srv_key *keys, size_t *idx, size_t n,
                           xs2s__random_fn rnd, void *ud) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)uniform(rnd, ud, i - 1);
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
  size_t zeros = 0;
  for (size_t i = 0; i < n; i++)
    if (keys[idx[i]].weight == 0)
      move_back(idx, zeros++, i);

  for (size_t pos = 0; pos + 1 < n; pos++) {
    uint64_t sum = 0;
    for (size_t i = pos; i < n; i++)
      sum += keys[idx[i]].weight;
    uint64_t pick = uniform(rnd, ud, sum);
    size_t k = pos;
    uint64_t running = keys[idx[k]].weight;
    while (running < pick)
      running += keys[idx[++k]].weight;
    move_back(idx, pos, k);
  }
}

int xs2s__srv_order(const xs2s__srv_key *keys, size_t n, xs2s__random_fn rnd,
                    void *rnd_user_data, size_t *order) {
  if (n > XS2S__SRV_ORDER_MAX)
    return XS2S_ERR_LIMIT;
  for (size_t i = 0; i < n; i++) {
    /* Insertion sort: stable, and the sets are small. */
    size_t j = i;
    while (j > 0 && keys[order[j - 1]].priority > keys[i].priority) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  size_t end;
  for (size_t start = 0; start < n; start = end) {
    end = start + 1;
    while (end < n && keys[order[end]].priority == keys[order[start]].priority)
      end++;
    weighted_order(keys, order + start, end - start, rnd, rnd_user_data);
  }
  return 0;
}
