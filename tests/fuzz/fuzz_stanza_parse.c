/*
 * fuzz_stanza_parse.c: libFuzzer target for xs2s_stanza_parse(): what
 * parses must round-trip, copy and answer lookups.
 */
#include <stdint.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int err = 1;
  xs2s_stanza *s = xs2s_stanza_parse((const char *)data, size, &err);
  if (!s) {
    FUZZ_ASSERT(err < 0);
    return 0;
  }
  FUZZ_ASSERT(err == 0);
  fuzz_check_round_trip(s);
  for (xs2s_stanza *c = xs2s_stanza_first_child(s); c; c = xs2s_stanza_next(c))
    FUZZ_ASSERT(xs2s_stanza_parent(c) == s);
  for (size_t i = 0; i < xs2s_stanza_attr_count(s); i++) {
    const char *name, *ns, *value;
    FUZZ_ASSERT(xs2s_stanza_attr_at(s, i, &name, &ns, &value) == 0);
    FUZZ_ASSERT(xs2s_stanza_attr_ns(s, name, ns) != NULL);
  }
  FUZZ_ASSERT(xs2s_stanza_text(s) != NULL);
  xs2s_stanza_free(s);
  return 0;
}
