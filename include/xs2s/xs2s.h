/*
 * xs2s - XMPP server-to-server federation library
 * xs2s.h: the whole public API in one include.
 *
 *   #include <xs2s/xs2s.h>
 *   cc prog.c $(pkg-config --cflags --libs xs2s)
 *
 * Thread-safety: objects are not shared between threads. Each xs2s object
 * (parser, stanza, session, context) must be used by one thread at a time;
 * distinct objects may be used from distinct threads concurrently. Functions
 * that take no object (xs2s_strerror(), the condition names,
 * xs2s_dialback_key()) are thread-safe.
 */
#ifndef XS2S_XS2S_H
#define XS2S_XS2S_H

#include <xs2s/common.h>
#include <xs2s/condition.h>
#include <xs2s/tls.h>
#include <xs2s/resolve.h>
#include <xs2s/stanza.h>
#include <xs2s/parser.h>
#include <xs2s/dialback.h>
#include <xs2s/session.h>

#endif /* XS2S_XS2S_H */
