/*
 * xs2s - XMPP server-to-server federation library
 * condition.h: RFC 6120 stream-error and stanza-error conditions.
 *
 * XMPP reports failures as named conditions, not numbers: a stream error is
 * <stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>,
 * a stanza error is <error type='cancel'><item-not-found xmlns=
 * 'urn:ietf:params:xml:ns:xmpp-stanzas'/></error>. xs2s carries them as the
 * enums below, and converts to and from their RFC names with the functions
 * here. All functions are pure and thread-safe.
 */
#ifndef XS2S_CONDITION_H
#define XS2S_CONDITION_H

#include <xs2s/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stream-error conditions, RFC 6120 section 4.9.3 (identifier, RFC name). */
#define XS2S_STREAM_CONDITION_LIST(X)                                          \
  X(BAD_FORMAT, "bad-format")                                                  \
  X(BAD_NAMESPACE_PREFIX, "bad-namespace-prefix")                              \
  X(CONFLICT, "conflict")                                                      \
  X(CONNECTION_TIMEOUT, "connection-timeout")                                  \
  X(HOST_GONE, "host-gone")                                                    \
  X(HOST_UNKNOWN, "host-unknown")                                              \
  X(IMPROPER_ADDRESSING, "improper-addressing")                                \
  X(INTERNAL_SERVER_ERROR, "internal-server-error")                            \
  X(INVALID_FROM, "invalid-from")                                              \
  X(INVALID_NAMESPACE, "invalid-namespace")                                    \
  X(INVALID_XML, "invalid-xml")                                                \
  X(NOT_AUTHORIZED, "not-authorized")                                          \
  X(NOT_WELL_FORMED, "not-well-formed")                                        \
  X(POLICY_VIOLATION, "policy-violation")                                      \
  X(REMOTE_CONNECTION_FAILED, "remote-connection-failed")                      \
  X(RESET, "reset")                                                            \
  X(RESOURCE_CONSTRAINT, "resource-constraint")                                \
  X(RESTRICTED_XML, "restricted-xml")                                          \
  X(SEE_OTHER_HOST, "see-other-host")                                          \
  X(SYSTEM_SHUTDOWN, "system-shutdown")                                        \
  X(UNDEFINED_CONDITION, "undefined-condition")                                \
  X(UNSUPPORTED_ENCODING, "unsupported-encoding")                              \
  X(UNSUPPORTED_FEATURE, "unsupported-feature")                                \
  X(UNSUPPORTED_STANZA_TYPE, "unsupported-stanza-type")                        \
  X(UNSUPPORTED_VERSION, "unsupported-version")

/* Stanza-error conditions, RFC 6120 section 8.3.3 (identifier, RFC name,
 * the error type RFC 6120 suggests for it), then remote-connection-failed,
 * which XEP-0220 adds as a dialback error condition. */
#define XS2S_STANZA_CONDITION_LIST(X)                                          \
  X(BAD_REQUEST, "bad-request", "modify")                                      \
  X(CONFLICT, "conflict", "cancel")                                            \
  X(FEATURE_NOT_IMPLEMENTED, "feature-not-implemented", "cancel")              \
  X(FORBIDDEN, "forbidden", "auth")                                            \
  X(GONE, "gone", "cancel")                                                    \
  X(INTERNAL_SERVER_ERROR, "internal-server-error", "cancel")                  \
  X(ITEM_NOT_FOUND, "item-not-found", "cancel")                                \
  X(JID_MALFORMED, "jid-malformed", "modify")                                  \
  X(NOT_ACCEPTABLE, "not-acceptable", "modify")                                \
  X(NOT_ALLOWED, "not-allowed", "cancel")                                      \
  X(NOT_AUTHORIZED, "not-authorized", "auth")                                  \
  X(POLICY_VIOLATION, "policy-violation", "modify")                            \
  X(RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait")                    \
  X(REDIRECT, "redirect", "modify")                                            \
  X(REGISTRATION_REQUIRED, "registration-required", "auth")                    \
  X(REMOTE_SERVER_NOT_FOUND, "remote-server-not-found", "cancel")              \
  X(REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait")                    \
  X(RESOURCE_CONSTRAINT, "resource-constraint", "wait")                        \
  X(SERVICE_UNAVAILABLE, "service-unavailable", "cancel")                      \
  X(SUBSCRIPTION_REQUIRED, "subscription-required", "auth")                    \
  X(UNDEFINED_CONDITION, "undefined-condition", "cancel")                      \
  X(UNEXPECTED_REQUEST, "unexpected-request", "wait")                          \
  X(REMOTE_CONNECTION_FAILED, "remote-connection-failed", "cancel")

