/*
 * xs2s - XMPP server-to-server federation library
 * tls.h: TLS over memory buffers, credentials, peer identity and DANE.
 *
 * Two objects:
 *
 *  - xs2s_tls_creds: what a server brings to every TLS session: its own
 *    certificates (one per local domain, picked by SNI on the receiving side
 *    and by the local domain on the initiating side), the trust anchors that
 *    peers are checked against (a CA file and/or the system store), optional
 *    CRLs, and the GnuTLS priority string. Configure it once, then share it
 *    between any number of sessions; it is reference-counted and each
 *    xs2s_tls holds a reference, so the caller may drop its own at any time.
 *
 *  - xs2s_tls: one TLS session (one TCP connection after STARTTLS, or a
 *    XEP-0368 direct-TLS connection). It owns no socket (sans-I/O): the
 *    caller feeds it the ciphertext it received (xs2s_tls_feed()), drives the
 *    handshake (xs2s_tls_handshake()), reads and writes plaintext
 *    (xs2s_tls_read(), xs2s_tls_write()), and sends whatever ciphertext
 *    xs2s_tls_output() shows, then drops it with xs2s_tls_output_consume().
 *    All ciphertext produced between two takes lands in one contiguous
 *    buffer, so one write(2) sends it; plaintext is cut into records of at
 *    most 16 KiB.
 *
 * Roles follow RFC 6120: the INITIATING server opened the TCP connection
 * (TLS client), the RECEIVING server accepted it (TLS server). The
 * initiating side sends SNI with the remote domain and presents the
 * certificate of its own (local) domain when asked; the receiving side picks
 * its certificate by SNI and requests, but does not require, a certificate
 * from the initiating peer, so that dialback stays possible for peers that
 * have none.
 *
 * The handshake never fails because of the peer's certificate: whether the
 * peer proved its domain is a separate question, asked per domain with
 * xs2s_tls_verify_peer() once the handshake is done (an S2S stream may carry
 * several domains, and the receiving side learns the peer's domain only from
 * the stream header). The answer reports separately whether the chain is
 * trusted (and why not), whether and how the domain name matched, and what
 * DANE said; xs2s_tls_peer_cert() gives the certificate's details for
 * diagnostics. See docs/TLS.md for the rules.
 *
 * Time: certificate validity is judged against the wall-clock time the
 * caller passes to xs2s_tls_verify_peer(); the library reads no clock for
 * it. (GnuTLS itself reads the clock during the handshake for protocol
 * purposes.)
 *
 * Thread-safety: an xs2s_tls must be used by one thread at a time. A fully
 * configured xs2s_tls_creds may be shared by sessions running in different
 * threads (its reference count is atomic); configuring it (the _add_ and
 * _set_ functions) must happen before it is shared, and is refused with
 * XS2S_ERR_BAD_STATE once a session has been created from it.
 */
#ifndef XS2S_TLS_H
#define XS2S_TLS_H

#include <stdint.h>

#include <xs2s/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Credentials shared by TLS sessions (opaque, reference-counted). */
typedef struct xs2s_tls_creds xs2s_tls_creds;

/** One TLS session over memory buffers (opaque). */
typedef struct xs2s_tls xs2s_tls;

/** ALPN protocol identifier of XEP-0368 direct TLS for S2S. */
#define XS2S_TLS_ALPN_XMPP_SERVER "xmpp-server"

/** Largest plaintext carried by one TLS record (RFC 8446 section 5.1). */
#define XS2S_TLS_MAX_RECORD 16384u

/** Returned by xs2s_tls_handshake(): the handshake needs more input. */
#define XS2S_TLS_AGAIN 1

/* ------------------------------------------------------------------------ */
/* Credentials                                                              */
/* ------------------------------------------------------------------------ */

/**
 * xs2s_tls_creds_new - create empty credentials.
 * @mem: allocator for the xs2s-side memory (copied; NULL for libc's).
 *
 * The new object has one reference, owned by the caller. Without any
 * certificate it can still initiate sessions (presenting no certificate) but
 * cannot receive them; without any trust anchor no peer chain is trusted
 * (DANE-EE can still authenticate). Returns NULL when out of memory.
 */
XS2S_EXTERN xs2s_tls_creds *xs2s_tls_creds_new(const xs2s_mem *mem);

