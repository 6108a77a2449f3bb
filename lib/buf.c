/*
 * buf.c: growable byte buffer.
 */
#include "buf.h"

#include <string.h>

#include "alloc.h"

void xs2s__buf_init(xs2s__buf *b, const xs2s_mem *mem) {
  memset(b, 0, sizeof(*b));
  b->mem = mem;
}

void xs2s__buf_free(xs2s__buf *b) {
  xs2s__free(b->mem, b->data);
  b->data = NULL;
  b->start = b->len = b->cap = 0;
}

int xs2s__buf_reserve(xs2s__buf *b, size_t extra) {
  if (b->start + b->len + extra <= b->cap)
    return 0;
  /* Reclaim consumed space first: cheaper than growing. */
  if (b->start > 0) {
    memmove(b->data, b->data + b->start, b->len);
    b->start = 0;
    if (b->len + extra <= b->cap)
      return 0;
  }
  if (extra > (size_t)-1 / 2 - b->len)
    return XS2S_ERR_NOMEM;
  size_t want = b->len + extra;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < want)
    cap *= 2;
  char *p = xs2s__realloc(b->mem, b->data, cap);
  if (!p)
    return XS2S_ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int xs2s__buf_append(xs2s__buf *b, const void *p, size_t n) {
  if (n == 0)
    return 0;
  int rc = xs2s__buf_reserve(b, n);
  if (rc < 0)
    return rc;
  memcpy(b->data + b->start + b->len, p, n);
  b->len += n;
  return 0;
}

int xs2s__buf_append_str(xs2s__buf *b, const char *s) {
  return xs2s__buf_append(b, s, strlen(s));
}

void xs2s__buf_consume(xs2s__buf *b, size_t n) {
  if (n >= b->len) {
    b->start = b->len = 0;
    return;
  }
  b->start += n;
  b->len -= n;
}

void xs2s__buf_clear(xs2s__buf *b) {
  b->start = b->len = 0;
}
