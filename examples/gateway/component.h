/*
 * component.h: the gateway's side of one XEP-0114 component stream
 * (jabber:component:accept), as a state machine over memory buffers.
 *
 * The component connects to the gateway and opens a stream to its domain;
 * the gateway answers with its own header carrying a fresh stream id; the
 * component proves it knows the shared secret with
 * <handshake>hex(SHA-1(id + secret))</handshake>; the gateway answers with
 * an empty <handshake/> (or the stream error not-authorized). From then on
 * the component sends and receives stanzas.
 *
 * What the gateway enforces on the component's stanzas (docs/GATEWAY.md):
 *   - only message, presence and iq (else unsupported-stanza-type);
 *   - 'from' absent: set to the component's domain (the component is
 *     authenticated for exactly that domain, so this spoofs nothing);
 *   - 'from' not a JID at the component's domain (the domain itself, or
 *     user@domain[/resource], domain/resource): stream error invalid-from,
 *     as RFC 6120 4.9.3.9 prescribes for an address the connected entity
 *     is not authorised for; the stanza is dropped and the stream closed;
 *   - 'to' absent: stream error improper-addressing (RFC 6120 4.9.3.14).
 *
 * No sockets and no clock: bytes go in with gw_component_feed(), come out
 * with gw_component_output() / gw_component_consume().
 */
#ifndef GW_COMPONENT_H
#define GW_COMPONENT_H

#include <stddef.h>
#include <stdint.h>

#include <xs2s/xs2s.h>

typedef struct gw_component gw_component;

typedef enum gw_component_state {
  GW_COMP_HEADER,    /* waiting for the component's stream header */
  GW_COMP_HANDSHAKE, /* our header is out; waiting for <handshake/> */
  GW_COMP_READY,     /* authenticated: stanzas flow */
  GW_COMP_CLOSING,   /* we sent </stream:stream>, waiting for the peer's */
  GW_COMP_CLOSED     /* done: close the socket once the output is written */
} gw_component_state;

typedef struct gw_component_callbacks {
  /* The secret of the component for @domain (normal form), or NULL when
   * no component may claim it (the stream gets host-unknown). */
  const char *(*secret)(const char *domain, void *user_data);
  /* The handshake succeeded for @domain: return XS2S_STREAM_ERR_NONE to
   * accept the component, or the stream error to refuse it with
   * (conflict when the domain has a component already). */
  xs2s_stream_condition (*attach)(gw_component *c, const char *domain,
                                  void *user_data);
  /* A stanza from the authenticated component, 'from' checked and 'to'
   * present. Lent for the call; its namespace is jabber:component:accept.
   * The callback may call gw_component_send() on any component, this one
   * included. */
  void (*stanza)(gw_component *c, xs2s_stanza *stanza, void *user_data);
  /* One log line about this stream (level as gw_log_level). */
  void (*log)(gw_component *c, int level, const char *line, void *user_data);
} gw_component_callbacks;

/* Creates the state machine for one accepted connection.
 * @id: the stream id to announce (copied); fresh and unpredictable (the
 *      gateway makes it with gnutls_rnd), since the handshake proves
 *      knowledge of the secret only for this id.
 * @max_stanza_bytes: largest stanza accepted from the component.
 * @max_output_bytes: output held for a slow reader before
 *      gw_component_send() refuses stanzas with XS2S_ERR_LIMIT.
 * Returns NULL when out of memory. */
gw_component *gw_component_new(const gw_component_callbacks *cb,
                               void *user_data, const char *id,
                               size_t max_stanza_bytes,
                               size_t max_output_bytes);

void gw_component_free(gw_component *c);

/* Bytes from the component. Returns 0, or a negative xs2s error code when
 * the stream failed (a stream error is then in the output and the state is
 * GW_COMP_CLOSED). Input after the stream closed is ignored. */
int gw_component_feed(gw_component *c, const char *data, size_t len);

/* The component closed its side of the connection (EOF). */
void gw_component_eof(gw_component *c);

/* Pending output: a pointer valid until the next call on @c (NULL with
 * *@len 0 when there is none). */
const char *gw_component_output(gw_component *c, size_t *len);

/* @n bytes of the output were written. */
void gw_component_consume(gw_component *c, size_t n);

/* Sends a stanza to the component (not taken). Elements in jabber:server,
 * jabber:client or no namespace are written in jabber:component:accept.
 * Returns 0; XS2S_ERR_BAD_STATE before the handshake or after the close;
 * XS2S_ERR_LIMIT when the component does not read fast enough (its output
 * is over the bound); XS2S_ERR_NOMEM. */
int gw_component_send(gw_component *c, const xs2s_stanza *stanza);

/* Closes the stream: with a stream error when @cond is not
 * XS2S_STREAM_ERR_NONE (state CLOSED), else with </stream:stream> (state
 * CLOSING until the peer answers, or CLOSED if it already did). */
void gw_component_close(gw_component *c, xs2s_stream_condition cond,
                        const char *text);

gw_component_state gw_component_state_of(const gw_component *c);

/* The authenticated domain (from GW_COMP_READY on), else NULL. */
const char *gw_component_domain(const gw_component *c);

/* Whether the socket may be closed: state CLOSED and no output left. */
int gw_component_done(const gw_component *c);

/* Stanzas received from and sent to the component. */
uint64_t gw_component_stanzas_in(const gw_component *c);
uint64_t gw_component_stanzas_out(const gw_component *c);

/* hex(SHA-1(@id + @secret)) in lower case into @out (41 bytes). Returns
 * 0, or -1 when the digest cannot be computed. */
int gw_component_handshake_digest(const char *id, const char *secret,
                                  char out[41]);

#endif /* GW_COMPONENT_H */
