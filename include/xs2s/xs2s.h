/*
 * xs2s - XMPP server-to-server federation library
 * xs2s.h: the whole public API in one include.
 *
 *   #include <xs2s/xs2s.h>
 *   cc prog.c $(pkg-config --cflags --libs xs2s)
 *
 * Thread-safety: objects are not shared between threads. Each xs2s object
 * (parser, stanza, session, context) must be used by one thread at a time;
 * distinct objects may be used from distinct threads concurrently. Functions
 * that take no object (xs2s_strerror(), the condition names,
 * xs2s_dialback_key()) are thread-safe.
 */
#ifndef XS2S_XS2S_H
#define XS2S_XS2S_H

#include <xs2s/common.h>
#include <xs2s/condition.h>
#include <xs2s/tls.h>
#include <xs2s/resolve.h>
#include <xs2s/stanza.h>
#include <xs2s/parser.h>
#include <xs2s/dialback.h>
#include <xs2s/session.h>

/* ------------------------------------------------------------------------ */
/* The federation engine (ctx layer): configuration, event-loop types,      */
/* connection introspection. See docs/ENGINE.md for how they fit together.  */
/* ------------------------------------------------------------------------ */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * xs2s_config - everything an engine needs to know, as plain data.
 *
 * An xs2s_config is built with the setters below, checked with
 * xs2s_config_check(), and read back with the getters (a config-file parser
 * or a reload handler can compare two configs field by field). An engine
 * copies the config it is given, so the caller may free or change its own
 * afterwards.
 *
 * Domains given to any setter are checked against the RFC 7622 domainpart
 * rules (labels of letters, digits and hyphens or UTF-8, an IPv6 literal in
 * brackets) and stored in normal form: ASCII lower-cased, one trailing dot
 * removed. Getters return the normal form. Every string a setter takes is
 * copied; every string a getter returns is owned by the config and valid
 * until the config is freed or that field is set again.
 *
 * Thread-safety: a config may be read from several threads at once (the
 * getters and xs2s_config_check() do not modify it) but must not be
 * changed while another thread uses it.
 */
typedef struct xs2s_config xs2s_config;

/** Default port of XMPP server-to-server connections (RFC 6120). */
#define XS2S_DEFAULT_PORT 5269
/** Default port of a direct-TLS listener (XEP-0368 deployments' custom). */
#define XS2S_DEFAULT_DIRECT_TLS_PORT 5270

/**
 * enum xs2s_tls_mode - whether streams must, may or must not use TLS.
 *
 * The global mode applies to every remote domain without an override.
 */
typedef enum xs2s_tls_mode {
  /** Per-domain override only: use the global mode. */
  XS2S_TLS_INHERIT = 0,
  /** STARTTLS (or direct TLS) is mandatory in both directions; a peer that
   * does not offer it, or refuses it, is not talked to. */
  XS2S_TLS_REQUIRED = 1,
  /** TLS is offered and used whenever the peer offers it (the default). */
  XS2S_TLS_OPTIONAL = 2,
  /** TLS is neither offered nor used (test networks only). */
  XS2S_TLS_OFF = 3
} xs2s_tls_mode;

/** enum xs2s_privacy_mode - which remote domains may be talked to. */
typedef enum xs2s_privacy_mode {
  /** Every remote domain (the default). */
  XS2S_PRIVACY_OFF = 0,
  /** Only domains on the allow list (and domains with static routes). */
  XS2S_PRIVACY_ALLOW_LIST = 1,
  /** Every domain except those on the deny list (domains with static
   * routes are always allowed). */
  XS2S_PRIVACY_DENY_LIST = 2
} xs2s_privacy_mode;

/**
 * enum xs2s_limit - numeric limits, set with xs2s_config_set_limit().
 *
 * Each limit has a safe default (given here and by
 * xs2s_config_limit_default()) and a name for configuration files
 * (xs2s_config_limit_name()).
 */
typedef enum xs2s_limit {
  /** Bytes of serialised stanzas waiting for one remote domain while its
   * stream is being set up; a send that would exceed it fails at once with
   * XS2S_ERR_LIMIT. Default 1048576 (1 MiB); 1 to 2^40. "queue-bytes". */
  XS2S_LIMIT_QUEUE_BYTES = 0,
  /** Bytes of one incoming stanza (and of the stream header). Default
   * 262144 (256 KiB, XS2S_DEFAULT_MAX_STANZA_BYTES); 1024 to 2^30.
   * "stanza-bytes". */
  XS2S_LIMIT_STANZA_BYTES,
  /** Open connections in total, both directions. Default 4096; 1 to 2^20.
   * "connections". */
  XS2S_LIMIT_CONNECTIONS,
  /** Incoming connections from one IP address. Default 64; 1 to 2^20.
   * "connections-per-address". */
  XS2S_LIMIT_CONNECTIONS_PER_ADDRESS,
  /** Element depth inside one stanza. Default 64; 2 to 4096.
   * "parser-depth". */
  XS2S_LIMIT_PARSER_DEPTH,
  /** Attributes (namespace declarations included) on one element. Default
   * 64; 4 to 4096. "parser-attributes". */
  XS2S_LIMIT_PARSER_ATTRIBUTES,
  /** Unanswered TCP keepalive probes before a connection is declared dead
   * (TCP_KEEPCNT). Default 3; 1 to 127. "tcp-keepalive-count". */
  XS2S_LIMIT_TCP_KEEPALIVE_COUNT,
  /** Backlog of each listening socket (listen(2)). Default 128; 1 to
   * 65535. "listen-backlog". */
  XS2S_LIMIT_LISTEN_BACKLOG,
  /** Connection attempts one source may make at once before the
   * accept-rate applies (the size of its token bucket); a source is an
   * IPv4 address or an IPv6 /64. Default 64; 1 to 2^20. "accept-burst". */
  XS2S_LIMIT_ACCEPT_BURST,
  /** Connection attempts per minute one source regains (its bucket's
   * refill); an attempt that finds the bucket empty is closed at accept
   * and counted in refused_by_limit. Default 600 (10 a second); 0 = no
   * rate limit; up to 2^20. "accept-rate". */
  XS2S_LIMIT_ACCEPT_RATE,
  /** Sources the accept-rate table tracks (rounded down to a power of
   * two; 24 bytes each, allocated on the first connection). When full, a
   * new source replaces the fullest bucket near its slot. Default 4096; 8
   * to 2^24. "accept-sources". */
  XS2S_LIMIT_ACCEPT_SOURCES,
  /** Broken incoming streams whose XEP-0198 resumption state is kept at
   * once (each for the "sm-resume" time); the oldest is forgotten first.
   * Default 1024; 1 to 2^20. "sm-resumable". */
  XS2S_LIMIT_SM_RESUMABLE,
  XS2S_LIMIT_COUNT_ /**< number of limits (not a limit) */
} xs2s_limit;

/**
 * enum xs2s_timeout - durations in milliseconds, set with
 * xs2s_config_set_timeout().
 *
 * Every value is in ms and at most 2^31 - 1. Where 0 is allowed it
 * switches the behaviour off. Names for configuration files come from
 * xs2s_config_timeout_name().
 */
