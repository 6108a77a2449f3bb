/*
 * resolve_result.c: copies of resolution results, and the names of the
 * resolver's enums.
 */
#include <xs2s/resolve.h>

#include <stdalign.h>
#include <stddef.h>

#include "alloc.h"

/* A copy is one block: this header, then the candidates, addresses, TLSA
 * records, and the bytes of every string and TLSA datum. */
typedef struct result_copy {
  xs2s_mem mem;
  xs2s_resolve_result result;
} result_copy;

static size_t round_up(size_t n) {
  size_t a = alignof(max_align_t);
  return (n + a - 1) / a * a;
}

static size_t str_size(const char *s) {
  return s ? strlen(s) + 1 : 0;
}

/* Bytes of the variable part, laid out as copy_into() writes it. */
static size_t copy_size(const xs2s_resolve_result *res) {
  size_t addrs = 0, tlsa = 0, bytes = str_size(res->domain) +
                                       str_size(res->why_bogus);
  for (size_t i = 0; i < res->ncandidates; i++) {
    const xs2s_resolve_candidate *c = &res->candidates[i];
    addrs += c->naddrs;
    tlsa += c->ntlsa;
    bytes += str_size(c->host);
    for (size_t j = 0; j < c->ntlsa; j++)
      bytes += c->tlsa[j].len;
  }
  return round_up(res->ncandidates * sizeof(xs2s_resolve_candidate)) +
         round_up(addrs * sizeof(xs2s_resolve_addr)) +
         round_up(tlsa * sizeof(xs2s_resolve_tlsa)) + bytes;
}

static char *put_str(char **bytes, const char *s) {
  if (!s)
    return NULL;
  char *d = *bytes;
  size_t n = strlen(s) + 1;
  memcpy(d, s, n);
  *bytes += n;
  return d;
}

static void copy_into(xs2s_resolve_result *dst, const xs2s_resolve_result *src,
                      char *block) {
  xs2s_resolve_candidate *cands = (xs2s_resolve_candidate *)block;
  block += round_up(src->ncandidates * sizeof(*cands));
  size_t naddrs = 0, ntlsa = 0;
  for (size_t i = 0; i < src->ncandidates; i++) {
    naddrs += src->candidates[i].naddrs;
    ntlsa += src->candidates[i].ntlsa;
  }
  xs2s_resolve_addr *addrs = (xs2s_resolve_addr *)block;
  block += round_up(naddrs * sizeof(*addrs));
  xs2s_resolve_tlsa *tlsa = (xs2s_resolve_tlsa *)block;
  block += round_up(ntlsa * sizeof(*tlsa));

  *dst = *src;
  dst->domain = put_str(&block, src->domain);
  dst->why_bogus = put_str(&block, src->why_bogus);
  dst->candidates = src->ncandidates ? cands : NULL;
  for (size_t i = 0; i < src->ncandidates; i++) {
    const xs2s_resolve_candidate *c = &src->candidates[i];
    cands[i] = *c;
    cands[i].host = put_str(&block, c->host);
    cands[i].addrs = c->naddrs ? addrs : NULL;
    if (c->naddrs)
      memcpy(addrs, c->addrs, c->naddrs * sizeof(*addrs));
    addrs += c->naddrs;
    cands[i].tlsa = c->ntlsa ? tlsa : NULL;
    for (size_t j = 0; j < c->ntlsa; j++) {
      tlsa[j] = c->tlsa[j];
      tlsa[j].data = (unsigned char *)block;
      if (c->tlsa[j].len)
        memcpy(block, c->tlsa[j].data, c->tlsa[j].len);
      block += c->tlsa[j].len;
    }
    tlsa += c->ntlsa;
  }
}

int xs2s_resolve_result_copy(const xs2s_resolve_result *result,
                             const xs2s_mem *mem, xs2s_resolve_result **out) {
  if (!result || !out)
    return XS2S_ERR_INVALID_ARGUMENT;
  *out = NULL;
  xs2s_mem m;
  xs2s__mem_init(&m, mem);
  size_t head = round_up(sizeof(result_copy));
  result_copy *c = xs2s__malloc(&m, head + copy_size(result));
  if (!c)
    return XS2S_ERR_NOMEM;
  c->mem = m;
  copy_into(&c->result, result, (char *)c + head);
  *out = &c->result;
  return 0;
}

void xs2s_resolve_result_free(xs2s_resolve_result *result) {
  if (!result)
    return;
  result_copy *c =
      (result_copy *)((char *)result - offsetof(result_copy, result));
  xs2s_mem m = c->mem;
  xs2s__free(&m, c);
}

const char *xs2s_dnssec_name(xs2s_dnssec status) {
  switch (status) {
  case XS2S_DNSSEC_INSECURE:
    return "insecure";
  case XS2S_DNSSEC_SECURE:
    return "secure";
  case XS2S_DNSSEC_BOGUS:
    return "bogus";
  }
  return NULL;
}

const char *xs2s_resolve_source_name(xs2s_resolve_source source) {
  switch (source) {
  case XS2S_RESOLVE_SOURCE_NONE:
    return "none";
  case XS2S_RESOLVE_SOURCE_STATIC:
    return "static";
  case XS2S_RESOLVE_SOURCE_SRV:
    return "srv";
  case XS2S_RESOLVE_SOURCE_FALLBACK:
    return "fallback";
  }
  return NULL;
}

const char *xs2s_resolve_tls_name(xs2s_resolve_tls tls) {
  switch (tls) {
  case XS2S_RESOLVE_TLS_STARTTLS:
    return "starttls";
  case XS2S_RESOLVE_TLS_DIRECT:
    return "direct";
  }
  return NULL;
}
