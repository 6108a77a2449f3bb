/*
 * srv.h: SRV records (RFC 2782) without any I/O (internal).
 *
 * Decoding of SRV rdata as libunbound hands it over (wire format, names
 * uncompressed), and the order in which a set of records is to be tried:
 * ascending priority, and inside one priority the RFC's weighted random
 * selection, with the random numbers supplied by the caller so that tests
 * and fuzzing are deterministic.
 */
#ifndef XS2S_SRV_H
#define XS2S_SRV_H

#include <stddef.h>
#include <stdint.h>

#include <xs2s/common.h>

/* Longest host name in presentation form, without the trailing dot. */
#define XS2S__DNAME_MAX 253

/* A uniform 32-bit random number. */
typedef uint32_t (*xs2s__random_fn)(void *user_data);

/* What the ordering needs of one record. */
typedef struct xs2s__srv_key {
  uint16_t priority;
  uint16_t weight;
} xs2s__srv_key;

/* One decoded SRV record. */
typedef struct xs2s__srv_rdata {
  uint16_t priority;
  uint16_t weight;
  uint16_t port;
  /* Target in presentation form without the trailing dot; "" for the
   * root name ".", which means "no service". */
  char target[XS2S__DNAME_MAX + 1];
} xs2s__srv_rdata;

/* Length of @name without one trailing dot when it is a host name: labels
 * of 1..63 letters, digits, '-' and '_', at most XS2S__DNAME_MAX in all;
 * 0 otherwise. */
size_t xs2s__host_name_len(const char *name);

/* Decodes a wire-format domain name that fills exactly @len bytes at @p
 * (no compression) into presentation form without the trailing dot ("" for
 * the root). Only host-name characters (letters, digits, '-', '_') are
 * accepted, so the text can be used as a name again without escaping.
 * Returns 0 or XS2S_ERR_BAD_FORMAT. */
int xs2s__dname_decode(const unsigned char *p, size_t len,
                       char out[XS2S__DNAME_MAX + 1]);

/* Decodes one SRV rdata of @len bytes. Returns 0 or XS2S_ERR_BAD_FORMAT. */
int xs2s__srv_decode(const unsigned char *p, size_t len,
                     xs2s__srv_rdata *out);

/* Fills @order with the indices 0..n-1 of @keys in the order RFC 2782 says
 * to try them: ascending priority; inside a priority a random arrangement
 * with zero weights first, then weighted random selection. The result
 * depends only on @keys and the numbers @rnd returns, so a seeded @rnd
 * makes it reproducible. Returns 0 or XS2S_ERR_LIMIT when @n exceeds
 * XS2S__SRV_ORDER_MAX. */
int xs2s__srv_order(const xs2s__srv_key *keys, size_t n, xs2s__random_fn rnd,
                    void *rnd_user_data, size_t *order);

/* Most records xs2s__srv_order() takes. */
#define XS2S__SRV_ORDER_MAX 2048u

#endif /* XS2S_SRV_H */
