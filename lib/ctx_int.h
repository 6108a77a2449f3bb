/*
 * ctx_int.h: the federation engine's objects (internal); docs/ENGINE.md
 * describes how they fit together.
 *
 *   ctx_conn.c   one socket + one session: I/O pump, timers, teardown
 *   ctx_out.c    one remote domain we send to: resolve, candidates,
 *                connect, queue flush, retry with backoff, bounces
 *   ctx_in.c     listeners, accept, receiving sessions, dialback routing
 *   ctx.c        creation, loops, the public API
 *   ctx_sm.c     XEP-0198: unacknowledged stanzas, resumption, bounces
 *
 * Nothing-lost bookkeeping: a stanza accepted by xs2s_ctx_send() is in
 * exactly one place at any time: a remote's queue (xs2s__queue), the
 * deferred list (a bounce or local delivery waiting for its zero-delay
 * timer), or it is gone for good: written with xs2s_session_send()
 * (counters.stanzas_out), handed to the bounce callback
 * (counters.stanzas_bounced) or delivered locally (counters.stanzas_in).
 * counters.stanzas_accepted therefore always equals out + bounced +
 * local + queued + deferred.
 *
 * With XEP-0198 a written stanza is also kept (a copy) in its stream's
 * unacknowledged list until the peer acknowledges it; when the stream
 * breaks, the list moves to the remote (to be resent on a resumed stream,
 * counters.stanzas_resent, written again) or is bounced
 * (counters.stanzas_bounced_unacked, also in stanzas_bounced). So
 * accepted = out - resent - bounced_unacked + bounced + local + queued +
 * deferred.
 */
#ifndef XS2S_CTX_INT_H
#define XS2S_CTX_INT_H

#include <sys/socket.h>

#include <xs2s/xs2s.h>

#include "config.h"
#include "hashmap.h"
#include "loop.h"
#include "net.h"
#include "policy.h"
#include "queue.h"
#include "ratelimit.h"
#include "timer.h"

typedef struct xs2s__conn xs2s__conn;
typedef struct xs2s__remote xs2s__remote;

/* XEP-0198 on one outgoing stream, or kept by its remote after the stream
 * broke (ctx_sm.c). */
typedef struct xs2s__sm_out {
  int init;            /* @unacked initialised */
  int on;              /* enabled or resumed (incoming: enabled) */
  int resumable;       /* the peer gave resume='true' and an id */
  char id[65];
  uint32_t acked;      /* the peer's last h; + unacked.count = sent */
  uint64_t acked_total; /* stanzas acknowledged on this stream */
  xs2s__queue unacked; /* written, not acknowledged, oldest first */
  char *first_local;   /* kept by the remote: the stream's first pair's
                        * local domain, which resumes it */
} xs2s__sm_out;

/* Returned by xs2s__conn_send(): the stream's unacknowledged list is
 * full; keep the stanza queued until acknowledgements make room. */
#define XS2S__CONN_FULL 2

/* -- Connections ---------------------------------------------------------- */

typedef enum xs2s__conn_state {
  XS2S__CONN_CONNECTING = 0, /* outgoing: connect() in progress */
  XS2S__CONN_OPEN,           /* a session runs on the socket */
  XS2S__CONN_DEAD            /* torn down; freed when nothing holds it */
} xs2s__conn_state;

/* One authenticated domain pair on a stream. */
typedef struct xs2s__pair {
  char *local, *remote;
  xs2s_auth_method how;
} xs2s__pair;

struct xs2s__conn {
  xs2s_ctx *ctx;
  xs2s__conn *prev, *next; /* ctx->conns */
  uint64_t id;
  int fd;
  xs2s_direction dir;
  xs2s__conn_state state;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  char peer_text[XS2S_ADDRSTRLEN];
  xs2s_session *session;
  xs2s__remote *remote; /* outgoing: the domain it serves */
  int counted;          /* in ctx->counts */
  int depth;            /* > 0 while some frame uses the conn */
  int broken;           /* socket failed: output is discarded */
  int closed_seen;      /* the session's closed callback ran */
  int direct_tls;       /* XEP-0368: TLS from the first byte */
  struct xs2s__remote *bidi_remote; /* incoming bidi: the remote it serves */
  xs2s_session_close_info close; /* copy of the closing info */
  char close_text[128];
  char sid[XS2S_DIALBACK_ID_MAX + 1]; /* key in ctx->stream_ids, or "" */
  xs2s__timer connect_timer;
  xs2s__timer session_timer;
  xs2s__pair *pairs;
  size_t npairs;
  xs2s__sm_out sm;      /* XEP-0198 (ctx_sm.c) */
  int sm_superseded;    /* incoming: resumed on another stream */
  uint64_t bytes_in, bytes_out, stanzas_in, stanzas_out;
  uint64_t opened_ms, last_stanza_ms;
  xs2s__timer trim_timer; /* ctx_trim.c */
  uint64_t active_ms;     /* last bytes in or out */
};

