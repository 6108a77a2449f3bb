/*
 * ctx_node.h: engines under test, driven by a poll() loop through the
 * external-loop hooks, for the end-to-end, adversarial and fault tests.
 * Each node records what its callbacks saw. Extra fds (an attacker's
 * sockets) may be polled alongside the engines: the caller reads them
 * itself.
 */
#ifndef XS2S_TEST_CTX_NODE_H
#define XS2S_TEST_CTX_NODE_H

#include <stdint.h>

#include <xs2s/xs2s.h>

#define NODE_MAX_W 256
#define NODE_MAX_GOT 64

typedef struct node {
  const char *name;
  xs2s_ctx *ctx;
  struct {
    int fd;
    unsigned ev;
  } w[NODE_MAX_W];
  int nw;
  int64_t due; /* absolute ms, -1: none */
  int ngot;    /* stanzas delivered */
  char got[NODE_MAX_GOT][128]; /* the first bodies delivered, in order */
  char last_body[128];
  int errors; /* stanzas of type 'error' delivered */
  int bounces;
  xs2s_stanza_condition last_cond;
  char last_text[256];
  int ups, downs;
  xs2s_auth_method last_auth; /* of the last peer up event */
  int last_tls;
  int policy_closes; /* streams logged closing with policy-violation */
  int echo; /* answer every message with "echo:" + its body */
  xs2s_stanza_condition refuse; /* answer stanzas with this error */
  int refused_logs; /* log lines about connections refused at accept */
  /* Optional per-message books: messages whose body is "m<N>" (N below
   * map_n) count here as delivered (got_map) or bounced (bounce_map). */
  unsigned short *got_map, *bounce_map;
  int map_n;
} node;

/* Options of node_start(); zero means the engine's default. */
typedef struct node_opts {
  const char *domain;
  const char *listen;
  int certs;          /* load CERTS/DOMAIN.pem and .key */
  const char *cert_name; /* file name in CERTS instead of DOMAIN */
  const char *cert, *key; /* or full paths of the certificate and key */
  const char *ca;     /* file name in CERTS, or NULL */
  xs2s_tls_mode tls;  /* 0: XS2S_TLS_OFF */
  int require_cert;
  const char *secret; /* dialback secret */
  const char *dns;    /* libunbound config, NULL: the harness's */
  unsigned listen_flags;
  const char *domain2; /* a second local domain (no certificate) */
  int fillers;         /* more local domains f1.test ... fN.test */
  const char *route_domain, *route_target; /* a static route */
  xs2s_privacy_mode privacy;
  const char *privacy_domain;
  int bidi;                  /* XEP-0288 */
  const char *policy_domain; /* a remote domain with its own TLS mode */
  xs2s_tls_mode policy_tls;
  uint64_t limits[XS2S_LIMIT_COUNT_];
  uint64_t timeouts[XS2S_TIMEOUT_COUNT_];
  int timeout_set[XS2S_TIMEOUT_COUNT_]; /* to allow an explicit 0 */
  int sm_off;         /* no XEP-0198 stream management */
} node_opts;

extern const char *node_certs_dir;
extern char node_dns_conf[256];

int64_t node_now_ms(void);
/* The configuration @o describes, or NULL; the caller frees it. */
xs2s_config *node_config(const node_opts *o);
int node_start(node *n, const node_opts *o);
void node_stop(node *n);
/* Sends a chat message; returns xs2s_ctx_send()'s code. */
int node_send(node *n, const char *from, const char *to, const char *body,
              void *tag);
/* Drives @nodes until @done(arg) or @limit_ms pass; 1 when done. */
int node_run(node **nodes, int count, int (*done)(void *), void *arg,
             int limit_ms);
/* Drives @nodes for @ms. */
void node_run_for(node **nodes, int count, int ms);
/* Writes the harness's DNS data into a temporary directory. */
int node_setup_dns(const char *extra_local_data);
void node_cleanup_dns(void);
/* Moves this process into a network namespace of its own with its
 * loopback up (needs root): the test's addresses are then its own. */
int node_enter_netns(void);
/* Takes the namespace's loopback up (1) or down (0): a peer vanishes
 * without FIN or RST. 0 or -1. */
int node_set_loopback(int up);

#endif
