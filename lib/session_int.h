/*
 * session_int.h: the inside of an xs2s_session, shared by the files that
 * implement it (internal).
 *
 *   session.c           life cycle, input and output paths, the state switch,
 *                       stream headers, stream errors, closing, timers
 *   session_features.c  building and reading <stream:features/>
 *   session_starttls.c  STARTTLS negotiation and the TLS binding
 *   session_auth.c      SASL EXTERNAL, domain pairs, stanza authorisation
 *   session_dialback.c  db:result / db:verify on the stream
 *   session_sm.c        XEP-0198 stream management
 */
#ifndef XS2S_SESSION_INT_H
#define XS2S_SESSION_INT_H

#include <stdarg.h>

#include <xs2s/dialback.h>
#include <xs2s/session.h>

#include "buf.h"
#include "dialback.h"

/* STARTTLS on this stream (one switch in session_starttls.c). */
typedef enum xs2s__tls_state {
  XS2S__TLS_NONE = 0,    /* clear text, nothing negotiated */
  XS2S__TLS_REQUESTED,   /* initiating: <starttls/> sent */
  XS2S__TLS_HANDSHAKING, /* <proceed/> sent or received */
  XS2S__TLS_ACTIVE,      /* handshake done, stream restarted */
  XS2S__TLS_FAILED       /* refused or failed: nothing more goes out */
} xs2s__tls_state;

/* SASL EXTERNAL (initiating side's view; the receiving side answers at
 * once and needs no state). */
typedef enum xs2s__sasl_state {
  XS2S__SASL_NONE = 0,
  XS2S__SASL_SENT,    /* <auth mechanism='EXTERNAL'/> sent */
  XS2S__SASL_SUCCESS, /* stream restarted after <success/> */
  XS2S__SASL_FAILED   /* <failure/>: fall back to dialback */
} xs2s__sasl_state;

/* XEP-0198 on this stream (session_sm.c). */
typedef enum xs2s__sm_state {
  XS2S__SM_NONE = 0,   /* nothing negotiated (yet) */
  XS2S__SM_ENABLING,   /* initiating: <enable/> sent, counting */
  XS2S__SM_RESUMING,   /* initiating: <resume/> sent, sends refused */
  XS2S__SM_ON,         /* enabled or resumed */
  XS2S__SM_FAILED      /* refused: no acknowledgements on this stream */
} xs2s__sm_state;

/* Longest resumption id kept (ours are 32 hex digits). */
#define XS2S__SM_ID_MAX 64

typedef struct xs2s__sm {
  int off;              /* config: no stream management */
  uint32_t resume_s;    /* receiving: resumable for this long (0: not) */
  uint32_t ack_every;   /* initiating: <r/> after this many stanzas */
  uint64_t ack_ms;      /* ... or after this long */
  int offered;          /* initiating: <sm/> in the peer's features */
  xs2s__sm_state state;
  uint32_t handled;     /* inbound stanzas handled (h) */
  uint32_t sent;        /* outbound stanzas counted */
  uint32_t acked;       /* the peer's last h */
  uint32_t since_r;     /* sent since the last <r/> */
  int r_pending;        /* <r/> outstanding */
  uint64_t last_sent;   /* when the last counted stanza went out */
  int resumable;
  uint32_t max_s;       /* initiating: the peer's max */
  char id[XS2S__SM_ID_MAX + 1];
  /* Initiating: a resumption asked with xs2s_session_sm_resume(). */
  int want_resume;
  char prev_id[XS2S__SM_ID_MAX + 1];
  uint32_t prev_acked, prev_sent;
} xs2s__sm;

