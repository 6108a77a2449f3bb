/*
 * tls_int.h: what the TLS layer's files share (internal).
 *
 *   tls_creds.c  credentials: certificates per domain, trust, CRLs, priority
 *   tls.c        one session over memory buffers
 *   cert.c       decoding a certificate's names and details
 *   identity.c   RFC 6125 name matching (pure)
 *   dane.c       TLSA record matching (RFC 6698)
 *   verify.c     PKIX + names + DANE verdict for a peer
 */
#ifndef XS2S_TLS_INT_H
#define XS2S_TLS_INT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <time.h>

#include <xs2s/tls.h>

#include "buf.h"
#include "domain.h"

/* ---- identity.c ---------------------------------------------------- */

/* xs2s_tls_match_name() for a domain already in canonical form
 * (xs2s__domain_normalize_host(), domain.h). */
xs2s_tls_name_match xs2s__match_names(const xs2s_tls_name *names,
                                      size_t count, const char *domain);

/* ---- cert.c -------------------------------------------------------- */

/* The names of @crt (SANs in order, then subject CNs), each value a copy
 * allocated from @mem. Free with xs2s__cert_names_free(). 0, XS2S_ERR_TLS
 * or XS2S_ERR_NOMEM. */
int xs2s__cert_names(gnutls_x509_crt_t crt, const xs2s_mem *mem,
                     xs2s_tls_name **names, size_t *count);
void xs2s__cert_names_free(const xs2s_mem *mem, xs2s_tls_name *names,
                           size_t count);

/* Fills @info from @crt (strings and names allocated from @mem). */
int xs2s__cert_info(gnutls_x509_crt_t crt, size_t chain_length,
                    const xs2s_mem *mem, xs2s_tls_cert_info *info);
void xs2s__cert_info_free(const xs2s_mem *mem, xs2s_tls_cert_info *info);

/* ---- dane.c -------------------------------------------------------- */

/* Whether xs2s can use @rec at all (known usage, selector, matching type,
 * plausible data length). */
int xs2s__tlsa_usable(const xs2s_tlsa *rec);

/* 1 if @crt matches @rec's selector, matching type and data, 0 if not,
 * XS2S_ERR_NOMEM or XS2S_ERR_TLS. Usage is not looked at. */
int xs2s__tlsa_match(const xs2s_tlsa *rec, gnutls_x509_crt_t crt);

/* ---- tls_creds.c --------------------------------------------------- */

/* One certificate chain with its key, serving one local domain. */
typedef struct xs2s__cert_entry {
  char *domain; /* normalised, or NULL: serve the certificate's names */
  gnutls_pcert_st *pcerts;
  unsigned pcert_count;
  gnutls_privkey_t key;
  xs2s_tls_name *names; /* of the end-entity certificate */
  size_t name_count;
} xs2s__cert_entry;

/* Appended to the system's policy: the versions RFC 8996 retired. */
#define XS2S__TLS_DEFAULT_APPEND "-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL"

struct xs2s_tls_creds {
  xs2s_mem mem;
  int refs;   /* atomic */
  int frozen; /* set by the first xs2s_tls_new(): no more changes */
  gnutls_certificate_credentials_t cred;
  gnutls_priority_t priority; /* NULL: GnuTLS default */
  /* The default (system policy + XS2S__TLS_DEFAULT_APPEND), made once and
   * shared by every session: per session it costs about 8 KiB and a parse
   * of the policy. */
  gnutls_priority_t default_priority;
  xs2s__cert_entry *entries;  /* the first is the default */
  size_t entry_count;
};

/* The entry serving @name (any form; NULL for none): exact domain, then
 * name match; the default entry too when @use_default. NULL if none. */
const xs2s__cert_entry *xs2s__creds_select(const xs2s_tls_creds *creds,
                                           const char *name, int use_default);

/* Marks @creds as in use by a session. */
void xs2s__creds_freeze(xs2s_tls_creds *creds);

/* ---- tls.c --------------------------------------------------------- */

typedef enum xs2s__tls_state {
  XS2S__TLS_HANDSHAKE = 0, /* handshake in progress */
  XS2S__TLS_OPEN,          /* established, both directions */
  XS2S__TLS_BYE_SENT,      /* we sent close_notify; may still read */
  XS2S__TLS_PEER_CLOSED,   /* peer sent close_notify; may still write */
  XS2S__TLS_CLOSED,        /* both sides closed */
  XS2S__TLS_FAILED         /* fatal error; only free is left */
} xs2s__tls_state;

struct xs2s_tls {
  xs2s_mem mem;
  xs2s_tls_creds *creds; /* one reference */
  gnutls_session_t session;
  xs2s_tls_role role;
  xs2s__tls_state state;
  unsigned flags;
  char *remote_domain; /* normalised; initiating side */
  char *local_domain;  /* normalised; initiating side, may be NULL */
  xs2s__buf in;        /* ciphertext fed, not yet read by GnuTLS */
  xs2s__buf out;       /* ciphertext produced, not yet taken */
  int out_oom;         /* the push function ran out of memory */
  int established;     /* the handshake completed (stays set) */
  int post_handshake;  /* a post-handshake message was just processed */
  char detail[160];    /* reason of the last failure */
  /* Filled when the handshake completes. */
  char *sni;
  char *alpn;
  char *description;
  /* The peer's chain, decoded when needed; the decoded certificates are
   * dropped after each use (several KiB per stream), @peer_info is kept. */
  int peer_loaded;       /* @peer_info is filled (or there is no chain) */
  int peer_info_ok;      /* the peer sent a chain and @peer_info holds it */
  gnutls_x509_crt_t *peer;
  size_t peer_count;
  xs2s_tls_cert_info peer_info;
};

/* GnuTLS's certificate callback (gnutls_certificate_retrieve_function2),
 * installed on every credentials object. */
int xs2s__tls_retrieve_cert(gnutls_session_t s,
                            const gnutls_datum_t *req_ca_rdn, int nreqs,
                            const gnutls_pk_algorithm_t *pk_algos,
                            int pk_algos_length, gnutls_pcert_st **pcert,
                            unsigned *pcert_length, gnutls_privkey_t *privkey);

/* Decodes the peer's chain into t->peer / t->peer_info once. 0 (also when
 * the peer sent nothing), XS2S_ERR_TLS or XS2S_ERR_NOMEM. */
int xs2s__tls_load_peer(xs2s_tls *t);

/* Frees the decoded chain (t->peer); t->peer_info stays. */
void xs2s__tls_drop_peer(xs2s_tls *t);

#endif /* XS2S_TLS_INT_H */
