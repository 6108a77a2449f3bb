/* Error codes: every code has a distinct name and a description. */
#include <xs2s/xs2s.h>

#include "check.h"

static const int all_codes[] = {
#define CODE_(name, value, text) value,
    XS2S_ERROR_LIST(CODE_)
#undef CODE_
};
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void test_codes_are_negative_and_distinct(void) {
  for (size_t i = 0; i < NCODES; i++) {
    CHECK(all_codes[i] < 0);
    for (size_t j = i + 1; j < NCODES; j++)
      CHECK(all_codes[i] != all_codes[j]);
  }
}

static void test_names_and_texts(void) {
  CHECK_STR(xs2s_error_name(XS2S_ERR_NOMEM), "XS2S_ERR_NOMEM");
  CHECK_STR(xs2s_strerror(XS2S_ERR_NOMEM), "out of memory");
  CHECK_STR(xs2s_strerror(0), "success");
  for (size_t i = 0; i < NCODES; i++) {
    const char *name = xs2s_error_name(all_codes[i]);
    CHECK(name && strncmp(name, "XS2S_ERR_", 9) == 0);
    CHECK(strcmp(xs2s_strerror(all_codes[i]), "unknown error") != 0);
  }
}

static void test_unknown_code(void) {
  CHECK(xs2s_error_name(-9999) == NULL);
  CHECK_STR(xs2s_strerror(-9999), "unknown error");
  CHECK_STR(xs2s_strerror(42), "unknown error");
}

static void test_version(void) {
  CHECK_STR(xs2s_version(), XS2S_VERSION_STRING);
  CHECK(XS2S_VERSION_NUM ==
        ((XS2S_VERSION_MAJOR << 16) | (XS2S_VERSION_MINOR << 8) |
         XS2S_VERSION_PATCH));
}

int main(void) {
  RUN(test_codes_are_negative_and_distinct);
  RUN(test_names_and_texts);
  RUN(test_unknown_code);
  RUN(test_version);
  return check_finish();
}
