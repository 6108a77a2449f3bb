/*
 * net.c: sockets, socket options, address text and connection accounting.
 */
#define _GNU_SOURCE /* accept4 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"

/* -- Address text --------------------------------------------------------- */

static int parse_port(const char *s, size_t len, uint16_t *port) {
  if (len == 0 || len > 5)
    return XS2S_ERR_INVALID_ARGUMENT;
  unsigned v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return XS2S_ERR_INVALID_ARGUMENT;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > 65535)
    return XS2S_ERR_INVALID_ARGUMENT;
  *port = (uint16_t)v;
  return 0;
}

int xs2s__net_split_host_port(const char *text, char *host, size_t host_size,
                              uint16_t *port, uint16_t default_port,
                              int *bracketed) {
  if (!text)
    return XS2S_ERR_INVALID_ARGUMENT;
  const char *h = text, *rest;
  size_t hlen;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close)
      return XS2S_ERR_INVALID_ARGUMENT;
    h = text + 1;
    hlen = (size_t)(close - h);
    rest = close + 1;
  } else {
    const char *colon = strchr(text, ':');
    if (colon && strchr(colon + 1, ':'))
      return XS2S_ERR_INVALID_ARGUMENT; /* unbracketed IPv6 */
    hlen = colon ? (size_t)(colon - text) : strlen(text);
    rest = text + hlen;
  }
  if (hlen == 0 || hlen >= host_size)
    return XS2S_ERR_INVALID_ARGUMENT;
  uint16_t p = default_port;
  if (rest[0] == ':') {
    if (parse_port(rest + 1, strlen(rest + 1), &p) < 0)
      return XS2S_ERR_INVALID_ARGUMENT;
  } else if (rest[0] != '\0') {
    return XS2S_ERR_INVALID_ARGUMENT;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = p;
  if (bracketed)
    *bracketed = text[0] == '[';
  return 0;
}

int xs2s__net_make_addr(const char *ip, uint16_t port,
                        struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    *len = sizeof(*in4);
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    *len = sizeof(*in6);
    return 0;
  }
  return XS2S_ERR_INVALID_ARGUMENT;
}

/* The IPv4 address inside an IPv4-mapped IPv6 address, or NULL. */
static const struct in_addr *mapped_v4(const struct sockaddr_in6 *in6) {
  return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)
             ? (const struct in_addr *)&in6->sin6_addr.s6_addr[12]
             : NULL;
}

char *xs2s__net_format_addr(const struct sockaddr *sa,
                            char buf[XS2S_ADDRSTRLEN]) {
  char ip[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
    snprintf(buf, XS2S_ADDRSTRLEN, "%s:%u", ip, ntohs(in4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    const struct in_addr *v4 = mapped_v4(in6);
    if (v4) {
      inet_ntop(AF_INET, v4, ip, sizeof(ip));
      snprintf(buf, XS2S_ADDRSTRLEN, "%s:%u", ip, ntohs(in6->sin6_port));
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
      snprintf(buf, XS2S_ADDRSTRLEN, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
  } else {
    snprintf(buf, XS2S_ADDRSTRLEN, "?");
  }
  return buf;
}

uint16_t xs2s__net_addr_port(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  if (sa->sa_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  return 0;
}

/* -- Sockets -------------------------------------------------------------- */

static int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value));
}

/* Closes @fd keeping errno, and returns XS2S_ERR_SYSTEM. */
static int close_fail(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
  return XS2S_ERR_SYSTEM;
}

int xs2s__net_listen(const struct sockaddr *sa, socklen_t len, unsigned flags,
                     int backlog, int *fd) {
  int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0)
    return XS2S_ERR_SYSTEM;
  if (set_int(s, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
      (sa->sa_family == AF_INET6 &&
       set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0) ||
      ((flags & XS2S__NET_REUSEPORT) &&
       set_int(s, SOL_SOCKET, SO_REUSEPORT, 1) < 0) ||
      bind(s, sa, len) < 0 || listen(s, backlog) < 0)
    return close_fail(s);
  *fd = s;
  return 0;
}

int xs2s__net_accept(int lfd, int *fd, struct sockaddr_storage *peer,
                     socklen_t *peer_len) {
  struct sockaddr_storage ss;
  for (;;) {
    socklen_t len = sizeof(ss);
    int s = accept4(lfd, (struct sockaddr *)&ss, &len,
                    SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return XS2S_ERR_SYSTEM;
    }
    /* Best effort: a socket without NODELAY still works, only slower. */
    set_int(s, IPPROTO_TCP, TCP_NODELAY, 1);
    *fd = s;
    if (peer) {
      *peer = ss;
      if (peer_len)
        *peer_len = len;
    }
    return 1;
  }
}

int xs2s__net_connect(const struct sockaddr *sa, socklen_t len, int *fd) {
  int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0)
    return XS2S_ERR_SYSTEM;
  if (set_int(s, IPPROTO_TCP, TCP_NODELAY, 1) < 0)
    return close_fail(s);
  int rc = connect(s, sa, len);
  if (rc < 0 && errno != EINPROGRESS)
    return close_fail(s);
  *fd = s;
  return rc == 0 ? 0 : XS2S__NET_IN_PROGRESS;
}

int xs2s__net_connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return XS2S_ERR_SYSTEM;
  if (err != 0) {
    errno = err;
    return XS2S_ERR_SYSTEM;
  }
  return 0;
}