typedef enum xs2s_timeout {
  /** TCP connect to one candidate address, after which the next candidate
   * is tried. Default 10000 (10 s); 100 upward. "connect". */
  XS2S_TIMEOUT_CONNECT = 0,
  /** From TCP connected to a stream ready for authentication: stream
   * headers, features, STARTTLS and the TLS handshake. Default 30000
   * (30 s); 100 upward. "handshake". */
  XS2S_TIMEOUT_HANDSHAKE,
  /** One dialback step (result or verify) awaiting its answer. Default
   * 30000 (30 s, XS2S_DIALBACK_DEFAULT_TIMEOUT_MS); 100 upward.
   * "dialback". */
  XS2S_TIMEOUT_DIALBACK,
  /** A stream that carried no stanza for this long is closed. Default
   * 600000 (10 min); 0 = never. "idle". */
  XS2S_TIMEOUT_IDLE,
  /** Whitespace keepalive: a single space is sent on an outgoing stream
   * silent for this long, so NATs and firewalls keep it. Default 60000
   * (1 min); 0 = never. "keepalive". */
  XS2S_TIMEOUT_KEEPALIVE,
  /** After sending </stream:stream>, time allowed for the peer's own
   * close before the socket is closed anyway. Default 5000 (5 s); 0 =
   * close at once. "closing". */
  XS2S_TIMEOUT_CLOSING,
  /** Longest time a stanza waits in the queue for an authenticated
   * stream before it is bounced with remote-server-timeout. Default
   * 120000 (2 min); 1000 upward. "queue". */
  XS2S_TIMEOUT_QUEUE,
  /** First delay before a remote domain whose connection failed is tried
   * again; the delay doubles after each failure. Default 5000 (5 s);
   * 0 upward. "retry-min". */
  XS2S_TIMEOUT_RETRY_MIN,
  /** Largest retry delay. Default 300000 (5 min); 0 upward.
   * "retry-max". */
  XS2S_TIMEOUT_RETRY_MAX,
  /** Silence on a connection before the kernel sends TCP keepalive probes
   * (TCP_KEEPIDLE, rounded up to whole seconds). Default 60000 (60 s);
   * 0 = no TCP keepalive. "tcp-keepalive-idle". */
  XS2S_TIMEOUT_TCP_KEEPALIVE_IDLE,
  /** Interval between TCP keepalive probes (TCP_KEEPINTVL, rounded up to
   * whole seconds). With the defaults a dead peer is noticed 90 s after
   * the last byte. Default 10000 (10 s); 1000 upward.
   * "tcp-keepalive-interval". */
  XS2S_TIMEOUT_TCP_KEEPALIVE_INTERVAL,
  /** Connections refused at accept (connection limits, accept-rate) are
   * logged one line for the first, then one summary line with the count
   * per this interval while refusals go on. Default 10000 (10 s); 0 = one
   * line per refusal. "refusal-log". */
  XS2S_TIMEOUT_REFUSAL_LOG,
  /** A connection with no bytes in or out for this long gives memory
   * back: the stream parser's libxml2 context and scratch memory (between
   * stanzas) and empty buffers, about half of an idle stream's footprint;
   * the next bytes rebuild them, invisibly to the application. Default
   * 5000 (5 s); 0 = never. "trim". */
  XS2S_TIMEOUT_TRIM,
  /** XEP-0198: how long a broken incoming stream can be resumed (its
   * state is kept, offered to peers as <enabled max/> in seconds, rounded
   * up). Default 60000 (60 s); 0 = acknowledgements only, no
   * resumption. "sm-resume". */
  XS2S_TIMEOUT_SM_RESUME,
  XS2S_TIMEOUT_COUNT_ /**< number of timeouts (not a timeout) */
} xs2s_timeout;

/** xs2s_config_add_listener() flag: connections on this listener start
 * with TLS at once (XEP-0368 direct TLS, ALPN "xmpp-server"). */
#define XS2S_LISTEN_DIRECT_TLS 0x1u
/** xs2s_config_add_listener() flag: set SO_REUSEPORT, so that several
 * engines (one per thread or process) can listen on the same address and
 * the kernel spreads connections between them. */
#define XS2S_LISTEN_REUSEPORT 0x2u

/** xs2s_config_add_route() flag: connect with direct TLS (XEP-0368). */
#define XS2S_ROUTE_DIRECT_TLS 0x1u

/**
 * struct xs2s_route - one static-route target, as read back by
 * xs2s_config_route_at().
 */
typedef struct xs2s_route {
  /** Host name or IP address without brackets (owned by the config). */
  const char *host;
  /** TCP port. */
  uint16_t port;
  /** XS2S_ROUTE_* flags. */
  unsigned flags;
} xs2s_route;

/**
 * xs2s_config_new - create a configuration with every default.
 * @mem: allocator for the config and for the engines made from it (copied;
 *       NULL for the C library's).
 *
 * Defaults: no local domain, no listener, TLS optional, no valid
 * certificate required, the system trust store, no CRL, a random dialback
 * secret (see xs2s_config_set_dialback_secret()), privacy off, no static
 * route, libunbound's own resolver settings, and the limits and timeouts
 * listed with enum xs2s_limit and enum xs2s_timeout. Returns NULL when out
 * of memory. Free with xs2s_config_free().
 */
XS2S_EXTERN xs2s_config *xs2s_config_new(const xs2s_mem *mem);

/**
 * xs2s_config_free - free a configuration; NULL is allowed.
 * @cfg: configuration.
 *
 * Engines made from @cfg keep their own copies and are not affected.
 */
XS2S_EXTERN void xs2s_config_free(xs2s_config *cfg);

/**
 * xs2s_config_copy - deep-copy a configuration.
 * @cfg: configuration to copy.
 *
 * Returns a new config with the same settings and allocator, owned by the
 * caller, or NULL when out of memory.
 */
XS2S_EXTERN xs2s_config *xs2s_config_copy(const xs2s_config *cfg);

/**
 * xs2s_config_get_mem - the allocator of a configuration.
 * @cfg: configuration.
 * @out: receives the allocator hooks (the C library's when none were
 *       given).
 */
XS2S_EXTERN void xs2s_config_get_mem(const xs2s_config *cfg, xs2s_mem *out);

/**
 * xs2s_config_check - check that a configuration is coherent.
 * @cfg: configuration.
 * @msg: buffer for a one-line explanation in English (may be NULL).
 * @msg_size: bytes at @msg; the text is cut to fit and always
 *            NUL-terminated when @msg_size > 0.
 *
 * Finds settings that cannot work together, and reports the first one:
 * no local domain; TLS required (globally or for a remote domain, or
 * implied by requiring a valid certificate) while a local domain has no
 * certificate; a valid certificate required while TLS is off, or while no
 * trust anchor (CA file or system store) is configured; a direct-TLS
 * listener while a local domain has no certificate; a certificate, key,
 * CA, CRL or resolver file that cannot be read; a static route for a local
 * domain, or for a domain on the deny list in deny-list mode; a queue
 * bound smaller than the stanza bound; retry-min above retry-max. On
 * success @msg is set to "".
 *
 * Returns 0, or XS2S_ERR_CONFIG with the reason in @msg.
 */
