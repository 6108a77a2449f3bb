/* SRV rdata decoding and the RFC 2782 order, with a seeded generator. */
#include <stdlib.h>

#include "check.h"
#include "rng.h"
#include "srv.h"

static void test_dname_decode(void) {
  char out[XS2S__DNAME_MAX + 1];
  static const unsigned char good[] = "\4xmpp\7example\3com";
  CHECK_INT(xs2s__dname_decode(good, sizeof(good), out), 0);
  CHECK_STR(out, "xmpp.example.com");
  static const unsigned char root[] = {0};
  CHECK_INT(xs2s__dname_decode(root, 1, out), 0);
  CHECK_STR(out, "");
  static const unsigned char under[] = "\5_5269\4_tcp\1x";
  CHECK_INT(xs2s__dname_decode(under, sizeof(under), out), 0);
  CHECK_STR(out, "_5269._tcp.x");

  /* Truncated, trailing bytes, a compression pointer, a dot or a space
   * inside a label, and an empty input. */
  CHECK_INT(xs2s__dname_decode(good, sizeof(good) - 1, out),
            XS2S_ERR_BAD_FORMAT);
  static const unsigned char trailing[] = "\1a\0\0";
  CHECK_INT(xs2s__dname_decode(trailing, sizeof(trailing), out),
            XS2S_ERR_BAD_FORMAT);
  static const unsigned char pointer[] = {1, 'a', 0xc0, 0x0c};
  CHECK_INT(xs2s__dname_decode(pointer, sizeof(pointer), out),
            XS2S_ERR_BAD_FORMAT);
  static const unsigned char dot[] = "\3a.b";
  CHECK_INT(xs2s__dname_decode(dot, sizeof(dot), out), XS2S_ERR_BAD_FORMAT);
  static const unsigned char space[] = "\3a b";
  CHECK_INT(xs2s__dname_decode(space, sizeof(space), out),
            XS2S_ERR_BAD_FORMAT);
  CHECK_INT(xs2s__dname_decode(good, 0, out), XS2S_ERR_BAD_FORMAT);

  /* 253 characters is the longest name; 255 is too long. */
  unsigned char longest[260];
  size_t n = 0;
  for (int l = 0; l < 4; l++) {
    size_t len = l < 3 ? 63 : 61;
    longest[n++] = (unsigned char)len;
    memset(longest + n, 'a', len);
    n += len;
  }
  longest[n++] = 0;
  CHECK_INT(xs2s__dname_decode(longest, n, out), 0);
  CHECK_INT(strlen(out), 253);
  longest[n - 1] = 1;
  longest[n] = 'a';
  longest[n + 1] = 0;
  CHECK_INT(xs2s__dname_decode(longest, n + 2, out), XS2S_ERR_BAD_FORMAT);
}