static int ms_to_s(uint64_t ms) {
  uint64_t s = (ms + 999) / 1000;
  return s > 32767 ? 32767 : (int)s; /* the kernel's maximum */
}

void xs2s__net_keepalive_from_config(const xs2s_config *cfg,
                                     xs2s__keepalive *ka) {
  ka->idle_s = ms_to_s(cfg->timeouts[XS2S_TIMEOUT_TCP_KEEPALIVE_IDLE]);
  ka->interval_s =
      ms_to_s(cfg->timeouts[XS2S_TIMEOUT_TCP_KEEPALIVE_INTERVAL]);
  ka->count = (int)cfg->limits[XS2S_LIMIT_TCP_KEEPALIVE_COUNT];
}

int xs2s__net_set_keepalive(int fd, const xs2s__keepalive *ka) {
  if (ka->idle_s <= 0)
    return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0) < 0 ? XS2S_ERR_SYSTEM : 0;
  /* Keepalive probes are only sent while nothing is in flight. Once data
   * is unacknowledged (a whitespace keepalive or a stanza written to a
   * vanished peer) retransmissions take over, and Linux gives up on them
   * only after some 15 minutes; TCP_USER_TIMEOUT bounds that case by the
   * same window the probes have. */
  long user_ms =
      ((long)ka->idle_s + (long)ka->interval_s * ka->count) * 1000L;
  if (user_ms > INT_MAX)
    user_ms = INT_MAX;
  if (set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) < 0 ||
      set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, ka->idle_s) < 0 ||
      set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, ka->interval_s) < 0 ||
      set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, ka->count) < 0 ||
      set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)user_ms) < 0)
    return XS2S_ERR_SYSTEM;
  return 0;
}

/* -- Connection accounting ------------------------------------------------ */

typedef struct addr_entry {
  size_t count;
  size_t klen;
  unsigned char key[17]; /* family byte + 4 or 16 address bytes */
} addr_entry;

/* The accounting key of an address: its family and IP, port excluded. */
static int addr_key(const struct sockaddr *sa, unsigned char key[17],
                    size_t *klen) {
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    const struct in_addr *v4 = mapped_v4(in6);
    if (!v4) {
      key[0] = 6;
      memcpy(key + 1, &in6->sin6_addr, 16);
      *klen = 17;
      return 0;
    }
    key[0] = 4;
    memcpy(key + 1, v4, 4);
    *klen = 5;
    return 0;
  }
  if (sa->sa_family == AF_INET) {
    key[0] = 4;
    memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    *klen = 5;
    return 0;
  }
  return XS2S_ERR_INVALID_ARGUMENT;
}

void xs2s__conn_count_init(xs2s__conn_count *c, const xs2s_mem *mem,
                           size_t max_total, size_t max_per_addr) {
  memset(c, 0, sizeof(*c));
  xs2s__map_init(&c->by_addr, mem);
  c->mem = mem;
  c->max_total = max_total;
  c->max_per_addr = max_per_addr;
}

void xs2s__conn_count_free(xs2s__conn_count *c) {
  size_t pos = 0;
  void *e;
  while ((e = xs2s__map_next(&c->by_addr, &pos, NULL, NULL)))
    xs2s__free(c->mem, e);
  xs2s__map_free(&c->by_addr);
  c->total = 0;
}

int xs2s__conn_count_add(xs2s__conn_count *c, const struct sockaddr *sa,
                         int per_addr) {
  unsigned char key[17];
  size_t klen;
  if (addr_key(sa, key, &klen) < 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (c->total >= c->max_total)
    return XS2S_ERR_LIMIT;
  if (!per_addr) {
    c->total++;
    return 0;
  }
  addr_entry *e = xs2s__map_get(&c->by_addr, key, klen);
  if (e && e->count >= c->max_per_addr)
    return XS2S_ERR_LIMIT;
  if (!e) {
    if (c->max_per_addr == 0)
      return XS2S_ERR_LIMIT;
    e = xs2s__calloc(c->mem, 1, sizeof(*e));
    if (!e)
      return XS2S_ERR_NOMEM;
    memcpy(e->key, key, klen);
    e->klen = klen;
    if (xs2s__map_put(&c->by_addr, e->key, klen, e) < 0) {
      xs2s__free(c->mem, e);
      return XS2S_ERR_NOMEM;
    }
  }
  e->count++;
  c->total++;
  return 0;
}

void xs2s__conn_count_remove(xs2s__conn_count *c, const struct sockaddr *sa,
                             int per_addr) {
  unsigned char key[17];
  size_t klen;
  if (addr_key(sa, key, &klen) < 0 || c->total == 0)
    return;
  if (per_addr) {
    addr_entry *e = xs2s__map_get(&c->by_addr, key, klen);
    if (!e)
      return;
    /* Entries live only while counted, so the map holds live peers only. */
    if (--e->count == 0)
      xs2s__free(c->mem, xs2s__map_remove(&c->by_addr, key, klen));
  }
  c->total--;
}

size_t xs2s__conn_count_get(const xs2s__conn_count *c,
                            const struct sockaddr *sa) {
  unsigned char key[17];
  size_t klen;
  if (addr_key(sa, key, &klen) < 0)
    return 0;
  const addr_entry *e = xs2s__map_get(&c->by_addr, key, klen);
  return e ? e->count : 0;
}
