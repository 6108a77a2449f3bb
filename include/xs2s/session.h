/*
 * xs2s - XMPP server-to-server federation library
 * session.h: one server-to-server XML stream as a sans-I/O state machine.
 *
 * An xs2s_session is one TCP connection's worth of XMPP S2S (RFC 6120): the
 * stream headers, stream features, STARTTLS and the TLS handshake, stream
 * restarts, SASL EXTERNAL (XEP-0178), server dialback (XEP-0220, XEP-0344),
 * stanzas, stream errors, the closing handshake, whitespace keepalives and
 * timeouts. It owns no socket and reads no clock:
 *
 *   - bytes received from the peer go in with xs2s_session_recv();
 *   - bytes to send come out with xs2s_session_output() (a pointer into the
 *     session's buffer) and are released with xs2s_session_consume();
 *   - xs2s_session_want_read() / xs2s_session_want_write() say what to poll;
 *   - xs2s_session_next_deadline() says when xs2s_session_on_timer() is due;
 *     the current time (milliseconds on any monotonic clock) is passed in.
 *
 * Events (stanzas, authenticated domain pairs, dialback verification
 * requests, the end of the stream, log lines) come through callbacks.
 *
 * A session is either INITIATING (we connected to the peer and want to send
 * it stanzas) or RECEIVING (the peer connected to us; we accept its stanzas
 * once it has proved its domain). Stanzas flow in one direction: out on an
 * initiating stream, in on a receiving one. An initiating session may also
 * carry <db:verify/> requests to an authoritative server, or exist only for
 * that (verify_only).
 *
 * Callbacks may call any xs2s_session function on the same session except
 * xs2s_session_free(), xs2s_session_recv() and xs2s_session_on_eof(); they
 * may freely call functions of other sessions (that is how an engine
 * routes dialback between streams). Strings and stanzas handed to
 * callbacks are borrowed for the duration of the call.
 *
 * Thread-safety: a session must be used from one thread at a time.
 */
#ifndef XS2S_SESSION_H
#define XS2S_SESSION_H

#include <stdint.h>

#include <xs2s/common.h>
#include <xs2s/condition.h>
#include <xs2s/dialback.h>
#include <xs2s/parser.h>
#include <xs2s/stanza.h>
#include <xs2s/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

/** XEP-0478 stream limits namespace. */
#define XS2S_NS_STREAM_LIMITS "urn:xmpp:stream-limits:0"

/** XEP-0288 stream feature namespace (offered by the receiving side). */
#define XS2S_NS_FEATURE_BIDI "urn:xmpp:features:bidi"
/** XEP-0288 request namespace (sent by the initiating side). */
#define XS2S_NS_BIDI "urn:xmpp:bidi"

/** A server-to-server stream (opaque). */
typedef struct xs2s_session xs2s_session;

/** XEP-0198 stream management namespace. */
#define XS2S_NS_SM "urn:xmpp:sm:3"

/**
 * enum xs2s_sm_event_type - what a stream management event reports
 * (XEP-0198; docs/SESSION.md "Stream management").
 */
typedef enum xs2s_sm_event_type {
  /** Stream management is on: initiating, the peer answered <enable/>
   * with <enabled/> (@id and @resume say whether the stream may be
   * resumed, @max_s for how long); receiving, we answered the peer's
   * <enable/>. */
  XS2S_SM_ENABLED = 1,
  /** Initiating: the peer acknowledged @count more stanzas; @h is its
   * handled count (mod 2^32). The oldest @count stanzas written since
   * <enable/> (or since the resumption) are delivered. */
  XS2S_SM_ACKED = 2,
  /** Initiating: <resumed/> answered xs2s_session_sm_resume(). The peer
   * handled @count of the previous stream's unacknowledged stanzas (the
   * oldest ones); the others must be written again now, in order, before
   * anything new. */
  XS2S_SM_RESUMED = 3,
  /** Initiating: stream management failed. @resume 1: the resumption
   * asked with xs2s_session_sm_resume() was refused (<failed/>) or is
   * impossible (the peer does not offer stream management); the previous
   * stream's unacknowledged stanzas, except the oldest @count when
   * @has_h, must be bounced; the session then enables stream management
   * afresh when it can. @resume 0: <enable/> was refused; the stream goes
   * on without acknowledgements. */
  XS2S_SM_FAILED = 4,
  /** Receiving: the peer asks to resume the stream @id (its <resume/>),
   * on a stream authenticated as usual. The callback accepts by setting
   * @accept to 1 and @handled to the number of stanzas (mod 2^32) handled
   * on that previous stream; otherwise the peer gets <failed/> with
   * item-not-found. Check that the previous stream was authenticated for
   * a domain pair this stream has (xs2s_session_pair_method()). */
  XS2S_SM_RESUME_REQUEST = 5
} xs2s_sm_event_type;

