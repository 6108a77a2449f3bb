/*
 * addrorder.h: the order of connection attempts over a host's addresses
 * (internal, pure).
 */
#ifndef XS2S_ADDRORDER_H
#define XS2S_ADDRORDER_H

#include <stddef.h>

#include <xs2s/resolve.h>

/* Writes the @n addresses of @in to @out in the order to try them: IPv6
 * first, then the families alternating, each family keeping its own order
 * (RFC 8305 section 4 with a "First Address Family Count" of one). When a
 * family runs out the rest of the other follows. @in and @out must not
 * overlap. */
void xs2s__addr_interleave(const xs2s_resolve_addr *in, size_t n,
                           xs2s_resolve_addr *out);

#endif /* XS2S_ADDRORDER_H */
