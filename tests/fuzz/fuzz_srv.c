/*
 * fuzz_srv.c: libFuzzer target for the pure half of the resolver: SRV
 * rdata and name decoding, the RFC 2782 order and the address-family
 * interleaving.
 *
 * Input: byte 0 is a record count n (0..64); then n records of four bytes
 * (priority, weight, big-endian); the rest feeds the random generator four
 * bytes at a time (then zeros). The whole input is also decoded as SRV
 * rdata and as a wire-format name, and checked as a host name in text.
 *
 * Built with -DXS2S_FUZZ_REPLAY it gets a main() that runs the files (or
 * directories of files) named on the command line, so the corpus is an
 * ordinary test with any compiler.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrorder.h"
#include "srv.h"

typedef struct stream {
  const uint8_t *p;
  size_t len;
} stream;

static uint32_t stream_random(void *ud) {
  stream *s = ud;
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) {
    x <<= 8;
    if (s->len) {
      x |= *s->p++;
      s->len--;
    }
  }
  return x;
}

static void check_name(const char *name) {
  size_t len = strlen(name);
  if (len > XS2S__DNAME_MAX)
    abort();
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok)
      abort();
  }
}

static void fuzz_decode(const uint8_t *data, size_t size) {
  xs2s__srv_rdata rd;
  if (xs2s__srv_decode(data, size, &rd) == 0)
    check_name(rd.target);
  char name[XS2S__DNAME_MAX + 1];
  if (xs2s__dname_decode(data, size, name) == 0)
    check_name(name);
  /* The input as text: an accepted host name has only host characters. */
  char text[300];
  size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
  memcpy(text, data, n);
  text[n] = '\0';
  size_t len = xs2s__host_name_len(text);
  if (len) {
    text[len] = '\0';
    check_name(text);
  }
}

static void fuzz_order(const uint8_t *data, size_t size) {
  if (size == 0)
    return;
  size_t n = data[0] % 65;
  if (n > (size - 1) / 4)
    n = (size - 1) / 4;
  xs2s__srv_key keys[64] = {{0, 0}};
  for (size_t i = 0; i < n; i++) {
    const uint8_t *r = data + 1 + 4 * i;
    keys[i].priority = (uint16_t)(r[0] << 8 | r[1]);
    keys[i].weight = (uint16_t)(r[2] << 8 | r[3]);
  }
  stream s = {data + 1 + 4 * n, size - 1 - 4 * n};
  size_t order[64];
  if (xs2s__srv_order(keys, n, stream_random, &s, order) != 0)
    abort();
  int seen[64] = {0};
  for (size_t i = 0; i < n; i++) {
    if (order[i] >= n || seen[order[i]]++)
      abort(); /* not a permutation */
    if (i > 0 && keys[order[i - 1]].priority > keys[order[i]].priority)
      abort(); /* priorities out of order */
  }

  /* The same bytes as address families: counts and per-family order must
   * survive the interleaving, and IPv6 leads when there is one. */
  xs2s_resolve_addr in[64], out[64];
  size_t m = size - 1 < 64 ? size - 1 : 64, v6 = 0;
  for (size_t i = 0; i < m; i++) {
    memset(&in[i], 0, sizeof(in[i]));
    in[i].sa.sa_family = data[1 + i] & 1 ? AF_INET6 : AF_INET;
    in[i].in.sin_port = (uint16_t)i; /* same offset in both sockaddrs */
    v6 += data[1 + i] & 1;
  }
  xs2s__addr_interleave(in, m, out);
  size_t next6 = 0, next4 = 0;
  for (size_t i = 0; i < m; i++) {
    size_t from = out[i].in.sin_port;
    int is6 = out[i].sa.sa_family == AF_INET6;
    size_t *next = is6 ? &next6 : &next4;
    /* the k-th address of a family out is the k-th of that family in */
    size_t k = 0;
    for (size_t j = 0; j < from; j++)
      k += (in[j].sa.sa_family == AF_INET6) == is6;
    if (k != (*next)++)
      abort();
  }
  if (next6 != v6 || (m > 0 && v6 > 0 && out[0].sa.sa_family != AF_INET6))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_decode(data, size);
  fuzz_order(data, size);
  return 0;
}

#ifdef XS2S_FUZZ_REPLAY
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  /* A copy of exactly n bytes, so that reads past the end are caught by
   * memory checkers. */
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy)
    return 1;
  memcpy(copy, buf, n);
  LLVMFuzzerTestOneInput(copy, n);
  free(copy);
  return 0;
}

int main(int argc, char **argv) {
  int files = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      failed += run_file(argv[i]);
      files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.')
        continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      failed += run_file(path);
      files++;
    }
    if (d)
      closedir(d);
  }
  printf("%d inputs replayed, %d unreadable\n", files, failed);
  return failed || files == 0 ? 1 : 0;
}
#endif
