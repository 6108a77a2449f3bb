/*
 * config.h: the layout of struct xs2s_config (internal), for the policy
 * functions and the engine, which read it directly.
 */
#ifndef XS2S_CONFIG_H
#define XS2S_CONFIG_H

#include <sys/socket.h>

#include <xs2s/xs2s.h>

#include "domain.h"
#include "hashmap.h"

/* An ordered set of entries with O(1) lookup by their normalised domain.
 * Each entry is one allocation that starts with struct xs2s__named. */
typedef struct xs2s__named {
  size_t name_len;
  char *name; /* points into the same allocation */
} xs2s__named;

typedef struct xs2s__dtab {
  xs2s__named **items; /* in insertion order */
  size_t len, cap;
  xs2s__map map; /* name -> entry */
} xs2s__dtab;

typedef struct xs2s__cfg_local {
  xs2s__named n;
  char *cert_file; /* NULL: no certificate */
  char *key_file;  /* NULL: in cert_file */
} xs2s__cfg_local;

typedef struct xs2s__cfg_remote {
  xs2s__named n;
  xs2s_tls_mode tls_mode;  /* XS2S_TLS_INHERIT: global */
  int require_valid_cert;  /* -1: global */
} xs2s__cfg_remote;

typedef struct xs2s__cfg_route {
  xs2s__named n;
  xs2s_route *targets; /* hosts owned here */
  size_t count, cap;
} xs2s__cfg_route;

typedef struct xs2s__cfg_listener {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  unsigned flags;
  char text[XS2S_ADDRSTRLEN];
} xs2s__cfg_listener;

struct xs2s_config {
  xs2s_mem mem;
  xs2s__dtab locals;     /* xs2s__cfg_local */
  xs2s__dtab remotes;    /* xs2s__cfg_remote */
  xs2s__dtab allow;      /* xs2s__named */
  xs2s__dtab deny;       /* xs2s__named */
  xs2s__dtab routes;     /* xs2s__cfg_route */
  char *ca_file;
  char *crl_file;
  char *tls_priority;
  int system_trust;
  char *dialback_secret;
  xs2s_tls_mode tls_mode;
  int require_valid_cert;
  int bidi;              /* XEP-0288 offered and requested */
  int sm_off;            /* XEP-0198 neither offered nor used */
  xs2s_privacy_mode privacy;
  char *unbound_config;
  char *resolv_conf;
  uint64_t limits[XS2S_LIMIT_COUNT_];
  uint64_t timeouts[XS2S_TIMEOUT_COUNT_];
  xs2s__cfg_listener *listeners;
  size_t listener_count, listener_cap;
};

/* The entry for a normalised domain, or NULL. */
static inline void *xs2s__dtab_get(const xs2s__dtab *t, const char *name,
                                   size_t len) {
  return xs2s__map_get(&t->map, name, len);
}

#endif /* XS2S_CONFIG_H */
