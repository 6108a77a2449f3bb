/*
 * domain.h: checking and normalising domain names (internal).
 *
 * Every domain xs2s compares (local domains, static routes, privacy lists,
 * stream 'from'/'to', dialback pairs, certificate names) goes through
 * xs2s__domain_normalize(), so that comparisons are plain byte comparisons
 * and a U-label in one place meets its A-label in another.
 */
#ifndef XS2S_DOMAIN_H
#define XS2S_DOMAIN_H

#include <stddef.h>

/* Longest domainpart in bytes (RFC 7622 section 3.2). */
#define XS2S__DOMAIN_MAX 1023
/* Longest DNS name in text form (RFC 1035 section 2.3.4): the most a
 * certificate can name. */
#define XS2S__DNS_NAME_MAX 253

/*
 * Checks an RFC 7622 domainpart and writes its canonical form:
 *  - an IPv6 literal in brackets, written in RFC 5952 form ("[2001:db8::1]");
 *  - otherwise one trailing dot is dropped (RFC 7622 section 3.2), U-labels
 *    become A-labels (IDNA2008 with the UTS #46 mapping, which also folds
 *    case), ASCII is lower-cased, and every label must then be letters,
 *    digits and hyphens, 1..63 bytes, no hyphen first or last. An IPv4
 *    literal passes as it is.
 * @out receives the NUL-terminated result (XS2S__DOMAIN_MAX + 1 bytes).
 * Returns its length, or XS2S_ERR_INVALID_ARGUMENT.
 */
int xs2s__domain_normalize(const char *in, size_t len,
                           char out[XS2S__DOMAIN_MAX + 1]);

/* xs2s__domain_normalize() of the NUL-terminated @in, restricted to names
 * a certificate can carry (no IP literal, at most XS2S__DNS_NAME_MAX).
 * Returns 0 or XS2S_ERR_INVALID_ARGUMENT. */
int xs2s__domain_normalize_host(const char *in,
                                char out[XS2S__DOMAIN_MAX + 1]);

/* Whether @a and @b have the same canonical form (0 when either is not a
 * valid domain, or NULL). */
int xs2s__domain_equal(const char *a, const char *b);

#endif /* XS2S_DOMAIN_H */