/**
 * struct xs2s_sm_event - a stream management event (XEP-0198).
 *
 * Lent to the sm callback for the call; @id is borrowed.
 */
typedef struct xs2s_sm_event {
  xs2s_sm_event_type type;
  /** ENABLED: the stream's resumption id (NULL when it cannot be
   * resumed); RESUMED and RESUME_REQUEST: the resumed stream's id. */
  const char *id;
  /** ENABLED: 1 when the stream may be resumed; FAILED: 1 for a failed
   * resumption, 0 for a refused <enable/>. */
  int resume;
  /** ENABLED (initiating): the peer's max resumption time in seconds, 0
   * when it gave none. */
  uint32_t max_s;
  /** ACKED: the peer's handled count; RESUMED: the peer's handled count
   * (the outbound count continues from it); RESUME_REQUEST: the count of
   * our stanzas the peer says it handled; FAILED: the h of <failed/> when
   * @has_h. */
  uint32_t h;
  /** ACKED: stanzas newly acknowledged; RESUMED and FAILED with @has_h:
   * unacknowledged stanzas of the previous stream that the peer handled. */
  uint32_t count;
  /** FAILED: 1 when <failed/> carried a valid h. */
  int has_h;
  /** RESUME_REQUEST (set by the callback): 1 to accept. */
  int accept;
  /** RESUME_REQUEST (set by the callback): stanzas we handled on the
   * previous stream. */
  uint32_t handled;
} xs2s_sm_event;

/**
 * struct xs2s_sm_info - the stream management state of a session.
 *
 * Filled by xs2s_session_sm_info(); @id is borrowed from the session and
 * valid until its next call or its end.
 */
typedef struct xs2s_sm_info {
  /** 1 once stream management is on (ENABLED or RESUMED). */
  int on;
  /** Initiating: 1 while <enable/> is unanswered (stanzas written now are
   * counted); 0 otherwise. */
  int pending;
  /** 1 while a resumption (xs2s_session_sm_resume()) is unanswered:
   * xs2s_session_send() refuses stanzas until it is settled. */
  int resuming;
  /** 1 when the stream can be resumed (@id is set). */
  int resumable;
  /** Resumption id, NULL when none. */
  const char *id;
  /** Inbound stanzas handled (mod 2^32). */
  uint32_t handled;
  /** Outbound stanzas counted since <enable/> (mod 2^32). */
  uint32_t sent;
  /** The peer's last acknowledged count (mod 2^32). */
  uint32_t acked;
} xs2s_sm_info;

/** Which end of the TCP connection this session is. */
typedef enum xs2s_session_role {
  /** We opened the connection: we send the first header, then stanzas. */
  XS2S_SESSION_INITIATING = 1,
  /** The peer opened it: we answer its header and accept its stanzas. */
  XS2S_SESSION_RECEIVING = 2
} xs2s_session_role;

/** Whether TLS is used on a stream (per peer policy). */
typedef enum xs2s_security_mode {
  /** STARTTLS must succeed before anything but stream negotiation is sent
   * or accepted; a peer that cannot do it gets policy-violation. The
   * default (zero). */
  XS2S_SECURITY_REQUIRED = 0,
  /** Use STARTTLS when both sides can; continue in clear text otherwise. */
  XS2S_SECURITY_OPTIONAL = 1,
  /** Neither offer nor use STARTTLS. */
  XS2S_SECURITY_OFF = 2
} xs2s_security_mode;

/** How a domain pair was authenticated. */
typedef enum xs2s_auth_method {
  XS2S_AUTH_NONE = 0,
  /** SASL EXTERNAL with the peer's certificate (RFC 6120, XEP-0178). */
  XS2S_AUTH_SASL_EXTERNAL = 1,
  /** A dialback request answered from the peer's certificate alone
   * (XEP-0344), without asking the authoritative server. */
  XS2S_AUTH_CERTIFICATE = 2,
  /** Dialback verified by the authoritative server (XEP-0220). */
  XS2S_AUTH_DIALBACK = 3
} xs2s_auth_method;

/**
 * enum xs2s_session_state - where the stream is (docs/SESSION.md has the
 * transition table).
 */
typedef enum xs2s_session_state {
  /** Waiting for the peer's stream header (also after each restart). */
  XS2S_SESSION_WAIT_HEADER = 0,
  /** Initiating: header received, waiting for <stream:features/>. */
  XS2S_SESSION_WAIT_FEATURES,
  /** Initiating: <starttls/> sent, waiting for <proceed/> or <failure/>. */
  XS2S_SESSION_STARTTLS,
  /** TLS handshake in progress (after <proceed/>). */
  XS2S_SESSION_TLS_HANDSHAKE,
  /** Initiating: SASL EXTERNAL <auth/> sent, waiting for the outcome. */
  XS2S_SESSION_SASL,
  /** Negotiation done: dialback, db:verify and stanzas. */
  XS2S_SESSION_OPEN,
  /** We sent </stream:stream>; waiting for the peer's (or a timeout). */
  XS2S_SESSION_CLOSING,
  /** Finished; only pending output remains to be written. */
  XS2S_SESSION_CLOSED
} xs2s_session_state;

