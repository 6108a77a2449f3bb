/*
 * xs2s - XMPP server-to-server federation library
 * resolve.h: where to connect for a remote domain.
 *
 * A resolver turns a domain into the list of connection candidates, in the
 * order they should be tried:
 *
 *  1. static routes configured for the domain, all equal (tried in a
 *     random order, like SRV records of one priority and weight); a
 *     domain with routes never falls back to DNS;
 *  2. else the SRV records of _xmpps-server._tcp.DOMAIN (XEP-0368, direct
 *     TLS) and _xmpp-server._tcp.DOMAIN (STARTTLS), merged into one set and
 *     ordered as RFC 2782 says: ascending priority, and inside a priority a
 *     weighted random order;
 *  3. a single SRV record with target "." means the domain offers no
 *     service: the resolution fails with XS2S_ERR_DNS_NO_SERVICE;
 *  4. with no SRV records at all (NXDOMAIN or no data for both names), the
 *     domain itself on port 5269 with STARTTLS.
 *
 * Each candidate carries its addresses (A and AAAA, IPv6 first, then
 * alternating families as RFC 8305 suggests), the DNSSEC status of the
 * answers it rests on, and, when the whole chain is DNSSEC-secure, the
 * TLSA records of _PORT._tcp.HOST for DANE (RFC 7673).
 *
 * Resolution is asynchronous on libunbound and never blocks: the embedder
 * watches xs2s_resolver_fd() for readability, honours
 * xs2s_resolver_timeout(), and calls xs2s_resolver_process(). For simple
 * programs xs2s_resolver_wait() does that with poll().
 *
 * DNSSEC: without a trust anchor every answer is "insecure" (validation has
 * nothing to start from). A "bogus" answer is never used: a bogus SRV
 * answer fails the resolution with XS2S_ERR_DNSSEC_BOGUS, a bogus address
 * or TLSA answer makes that candidate unusable.
 *
 * Thread-safety: a resolver and its queries are used by one thread at a
 * time. Each resolver owns its own libunbound context (with one background
 * thread of libunbound's); resolvers share nothing.
 */
#ifndef XS2S_RESOLVE_H
#define XS2S_RESOLVE_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <xs2s/common.h>
#include <xs2s/condition.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A resolver (opaque): one libunbound context, static routes, queries. */
typedef struct xs2s_resolver xs2s_resolver;

/** One resolution in progress (opaque); see xs2s_resolve_cancel(). */
typedef struct xs2s_resolve_query xs2s_resolve_query;

/** Port of the fallback candidate (RFC 6120 section 3.2.2). */
#define XS2S_RESOLVE_DEFAULT_PORT 5269
/** Default for xs2s_resolver_options.timeout_ms: 20 seconds. */
#define XS2S_RESOLVE_DEFAULT_TIMEOUT_MS 20000u
/** SRV records considered per service name; more is XS2S_ERR_LIMIT. */
#define XS2S_RESOLVE_MAX_SRV 1024u

/** DNSSEC status of an answer, as the validator judged it. */
typedef enum xs2s_dnssec {
  /** Not signed, or no trust anchor covers it: believed, not proven. */
  XS2S_DNSSEC_INSECURE = 0,
  /** Validated from a trust anchor (data or a proof of non-existence). */
  XS2S_DNSSEC_SECURE,
  /** Failed validation: never used. */
  XS2S_DNSSEC_BOGUS,
} xs2s_dnssec;

/** Where the candidates came from. */
typedef enum xs2s_resolve_source {
  /** The resolution failed before the source was known. */
  XS2S_RESOLVE_SOURCE_NONE = 0,
  /** Static routes configured with xs2s_resolver_add_route(). */
  XS2S_RESOLVE_SOURCE_STATIC,
  /** SRV records (_xmpps-server and/or _xmpp-server). */
  XS2S_RESOLVE_SOURCE_SRV,
  /** No SRV records: the domain itself on port 5269 (or an IP literal). */
  XS2S_RESOLVE_SOURCE_FALLBACK,
} xs2s_resolve_source;

/** How to start TLS on a candidate. */
typedef enum xs2s_resolve_tls {
  /** Clear-text stream, then STARTTLS (_xmpp-server, fallback). */
  XS2S_RESOLVE_TLS_STARTTLS = 0,
  /** TLS right after connect, ALPN xmpp-server (_xmpps-server, XEP-0368). */
  XS2S_RESOLVE_TLS_DIRECT,
} xs2s_resolve_tls;