XS2S_EXTERN int xs2s_config_check(const xs2s_config *cfg, char *msg,
                                  size_t msg_size);

/* -- Local domains -------------------------------------------------------- */

/**
 * xs2s_config_add_domain - serve a local domain.
 * @cfg: configuration.
 * @domain: the domain (copied, normalised).
 * @cert_file: PEM file with the certificate chain for @domain, leaf first
 *             (path copied; the file is read when an engine starts), or
 *             NULL for a domain without a certificate (dialback only, and
 *             no TLS for streams to it).
 * @key_file: PEM file with its private key, or NULL when the key is in
 *            @cert_file. Must be NULL when @cert_file is NULL.
 *
 * Returns 0; XS2S_ERR_INVALID_ARGUMENT for a malformed domain, an empty
 * path, or a key without a certificate; XS2S_ERR_EXISTS when @domain is
 * already local; XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_add_domain(xs2s_config *cfg, const char *domain,
                                       const char *cert_file,
                                       const char *key_file);

/**
 * xs2s_config_domain_count - number of local domains.
 * @cfg: configuration.
 */
XS2S_EXTERN size_t xs2s_config_domain_count(const xs2s_config *cfg);

/**
 * xs2s_config_domain_at - a local domain, in the order they were added.
 * @cfg: configuration.
 * @i: index below xs2s_config_domain_count().
 * @cert_file: receives the certificate path or NULL (may be NULL).
 * @key_file: receives the key path: the certificate path when the key is
 *            in the same file, NULL without a certificate (may be NULL).
 *
 * Returns the domain in normal form, or NULL when @i is out of range.
 */
XS2S_EXTERN const char *xs2s_config_domain_at(const xs2s_config *cfg,
                                              size_t i,
                                              const char **cert_file,
                                              const char **key_file);

/**
 * xs2s_config_is_local - whether a domain is one of the local domains.
 * @cfg: configuration.
 * @domain: any spelling (case, trailing dot) of a domain.
 *
 * Returns 1 or 0 (0 also for a malformed domain).
 */
XS2S_EXTERN int xs2s_config_is_local(const xs2s_config *cfg,
                                     const char *domain);

/* -- Trust ---------------------------------------------------------------- */

/**
 * xs2s_config_set_ca_file - trust the CA certificates in a PEM file.
 * @cfg: configuration.
 * @path: PEM file (copied), or NULL for none (the default).
 *
 * Used in addition to the system store unless that is switched off with
 * xs2s_config_set_system_trust(). Returns 0, XS2S_ERR_INVALID_ARGUMENT for
 * an empty path, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_ca_file(xs2s_config *cfg, const char *path);

/**
 * xs2s_config_ca_file - the CA file, or NULL.
 * @cfg: configuration.
 */
XS2S_EXTERN const char *xs2s_config_ca_file(const xs2s_config *cfg);

/**
 * xs2s_config_set_system_trust - whether to trust the system CA store.
 * @cfg: configuration.
 * @on: 1 (the default) or 0.
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT when @on is neither 0 nor 1.
 */
XS2S_EXTERN int xs2s_config_set_system_trust(xs2s_config *cfg, int on);

/**
 * xs2s_config_system_trust - 1 when the system CA store is trusted.
 * @cfg: configuration.
 */
XS2S_EXTERN int xs2s_config_system_trust(const xs2s_config *cfg);

/**
 * xs2s_config_set_crl_file - check peer certificates against CRLs.
 * @cfg: configuration.
 * @path: PEM file with one or more CRLs (copied), or NULL for none (the
 *        default).
 *
 * Returns 0, XS2S_ERR_INVALID_ARGUMENT for an empty path, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_crl_file(xs2s_config *cfg, const char *path);

/**
 * xs2s_config_crl_file - the CRL file, or NULL.
 * @cfg: configuration.
 */
XS2S_EXTERN const char *xs2s_config_crl_file(const xs2s_config *cfg);

/**
 * xs2s_config_set_tls_priority - GnuTLS priority string for every session.
 * @cfg: configuration.
 * @priority: e.g. "NORMAL:-VERS-TLS1.2" (copied), or NULL for the GnuTLS
 *            default (the default).
 *
 * The string is checked by GnuTLS when an engine starts. Returns 0,
 * XS2S_ERR_INVALID_ARGUMENT for an empty string, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_tls_priority(xs2s_config *cfg,
                                             const char *priority);

/**
 * xs2s_config_tls_priority - the priority string, or NULL for the default.
 * @cfg: configuration.
 */
XS2S_EXTERN const char *xs2s_config_tls_priority(const xs2s_config *cfg);

/* -- Dialback ------------------------------------------------------------- */

/**
 * xs2s_config_set_dialback_secret - the XEP-0185 dialback secret.
 * @cfg: configuration.
 * @secret: NUL-terminated secret (copied; the old copy is wiped), or NULL
 *          for a random secret chosen when an engine starts (the default).
 *
 * Every engine that serves the same domains (every node of a cluster, every
 * thread with its own engine) must have the same secret, or the dialback
 * keys one makes will not verify at another. Returns 0,
 * XS2S_ERR_INVALID_ARGUMENT for an empty secret, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_dialback_secret(xs2s_config *cfg,
                                                const char *secret);

/**
 * xs2s_config_dialback_secret - the secret, or NULL when none was set.
 * @cfg: configuration.
 */
XS2S_EXTERN const char *xs2s_config_dialback_secret(const xs2s_config *cfg);

/* -- Security policy ------------------------------------------------------ */

/**
 * xs2s_config_set_tls_mode - the global TLS mode.
 * @cfg: configuration.
 * @mode: XS2S_TLS_REQUIRED, XS2S_TLS_OPTIONAL (the default) or
 *        XS2S_TLS_OFF.
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT for any other value.
 */
XS2S_EXTERN int xs2s_config_set_tls_mode(xs2s_config *cfg,
                                         xs2s_tls_mode mode);

/**
 * xs2s_config_tls_mode - the global TLS mode.
 * @cfg: configuration.
 */
XS2S_EXTERN xs2s_tls_mode xs2s_config_tls_mode(const xs2s_config *cfg);

/**
 * xs2s_config_set_require_valid_cert - the global certificate policy.
 * @cfg: configuration.
 * @on: 1: a remote domain is authenticated only by a certificate that is
 *      trusted and names it (dialback alone is refused, and TLS is
 *      therefore required); 0 (the default): dialback is accepted when the
 *      certificate is missing or not valid.
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT when @on is neither 0 nor 1.
 */
XS2S_EXTERN int xs2s_config_set_require_valid_cert(xs2s_config *cfg, int on);

/**
 * xs2s_config_require_valid_cert - the global certificate policy (1 or 0).
 * @cfg: configuration.
 */
XS2S_EXTERN int xs2s_config_require_valid_cert(const xs2s_config *cfg);

/**
 * xs2s_config_set_bidi - XEP-0288 bidirectional streams.
 * @cfg: configuration.
 * @on: 1: offer <bidi/> on incoming streams and request it on outgoing
 *      ones; a remote domain that connected to us on a bidirectional
 *      stream then gets our stanzas on that stream, without a connection
 *      of our own. 0 (the default): one direction per stream.
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT when @on is neither 0 nor 1.
 */
