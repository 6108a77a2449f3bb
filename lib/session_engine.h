/*
 * session_engine.h: what the engine asks of a session beyond the public
 * API (internal).
 */
#ifndef XS2S_SESSION_ENGINE_H
#define XS2S_SESSION_ENGINE_H

#include <xs2s/session.h>

/* Brings the session's clock forward to @now_ms (never back). Calls that
 * start a timer without taking a time (xs2s_session_verify(),
 * xs2s_session_add_pair(), xs2s_session_close()) count from the session's
 * clock, which otherwise is the time of the last recv, timer or EOF: on a
 * stream idle for longer than the dialback timeout, a request would be
 * born expired. */
void xs2s__session_clock(xs2s_session *s, uint64_t now_ms);

/* Why the stream is ending, once a reason is recorded (the first one
 * wins): fills @info (its text borrowed from the session) and returns 1;
 * returns 0 while the stream is not failing or closing. The engine reads
 * it while the session reports pairs that fail because the stream died,
 * before the closed callback runs, to tell the sender what happened. */
int xs2s__session_close_reason(const xs2s_session *s,
                               xs2s_session_close_info *info);

#endif /* XS2S_SESSION_ENGINE_H */