/**
 * union xs2s_resolve_addr - one address to connect to, port included.
 *
 * sa.sa_family is AF_INET6 or AF_INET; xs2s_resolve_addr_len() gives the
 * length to pass to connect().
 */
typedef union xs2s_resolve_addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} xs2s_resolve_addr;

/** Length of the sockaddr in @a, for connect(). */
static inline socklen_t xs2s_resolve_addr_len(const xs2s_resolve_addr *a) {
  return a->sa.sa_family == AF_INET6 ? (socklen_t)sizeof(a->in6)
                                     : (socklen_t)sizeof(a->in);
}

/**
 * struct xs2s_resolve_tlsa - one TLSA record (RFC 6698) for DANE.
 *
 * Handed over only when the answer was DNSSEC-secure; checking the peer's
 * certificate against it is the TLS layer's job.
 */
typedef struct xs2s_resolve_tlsa {
  uint8_t usage;         /**< 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
  uint8_t selector;      /**< 0 full certificate, 1 SubjectPublicKeyInfo */
  uint8_t matching_type; /**< 0 exact, 1 SHA-256, 2 SHA-512 */
  const unsigned char *data; /**< certificate association data */
  size_t len;                /**< bytes at @data */
} xs2s_resolve_tlsa;

/**
 * struct xs2s_resolve_candidate - one place to try, in order.
 *
 * A candidate whose @naddrs is 0 cannot be tried; @error says why (the
 * host has no address records, its answers were bogus, a lookup failed,
 * or its TLSA lookup failed, which RFC 7673 says forbids connecting).
 */
typedef struct xs2s_resolve_candidate {
  /** Host to connect to: the SRV target, the route's host or the domain,
   * without a trailing dot. For TLS, the name to expect is the domain (the
   * source domain of the stream), not this host. */
  const char *host;
  uint16_t port;     /**< TCP port */
  uint16_t priority; /**< SRV priority; 0 for static routes and fallback */
  uint16_t weight;   /**< SRV weight; 0 for static routes and fallback */
  xs2s_resolve_tls tls; /**< STARTTLS or direct TLS */
  /** The weakest status of the answers the candidate rests on: the SRV
   * answer (or the proof that there is none) and the address answers.
   * Static routes with IP literals are "insecure". */
  xs2s_dnssec dnssec;
  /** 0, or why the candidate is unusable (naddrs is then 0). */
  int error;
  /** Addresses in connection order: IPv6 first, then alternating. */
  const xs2s_resolve_addr *addrs;
  size_t naddrs;
  /** Whether _PORT._tcp.HOST TLSA was looked up: only when @dnssec is
   * secure. */
  int tlsa_checked;
  /** Status of the TLSA answer when @tlsa_checked. */
  xs2s_dnssec tlsa_dnssec;
  /** DNSSEC-secure TLSA records; none means DANE does not apply. */
  const xs2s_resolve_tlsa *tlsa;
  size_t ntlsa;
} xs2s_resolve_candidate;

/**
 * struct xs2s_resolve_result - the outcome of one xs2s_resolve().
 *
 * On success @error is 0 and at least one candidate has addresses. On
 * failure @error is negative and @condition is the RFC 6120 condition to
 * bounce stanzas with: remote-server-not-found for NXDOMAIN, SERVFAIL, no
 * service, no addresses and bogus answers; remote-server-timeout for
 * XS2S_ERR_DNS_TIMEOUT; internal-server-error or resource-constraint for
 * local failures. A failed result may still list the candidates found, for
 * diagnostics.
 *
 * Owned by the library and valid only during the callback; keep one with
 * xs2s_resolve_result_copy().
 */
typedef struct xs2s_resolve_result {
  const char *domain;  /**< the domain asked for, without a trailing dot */
  int error;           /**< 0 or a negative XS2S_ERR_* code */
  xs2s_stanza_condition condition; /**< XS2S_STANZA_ERR_NONE on success */
  xs2s_resolve_source source;
  /** Validator's explanation of the first bogus answer, else NULL. */
  const char *why_bogus;
  const xs2s_resolve_candidate *candidates;
  size_t ncandidates;
} xs2s_resolve_result;

