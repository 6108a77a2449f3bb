/*
 * xs2s - XMPP server-to-server federation library
 * dialback.h: XEP-0220 server dialback with XEP-0185 keys.
 *
 * Dialback proves that the server at the other end of a stream speaks for a
 * domain. Three servers take part:
 *
 *   initiating     opens a stream to the receiving server and sends
 *                  <db:result from='sender' to='target'>KEY</db:result>;
 *   receiving      asks the authoritative server of the sender domain,
 *                  over a stream of its own to that domain, with
 *                  <db:verify from='target' to='sender' id='ID'>KEY</db:verify>
 *                  where ID is the id of the stream the key came in on;
 *   authoritative  recomputes the key from its secret and answers
 *                  <db:verify type='valid'/> or type='invalid'; the
 *                  receiving server then answers the initiating server with
 *                  <db:result type='valid'/> (or 'invalid', or 'error').
 *
 * The key is XEP-0185's: hex(HMAC-SHA256(hex(SHA-256(secret)),
 * "receiving originating stream-id")). It depends on nothing but the
 * secret, so every server instance that shares the secret can answer a
 * <db:verify> for any other.
 *
 * This header holds the parts an embedder may use on their own: the key,
 * the stream feature, the per-pair states and the values that travel
 * between the stream a key arrives on and the stream that verifies it. The
 * per-stream state machine is driven by xs2s_session; see docs/DIALBACK.md.
 *
 * Thread-safety: every function here is pure (or reads only gnutls_rnd)
 * and may be called from any thread.
 */
#ifndef XS2S_DIALBACK_H
#define XS2S_DIALBACK_H

#include <stdint.h>
#include <sys/socket.h>

#include <xs2s/common.h>
#include <xs2s/condition.h>
#include <xs2s/stanza.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a XEP-0185 key as text: 64 hex digits and a NUL. */
#define XS2S_DIALBACK_KEY_SIZE 65
/** Longest domain name (RFC 7622 domainpart) dialback accepts, in bytes. */
#define XS2S_DIALBACK_DOMAIN_MAX 1023
/** Longest stream id dialback accepts, in bytes. */
#define XS2S_DIALBACK_ID_MAX 255
/** Longest key text dialback accepts from a peer, in bytes (other
 * implementations may use other key algorithms than XEP-0185's). */
#define XS2S_DIALBACK_KEY_MAX 255
/** Default time a dialback step may stay pending: 30 s. */
#define XS2S_DIALBACK_DEFAULT_TIMEOUT_MS 30000u
/** Default number of domain pairs one stream may carry. */
#define XS2S_DIALBACK_DEFAULT_MAX_PAIRS 64u

/**
 * enum xs2s_dialback_state - state of one (sender, target) domain pair.
 *
 * Every pair on a stream starts at NONE. Sending or accepting a
 * <db:result> makes it PENDING; the answer makes it VALID (stanzas may flow
 * from sender to target on that stream), INVALID (the key was refused; the
 * stream is closed) or ERROR (a dialback error; the stream stays up for the
 * other pairs, and the pair may be tried again).
 */
typedef enum xs2s_dialback_state {
  XS2S_DIALBACK_NONE = 0, /**< never negotiated on this stream */
  XS2S_DIALBACK_PENDING,  /**< key sent or received, answer awaited */
  XS2S_DIALBACK_VALID,    /**< verified: the pair may exchange stanzas */
  XS2S_DIALBACK_INVALID,  /**< the key was invalid */
  XS2S_DIALBACK_ERROR     /**< dialback error (see the condition) */
} xs2s_dialback_state;

/**
 * struct xs2s_dialback_request - a key the receiving server must verify.
 *
 * Made when a <db:result> arrives on an incoming stream. The engine
 * delivers it, as <db:verify>, over a stream to the originating domain's
 * authoritative server. A plain value: it may be copied and queued while
 * that stream is being opened.
 */
typedef struct xs2s_dialback_request {
  /** Sender domain, the 'from' of the <db:result> (the peer's claim). */
  char originating[XS2S_DIALBACK_DOMAIN_MAX + 1];
  /** Target domain, the 'to' of the <db:result> (one of ours). */
  char receiving[XS2S_DIALBACK_DOMAIN_MAX + 1];
  /** Id of the incoming stream the <db:result> came in on. */
  char stream_id[XS2S_DIALBACK_ID_MAX + 1];
  /** The key exactly as received, surrounding whitespace removed. */
  char key[XS2S_DIALBACK_KEY_MAX + 1];
} xs2s_dialback_request;

/**
 * struct xs2s_dialback_answer - the authoritative server's verdict.
 *
 * Made when a <db:verify type=...> answer arrives on the verifying stream
 * (or made by the engine when the authoritative server cannot be reached).
 * The engine hands it to the incoming stream whose id is @stream_id; that
 * stream then answers the initiating server.
 */
typedef struct xs2s_dialback_answer {
  char originating[XS2S_DIALBACK_DOMAIN_MAX + 1]; /**< sender domain */
  char receiving[XS2S_DIALBACK_DOMAIN_MAX + 1];   /**< target domain */
  char stream_id[XS2S_DIALBACK_ID_MAX + 1];       /**< incoming stream id */
  /** XS2S_DIALBACK_VALID, XS2S_DIALBACK_INVALID or XS2S_DIALBACK_ERROR. */
  xs2s_dialback_state result;
  /** For ERROR: the dialback error the receiving server sends the
   * initiating server (remote-server-not-found, remote-connection-failed,
   * remote-server-timeout, ...). XS2S_STANZA_ERR_NONE otherwise. */
  xs2s_stanza_condition condition;
} xs2s_dialback_answer;