/**
 * xs2s_tls_creds_ref - take one more reference.
 * @creds: credentials (non-NULL).
 *
 * Returns @creds. Thread-safe.
 */
XS2S_EXTERN xs2s_tls_creds *xs2s_tls_creds_ref(xs2s_tls_creds *creds);

/**
 * xs2s_tls_creds_unref - drop one reference; NULL is allowed.
 * @creds: credentials.
 *
 * The object is freed when the last reference goes (the caller's and those
 * held by live xs2s_tls sessions). Thread-safe.
 */
XS2S_EXTERN void xs2s_tls_creds_unref(xs2s_tls_creds *creds);

/**
 * xs2s_tls_creds_add_cert_file - add a certificate chain and its key.
 * @creds: credentials not yet used by a session.
 * @domain: the local domain this certificate serves (copied; "example.com",
 *          a trailing dot and case are ignored, IDNs in U- or A-labels), or
 *          NULL to serve whatever names the certificate carries.
 * @cert_file: PEM file: the end-entity certificate first, then its
 *             intermediates in order (path copied only for the call).
 * @key_file: PEM file with the private key (PKCS#1, PKCS#8 unencrypted or
 *            SEC1); may be the same file as @cert_file.
 *
 * May be called once per local domain. The first certificate added is the
 * default: the receiving side uses it when the peer sent no SNI, or an SNI
 * that no certificate serves. Selection on the receiving side: a
 * certificate added for exactly the SNI name, else one whose names match
 * the SNI name by the rules of xs2s_tls_match_name(), else the default. On
 * the initiating side the same lookup is made with the local domain given
 * in xs2s_tls_options; no match there means no certificate is presented.
 *
 * Returns 0; XS2S_ERR_TLS_CREDENTIALS when a file cannot be read or parsed
 * or the key does not belong to the certificate; XS2S_ERR_INVALID_ARGUMENT
 * for a @domain that is not a valid domain name; XS2S_ERR_BAD_STATE after a
 * session was created; XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_creds_add_cert_file(xs2s_tls_creds *creds,
                                             const char *domain,
                                             const char *cert_file,
                                             const char *key_file);

/**
 * xs2s_tls_creds_add_cert_mem - xs2s_tls_creds_add_cert_file() from memory.
 * @creds: credentials not yet used by a session.
 * @domain: as for xs2s_tls_creds_add_cert_file().
 * @cert_pem: PEM text of the chain (copied; need not be NUL-terminated).
 * @cert_len: its length in bytes.
 * @key_pem: PEM text of the private key (copied).
 * @key_len: its length in bytes.
 *
 * Same rules and return values as xs2s_tls_creds_add_cert_file().
 */
XS2S_EXTERN int xs2s_tls_creds_add_cert_mem(xs2s_tls_creds *creds,
                                            const char *domain,
                                            const char *cert_pem,
                                            size_t cert_len,
                                            const char *key_pem,
                                            size_t key_len);

/**
 * xs2s_tls_creds_add_trust_file - trust the CA certificates in a PEM file.
 * @creds: credentials not yet used by a session.
 * @ca_file: PEM file with one or more CA certificates (path not kept).
 *
 * May be called several times and combined with
 * xs2s_tls_creds_add_system_trust(). Returns 0,
 * XS2S_ERR_TLS_CREDENTIALS when the file holds no usable certificate,
 * XS2S_ERR_BAD_STATE after a session was created, or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_creds_add_trust_file(xs2s_tls_creds *creds,
                                              const char *ca_file);

/**
 * xs2s_tls_creds_add_system_trust - trust the system's CA store.
 * @creds: credentials not yet used by a session.
 *
 * Uses the store GnuTLS was built with (on Debian the ca-certificates
 * bundle). Returns 0, XS2S_ERR_TLS_CREDENTIALS when the store is missing or
 * empty, XS2S_ERR_BAD_STATE after a session was created, or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_creds_add_system_trust(xs2s_tls_creds *creds);

/**
 * xs2s_tls_creds_add_crl_file - load certificate revocation lists.
 * @creds: credentials not yet used by a session.
 * @crl_file: PEM file with one or more CRLs (path not kept).
 *
 * A CRL is used when it is signed by a trusted CA; a peer certificate it
 * lists makes the chain XS2S_TLS_CHAIN_REVOKED. Returns 0,
 * XS2S_ERR_TLS_CREDENTIALS, XS2S_ERR_BAD_STATE or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_creds_add_crl_file(xs2s_tls_creds *creds,
                                            const char *crl_file);

/**
 * xs2s_tls_creds_set_priority - choose protocol versions and ciphers.
 * @creds: credentials not yet used by a session.
 * @priority: a GnuTLS priority string such as "NORMAL:-VERS-TLS1.2"
 *            (compiled now, not kept), or NULL for the default: GnuTLS's
 *            default priority (which follows the system-wide policy)
 *            without TLS 1.0 and 1.1, which RFC 8996 retired.
 *
 * Returns 0, XS2S_ERR_INVALID_ARGUMENT when GnuTLS rejects the string,
 * XS2S_ERR_BAD_STATE after a session was created, or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_creds_set_priority(xs2s_tls_creds *creds,
                                            const char *priority);

/* ------------------------------------------------------------------------ */
/* Sessions                                                                 */
/* ------------------------------------------------------------------------ */

