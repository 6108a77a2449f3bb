/*
 * fuzz_check.h: checks the fuzz targets share: whatever the parser accepts
 * must serialise to XML that parses back to the same tree.
 */
#ifndef XS2S_FUZZ_CHECK_H
#define XS2S_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xs2s/xs2s.h>

/* Dies loudly: the fuzzer records the input. */
#define FUZZ_ASSERT(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The standalone XML of @s, malloc'ed; *@len receives its length. */
static inline char *fuzz_serialize(const xs2s_stanza *s, size_t *len) {
  size_t need = 0;
  FUZZ_ASSERT(xs2s_stanza_serialize(s, NULL, 0, &need) ==
              XS2S_ERR_BUFFER_TOO_SMALL);
  char *xml = malloc(need + 1);
  FUZZ_ASSERT(xml != NULL);
  FUZZ_ASSERT(xs2s_stanza_serialize(s, xml, need + 1, len) == 0);
  FUZZ_ASSERT(*len == need && strlen(xml) == need);
  return xml;
}

/* @s serialises, parses back (unless a limit is hit: declarations added
 * for a standalone document count as attributes) to a tree that
 * serialises the same, and copies faithfully. */
static inline void fuzz_check_round_trip(const xs2s_stanza *s) {
  size_t len = 0, len2 = 0;
  char *xml = fuzz_serialize(s, &len);
  if (xs2s_stanza_type(s) == XS2S_NODE_ELEMENT) {
    int err = 0;
    xs2s_stanza *back = xs2s_stanza_parse(xml, len, &err);
    if (!back && err != XS2S_ERR_LIMIT)
      fprintf(stderr, "does not parse back (%s): %s\n", xs2s_error_name(err),
              xml);
    FUZZ_ASSERT(back != NULL || err == XS2S_ERR_LIMIT);
    if (back) {
      char *again = fuzz_serialize(back, &len2);
      FUZZ_ASSERT(len2 == len && memcmp(xml, again, len) == 0);
      free(again);
      xs2s_stanza_free(back);
    }
  }
  xs2s_stanza *copy = xs2s_stanza_copy(s);
  FUZZ_ASSERT(copy != NULL);
  char *copied = fuzz_serialize(copy, &len2);
  FUZZ_ASSERT(len2 == len && memcmp(xml, copied, len) == 0);
  free(copied);
  xs2s_stanza_free(copy);
  free(xml);
}

#endif /* XS2S_FUZZ_CHECK_H */