XS2S_EXTERN int xs2s_config_set_bidi(xs2s_config *cfg, int on);

/**
 * xs2s_config_bidi - whether bidirectional streams are on (1 or 0).
 * @cfg: configuration.
 */
XS2S_EXTERN int xs2s_config_bidi(const xs2s_config *cfg);

/**
 * xs2s_config_set_stream_management - XEP-0198 stream management.
 * @cfg: configuration.
 * @on: 1 (the default): offer <sm/> on incoming streams, enable it on
 *      outgoing streams whose peer offers it, keep every stanza written
 *      until the peer acknowledges it, and after a broken stream resume it
 *      (resending what was not acknowledged) or bounce what was not
 *      acknowledged; 0: neither offer nor use it (stanzas written to a
 *      stream that breaks may be lost, as without XEP-0198).
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT when @on is neither 0 nor 1.
 */
XS2S_EXTERN int xs2s_config_set_stream_management(xs2s_config *cfg, int on);

/**
 * xs2s_config_stream_management - whether XEP-0198 is on (1 or 0).
 * @cfg: configuration.
 */
XS2S_EXTERN int xs2s_config_stream_management(const xs2s_config *cfg);

/**
 * xs2s_config_set_remote_policy - override the security policy for one
 * remote domain.
 * @cfg: configuration.
 * @domain: remote domain (copied, normalised); exact match, no wildcard.
 * @tls_mode: the domain's TLS mode, or XS2S_TLS_INHERIT for the global one.
 * @require_valid_cert: 1 or 0, or -1 for the global setting.
 *
 * Setting the same domain again replaces its override; XS2S_TLS_INHERIT
 * with -1 makes it follow the global policy again. Returns 0,
 * XS2S_ERR_INVALID_ARGUMENT (malformed domain, value out of range),
 * XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_remote_policy(xs2s_config *cfg,
                                              const char *domain,
                                              xs2s_tls_mode tls_mode,
                                              int require_valid_cert);

/**
 * xs2s_config_remote_policy_count - number of per-domain overrides.
 * @cfg: configuration.
 */
XS2S_EXTERN size_t xs2s_config_remote_policy_count(const xs2s_config *cfg);

/**
 * xs2s_config_remote_policy_at - one override, in the order first set.
 * @cfg: configuration.
 * @i: index below xs2s_config_remote_policy_count().
 * @tls_mode: receives the override's TLS mode (may be NULL).
 * @require_valid_cert: receives 1, 0 or -1 (may be NULL).
 *
 * Returns the domain, or NULL when @i is out of range. The effective
 * policy for any domain is what the engine computes from these and the
 * global settings; see docs/ENGINE.md.
 */
XS2S_EXTERN const char *xs2s_config_remote_policy_at(const xs2s_config *cfg,
                                                     size_t i,
                                                     xs2s_tls_mode *tls_mode,
                                                     int *require_valid_cert);

/* -- Privacy -------------------------------------------------------------- */

/**
 * xs2s_config_set_privacy_mode - which remote domains may be talked to.
 * @cfg: configuration.
 * @mode: XS2S_PRIVACY_OFF (the default), XS2S_PRIVACY_ALLOW_LIST or
 *        XS2S_PRIVACY_DENY_LIST.
 *
 * Both lists are kept whatever the mode; the mode says which one applies.
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT for any other value.
 */
XS2S_EXTERN int xs2s_config_set_privacy_mode(xs2s_config *cfg,
                                             xs2s_privacy_mode mode);

/**
 * xs2s_config_privacy_mode - the privacy mode.
 * @cfg: configuration.
 */
XS2S_EXTERN xs2s_privacy_mode xs2s_config_privacy_mode(const xs2s_config *cfg);

/**
 * xs2s_config_add_privacy_domain - put a domain on the allow or deny list.
 * @cfg: configuration.
 * @list: XS2S_PRIVACY_ALLOW_LIST or XS2S_PRIVACY_DENY_LIST.
 * @domain: exact domain (copied, normalised; matching ignores ASCII case;
 *          subdomains are not included).
 *
 * Adding a domain that is already on the list changes nothing. Returns 0,
 * XS2S_ERR_INVALID_ARGUMENT (bad list or malformed domain),
 * XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_add_privacy_domain(xs2s_config *cfg,
                                               xs2s_privacy_mode list,
                                               const char *domain);

/**
 * xs2s_config_privacy_domain_count - number of domains on a list.
 * @cfg: configuration.
 * @list: XS2S_PRIVACY_ALLOW_LIST or XS2S_PRIVACY_DENY_LIST (else 0).
 */
XS2S_EXTERN size_t xs2s_config_privacy_domain_count(const xs2s_config *cfg,
                                                    xs2s_privacy_mode list);

/**
 * xs2s_config_privacy_domain_at - a domain on a list, in the order added.
 * @cfg: configuration.
 * @list: XS2S_PRIVACY_ALLOW_LIST or XS2S_PRIVACY_DENY_LIST.
 * @i: index below xs2s_config_privacy_domain_count().
 *
 * Returns the domain, or NULL when @list or @i is out of range.
 */
XS2S_EXTERN const char *
xs2s_config_privacy_domain_at(const xs2s_config *cfg, xs2s_privacy_mode list,
                              size_t i);

/* -- Static routes -------------------------------------------------------- */

/**
 * xs2s_config_add_route - connect to a domain through a fixed address.
 * @cfg: configuration.
 * @domain: remote domain (copied, normalised).
 * @host_port: "host", "host:port", "192.0.2.1:5269", "[2001:db8::1]:5269"
 *             or "[2001:db8::1]" (IPv6 literals always in brackets); the
 *             port defaults to 5269, or 5270 with XS2S_ROUTE_DIRECT_TLS.
 *             A host name is resolved with A/AAAA only (never SRV).
 * @flags: 0 or XS2S_ROUTE_DIRECT_TLS.
 *
 * Call once per target; targets are tried in the order added. A domain
 * with static routes never falls back to DNS SRV, and is allowed whatever
 * the privacy mode. Returns 0; XS2S_ERR_INVALID_ARGUMENT for a malformed
 * domain, host, port or flag; XS2S_ERR_EXISTS when the same target is
 * already listed for @domain; XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_add_route(xs2s_config *cfg, const char *domain,
                                      const char *host_port, unsigned flags);

/**
 * xs2s_config_route_domain_count - number of domains with static routes.
 * @cfg: configuration.
 */
XS2S_EXTERN size_t xs2s_config_route_domain_count(const xs2s_config *cfg);

/**
 * xs2s_config_route_domain_at - a routed domain, in the order first added.
 * @cfg: configuration.
 * @i: index below xs2s_config_route_domain_count().
 *
 * Returns the domain, or NULL when @i is out of range.
 */
XS2S_EXTERN const char *xs2s_config_route_domain_at(const xs2s_config *cfg,
                                                    size_t i);