/** Which side of the S2S connection we are (RFC 6120 terms). */
typedef enum xs2s_tls_role {
  /** We opened the connection: TLS client. */
  XS2S_TLS_INITIATING = 1,
  /** We accepted the connection: TLS server. */
  XS2S_TLS_RECEIVING = 2
} xs2s_tls_role;

/** xs2s_tls_options.flags: offer (initiating) or accept (receiving) the
 * ALPN protocol "xmpp-server", as XEP-0368 direct TLS does. A receiving
 * side with this flag still accepts peers that offer no ALPN. */
#define XS2S_TLS_DIRECT 0x1u

/**
 * struct xs2s_tls_options - per-session parameters.
 *
 * Zero-initialise and set what applies. Strings are copied by
 * xs2s_tls_new().
 */
typedef struct xs2s_tls_options {
  /** Initiating side: the domain we connect to, sent as SNI (required).
   * Receiving side: ignored. */
  const char *remote_domain;
  /** Initiating side: our own domain, whose certificate is presented when
   * the receiving peer asks for one (NULL: present none). Receiving side:
   * ignored (the certificate follows SNI). */
  const char *local_domain;
  /** XS2S_TLS_DIRECT or 0. */
  unsigned flags;
} xs2s_tls_options;

/**
 * xs2s_tls_new - create a TLS session over memory buffers.
 * @out: receives the session; set to NULL on failure.
 * @creds: credentials; the session takes its own reference.
 * @role: XS2S_TLS_INITIATING or XS2S_TLS_RECEIVING.
 * @options: parameters (copied); NULL means all zero, which is valid only
 *           for the receiving role.
 * @mem: allocator for buffers and copies (copied; NULL for libc's). GnuTLS
 *       allocates its own state with its own allocator.
 *
 * From now on @creds can no longer be configured. The initiating side's
 * first call of xs2s_tls_handshake() produces the ClientHello.
 *
 * Returns 0; XS2S_ERR_INVALID_ARGUMENT for a bad role or a missing
 * remote_domain on the initiating side; XS2S_ERR_TLS when GnuTLS refuses
 * the set-up (e.g. a bad priority string); XS2S_ERR_NOMEM. Free with
 * xs2s_tls_free().
 */
XS2S_EXTERN int xs2s_tls_new(xs2s_tls **out, xs2s_tls_creds *creds,
                             xs2s_tls_role role,
                             const xs2s_tls_options *options,
                             const xs2s_mem *mem);

/**
 * xs2s_tls_free - free a session and drop its credentials reference.
 * @t: session; NULL is allowed.
 *
 * Sends nothing: call xs2s_tls_bye() and flush the output first for an
 * orderly close. Every pointer obtained from @t becomes invalid.
 */
XS2S_EXTERN void xs2s_tls_free(xs2s_tls *t);

