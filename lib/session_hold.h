/*
 * session_hold.h: holding stanzas back for fuller TLS records (internal,
 * used by the engine).
 *
 * A session normally encrypts and queues each stanza as xs2s_session_send()
 * returns, which makes one TLS record (and, for the engine, one write) per
 * stanza. With holding on, stanzas sent on a TLS stream stay in clear text
 * until xs2s__session_release() or until XS2S__HOLD_BYTES are waiting, so
 * a burst of stanzas becomes records of up to 16 KiB. Protocol steps of the
 * session itself are never held.
 */
#ifndef XS2S_SESSION_HOLD_H
#define XS2S_SESSION_HOLD_H

#include <xs2s/session.h>

/* Clear text held before it is encrypted anyway: one full TLS record. */
#define XS2S__HOLD_BYTES 16384u

/* Turns holding on (1) or off (0); turning it off releases. */
void xs2s__session_hold(xs2s_session *s, int on);

/* Encrypts and queues what is held. May close the session on a TLS or
 * memory failure (its callbacks run). Returns 0 or a negative code. */
int xs2s__session_release(xs2s_session *s);

/* 1 when stanzas are held (xs2s_session_want_write() does not count
 * them). */
int xs2s__session_holding(const xs2s_session *s);

/* Serialised size of the stanza the last successful xs2s_session_send()
 * wrote (what a copy kept for XEP-0198 costs against a queue bound). */
size_t xs2s__session_sent_bytes(const xs2s_session *s);

/* Receives the stanza xs2s__session_send_keep() just wrote: @len bytes of
 * clear text, written in the stream's scope (jabber:server the default
 * namespace, the "stream" and "db" prefixes bound by the header), valid
 * only during the call. */
typedef void (*xs2s__session_keep_fn)(const char *xml, size_t len,
                                      void *arg);

/* xs2s_session_send() that also shows the written bytes to @keep (NULL:
 * nobody) before they are encrypted, so a caller that must keep the
 * stanza (XEP-0198) can copy them instead of the tree. @keep runs only
 * when the stanza was written (not on a stream that failed meanwhile);
 * the call may still fail afterwards. */
int xs2s__session_send_keep(xs2s_session *s, const xs2s_stanza *stanza,
                            xs2s__session_keep_fn keep, void *arg);

#endif /* XS2S_SESSION_HOLD_H */