/* Idle trimming (ctx_trim.c): set up the timer; note that bytes moved at
 * @now (arms the timer when it is not); cancel it. */
void xs2s__conn_trim_init(xs2s__conn *c);
void xs2s__conn_trim_touch(xs2s__conn *c, uint64_t now);
void xs2s__conn_trim_stop(xs2s__conn *c);

/* An outgoing connection to @addr for @r; connect() is started. 0 or a
 * negative code (nothing created). */
int xs2s__conn_connect(xs2s_ctx *ctx, xs2s__remote *r,
                       const struct sockaddr *addr, socklen_t len,
                       xs2s__conn **out);
/* An incoming connection on an accepted socket. */
int xs2s__conn_accept(xs2s_ctx *ctx, int fd,
                      const struct sockaddr_storage *peer, socklen_t len,
                      unsigned listen_flags);
/* Starts the initiating session once TCP is up; @first_local is the
 * header's 'from'. 0 or negative (the conn is then dead). */
int xs2s__conn_start_session(xs2s__conn *c, const char *first_local);
/* Holding a conn across calls into its session: the last leave pumps
 * output, updates interest and timers, and frees a finished conn. */
void xs2s__conn_enter(xs2s__conn *c);
void xs2s__conn_leave(xs2s__conn *c);
/* Ends the stream (orderly or with @cond) through the session. */
void xs2s__conn_close(xs2s__conn *c, xs2s_stream_condition cond,
                      const char *text);
/* Frees every connection at once (ctx_free): no callbacks. */
void xs2s__conn_free_all(xs2s_ctx *ctx);
/* 1 when the session on @c has (local, remote) authenticated. */
int xs2s__conn_pair_ready(const xs2s__conn *c, const char *local,
                          const char *remote);
/* Sends on an outgoing stream; counts it and (XEP-0198) keeps a copy
 * until it is acknowledged. 0, XS2S__CONN_FULL (not sent: wait for
 * acknowledgements) or negative. */
int xs2s__conn_send(xs2s__conn *c, const xs2s_stanza *s, const char *local,
                    void *tag);
/* The same for a queue entry: its stanza moves to the unacknowledged list
 * instead of being copied (e->stanza is then NULL). */
int xs2s__conn_send_entry(xs2s__conn *c, xs2s__qentry *e);

/* -- Remote domains ------------------------------------------------------- */

typedef enum xs2s__remote_state {
  XS2S__REMOTE_IDLE = 0,
  XS2S__REMOTE_RESOLVING,
  XS2S__REMOTE_CONNECTING, /* a conn is connecting or negotiating */
  XS2S__REMOTE_READY,      /* a pair is authenticated on ->out */
  XS2S__REMOTE_FAILED      /* waiting for the retry timer */
} xs2s__remote_state;

/* A dialback verification waiting for a stream to the remote. */
typedef struct xs2s__pending_verify {
  struct xs2s__pending_verify *next;
  xs2s_dialback_request req;
} xs2s__pending_verify;

struct xs2s__remote {
  xs2s_ctx *ctx;
  char *name; /* normal form; the map key */
  size_t len;
  xs2s__remote_policy pol;
  xs2s__remote_state state;
  xs2s__queue queue;
  xs2s_resolve_query *query;
  xs2s_resolve_result *res; /* candidates of the current round */
  size_t cand, addr;        /* the next address to try */
  xs2s__conn *out;
  int out_authed;           /* a pair was authenticated on ->out */
  xs2s__conn *bidi_in;      /* an incoming XEP-0288 stream from it */
  unsigned failures;
  xs2s__timer retry_timer;
  xs2s__timer queue_timer;
  xs2s_stanza_condition cond; /* why the last attempt failed */
  char text[256];
  xs2s__pending_verify *verifies;
  xs2s__sm_out sm_prev; /* XEP-0198: unacknowledged stanzas of the last
                         * stream, waiting for its resumption */
};

/* The remote record for a normalised domain, created on first use. */
xs2s__remote *xs2s__remote_get(xs2s_ctx *ctx, const char *name, size_t len,
                               int create);
/* Queues or sends an accepted stanza from @local. 0 or XS2S_ERR_LIMIT /
 * XS2S_ERR_NOMEM (not accepted). */
int xs2s__remote_submit(xs2s__remote *r, const xs2s_stanza *s,
                        const char *local, void *tag);
/* An incoming bidirectional stream @c authenticated @r for @local: our
 * stanzas to @r may use it (queued ones of @local are sent now). */