/**
 * xs2s_resolve_cb - called once per xs2s_resolve() that returned 0.
 * @result: lent for the duration of the call.
 * @user_data: as given to xs2s_resolve().
 *
 * May call any resolver function except xs2s_resolver_free() on the
 * resolver that calls it; its own query handle is no longer valid.
 */
typedef void (*xs2s_resolve_cb)(const xs2s_resolve_result *result,
                                void *user_data);

/**
 * struct xs2s_resolver_options - how to build a resolver.
 *
 * Zero-initialise, then set what you need; every field has a default.
 */
typedef struct xs2s_resolver_options {
  /** An unbound.conf(5) file: forwarders, stub zones, local-zone and
   * local-data, trust anchors. When set, resolv.conf and the hosts file
   * are read only if named below. */
  const char *unbound_conf;
  /** resolv.conf(5) whose nameservers are used as forwarders; NULL means
   * /etc/resolv.conf unless @unbound_conf is set. */
  const char *resolv_conf;
  /** hosts(5) file; NULL means /etc/hosts unless @unbound_conf is set. */
  const char *hosts_file;
  /** File of DS or DNSKEY records to validate from (e.g. the root key);
   * NULL for none: then every answer is insecure. */
  const char *trust_anchor_file;
  /** Whole-resolution deadline in milliseconds; 0 for the default. When
   * it passes, lookups still running fail with XS2S_ERR_DNS_TIMEOUT. */
  unsigned timeout_ms;
  /** Uniform 32-bit random numbers for the RFC 2782 weighted order; NULL
   * uses gnutls_rnd(). Tests inject a seeded generator. */
  uint32_t (*random)(void *random_user_data);
  void *random_user_data;
  /** Monotonic milliseconds for deadlines; NULL uses CLOCK_MONOTONIC. */
  uint64_t (*clock)(void *clock_user_data);
  void *clock_user_data;
  /** Allocator (copied); NULL for libc's. */
  const xs2s_mem *mem;
} xs2s_resolver_options;

/**
 * xs2s_resolver_new - create a resolver.
 * @out: receives the resolver (NULL on failure).
 * @options: configuration (read during the call only); NULL for defaults.
 *
 * Reads the configuration files now. Returns 0, XS2S_ERR_NOMEM, or
 * XS2S_ERR_RESOLVER_CONFIG when a file cannot be read or parsed (some
 * settings are only checked by libunbound at the first resolution, which
 * then returns the same code). Free with xs2s_resolver_free().
 */
XS2S_EXTERN int xs2s_resolver_new(xs2s_resolver **out,
                                  const xs2s_resolver_options *options);

/**
 * xs2s_resolver_free - free a resolver and cancel its queries.
 *
 * Callbacks of queries still in progress are not called. NULL is allowed.
 * Must not be called from a resolve callback.
 */
XS2S_EXTERN void xs2s_resolver_free(xs2s_resolver *r);

/**
 * xs2s_resolver_add_route - add a static route for a domain.
 * @domain: the remote domain (case-insensitive, trailing dot ignored).
 * @host: an IPv4 or IPv6 literal (used without DNS), or a host name whose
 *        A/AAAA records are looked up.
 * @port: TCP port; 0 means 5269.
 * @tls: STARTTLS or direct TLS.
 *
 * A domain with routes never uses SRV or the fallback, even when all its
 * routes fail. A domain's routes are equal: each resolution lists them in
 * a random order (the options' random function), which spreads the load
 * as equal SRV records do. Strings are copied. Returns 0, XS2S_ERR_INVALID_ARGUMENT for a malformed name, or
 * XS2S_ERR_NOMEM. Affects resolutions started afterwards.
 */
XS2S_EXTERN int xs2s_resolver_add_route(xs2s_resolver *r, const char *domain,
                                        const char *host, uint16_t port,
                                        xs2s_resolve_tls tls);

/**
 * xs2s_resolver_clear_routes - remove every static route.
 * @r: resolver.
 *
 * Resolutions started afterwards use DNS for every domain until routes
 * are added again; resolutions in progress keep the candidates they
 * already have. Used to replace the routes of a running resolver.
 */
XS2S_EXTERN void xs2s_resolver_clear_routes(xs2s_resolver *r);

/**
 * xs2s_resolver_fd - the file descriptor to watch for readability.
 *
 * libunbound's result pipe; it does not change during the resolver's life.
 * Owned by the resolver: do not close it.
 */