/**
 * xs2s_tls_feed - hand over ciphertext received from the peer.
 * @t: session.
 * @data: bytes as read from the connection (any chunking; copied).
 * @len: number of bytes.
 *
 * The bytes are buffered until xs2s_tls_handshake() or xs2s_tls_read()
 * consumes them; call one of those after each feed so the buffer stays
 * small. Returns 0, XS2S_ERR_STREAM_CLOSED after the peer's close_notify or
 * a fatal error, or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_feed(xs2s_tls *t, const void *data, size_t len);

/**
 * xs2s_tls_handshake - advance the handshake as far as the input allows.
 * @t: session.
 *
 * Consumes fed ciphertext and queues handshake messages as output. Returns
 * 0 when the handshake is complete (and at every later call),
 * XS2S_TLS_AGAIN when it waits for more input from the peer, or a negative
 * code: XS2S_ERR_TLS_HANDSHAKE (no common protocol or cipher, bad message,
 * the peer's fatal alert, no certificate to present...; see
 * xs2s_tls_error_detail()), XS2S_ERR_NOMEM. In every case send the pending
 * output: it may hold the next flight or the alert that tells the peer why.
 * After an error the session is unusable; free it.
 */
XS2S_EXTERN int xs2s_tls_handshake(xs2s_tls *t);

/**
 * xs2s_tls_is_established - whether the handshake has completed.
 * @t: session.
 *
 * Returns 1 after xs2s_tls_handshake() returned 0, else 0.
 */
XS2S_EXTERN int xs2s_tls_is_established(const xs2s_tls *t);

/**
 * xs2s_tls_write - encrypt plaintext for the peer.
 * @t: session with a completed handshake.
 * @data: plaintext (not kept).
 * @len: number of bytes; any size.
 *
 * Appends TLS records of at most XS2S_TLS_MAX_RECORD plaintext bytes each
 * to the output buffer. All or nothing: returns 0 when every byte was
 * queued, XS2S_ERR_BAD_STATE before the handshake completes or after
 * xs2s_tls_bye(), XS2S_ERR_TLS on a GnuTLS failure, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_write(xs2s_tls *t, const void *data, size_t len);

/**
 * xs2s_tls_read - decrypt received plaintext.
 * @t: session with a completed handshake.
 * @buf: where to put plaintext.
 * @cap: room in @buf (at least 1).
 *
 * Returns the number of bytes placed in @buf (> 0); 0 when no complete
 * record is buffered (feed more); XS2S_ERR_TLS_PEER_CLOSED once the peer
 * has closed the TLS session with close_notify (and at every later call);
 * XS2S_ERR_TLS for a bad record or a fatal alert, XS2S_ERR_NOMEM (the
 * session is unusable after either); XS2S_ERR_BAD_STATE before the
 * handshake completes. Call it
 * until it returns 0 after each xs2s_tls_feed(): several records may be
 * buffered. Reading may queue output (a TLS 1.3 key update answer), so
 * check xs2s_tls_output() afterwards too.
 */
XS2S_EXTERN ssize_t xs2s_tls_read(xs2s_tls *t, void *buf, size_t cap);

/**
 * xs2s_tls_output - the ciphertext waiting to be sent.
 * @t: session.
 * @len: receives the number of bytes (0 when nothing is pending).
 *
 * Returns a pointer into the session's output buffer, valid until the next
 * call of any other xs2s_tls function on @t. Send the bytes (all or part),
 * then call xs2s_tls_output_consume() with the count sent.
 */
XS2S_EXTERN const void *xs2s_tls_output(const xs2s_tls *t, size_t *len);

/**
 * xs2s_tls_output_consume - drop sent bytes from the front of the output.
 * @t: session.
 * @n: bytes sent; values above the pending length drop everything.
 */
XS2S_EXTERN void xs2s_tls_output_consume(xs2s_tls *t, size_t n);

/**
 * xs2s_tls_bye - close the TLS session in an orderly way.
 * @t: session.
 *
 * Queues a close_notify alert as output; further writes are refused. It
 * does not wait for the peer's close_notify: xs2s_tls_read() reports that
 * as XS2S_ERR_TLS_PEER_CLOSED if it comes. Before the handshake completes
 * it queues nothing. Returns 0, XS2S_ERR_TLS or XS2S_ERR_NOMEM; calling it
 * again is a no-op.
 */
XS2S_EXTERN int xs2s_tls_bye(xs2s_tls *t);

/**
 * xs2s_tls_error_detail - a human-readable reason for the last failure.
 * @t: session.
 *
 * Returns a string such as "A TLS fatal alert has been received: Handshake
 * failed" (borrowed until the next call on @t or its free), or "" when
 * nothing failed. For logs, not for parsing.
 */
XS2S_EXTERN const char *xs2s_tls_error_detail(const xs2s_tls *t);

