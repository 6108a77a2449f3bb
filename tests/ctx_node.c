/*
 * ctx_node.c: see ctx_node.h.
 */
#define _GNU_SOURCE /* unshare() */
#include "ctx_node.h"

#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *node_certs_dir;
char node_dns_conf[256];
static char dns_dir[64];

int64_t node_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch(int fd, unsigned ev, void *ud) {
  node *n = ud;
  for (int i = 0; i < n->nw; i++)
    if (n->w[i].fd == fd) {
      if (ev)
        n->w[i].ev = ev;
      else
        n->w[i] = n->w[--n->nw];
      return 0;
    }
  if (!ev)
    return 0;
  if (n->nw == NODE_MAX_W)
    return -1;
  n->w[n->nw].fd = fd;
  n->w[n->nw++].ev = ev;
  return 0;
}

static int timer(int64_t ms, void *ud) {
  node *n = ud;
  n->due = ms < 0 ? -1 : node_now_ms() + ms;
  return 0;
}

static const xs2s_loop_callbacks loop_cb = {watch, timer};

/* The N of a body "m<N>" when the node keeps books, else -1. */
static int book_index(const node *n, const xs2s_stanza *s) {
  xs2s_stanza *body = xs2s_stanza_find_child(s, "body", "jabber:server");
  const char *t = body ? xs2s_stanza_text(body) : NULL;
  if (!n->map_n || !t || t[0] != 'm' || t[1] < '0' || t[1] > '9')
    return -1;
  int i = atoi(t + 1);
  return i < n->map_n ? i : -1;
}

static int on_stanza(xs2s_ctx *ctx, const xs2s_stanza *s, const char *remote,
                     void *ud) {
  node *n = ud;
  (void)ctx;
  (void)remote;
  xs2s_stanza *body = xs2s_stanza_find_child(s, "body", "jabber:server");
  const char *t = body ? xs2s_stanza_text(body) : NULL;
  if (n->ngot < NODE_MAX_GOT)
    snprintf(n->got[n->ngot], sizeof(n->got[0]), "%s", t ? t : "");
  n->ngot++;
  int bi = book_index(n, s);
  if (bi >= 0 && n->got_map)
    n->got_map[bi]++;
  snprintf(n->last_body, sizeof(n->last_body), "%s", t ? t : "");
  const char *type = xs2s_stanza_attr(s, "type");
  if (type && strcmp(type, "error") == 0)
    n->errors++;
  if (n->refuse)
    return n->refuse; /* the engine writes the error reply */
  if (n->echo && body) {
    char text[160];
    snprintf(text, sizeof(text), "echo:%s", t ? t : "");
    node_send(n, xs2s_stanza_attr(s, "to"), xs2s_stanza_attr(s, "from"), text,
              NULL);
  }
  return 0;
}

static void on_bounce(xs2s_ctx *ctx, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text, void *tag,
                      void *ud) {
  (void)ctx;
  (void)s;
  (void)tag;
  node *n = ud;
  n->bounces++;
  int bi = book_index(n, s);
  if (bi >= 0 && n->bounce_map)
    n->bounce_map[bi]++;
  n->last_cond = cond;
  snprintf(n->last_text, sizeof(n->last_text), "%s", text ? text : "");
  if (getenv("XS2S_TEST_VERBOSE"))
    fprintf(stderr, "[%s] bounce %s: %s\n", n->name,
            xs2s_stanza_condition_name(cond), text);
}

static void on_up(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx;
  node *n = ud;
  n->ups++;
  n->last_auth = ev->auth;
  n->last_tls = ev->tls;
}

static void on_down(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx;
  (void)ev;
  ((node *)ud)->downs++;
}

static void on_log(xs2s_ctx *ctx, xs2s_log_level level, const char *line,
                   void *ud) {
  (void)ctx;
  node *n = ud;
  if (strstr(line, "stream closed") && strstr(line, "(policy-violation)"))
    n->policy_closes++;
  if (strncmp(line, "refused ", 8) == 0)
    n->refused_logs++;
  if (getenv("XS2S_TEST_VERBOSE"))
    fprintf(stderr, "%lld [%s] %s: %s\n", (long long)(node_now_ms() % 100000),
            n->name, xs2s_log_level_name(level), line);
}

