/* The accept-rate limiter: token buckets per source (IPv4 address, IPv6
 * /64), refill, the bounded table and its eviction rule, and the refusal
 * log's summary windows. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "ratelimit.h"

static xs2s_mem mem;

static struct sockaddr_storage v4(const char *ip) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  sin->sin_family = AF_INET;
  CHECK(inet_pton(AF_INET, ip, &sin->sin_addr) == 1);
  return ss;
}

static struct sockaddr_storage v6(const char *ip) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  sin6->sin6_family = AF_INET6;
  CHECK(inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1);
  return ss;
}

static int take(xs2s__ratelimit *rl, struct sockaddr_storage ss,
                uint64_t now) {
  return xs2s__ratelimit_take(rl, (struct sockaddr *)&ss, now);
}

static void test_burst_and_refill(void) {
  xs2s__ratelimit rl;
  /* 5 at once, then 60 a minute: one a second. */
  xs2s__ratelimit_init(&rl, &mem, 5, 60, 64);
  CHECK_INT(xs2s__ratelimit_bytes(&rl), 0); /* nothing before first use */
  struct sockaddr_storage a = v4("192.0.2.1");
  for (int i = 0; i < 5; i++)
    CHECK_INT(take(&rl, a, 1000), 1);
  CHECK_INT(take(&rl, a, 1000), 0);
  CHECK_INT(take(&rl, a, 1999), 0); /* 0.999 of a token back */
  CHECK_INT(take(&rl, a, 2000), 1); /* one whole token */
  CHECK_INT(take(&rl, a, 2000), 0);
  /* A long pause refills to the burst, never beyond. */
  for (int i = 0; i < 5; i++)
    CHECK_INT(take(&rl, a, 1000000), 1);
  CHECK_INT(take(&rl, a, 1000000), 0);
  /* Another source has its own bucket. */
  CHECK_INT(take(&rl, v4("192.0.2.2"), 1000000), 1);
  /* The clock going back refills nothing and breaks nothing. */
  CHECK_INT(take(&rl, a, 500), 0);
  CHECK(xs2s__ratelimit_bytes(&rl) > 0);
  xs2s__ratelimit_free(&rl);
}

static void test_rate_off(void) {
  xs2s__ratelimit rl;
  xs2s__ratelimit_init(&rl, &mem, 1, 0, 64);
  for (int i = 0; i < 1000; i++)
    CHECK_INT(take(&rl, v4("192.0.2.1"), 0), 1);
  CHECK_INT(xs2s__ratelimit_bytes(&rl), 0);
  xs2s__ratelimit_free(&rl);
}

static void test_sources(void) {
  xs2s__ratelimit rl;
  xs2s__ratelimit_init(&rl, &mem, 2, 1, 64);
  /* One IPv6 /64 is one source. */
  CHECK_INT(take(&rl, v6("2001:db8:1:2::1"), 0), 1);
  CHECK_INT(take(&rl, v6("2001:db8:1:2:ffff::99"), 0), 1);
  CHECK_INT(take(&rl, v6("2001:db8:1:2:abcd::"), 0), 0);
  /* The next /64 is another. */
  CHECK_INT(take(&rl, v6("2001:db8:1:3::1"), 0), 1);
  /* An IPv4-mapped address is its IPv4 address. */
  CHECK_INT(take(&rl, v4("198.51.100.7"), 0), 1);
  CHECK_INT(take(&rl, v6("::ffff:198.51.100.7"), 0), 1);
  CHECK_INT(take(&rl, v4("198.51.100.7"), 0), 0);
  /* An IPv4 address and an IPv6 prefix with the same bytes differ. */
  CHECK_INT(take(&rl, v4("32.1.13.184"), 0), 1);  /* 20 01 0d b8 */
  CHECK_INT(take(&rl, v6("2001:db8::1"), 0), 1);
  CHECK_INT(take(&rl, v6("2001:db8::2"), 0), 1);
  CHECK_INT(take(&rl, v4("32.1.13.184"), 0), 1);
  CHECK_INT(take(&rl, v4("32.1.13.184"), 0), 0);
  /* Another family is not limited here. */
  struct sockaddr_storage un;
  memset(&un, 0, sizeof(un));
  un.ss_family = AF_UNIX;
  for (int i = 0; i < 10; i++)
    CHECK_INT(take(&rl, un, 0), 1);
  xs2s__ratelimit_free(&rl);
}