/**
 * xs2s_config_route_count - number of targets for a domain.
 * @cfg: configuration.
 * @domain: any spelling of the domain.
 *
 * Returns 0 when the domain has no static route.
 */
XS2S_EXTERN size_t xs2s_config_route_count(const xs2s_config *cfg,
                                           const char *domain);

/**
 * xs2s_config_route_at - one target of a domain's static route.
 * @cfg: configuration.
 * @domain: any spelling of the domain.
 * @i: index below xs2s_config_route_count().
 * @out: receives the target (strings owned by @cfg).
 *
 * Returns 0, or XS2S_ERR_NOT_FOUND when the domain has no such target.
 */
XS2S_EXTERN int xs2s_config_route_at(const xs2s_config *cfg,
                                     const char *domain, size_t i,
                                     xs2s_route *out);

/* -- Resolver ------------------------------------------------------------- */

/**
 * xs2s_config_set_unbound_config - read a libunbound configuration file.
 * @cfg: configuration.
 * @path: file for ub_ctx_config() (copied), e.g. with trust anchors for
 *        DNSSEC or local-data for tests; NULL for none (the default).
 *
 * Returns 0, XS2S_ERR_INVALID_ARGUMENT for an empty path, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_unbound_config(xs2s_config *cfg,
                                               const char *path);

/**
 * xs2s_config_unbound_config - the libunbound configuration file, or NULL.
 * @cfg: configuration.
 */
XS2S_EXTERN const char *xs2s_config_unbound_config(const xs2s_config *cfg);

/**
 * xs2s_config_set_resolv_conf - forward DNS queries to the servers of a
 * resolv.conf file.
 * @cfg: configuration.
 * @path: file for ub_ctx_resolvconf() (copied), or NULL (the default) for
 *        libunbound's own recursion from the root.
 *
 * Returns 0, XS2S_ERR_INVALID_ARGUMENT for an empty path, XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_set_resolv_conf(xs2s_config *cfg,
                                            const char *path);

/**
 * xs2s_config_resolv_conf - the resolv.conf path, or NULL.
 * @cfg: configuration.
 */
XS2S_EXTERN const char *xs2s_config_resolv_conf(const xs2s_config *cfg);

/* -- Limits and timeouts -------------------------------------------------- */

/**
 * xs2s_config_set_limit - set a numeric limit.
 * @cfg: configuration.
 * @which: the limit.
 * @value: new value, within the range given with enum xs2s_limit.
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT for an unknown limit or a value
 * out of range (the limit is unchanged).
 */
XS2S_EXTERN int xs2s_config_set_limit(xs2s_config *cfg, xs2s_limit which,
                                      uint64_t value);

/**
 * xs2s_config_limit - the value of a limit (0 for an unknown limit).
 * @cfg: configuration.
 * @which: the limit.
 */
XS2S_EXTERN uint64_t xs2s_config_limit(const xs2s_config *cfg,
                                       xs2s_limit which);

/**
 * xs2s_config_limit_default - the default value of a limit (0 if unknown).
 * @which: the limit.
 */
XS2S_EXTERN uint64_t xs2s_config_limit_default(xs2s_limit which);

/**
 * xs2s_config_limit_name - the configuration-file name of a limit.
 * @which: the limit.
 *
 * Returns a static string such as "queue-bytes", or NULL when unknown.
 */
XS2S_EXTERN const char *xs2s_config_limit_name(xs2s_limit which);

/**
 * xs2s_config_limit_from_name - look a limit up by its name.
 * @name: e.g. "queue-bytes".
 *
 * Returns the limit, or XS2S_LIMIT_COUNT_ when the name is unknown.
 */
XS2S_EXTERN xs2s_limit xs2s_config_limit_from_name(const char *name);

/**
 * xs2s_config_set_timeout - set a duration.
 * @cfg: configuration.
 * @which: the timeout.
 * @ms: milliseconds, within the range given with enum xs2s_timeout.
 *
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT for an unknown timeout or a
 * value out of range (the timeout is unchanged).
 */
XS2S_EXTERN int xs2s_config_set_timeout(xs2s_config *cfg, xs2s_timeout which,
                                        uint64_t ms);

/**
 * xs2s_config_timeout - the value of a timeout in ms (0 if unknown).
 * @cfg: configuration.
 * @which: the timeout.
 */
XS2S_EXTERN uint64_t xs2s_config_timeout(const xs2s_config *cfg,
                                         xs2s_timeout which);

/**
 * xs2s_config_timeout_default - the default of a timeout in ms.
 * @which: the timeout.
 */
XS2S_EXTERN uint64_t xs2s_config_timeout_default(xs2s_timeout which);

/**
 * xs2s_config_timeout_name - the configuration-file name of a timeout.
 * @which: the timeout.
 *
 * Returns a static string such as "idle", or NULL when unknown.
 */
XS2S_EXTERN const char *xs2s_config_timeout_name(xs2s_timeout which);

/**
 * xs2s_config_timeout_from_name - look a timeout up by its name.
 * @name: e.g. "dialback".
 *
 * Returns the timeout, or XS2S_TIMEOUT_COUNT_ when the name is unknown.
 */
XS2S_EXTERN xs2s_timeout xs2s_config_timeout_from_name(const char *name);

/* -- Listeners ------------------------------------------------------------ */

/**
 * xs2s_config_add_listener - accept connections on an address.
 * @cfg: configuration.
 * @addr_port: an IP address and optional port: "0.0.0.0", "[::]:5269",
 *             "192.0.2.1:5269", "[2001:db8::1]" (IPv6 in brackets). The
 *             port defaults to 5269, or 5270 with XS2S_LISTEN_DIRECT_TLS;
 *             port 0 picks a free port (for tests). An IPv6 listener
 *             accepts IPv6 only (IPV6_V6ONLY): add "0.0.0.0" as well for
 *             IPv4.
 * @flags: XS2S_LISTEN_DIRECT_TLS and/or XS2S_LISTEN_REUSEPORT.
 *
 * Returns 0; XS2S_ERR_INVALID_ARGUMENT for a malformed address (host names
 * are not accepted), port or flag; XS2S_ERR_EXISTS when the address and
 * port are already listed (port 0 excepted); XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_config_add_listener(xs2s_config *cfg,
                                         const char *addr_port,
                                         unsigned flags);

/**
 * xs2s_config_listener_count - number of listeners.
 * @cfg: configuration.
 */
XS2S_EXTERN size_t xs2s_config_listener_count(const xs2s_config *cfg);

/**
 * xs2s_config_listener_at - a listener, in the order added.
 * @cfg: configuration.
 * @i: index below xs2s_config_listener_count().
 * @flags: receives its XS2S_LISTEN_* flags (may be NULL).
 *
 * Returns the address in normal form ("192.0.2.1:5269",
 * "[2001:db8::1]:5269"), or NULL when @i is out of range.
 */
XS2S_EXTERN const char *xs2s_config_listener_at(const xs2s_config *cfg,
                                                size_t i, unsigned *flags);

/* -- Stanza error replies ------------------------------------------------- */

/** The original's children are copied into an error reply when the whole
 * original serialises to at most this many bytes. */
#define XS2S_ERROR_REPLY_MAX_PAYLOAD 4096