void xs2s__remote_bidi_up(xs2s__remote *r, xs2s__conn *c, const char *local);
/* Carries a dialback verification to the remote's authoritative server. */
void xs2s__remote_verify(xs2s__remote *r, const xs2s_dialback_request *req);
/* Events from the outgoing conn. */
void xs2s__remote_connected(xs2s__remote *r, xs2s__conn *c);
void xs2s__remote_pair_up(xs2s__remote *r, xs2s__conn *c, const char *local);
/* Sends what is queued for the pairs authenticated on @c. */
void xs2s__remote_flush(xs2s__remote *r, xs2s__conn *c);
void xs2s__remote_pair_failed(xs2s__remote *r, xs2s__conn *c,
                              const char *local,
                              xs2s_stanza_condition cond);
void xs2s__remote_conn_gone(xs2s__remote *r, xs2s__conn *c, int error,
                            const char *why);
/* Applies the new ctx->cfg to @r (its policy was computed from the old
 * one, which must still exist): a domain no longer allowed has its queue
 * bounced with policy-violation, its verifications answered with an
 * error and its outgoing stream closed with policy-violation; a cached
 * failure is forgotten when the domain's routes changed; the queue bound
 * and timeout follow the new limits. Returns 1 when something of a now
 * forbidden domain was dropped, else 0; adds the streams it closed to
 * *@streams. */
int xs2s__remote_reconfigure(xs2s__remote *r, size_t *streams);
/* XEP-0198: stanzas known not to have been handled by the peer go back to
 * the front of the queue (older than what it holds), their local domains
 * joining ->out. @entries is left empty. */
void xs2s__remote_requeue(xs2s__remote *r, xs2s__queue *entries);
/* Bounces every queued stanza (shutdown). */
void xs2s__remote_bounce_all(xs2s_ctx *ctx, const char *text);
/* Frees every remote; queued stanzas are bounced (ctx_free). */
void xs2s__remote_free_all(xs2s_ctx *ctx);

/* -- The engine ----------------------------------------------------------- */

/* A bounce or a local delivery waiting for the deferred timer. */
typedef struct xs2s__deferred {
  struct xs2s__deferred *next;
  xs2s_stanza *stanza; /* owned */
  void *tag;
  int local;           /* 1: deliver to the stanza callback */
  xs2s_stanza_condition cond;
  char text[256];
} xs2s__deferred;

typedef struct xs2s__listener {
  xs2s_ctx *ctx;
  int fd;
  unsigned flags;
  xs2s__timer pause_timer;
} xs2s__listener;

struct xs2s_ctx {
  xs2s_mem mem;
  xs2s_config *cfg;
  xs2s_ctx_callbacks cb;
  void *ud;
  xs2s__loop loop;
  xs2s__listener *listeners;
  size_t nlisteners;
  xs2s__conn_count counts;
  xs2s__map remotes;    /* name -> xs2s__remote */
  xs2s__map stream_ids; /* incoming stream id -> xs2s__conn */
  xs2s__conn *conns;
  xs2s_tls_creds *creds;
  xs2s_resolver *resolver;
  xs2s__timer resolver_timer;
  const char *secret; /* the config's, or secret_buf */
  char secret_buf[XS2S_DIALBACK_KEY_SIZE];
  const char **locals; /* local domains, normal form (owned by cfg) */
  size_t nlocals;
  xs2s_counters counters;
  uint64_t next_id;
  xs2s__deferred *deferred, **deferred_tail;
  xs2s__timer deferred_timer;
  xs2s__ratelimit accept_rate;  /* connection attempts per source */
  xs2s__refusal_log refusals;   /* refused connections, summarised */
  xs2s__timer refusal_timer;
  struct xs2s__sm_saved *sm_saved; /* resumable incoming streams, newest
                                    * first (ctx_sm.c) */
  size_t sm_nsaved;
  int freeing;
  int shutting_down;
};

