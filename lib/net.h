/*
 * net.h: sockets for the engine (internal): listeners, non-blocking accept
 * and connect, socket options, address text, and per-address connection
 * accounting.
 *
 * Every socket made here is non-blocking and close-on-exec, and every
 * connected socket has TCP_NODELAY: xs2s writes each protocol step in one
 * write, so Nagle's algorithm would only add a delayed-ACK round trip.
 *
 * Functions that fail on a system call return XS2S_ERR_SYSTEM and leave
 * errno set to the cause.
 */
#ifndef XS2S_NET_H
#define XS2S_NET_H

#include <stdint.h>
#include <sys/socket.h>

#include <xs2s/xs2s.h>

#include "hashmap.h"

/* Longest host in "host:port" text: a domain name. */
#define XS2S__HOST_MAX 1023

/* Returned by xs2s__net_connect(): the connection is being set up; wait
 * for writability, then ask xs2s__net_connect_result(). */
#define XS2S__NET_IN_PROGRESS 1

/* Splits "host", "host:port", "[v6]" or "[v6]:port". @host receives the
 * host without brackets (NUL-terminated, @host_size bytes available);
 * @port the port, or @default_port when none is given; *@bracketed is set
 * to 1 when the host was in brackets (may be NULL). An IPv6 address must
 * be bracketed; the port is 0 to 65535 in decimal. Returns 0 or
 * XS2S_ERR_INVALID_ARGUMENT. */
int xs2s__net_split_host_port(const char *text, char *host, size_t host_size,
                              uint16_t *port, uint16_t default_port,
                              int *bracketed);

/* Fills @ss with an IPv4 or IPv6 literal (no brackets) and a port.
 * Returns 0, or XS2S_ERR_INVALID_ARGUMENT when @ip is not an address. */
int xs2s__net_make_addr(const char *ip, uint16_t port,
                        struct sockaddr_storage *ss, socklen_t *len);

/* Writes "192.0.2.1:5269" or "[2001:db8::1]:5269" (an IPv4-mapped IPv6
 * address is written as IPv4). @buf has XS2S_ADDRSTRLEN bytes; an unknown
 * family gives "?". Returns @buf. */
char *xs2s__net_format_addr(const struct sockaddr *sa,
                            char buf[XS2S_ADDRSTRLEN]);

/* The port of an AF_INET/AF_INET6 address (0 for other families). */
uint16_t xs2s__net_addr_port(const struct sockaddr *sa);

/* xs2s__net_listen() flag: SO_REUSEPORT. */
#define XS2S__NET_REUSEPORT 0x1u

/* Opens a listening socket on @sa: SO_REUSEADDR, IPV6_V6ONLY for IPv6,
 * SO_REUSEPORT with XS2S__NET_REUSEPORT, then bind and listen with
 * @backlog. Returns 0 with the fd in *@fd, or XS2S_ERR_SYSTEM. */
int xs2s__net_listen(const struct sockaddr *sa, socklen_t len, unsigned flags,
                     int backlog, int *fd);

/* Accepts one connection with accept4 (non-blocking, close-on-exec) and
 * sets TCP_NODELAY on it. Returns 1 with the new fd and the peer's address
 * (@peer may be NULL), 0 when no connection is pending, or
 * XS2S_ERR_SYSTEM (EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener stays
 * readable, so the caller should pause it for a while). A connection the
 * peer already aborted (ECONNABORTED) is skipped. */
int xs2s__net_accept(int lfd, int *fd, struct sockaddr_storage *peer,
                     socklen_t *peer_len);

/* Starts a non-blocking TCP connect to @sa (with TCP_NODELAY). Returns 0
 * when already connected, XS2S__NET_IN_PROGRESS, or XS2S_ERR_SYSTEM (the
 * socket is closed then). The fd is in *@fd unless an error is returned. */
int xs2s__net_connect(const struct sockaddr *sa, socklen_t len, int *fd);

/* After a connecting socket became writable (or reported an error):
 * 0 when the connection is up, else XS2S_ERR_SYSTEM with errno set to the
 * connection's error (ECONNREFUSED, ETIMEDOUT, ...). */
int xs2s__net_connect_result(int fd);

/* TCP keepalive settings; idle_s 0 means keepalive off. */
typedef struct xs2s__keepalive {
  int idle_s;     /* TCP_KEEPIDLE */
  int interval_s; /* TCP_KEEPINTVL */
  int count;      /* TCP_KEEPCNT */
} xs2s__keepalive;

/* The keepalive settings of a config (ms rounded up to seconds). */
void xs2s__net_keepalive_from_config(const xs2s_config *cfg,
                                     xs2s__keepalive *ka);

/* Applies @ka to a connected socket (SO_KEEPALIVE and the three TCP
 * options, or SO_KEEPALIVE off). Returns 0 or XS2S_ERR_SYSTEM. */
int xs2s__net_set_keepalive(int fd, const xs2s__keepalive *ka);

/*
 * Connection accounting for XS2S_LIMIT_CONNECTIONS and
 * XS2S_LIMIT_CONNECTIONS_PER_ADDRESS: a count per peer IP address (the
 * port is ignored; an IPv4-mapped IPv6 address counts as its IPv4
 * address) and a total. O(1) per call.
 */
typedef struct xs2s__conn_count {
  xs2s__map by_addr; /* address bytes -> struct with count */
  size_t total;
  size_t max_total;
  size_t max_per_addr;
  const xs2s_mem *mem;
} xs2s__conn_count;

void xs2s__conn_count_init(xs2s__conn_count *c, const xs2s_mem *mem,
                           size_t max_total, size_t max_per_addr);
void xs2s__conn_count_free(xs2s__conn_count *c);

/* Counts one more connection from @sa. Returns 0; XS2S_ERR_LIMIT when
 * the total or the address's count is at its maximum (nothing counted);
 * XS2S_ERR_NOMEM; XS2S_ERR_INVALID_ARGUMENT for a family other than
 * AF_INET/AF_INET6. Outgoing connections count with @per_addr 0: they
 * take part in the total only. */
int xs2s__conn_count_add(xs2s__conn_count *c, const struct sockaddr *sa,
                         int per_addr);

/* Undoes one xs2s__conn_count_add() with the same arguments. */
void xs2s__conn_count_remove(xs2s__conn_count *c, const struct sockaddr *sa,
                             int per_addr);

/* Connections currently counted for the address of @sa. */
size_t xs2s__conn_count_get(const xs2s__conn_count *c,
                            const struct sockaddr *sa);

#endif /* XS2S_NET_H */