/**
 * xs2s_stanza_error_reply - build the RFC 6120 error reply to a stanza.
 * @orig: the stanza that failed (message, presence or iq).
 * @cond: the stanza-error condition (not XS2S_STANZA_ERR_NONE); the error
 *        type is the one RFC 6120 pairs with it.
 * @text: optional English text for the <text/> element, or NULL.
 * @out: receives the reply, a new tree owned by the caller.
 *
 * The reply swaps 'from' and 'to', keeps the id, name and namespace, has
 * type 'error', and carries the original's payload when it is small
 * (XS2S_ERROR_REPLY_MAX_PAYLOAD). Some stanzas must never be answered, so
 * that two entities cannot bounce errors at each other forever: errors, iq
 * results, unavailable presence, presence probes, anything without 'from'.
 * This is the reply the engine itself sends on streams.
 *
 * Returns 0 with *@out set; 1 with *@out NULL when no reply is due;
 * XS2S_ERR_INVALID_ARGUMENT (not an element, bad condition, @out NULL);
 * XS2S_ERR_NOMEM. Thread-safe for distinct stanzas.
 */
XS2S_EXTERN int xs2s_stanza_error_reply(const xs2s_stanza *orig,
                                        xs2s_stanza_condition cond,
                                        const char *text, xs2s_stanza **out);

/* ------------------------------------------------------------------------ */
/* Event-loop integration types                                             */
/* ------------------------------------------------------------------------ */

/** Interest in, or readiness for, reading. */
#define XS2S_EV_READ 0x1u
/** Interest in, or readiness for, writing. */
#define XS2S_EV_WRITE 0x2u
/** Readiness only: the poller reported an error or hang-up on the fd
 * (EPOLLERR, EPOLLHUP, POLLERR, POLLHUP). The engine then reads or checks
 * the socket to learn what happened. */
#define XS2S_EV_ERROR 0x4u

/**
 * struct xs2s_loop_callbacks - hooks for an embedder's own event loop.
 *
 * An engine driven by the embedder's loop (libuv, libevent, GLib, a
 * hand-written epoll) never blocks and never polls: it reports which file
 * descriptors it wants watched, and when it next needs the time to pass,
 * through these two calls; the embedder reports readiness and expiry back
 * (see docs/ENGINE.md for the entry points). The struct is copied. Both
 * members are required. They are called from within engine calls, on the
 * engine's thread; they must not call back into the engine.
 */
typedef struct xs2s_loop_callbacks {
  /** Watch @fd for @events (XS2S_EV_READ and/or XS2S_EV_WRITE), replacing
   * any earlier interest in it; @events 0 means stop watching it: the
   * engine closes the fd right after that call, so the embedder must drop
   * it from its poller now. Return 0, or a negative value when the fd
   * cannot be watched (the engine then treats its connection as failed). */
  int (*watch)(int fd, unsigned events, void *user_data);
  /** The next timer is due in @timeout_ms milliseconds from now (0: as
   * soon as possible), replacing the previous one; -1 means no timer is
   * pending. Called only when the due time changes. Return 0, or a
   * negative value on failure. */
  int (*timer)(int64_t timeout_ms, void *user_data);
} xs2s_loop_callbacks;

/* ------------------------------------------------------------------------ */
/* Connection introspection                                                 */
/* ------------------------------------------------------------------------ */

/** Longest text of an address and port ("[v6 address]:65535"). */
#define XS2S_ADDRSTRLEN 56

/** Who opened a connection. */
typedef enum xs2s_direction {
  XS2S_DIR_INCOMING = 1, /**< the peer connected to us (we receive) */
  XS2S_DIR_OUTGOING = 2  /**< we connected to the peer (we initiate) */
} xs2s_direction;

/**
 * struct xs2s_conn_info - a snapshot of one connection.
 *
 * Filled by the engine's connection listing (see docs/ENGINE.md). Strings
 * are borrowed from the engine and valid until the engine next runs.
 */
typedef struct xs2s_conn_info {
  /** Identifier, unique within one engine for its lifetime. */
  uint64_t id;
  /** Who opened the connection. */
  xs2s_direction direction;
  /** Our domain on this stream (the first authenticated pair's). */
  const char *local_domain;
  /** The remote domain (the first authenticated pair's, or the one the
   * stream was opened for); NULL before the peer named itself. */
  const char *remote_domain;
  /** Further (local, remote) domain pairs multiplexed on this stream. */
  unsigned extra_pairs;
  /** The peer's address and port, e.g. "[2001:db8::1]:5269". */
  char peer_address[XS2S_ADDRSTRLEN];
  /** 1 when the stream is encrypted, else 0. */
  int tls;
  /** 1 when TLS started at connect time (XEP-0368), 0 for STARTTLS. */
  int direct_tls;
  /** Protocol version, e.g. "TLS1.3" (static), NULL without TLS. */
  const char *tls_version;
  /** Cipher suite name (static), NULL without TLS. */
  const char *tls_cipher;
  /** How the remote domain was authenticated. */
  xs2s_auth_method auth;
  /** Bytes read from and written to the socket (TLS overhead included). */
  uint64_t bytes_in, bytes_out;
  /** Stanzas received and sent (stream-level elements not counted). */
  uint64_t stanzas_in, stanzas_out;
  /** Milliseconds since the last stanza in either direction. */
  uint64_t idle_ms;
  /** Milliseconds since the connection was opened. */
  uint64_t age_ms;
  /** 1 when XEP-0198 stream management is on for the stream. */
  int sm;
  /** Outgoing: stanzas the peer acknowledged (XEP-0198). */
  uint64_t stanzas_acked;
  /** Outgoing: stanzas written and not acknowledged yet. */
  uint64_t stanzas_unacked;
} xs2s_conn_info;

/**
 * struct xs2s_counters - engine-wide totals since the engine started.
 */
typedef struct xs2s_counters {
  uint64_t connections_in;      /**< incoming connections accepted */
  uint64_t connections_out;     /**< outgoing connections established */
  uint64_t connect_failures;    /**< outgoing attempts that failed */
  uint64_t refused_by_limit;    /**< refused by a limit or the accept-rate */
  uint64_t auth_failures;       /**< streams whose peer failed to authenticate */
  uint64_t stanzas_in;          /**< stanzas delivered to the application */
  uint64_t stanzas_out;         /**< stanzas written to remote streams */
  uint64_t stanzas_bounced;     /**< stanzas handed back as undeliverable */
  uint64_t stanzas_rejected;    /**< inbound stanzas dropped (unauthorised) */
  uint64_t bytes_in, bytes_out; /**< socket bytes, all connections */
  uint64_t queued_bytes;        /**< bytes waiting in queues right now */
  uint64_t open_connections;    /**< connections open right now */
  /** stanzas accepted by xs2s_ctx_send() / xs2s_ctx_send_raw(); once
   * nothing is queued it equals stanzas_out + stanzas_bounced + the
   * sends to local domains (nothing lost silently), less
   * stanzas_resent and stanzas_bounced_unacked (XEP-0198) */
  uint64_t stanzas_accepted;
  /** XEP-0198: stanzas the receiving server acknowledged */
  uint64_t stanzas_acked;
  /** XEP-0198: written stanzas that the peer said it had not handled (its
   * <resumed h/>), put back at the front of the queue to be written again
   * (each write counted again in stanzas_out) */
  uint64_t stanzas_resent;
  /** XEP-0198: stanzas written but bounced because their stream broke
   * before they were acknowledged and could not be resumed (also counted
   * in stanzas_bounced). Once nothing is queued, stanzas_accepted =
   * stanzas_out - stanzas_resent - stanzas_bounced_unacked +
   * stanzas_bounced + the sends to local domains */
  uint64_t stanzas_bounced_unacked;
  /** XEP-0198: outgoing streams resumed */
  uint64_t sm_resumed_out;
  /** XEP-0198: incoming streams resumed by peers */
  uint64_t sm_resumed_in;
  /** XEP-0198: stanzas written and awaiting acknowledgement right now */
  uint64_t unacked_stanzas;
} xs2s_counters;

