/*
 * session_prefetch.h: work a session can do ahead, while its peer is busy
 * (internal, used by the engine).
 */
#ifndef XS2S_SESSION_PREFETCH_H
#define XS2S_SESSION_PREFETCH_H

#include <xs2s/session.h>

/* Once TLS is up on an initiating stream whose peer certificate will be
 * checked (a valid certificate required, or DANE records), checks it now
 * and keeps the result for the features that follow (it is reused for a
 * second, session_starttls.c). Called by the engine after its output went
 * out, so the check runs while the peer works on its answer instead of
 * after the answer came. Runs no callback but the log; does it once. */
void xs2s__session_prefetch(xs2s_session *s);

#endif /* XS2S_SESSION_PREFETCH_H */
