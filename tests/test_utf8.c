/* UTF-8 validation, whole and split anywhere, and XML character classes. */
#include "check.h"
#include "utf8.h"

typedef struct sample {
  const char *bytes;
  size_t len;
  int valid;
} sample;

#define S(b, v) {b, sizeof(b) - 1, v}

static const sample samples[] = {
    S("", 1),
    S("plain ASCII that is longer than eight bytes", 1),
    S("\xc2\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 1),
    S("\xed\x9f\xbf\xee\x80\x80", 1), /* around the surrogates */
    S("\xc0\xaf", 0),                 /* overlong '/' */
    S("\xc1\xbf", 0),
    S("\xe0\x80\xaf", 0),             /* overlong, 3 bytes */
    S("\xf0\x80\x80\xaf", 0),         /* overlong, 4 bytes */
    S("\xed\xa0\x80", 0),             /* U+D800 */
    S("\xed\xbf\xbf", 0),             /* U+DFFF */
    S("\xf4\x90\x80\x80", 0),         /* U+110000 */
    S("\xf5\x80\x80\x80", 0),
    S("\xff", 0),
    S("\xfe\xff", 0),
    S("\x80", 0),                     /* stray continuation */
    S("abc\xc3\x28", 0),
    S("\xe2\x82", 0),                 /* truncated: invalid as a whole */
};

static void test_whole_and_split(void) {
  for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    const sample *s = &samples[i];
    CHECK_INT(xs2s__utf8_valid(s->bytes, s->len), s->valid);
    /* Split at every point: the verdict does not change. */
    for (size_t cut = 0; cut <= s->len; cut++) {
      xs2s__utf8 st = {0, 0, 0};
      size_t a = xs2s__utf8_scan(&st, s->bytes, cut);
      int ok = a == cut;
      if (ok)
        ok = xs2s__utf8_scan(&st, s->bytes + cut, s->len - cut) ==
             s->len - cut;
      CHECK_INT(ok && st.need == 0, s->valid);
    }
  }
  /* The index of the first bad byte. */
  xs2s__utf8 st = {0, 0, 0};
  CHECK_INT(xs2s__utf8_scan(&st, "abcdefghij\xc3\x28", 12), 11);
}

static void test_xml_text(void) {
  CHECK(xs2s__xml_text_valid("tab\tnl\ncr\r \xc3\xa9", 13));
  CHECK(xs2s__xml_text_valid("", 0));
  CHECK(!xs2s__xml_text_valid("\x01", 1));
  CHECK(!xs2s__xml_text_valid("a\0b", 3));
  CHECK(!xs2s__xml_text_valid("\xef\xbf\xbe", 3)); /* U+FFFE */
  CHECK(!xs2s__xml_text_valid("\xc3", 1));
  CHECK(xs2s__xml_text_valid("\xef\xbf\xbd", 3)); /* U+FFFD */
}

static void test_ncname(void) {
  CHECK(xs2s__xml_ncname_valid("message"));
  CHECK(xs2s__xml_ncname_valid("_a-b.c1"));
  CHECK(xs2s__xml_ncname_valid("\xc3\xa9t\xc3\xa9"));
  CHECK(xs2s__xml_ncname_valid("a\xc2\xb7" "b"));
  CHECK(!xs2s__xml_ncname_valid(""));
  CHECK(!xs2s__xml_ncname_valid("db:result"));
  CHECK(!xs2s__xml_ncname_valid("1a"));
  CHECK(!xs2s__xml_ncname_valid(".a"));
  CHECK(!xs2s__xml_ncname_valid("\xc2\xb7" "a")); /* not a start char */
  CHECK(!xs2s__xml_ncname_valid("a b"));
  CHECK(!xs2s__xml_ncname_valid("a\xff"));
}

int main(void) {
  RUN(test_whole_and_split);
  RUN(test_xml_text);
  RUN(test_ncname);
  return check_finish();
}
