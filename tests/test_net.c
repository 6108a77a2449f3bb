/* Sockets on loopback: listeners (IPv4 and IPv6), non-blocking connect
 * and accept, socket options, refused connections, SO_REUSEPORT, address
 * text, and per-address connection accounting. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "check.h"
#include "net.h"

static int getopt_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  if (getsockopt(fd, level, name, &v, &len) < 0)
    return -1;
  return v;
}

static int wait_for(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  return poll(&p, 1, 5000) == 1 ? p.revents : 0;
}

static void check_nonblocking_cloexec(int fd) {
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void test_split_host_port(void) {
  char host[64];
  uint16_t port;
  int br;
  CHECK_INT(xs2s__net_split_host_port("example.net", host, sizeof(host), &port,
                                      5269, &br),
            0);
  CHECK_STR(host, "example.net");
  CHECK_INT(port, 5269);
  CHECK_INT(br, 0);
  CHECK_INT(xs2s__net_split_host_port("192.0.2.1:1", host, sizeof(host), &port,
                                      5269, &br),
            0);
  CHECK_STR(host, "192.0.2.1");
  CHECK_INT(port, 1);
  CHECK_INT(xs2s__net_split_host_port("[2001:db8::1]:65535", host,
                                      sizeof(host), &port, 5269, &br),
            0);
  CHECK_STR(host, "2001:db8::1");
  CHECK_INT(port, 65535);
  CHECK_INT(br, 1);
  CHECK_INT(xs2s__net_split_host_port("[::1]", host, sizeof(host), &port, 7,
                                      NULL),
            0);
  CHECK_INT(port, 7);
  static const char *const bad[] = {"::1", "[::1", "[::1]5269", "h:", "h:x",
                                    "h:123456", "h:65536", ":1", "[]:1", "",
                                    NULL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_INT(xs2s__net_split_host_port(bad[i], host, sizeof(host), &port,
                                        5269, &br),
              XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__net_split_host_port("a-very-long-host-name:1", host, 8,
                                      &port, 5269, &br),
            XS2S_ERR_INVALID_ARGUMENT);
}

static void test_format(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  char buf[XS2S_ADDRSTRLEN];
  CHECK_INT(xs2s__net_make_addr("192.0.2.1", 5269, &ss, &len), 0);
  CHECK_INT(len, sizeof(struct sockaddr_in));
  CHECK_STR(xs2s__net_format_addr((struct sockaddr *)&ss, buf),
            "192.0.2.1:5269");
  CHECK_INT(xs2s__net_addr_port((struct sockaddr *)&ss), 5269);
  CHECK_INT(xs2s__net_make_addr("2001:DB8:0:0::1", 443, &ss, &len), 0);
  CHECK_INT(len, sizeof(struct sockaddr_in6));
  CHECK_STR(xs2s__net_format_addr((struct sockaddr *)&ss, buf),
            "[2001:db8::1]:443");
  CHECK_INT(xs2s__net_make_addr("::ffff:198.51.100.7", 5270, &ss, &len), 0);
  CHECK_STR(xs2s__net_format_addr((struct sockaddr *)&ss, buf),
            "198.51.100.7:5270");
  /* The longest IPv6 text fits. */
  CHECK_INT(xs2s__net_make_addr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                                65535, &ss, &len),
            0);
  CHECK_STR(xs2s__net_format_addr((struct sockaddr *)&ss, buf),
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  CHECK_INT(xs2s__net_make_addr("example.net", 1, &ss, &len),
            XS2S_ERR_INVALID_ARGUMENT);
  CHECK_INT(xs2s__net_make_addr("[::1]", 1, &ss, &len),
            XS2S_ERR_INVALID_ARGUMENT);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  CHECK_STR(xs2s__net_format_addr((struct sockaddr *)&un, buf), "?");
  CHECK_INT(xs2s__net_addr_port((struct sockaddr *)&un), 0);
}

/* Listens on @ip port 0, connects, accepts, exchanges bytes, and checks
 * every option on the way. Returns 0 when the address family is missing. */
