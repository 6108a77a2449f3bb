/*
 * ratelimit.h: connection attempts per source address (internal).
 *
 * A token bucket per source: each accepted TCP connection takes one token,
 * tokens come back at a steady rate up to the burst size, and a connection
 * that finds the bucket empty is closed at once. The source is the IPv4
 * address, or the /64 prefix of an IPv6 address (one host commonly owns a
 * whole /64, so counting single IPv6 addresses would cost nothing to evade);
 * an IPv4-mapped IPv6 address counts as its IPv4 address.
 *
 * Memory is bounded: the table has a fixed number of entries, allocated on
 * first use. A source not in the table is treated as having a full bucket.
 * When a new source finds no free entry among the few it may use, it takes
 * the one of them with the most tokens (a full bucket holds no information;
 * an attacker spraying sources can at worst refill its own buckets early,
 * never drain anyone else's). Slots are chosen by SipHash under a random
 * key, so sources cannot be picked to collide.
 *
 * The refusal log: the first refusal after a quiet period is logged in
 * full; refusals within the next interval are only counted and reported in
 * one summary line when the interval ends.
 *
 * Sans-I/O: times are passed in (ms, any monotonic origin). Not
 * thread-safe; one per engine.
 */
#ifndef XS2S_RATELIMIT_H
#define XS2S_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <xs2s/common.h>

/* Entries one source may land in (a small probe window). */
#define XS2S__RATE_WAYS 8

typedef struct xs2s__rate_entry {
  uint8_t key[8];  /* IPv4 address or IPv6 /64, zero-padded */
  uint8_t family;  /* 0: free slot, 4 or 6 */
  uint32_t tokens; /* in thousandths of a token */
  uint64_t last;   /* time of the last refill, ms */
} xs2s__rate_entry;

typedef struct xs2s__ratelimit {
  const xs2s_mem *mem;
  xs2s__rate_entry *slots; /* NULL until the first attempt */
  size_t nslots;           /* a power of two */
  uint32_t burst;          /* tokens a full bucket holds */
  uint32_t per_minute;     /* tokens that come back per minute; 0: off */
  uint8_t sipkey[16];
  size_t used;             /* slots in use (for tests and counters) */
  uint64_t evictions;
} xs2s__ratelimit;

/* Sets the limits: @burst tokens per source, @per_minute refilled (0
 * turns the limit off), at most @max_sources entries (rounded down to a
 * power of two, at least XS2S__RATE_WAYS). Nothing is allocated yet. */
void xs2s__ratelimit_init(xs2s__ratelimit *rl, const xs2s_mem *mem,
                          uint32_t burst, uint32_t per_minute,
                          size_t max_sources);
/* New limits; the table is dropped when its size changes. */
void xs2s__ratelimit_configure(xs2s__ratelimit *rl, uint32_t burst,
                               uint32_t per_minute, size_t max_sources);
void xs2s__ratelimit_free(xs2s__ratelimit *rl);

/* One connection attempt from @sa at @now_ms: 1 when it may go on (a token
 * was taken), 0 when the source has used its tokens. Without memory for
 * the table, or for a family other than AF_INET/AF_INET6, the attempt is
 * allowed (the connection limits still apply). */
int xs2s__ratelimit_take(xs2s__ratelimit *rl, const struct sockaddr *sa,
                         uint64_t now_ms);

/* Bytes the table holds (0 before the first attempt). */
size_t xs2s__ratelimit_bytes(const xs2s__ratelimit *rl);

/* -- Refusal log ----------------------------------------------------------- */

typedef struct xs2s__refusal_log {
  uint64_t interval_ms; /* 0: every refusal is logged */
  uint64_t window_end;  /* end of the current summary window; 0: none */
  uint64_t suppressed;  /* refusals counted, not logged, in the window */
  uint64_t total;       /* every refusal, ever */
} xs2s__refusal_log;

/* One refusal at @now_ms. Returns 1 when it should be logged in full now
 * (then a summary window opens: the caller arms a timer for
 * xs2s__refusal_log_due()), 0 when it was only counted. */
int xs2s__refusal_log_note(xs2s__refusal_log *l, uint64_t now_ms);

/* When the caller should call xs2s__refusal_log_flush(); UINT64_MAX when
 * no window is open. */
uint64_t xs2s__refusal_log_due(const xs2s__refusal_log *l);

/* Ends the window when it is over at @now_ms: returns the number of
 * refusals to report in one summary line (0: nothing to say). A window
 * with refusals opens the next one (so a steady flood gives one line per
 * interval); a quiet one closes, and the next refusal is logged in full. */
uint64_t xs2s__refusal_log_flush(xs2s__refusal_log *l, uint64_t now_ms);

#endif /* XS2S_RATELIMIT_H */