/* Inputs of the stream state machine (xs2s__session_event()). */
typedef enum xs2s__event {
  XS2S__EV_HEADER,            /* peer's stream header accepted */
  XS2S__EV_STARTTLS_SENT,     /* initiating: <starttls/> written */
  XS2S__EV_PROCEED,           /* initiating: <proceed/> received */
  XS2S__EV_STARTTLS_ACCEPTED, /* receiving: <proceed/> written */
  XS2S__EV_TLS_DONE,          /* handshake finished: restart */
  XS2S__EV_SASL_SENT,         /* initiating: <auth/> written */
  XS2S__EV_SASL_SUCCESS,      /* SASL succeeded (either side): restart */
  XS2S__EV_SASL_FAILURE,      /* initiating: <failure/>: features again */
  XS2S__EV_NEGOTIATED,        /* initiating: features done, stream usable */
  XS2S__EV_CLOSE_SENT,        /* we wrote </stream:stream> */
  XS2S__EV_PEER_CLOSED,       /* peer's </stream:stream>, error or EOF */
  XS2S__EV_FATAL              /* nothing more can be exchanged */
} xs2s__event;

struct xs2s_session {
  xs2s_mem mem;
  xs2s_session_callbacks cb;
  void *user_data;

  /* Configuration (strings copied). */
  xs2s_session_role role;
  char **local_domains;
  size_t local_domain_count;
  /* When set, asked whether a domain is ours instead of @local_domains
   * (which then holds only the default): session_locals.h. */
  int (*is_local_hook)(const char *domain, void *user_data);
  void *is_local_user_data;
  char *remote_domain;     /* initiating: config; receiving: header 'from' */
  xs2s_security_mode security; /* receiving: for the header's 'from' */
  int require_valid_cert;       /* ... likewise */
  xs2s_security_mode cfg_security; /* the config's values */
  int cfg_require_cert;
  int verify_only;
  int direct_tls;           /* XEP-0368: TLS from the first byte */
  int bidi;                 /* XEP-0288 wanted (config) */
  int bidi_on;              /* ... requested and in force */
  xs2s_tls_creds *creds;    /* our reference */
  xs2s_tlsa *tlsa;          /* copies, data included */
  size_t tlsa_count;
  uint64_t wall_clock_ms;   /* wall-clock time at @created */
  char *secret;
  int (*allow_domain)(const char *, void *);
  int (*peer_policy)(const char *, xs2s_security_mode *, int *, void *);
  void *policy_user_data;
  uint64_t handshake_ms, dialback_ms, close_ms, idle_ms, keepalive_ms;
  size_t max_stanza_bytes;  /* our parser's bound, advertised (XEP-0478) */

  /* Stream. */
  xs2s_session_state state;
  xs2s__tls_state tls_state;
  xs2s__sasl_state sasl_state;
  xs2s_parser *parser;
  char *stream_id;
  char *header_to;         /* receiving: the local domain the peer named */
  int peer_version_1;      /* peer's header said version 1.0 (or later) */
  int peer_has_db;         /* peer's header declared xmlns:db */
  int peer_dialback_feature;   /* initiating: urn:xmpp:features:dialback */
  int peer_dialback_errors;    /* ... with <errors/> */
  int peer_offers_starttls;
  int peer_requires_starttls;
  int peer_offers_external;
  int peer_offers_bidi;    /* initiating: XEP-0288 feature offered */
  int peer_limits;         /* initiating: XEP-0478 <limits/> received */
  uint64_t peer_max_bytes; /* ... its max-bytes (0: none) */
  uint64_t peer_idle_s;    /* ... its idle-seconds (0: none) */
  int restarts;            /* stream restarts so far (bounded) */
  int parser_reset_pending; /* restart: reset the parser after this element */
  int parser_failed;       /* the parser refused input: ignore the rest */
  int verify_served;       /* receiving: answered a db:verify */
  int header_sent;         /* our header for the current stream is out */

  xs2s_tls *tls;
  int cert_checked;        /* peer certificate evaluated */
  int cert_trusted;        /* chain verified against our trust anchors */
  char *sasl_domain;       /* receiving: domain authenticated by SASL */
  /* The last peer certificate check (xs2s__tls_peer_check()): its domain
   * (owned), result and session time; reused briefly, see there. */
  char *peer_check_domain;
  int peer_check_rc;
  uint64_t peer_check_at;
  int peer_prefetched;     /* xs2s__session_prefetch() made its check */