/** Severity of a log line. */
typedef enum xs2s_session_log_level {
  XS2S_SESSION_LOG_ERROR = 0,
  XS2S_SESSION_LOG_WARNING = 1,
  XS2S_SESSION_LOG_INFO = 2,
  XS2S_SESSION_LOG_DEBUG = 3
} xs2s_session_log_level;

/** Who ended a stream. */
typedef enum xs2s_close_origin {
  /** This side (an error found here, a timeout, xs2s_session_close()). */
  XS2S_CLOSED_LOCALLY = 1,
  /** The peer (its </stream:stream>, its stream error, or end of input). */
  XS2S_CLOSED_BY_PEER = 2
} xs2s_close_origin;

/**
 * struct xs2s_session_close_info - why a stream ended.
 *
 * @error is 0 for an orderly close, else a negative code (e.g.
 * XS2S_ERR_PEER_STREAM_ERROR, XS2S_ERR_TIMEOUT, XS2S_ERR_TLS,
 * XS2S_ERR_POLICY, a parser error). @condition is the stream error sent
 * (closed locally) or received (closed by the peer), XS2S_STREAM_ERR_NONE if
 * none; @text its optional text (borrowed, may be NULL).
 */
typedef struct xs2s_session_close_info {
  int error;
  xs2s_stream_condition condition;
  const char *text;
  xs2s_close_origin origin;
} xs2s_session_close_info;

/**
 * struct xs2s_session_callbacks - what a session reports.
 *
 * Copied at xs2s_session_new(); any member may be NULL. Each receives the
 * session and the user_data given at creation.
 */
typedef struct xs2s_session_callbacks {
  /** An inbound stanza (message, presence or iq) that passed
   * authorisation: its 'from' domain was authenticated on this stream for
   * its 'to' domain, which is local. @stanza is lent for the call
   * (xs2s_stanza_copy() keeps it). */
  void (*stanza)(xs2s_session *s, xs2s_stanza *stanza, void *user_data);
  /** A domain pair is authenticated. On a receiving stream the peer proved
   * @remote and may now send stanzas from @remote to @local; on an
   * initiating stream the peer accepted us, and xs2s_session_send() works
   * for stanzas from @local to @remote. */
  void (*authenticated)(xs2s_session *s, const char *local,
                        const char *remote, xs2s_auth_method how,
                        void *user_data);
  /** Initiating: the peer refused a pair (db:result invalid or error,
   * SASL and dialback both unavailable, a timeout, or the stream ended
   * before an answer). @condition says why: the dialback error, or e.g.
   * remote-server-timeout / not-authorized. Stanzas queued for the pair
   * should be bounced with it. */
  void (*auth_failed)(xs2s_session *s, const char *local, const char *remote,
                      xs2s_stanza_condition condition, void *user_data);
  /** Receiving: the peer sent a dialback key (<db:result/>) that must be
   * checked with the authoritative server of req->originating. Carry
   * @req (a plain value: copy it) to an initiating session towards that
   * domain with xs2s_session_verify(), and bring the answer back with
   * xs2s_session_dialback_answer() before the dialback timeout. */
  void (*verify_request)(xs2s_session *s, const xs2s_dialback_request *req,
                         void *user_data);
  /** Initiating: the authoritative server answered a <db:verify/> sent by
   * xs2s_session_verify() (or it failed: result ERROR with
   * remote-server-timeout when no answer came in time or the stream
   * ended). Hand @answer to the receiving session whose stream id is
   * answer->stream_id with xs2s_session_dialback_answer(). Called exactly
   * once per accepted xs2s_session_verify(). */
  void (*verify_answer)(xs2s_session *s, const xs2s_dialback_answer *answer,
                        void *user_data);
  /** The stream has ended (state CLOSED). Output may still be pending:
   * write it, then close the connection. Called exactly once. */
  void (*closed)(xs2s_session *s, const xs2s_session_close_info *info,
                 void *user_data);
  /** A log line (no trailing newline; borrowed). */
  void (*log)(xs2s_session *s, xs2s_session_log_level level,
              const char *message, void *user_data);
  /** Output became pending after having been empty: a hint to poll for
   * writability. Not called from within xs2s_session_consume(). */
  void (*want_write)(xs2s_session *s, void *user_data);
  /** Initiating: the peer's <stream:features/> arrived, once per stream
   * (so again after STARTTLS and after SASL), before the session acts on
   * it. @features is lent for the call. For diagnostics (xs2s-probe shows
   * what a server offers): the session reads the features itself, so
   * nothing needs to be done here. The callback may end the stream with
   * xs2s_session_close(); the session then does not act on the features
   * (no <starttls/>, <auth/> or key is sent). */
  void (*features)(xs2s_session *s, const xs2s_stanza *features,
                   void *user_data);
  /** XEP-0198 stream management: enabled, acknowledgements, resumption
   * outcomes, and (receiving) resumption requests, which the callback
   * answers in @ev (see enum xs2s_sm_event_type). Without this callback a
   * receiving session refuses every resumption. */
  void (*sm)(xs2s_session *s, xs2s_sm_event *ev, void *user_data);
} xs2s_session_callbacks;

