/*
 * router.h: where a stanza goes, for the gateway (no sockets).
 *
 *   from a component, 'to' at a local domain -> that domain's component,
 *       directly; no component attached -> service-unavailable back;
 *   from a component, 'to' elsewhere -> federation (the engine);
 *   from federation -> the component of the 'to' domain, or the condition
 *       the engine answers the sender with (service-unavailable);
 *   bounced by federation -> an error reply to the component of the
 *       'from' domain.
 *
 * The table holds one component per domain. Components are few (one per
 * configured domain), so lookups walk a short array.
 */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include <stdint.h>

#include <xs2s/xs2s.h>

#include "component.h"

typedef struct gw_router gw_router;

typedef struct gw_router_ops {
  /* Hands @stanza (jabber:server, lent) to federation. Returns 0 when
   * accepted, or a negative xs2s code (XS2S_ERR_POLICY, XS2S_ERR_LIMIT,
   * XS2S_ERR_INVALID_ARGUMENT, XS2S_ERR_BAD_STATE, ...). */
  int (*federate)(const xs2s_stanza *stanza, void *user_data);
  /* A log line (level as gw_log_level). */
  void (*log)(int level, const char *line, void *user_data);
} gw_router_ops;

typedef struct gw_router_counters {
  uint64_t to_federation;   /* accepted by the engine */
  uint64_t from_federation; /* delivered to components */
  uint64_t local;           /* component to component */
  uint64_t errors;          /* error replies made by the gateway */
} gw_router_counters;

gw_router *gw_router_new(const gw_router_ops *ops, void *user_data);
void gw_router_free(gw_router *r);

/* Which domains are local (the engine's config; borrowed until the next
 * call). */
void gw_router_set_config(gw_router *r, const xs2s_config *cfg);

/* Attaches @c for @domain: XS2S_STREAM_ERR_NONE, or CONFLICT when another
 * component holds the domain, or RESOURCE_CONSTRAINT out of memory. */
xs2s_stream_condition gw_router_attach(gw_router *r, const char *domain,
                                       gw_component *c);
/* Removes @c wherever it is attached (no effect when it is not). */
void gw_router_detach(gw_router *r, gw_component *c);
gw_component *gw_router_lookup(const gw_router *r, const char *domain);
/* The attached component at @i (0..), with its domain; NULL past the end. */
gw_component *gw_router_at(const gw_router *r, size_t i, const char **domain);

/* A checked stanza from component @from (jabber:component:accept). */
void gw_router_from_component(gw_router *r, gw_component *from,
                              const xs2s_stanza *s);

/* An authenticated stanza from federation for a local domain. Returns 0
 * when delivered, else the condition for the engine to answer with. */
xs2s_stanza_condition gw_router_from_federation(gw_router *r,
                                                const xs2s_stanza *s);

/* Federation could not deliver @s (which a component sent). */
void gw_router_bounce(gw_router *r, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text);

const gw_router_counters *gw_router_counters_of(const gw_router *r);

#endif /* GW_ROUTER_H */