/** A stream-error condition; XS2S_STREAM_ERR_NONE means "no error". */
typedef enum xs2s_stream_condition {
  XS2S_STREAM_ERR_NONE = 0,
#define XS2S_STREAM_COND_ENUM_(id, name) XS2S_STREAM_ERR_##id,
  XS2S_STREAM_CONDITION_LIST(XS2S_STREAM_COND_ENUM_)
#undef XS2S_STREAM_COND_ENUM_
  XS2S_STREAM_ERR_COUNT_
} xs2s_stream_condition;

/** A stanza-error condition; XS2S_STANZA_ERR_NONE means "no error". */
typedef enum xs2s_stanza_condition {
  XS2S_STANZA_ERR_NONE = 0,
#define XS2S_STANZA_COND_ENUM_(id, name, type) XS2S_STANZA_ERR_##id,
  XS2S_STANZA_CONDITION_LIST(XS2S_STANZA_COND_ENUM_)
#undef XS2S_STANZA_COND_ENUM_
  XS2S_STANZA_ERR_COUNT_
} xs2s_stanza_condition;

/** Namespace of stream-error condition elements. */
#define XS2S_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
/** Namespace of stanza-error condition elements. */
#define XS2S_NS_STANZA_ERRORS "urn:ietf:params:xml:ns:xmpp-stanzas"

/**
 * xs2s_stream_condition_name - RFC 6120 name of a stream-error condition.
 *
 * Returns e.g. "host-unknown"; NULL for XS2S_STREAM_ERR_NONE or a value out
 * of range.
 */
XS2S_EXTERN const char *xs2s_stream_condition_name(xs2s_stream_condition c);

/**
 * xs2s_stream_condition_from_name - parse a stream-error condition name.
 *
 * Returns the condition, or XS2S_STREAM_ERR_NONE when @name is NULL or not
 * one of the RFC 6120 names (a peer's unknown condition is best treated as
 * undefined-condition by the caller).
 */
XS2S_EXTERN xs2s_stream_condition
xs2s_stream_condition_from_name(const char *name);

/**
 * xs2s_stream_condition_from_error - the stream error to send for an error.
 * @code: a negative xs2s error code.
 *
 * Maps parser and policy errors to the condition a peer should receive
 * (XS2S_ERR_RESTRICTED_XML gives restricted-xml, XS2S_ERR_LIMIT gives
 * policy-violation, ...). Codes with no natural condition give
 * undefined-condition; XS2S_ERR_NOMEM gives resource-constraint.
 */
XS2S_EXTERN xs2s_stream_condition xs2s_stream_condition_from_error(int code);

/**
 * xs2s_stanza_condition_name - RFC 6120 name of a stanza-error condition.
 *
 * Returns e.g. "remote-server-not-found"; NULL for XS2S_STANZA_ERR_NONE or a
 * value out of range.
 */
XS2S_EXTERN const char *xs2s_stanza_condition_name(xs2s_stanza_condition c);

/**
 * xs2s_stanza_condition_type - the error type RFC 6120 pairs with @c.
 *
 * Returns "cancel", "modify", "auth" or "wait"; NULL when out of range.
 */
XS2S_EXTERN const char *xs2s_stanza_condition_type(xs2s_stanza_condition c);

/**
 * xs2s_stanza_condition_from_name - parse a stanza-error condition name.
 *
 * Returns XS2S_STANZA_ERR_NONE when @name is NULL or unknown.
 */
XS2S_EXTERN xs2s_stanza_condition
xs2s_stanza_condition_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* XS2S_CONDITION_H */