/**
 * xs2s_direction_name - "incoming" or "outgoing".
 * @d: a direction.
 *
 * Returns a static string, or NULL for a value out of range. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_direction_name(xs2s_direction d);

/* ------------------------------------------------------------------------ */
/* The engine                                                               */
/* ------------------------------------------------------------------------ */

/** The federation engine (opaque): listeners, outgoing and incoming
 * streams, queues, policy, timers. One engine is used by one thread. */
typedef struct xs2s_ctx xs2s_ctx;

/** Severity of an engine log line (syslog order). */
typedef enum xs2s_log_level {
  XS2S_LOG_ERROR = 0,
  XS2S_LOG_WARNING = 1,
  XS2S_LOG_INFO = 2,
  XS2S_LOG_DEBUG = 3
} xs2s_log_level;

/**
 * struct xs2s_peer_event - a domain pair came up or went down.
 *
 * Strings are borrowed for the duration of the callback.
 */
typedef struct xs2s_peer_event {
  /** Our domain of the pair. */
  const char *local_domain;
  /** The authenticated remote domain. */
  const char *remote_domain;
  /** Incoming: the peer sends to us; outgoing: we send to it. */
  xs2s_direction direction;
  /** The peer's address and port. */
  const char *peer_address;
  /** 1 when the stream is encrypted. */
  int tls;
  /** How the remote domain was authenticated. */
  xs2s_auth_method auth;
  /** The connection's id (as in xs2s_conn_info). */
  uint64_t conn_id;
  /** Down only: 0 for an orderly close, else a negative code. */
  int error;
} xs2s_peer_event;

/**
 * struct xs2s_ctx_callbacks - what an engine reports.
 *
 * Copied by xs2s_ctx_new(); every member may be NULL. All are called on
 * the engine's thread from inside xs2s_ctx_run(), xs2s_ctx_on_fd(),
 * xs2s_ctx_on_timer() or xs2s_ctx_free(), never from inside
 * xs2s_ctx_send(). They may call any xs2s_ctx function except
 * xs2s_ctx_free() and xs2s_ctx_run().
 */
typedef struct xs2s_ctx_callbacks {
  /** A stanza for a local domain whose 'from' domain is authenticated on
   * its stream (or sent by the application to a local domain). Lent for
   * the call (xs2s_stanza_copy() keeps it). @remote_domain is the
   * authenticated sending domain. Return 0 when handled, or a stanza
   * condition (> 0, e.g. XS2S_STANZA_ERR_SERVICE_UNAVAILABLE) to have xs2s
   * answer the sender with that error. */
  int (*stanza)(xs2s_ctx *ctx, const xs2s_stanza *stanza,
                const char *remote_domain, void *user_data);
  /** A stanza accepted by a send that cannot be delivered: the original
   * (lent), the RFC 6120 condition, a text for logs, and the tag given to
   * the send. Called exactly once for each such stanza. */
  void (*bounce)(xs2s_ctx *ctx, const xs2s_stanza *stanza,
                 xs2s_stanza_condition condition, const char *text,
                 void *tag, void *user_data);
  /** A domain pair was authenticated on a stream. */
  void (*peer_up)(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *user_data);
  /** A stream that carried an authenticated pair ended (once per pair). */
  void (*peer_down)(xs2s_ctx *ctx, const xs2s_peer_event *ev,
                    void *user_data);
  /** One log line (no trailing newline, borrowed). */
  void (*log)(xs2s_ctx *ctx, xs2s_log_level level, const char *line,
              void *user_data);
} xs2s_ctx_callbacks;

/**
 * xs2s_ctx_new - create an engine and open its listeners.
 * @out: receives the engine.
 * @cfg: configuration (copied; the caller keeps its own).
 * @cb: callbacks (copied; NULL for none).
 * @loop: the embedder's loop hooks (copied), or NULL for the built-in
 *        epoll loop driven by xs2s_ctx_run().
 * @user_data: passed to every callback, the loop hooks included.
 *
 * Checks the config (xs2s_config_check()), loads the certificates, creates
 * the resolver and binds every listener. The resolver (libunbound) reads
 * its configuration and starts its worker thread here, about a
 * millisecond and 1.5 MB that the engine's first lookup would otherwise
 * spend, so that the first connection does not wait for them. Returns 0; XS2S_ERR_CONFIG (the
 * reason is logged), XS2S_ERR_TLS_CREDENTIALS, XS2S_ERR_RESOLVER_CONFIG,
 * XS2S_ERR_SYSTEM (a listener could not be bound; errno says why),
 * XS2S_ERR_CALLBACK_FAILED, XS2S_ERR_NOMEM. Free with xs2s_ctx_free().
 */
XS2S_EXTERN int xs2s_ctx_new(xs2s_ctx **out, const xs2s_config *cfg,
                             const xs2s_ctx_callbacks *cb,
                             const xs2s_loop_callbacks *loop,
                             void *user_data);

/**
 * xs2s_ctx_free - shut the engine down and free it; NULL is allowed.
 * @ctx: engine.
 *
 * Every stanza still queued is handed to the bounce callback
 * (remote-server-timeout, "shutting down"), open streams get
 * </stream:stream> written (best effort, without waiting), every socket is
 * closed (the loop's watch(fd, 0) first) and everything is freed. Not from
 * a callback. For a graceful close that waits for the peers, call
 * xs2s_ctx_shutdown() and run the loop until it returns first.
 */
XS2S_EXTERN void xs2s_ctx_free(xs2s_ctx *ctx);

/**
 * xs2s_ctx_shutdown - close every stream in an orderly way.
 * @ctx: engine.
 *
 * Closes the listeners, bounces every queued stanza (remote-server-timeout,
 * "shutting down"), and closes every stream with </stream:stream>; further
 * sends fail with XS2S_ERR_BAD_STATE. xs2s_ctx_run() returns once the last
 * connection is gone. Returns 0.
 */
XS2S_EXTERN int xs2s_ctx_shutdown(xs2s_ctx *ctx);

