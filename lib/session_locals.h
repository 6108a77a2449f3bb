/*
 * session_locals.h: a session that shares its owner's set of local domains
 * (internal, used by the engine).
 *
 * A session copies the local domains it is given and compares a domain
 * with each of them. The engine has them already, normalised, in a hash
 * table: its sessions are given only the default one (the initiating
 * 'from', the receiving fallback 'to') and ask the engine for the rest, so
 * that an engine with many domains neither copies them into every stream
 * nor scans them on every check.
 */
#ifndef XS2S_SESSION_LOCALS_H
#define XS2S_SESSION_LOCALS_H

#include <xs2s/session.h>

/* From now on @s asks @is_local(domain, @user_data) (1: ours, 0: not)
 * whether a domain is one of its local domains; @user_data must outlive
 * @s. Call right after xs2s_session_new(). */
void xs2s__session_share_locals(xs2s_session *s,
                                int (*is_local)(const char *domain,
                                                void *user_data),
                                void *user_data);

#endif /* XS2S_SESSION_LOCALS_H */
