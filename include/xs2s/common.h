/*
 * xs2s - XMPP server-to-server federation library
 * common.h: export macro, error codes, allocator hooks, version query.
 *
 * Every other public header includes this one.
 */
#ifndef XS2S_COMMON_H
#define XS2S_COMMON_H

#include <stddef.h>
#include <sys/types.h>

#include <xs2s/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(XS2S_BUILDING_LIBRARY) && defined(__GNUC__)
#define XS2S_EXTERN __attribute__((visibility("default")))
#else
/** Marks a function exported from libxs2s; everything else is hidden. */
#define XS2S_EXTERN
#endif

/*
 * Error codes.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success
 * and one of these negative codes on failure. The list is kept in one X-macro
 * so that the enum, xs2s_strerror() and xs2s_error_name() cannot drift apart.
 * Codes are grouped by layer; new codes are appended inside their group and a
 * code's value never changes once released.
 *
 * XMPP conditions (stream errors, stanza errors) are not error codes: they
 * travel as enum xs2s_stream_condition / xs2s_stanza_condition (condition.h)
 * with their RFC 6120 names.
 */
#define XS2S_ERROR_LIST(X)                                                     \
  /* general */                                                                \
  X(NOMEM, -1, "out of memory")                                                \
  X(INVALID_ARGUMENT, -2, "invalid argument")                                  \
  X(BAD_STATE, -3, "operation not allowed in the current state")               \
  X(BUFFER_TOO_SMALL, -4, "buffer too small")                                  \
  X(NOT_FOUND, -5, "not found")                                                \
  X(SYSTEM, -6, "system call failed (see errno)")                              \
  X(INTERNAL, -7, "internal error")                                            \
  X(CALLBACK_FAILED, -8, "a callback reported failure")                        \
  X(LIMIT, -9, "a configured limit was exceeded")                              \
  /* XML and stream parsing */                                                 \
  X(NOT_WELL_FORMED, -20, "XML is not well-formed")                            \
  X(RESTRICTED_XML, -21,                                                       \
    "restricted XML: DTD, comment, processing instruction or entity")          \
  X(INVALID_NAMESPACE, -22, "wrong namespace for the stream or its content")   \
  X(BAD_NAMESPACE_PREFIX, -23, "undeclared namespace prefix")                  \
  X(UNSUPPORTED_ENCODING, -24, "encoding other than valid UTF-8")              \
  X(BAD_FORMAT, -25, "XML is well-formed but not a valid XMPP stream")         \
  X(PARSER_FAILED, -26, "parser stopped after an error; reset it first")       \
  X(STREAM_CLOSED, -27, "the stream is closed")                                \
  /* TLS and identity */                                                       \
  X(TLS, -40, "TLS failure")                                                   \
  X(TLS_CREDENTIALS, -41, "cannot load TLS certificate, key, CA or CRL")       \
  X(CERT_UNTRUSTED, -42, "peer certificate is not trusted")                    \
  X(CERT_NAME_MISMATCH, -43, "peer certificate does not name the domain")      \
  X(TLS_HANDSHAKE, -44, "TLS handshake failed")                                \
  X(TLS_PEER_CLOSED, -45, "the peer closed the TLS session (close_notify)")    \
  X(DANE_MISMATCH, -46, "peer certificate does not match its TLSA records")    \
  /* dialback */                                                               \
  X(DIALBACK_INVALID, -60, "dialback key is invalid")                          \
  /* resolver */                                                               \
  X(DNS_NXDOMAIN, -80, "domain does not exist (NXDOMAIN)")                     \
  X(DNS_SERVFAIL, -81, "DNS server failure (SERVFAIL)")                        \
  X(DNS_TIMEOUT, -82, "DNS query timed out")                                   \
  X(DNS_NO_SERVICE, -83, "domain offers no XMPP server service (SRV '.')")     \
  X(DNSSEC_BOGUS, -84, "DNSSEC validation failed (bogus answer)")              \
  X(RESOLVER_CONFIG, -85, "resolver configuration error")                      \
  X(DNS_NO_ADDRESS, -86, "host has no address records (A/AAAA)")               \
  /* session */                                                                \
  X(POLICY, -100, "refused by policy")                                         \
  X(PEER_STREAM_ERROR, -101, "the peer sent a stream error")                   \
  X(TIMEOUT, -102, "timed out")                                                \
  X(NOT_AUTHENTICATED, -103, "the domain pair is not authenticated")           \
  /* engine (ctx) */                                                           \
  X(EXISTS, -120, "already configured")                                        \
  X(CONFIG, -121, "the configuration is not coherent (see the message)")    \
  X(RESTART_REQUIRED, -122,                                                    \
    "the change cannot be applied to a running engine (see the message)")

/** Error codes returned by xs2s functions (always negative). */
typedef enum xs2s_error {
  XS2S_OK = 0,
#define XS2S_ERROR_ENUM_(name, value, text) XS2S_ERR_##name = value,
  XS2S_ERROR_LIST(XS2S_ERROR_ENUM_)
#undef XS2S_ERROR_ENUM_
} xs2s_error;

/**
 * xs2s_strerror - describe an error code in English.
 * @code: a value of enum xs2s_error (0 is "success").
 *
 * Returns a static string; unknown codes give "unknown error". Thread-safe.
 */
XS2S_EXTERN const char *xs2s_strerror(int code);

/**
 * xs2s_error_name - the symbolic name of an error code.
 * @code: a value of enum xs2s_error.
 *
 * Returns a static string such as "XS2S_ERR_NOMEM", or NULL for a code that
 * is not in the list. Thread-safe.
 */
XS2S_EXTERN const char *xs2s_error_name(int code);

/**
 * struct xs2s_mem - allocator hooks.
 *
 * Constructors whose name ends in _mem (and config structs with a mem field)
 * take one of these; NULL means the C library's malloc/realloc/free. The
 * struct is copied, so it need not outlive the call. Each function receives
 * @mem_user_data as its last argument. xs2s treats a NULL return as
 * out-of-memory and reports XS2S_ERR_NOMEM; it never aborts. Memory that
 * libxml2, GnuTLS and libunbound allocate for themselves uses their own
 * allocators.
 */
typedef struct xs2s_mem {
  void *(*malloc)(size_t size, void *mem_user_data);
  void *(*realloc)(void *ptr, size_t size, void *mem_user_data);
  void (*free)(void *ptr, void *mem_user_data);
  void *mem_user_data;
} xs2s_mem;

/**
 * xs2s_version - the version of the library linked at run time.
 *
 * Compare with XS2S_VERSION_STRING to detect a header/library mismatch.
 */
XS2S_EXTERN const char *xs2s_version(void);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_COMMON_H */