/** Timeout value meaning "never". */
#define XS2S_SESSION_NO_TIMEOUT UINT64_MAX
/** Default for xs2s_session_config.handshake_timeout_ms: 60 s. */
#define XS2S_SESSION_DEFAULT_HANDSHAKE_MS 60000u
/** Default for xs2s_session_config.dialback_timeout_ms: 30 s. */
#define XS2S_SESSION_DEFAULT_DIALBACK_MS 30000u
/** Default for xs2s_session_config.close_timeout_ms: 10 s. */
#define XS2S_SESSION_DEFAULT_CLOSE_MS 10000u
/** Default for xs2s_session_config.idle_timeout_ms: 10 min. */
#define XS2S_SESSION_DEFAULT_IDLE_MS 600000u
/** Default for xs2s_session_config.keepalive_ms: 60 s. */
#define XS2S_SESSION_DEFAULT_KEEPALIVE_MS 60000u
/** Default for xs2s_session_config.max_reply_backlog: 1 MiB. */
#define XS2S_SESSION_DEFAULT_REPLY_BACKLOG (1024u * 1024u)
/** Default for xs2s_session_config.sm_ack_every: 64 stanzas. */
#define XS2S_SESSION_DEFAULT_SM_ACK_EVERY 64u
/** Default for xs2s_session_config.sm_ack_ms: 1 s. */
#define XS2S_SESSION_DEFAULT_SM_ACK_MS 1000u

/**
 * struct xs2s_session_config - how one stream behaves.
 *
 * Strings and TLSA records are copied at xs2s_session_new(); the session
 * takes its own reference on @tls_creds. Zero timeouts take the defaults
 * above; XS2S_SESSION_NO_TIMEOUT disables one.
 */