/**
 * struct xs2s_tls_info - the negotiated parameters.
 *
 * Strings are borrowed from the session and stay valid until
 * xs2s_tls_free(); absent ones are NULL.
 */
typedef struct xs2s_tls_info {
  /** Protocol version, e.g. "TLS1.3". */
  const char *version;
  /** Bulk cipher, e.g. "AES-256-GCM". */
  const char *cipher;
  /** Full description, e.g.
   * "(TLS1.3)-(ECDHE-SECP256R1)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)". */
  const char *description;
  /** Negotiated ALPN protocol, e.g. "xmpp-server"; NULL if none. */
  const char *alpn;
  /** Server name: on the receiving side the SNI the peer sent (NULL if
   * none), on the initiating side the one we sent. */
  const char *sni;
  /** 1 if the peer presented a certificate, else 0. */
  int peer_cert;
} xs2s_tls_info;

/**
 * xs2s_tls_get_info - the parameters negotiated by the handshake.
 * @t: session with a completed handshake.
 * @info: filled on success.
 *
 * Returns 0 or XS2S_ERR_BAD_STATE before the handshake completes.
 */
XS2S_EXTERN int xs2s_tls_get_info(const xs2s_tls *t, xs2s_tls_info *info);

/* ------------------------------------------------------------------------ */
/* Peer certificate and identity                                            */
/* ------------------------------------------------------------------------ */

/** Kind of a name found in a certificate. */
typedef enum xs2s_tls_name_type {
  /** subjectAltName dNSName (A-labels), possibly "*.example.com". */
  XS2S_TLS_NAME_DNS = 1,
  /** subjectAltName otherName SRVName (id-on-dnsSRV, 1.3.6.1.5.5.7.8.7),
   * e.g. "_xmpp-server.example.com". */
  XS2S_TLS_NAME_SRV = 2,
  /** subjectAltName otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5), a JID in
   * UTF-8 as found in the certificate. */
  XS2S_TLS_NAME_XMPPADDR = 3,
  /** Subject common name: listed for diagnostics, never matched. */
  XS2S_TLS_NAME_CN = 4,
  /** Any other subjectAltName (URI, IP address, e-mail, other otherName),
   * listed for diagnostics only, in GnuTLS's text form. */
  XS2S_TLS_NAME_OTHER = 5
} xs2s_tls_name_type;

/** One name of a certificate; @value is UTF-8, NUL-terminated. */
typedef struct xs2s_tls_name {
  xs2s_tls_name_type type;
  const char *value;
} xs2s_tls_name;

/** How a domain was matched (xs2s_tls_match_name(), verification). */
typedef enum xs2s_tls_name_match {
  /** No name of the certificate is the domain. */
  XS2S_TLS_MATCH_NONE = 0,
  /** A dNSName equal to the domain. */
  XS2S_TLS_MATCH_DNSNAME = 1,
  /** A dNSName "*.parent" where the domain is one label under parent. */
  XS2S_TLS_MATCH_WILDCARD = 2,
  /** SRVName "_xmpp-server." followed by the domain. */
  XS2S_TLS_MATCH_SRVNAME = 3,
  /** id-on-xmppAddr equal to the domain (a bare domain JID). */
  XS2S_TLS_MATCH_XMPPADDR = 4,
  /** No name matched but a DANE-EE (usage 3) TLSA record did: RFC 7671
   * makes names irrelevant then. Only from xs2s_tls_verify_peer(). */
  XS2S_TLS_MATCH_DANE = 5
} xs2s_tls_name_match;

/**
 * xs2s_tls_match_name - check whether certificate names cover a domain.
 * @names: the certificate's names (e.g. xs2s_tls_cert_info.names).
 * @count: number of names.
 * @domain: the XMPP domain to authenticate, in U- or A-labels, any case,
 *          with or without one trailing dot.
 *
 * Pure function implementing RFC 6125 as profiled for XMPP by RFC 6120 and
 * RFC 7590: the domain and every presented name are compared as lower-case
 * A-labels. Tried in this order, the first success is returned: dNSName
 * equal; dNSName wildcard ("*" as the whole left-most label, at least two
 * labels after it, matching exactly one label); SRVName
 * "_xmpp-server.<domain>" (no wildcards); id-on-xmppAddr equal to the
 * domain (no wildcards; a JID with a local part or resource never matches).
 * The subject CN is never used, even when there are no subjectAltNames:
 * every certificate a public CA issues carries SANs, and CN is free text
 * that RFC 6125 section 6.4.4 already subordinates to them.
 *
 * Returns an xs2s_tls_name_match value (>= 0), or
 * XS2S_ERR_INVALID_ARGUMENT when @domain is empty, too long or not a valid
 * IDN. Thread-safe.
 */
