/* RFC 8305 interleaving of address families. */
#include <arpa/inet.h>

#include "addrorder.h"
#include "check.h"

static xs2s_resolve_addr v4(int n) {
  xs2s_resolve_addr a;
  memset(&a, 0, sizeof(a));
  a.in.sin_family = AF_INET;
  a.in.sin_addr.s_addr = htonl(0xc0000200u + (unsigned)n); /* 192.0.2.n */
  return a;
}

static xs2s_resolve_addr v6(int n) {
  xs2s_resolve_addr a;
  memset(&a, 0, sizeof(a));
  a.in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::", &a.in6.sin6_addr);
  a.in6.sin6_addr.s6_addr[15] = (unsigned char)n;
  return a;
}

/* "6:1 4:2 ..." for the addresses, to compare orders as text. */
static const char *describe(const xs2s_resolve_addr *a, size_t n) {
  static char buf[256];
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int v6 = a[i].sa.sa_family == AF_INET6;
    int last = v6 ? a[i].in6.sin6_addr.s6_addr[15]
                   : (int)(ntohl(a[i].in.sin_addr.s_addr) & 0xff);
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d:%d", i ? " " : "",
                          v6 ? 6 : 4, last);
  }
  return buf;
}

static void test_interleave(void) {
  xs2s_resolve_addr in[6] = {v4(1), v4(2), v4(3), v6(1), v6(2), v4(4)};
  xs2s_resolve_addr out[6];
  xs2s__addr_interleave(in, 6, out);
  CHECK_STR(describe(out, 6), "6:1 4:1 6:2 4:2 4:3 4:4");

  xs2s_resolve_addr only4[2] = {v4(7), v4(8)};
  xs2s__addr_interleave(only4, 2, out);
  CHECK_STR(describe(out, 2), "4:7 4:8");

  xs2s_resolve_addr only6[3] = {v6(3), v6(1), v6(2)};
  xs2s__addr_interleave(only6, 3, out);
  CHECK_STR(describe(out, 3), "6:3 6:1 6:2");

  xs2s_resolve_addr more6[5] = {v6(1), v6(2), v6(3), v4(1), v6(4)};
  xs2s__addr_interleave(more6, 5, out);
  CHECK_STR(describe(out, 5), "6:1 4:1 6:2 6:3 6:4");

  xs2s__addr_interleave(in, 0, out);
}

int main(void) {
  RUN(test_interleave);
  return check_finish();
}