static void test_bounded_table(void) {
  xs2s__ratelimit rl;
  /* 100 sources asked for: a table of 64 entries. */
  xs2s__ratelimit_init(&rl, &mem, 2, 1, 100);
  struct sockaddr_storage victim = v4("203.0.113.9");
  CHECK_INT(take(&rl, victim, 0), 1);
  CHECK_INT(take(&rl, victim, 0), 1);
  CHECK_INT(take(&rl, victim, 0), 0); /* drained */
  size_t bytes = xs2s__ratelimit_bytes(&rl);
  CHECK_INT(bytes, 64 * sizeof(xs2s__rate_entry));
  /* 100,000 other sources, one attempt each: the table does not grow,
   * and since each of them keeps more tokens than the drained source,
   * eviction never picks the drained one: it stays refused. */
  char ip[32];
  int allowed = 0;
  for (unsigned i = 0; i < 100000; i++) {
    snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255,
             i & 255);
    allowed += take(&rl, v4(ip), 0);
  }
  CHECK_INT(allowed, 100000);
  CHECK_INT(xs2s__ratelimit_bytes(&rl), bytes);
  CHECK(rl.used <= 64);
  CHECK(rl.evictions >= 100000 - 64);
  CHECK_INT(take(&rl, victim, 0), 0);
  /* A new table size drops the table; the limits change. */
  xs2s__ratelimit_configure(&rl, 3, 1, 1000);
  CHECK_INT(xs2s__ratelimit_bytes(&rl), 0);
  CHECK_INT(take(&rl, victim, 0), 1);
  CHECK_INT(xs2s__ratelimit_bytes(&rl), 512 * sizeof(xs2s__rate_entry));
  xs2s__ratelimit_free(&rl);
}

static int fail_alloc;
static void *failing_malloc(size_t n, void *ud) {
  (void)ud;
  return fail_alloc ? NULL : malloc(n);
}
static void *failing_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return fail_alloc ? NULL : realloc(p, n);
}
static void failing_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void test_no_memory(void) {
  xs2s_mem m = {failing_malloc, failing_realloc, failing_free, NULL};
  xs2s__mem_init(&m, &m);
  xs2s__ratelimit rl;
  xs2s__ratelimit_init(&rl, &m, 1, 1, 64);
  fail_alloc = 1;
  /* Without a table the attempt is allowed (the connection limits still
   * hold); nothing is kept. */
  CHECK_INT(take(&rl, v4("192.0.2.1"), 0), 1);
  CHECK_INT(take(&rl, v4("192.0.2.1"), 0), 1);
  CHECK_INT(xs2s__ratelimit_bytes(&rl), 0);
  fail_alloc = 0;
  CHECK_INT(take(&rl, v4("192.0.2.1"), 0), 1);
  CHECK_INT(take(&rl, v4("192.0.2.1"), 0), 0);
  xs2s__ratelimit_free(&rl);
}

static void test_refusal_log(void) {
  xs2s__refusal_log l;
  memset(&l, 0, sizeof(l));
  l.interval_ms = 10000;
  CHECK(xs2s__refusal_log_due(&l) == UINT64_MAX);
  CHECK_INT(xs2s__refusal_log_note(&l, 100), 1); /* the first in full */
  int logged = 0;
  for (int i = 0; i < 9999; i++)
    logged += xs2s__refusal_log_note(&l, 200);
  CHECK_INT(logged, 0);
  CHECK(xs2s__refusal_log_due(&l) == 10100);
  CHECK(xs2s__refusal_log_flush(&l, 10099) == 0); /* early: nothing */
  CHECK(xs2s__refusal_log_flush(&l, 10100) == 9999);
  /* Still refusing: the next window is open, nothing logged in full. */
  CHECK(xs2s__refusal_log_due(&l) == 20100);
  CHECK_INT(xs2s__refusal_log_note(&l, 15000), 0);
  CHECK(xs2s__refusal_log_flush(&l, 20100) == 1);
  /* A quiet window closes; the next refusal is logged in full again. */
  CHECK(xs2s__refusal_log_flush(&l, 30100) == 0);
  CHECK(xs2s__refusal_log_due(&l) == UINT64_MAX);
  CHECK_INT(xs2s__refusal_log_note(&l, 40000), 1);
  CHECK(l.total == 10002);
  /* Interval 0: every refusal in full. */
  xs2s__refusal_log every;
  memset(&every, 0, sizeof(every));
  for (int i = 0; i < 10; i++)
    CHECK_INT(xs2s__refusal_log_note(&every, (uint64_t)i), 1);
  CHECK(xs2s__refusal_log_due(&every) == UINT64_MAX);
}

int main(void) {
  xs2s__mem_init(&mem, NULL);
  RUN(test_burst_and_refill);
  RUN(test_rate_off);
  RUN(test_sources);
  RUN(test_bounded_table);
  RUN(test_no_memory);
  RUN(test_refusal_log);
  return check_finish();
}