static const xs2s_ctx_callbacks ctx_cb = {on_stanza, on_bounce, on_up,
                                          on_down, on_log};

/* The local domains of @o: its own, then the optional extras. */
static int add_domains(xs2s_config *cfg, const node_opts *o) {
  char cert[512], key[512];
  int rc = 0;
  if (o->cert) {
    rc |= xs2s_config_add_domain(cfg, o->domain, o->cert, o->key);
  } else if (o->certs) {
    const char *cn = o->cert_name ? o->cert_name : o->domain;
    snprintf(cert, sizeof(cert), "%s/%s.pem", node_certs_dir, cn);
    snprintf(key, sizeof(key), "%s/%s.key", node_certs_dir, cn);
    rc |= xs2s_config_add_domain(cfg, o->domain, cert, key);
  } else {
    rc |= xs2s_config_add_domain(cfg, o->domain, NULL, NULL);
  }
  if (o->domain2)
    rc |= xs2s_config_add_domain(cfg, o->domain2, NULL, NULL);
  for (int i = 1; i <= o->fillers; i++) {
    char filler[32];
    snprintf(filler, sizeof(filler), "f%d.test", i);
    rc |= xs2s_config_add_domain(cfg, filler, NULL, NULL);
  }
  return rc;
}

/* Routes, privacy lists and per-peer policy, when @o asks for them. */
static int add_peer_rules(xs2s_config *cfg, const node_opts *o) {
  int rc = 0;
  if (o->route_domain)
    rc |= xs2s_config_add_route(cfg, o->route_domain, o->route_target, 0);
  if (o->privacy) {
    rc |= xs2s_config_set_privacy_mode(cfg, o->privacy);
    rc |= xs2s_config_add_privacy_domain(cfg, o->privacy, o->privacy_domain);
  }
  if (o->policy_domain)
    rc |= xs2s_config_set_remote_policy(cfg, o->policy_domain, o->policy_tls,
                                        -1);
  if (o->bidi)
    rc |= xs2s_config_set_bidi(cfg, 1);
  return rc;
}

xs2s_config *node_config(const node_opts *o) {
  xs2s_config *cfg = xs2s_config_new(NULL);
  if (!cfg)
    return NULL;
  char ca[512];
  int rc = add_domains(cfg, o);
  if (o->ca) {
    snprintf(ca, sizeof(ca), "%s/%s", node_certs_dir, o->ca);
    rc |= xs2s_config_set_ca_file(cfg, ca);
  }
  rc |= xs2s_config_set_system_trust(cfg, 0);
  rc |= xs2s_config_set_tls_mode(cfg, o->tls ? o->tls : XS2S_TLS_OFF);
  rc |= xs2s_config_set_require_valid_cert(cfg, o->require_cert);
  if (o->listen)
    rc |= xs2s_config_add_listener(cfg, o->listen, o->listen_flags);
  rc |= xs2s_config_set_unbound_config(cfg, o->dns ? o->dns : node_dns_conf);
  if (o->secret)
    rc |= xs2s_config_set_dialback_secret(cfg, o->secret);
  rc |= add_peer_rules(cfg, o);
  if (o->sm_off)
    rc |= xs2s_config_set_stream_management(cfg, 0);
  rc |= xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_CONNECT, 2000);
  for (int i = 0; i < XS2S_LIMIT_COUNT_; i++)
    if (o->limits[i])
      rc |= xs2s_config_set_limit(cfg, (xs2s_limit)i, o->limits[i]);
  for (int i = 0; i < XS2S_TIMEOUT_COUNT_; i++)
    if (o->timeouts[i] || o->timeout_set[i])
      rc |= xs2s_config_set_timeout(cfg, (xs2s_timeout)i, o->timeouts[i]);
  if (rc != 0) {
    xs2s_config_free(cfg);
    return NULL;
  }
  return cfg;
}

int node_start(node *n, const node_opts *o) {
  memset(n, 0, sizeof(*n));
  n->name = o->domain;
  n->due = -1;
  xs2s_config *cfg = node_config(o);
  int rc = cfg ? xs2s_ctx_new(&n->ctx, cfg, &ctx_cb, &loop_cb, n)
               : XS2S_ERR_INVALID_ARGUMENT;
  xs2s_config_free(cfg);
  if (rc < 0)
    fprintf(stderr, "node %s: %s\n", o->domain, xs2s_strerror(rc));
  return rc;
}