static int loopback_round_trip(const char *ip, const char *peer_prefix) {
  struct sockaddr_storage ss;
  socklen_t len;
  int lfd = -1, cfd = -1, afd = -1;
  CHECK_INT(xs2s__net_make_addr(ip, 0, &ss, &len), 0);
  int rc = xs2s__net_listen((struct sockaddr *)&ss, len, 0, 16, &lfd);
  if (rc < 0) {
    fprintf(stderr, "cannot listen on %s: %s\n", ip, strerror(errno));
    return 0;
  }
  check_nonblocking_cloexec(lfd);
  CHECK_INT(getopt_int(lfd, SOL_SOCKET, SO_REUSEADDR), 1);
  if (ss.ss_family == AF_INET6)
    CHECK_INT(getopt_int(lfd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
  CHECK_INT(getopt_int(lfd, SOL_SOCKET, SO_REUSEPORT), 0);
  len = sizeof(ss);
  CHECK_INT(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
  CHECK(xs2s__net_addr_port((struct sockaddr *)&ss) != 0);

  /* Nothing pending yet. */
  CHECK_INT(xs2s__net_accept(lfd, &afd, NULL, NULL), 0);

  rc = xs2s__net_connect((struct sockaddr *)&ss, len, &cfd);
  CHECK(rc == 0 || rc == XS2S__NET_IN_PROGRESS);
  CHECK(cfd >= 0);
  check_nonblocking_cloexec(cfd);
  CHECK_INT(getopt_int(cfd, IPPROTO_TCP, TCP_NODELAY), 1);
  CHECK(wait_for(cfd, POLLOUT) & POLLOUT);
  CHECK_INT(xs2s__net_connect_result(cfd), 0);

  CHECK(wait_for(lfd, POLLIN) & POLLIN);
  struct sockaddr_storage peer;
  socklen_t peer_len = 0;
  CHECK_INT(xs2s__net_accept(lfd, &afd, &peer, &peer_len), 1);
  CHECK(peer_len > 0);
  check_nonblocking_cloexec(afd);
  CHECK_INT(getopt_int(afd, IPPROTO_TCP, TCP_NODELAY), 1);
  char text[XS2S_ADDRSTRLEN];
  xs2s__net_format_addr((struct sockaddr *)&peer, text);
  CHECK(strncmp(text, peer_prefix, strlen(peer_prefix)) == 0);
  CHECK_INT(xs2s__net_accept(lfd, &afd, NULL, NULL) == 1, 0);

  CHECK_INT(write(cfd, "ping", 4), 4);
  char buf[8] = {0};
  CHECK(wait_for(afd, POLLIN) & POLLIN);
  CHECK_INT(read(afd, buf, sizeof(buf)), 4);
  CHECK_STR(buf, "ping");

  /* Keepalive from the config's defaults, then switched off. */
  xs2s_config *cfg = xs2s_config_new(NULL);
  xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_TCP_KEEPALIVE_IDLE, 1500);
  xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_TCP_KEEPALIVE_INTERVAL, 3000);
  xs2s_config_set_limit(cfg, XS2S_LIMIT_TCP_KEEPALIVE_COUNT, 4);
  xs2s__keepalive ka;
  xs2s__net_keepalive_from_config(cfg, &ka);
  CHECK_INT(ka.idle_s, 2); /* rounded up */
  CHECK_INT(ka.interval_s, 3);
  CHECK_INT(ka.count, 4);
  CHECK_INT(xs2s__net_set_keepalive(afd, &ka), 0);
  CHECK_INT(getopt_int(afd, SOL_SOCKET, SO_KEEPALIVE), 1);
  CHECK_INT(getopt_int(afd, IPPROTO_TCP, TCP_KEEPIDLE), 2);
  CHECK_INT(getopt_int(afd, IPPROTO_TCP, TCP_KEEPINTVL), 3);
  CHECK_INT(getopt_int(afd, IPPROTO_TCP, TCP_KEEPCNT), 4);
  /* Unacknowledged data gives up in the same window: 2 + 3 * 4 s. */
  CHECK_INT(getopt_int(afd, IPPROTO_TCP, TCP_USER_TIMEOUT), 14000);
  xs2s_config_set_timeout(cfg, XS2S_TIMEOUT_TCP_KEEPALIVE_IDLE, 0);
  xs2s__net_keepalive_from_config(cfg, &ka);
  CHECK_INT(xs2s__net_set_keepalive(afd, &ka), 0);
  CHECK_INT(getopt_int(afd, SOL_SOCKET, SO_KEEPALIVE), 0);
  xs2s_config_free(cfg);

  close(afd);
  close(cfd);
  close(lfd);
  return 1;
}

static void test_ipv4_loopback(void) {
  CHECK(loopback_round_trip("127.0.0.1", "127.0.0.1:"));
}

static void test_ipv6_loopback(void) {
  int ok = loopback_round_trip("::1", "[::1]:");
  if (!ok)
    fprintf(stderr, "IPv6 is not available on the loopback interface; "
                    "enable it (sysctl net.ipv6.conf.lo.disable_ipv6=0)\n");
  CHECK(ok);
}

static void test_connect_refused(void) {
  /* A bound socket that does not listen reserves a port nobody accepts on. */
  struct sockaddr_storage ss;
  socklen_t len;
  xs2s__net_make_addr("127.0.0.1", 0, &ss, &len);
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_INT(bind(holder, (struct sockaddr *)&ss, len), 0);
  len = sizeof(ss);
  getsockname(holder, (struct sockaddr *)&ss, &len);
  int fd = -1;
  int rc = xs2s__net_connect((struct sockaddr *)&ss, len, &fd);
  if (rc == XS2S__NET_IN_PROGRESS) {
    CHECK(wait_for(fd, POLLOUT) != 0);
    errno = 0;
    CHECK_INT(xs2s__net_connect_result(fd), XS2S_ERR_SYSTEM);
    CHECK_INT(errno, ECONNREFUSED);
    close(fd);
  } else {
    CHECK_INT(rc, XS2S_ERR_SYSTEM);
    CHECK_INT(errno, ECONNREFUSED);
  }
  close(holder);
}

static void test_reuseport(void) {
  struct sockaddr_storage ss;
  socklen_t len;
  int a = -1, b = -1, c = -1;
  xs2s__net_make_addr("127.0.0.1", 0, &ss, &len);
  CHECK_INT(xs2s__net_listen((struct sockaddr *)&ss, len, XS2S__NET_REUSEPORT,
                             8, &a),
            0);
  CHECK_INT(getopt_int(a, SOL_SOCKET, SO_REUSEPORT), 1);
  len = sizeof(ss);
  getsockname(a, (struct sockaddr *)&ss, &len);
  /* A second engine can share the port with the flag, not without it. */
  CHECK_INT(xs2s__net_listen((struct sockaddr *)&ss, len, XS2S__NET_REUSEPORT,
                             8, &b),
            0);
  errno = 0;
  CHECK_INT(xs2s__net_listen((struct sockaddr *)&ss, len, 0, 8, &c),
            XS2S_ERR_SYSTEM);
  CHECK_INT(errno, EADDRINUSE);
  close(a);
  close(b);
}

static void test_conn_count(void) {
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__conn_count c;
  xs2s__conn_count_init(&c, &mem, 4, 2);
  struct sockaddr_storage a, a_mapped, a_other_port, b;
  socklen_t len;
  xs2s__net_make_addr("127.0.0.1", 1000, &a, &len);
  xs2s__net_make_addr("127.0.0.1", 2000, &a_other_port, &len);
  xs2s__net_make_addr("::ffff:127.0.0.1", 3000, &a_mapped, &len);
  xs2s__net_make_addr("::1", 1000, &b, &len);
  const struct sockaddr *A = (struct sockaddr *)&a;
  const struct sockaddr *A2 = (struct sockaddr *)&a_other_port;
  const struct sockaddr *AM = (struct sockaddr *)&a_mapped;
  const struct sockaddr *B = (struct sockaddr *)&b;
  CHECK_INT(xs2s__conn_count_add(&c, A, 1), 0);
  CHECK_INT(xs2s__conn_count_add(&c, A2, 1), 0); /* same IP */
  CHECK_INT(xs2s__conn_count_get(&c, A), 2);
  CHECK_INT(xs2s__conn_count_add(&c, AM, 1), XS2S_ERR_LIMIT);
  CHECK_INT(xs2s__conn_count_add(&c, B, 1), 0);
  CHECK_INT(xs2s__conn_count_get(&c, B), 1);
  /* Outgoing: total only. */
  CHECK_INT(xs2s__conn_count_add(&c, A, 0), 0);
  CHECK_INT(xs2s__conn_count_get(&c, A), 2);
  CHECK_INT(c.total, 4);
  CHECK_INT(xs2s__conn_count_add(&c, B, 1), XS2S_ERR_LIMIT); /* total */
  xs2s__conn_count_remove(&c, A, 0);
  xs2s__conn_count_remove(&c, AM, 1); /* the mapped form is the same IP */
  CHECK_INT(xs2s__conn_count_get(&c, A), 1);
  CHECK_INT(xs2s__conn_count_add(&c, AM, 1), 0);
  CHECK_INT(xs2s__conn_count_get(&c, A), 2);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  CHECK_INT(xs2s__conn_count_add(&c, (struct sockaddr *)&un, 1),
            XS2S_ERR_INVALID_ARGUMENT);
  xs2s__conn_count_remove(&c, A, 1);
  xs2s__conn_count_remove(&c, A, 1);
  xs2s__conn_count_remove(&c, B, 1);
  CHECK_INT(c.total, 0);
  CHECK_INT(c.by_addr.len, 0); /* no entries kept for departed peers */
  xs2s__conn_count_remove(&c, B, 1); /* nothing to remove: no underflow */
  CHECK_INT(c.total, 0);
  CHECK_INT(xs2s__conn_count_add(&c, B, 1), 0);
  xs2s__conn_count_free(&c); /* frees live entries too */
}

int main(void) {
  RUN(test_split_host_port);
  RUN(test_format);
  RUN(test_ipv4_loopback);
  RUN(test_ipv6_loopback);
  RUN(test_connect_refused);
  RUN(test_reuseport);
  RUN(test_conn_count);
  return check_finish();
}