/**
 * xs2s_ctx_reconfigure - apply a new configuration to a running engine.
 * @ctx: engine.
 * @cfg: the new configuration (copied; the caller keeps its own).
 * @msg: buffer for one line in English (may be NULL): why the change was
 *       refused, or on success what was applied (listeners kept, opened,
 *       closed; streams closed by the new policy).
 * @msg_size: bytes at @msg; the text is cut to fit and NUL-terminated.
 *
 * Established streams stay unless the new policy forbids them. Applied
 * in place: privacy mode and lists, per-domain TLS and certificate
 * overrides, the global TLS mode and certificate requirement, static
 * routes, certificates, keys, CA, CRL, system trust and TLS priority
 * (reloaded from their files even when the names did not change: new
 * sessions use the new credentials, existing ones keep theirs), the
 * dialback secret, XEP-0288, limits, timeouts and listeners (new
 * addresses are bound, removed ones closed, kept ones keep their socket).
 *
 * A stream whose remote domain the new policy forbids (deny list, not on
 * the allow list), or that lacks TLS or a valid certificate now required
 * for its domain, is closed with the stream error policy-violation; the
 * queued stanzas of a forbidden domain are bounced with policy-violation
 * (from the loop, as every bounce). Static routes, session timeouts and
 * parser limits apply to connections made afterwards; an authenticated
 * stream to a domain whose routes changed stays until it closes (idle
 * timeout). A new dialback secret is used at once by every stream: keys
 * made with the previous one, in flight at that moment, no longer verify
 * (and instances sharing the secret must change it together).
 *
 * Not applied: a change to the set of local domains, or to the resolver's
 * unbound configuration or resolv.conf file; then nothing changes and
 * XS2S_ERR_RESTART_REQUIRED is returned with the setting named in @msg
 * (create a new engine for such a change).
 *
 * The change is all or nothing. Returns 0; XS2S_ERR_CONFIG
 * (xs2s_config_check() failed), XS2S_ERR_RESTART_REQUIRED,
 * XS2S_ERR_TLS_CREDENTIALS, XS2S_ERR_SYSTEM (a new listener could not be
 * bound; @msg says which and why), XS2S_ERR_BAD_STATE (shutting down),
 * XS2S_ERR_NOMEM, XS2S_ERR_INVALID_ARGUMENT. The log and peer_down
 * callbacks may be called from inside this call. Not from a callback.
 */
XS2S_EXTERN int xs2s_ctx_reconfigure(xs2s_ctx *ctx, const xs2s_config *cfg,
                                     char *msg, size_t msg_size);

/**
 * xs2s_ctx_send - send a stanza to a remote (or local) domain.
 * @ctx: engine.
 * @stanza: message, presence or iq in jabber:server (jabber:client,
 *          jabber:component:accept and no namespace are rewritten to
 *          jabber:server, see xs2s_stanza_copy_ns()) with 'from' at one of
 *          our domains and 'to' at a valid domain; not taken (copied).
 * @tag: any pointer, handed back with a bounce.
 *
 * Returns 0 when accepted: from then on the stanza is either written to an
 * authenticated stream to its domain, delivered to the stanza callback
 * (local 'to'), or handed to the bounce callback exactly once — never
 * from inside this call. Otherwise nothing was accepted and nothing will
 * be called back: XS2S_ERR_INVALID_ARGUMENT (not a stanza, bad or foreign
 * 'from', bad 'to'), XS2S_ERR_POLICY (the privacy mode forbids the
 * domain), XS2S_ERR_LIMIT (the domain's queue is full),
 * XS2S_ERR_BAD_STATE (shutting down), XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_ctx_send(xs2s_ctx *ctx, const xs2s_stanza *stanza,
                              void *tag);

/**
 * xs2s_ctx_send_raw - send an already-serialised stanza.
 * @ctx: engine.
 * @from: the sender's address (JID; its domain must be ours); set on the
 *        stanza, replacing any 'from' in @xml.
 * @to: the recipient's address; set as 'to' likewise.
 * @xml: one stanza as XML text (not NUL-terminated necessarily).
 * @len: bytes at @xml.
 * @tag: handed back with a bounce.
 *
 * As xs2s_ctx_send(); the text is parsed (XS2S_ERR_INVALID_ARGUMENT when
 * it is not one well-formed element).
 */
XS2S_EXTERN int xs2s_ctx_send_raw(xs2s_ctx *ctx, const char *from,
                                  const char *to, const char *xml,
                                  size_t len, void *tag);

/**
 * xs2s_ctx_run - drive the engine with the built-in epoll loop.
 * @ctx: an engine made without loop hooks.
 *
 * Returns 0 after xs2s_ctx_stop(), or when nothing is left to wait for
 * (after xs2s_ctx_shutdown()); XS2S_ERR_BAD_STATE for an engine on an
 * external loop; XS2S_ERR_SYSTEM when epoll fails.
 */
XS2S_EXTERN int xs2s_ctx_run(xs2s_ctx *ctx);

/**
 * xs2s_ctx_stop - make xs2s_ctx_run() return.
 * @ctx: engine.
 *
 * The only function that may be called from another thread or a signal
 * handler. No effect on an engine on an external loop.
 */
XS2S_EXTERN void xs2s_ctx_stop(xs2s_ctx *ctx);

/**
 * xs2s_ctx_on_fd - external loop: an fd the engine watches is ready.
 * @ctx: engine.
 * @fd: the fd (as given to the watch hook).
 * @events: XS2S_EV_READ, XS2S_EV_WRITE and/or XS2S_EV_ERROR as seen.
 *
 * Spurious or stale events are ignored. Returns 0.
 */
XS2S_EXTERN int xs2s_ctx_on_fd(xs2s_ctx *ctx, int fd, unsigned events);

/**
 * xs2s_ctx_on_timer - external loop: the timer given to the timer hook
 * expired.
 * @ctx: engine.
 *
 * Runs what is due and reports the next deadline. Returns 0.
 */
XS2S_EXTERN int xs2s_ctx_on_timer(xs2s_ctx *ctx);

/**
 * xs2s_ctx_foreach_conn - list the current connections.
 * @ctx: engine.
 * @fn: called once per connection with a snapshot (strings valid during
 *      the call); a nonzero return stops the listing. It must not call
 *      into @ctx.
 * @arg: passed to @fn.
 *
 * Returns the number of connections listed.
 */
XS2S_EXTERN size_t xs2s_ctx_foreach_conn(xs2s_ctx *ctx,
                                         int (*fn)(const xs2s_conn_info *info,
                                                   void *arg),
                                         void *arg);

/**
 * xs2s_ctx_counters - the engine-wide counters.
 * @ctx: engine.
 * @out: receives a copy.
 */
XS2S_EXTERN void xs2s_ctx_counters(const xs2s_ctx *ctx, xs2s_counters *out);

/**
 * xs2s_ctx_listen_port - the port a listener is bound to.
 * @ctx: engine.
 * @i: listener index, in the config's order.
 *
 * Useful with port 0 in tests. Returns the port, or 0 when @i is out of
 * range.
 */
XS2S_EXTERN uint16_t xs2s_ctx_listen_port(const xs2s_ctx *ctx, size_t i);

/**
 * xs2s_log_level_name - "error", "warning", "info" or "debug" (static).
 * @level: a level; NULL for a value out of range. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_log_level_name(xs2s_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_XS2S_H */