/* Log a formatted line through the log callback. */
void xs2s__ctx_log(xs2s_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hands @s (taken) to the bounce or stanza callback from the deferred
 * timer. Never fails: without memory the callback is called at once. */
void xs2s__ctx_defer(xs2s_ctx *ctx, xs2s_stanza *s, void *tag, int local,
                     xs2s_stanza_condition cond, const char *text);
/* Bounce callback now (only from the loop or ctx_free), counted. */
void xs2s__ctx_bounce_now(xs2s_ctx *ctx, const xs2s_stanza *s, void *tag,
                          xs2s_stanza_condition cond, const char *text);
/* Peer up / down notifications. */
void xs2s__ctx_peer(xs2s_ctx *ctx, xs2s__conn *c, const xs2s__pair *p,
                    int up);
/* Re-arms the resolver's timer after a resolver call. */
void xs2s__ctx_resolver_kick(xs2s_ctx *ctx);
/* Index of a local domain (normal form), or -1 (ctx_locals.c). */
int xs2s__ctx_local_index(const xs2s_ctx *ctx, const char *d);
/* The engine's own copy of local domain @d (normal form), or NULL. */
const char *xs2s__ctx_local_name(const xs2s_ctx *ctx, const char *d);
/* Whether @domain (any form) is one of the engine @user_data's local
 * domains: the sessions' hook (session_locals.h). */
int xs2s__ctx_is_local(const char *domain, void *user_data);
/* Sends an error reply built by xs2s (never bounced back again). */
void xs2s__ctx_send_reply(xs2s_ctx *ctx, xs2s_stanza *reply);
/* TLS credentials for @cfg's certificates, trust, CRL and priority (the
 * error is logged). 0 or negative. */
int xs2s__ctx_load_creds(xs2s_ctx *ctx, const xs2s_config *cfg,
                         xs2s_tls_creds **out);
/* Adds @cfg's static routes to the resolver. 0 or negative. */
int xs2s__ctx_add_routes(xs2s_ctx *ctx, const xs2s_config *cfg);
/* Listener handling (ctx_in.c). */
int xs2s__listeners_open(xs2s_ctx *ctx);
void xs2s__listeners_close(xs2s_ctx *ctx);
/* One listener: bind @cl and watch it (the error is logged); close it;
 * move a listening socket to a new slot (the listener array is being
 * replaced) with new flags. */
int xs2s__listener_open(xs2s_ctx *ctx, xs2s__listener *ln,
                        const xs2s__cfg_listener *cl, int backlog);
void xs2s__listener_close(xs2s_ctx *ctx, xs2s__listener *ln);
int xs2s__listener_move(xs2s_ctx *ctx, xs2s__listener *from,
                        xs2s__listener *to, unsigned flags);
/* The accept-rate limit and the refusal log follow ctx->cfg (ctx_in.c;
 * called at creation by xs2s__listeners_open() and after a reload). */
void xs2s__accept_guard_configure(xs2s_ctx *ctx);
/* Routes a verification answer to the incoming stream it belongs to. */
void xs2s__ctx_verify_answer(xs2s_ctx *ctx,
                             const xs2s_dialback_answer *answer);

/* -- XEP-0198 (ctx_sm.c) ------------------------------------------------- */

/* The session's sm callback. */
void xs2s__sm_on_event(xs2s_session *s, xs2s_sm_event *ev, void *ud);
/* Whether @c's unacknowledged list has no room for another stanza. */
int xs2s__sm_conn_full(xs2s__conn *c);
/* An application's stanza being written on @c, as its unacknowledged
 * list will keep it: the bytes the session wrote (sm_kept.h). */
typedef struct xs2s__sm_keep {
  xs2s__conn *c;
  const xs2s_stanza *st; /* the application's (copied if no bytes came) */
  const char *local; /* sending local domain, normal form */
  void *tag;         /* the application's */
  xs2s__qentry *entry; /* set by xs2s__sm_keep_bytes(), or NULL */
  int rc;              /* why @entry could not be made, or 0 */
} xs2s__sm_keep;
/* The xs2s__session_keep_fn of an application's stanza (@arg: an
 * xs2s__sm_keep): copies the bytes when the session counts stanzas. */
void xs2s__sm_keep_bytes(const char *xml, size_t len, void *arg);
/* A stanza was written on @c: keep it while it is counted, @e's stanza
 * taken over when @e (a queue entry) is given, else what @k kept (taken
 * over too), else a copy of @k's stanza. */
void xs2s__sm_conn_sent(xs2s__conn *c, xs2s__qentry *e, xs2s__sm_keep *k);
/* The pump: ask for an acknowledgement once the remote's queue is empty. */
void xs2s__sm_conn_idle(xs2s__conn *c);
/* @c is being released: its unacknowledged stanzas move to its remote
 * (@resumable: a resumption will be tried) or are bounced; an incoming
 * stream's resumption state is saved. */
void xs2s__sm_conn_end(xs2s__conn *c, int resumable);
/* A new outgoing session for @r: ask it to resume the last stream. */
void xs2s__sm_remote_resume(xs2s__remote *r, xs2s__conn *c);
/* Stanzas of a broken stream wait for @r. */
int xs2s__sm_remote_pending(const xs2s__remote *r);
/* Bounces what waits for a resumption. */
void xs2s__sm_remote_bounce(xs2s__remote *r, xs2s_stanza_condition cond,
                            const char *text);
/* Frees the saved resumption states (ctx_free). */
void xs2s__sm_free_all(xs2s_ctx *ctx);
/* Totals for xs2s_ctx_counters(). */
uint64_t xs2s__sm_unacked_count(const xs2s_ctx *ctx);

#endif /* XS2S_CTX_INT_H */
