/*
 * stanzas.h: small stanza helpers the gateway's parts share.
 */
#ifndef GW_STANZAS_H
#define GW_STANZAS_H

#include <stddef.h>

#include <xs2s/xs2s.h>

/* The domain of a JID (localpart@domain/resource) in normal form (ASCII
 * lower case, no trailing dot) into @out. Returns 0, or -1 for an empty
 * part or a domain that does not fit in @size. Only the shape is checked:
 * callers compare the result with domains they know. */
int gw_jid_domain(const char *jid, char *out, size_t size);

#endif /* GW_STANZAS_H */