void node_stop(node *n) {
  xs2s_ctx_free(n->ctx);
  n->ctx = NULL;
  n->nw = 0;
  n->due = -1;
}

int node_send(node *n, const char *from, const char *to, const char *body,
              void *tag) {
  xs2s_stanza *m = xs2s_stanza_new("message", "jabber:server");
  if (!m)
    return XS2S_ERR_NOMEM;
  xs2s_stanza_set_attr(m, "from", from);
  xs2s_stanza_set_attr(m, "to", to);
  xs2s_stanza_set_attr(m, "type", "chat");
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", "jabber:server");
  xs2s_stanza_add_text(b, body, strlen(body));
  int rc = xs2s_ctx_send(n->ctx, m, tag);
  xs2s_stanza_free(m);
  return rc;
}

int node_run(node **nodes, int count, int (*done)(void *), void *arg,
             int limit_ms) {
  int64_t end = node_now_ms() + limit_ms;
  static struct pollfd p[4 * NODE_MAX_W];
  static int owner[4 * NODE_MAX_W];
  while (!done || !done(arg)) {
    int64_t now = node_now_ms();
    if (now >= end)
      return done ? 0 : 1;
    int np = 0;
    int64_t wait = end - now;
    for (int i = 0; i < count; i++) {
      node *n = nodes[i];
      if (!n->ctx)
        continue;
      for (int j = 0; j < n->nw; j++) {
        p[np].fd = n->w[j].fd;
        p[np].events = (short)(((n->w[j].ev & XS2S_EV_READ) ? POLLIN : 0) |
                               ((n->w[j].ev & XS2S_EV_WRITE) ? POLLOUT : 0));
        owner[np++] = i;
      }
      if (n->due >= 0 && n->due - now < wait)
        wait = n->due - now < 0 ? 0 : n->due - now;
    }
    if (wait > 20)
      wait = 20;
    int k = poll(p, (nfds_t)np, (int)wait);
    if (k < 0 && errno != EINTR)
      return 0;
    for (int i = 0; k > 0 && i < np; i++) {
      if (!p[i].revents || !nodes[owner[i]]->ctx)
        continue;
      unsigned ev = ((p[i].revents & POLLIN) ? XS2S_EV_READ : 0) |
                    ((p[i].revents & POLLOUT) ? XS2S_EV_WRITE : 0) |
                    ((p[i].revents & (POLLERR | POLLHUP)) ? XS2S_EV_ERROR : 0);
      xs2s_ctx_on_fd(nodes[owner[i]]->ctx, p[i].fd, ev);
    }
    now = node_now_ms();
    for (int i = 0; i < count; i++)
      if (nodes[i]->ctx && nodes[i]->due >= 0 && nodes[i]->due <= now) {
        nodes[i]->due = -1;
        xs2s_ctx_on_timer(nodes[i]->ctx);
      }
  }
  return 1;
}

void node_run_for(node **nodes, int count, int ms) {
  node_run(nodes, count, NULL, NULL, ms);
}

int node_setup_dns(const char *extra) {
  snprintf(dns_dir, sizeof(dns_dir), "/tmp/xs2s-node-XXXXXX");
  if (!mkdtemp(dns_dir))
    return -1;
  snprintf(node_dns_conf, sizeof(node_dns_conf), "%s/dns.conf", dns_dir);
  FILE *f = fopen(node_dns_conf, "w");
  if (!f)
    return -1;
  fprintf(f,
          "server:\n"
          "  local-zone: \"test.\" static\n"
          "%s",
          extra ? extra : "");
  return fclose(f);
}

void node_cleanup_dns(void) {
  unlink(node_dns_conf);
  rmdir(dns_dir);
}

int node_set_loopback(int up) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    if (up)
      ifr.ifr_flags |= IFF_UP;
    else
      ifr.ifr_flags &= ~IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  close(fd);
  return rc;
}

int node_enter_netns(void) {
  if (unshare(CLONE_NEWNET) < 0) {
    fprintf(stderr, "unshare(CLONE_NEWNET): %s (the test needs root)\n",
            strerror(errno));
    return -1;
  }
  return node_set_loopback(1);
}