  xs2s__dialback db;        /* domain pairs and db:verify queries */
  struct xs2s__wait *waiting; /* pairs and verifications for when OPEN */
  int own_pair_started;    /* initiating: the config's pair was tried */
  int pair_authenticated;  /* at least one pair has ever been valid */

  /* Output: @plain collects XML of the current call, flushed into @out
   * (encrypted when TLS is on) when the call returns. */
  xs2s__buf plain;
  xs2s__buf out;
  int write_signalled;     /* want_write called since output was empty */
  int hold;                /* stanzas wait in @plain (session_hold.h) */
  /* Output written in answer to the peer's input and not yet consumed (an
   * upper bound), its limit, and what xs2s_session_send() added during
   * the current xs2s_session_recv() (not an answer). */
  size_t reply_backlog;
  size_t max_reply_backlog;
  xs2s__sm sm;             /* XEP-0198 (session_sm.c) */
  const char *error_app;   /* application condition for the next stream
                            * error (XML, owned by the caller) */
  uint64_t stanzas_refused; /* inbound stanzas xs2s__authorize() refused */
  size_t sent_in_recv;
  size_t last_sent_bytes;  /* the last stanza xs2s_session_send() wrote */

  /* Time. */
  uint64_t now;
  uint64_t created;
  uint64_t last_activity;  /* last stanza either way */
  uint64_t last_write;     /* last byte queued for output */
  uint64_t close_deadline;

  /* Closing. */
  int closed_notified;
  int close_error;
  xs2s_stream_condition close_condition;
  char *close_text;
  xs2s_close_origin close_origin;
  int peer_closed;
};

