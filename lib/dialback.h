/*
 * dialback.h: the XEP-0220 state of one stream (internal).
 *
 * One xs2s__dialback lives in each session. It holds the dialback state of
 * every (from, to) domain pair negotiated on that stream and the
 * verifications that stream has asked for. It is sans-I/O: elements come
 * in as stanza trees, elements to send go out as stanza trees, time is a
 * uint64_t in milliseconds passed by the caller, and anything that needs
 * another stream (delivering a <db:verify>, routing its answer back) is
 * handed out as a plain value for the engine to carry.
 *
 * A stream has one direction and so plays two of the four roles:
 *
 *   OUTGOING (we opened it)     initiating: xs2s__dialback_start() sends a
 *                               key, answers arrive through receive();
 *                               verifier: xs2s__dialback_verify() sends a
 *                               <db:verify>, answers arrive through
 *                               receive() as out->answer.
 *   INCOMING (the peer opened)  receiving: a <db:result> arrives through
 *                               receive() and yields out->request;
 *                               xs2s__dialback_verified() takes the
 *                               verdict and yields the <db:result> answer;
 *                               authoritative: a <db:verify> arrives
 *                               through receive() and is answered at once.
 *
 * A pair is named the way stanzas flow on the stream: on an OUTGOING
 * stream 'from' is our sender domain and 'to' the peer's target domain; on
 * an INCOMING stream 'from' is the peer's domain and 'to' ours. Domain
 * names match without regard to ASCII case; stream ids match exactly.
 *
 * Every operation that reacts fills a xs2s__dialback_out; the caller acts
 * on it (send out->reply, close, deliver the request, route the answer,
 * log out->why) and then calls xs2s__dialback_out_clear().
 */
#ifndef XS2S_LIB_DIALBACK_H
#define XS2S_LIB_DIALBACK_H

#include <stdint.h>

#include <xs2s/condition.h>
#include <xs2s/dialback.h>
#include <xs2s/stanza.h>

/* Which side opened the stream. */
typedef enum xs2s__dialback_dir {
  XS2S__DIALBACK_OUTGOING = 1, /* initiating and verifier roles */
  XS2S__DIALBACK_INCOMING = 2  /* receiving and authoritative roles */
} xs2s__dialback_dir;

/* Per-stream settings; zero fields take the defaults. */
typedef struct xs2s__dialback_options {
  /* How long a pair or a verification may stay pending
   * (XS2S_DIALBACK_DEFAULT_TIMEOUT_MS). */
  uint64_t timeout_ms;
  /* Domain pairs, and outstanding verifications, per stream
   * (XS2S_DIALBACK_DEFAULT_MAX_PAIRS). */
  unsigned max_pairs;
  /* Receiving role: when the authoritative server says 'invalid', answer
   * with a <forbidden/> dialback error and keep the stream (XEP-0220
   * 2.1.2 allows it) instead of type='invalid' followed by closing the
   * stream. */
  int invalid_as_error;
} xs2s__dialback_options;

/*
 * What the session knows and the policy says, given to each call that
 * judges a peer's request. The callbacks receive @user_data; NULL
 * callbacks take the stated default.
 */
typedef struct xs2s__dialback_policy {
  /* The stream runs over TLS. */
  int tls;
  /* Policy requires TLS: a <db:result> without it gets policy-violation. */
  int tls_required;
  /* Policy requires a trusted certificate naming the sender domain; a
   * key alone gets not-authorized. */
  int cert_required;
  /* Is @domain served here? (NULL: every domain is.) A <db:result> or
   * <db:verify> to another domain gets item-not-found. */
  int (*is_local)(const char *domain, void *user_data);
  /* May @remote exchange stanzas with @local (allow / deny lists)?
   * (NULL: yes.) If not: policy-violation, never verified. */
  int (*allowed)(const char *remote, const char *local, void *user_data);
  /* Did the peer present, in this stream's TLS handshake, a trusted
   * certificate that names @remote (RFC 6125)? (NULL: no.) Asked only
   * when @tls is set; if yes, the pair is valid at once (XEP-0344
   * "dialback without dialback"). */
  int (*cert_names)(const char *remote, void *user_data);
  void *user_data;
} xs2s__dialback_policy;

/* One domain pair. Allocated once and kept until the table is freed or its
 * stream id changes, so a pointer to it stays valid until then. */
typedef struct xs2s__dialback_pair {
  char *from;
  char *to;
  xs2s_dialback_state state;
  xs2s_stanza_condition condition; /* for ERROR */
  uint64_t deadline;               /* for PENDING */
  int by_certificate;              /* VALID through a certificate, not a key */
} xs2s__dialback_pair;

