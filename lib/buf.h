/*
 * buf.h: a growable byte buffer with cheap consumption from the front
 * (internal). Used for serialised output and for bytes waiting to be
 * written or parsed.
 */
#ifndef XS2S_BUF_H
#define XS2S_BUF_H

#include <stddef.h>

#include <xs2s/common.h>

typedef struct xs2s__buf {
  char *data;          /* allocation; live bytes are data[start, start+len) */
  size_t start;        /* bytes already consumed at the front */
  size_t len;          /* live bytes */
  size_t cap;          /* size of the allocation */
  const xs2s_mem *mem; /* allocator (borrowed from the owning object) */
} xs2s__buf;

void xs2s__buf_init(xs2s__buf *b, const xs2s_mem *mem);
void xs2s__buf_free(xs2s__buf *b);

/* Makes room for @extra more bytes; 0 or XS2S_ERR_NOMEM. */
int xs2s__buf_reserve(xs2s__buf *b, size_t extra);

/* Appends @n bytes; 0 or XS2S_ERR_NOMEM (the buffer is unchanged then). */
int xs2s__buf_append(xs2s__buf *b, const void *p, size_t n);
int xs2s__buf_append_str(xs2s__buf *b, const char *s);

/* Drops @n bytes from the front (n <= len). */
void xs2s__buf_consume(xs2s__buf *b, size_t n);

/* Drops everything, keeping the allocation. */
void xs2s__buf_clear(xs2s__buf *b);

/* The live bytes. */
static inline const char *xs2s__buf_bytes(const xs2s__buf *b) {
  return b->data ? b->data + b->start : "";
}

#endif /* XS2S_BUF_H */
