/*
 * session_harness.h: a small world of S2S servers for session tests.
 *
 * Sessions are joined in pairs (links) through memory: the bytes one side
 * outputs are fed to the other, optionally through a filter that plays a
 * man in the middle. The test program plays the engine: it routes dialback
 * verification requests to verification streams towards the authoritative
 * server and brings the answers back. Time is a fake clock.
 *
 * A link end without a session is "raw": the test writes its bytes by hand
 * (h_raw_send) and reads what it was sent (raw_in).
 */
#ifndef XS2S_TEST_SESSION_HARNESS_H
#define XS2S_TEST_SESSION_HARNESS_H

#include <xs2s/session.h>

#include "buf.h"

#define H_MAX 16

typedef struct h_server {
  const char *domains[4];
  size_t ndomains;
  xs2s_security_mode mode;
  xs2s_tls_creds *creds;
  const char *secret;
  int require_cert;
  int (*allow)(const char *domain, void *user_data);
  const xs2s_mem *mem;            /* allocator for its sessions (NULL: libc) */
  xs2s_parser_limits limits;      /* parser limits of its sessions */
} h_server;

struct h_world;
struct h_link;

typedef struct h_peer {
  struct h_world *w;
  struct h_link *link;
  const char *label;
  xs2s_session *s; /* NULL for a raw end */
  xs2s__buf raw_in; /* raw end: bytes it received */
  int eof;          /* this end's connection was closed by the other */

  int n_auth;
  char auth_local[H_MAX][64], auth_remote[H_MAX][64];
  xs2s_auth_method auth_how[H_MAX];
  int n_failed;
  char failed_local[H_MAX][64], failed_remote[H_MAX][64];
  xs2s_stanza_condition failed_cond[H_MAX];
  int n_stanzas;
  xs2s_stanza *stanzas[H_MAX];
  int n_requests;
  xs2s_dialback_request requests[H_MAX];
  int n_answers;
  xs2s_dialback_answer answers[H_MAX];
  int closed;
  xs2s_session_close_info close;
  char close_text[256];
  int n_want_write;
  int n_features;               /* features callbacks so far */
  unsigned features[H_MAX];     /* each: H_FEAT_* bits seen */
  int close_on_features;        /* test: close from the Nth callback (0: no) */
  int routed; /* requests or answers already handed on */
  /* XEP-0198 events by type, the last one, and the sum of ACKED counts. */
  int n_sm[8];
  xs2s_sm_event sm_last;
  uint64_t sm_acked;
  /* Receiving: a resumption of this id is accepted (with this handled
   * count) when the stream has this domain pair authenticated. */
  const char *sm_accept_id;
  uint32_t sm_accept_handled;
  const char *sm_pair_local, *sm_pair_remote;
} h_peer;

/* h_peer.features bits: what one <stream:features/> held, and whether
 * TLS was on when it came. */
#define H_FEAT_STARTTLS 0x1u
#define H_FEAT_EXTERNAL 0x2u
#define H_FEAT_DIALBACK 0x4u
#define H_FEAT_SECURE 0x8u

/* Rewrites bytes on their way: @dir 0 is initiating to receiving. Returns
 * the new length (at most @cap). */
typedef size_t (*h_filter)(struct h_link *l, int dir, char *buf, size_t len,
                           size_t cap);

typedef struct h_link {
  h_peer a; /* initiating end */
  h_peer b; /* receiving end */
  h_filter filter;
  void *filter_data;
  int verify_link; /* opened by the harness for a verification */
  size_t chunk;    /* >0: deliver in pieces of this many bytes */
} h_link;

typedef struct h_world {
  uint64_t now;
  uint64_t wall;
  h_server *servers[4];
  int nservers;
  h_link *links[H_MAX];
  int nlinks;
  int hold_requests; /* do not route verify requests */
  int direct_tls;    /* sessions opened from now on use XEP-0368 TLS */
  uint64_t idle_ms;  /* idle timeout of sessions opened from now on */
  int bidi_init;     /* initiating sessions opened from now on want bidi */
  int bidi_recv;     /* receiving sessions opened from now on offer it */
  int sm_off;        /* sessions opened from now on: no XEP-0198 */
  uint32_t sm_resume_s; /* receiving sessions: resumable this long */
  uint32_t sm_ack_every; /* initiating sessions: <r/> every N */
  /* Per-remote-domain security of receiving sessions opened from now on
   * (NULL: none); its user_data is the receiving server. */
  int (*peer_policy)(const char *domain, xs2s_security_mode *mode,
                     int *require_valid_cert, void *user_data);
  xs2s_mem mem;
  /* DANE records every initiating session holds for its peer (as an
   * engine would pass the resolver's DNSSEC-secure TLSA answer). */
  const xs2s_tlsa *tlsa;
  size_t tlsa_count;
} h_world;

void h_world_init(h_world *w);
void h_world_free(h_world *w);
void h_add_server(h_world *w, h_server *srv);

/* Opens a stream from @from (as @from_domain) to @to (as @to_domain);
 * either may be NULL for a raw end. */
h_link *h_connect(h_world *w, h_server *from, const char *from_domain,
                  h_server *to, const char *to_domain, int verify_only);

/* Moves bytes and routes dialback until nothing changes. */
void h_run(h_world *w);
/* Advances the clock by @ms in steps, running timers. */
void h_advance(h_world *w, uint64_t ms);

/* Raw end @p sends @text to its link partner. */
void h_raw_send(h_peer *p, const char *text);
/* Feeds @text to @p's session as if its partner had sent it. */
ssize_t h_inject(h_peer *p, const char *text);
/* What a raw end has received so far, NUL-terminated. */
const char *h_raw_text(h_peer *p);

/* Convenience checks. */
int h_authenticated(const h_peer *p, const char *local, const char *remote,
                    xs2s_auth_method how);
xs2s_stanza_condition h_failed(const h_peer *p, const char *local,
                               const char *remote);

/* A message stanza from @from to @to with a body (free it). */
xs2s_stanza *h_message(const char *from, const char *to, const char *body);

/* Credentials with @name.pem/@name.key from the certificate directory,
 * trusting ca.pem and crl.pem (NULL @name: trust only). */
xs2s_tls_creds *h_creds(const char *dir, const char *domain,
                        const char *name);

#endif /* XS2S_TEST_SESSION_HARNESS_H */