static void test_host_name_len(void) {
  CHECK_INT(xs2s__host_name_len("xmpp.example.org"), 16);
  CHECK_INT(xs2s__host_name_len("xmpp.example.org."), 16);
  CHECK_INT(xs2s__host_name_len("_xmpp-server._tcp.x"), 19);
  CHECK_INT(xs2s__host_name_len("localhost"), 9);
  const char *bad[] = {"", ".", "..", "a..b", ".a", "a b", "a/b", "a.b..",
                       "caf\xc3\xa9.example"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(xs2s__host_name_len(bad[i]), 0);
  char label[70];
  memset(label, 'a', 63);
  label[63] = '\0';
  CHECK_INT(xs2s__host_name_len(label), 63);
  label[63] = 'a';
  label[64] = '\0';
  CHECK_INT(xs2s__host_name_len(label), 0);
}

static void test_srv_decode(void) {
  static const unsigned char rd[] = "\0\5\0\12\24\225\4xmpp\1x";
  xs2s__srv_rdata srv;
  CHECK_INT(xs2s__srv_decode(rd, sizeof(rd), &srv), 0);
  CHECK_INT(srv.priority, 5);
  CHECK_INT(srv.weight, 10);
  CHECK_INT(srv.port, 5269);
  CHECK_STR(srv.target, "xmpp.x");
  CHECK_INT(xs2s__srv_decode(rd, 6, &srv), XS2S_ERR_BAD_FORMAT);
}

static int is_permutation(const size_t *order, size_t n) {
  int seen[64] = {0};
  for (size_t i = 0; i < n; i++) {
    if (order[i] >= n || seen[order[i]])
      return 0;
    seen[order[i]] = 1;
  }
  return 1;
}

/* The gmail.com-style set: one record at priority 5, four at 20, all with
 * weight 0. The first is always first; the four follow in every order. */
static void test_google_set(void) {
  const xs2s__srv_key keys[] = {{20, 0}, {20, 0}, {5, 0}, {20, 0}, {20, 0}};
  uint64_t seed = 1;
  int first_at_20[5] = {0};
  for (int draw = 0; draw < 4000; draw++) {
    size_t order[5];
    CHECK_INT(xs2s__srv_order(keys, 5, test_rng, &seed, order), 0);
    CHECK(is_permutation(order, 5));
    CHECK_INT(order[0], 2);
    first_at_20[order[1]]++;
  }
  /* Equal weights: each of the four leads the priority-20 group about a
   * quarter of the time. */
  for (size_t i = 0; i < 5; i++) {
    if (i == 2)
      continue;
    CHECK(first_at_20[i] > 800 && first_at_20[i] < 1200);
  }
}

static void test_priority_ascending(void) {
  const xs2s__srv_key keys[] = {{30, 5},  {10, 0}, {20, 1}, {10, 9},
                                {0, 100}, {65535, 1}, {20, 0}};
  size_t n = sizeof(keys) / sizeof(keys[0]);
  uint64_t seed = 7;
  for (int draw = 0; draw < 100; draw++) {
    size_t order[7];
    CHECK_INT(xs2s__srv_order(keys, n, test_rng, &seed, order), 0);
    CHECK(is_permutation(order, n));
    for (size_t i = 1; i < n; i++)
      CHECK(keys[order[i - 1]].priority <= keys[order[i]].priority);
  }
}

/* Weights 60/30/10: first picks in proportion, within two points over
 * 10,000 draws. Prints the measured shares. */
static void test_weight_distribution(void) {
  const xs2s__srv_key keys[] = {{10, 60}, {10, 30}, {10, 10}};
  uint64_t seed = 20260101;
  int first[3] = {0};
  const int draws = 10000;
  for (int draw = 0; draw < draws; draw++) {
    size_t order[3];
    xs2s__srv_order(keys, 3, test_rng, &seed, order);
    first[order[0]]++;
  }
  printf("first picks over %d draws: w60 %.2f%%, w30 %.2f%%, w10 %.2f%%\n",
         draws, first[0] * 100.0 / draws, first[1] * 100.0 / draws,
         first[2] * 100.0 / draws);
  CHECK(abs(first[0] - 6000) <= 200);
  CHECK(abs(first[1] - 3000) <= 200);
  CHECK(abs(first[2] - 1000) <= 200);
}

/* Weight 0 next to weight 10: per the RFC the zero-weight records sit at
 * the front of the list and win only when the random number is 0, i.e. 1
 * time in 11; they are never dropped. */
static void test_zero_weight(void) {
  const xs2s__srv_key keys[] = {{1, 0}, {1, 10}, {1, 0}};
  uint64_t seed = 99;
  int first[3] = {0};
  const int draws = 11000;
  for (int draw = 0; draw < draws; draw++) {
    size_t order[3];
    xs2s__srv_order(keys, 3, test_rng, &seed, order);
    CHECK(is_permutation(order, 3));
    first[order[0]]++;
  }
  CHECK(abs(first[1] - 10000) <= 250);
  CHECK(first[0] > 300 && first[2] > 300);
  CHECK_INT(first[0] + first[1] + first[2], draws);
}

static uint32_t constant(void *ud) {
  return *(uint32_t *)ud;
}

static void test_extremes(void) {
  /* A generator stuck at 0 or at the maximum still yields an order. */
  const xs2s__srv_key keys[] = {{0, 65535}, {0, 65535}, {0, 0}, {1, 1}};
  for (int i = 0; i < 2; i++) {
    uint32_t value = i ? UINT32_MAX : 0;
    size_t order[4];
    CHECK_INT(xs2s__srv_order(keys, 4, constant, &value, order), 0);
    CHECK(is_permutation(order, 4));
    CHECK_INT(order[3], 3);
  }
  /* Nothing to order. */
  uint32_t zero = 0;
  CHECK_INT(xs2s__srv_order(keys, 0, constant, &zero, NULL), 0);
  /* Too many records. */
  static xs2s__srv_key many[XS2S__SRV_ORDER_MAX + 1];
  static size_t order[XS2S__SRV_ORDER_MAX + 1];
  CHECK_INT(xs2s__srv_order(many, XS2S__SRV_ORDER_MAX + 1, constant, &zero,
                            order),
            XS2S_ERR_LIMIT);
  CHECK_INT(xs2s__srv_order(many, XS2S__SRV_ORDER_MAX, constant, &zero, order),
            0);
}

static void test_reproducible(void) {
  const xs2s__srv_key keys[] = {{1, 5}, {1, 5}, {1, 5}, {2, 0}, {2, 3}};
  uint64_t a = 42, b = 42;
  for (int draw = 0; draw < 50; draw++) {
    size_t oa[5], ob[5];
    xs2s__srv_order(keys, 5, test_rng, &a, oa);
    xs2s__srv_order(keys, 5, test_rng, &b, ob);
    CHECK(memcmp(oa, ob, sizeof(oa)) == 0);
  }
}

int main(void) {
  RUN(test_dname_decode);
  RUN(test_host_name_len);
  RUN(test_srv_decode);
  RUN(test_google_set);
  RUN(test_priority_ascending);
  RUN(test_weight_distribution);
  RUN(test_zero_weight);
  RUN(test_extremes);
  RUN(test_reproducible);
  return check_finish();
}
