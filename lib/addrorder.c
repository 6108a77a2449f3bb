/*
 * addrorder.c: RFC 8305 interleaving of address families.
 */
#include "addrorder.h"

/* Index of the next address of @family at or after @from, or @n. */
static size_t next_of(const xs2s_resolve_addr *in, size_t n, size_t from,
                      int family) {
  while (from < n && (in[from].sa.sa_family == AF_INET6) != (family == AF_INET6))
    from++;
  return from;
}

void xs2s__addr_interleave(const xs2s_resolve_addr *in, size_t n,
                           xs2s_resolve_addr *out) {
  size_t i6 = next_of(in, n, 0, AF_INET6);
  size_t i4 = next_of(in, n, 0, AF_INET);
  int want6 = 1;
  for (size_t o = 0; o < n; o++) {
    /* Take the wanted family if any is left, else the other one. */
    int take6 = want6 ? i6 < n : i4 >= n;
    if (take6) {
      out[o] = in[i6];
      i6 = next_of(in, n, i6 + 1, AF_INET6);
    } else {
      out[o] = in[i4];
      i4 = next_of(in, n, i4 + 1, AF_INET);
    }
    want6 = !take6;
  }
}
