/*
 * queue.h: stanzas waiting for an authenticated stream (internal).
 *
 * The engine keeps one queue per remote domain. xs2s_ctx_send() puts a
 * copy of the application's stanza here while the stream to that domain
 * is being resolved, connected, secured and authenticated; when a (local,
 * remote) domain pair becomes authenticated, the entries of that local
 * domain are drained in order onto the stream. A queue is bounded in
 * bytes (XS2S_LIMIT_QUEUE_BYTES): a push that would exceed the bound fails
 * at once with XS2S_ERR_LIMIT, so nothing is accepted that cannot be held.
 *
 * Each entry keeps what a bounce needs: the stanza itself (handed back to
 * the application's bounce callback, or turned into an error reply), the
 * local domain that sent it, the application's tag, and when it was
 * queued (entries older than XS2S_TIMEOUT_QUEUE are bounced with
 * remote-server-timeout). Entries are in queueing order, so the expired
 * ones are always at the front.
 *
 * The same queue holds a stream's XEP-0198 unacknowledged stanzas
 * (ctx_sm.c), where an entry may keep the stanza as the bytes written
 * instead of a tree (sm_kept.h).
 */
#ifndef XS2S_QUEUE_H
#define XS2S_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <xs2s/stanza.h>

typedef struct xs2s__qentry {
  struct xs2s__qentry *next;
  xs2s_stanza *stanza; /* owned copy; NULL while @xml stands for it */
  char *xml;           /* XEP-0198: the stanza as written (@bytes long,
                        * in this entry's block), or NULL */
  size_t bytes;        /* serialised size, counted against the bound */
  uint64_t queued_ms;  /* loop time when queued */
  void *tag;           /* the application's, returned with a bounce */
  size_t local_len;
  char local[];        /* sending local domain, normal form */
} xs2s__qentry;

typedef struct xs2s__queue {
  xs2s__qentry *head;
  xs2s__qentry **tail; /* where the next entry is linked */
  size_t count;
  size_t bytes;     /* sum of the entries' bytes */
  size_t max_bytes; /* bound on bytes */
  const xs2s_mem *mem;
} xs2s__queue;

/* Returned by a drain callback: stop, leaving this entry at its place. */
#define XS2S__QUEUE_KEEP 1

/* A drain callback: 0 when the entry was taken (it is then freed),
 * XS2S__QUEUE_KEEP to stop with the entry kept, or a negative error code
 * to stop with the entry kept and that code returned. */
typedef int (*xs2s__queue_drain_fn)(xs2s__qentry *e, void *arg);

/* A callback that receives entries leaving the queue for good (bounces);
 * the entry is freed after it returns. */
typedef void (*xs2s__queue_take_fn)(xs2s__qentry *e, void *arg);

/* An empty queue bounded at @max_bytes. @mem is borrowed. */
void xs2s__queue_init(xs2s__queue *q, const xs2s_mem *mem, size_t max_bytes);

/* Frees every entry without telling anyone (bounce them first). */
void xs2s__queue_free(xs2s__queue *q);

/* Appends a copy of @stanza sent by local domain @local (normal form,
 * @local_len bytes) at loop time @now, with the application's @tag.
 * Returns 0; XS2S_ERR_LIMIT when the stanza does not fit in what is left
 * of the bound (nothing is queued); XS2S_ERR_INVALID_ARGUMENT when
 * @stanza is not an element; XS2S_ERR_NOMEM. */
int xs2s__queue_push(xs2s__queue *q, const xs2s_stanza *stanza,
                     const char *local, size_t local_len, uint64_t now,
                     void *tag);

/* Like xs2s__queue_push() for a stanza the queue takes over (no copy)
 * whose serialised size @bytes is known, whatever the bound. Returns 0,
 * or XS2S_ERR_NOMEM (@stanza is then still the caller's). */
int xs2s__queue_push_owned(xs2s__queue *q, xs2s_stanza *stanza, size_t bytes,
                           const char *local, size_t local_len, uint64_t now,
                           void *tag);

/* A new entry, in no queue, that keeps the serialised stanza @xml (@len
 * bytes, its size against a bound) in place of a tree: one block with
 * @local (@local_len bytes). NULL when out of memory. */
xs2s__qentry *xs2s__queue_entry_xml(const xs2s_mem *mem, const char *xml,
                                    size_t len, const char *local,
                                    size_t local_len, uint64_t now, void *tag);

/* Frees an entry that is in no queue (NULL is fine). */
void xs2s__queue_entry_free(const xs2s_mem *mem, xs2s__qentry *e);

/* Links @e (from xs2s__queue_entry_xml()) at the end of @q, whatever the
 * bound: it was written already. */
void xs2s__queue_append(xs2s__queue *q, xs2s__qentry *e);

/* The oldest entry (first to drain, first to expire), or NULL. */
static inline const xs2s__qentry *xs2s__queue_oldest(const xs2s__queue *q) {
  return q->head;
}

/* Hands the entries sent by @local (NULL: by any local domain) to @fn in
 * queueing order, skipping others, until @fn keeps one. Returns the number
 * taken, or the negative code @fn returned. */
int xs2s__queue_drain(xs2s__queue *q, const char *local, size_t local_len,
                      xs2s__queue_drain_fn fn, void *arg);

/* Takes every entry queued at or before @cutoff_ms (oldest first) and
 * hands it to @fn. Returns how many. */
size_t xs2s__queue_expire(xs2s__queue *q, uint64_t cutoff_ms,
                          xs2s__queue_take_fn fn, void *arg);

/* Takes the entries sent by @local (NULL: all) and hands them to @fn in
 * order, e.g. to bounce them when the domain cannot be reached. Returns
 * how many. */
size_t xs2s__queue_take_all(xs2s__queue *q, const char *local,
                            size_t local_len, xs2s__queue_take_fn fn,
                            void *arg);

/* Offers every entry to @try in order; those it refuses (nonzero) are
 * unlinked and handed to @fn, then freed. Returns how many. */
size_t xs2s__queue_take_refused(xs2s__queue *q,
                                int (*try)(xs2s__qentry *e, void *arg),
                                xs2s__queue_take_fn fn, void *arg);

/* Moves every entry of @src, in order, to the front of @dst (older than
 * what @dst holds), whatever @dst's bound: they were accepted before.
 * @src is left empty. Both use the same allocator. */
void xs2s__queue_prepend(xs2s__queue *dst, xs2s__queue *src);

#endif /* XS2S_QUEUE_H */