/* One <db:verify> sent and not yet answered (verifier role). */
typedef struct xs2s__dialback_query {
  char *from; /* receiving domain (ours) */
  char *to;   /* originating domain (the authoritative server's) */
  char *id;   /* id of our incoming stream the key came in on */
  uint64_t deadline;
} xs2s__dialback_query;

typedef struct xs2s__dialback {
  const xs2s_mem *mem; /* borrowed from the owner */
  xs2s__dialback_dir dir;
  xs2s__dialback_options opts;
  char stream_id[XS2S_DIALBACK_ID_MAX + 1]; /* "" until set */
  unsigned peer_features; /* XS2S_DIALBACK_FEATURE_* the peer offered */
  xs2s__dialback_pair **pairs;
  size_t npairs, pairs_cap;
  xs2s__dialback_query *queries;
  size_t nqueries, queries_cap;
} xs2s__dialback;

/* What the caller must do after an operation. */
typedef struct xs2s__dialback_out {
  /* Write this element on the stream (owned here; freed by out_clear). */
  xs2s_stanza *reply;
  /* After the reply, close the stream; with a stream error when
   * stream_error is not NONE, else with a plain </stream:stream>. */
  int close;
  xs2s_stream_condition stream_error;
  /* A pair changed state (valid until the table is freed or its stream
   * id changes). */
  const xs2s__dialback_pair *pair;
  /* Receiving role: deliver this to the originating domain's
   * authoritative server (through xs2s__dialback_verify() on a stream to
   * request.originating). */
  int has_request;
  xs2s_dialback_request request;
  /* Verifier role: hand this to the incoming stream whose id is
   * answer.stream_id (through xs2s__dialback_verified()). */
  int has_answer;
  xs2s_dialback_answer answer;
  /* Why an element was ignored or refused, for the log (static). */
  const char *why;
} xs2s__dialback_out;

/* Parsed form of a <db:result> or <db:verify> (strings borrowed from the
 * element). */
typedef struct xs2s__dialback_elem {
  int is_verify;                   /* <db:verify> rather than <db:result> */
  const char *from, *to, *id;      /* NULL when absent */
  int has_type;                    /* a 'type' attribute is present */
  xs2s_dialback_state type;        /* VALID, INVALID, ERROR; NONE if unknown */
  xs2s_stanza_condition condition; /* for type='error' */
  const char *key; /* text, whitespace trimmed (not NUL-ended) */
  size_t key_len;
} xs2s__dialback_elem;

void xs2s__dialback_init(xs2s__dialback *db, const xs2s_mem *mem,
                         xs2s__dialback_dir dir,
                         const xs2s__dialback_options *opts);
void xs2s__dialback_free(xs2s__dialback *db);

void xs2s__dialback_out_init(xs2s__dialback_out *out);
void xs2s__dialback_out_clear(xs2s__dialback_out *out);

/* The stream id keys are bound to: on an INCOMING stream the id we sent,
 * on an OUTGOING stream the id the peer sent. Set it again after each
 * stream restart: a new id forgets every pair, since a restarted stream
 * starts unauthenticated. 0, XS2S_ERR_INVALID_ARGUMENT (bad id), or
 * XS2S_ERR_BAD_STATE while something is pending. */
int xs2s__dialback_set_stream_id(xs2s__dialback *db, const char *id);

/* OUTGOING: what the peer's <stream:features/> offered
 * (xs2s_dialback_feature_parse()). Target multiplexing needs ERRORS. */
void xs2s__dialback_set_peer_features(xs2s__dialback *db, unsigned features);

/* State of a pair (NONE when never seen); *@condition (may be NULL) gets
 * the error condition. */
xs2s_dialback_state xs2s__dialback_state(const xs2s__dialback *db,
                                         const char *from, const char *to,
                                         xs2s_stanza_condition *condition);

/* The pair that state() describes, or NULL. */
const xs2s__dialback_pair *
xs2s__dialback_find(const xs2s__dialback *db, const char *from, const char *to);

/* Mark a pair VALID without dialback (SASL EXTERNAL or a certificate
 * checked by the session). 0, XS2S_ERR_INVALID_ARGUMENT, XS2S_ERR_LIMIT,
 * XS2S_ERR_NOMEM. */
int xs2s__dialback_mark_valid(xs2s__dialback *db, const char *from,
                              const char *to);

/* Initiating role (OUTGOING): send our key for (from, to). out->reply is
 * the <db:result>; out->pair the pair, now PENDING. Errors:
 * XS2S_ERR_BAD_STATE (wrong direction, no stream id, pair already pending,
 * valid or invalid), XS2S_ERR_POLICY (a second target domain while the
 * peer did not offer dialback errors), XS2S_ERR_LIMIT,
 * XS2S_ERR_INVALID_ARGUMENT, XS2S_ERR_NOMEM. */
int xs2s__dialback_start(xs2s__dialback *db, const char *secret,
                         const char *from, const char *to, uint64_t now,
                         xs2s__dialback_out *out);