typedef struct xs2s_session_config {
  xs2s_session_role role;
  /** Our domains (at least one). Receiving: the 'to' values we accept.
   * Initiating: local_domains[0] is the header's 'from'; the others may be
   * used in xs2s_session_add_pair(). */
  const char *const *local_domains;
  size_t local_domain_count;
  /** Initiating: the peer's domain (header 'to', certificate check). */
  const char *remote_domain;
  /** STARTTLS policy for this peer (receiving: for every peer, unless
   * @peer_policy says otherwise for its domain). */
  xs2s_security_mode security;
  /** Accept a peer only with a trusted certificate that names its domain
   * (dialback alone is not enough); on an initiating stream, do not send
   * to a peer whose certificate does not name @remote_domain. */
  int require_valid_certificate;
  /** Certificates, keys and trust anchors; NULL means no TLS possible. */
  xs2s_tls_creds *tls_creds;
  /** Initiating: DNSSEC-secure TLSA records of the peer's service (DANE,
   * see xs2s_tls_verify_peer()); NULL for none. */
  const xs2s_tlsa *tlsa;
  size_t tlsa_count;
  /** Wall-clock time (milliseconds since the Unix epoch) at the moment of
   * xs2s_session_new()'s @now_ms: certificates are judged valid or expired
   * at this time plus the time elapsed since. The session reads no clock;
   * 0 makes every certificate look not yet valid. */
  uint64_t wall_clock_ms;
  /** XEP-0185 shared secret for dialback keys (required for dialback). */
  const char *dialback_secret;
  /** Policy: return nonzero to allow exchanging traffic with @domain (a
   * remote domain a peer asserts). NULL allows all. */
  int (*allow_domain)(const char *domain, void *policy_user_data);
  /** Receiving: the security policy of one remote domain, for peers whose
   * policy differs from @security and @require_valid_certificate. On entry
   * *@mode and *@require_valid_cert hold those two config values; the hook
   * may change them for @domain and returns 0, or nonzero to refuse the
   * domain (as allow_domain would). Asked when the peer's stream header
   * names its domain (that domain's mode chooses the STARTTLS offer and
   * whether TLS must come first), and again for every domain pair before
   * it is authenticated: a <db:result/> over a stream without TLS when the
   * domain requires TLS gets policy-violation, and one whose sender's
   * certificate is required but was not presented gets not-authorized.
   * NULL: every domain has the config's values. Not called on initiating
   * streams (their config already holds the peer's policy). */
  int (*peer_policy)(const char *domain, xs2s_security_mode *mode,
                     int *require_valid_cert, void *policy_user_data);
  void *policy_user_data;
  /** From creation until the first domain pair is authenticated (or, for
   * verify_only, the stream is ready). Expiry: connection-timeout. */
  uint64_t handshake_timeout_ms;
  /** Per dialback request (db:result or db:verify) awaiting an answer. */
  uint64_t dialback_timeout_ms;
  /** After our </stream:stream>, how long to wait for the peer's. */
  uint64_t close_timeout_ms;
  /** No stanza in either direction for this long: close the stream. */
  uint64_t idle_timeout_ms;
  /** Nothing written for this long on an open stream: send one space. */
  uint64_t keepalive_ms;
  /** Parser bounds (zero fields: defaults). */
  xs2s_parser_limits limits;
  /** Allocator (copied; NULL for libc's). */
  const xs2s_mem *mem;
  /** Initiating: the stream exists only to carry xs2s_session_verify()
   * requests; it does no authentication of its own and closes once every
   * request is answered. */
  int verify_only;
  /** XEP-0368 direct TLS: the connection starts with the TLS handshake
   * (initiating: SNI @remote_domain, ALPN "xmpp-server"; receiving: ALPN
   * "xmpp-server" accepted, none tolerated), then the stream header inside
   * TLS; STARTTLS is neither offered nor used. Needs @tls_creds and a
   * security mode other than XS2S_SECURITY_OFF. */
  int direct_tls;
  /** XEP-0288 bidirectional stream: receiving, offer <bidi/> in the
   * features and accept the peer's request; initiating, request it when
   * offered (after TLS, before authentication). Once on, stanzas flow both
   * ways: see xs2s_session_send() and xs2s_session_is_bidi(). */
  int bidi;
  /** Bytes the session may have written in answer to the peer's own
   * input (dialback answers, negotiation replies, stream errors) that are
   * still waiting in the output, not consumed because the peer does not
   * read. Beyond it the stream fails with policy-violation
   * (XS2S_ERR_LIMIT): a peer cannot make us hold its replies forever.
   * Stanzas given to xs2s_session_send() do not count. Zero takes
   * XS2S_SESSION_DEFAULT_REPLY_BACKLOG. */
  size_t max_reply_backlog;
  /** XEP-0198 stream management is on unless this is nonzero: receiving,
   * <sm/> is offered and <enable/> / <resume/> accepted once a domain pair
   * is authenticated; initiating, <enable resume='true'/> is sent after
   * the first pair is authenticated when the peer offers <sm/>. Not used
   * on verify-only and bidirectional streams. */
  int sm_off;
  /** Receiving: seconds a broken stream stays resumable, offered as
   * <enabled max/> (the embedder keeps the state that long); 0: the
   * stream cannot be resumed (acknowledgements only). */
  uint32_t sm_resume_s;
  /** Initiating: ask for an acknowledgement (<r/>) once this many
   * stanzas were sent since the last request, answered or not; 0 takes
   * XS2S_SESSION_DEFAULT_SM_ACK_EVERY. */
  uint32_t sm_ack_every;
  /** Initiating: ask for one when stanzas have waited this long without
   * a request; 0 takes XS2S_SESSION_DEFAULT_SM_ACK_MS. */
  uint64_t sm_ack_ms;
} xs2s_session_config;

/**
 * xs2s_session_new - create a session.
 * @out: receives the session.
 * @config: behaviour (copied).
 * @callbacks: events (copied; NULL for none).
 * @user_data: passed to every callback.
 * @now_ms: current time; timeouts count from here.
 *
 * An initiating session queues its stream header at once (want_write is
 * true); with direct_tls it queues the TLS ClientHello instead, and the
 * header follows the handshake. A session starts in state TLS_HANDSHAKE
 * with direct_tls. Returns 0, XS2S_ERR_NOMEM, or XS2S_ERR_INVALID_ARGUMENT for a
 * config that cannot work (no local domain, initiating without a remote
 * domain, direct_tls without credentials or with security off). Free with
 * xs2s_session_free().
 */
XS2S_EXTERN int xs2s_session_new(xs2s_session **out,
                                 const xs2s_session_config *config,
                                 const xs2s_session_callbacks *callbacks,
                                 void *user_data, uint64_t now_ms);

/**
 * xs2s_session_free - free a session; NULL is allowed.
 *
 * No callback is called. Not from within one of the session's callbacks.
 */
