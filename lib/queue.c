/*
 * queue.c: bounded FIFO of stanzas per remote domain.
 */
#include "queue.h"

#include <string.h>

#include "alloc.h"

void xs2s__queue_init(xs2s__queue *q, const xs2s_mem *mem, size_t max_bytes) {
  q->head = NULL;
  q->tail = &q->head;
  q->count = 0;
  q->bytes = 0;
  q->max_bytes = max_bytes;
  q->mem = mem;
}

void xs2s__queue_entry_free(const xs2s_mem *mem, xs2s__qentry *e) {
  if (!e)
    return;
  xs2s_stanza_free(e->stanza);
  xs2s__free(mem, e);
}

static void entry_free(const xs2s__queue *q, xs2s__qentry *e) {
  xs2s__queue_entry_free(q->mem, e);
}

/* An unlinked entry with room for @extra bytes after its local domain. */
static xs2s__qentry *entry_new(const xs2s_mem *mem, size_t bytes,
                               const char *local, size_t local_len,
                               uint64_t now, void *tag, size_t extra) {
  xs2s__qentry *e = xs2s__malloc(mem, sizeof(*e) + local_len + 1 + extra);
  if (!e)
    return NULL;
  e->next = NULL;
  e->stanza = NULL;
  e->xml = NULL;
  e->bytes = bytes;
  e->queued_ms = now;
  e->tag = tag;
  e->local_len = local_len;
  memcpy(e->local, local, local_len);
  e->local[local_len] = '\0';
  return e;
}

xs2s__qentry *xs2s__queue_entry_xml(const xs2s_mem *mem, const char *xml,
                                    size_t len, const char *local,
                                    size_t local_len, uint64_t now,
                                    void *tag) {
  xs2s__qentry *e = entry_new(mem, len, local, local_len, now, tag, len);
  if (!e)
    return NULL;
  e->xml = e->local + local_len + 1;
  memcpy(e->xml, xml, len);
  return e;
}

void xs2s__queue_append(xs2s__queue *q, xs2s__qentry *e) {
  *q->tail = e;
  q->tail = &e->next;
  q->count++;
  q->bytes += e->bytes;
}

/* Unlinks the entry that *@link points to and returns it. */
static xs2s__qentry *unlink_at(xs2s__queue *q, xs2s__qentry **link) {
  xs2s__qentry *e = *link;
  *link = e->next;
  if (q->tail == &e->next)
    q->tail = link;
  e->next = NULL;
  q->count--;
  q->bytes -= e->bytes;
  return e;
}

void xs2s__queue_free(xs2s__queue *q) {
  while (q->head)
    entry_free(q, unlink_at(q, &q->head));
}

int xs2s__queue_push(xs2s__queue *q, const xs2s_stanza *stanza,
                     const char *local, size_t local_len, uint64_t now,
                     void *tag) {
  size_t bytes = 0;
  if (!stanza || xs2s_stanza_type(stanza) != XS2S_NODE_ELEMENT)
    return XS2S_ERR_INVALID_ARGUMENT;
  /* Measure without writing: the serialised size is what the bound is
   * about, whatever the in-memory form costs. */
  int rc = xs2s_stanza_serialize(stanza, NULL, 0, &bytes);
  if (rc < 0 && rc != XS2S_ERR_BUFFER_TOO_SMALL)
    return rc;
  /* The queue may be over its bound (xs2s__queue_prepend()). */
  if (q->bytes > q->max_bytes || bytes > q->max_bytes - q->bytes)
    return XS2S_ERR_LIMIT;
  xs2s_stanza *copy = xs2s_stanza_copy(stanza);
  if (!copy)
    return XS2S_ERR_NOMEM;
  rc = xs2s__queue_push_owned(q, copy, bytes, local, local_len, now, tag);
  if (rc < 0)
    xs2s_stanza_free(copy);
  return rc;
}

