/*
 * utf8.h: UTF-8 validation and XML character classes (internal).
 *
 * The stream parser checks every byte it receives with the incremental
 * scanner, so that improperly encoded input is reported as such (RFC 6120
 * puts it under unsupported-encoding) whatever libxml2 would make of it, and
 * a sequence split across two reads is judged only once it is complete.
 * The tree API checks names and text with the same rules before it stores
 * them, so that whatever it serialises is well-formed.
 */
#ifndef XS2S_UTF8_H
#define XS2S_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* State of the incremental scanner between two calls; zero it to start. */
typedef struct xs2s__utf8 {
  uint8_t need; /* continuation bytes still expected */
  uint8_t lo;   /* bounds of the next continuation byte (excludes overlong */
  uint8_t hi;   /* forms, surrogates and values above U+10FFFF) */
} xs2s__utf8;

/* Scans @len more bytes of a stream. Returns @len when they are valid so far
 * (a sequence may remain incomplete, its state is kept), otherwise the index
 * of the first byte that makes the input invalid. */
size_t xs2s__utf8_scan(xs2s__utf8 *st, const char *data, size_t len);

/* 1 when @s[0, len) is complete, valid UTF-8. */
int xs2s__utf8_valid(const char *s, size_t len);

/* 1 when @s[0, len) is valid UTF-8 made only of characters XML 1.0 allows
 * (no C0 controls other than tab, LF and CR, no U+FFFE or U+FFFF). */
int xs2s__xml_text_valid(const char *s, size_t len);

/* 1 when NUL-terminated @s is an XML Name without a colon (an NCName). */
int xs2s__xml_ncname_valid(const char *s);

#endif /* XS2S_UTF8_H */