XS2S_EXTERN void xs2s_session_free(xs2s_session *s);

/**
 * xs2s_session_recv - feed bytes received from the peer.
 * @s: session.
 * @data: bytes as read from the connection (TLS records once TLS is on).
 * @len: their number.
 * @now_ms: current time.
 *
 * Processes them at once, calling back as events happen. Returns @len (all
 * bytes are consumed: clear text that follows <proceed/> or <starttls/> in
 * the same buffer is dropped, never parsed), or a negative error code when
 * the stream failed (it is then CLOSED or CLOSING and the closed callback
 * has said why or will), or XS2S_ERR_STREAM_CLOSED when the session no
 * longer reads. The output this input produced counts against
 * max_reply_backlog until it is consumed.
 */
XS2S_EXTERN ssize_t xs2s_session_recv(xs2s_session *s, const uint8_t *data,
                                      size_t len, uint64_t now_ms);

/**
 * xs2s_session_on_eof - tell the session the peer closed the connection.
 * @s: session.
 * @now_ms: current time.
 *
 * Ends the stream (closed by peer; XS2S_ERR_STREAM_CLOSED unless we were
 * already closing). Returns 0.
 */
XS2S_EXTERN int xs2s_session_on_eof(xs2s_session *s, uint64_t now_ms);

/**
 * xs2s_session_output - the bytes waiting to be sent.
 * @s: session.
 * @data: receives a pointer to them; valid until the next call of any
 *        xs2s_session function on @s.
 *
 * Returns their number (0 when nothing is pending). Output is batched: one
 * protocol step (header and features, for example) is one contiguous run.
 * Call xs2s_session_consume() with the number actually written.
 */
XS2S_EXTERN size_t xs2s_session_output(xs2s_session *s, const uint8_t **data);

/**
 * xs2s_session_consume - release bytes that were written to the peer.
 * @s: session.
 * @n: bytes written (at most what xs2s_session_output() returned).
 */
XS2S_EXTERN void xs2s_session_consume(xs2s_session *s, size_t n);

/**
 * xs2s_session_want_read - whether the session expects more input.
 *
 * Returns 1 or 0; 0 once it is CLOSED.
 */
XS2S_EXTERN int xs2s_session_want_read(const xs2s_session *s);

/**
 * xs2s_session_want_write - whether output is pending.
 *
 * Returns 1 or 0. A CLOSED session with nothing to write can have its
 * connection closed and be freed.
 */
XS2S_EXTERN int xs2s_session_want_write(const xs2s_session *s);

/**
 * xs2s_session_next_deadline - when xs2s_session_on_timer() is next due.
 *
 * Returns an absolute time in the clock of @now_ms, or
 * XS2S_SESSION_NO_TIMEOUT when no timer runs.
 */
XS2S_EXTERN uint64_t xs2s_session_next_deadline(const xs2s_session *s);

/**
 * xs2s_session_on_timer - run the timers due at @now_ms.
 * @s: session.
 * @now_ms: current time (calling early or late is harmless).
 *
 * May send keepalives, fail dialback requests that timed out, or close the
 * stream. Returns 0, or a negative code if the stream failed.
 */
XS2S_EXTERN int xs2s_session_on_timer(xs2s_session *s, uint64_t now_ms);

/**
 * xs2s_session_send - send a stanza to the peer.
 * @s: an initiating session, or a receiving one on which bidirectionality
 *     is on (xs2s_session_is_bidi()).
 * @stanza: message, presence or iq in the jabber:server namespace whose
 *          'from' domain and 'to' domain form a pair authenticated on this
 *          stream (on a receiving bidi stream: the peer proved 'to' for our
 *          'from', XEP-0288); not taken (the caller still owns and frees
 *          it).
 *
 * Serialises it into the output (with the stream's namespace context, no
 * redundant declarations). A stanza whose serialised form is larger than
 * the peer's advertised max-bytes (XEP-0478) is not sent: XS2S_ERR_LIMIT,
 * the stream stays usable, and the sender should get policy-violation.
 * Returns 0; XS2S_ERR_NOT_AUTHENTICATED when the
 * pair is not (yet) authenticated (queue it and retry after the
 * authenticated callback); XS2S_ERR_INVALID_ARGUMENT for a non-stanza or
 * missing addresses; XS2S_ERR_BAD_STATE on a closing stream or a receiving
 * one without bidirectionality;
 * XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_session_send(xs2s_session *s, const xs2s_stanza *stanza);

/**
 * xs2s_session_add_pair - authenticate one more domain pair on this stream.
 * @s: an initiating session.
 * @local: one of our domains (from the config's local_domains).
 * @remote: a domain the peer serves.
 *
 * Sends a <db:result/> for the pair once the stream is ready (XEP-0220
 * section 2.5, multiplexing). The outcome comes through the authenticated
 * or auth_failed callback. Returns 0 (also when the pair is already
 * pending or authenticated), XS2S_ERR_INVALID_ARGUMENT (not a local
 * domain), XS2S_ERR_BAD_STATE (closing, receiving or verify-only stream),
 * XS2S_ERR_POLICY (TLS or certificate policy forbids dialback here),
 * XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_session_add_pair(xs2s_session *s, const char *local,
                                      const char *remote);

/**
 * xs2s_session_set_dialback_secret - replace the dialback secret.
 * @s: session.
 * @secret: the new secret (copied); NULL or "" disables dialback keys as
 *          in the session config.
 *
 * Keys made and checked from now on use @secret: a <db:verify/> answered
 * later about a key made with the previous secret says invalid (XEP-0185
 * keys are stateless, so a secret change invalidates every key in
 * flight). Returns 0 or XS2S_ERR_NOMEM (the previous secret stays).
 */
