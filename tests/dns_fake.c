/*
 * dns_fake.c: see dns_fake.h.
 */
#include "dns_fake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Answers every query with SERVFAIL until told to stop. */
static void *servfail_loop(void *arg) {
  dns_fake *d = arg;
  while (!d->stop) {
    struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    unsigned char pkt[512];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(d->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from,
                         &flen);
    if (n < 12)
      continue;
    pkt[2] = (unsigned char)(0x80 | (pkt[2] & 0x79)); /* QR, keep opcode, RD */
    pkt[3] = 0x02;                                    /* SERVFAIL */
    sendto(d->fd, pkt, (size_t)n, 0, (struct sockaddr *)&from, flen);
  }
  return NULL;
}

int dns_fake_start(dns_fake *d, int servfail) {
  memset(d, 0, sizeof(*d));
  d->servfail = servfail;
  d->fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
      getsockname(d->fd, (struct sockaddr *)&sin, &len) < 0)
    return -1;
  d->port = ntohs(sin.sin_port);
  if (servfail) {
    if (pthread_create(&d->thread, NULL, servfail_loop, d) != 0)
      return -1;
    d->running = 1;
  }
  return 0;
}

void dns_fake_stop(dns_fake *d) {
  d->stop = 1;
  if (d->running)
    pthread_join(d->thread, NULL);
  d->running = 0;
  if (d->fd >= 0)
    close(d->fd);
  d->fd = -1;
}

void dns_fake_stub_conf(const dns_fake *d, const char *zone, char *buf,
                        size_t size) {
  snprintf(buf, size,
           "server:\n"
           "  do-not-query-localhost: no\n"
           "  local-zone: \".\" static\n"
           "  local-zone: \"%s.\" transparent\n"
           "stub-zone:\n"
           "  name: \"%s.\"\n"
           "  stub-addr: 127.0.0.1@%u\n",
           zone, zone, d->port);
}
