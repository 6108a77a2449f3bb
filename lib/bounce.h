/*
 * bounce.h: error replies to stanzas, RFC 6120 section 8.3 (internal).
 *
 * When xs2s itself must answer a stanza on a stream (a stanza for a domain
 * it does not serve, a gateway's service-unavailable, a queued stanza
 * bounced back to a peer), it builds the reply here:
 *
 *   <message from='ORIGINAL TO' to='ORIGINAL FROM' type='error' id='ID'>
 *     ...the original children, when small enough...
 *     <error type='cancel' by='BY'>
 *       <remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
 *       <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'
 *             xml:lang='en'>TEXT</text>
 *     </error>
 *   </message>
 *
 * The error type is the one RFC 6120 pairs with the condition
 * (xs2s_stanza_condition_type()). The reply is in the original's
 * namespace. Stanzas that must not be answered are recognised, so that two
 * servers can never bounce errors at each other: see xs2s__bounce_due().
 *
 * Bounces to the application do not come through here: its bounce callback
 * receives the original stanza and the condition.
 */
#ifndef XS2S_BOUNCE_H
#define XS2S_BOUNCE_H

#include <stddef.h>

#include <xs2s/condition.h>
#include <xs2s/stanza.h>

/* Returned by xs2s__bounce_build() when no reply is due. */
#define XS2S__BOUNCE_NONE 1

/* Whether an error reply to @s is allowed. 0 (not due) for:
 *  - anything but <message/>, <presence/> or <iq/>;
 *  - a stanza of type 'error' (RFC 6120 8.3.1 rule 8: never answer an
 *    error with an error);
 *  - an <iq/> of type 'result' (a response is never answered, RFC 6120
 *    8.2.3);
 *  - a <presence/> of type 'unavailable' or 'probe': broadcasts and
 *    server-generated probes whose senders cannot act on an error, and
 *    which two servers that bounce each other's presence would otherwise
 *    keep exchanging;
 *  - a stanza without 'from' (there is nobody to answer).
 * Otherwise 1. */
int xs2s__bounce_due(const xs2s_stanza *s);

/* Builds the error reply to @orig with @cond (not XS2S_STANZA_ERR_NONE).
 * @text: optional human-readable text (English), NULL for none.
 * @by: optional 'by' attribute of <error/> (the domain that found the
 *      error), NULL for none.
 * @max_payload: the original's children are copied into the reply when the
 *      whole original serialises to at most this many bytes (0: never);
 *      RFC 6120 allows it, and it lets the sender see what failed, but a
 *      large stanza is not sent back.
 * @mem: allocator for the new tree (NULL for libc's).
 * On success *@out is a new tree owned by the caller and 0 is returned.
 * XS2S__BOUNCE_NONE (with *@out NULL) when no reply is due;
 * XS2S_ERR_INVALID_ARGUMENT for a bad condition or when @orig is not an
 * element; XS2S_ERR_NOMEM. */
int xs2s__bounce_build(const xs2s_stanza *orig, xs2s_stanza_condition cond,
                       const char *text, const char *by, size_t max_payload,
                       const xs2s_mem *mem, xs2s_stanza **out);

#endif /* XS2S_BOUNCE_H */