XS2S_EXTERN int xs2s_session_set_dialback_secret(xs2s_session *s,
                                                 const char *secret);

/**
 * xs2s_session_verify - ask the peer, as authoritative server, about a key.
 * @s: an initiating session to the authoritative server of
 *     req->originating (possibly a verify_only one).
 * @req: the request a receiving session reported (copied).
 *
 * Sends <db:verify/> once the stream is ready; the answer comes through
 * the verify_answer callback, exactly once per call that returned 0. The
 * dialback timeout of the request counts from the time given to the last
 * xs2s_session_recv(), xs2s_session_on_timer() or xs2s_session_on_eof():
 * on a stream that was idle, call xs2s_session_on_timer() with the current
 * time first (the same holds for xs2s_session_add_pair()).
 * Returns 0, XS2S_ERR_BAD_STATE (closing or receiving stream, or the same
 * request already outstanding), XS2S_ERR_LIMIT, XS2S_ERR_INVALID_ARGUMENT,
 * XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_session_verify(xs2s_session *s,
                                    const xs2s_dialback_request *req);

/**
 * xs2s_session_dialback_answer - report the authoritative server's answer.
 * @s: the receiving session whose stream id is answer->stream_id.
 * @answer: the verdict (from verify_answer, or made by the engine when the
 *          authoritative server could not be reached: result ERROR with
 *          remote-server-not-found or remote-connection-failed).
 *
 * Sends the <db:result type=.../> answer to the initiating server; valid
 * authenticates the pair (authenticated callback). An answer that matches
 * no pending request of this stream (another stream id, already answered,
 * timed out) is ignored. Returns 0, XS2S_ERR_BAD_STATE when the stream is
 * not open, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int
xs2s_session_dialback_answer(xs2s_session *s,
                             const xs2s_dialback_answer *answer);

/**
 * xs2s_session_close - end the stream.
 * @s: session.
 * @condition: a stream error to send first, or XS2S_STREAM_ERR_NONE for an
 *             orderly close.
 * @text: optional text for the stream error (copied; may be NULL).
 *
 * Sends </stream:stream> and waits for the peer's (close timeout). Returns
 * 0, or XS2S_ERR_BAD_STATE when already closing or closed.
 */
XS2S_EXTERN int xs2s_session_close(xs2s_session *s,
                                   xs2s_stream_condition condition,
                                   const char *text);

/**
 * xs2s_session_get_state - the current state.
 */
XS2S_EXTERN xs2s_session_state xs2s_session_get_state(const xs2s_session *s);

/**
 * xs2s_session_state_name - name of a state, e.g. "OPEN" (static string).
 */
XS2S_EXTERN const char *xs2s_session_state_name(xs2s_session_state state);

/**
 * xs2s_session_get_role - initiating or receiving.
 */
XS2S_EXTERN xs2s_session_role xs2s_session_get_role(const xs2s_session *s);

/**
 * xs2s_session_stanzas_refused - inbound stanzas refused by authorisation.
 *
 * Counts the stanzas whose 'from' was not authenticated on this stream or
 * whose 'to' is not local (each ends the stream with invalid-from,
 * host-unknown, not-authorized or improper-addressing); none of them was
 * handed to the stanza callback.
 */
XS2S_EXTERN uint64_t xs2s_session_stanzas_refused(const xs2s_session *s);

/**
 * xs2s_session_stream_id - id of the current stream, or NULL before it has
 * one. Valid until the next stream restart or the session is freed.
 *
 * Receiving: the id we generated; initiating: the id the peer sent.
 */
XS2S_EXTERN const char *xs2s_session_stream_id(const xs2s_session *s);

/**
 * xs2s_session_remote_domain - the peer's domain: the config's on an
 * initiating stream, the header's 'from' on a receiving one (NULL if the
 * peer gave none). Valid until the session is freed.
 */
