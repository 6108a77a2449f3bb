/*
 * session_trim.h: giving an idle session's memory back (internal, used by
 * the engine).
 */
#ifndef XS2S_SESSION_TRIM_H
#define XS2S_SESSION_TRIM_H

#include <xs2s/session.h>
#include <xs2s/tls.h>

/* Frees what an idle session can rebuild when it is used again: the
 * parser's libxml2 context and scratch memory when the stream sits
 * between stanzas (xs2s__parser_hibernate()), and the output and TLS
 * buffers while they are empty. Nothing the application sees changes.
 * Not from inside a call into @s. Returns 1 when the parser hibernated,
 * else 0. */
int xs2s__session_trim(xs2s_session *s);

/* Frees @t's ciphertext buffers while they are empty (tls.c). */
void xs2s__tls_trim(xs2s_tls *t);

#endif /* XS2S_SESSION_TRIM_H */
