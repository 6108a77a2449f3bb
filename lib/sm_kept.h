/*
 * sm_kept.h: a written stanza kept as the bytes the session wrote
 * (XEP-0198, internal).
 *
 * The unacknowledged list of a stream needs each stanza back only when it
 * bounces or is written again after a resumption, both rare. So the
 * engine keeps the serialised form the session produced anyway (one
 * memcpy) and builds the tree again only then. Those bytes were written in
 * the stream's scope: the default namespace is jabber:server and the
 * "stream" and "db" prefixes are declared by the stream header, not by
 * the stanza; parsing puts them back in that scope.
 */
#ifndef XS2S_SM_KEPT_H
#define XS2S_SM_KEPT_H

#include <stddef.h>

#include <xs2s/stanza.h>

#include "queue.h"

/* Parses @xml (@len bytes, as a session wrote it) into a new tree using
 * allocator @mem, in the stream's scope (the "db" and "stream" prefixes
 * the serialiser took from it are not left on the tree). No size or
 * attribute limit applies; depth and libxml2's own caps do (199 levels,
 * 10 MB of text in one node), which no peer would accept either. Returns
 * the tree, or NULL with the error code in *@err (XS2S_ERR_NOMEM;
 * XS2S_ERR_LIMIT beyond those caps; a parse error if the bytes are not a
 * session's). */
xs2s_stanza *xs2s__sm_kept_parse(const xs2s_mem *mem, const char *xml,
                                 size_t len, int *err);

/* Gives an entry kept as bytes its tree again (e->stanza; e->xml is then
 * NULL). Does nothing to an entry that has its tree. Returns 0 or the
 * error of xs2s__sm_kept_parse(); the entry is then unchanged. */
int xs2s__sm_kept_thaw(const xs2s_mem *mem, xs2s__qentry *e);

#endif /* XS2S_SM_KEPT_H */