/* --- session.c --- */
void xs2s__session_log(xs2s_session *s, xs2s_session_log_level level,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends XML to the current batch; 0 or XS2S_ERR_NOMEM. */
int xs2s__session_write(xs2s_session *s, const char *data, size_t len);
int xs2s__session_write_str(xs2s_session *s, const char *str);
/* Writes an element tree with the stream's namespace context. */
int xs2s__session_write_stanza(xs2s_session *s, const xs2s_stanza *st);
/* Moves the batch into the output (through TLS when on). */
int xs2s__session_flush(xs2s_session *s);
/* Feeds plain text to the parser. */
int xs2s__session_parse(xs2s_session *s, const char *data, size_t len);
/* Sends our stream header for a new stream. */
int xs2s__session_send_header(xs2s_session *s);
/* The stream state machine: the one place that changes s->state. */
int xs2s__session_event(xs2s_session *s, xs2s__event ev);
/* Sends a stream error (if @cond) and closes; @error says why locally. */
int xs2s__session_fail(xs2s_session *s, int error, xs2s_stream_condition cond,
                       const char *text);
/* Ends the session without writing anything more (TLS failures). */
void xs2s__session_abort(xs2s_session *s, int error, const char *why,
                         xs2s_close_origin origin);
/* Whether @domain is one of ours (canonical forms compared). */
int xs2s__session_is_local(const xs2s_session *s, const char *domain);
/* Whether the policy hook allows @domain. */
int xs2s__session_allowed(const xs2s_session *s, const char *domain);
/* The security policy of remote @domain (the config's values, or what the
 * peer_policy hook says for it); 0, or -1 when the hook refuses it. */
int xs2s__session_peer_policy(const xs2s_session *s, const char *domain,
                              xs2s_security_mode *mode, int *require_cert);
/* Marks stanza activity (idle timer). */
void xs2s__session_activity(xs2s_session *s);

/* --- session_features.c --- */
int xs2s__features_send(xs2s_session *s);
int xs2s__features_read(xs2s_session *s, const xs2s_stanza *features);
/* Initiating: what to do once features are known (or there are none). */
int xs2s__features_act(xs2s_session *s);

/* --- session_starttls.c --- */
int xs2s__starttls_offerable(const xs2s_session *s);
int xs2s__starttls_element(xs2s_session *s, const xs2s_stanza *el);
int xs2s__starttls_request(xs2s_session *s);
/* Direct TLS: starts the handshake at creation (initiating: ClientHello). */
int xs2s__tls_direct_start(xs2s_session *s);
/* Ciphertext in while TLS is handshaking or active. */
int xs2s__tls_recv(xs2s_session *s, const uint8_t *data, size_t len);
/* Plain text out through TLS. */
int xs2s__tls_send(xs2s_session *s, const char *data, size_t len);
int xs2s__tls_close(xs2s_session *s);
/* Whether the peer's certificate is trusted and names @domain. */
/* Whether the peer's certificate proves @domain (with the DANE records the
 * session holds, when initiating): 0, or why not (XS2S_ERR_DANE_MISMATCH,
 * XS2S_ERR_CERT_NAME_MISMATCH, XS2S_ERR_CERT_UNTRUSTED). */
int xs2s__tls_peer_check(xs2s_session *s, const char *domain);
int xs2s__tls_peer_valid_for(xs2s_session *s, const char *domain);
/* Whether TLS is required but not (yet) on: nothing but negotiation. */
int xs2s__tls_missing(const xs2s_session *s);

/* --- session_auth.c --- */
/* A pair is authenticated: bookkeeping and the authenticated callback. */
void xs2s__pair_authenticated(xs2s_session *s, const char *local,
                              const char *remote, xs2s_auth_method how);
int xs2s__sasl_element(xs2s_session *s, const xs2s_stanza *el);
int xs2s__sasl_start(xs2s_session *s);
/* Receiving: whether to offer SASL EXTERNAL now. */
int xs2s__sasl_offerable(xs2s_session *s);
/* SASL succeeded and the stream restarted: the pair is valid. */
int xs2s__sasl_complete(xs2s_session *s);
/* Checks an inbound stanza; 0 to deliver, else the stream has failed. */
int xs2s__authorize(xs2s_session *s, const xs2s_stanza *st);
/* The domain part of a JID, copied into @buf; NULL if malformed. */
const char *xs2s__jid_domain(const char *jid, char *buf, size_t size);

/* --- session_dialback.c --- */
int xs2s__dialback_element(xs2s_session *s, const xs2s_stanza *el);
/* Whether dialback can authenticate us on this (initiating) stream. */
int xs2s__dialback_usable(const xs2s_session *s);
/* Initiating: send what waits for the open stream (db:result for pairs
 * asked for, db:verify requests). */
int xs2s__dialback_kick(xs2s_session *s);
int xs2s__dialback_timers(xs2s_session *s);
/* The stream ended: fail what is still waiting. */
void xs2s__dialback_abandon(xs2s_session *s);
void xs2s__dialback_waiting_free(xs2s_session *s);

/* --- session_sm.c --- */
void xs2s__sm_init(xs2s_session *s, const xs2s_session_config *c);
/* Appends <sm/> to the receiving side's features when offered. */
int xs2s__sm_feature_add(xs2s_session *s, xs2s_stanza *features);
/* Initiating: notes whether the features offer <sm/>. */
void xs2s__sm_feature_read(xs2s_session *s, const xs2s_stanza *features);
/* An element in the urn:xmpp:sm:3 namespace. */
int xs2s__sm_element(xs2s_session *s, const xs2s_stanza *el);
/* Initiating: sends <enable/> or <resume/> once the stream is usable and
 * a pair authenticated. */
int xs2s__sm_kick(xs2s_session *s);
/* Whether xs2s_session_send() must wait (a resumption is unanswered). */
int xs2s__sm_blocked(const xs2s_session *s);
/* A stanza was written (outbound count, <r/> every N). */
int xs2s__sm_sent(xs2s_session *s);
/* A stanza was handed to the embedder (inbound count). */
void xs2s__sm_handled(xs2s_session *s);
/* Our end of the stream is being written: a last <r/> or <a/>. */
int xs2s__sm_before_close(xs2s_session *s);
uint64_t xs2s__sm_deadline(const xs2s_session *s);
int xs2s__sm_timer(xs2s_session *s);

#endif /* XS2S_SESSION_INT_H */