XS2S_EXTERN int xs2s_tls_match_name(const xs2s_tls_name *names, size_t count,
                                    const char *domain);

/**
 * struct xs2s_tls_cert_info - the peer's end-entity certificate, decoded.
 *
 * All memory is owned by the session and valid until xs2s_tls_free().
 */
typedef struct xs2s_tls_cert_info {
  /** Subject DN in RFC 4514 form, e.g. "CN=a.test,O=xs2s test". */
  const char *subject;
  /** Issuer DN in RFC 4514 form. */
  const char *issuer;
  /** Serial number in hex. */
  const char *serial;
  /** SHA-256 of the DER certificate, lower-case hex. */
  const char *sha256;
  /** Validity period, seconds since the Unix epoch. */
  int64_t not_before;
  int64_t not_after;
  /** subjectAltNames in certificate order, then the subject CNs. */
  const xs2s_tls_name *names;
  size_t name_count;
  /** Number of certificates the peer sent (end-entity included). */
  size_t chain_length;
} xs2s_tls_cert_info;

/**
 * xs2s_tls_peer_cert - details of the certificate the peer presented.
 * @t: session with a completed handshake.
 * @info: receives a pointer to the details (owned by @t).
 *
 * Returns 0, XS2S_ERR_NOT_FOUND when the peer presented no certificate,
 * XS2S_ERR_BAD_STATE before the handshake completes, XS2S_ERR_TLS when the
 * certificate cannot be decoded, or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_peer_cert(xs2s_tls *t,
                                   const xs2s_tls_cert_info **info);

/**
 * struct xs2s_tlsa - one TLSA record (RFC 6698) as found in DNS.
 *
 * Pass only records whose answer the resolver validated as DNSSEC-secure.
 * @data is borrowed for the call.
 */
typedef struct xs2s_tlsa {
  /** 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE. */
  uint8_t usage;
  /** 0 full certificate, 1 SubjectPublicKeyInfo. */
  uint8_t selector;
  /** 0 exact, 1 SHA-256, 2 SHA-512. */
  uint8_t matching_type;
  /** Certificate association data and its length. */
  const unsigned char *data;
  size_t data_len;
} xs2s_tlsa;

/** Whether the peer's chain is trusted, or the first reason it is not
 * (checked in the order of the table in docs/TLS.md: no certificate,
 * revoked, self-signed / unknown CA, purpose, algorithm, other defects,
 * then dates). */
typedef enum xs2s_tls_chain_status {
  /** Chains to a trust anchor, every certificate valid at the given time,
   * not revoked, acceptable key purpose. */
  XS2S_TLS_CHAIN_TRUSTED = 0,
  /** The peer presented no certificate. */
  XS2S_TLS_CHAIN_NO_CERT = 1,
  /** A certificate of the chain is listed in a loaded CRL. */
  XS2S_TLS_CHAIN_REVOKED = 2,
  /** A single self-signed certificate that is not a trust anchor. */
  XS2S_TLS_CHAIN_SELF_SIGNED = 3,
  /** The chain does not lead to any trust anchor. */
  XS2S_TLS_CHAIN_UNKNOWN_CA = 4,
  /** The extended key usage forbids this use: for a receiving peer
   * serverAuth is needed, for an initiating peer serverAuth or
   * clientAuth (see docs/TLS.md). */
  XS2S_TLS_CHAIN_BAD_PURPOSE = 5,
  /** Signed with an algorithm or key size the priority settings reject. */
  XS2S_TLS_CHAIN_INSECURE = 6,
  /** A certificate of the chain has expired. */
  XS2S_TLS_CHAIN_EXPIRED = 7,
  /** A certificate of the chain is not valid yet. */
  XS2S_TLS_CHAIN_NOT_YET_VALID = 8,
  /** Any other defect (bad signature, CA constraints, malformed). */
  XS2S_TLS_CHAIN_INVALID = 9
} xs2s_tls_chain_status;