/* Verifier role (OUTGOING to the originating domain): send <db:verify>
 * for a request another stream produced, and remember it. Errors:
 * XS2S_ERR_BAD_STATE (wrong direction, or the same request is already
 * outstanding), XS2S_ERR_LIMIT, XS2S_ERR_INVALID_ARGUMENT,
 * XS2S_ERR_NOMEM. */
int xs2s__dialback_verify(xs2s__dialback *db,
                          const xs2s_dialback_request *request, uint64_t now,
                          xs2s__dialback_out *out);

/* Any element in XS2S_NS_DIALBACK received on the stream. Dispatches by
 * direction, name and 'type': INCOMING <db:result> (receiving role),
 * INCOMING <db:verify> (authoritative role, answered with @secret),
 * OUTGOING <db:result type> (initiating answer), OUTGOING <db:verify type>
 * (verifier answer). Anything else, and answers that match nothing sent on
 * this stream, are ignored with out->why set. @policy may be NULL on an
 * OUTGOING stream. Returns 0, XS2S_ERR_NOMEM, or XS2S_ERR_INVALID_ARGUMENT
 * when @elem is not a dialback element. */
int xs2s__dialback_receive(xs2s__dialback *db, const xs2s_stanza *elem,
                           uint64_t now, const xs2s__dialback_policy *policy,
                           const char *secret, xs2s__dialback_out *out);

/* Receiving role (INCOMING): the verdict for a request this stream made.
 * Ignored (out->why) unless it names this stream's id and a PENDING pair.
 * out->reply is the <db:result type=...> for the initiating server;
 * out->close is set after 'invalid' (unless invalid_as_error). */
int xs2s__dialback_verified(xs2s__dialback *db,
                            const xs2s_dialback_answer *answer,
                            xs2s__dialback_out *out);

/* Authoritative role, stateless: answer a <db:verify> (already parsed)
 * with @secret. out->reply is the <db:verify type=...>. */
int xs2s__dialback_authoritative(const xs2s_mem *mem, const char *secret,
                                 const xs2s__dialback_elem *verify,
                                 const xs2s__dialback_policy *policy,
                                 xs2s__dialback_out *out);

/* The earliest deadline of anything pending, UINT64_MAX when none. */
uint64_t xs2s__dialback_next_deadline(const xs2s__dialback *db);

/* Time out one overdue entry: a pair becomes ERROR remote-server-timeout
 * (INCOMING: out->reply tells the initiating server), an outstanding
 * <db:verify> is dropped and out->answer says ERROR remote-server-timeout.
 * Returns 1 when it did, 0 when nothing is overdue; call until 0. Negative
 * on XS2S_ERR_NOMEM. */
int xs2s__dialback_expire(xs2s__dialback *db, uint64_t now,
                          xs2s__dialback_out *out);

/* The stream ended: fail one pending entry as expire() does, without
 * replies (there is no stream to send them on); outstanding verifications
 * answer ERROR remote-server-timeout. Returns 1 per entry, 0 when none. */
int xs2s__dialback_fail_pending(xs2s__dialback *db, xs2s__dialback_out *out);

/* Number of <db:verify> requests sent and not yet answered; a stream
 * opened only to verify is closed when this drops to 0. */
size_t xs2s__dialback_queries_pending(const xs2s__dialback *db);

/* Number of pairs in @state. */
size_t xs2s__dialback_count(const xs2s__dialback *db,
                            xs2s_dialback_state state);

/* An ERROR answer for a request the engine could not deliver (no route:
 * remote-server-not-found; connection failed: remote-connection-failed;
 * stream closed or timed out: remote-server-timeout). */
void xs2s__dialback_answer_error(const xs2s_dialback_request *request,
                                 xs2s_stanza_condition condition,
                                 xs2s_dialback_answer *answer);

/* Elements. */

/* Parse a <db:result> or <db:verify>. 0, or XS2S_ERR_INVALID_ARGUMENT when
 * @elem is not one. */
int xs2s__dialback_parse(const xs2s_stanza *elem, xs2s__dialback_elem *e);

/* Build <db:NAME from to [id] [type]>[key | <error/>]</db:NAME>, NAME
 * "result" or "verify"; @type NONE for a request (then @key is the text),
 * ERROR adds <error type><condition/></error> in jabber:server. NULL when
 * out of memory. */
xs2s_stanza *xs2s__dialback_build(const xs2s_mem *mem, const char *name,
                                  const char *from, const char *to,
                                  const char *id, xs2s_dialback_state type,
                                  xs2s_stanza_condition condition,
                                  const char *key);

/* Syntax checks for what a peer sends. */
int xs2s__dialback_domain_ok(const char *domain);
int xs2s__dialback_id_ok(const char *id);

#endif /* XS2S_LIB_DIALBACK_H */