int xs2s__queue_push_owned(xs2s__queue *q, xs2s_stanza *stanza, size_t bytes,
                           const char *local, size_t local_len, uint64_t now,
                           void *tag) {
  xs2s__qentry *e = entry_new(q->mem, bytes, local, local_len, now, tag, 0);
  if (!e)
    return XS2S_ERR_NOMEM;
  e->stanza = stanza;
  xs2s__queue_append(q, e);
  return 0;
}

static int matches(const xs2s__qentry *e, const char *local, size_t len) {
  return !local ||
         (e->local_len == len && memcmp(e->local, local, len) == 0);
}

int xs2s__queue_drain(xs2s__queue *q, const char *local, size_t local_len,
                      xs2s__queue_drain_fn fn, void *arg) {
  int taken = 0;
  xs2s__qentry **link = &q->head;
  while (*link) {
    xs2s__qentry *e = *link;
    if (!matches(e, local, local_len)) {
      link = &e->next;
      continue;
    }
    int rc = fn(e, arg);
    if (rc < 0)
      return rc;
    if (rc == XS2S__QUEUE_KEEP)
      break;
    entry_free(q, unlink_at(q, link));
    taken++;
  }
  return taken;
}

/* Unlinks the entries sent by @local (NULL: any) and queued at or before
 * @cutoff_ms, keeping their order, and returns them as a chain. Entries
 * are in queueing order, so the scan stops at the first one too young. */
static xs2s__qentry *detach(xs2s__queue *q, const char *local,
                            size_t local_len, uint64_t cutoff_ms) {
  xs2s__qentry *chain = NULL, **end = &chain;
  xs2s__qentry **link = &q->head;
  while (*link && (*link)->queued_ms <= cutoff_ms) {
    if (!matches(*link, local, local_len)) {
      link = &(*link)->next;
      continue;
    }
    *end = unlink_at(q, link);
    end = &(*end)->next;
  }
  return chain;
}

/* Hands a detached chain to @fn entry by entry, freeing each. Detaching
 * first matters: @fn may queue new stanzas (an application that re-sends
 * what bounced), and those must not be taken in the same call. */
static size_t hand_over(xs2s__queue *q, xs2s__qentry *chain,
                        xs2s__queue_take_fn fn, void *arg) {
  size_t n = 0;
  while (chain) {
    xs2s__qentry *e = chain;
    chain = e->next;
    fn(e, arg);
    entry_free(q, e);
    n++;
  }
  return n;
}

size_t xs2s__queue_expire(xs2s__queue *q, uint64_t cutoff_ms,
                          xs2s__queue_take_fn fn, void *arg) {
  return hand_over(q, detach(q, NULL, 0, cutoff_ms), fn, arg);
}

size_t xs2s__queue_take_all(xs2s__queue *q, const char *local,
                            size_t local_len, xs2s__queue_take_fn fn,
                            void *arg) {
  return hand_over(q, detach(q, local, local_len, UINT64_MAX), fn, arg);
}

size_t xs2s__queue_take_refused(xs2s__queue *q,
                                int (*try)(xs2s__qentry *e, void *arg),
                                xs2s__queue_take_fn fn, void *arg) {
  xs2s__qentry *chain = NULL, **end = &chain;
  for (xs2s__qentry **link = &q->head; *link;) {
    if (try(*link, arg) == 0) {
      link = &(*link)->next;
      continue;
    }
    *end = unlink_at(q, link);
    end = &(*end)->next;
  }
  return hand_over(q, chain, fn, arg);
}

void xs2s__queue_prepend(xs2s__queue *dst, xs2s__queue *src) {
  if (!src->head)
    return;
  *src->tail = dst->head;
  if (!dst->head)
    dst->tail = src->tail;
  dst->head = src->head;
  dst->count += src->count;
  dst->bytes += src->bytes;
  src->head = NULL;
  src->tail = &src->head;
  src->count = 0;
  src->bytes = 0;
}