XS2S_EXTERN int xs2s_resolver_fd(const xs2s_resolver *r);

/**
 * xs2s_resolver_timeout - milliseconds until the next query deadline.
 *
 * Returns -1 when no query is in progress. Call xs2s_resolver_process()
 * when that time has passed, even if the fd did not become readable.
 */
XS2S_EXTERN int xs2s_resolver_timeout(const xs2s_resolver *r);

/**
 * xs2s_resolver_process - take in answers, expire deadlines, call back.
 *
 * Never blocks. Returns 0, or a negative code when libunbound's pipe
 * failed (XS2S_ERR_INTERNAL); callbacks of finished queries are called in
 * any case.
 */
XS2S_EXTERN int xs2s_resolver_process(xs2s_resolver *r);

/**
 * xs2s_resolver_pending - number of resolutions not yet called back.
 */
XS2S_EXTERN size_t xs2s_resolver_pending(const xs2s_resolver *r);

/**
 * xs2s_resolver_wait - block until every resolution has called back.
 * @timeout_ms: longest wait; a negative value waits without limit.
 *
 * A convenience for simple programs and tests: poll() on the fd, then
 * xs2s_resolver_process(). Returns 0 when nothing is pending any more,
 * XS2S_ERR_TIMEOUT when @timeout_ms passed first, XS2S_ERR_SYSTEM when
 * poll() failed.
 */
XS2S_EXTERN int xs2s_resolver_wait(xs2s_resolver *r, int timeout_ms);

/**
 * xs2s_resolve - find the connection candidates of a domain.
 * @domain: an ASCII (A-label) domain name or an IP literal ("192.0.2.1",
 *          "[2001:db8::1]"); copied.
 * @cb: called exactly once with the result, unless the query is cancelled
 *      or the resolver freed first.
 * @user_data: passed to @cb.
 * @handle: receives the query, for xs2s_resolve_cancel(); may be NULL.
 *
 * When no DNS is needed (static routes with IP literals, an IP-literal
 * domain) @cb runs before xs2s_resolve() returns, and *@handle is set to
 * NULL before it runs. Otherwise @cb runs from xs2s_resolver_process() or
 * xs2s_resolver_wait().
 *
 * Returns 0, or without calling @cb: XS2S_ERR_INVALID_ARGUMENT for a
 * malformed domain, XS2S_ERR_NOMEM, XS2S_ERR_RESOLVER_CONFIG when
 * libunbound rejects its configuration.
 */
XS2S_EXTERN int xs2s_resolve(xs2s_resolver *r, const char *domain,
                             xs2s_resolve_cb cb, void *user_data,
                             xs2s_resolve_query **handle);

/**
 * xs2s_resolve_cancel - stop a resolution; its callback is not called.
 *
 * NULL is allowed. The handle is invalid afterwards. May be called from
 * any resolve callback for another query.
 */
XS2S_EXTERN void xs2s_resolve_cancel(xs2s_resolve_query *q);

/**
 * xs2s_resolve_result_copy - keep a result beyond its callback.
 * @result: the result to copy.
 * @mem: allocator for the copy (copied); NULL for libc's.
 * @out: receives a deep copy, freed with xs2s_resolve_result_free().
 *
 * Returns 0 or XS2S_ERR_NOMEM.
 */
XS2S_EXTERN int xs2s_resolve_result_copy(const xs2s_resolve_result *result,
                                         const xs2s_mem *mem,
                                         xs2s_resolve_result **out);

/**
 * xs2s_resolve_result_free - free a copy made by xs2s_resolve_result_copy().
 *
 * NULL is allowed. Never pass the result lent to a callback.
 */
XS2S_EXTERN void xs2s_resolve_result_free(xs2s_resolve_result *result);

/**
 * xs2s_dnssec_name - "secure", "insecure" or "bogus".
 *
 * Returns NULL for a value out of range. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_dnssec_name(xs2s_dnssec status);

/**
 * xs2s_resolve_source_name - "static", "srv", "fallback" or "none".
 *
 * Returns NULL for a value out of range. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_resolve_source_name(xs2s_resolve_source source);

/**
 * xs2s_resolve_tls_name - "starttls" or "direct".
 *
 * Returns NULL for a value out of range. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_resolve_tls_name(xs2s_resolve_tls tls);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_RESOLVE_H */