/** What the TLSA records said. */
typedef enum xs2s_tls_dane_status {
  /** No usable TLSA record was given: DANE played no part. */
  XS2S_TLS_DANE_NONE = 0,
  /** A record matched (see xs2s_tls_verify_result.dane_usage). */
  XS2S_TLS_DANE_MATCH = 1,
  /** Usable records were given and none matched: authentication fails,
   * whatever the PKIX result (fail closed). */
  XS2S_TLS_DANE_MISMATCH = 2
} xs2s_tls_dane_status;

/**
 * struct xs2s_tls_verify_result - the answer of xs2s_tls_verify_peer().
 *
 * Plain values only; nothing to free.
 */
typedef struct xs2s_tls_verify_result {
  /** 1 if the peer proved the domain by its certificate, else 0. */
  int authenticated;
  /** PKIX verdict on the chain against the credentials' trust anchors. */
  xs2s_tls_chain_status chain;
  /** How the domain matched the certificate's names (MATCH_DANE when only
   * a DANE-EE record vouched for it). */
  xs2s_tls_name_match name;
  /** DANE verdict. */
  xs2s_tls_dane_status dane;
  /** Usage (0-3) of the record that matched; -1 if none. */
  int dane_usage;
} xs2s_tls_verify_result;

/**
 * xs2s_tls_verify_peer - decide whether the peer proved a domain.
 * @t: session with a completed handshake.
 * @domain: the peer's XMPP domain (U- or A-labels).
 * @tlsa: DNSSEC-secure TLSA records for the peer's service (for S2S,
 *        _5269._tcp of the SRV target or _xmpp-server._tcp per RFC 7673),
 *        or NULL.
 * @tlsa_count: number of records.
 * @now_ms: wall-clock time, milliseconds since the Unix epoch (not a
 *          monotonic clock): certificates are valid or expired relative
 *          to it.
 * @result: filled in every case where the return value is not
 *          XS2S_ERR_BAD_STATE, XS2S_ERR_INVALID_ARGUMENT or XS2S_ERR_NOMEM.
 *
 * Without usable TLSA records the peer is authenticated when the chain is
 * trusted and the name matches. With them, RFC 6698 / RFC 7671 decide:
 * DANE-EE (3) matching the end-entity certificate authenticates by itself
 * (no CA, names or dates needed); DANE-TA (2) makes the matching chain
 * certificate the trust anchor, and the name must match; PKIX-TA (0) and
 * PKIX-EE (1) additionally need the PKIX chain trusted and the name
 * matched. Records with an unknown usage, selector or matching type, or
 * data of the wrong length, are unusable and ignored. If usable records
 * exist and none is satisfied, the peer is not authenticated.
 *
 * The key-purpose rule depends on the role: a peer we received the
 * connection from (we are the TLS server) may present a certificate with
 * serverAuth only, as public CAs issue them since 2026.
 *
 * May be called several times, e.g. once per domain multiplexed on the
 * stream. Returns 0 when authenticated; XS2S_ERR_CERT_UNTRUSTED (chain not
 * trusted, or no certificate), XS2S_ERR_CERT_NAME_MISMATCH (trusted chain,
 * name not covered), XS2S_ERR_DANE_MISMATCH (records given, none
 * satisfied); XS2S_ERR_BAD_STATE before the handshake completes;
 * XS2S_ERR_INVALID_ARGUMENT for a bad domain; XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_tls_verify_peer(xs2s_tls *t, const char *domain,
                                     const xs2s_tlsa *tlsa, size_t tlsa_count,
                                     uint64_t now_ms,
                                     xs2s_tls_verify_result *result);

/**
 * xs2s_tls_chain_status_name - short name of a chain status.
 * @status: a value of xs2s_tls_chain_status.
 *
 * Returns a static string such as "trusted", "unknown-ca", "expired";
 * "unknown" for other values. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_tls_chain_status_name(int status);

/**
 * xs2s_tls_name_match_name - short name of a name-match result.
 * @match: a value of xs2s_tls_name_match.
 *
 * Returns a static string such as "none", "dnsname", "wildcard",
 * "srvname", "xmppaddr", "dane"; "unknown" for other values. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_tls_name_match_name(int match);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_TLS_H */
