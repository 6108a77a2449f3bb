/*
 * dns_fake.h: a broken DNS server for the resolver's failure cases, on
 * 127.0.0.1 and an ephemeral UDP port. It either answers every query with
 * SERVFAIL (a thread of its own) or stays silent (queries time out).
 */
#ifndef XS2S_TEST_DNS_FAKE_H
#define XS2S_TEST_DNS_FAKE_H

#include <pthread.h>

typedef struct dns_fake {
  int fd;
  unsigned port;
  int servfail;
  volatile int stop;
  pthread_t thread;
  int running;
} dns_fake;

/* Opens the socket and, with @servfail, starts answering. 0 or -1. */
int dns_fake_start(dns_fake *d, int servfail);
/* Stops answering and closes the socket. */
void dns_fake_stop(dns_fake *d);
/* libunbound configuration text (into @buf of @size) that sends queries
 * for @zone to @d and answers nothing else. */
void dns_fake_stub_conf(const dns_fake *d, const char *zone, char *buf,
                        size_t size);

#endif
