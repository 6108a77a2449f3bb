/*
 * probe.h: the parts of xs2s-probe (examples/xs2s-probe.c is the driver).
 *
 *   conn.c    one connection to one candidate: a non-blocking socket,
 *             poll(), an initiating xs2s_session (and, for XEP-0368
 *             candidates, an xs2s_tls in front of it), until the features
 *             of the stream restarted under TLS have been seen
 *   judge.c   the verdict on a candidate and its reasons in words
 *   print.c   the human report and the JSON object
 *   json.c    a minimal JSON writer
 *
 * Everything goes through the public API of libxs2s.
 */
#ifndef XS2S_PROBE_H
#define XS2S_PROBE_H

#include <arpa/inet.h>
#include <stdint.h>

#include <xs2s/xs2s.h>

#include "json.h"

/* What the probe concluded about a candidate, worst first. */
typedef enum probe_verdict {
  PROBE_NOT_TRIED = 0, /* --first stopped before it */
  PROBE_UNREACHABLE,   /* no XMPP stream could be opened */
  PROBE_INSECURE,      /* a stream, but no authenticated TLS */
  PROBE_SECURE         /* TLS, certificate trusted and naming the domain */
} probe_verdict;

typedef struct probe_options {
  const char *domain;
  const char *from;
  unsigned timeout_ms;  /* per connection attempt */
  int first;            /* stop at the first secure candidate */
  int json;
  int verbose;          /* session log lines on stderr */
  xs2s_tls_creds *creds;
} probe_options;

#define PROBE_MAX_ATTEMPTS 8
#define PROBE_MAX_REASONS 8

/* One connect() to one address of a candidate. */
typedef struct probe_attempt {
  char address[INET6_ADDRSTRLEN];
  int error; /* 0 connected, else an errno value (ETIMEDOUT on timeout) */
} probe_attempt;

/* Where a connection stood when it ended or ran out of time. */
typedef enum probe_phase {
  PROBE_PHASE_CONNECT = 0,
  PROBE_PHASE_TLS_FIRST,   /* direct TLS: handshake before the stream */
  PROBE_PHASE_HEADER,      /* waiting for the peer's stream header */
  PROBE_PHASE_FEATURES,    /* waiting for <stream:features/> */
  PROBE_PHASE_STARTTLS,    /* <starttls/> sent, no answer yet */
  PROBE_PHASE_HANDSHAKE,   /* STARTTLS handshake */
  PROBE_PHASE_DONE         /* everything wanted was seen */
} probe_phase;

typedef struct probe_report {
  const xs2s_resolve_candidate *cand;
  size_t index; /* 1-based position in the order of trial */

  probe_attempt attempts[PROBE_MAX_ATTEMPTS];
  size_t nattempts;
  int connected; /* index into attempts, or -1 */

  /* The stream. Kept until the report is printed, because the certificate
   * details are borrowed from the TLS session inside it. */
  xs2s_session *session;
  xs2s_tls *direct; /* XEP-0368: our TLS in front of the session */
  char *stream_id;
  xs2s_stanza *features_plain; /* features before TLS (copy) */
  xs2s_stanza *features_tls;   /* first features under TLS (copy) */
  probe_phase phase;           /* where it stopped */
  int timed_out;

  /* TLS. */
  int tls_tried;
  int tls_established;
  char *tls_error;
  xs2s_tls_info tls_info;
  const xs2s_tls_cert_info *cert; /* NULL: none presented or undecodable */
  int verified;
  xs2s_tls_verify_result verify;

  /* How the stream ended, when it did before we closed it. */
  int ended;
  xs2s_session_close_info close;
  char *close_text;
  int peer_eof;  /* the TCP connection closed under us */
  int read_errno;

  probe_verdict verdict;
  char *reasons[PROBE_MAX_REASONS]; /* why not secure, in words */
  size_t nreasons;
  char *notes[PROBE_MAX_REASONS];   /* remarks that do not change it */
  size_t nnotes;
} probe_report;

/* conn.c: probes @cand; fills @r (r->cand and r->index are set first). */
void probe_candidate(const probe_options *o, probe_report *r);
/* Frees what the report holds. */
void probe_report_clear(probe_report *r);

/* judge.c: sets r->verdict, r->reasons and r->notes. */
void probe_judge(const probe_options *o, probe_report *r, uint64_t wall_ms);
const char *probe_verdict_name(probe_verdict v);

/* print.c */
enum { PROBE_TIME_HUMAN = 0, /* 2030-01-31 12:00 UTC */
       PROBE_TIME_JSON = 1   /* 2030-01-31T12:00:00Z */ };
/* Seconds since the epoch as UTC text. */
void probe_time_text(int64_t secs, int style, char *buf, size_t len);
const char *probe_addr_ip(const xs2s_resolve_addr *a, char *buf, size_t len);
void print_resolution_text(const xs2s_resolve_result *res);
void print_resolution_json(json *j, const xs2s_resolve_result *res);
void print_candidate_text(const probe_options *o, const probe_report *r);
void print_candidate_json(json *j, const probe_report *r);
/* The candidate fields --resolve-only shows, inside an open object. */
void print_candidate_fields_json(json *j, const xs2s_resolve_candidate *c);

#endif /* XS2S_PROBE_H */