/** Bit of xs2s_dialback_feature_parse(): the dialback feature is offered. */
#define XS2S_DIALBACK_FEATURE_OFFERED 0x1u
/** Bit of xs2s_dialback_feature_parse(): the peer handles dialback errors
 * (<errors/>), so target domains may be multiplexed on its stream. */
#define XS2S_DIALBACK_FEATURE_ERRORS 0x2u

/**
 * xs2s_dialback_key - compute a XEP-0185 dialback key.
 * @secret: the dialback secret shared by the servers of the originating
 *          domain (NUL-terminated, not empty).
 * @receiving_domain: the receiving (target) domain.
 * @originating_domain: the originating (sender) domain.
 * @stream_id: id of the stream from the initiating to the receiving server
 *             (the id the receiving server put in its stream header).
 * @out: receives 64 lowercase hex digits and a NUL.
 *
 * Computes hex(HMAC-SHA256(key = hex(SHA-256(@secret)), message =
 * @receiving_domain " " @originating_domain " " @stream_id)) with GnuTLS.
 * Domains and id must be non-empty, at most XS2S_DIALBACK_DOMAIN_MAX /
 * XS2S_DIALBACK_ID_MAX bytes and free of spaces (the separator), else
 * XS2S_ERR_INVALID_ARGUMENT. Returns 0, or XS2S_ERR_INTERNAL when GnuTLS
 * fails; @out is an empty string on any failure. Thread-safe.
 */
XS2S_EXTERN int xs2s_dialback_key(const char *secret,
                                  const char *receiving_domain,
                                  const char *originating_domain,
                                  const char *stream_id,
                                  char out[XS2S_DIALBACK_KEY_SIZE]);

/**
 * xs2s_dialback_key_equal - compare a received key with the expected one.
 * @expected: the key computed here (NUL-terminated).
 * @received: the key from the peer; surrounding XML whitespace is ignored.
 * @received_len: bytes of @received.
 *
 * Returns 1 when they are equal, else 0. The time taken depends only on
 * the lengths, not on where the keys differ, so a peer cannot learn a
 * valid key byte by byte. Thread-safe.
 */
XS2S_EXTERN int xs2s_dialback_key_equal(const char *expected,
                                        const char *received,
                                        size_t received_len);

/**
 * xs2s_dialback_secret_generate - make a random dialback secret.
 * @out: receives 64 hex digits (256 bits from gnutls_rnd) and a NUL.
 *
 * For servers that were given no secret: XEP-0185 allows one chosen at
 * random at start-up (keys then stop verifying across restarts and across
 * instances). Returns 0, or XS2S_ERR_INTERNAL when the random generator
 * fails. Thread-safe.
 */
XS2S_EXTERN int xs2s_dialback_secret_generate(char out[XS2S_DIALBACK_KEY_SIZE]);

/**
 * xs2s_dialback_state_name - name of a pair state.
 *
 * Returns "none", "pending", "valid", "invalid" or "error" (static), or
 * NULL for a value out of range. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_dialback_state_name(xs2s_dialback_state s);

/**
 * xs2s_dialback_feature_add - offer dialback with error handling.
 * @features: the <stream:features/> element being built.
 *
 * Appends <dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>
 * (XEP-0220 section 2.4.2), telling the initiating server that dialback
 * errors are understood here. Returns 0, XS2S_ERR_NOMEM, or
 * XS2S_ERR_INVALID_ARGUMENT when @features is not an element. The new
 * nodes belong to @features' tree.
 */
XS2S_EXTERN int xs2s_dialback_feature_add(xs2s_stanza *features);

/**
 * xs2s_dialback_feature_parse - read the dialback feature of a peer.
 * @features: a received <stream:features/> element (NULL gives 0).
 *
 * Returns a set of XS2S_DIALBACK_FEATURE_* bits: OFFERED when a <dialback/>
 * in urn:xmpp:features:dialback is present, ERRORS when it also has an
 * <errors/> child. Thread-safe for distinct trees.
 */
XS2S_EXTERN unsigned xs2s_dialback_feature_parse(const xs2s_stanza *features);

/**
 * xs2s_dialback_may_multiplex - may a new target domain use this stream?
 * @peer_features: what the receiving server's features offered
 *                 (xs2s_dialback_feature_parse() of its <stream:features/>).
 * @stream_peer: the address and port the existing stream is connected to.
 * @candidates: addresses and ports the new target domain resolves to.
 * @count: number of @candidates.
 *
 * XEP-0220 section 2.5.2 allows target multiplexing only when the peer
 * advertised dialback errors and the new target resolves to the same IP
 * address and port as the stream. Returns 1 when both hold for at least
 * one candidate, else 0. AF_INET and AF_INET6 are compared by address
 * and port (an IPv4-mapped IPv6 address equals its IPv4 address); other
 * families never match. Sender multiplexing (a new sender domain to the
 * same target) needs no such check. Thread-safe.
 */
XS2S_EXTERN int xs2s_dialback_may_multiplex(
    unsigned peer_features, const struct sockaddr *stream_peer,
    const struct sockaddr *const *candidates, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_DIALBACK_H */
