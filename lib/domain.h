/*
 * domain.h: checking and normalising domain names (internal).
 *
 * Every domain the engine compares (local domains, static routes, privacy
 * lists, stream 'from'/'to') goes through xs2s__domain_normalize() first,
 * so that comparisons are plain byte comparisons.
 */
#ifndef XS2S_DOMAIN_H
#define XS2S_DOMAIN_H

#include <stddef.h>

/* Longest domainpart in bytes (RFC 7622 section 3.2). */
#define XS2S__DOMAIN_MAX 1023

/*
 * Checks the basics of an RFC 7622 domainpart and writes its normal form:
 *  - an IPv6 literal in brackets, written in RFC 5952 form ("[2001:db8::1]");
 *  - otherwise dot-separated labels of ASCII letters, digits and hyphens
 *    (no hyphen first or last, at most 63 bytes) or of UTF-8 characters
 *    (internationalised labels are checked as UTF-8 only, not against the
 *    IDNA tables); ASCII letters are lower-cased and one trailing dot is
 *    dropped (RFC 7622 section 3.2).
 * @out receives the NUL-terminated result (XS2S__DOMAIN_MAX + 1 bytes).
 * Returns its length, or XS2S_ERR_INVALID_ARGUMENT.
 */
int xs2s__domain_normalize(const char *in, size_t len,
                           char out[XS2S__DOMAIN_MAX + 1]);

#endif /* XS2S_DOMAIN_H */