XS2S_EXTERN const char *xs2s_session_remote_domain(const xs2s_session *s);

/**
 * xs2s_session_is_secure - whether TLS is established on the stream.
 */
XS2S_EXTERN int xs2s_session_is_secure(const xs2s_session *s);

/**
 * xs2s_session_tls - the TLS session, or NULL before STARTTLS.
 *
 * Borrowed; valid until the session is freed. For inspecting the peer's
 * certificate and the negotiated parameters, not for I/O.
 */
XS2S_EXTERN xs2s_tls *xs2s_session_tls(xs2s_session *s);

/**
 * xs2s_session_pair_method - how a domain pair was authenticated.
 * @s: session.
 * @local: our domain.
 * @remote: the peer's domain.
 *
 * Returns the method, or XS2S_AUTH_NONE while the pair is not
 * authenticated (in this session's direction).
 */
XS2S_EXTERN xs2s_auth_method xs2s_session_pair_method(const xs2s_session *s,
                                                      const char *local,
                                                      const char *remote);

/**
 * xs2s_session_is_bidi - whether the stream is bidirectional (XEP-0288).
 *
 * Returns 1 once the initiating side has sent, or the receiving side has
 * accepted, <bidi xmlns='urn:xmpp:bidi'/>; else 0. On such a stream the
 * receiving side may send stanzas from @local to @remote for every pair
 * the authenticated callback reported (xs2s_session_pair_method() says the
 * same), and the initiating side receives them through the stanza
 * callback, authorised against its own authenticated pairs.
 */
XS2S_EXTERN int xs2s_session_is_bidi(const xs2s_session *s);

/**
 * xs2s_session_peer_limits - the peer's XEP-0478 stream limits.
 * @s: session (meaningful on an initiating one: the receiving side
 *     advertises them in its features).
 * @max_bytes: receives the largest top-level element the peer accepts, or
 *             0 when it gave none (may be NULL).
 * @idle_seconds: receives how long the peer tolerates silence from us, or
 *                0 when it gave none (may be NULL).
 *
 * The session honours both by itself: larger stanzas are refused by
 * xs2s_session_send(), and whitespace keepalives are sent at most half the
 * peer's idle time apart (or the configured keepalive_ms, if shorter).
 * The receiving side advertises its parser's max_stanza_bytes and its
 * idle_timeout_ms in seconds. Returns 1 when the peer advertised limits on
 * the current stream, else 0.
 */
XS2S_EXTERN int xs2s_session_peer_limits(const xs2s_session *s,
                                         uint64_t *max_bytes,
                                         uint64_t *idle_seconds);

/**
 * xs2s_session_sm_resume - resume a previous stream (XEP-0198).
 * @s: an initiating session, before its first pair is authenticated.
 * @previd: the previous stream's resumption id (its <enabled id/>;
 *          copied, at most 64 characters).
 * @acked: the peer's last handled count on that stream.
 * @sent: the stanzas counted on that stream (mod 2^32); @sent - @acked
 *        stanzas are unacknowledged.
 *
 * Once the first pair is authenticated, <resume previd h='0'/> is sent
 * instead of <enable/>, and xs2s_session_send() refuses stanzas
 * (XS2S_ERR_NOT_AUTHENTICATED) until the answer: an sm event RESUMED
 * (write the rest again), or FAILED with resume 1 (bounce them). A <resumed
 * h/> larger than @sent ends the stream with undefined-condition and
 * <handled-count-too-high/>. Returns 0, XS2S_ERR_BAD_STATE (receiving,
 * stream management off, or too late), XS2S_ERR_INVALID_ARGUMENT.
 */
XS2S_EXTERN int xs2s_session_sm_resume(xs2s_session *s, const char *previd,
                                       uint32_t acked, uint32_t sent);

/**
 * xs2s_session_sm_request_ack - ask the peer for an acknowledgement now.
 * @s: an initiating session with stream management on.
 *
 * Writes <r/> when stanzas are unacknowledged and no request is already
 * outstanding; an embedder calls it when its send queue has drained. Returns 1 when <r/> was written, 0 when none was due,
 * XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_session_sm_request_ack(xs2s_session *s);

/**
 * xs2s_session_sm_info - the stream management state.
 * @s: session.
 * @out: filled (see struct xs2s_sm_info).
 *
 * Returns @out->on.
 */
XS2S_EXTERN int xs2s_session_sm_info(const xs2s_session *s,
                                     xs2s_sm_info *out);

/**
 * xs2s_auth_method_name - name of an authentication method (static), e.g.
 * "dialback".
 */
XS2S_EXTERN const char *xs2s_auth_method_name(xs2s_auth_method how);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_SESSION_H */
