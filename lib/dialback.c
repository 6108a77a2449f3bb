/*
 * dialback.c: the XEP-0220 state of one stream: domain pairs with their
 * states, the verifications this stream asked for, and the four roles.
 *
 * Pair states move only through set_state(); docs/DIALBACK.md has the
 * table of transitions.
 */
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "dialback.h"
#include "domain.h"

const char *xs2s_dialback_state_name(xs2s_dialback_state s) {
  static const char *const names[] = {
      [XS2S_DIALBACK_NONE] = "none",   [XS2S_DIALBACK_PENDING] = "pending",
      [XS2S_DIALBACK_VALID] = "valid", [XS2S_DIALBACK_INVALID] = "invalid",
      [XS2S_DIALBACK_ERROR] = "error",
  };
  if ((int)s < 0 || (size_t)s >= sizeof(names) / sizeof(names[0]))
    return NULL;
  return names[s];
}

/* Domain names compare in their canonical form (domain.c): case and
 * U-label versus A-label make no difference. */
static int same_domain(const char *a, const char *b) {
  return xs2s__domain_equal(a, b);
}

/* Copies @src, known to fit, into a fixed buffer of @size bytes. */
static void copy_str(char *dst, size_t size, const char *src) {
  size_t n = strnlen(src, size - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void xs2s__dialback_init(xs2s__dialback *db, const xs2s_mem *mem,
                         xs2s__dialback_dir dir,
                         const xs2s__dialback_options *opts) {
  memset(db, 0, sizeof(*db));
  db->mem = mem;
  db->dir = dir;
  if (opts)
    db->opts = *opts;
  if (!db->opts.timeout_ms)
    db->opts.timeout_ms = XS2S_DIALBACK_DEFAULT_TIMEOUT_MS;
  if (!db->opts.max_pairs)
    db->opts.max_pairs = XS2S_DIALBACK_DEFAULT_MAX_PAIRS;
}

static void free_query(const xs2s_mem *mem, xs2s__dialback_query *q) {
  xs2s__free(mem, q->from);
  xs2s__free(mem, q->to);
  xs2s__free(mem, q->id);
}

static void forget_pairs(xs2s__dialback *db) {
  for (size_t i = 0; i < db->npairs; i++) {
    xs2s__free(db->mem, db->pairs[i]->from);
    xs2s__free(db->mem, db->pairs[i]->to);
    xs2s__free(db->mem, db->pairs[i]);
  }
  db->npairs = 0;
}

void xs2s__dialback_free(xs2s__dialback *db) {
  forget_pairs(db);
  xs2s__free(db->mem, db->pairs);
  for (size_t i = 0; i < db->nqueries; i++)
    free_query(db->mem, &db->queries[i]);
  xs2s__free(db->mem, db->queries);
  memset(db, 0, sizeof(*db));
}

void xs2s__dialback_out_init(xs2s__dialback_out *out) {
  memset(out, 0, sizeof(*out));
}

void xs2s__dialback_out_clear(xs2s__dialback_out *out) {
  xs2s_stanza_free(out->reply);
  xs2s__dialback_out_init(out);
}

static int anything_pending(const xs2s__dialback *db) {
  if (db->nqueries)
    return 1;
  for (size_t i = 0; i < db->npairs; i++)
    if (db->pairs[i]->state == XS2S_DIALBACK_PENDING)
      return 1;
  return 0;
}

int xs2s__dialback_set_stream_id(xs2s__dialback *db, const char *id) {
  if (!xs2s__dialback_id_ok(id))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (strcmp(id, db->stream_id) == 0)
    return 0;
  /* A pending key is bound to the old id; changing it would orphan it. */
  if (anything_pending(db))
    return XS2S_ERR_BAD_STATE;
  /* A restarted stream starts unauthenticated (RFC 6120 4.3.3). */
  forget_pairs(db);
  copy_str(db->stream_id, sizeof(db->stream_id), id);
  return 0;
}

void xs2s__dialback_set_peer_features(xs2s__dialback *db, unsigned features) {
  db->peer_features = features;
}

/* Pairs. */

static xs2s__dialback_pair *find_pair(const xs2s__dialback *db,
                                      const char *from, const char *to) {
  if (!from || !to)
    return NULL;
  for (size_t i = 0; i < db->npairs; i++)
    if (same_domain(db->pairs[i]->from, from) &&
        same_domain(db->pairs[i]->to, to))
      return db->pairs[i];
  return NULL;
}

const xs2s__dialback_pair *xs2s__dialback_find(const xs2s__dialback *db,
                                               const char *from,
                                               const char *to) {
  return find_pair(db, from, to);
}

xs2s_dialback_state xs2s__dialback_state(const xs2s__dialback *db,
                                         const char *from, const char *to,
                                         xs2s_stanza_condition *condition) {
  const xs2s__dialback_pair *p = find_pair(db, from, to);
  if (condition)
    *condition = p ? p->condition : XS2S_STANZA_ERR_NONE;
  return p ? p->state : XS2S_DIALBACK_NONE;
}

size_t xs2s__dialback_count(const xs2s__dialback *db,
                            xs2s_dialback_state state) {
  size_t n = 0;
  for (size_t i = 0; i < db->npairs; i++)
    n += db->pairs[i]->state == state;
  return n;
}

/* The pair (from, to), added in state NONE when new. Returns 0,
 * XS2S_ERR_LIMIT or XS2S_ERR_NOMEM. */
static int get_pair(xs2s__dialback *db, const char *from, const char *to,
                    xs2s__dialback_pair **out) {
  *out = find_pair(db, from, to);
  if (*out)
    return 0;
  if (db->npairs >= db->opts.max_pairs)
    return XS2S_ERR_LIMIT;
  if (db->npairs == db->pairs_cap) {
    size_t cap = db->pairs_cap ? 2 * db->pairs_cap : 4;
    void *grown = xs2s__realloc(db->mem, db->pairs, cap * sizeof(*db->pairs));
    if (!grown)
      return XS2S_ERR_NOMEM;
    db->pairs = grown;
    db->pairs_cap = cap;
  }
  xs2s__dialback_pair *p = xs2s__calloc(db->mem, 1, sizeof(*p));
  if (!p)
    return XS2S_ERR_NOMEM;
  p->from = xs2s__strdup(db->mem, from);
  p->to = xs2s__strdup(db->mem, to);
  if (!p->from || !p->to) {
    xs2s__free(db->mem, p->from);
    xs2s__free(db->mem, p->to);
    xs2s__free(db->mem, p);
    return XS2S_ERR_NOMEM;
  }
  db->pairs[db->npairs++] = p;
  *out = p;
  return 0;
}

/* The one place a pair changes state. */
static void set_state(xs2s__dialback *db, xs2s__dialback_pair *p,
                      xs2s_dialback_state state,
                      xs2s_stanza_condition condition, uint64_t now,
                      xs2s__dialback_out *out) {
  p->state = state;
  p->condition =
      state == XS2S_DIALBACK_ERROR ? condition : XS2S_STANZA_ERR_NONE;
  p->deadline =
      state == XS2S_DIALBACK_PENDING
          ? (now > UINT64_MAX - db->opts.timeout_ms ? UINT64_MAX
                                                    : now + db->opts.timeout_ms)
          : 0;
  if (state != XS2S_DIALBACK_VALID)
    p->by_certificate = 0;
  if (out)
    out->pair = p;
}

int xs2s__dialback_mark_valid(xs2s__dialback *db, const char *from,
                              const char *to) {
  if (!xs2s__dialback_domain_ok(from) || !xs2s__dialback_domain_ok(to))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s__dialback_pair *p;
  int rc = get_pair(db, from, to, &p);
  if (rc)
    return rc;
  set_state(db, p, XS2S_DIALBACK_VALID, XS2S_STANZA_ERR_NONE, 0, NULL);
  p->by_certificate = 1;
  return 0;
}

/* Replies. */

/* Puts the <db:NAME from to [id] type> answer into out->reply. */
static int reply(const xs2s_mem *mem, const char *name, const char *from,
                 const char *to, const char *id, xs2s_dialback_state type,
                 xs2s_stanza_condition condition, xs2s__dialback_out *out) {
  xs2s_stanza_free(out->reply);
  out->reply =
      xs2s__dialback_build(mem, name, from, to, id, type, condition, NULL);
  return out->reply ? 0 : XS2S_ERR_NOMEM;
}

/* A stream error ends the stream; used only when the request is too
 * broken to be answered with a dialback error. */
static int stream_error(xs2s_stream_condition cond, const char *why,
                        xs2s__dialback_out *out) {
  out->close = 1;
  out->stream_error = cond;
  out->why = why;
  return 0;
}

static int ignore(const char *why, xs2s__dialback_out *out) {
  out->why = why;
  return 0;
}

/* Initiating role. */

/* A target other than @to already on the stream makes @to target
 * multiplexing, which needs the peer's dialback errors. */
static int other_target(const xs2s__dialback *db, const char *to) {
  for (size_t i = 0; i < db->npairs; i++)
    if (!same_domain(db->pairs[i]->to, to))
      return 1;
  return 0;
}

int xs2s__dialback_start(xs2s__dialback *db, const char *secret,
                         const char *from, const char *to, uint64_t now,
                         xs2s__dialback_out *out) {
  if (db->dir != XS2S__DIALBACK_OUTGOING || !db->stream_id[0])
    return XS2S_ERR_BAD_STATE;
  if (!xs2s__dialback_domain_ok(from) || !xs2s__dialback_domain_ok(to))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s__dialback_pair *p = find_pair(db, from, to);
  if (p && p->state != XS2S_DIALBACK_NONE && p->state != XS2S_DIALBACK_ERROR)
    return XS2S_ERR_BAD_STATE;
  if (!(db->peer_features & XS2S_DIALBACK_FEATURE_ERRORS) &&
      other_target(db, to))
    return XS2S_ERR_POLICY;

  char key[XS2S_DIALBACK_KEY_SIZE];
  int rc = xs2s_dialback_key(secret, to, from, db->stream_id, key);
  if (rc)
    return rc;
  xs2s_stanza *s =
      xs2s__dialback_build(db->mem, "result", from, to, NULL,
                           XS2S_DIALBACK_NONE, XS2S_STANZA_ERR_NONE, key);
  if (!s)
    return XS2S_ERR_NOMEM;
  if (!p && (rc = get_pair(db, from, to, &p)) != 0) {
    xs2s_stanza_free(s);
    return rc;
  }
  xs2s_stanza_free(out->reply);
  out->reply = s;
  set_state(db, p, XS2S_DIALBACK_PENDING, XS2S_STANZA_ERR_NONE, now, out);
  return 0;
}

/* <db:result type=...> from the receiving server. It must answer a key
 * sent on this stream (XEP-0220 3.1: unsolicited answers are attacks). */
static int on_result_answer(xs2s__dialback *db, const xs2s__dialback_elem *e,
                            xs2s__dialback_out *out) {
  xs2s__dialback_pair *p = find_pair(db, e->to, e->from);
  if (!p || p->state != XS2S_DIALBACK_PENDING)
    return ignore("db:result answer for a key not sent on this stream", out);
  if (e->type == XS2S_DIALBACK_NONE)
    return ignore("db:result answer with an unknown type", out);
  set_state(db, p, e->type, e->condition, 0, out);
  return 0;
}

/* Verifier role. */

static xs2s__dialback_query *find_query(const xs2s__dialback *db,
                                        const char *from, const char *to,
                                        const char *id) {
  if (!from || !to || !id)
    return NULL;
  for (size_t i = 0; i < db->nqueries; i++) {
    xs2s__dialback_query *q = &db->queries[i];
    if (same_domain(q->from, from) && same_domain(q->to, to) &&
        strcmp(q->id, id) == 0)
      return q;
  }
  return NULL;
}

static void remove_query(xs2s__dialback *db, xs2s__dialback_query *q) {
  free_query(db->mem, q);
  size_t i = (size_t)(q - db->queries);
  memmove(q, q + 1, (db->nqueries - i - 1) * sizeof(*q));
  db->nqueries--;
}

static int add_query(xs2s__dialback *db, const xs2s_dialback_request *r,
                     uint64_t deadline) {
  if (db->nqueries == db->queries_cap) {
    size_t cap = db->queries_cap ? 2 * db->queries_cap : 4;
    void *grown =
        xs2s__realloc(db->mem, db->queries, cap * sizeof(*db->queries));
    if (!grown)
      return XS2S_ERR_NOMEM;
    db->queries = grown;
    db->queries_cap = cap;
  }
  xs2s__dialback_query q = {
      .from = xs2s__strdup(db->mem, r->receiving),
      .to = xs2s__strdup(db->mem, r->originating),
      .id = xs2s__strdup(db->mem, r->stream_id),
      .deadline = deadline,
  };
  if (!q.from || !q.to || !q.id) {
    free_query(db->mem, &q);
    return XS2S_ERR_NOMEM;
  }
  db->queries[db->nqueries++] = q;
  return 0;
}

static int key_ok(const char *key, size_t len) {
  if (len == 0 || len > XS2S_DIALBACK_KEY_MAX)
    return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)key[i] <= 0x20 || key[i] == 0x7f)
      return 0;
  return 1;
}

int xs2s__dialback_verify(xs2s__dialback *db, const xs2s_dialback_request *r,
                          uint64_t now, xs2s__dialback_out *out) {
  if (db->dir != XS2S__DIALBACK_OUTGOING)
    return XS2S_ERR_BAD_STATE;
  if (!xs2s__dialback_domain_ok(r->originating) ||
      !xs2s__dialback_domain_ok(r->receiving) ||
      !xs2s__dialback_id_ok(r->stream_id) ||
      !key_ok(r->key, strnlen(r->key, sizeof(r->key))))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (find_query(db, r->receiving, r->originating, r->stream_id))
    return XS2S_ERR_BAD_STATE;
  if (db->nqueries >= db->opts.max_pairs)
    return XS2S_ERR_LIMIT;
  xs2s_stanza *s = xs2s__dialback_build(
      db->mem, "verify", r->receiving, r->originating, r->stream_id,
      XS2S_DIALBACK_NONE, XS2S_STANZA_ERR_NONE, r->key);
  if (!s)
    return XS2S_ERR_NOMEM;
  uint64_t deadline = now > UINT64_MAX - db->opts.timeout_ms
                          ? UINT64_MAX
                          : now + db->opts.timeout_ms;
  int rc = add_query(db, r, deadline);
  if (rc) {
    xs2s_stanza_free(s);
    return rc;
  }
  xs2s_stanza_free(out->reply);
  out->reply = s;
  return 0;
}

/* Fills out->answer from a query and forgets the query. */
static void answer_query(xs2s__dialback *db, xs2s__dialback_query *q,
                         xs2s_dialback_state result, xs2s_stanza_condition cond,
                         xs2s__dialback_out *out) {
  xs2s_dialback_answer *a = &out->answer;
  copy_str(a->originating, sizeof(a->originating), q->to);
  copy_str(a->receiving, sizeof(a->receiving), q->from);
  copy_str(a->stream_id, sizeof(a->stream_id), q->id);
  a->result = result;
  a->condition = result == XS2S_DIALBACK_ERROR ? cond : XS2S_STANZA_ERR_NONE;
  out->has_answer = 1;
  remove_query(db, q);
}

/* <db:verify type=...> from the authoritative server, for a request sent
 * on this stream. */
static int on_verify_answer(xs2s__dialback *db, const xs2s__dialback_elem *e,
                            xs2s__dialback_out *out) {
  xs2s__dialback_query *q = find_query(db, e->to, e->from, e->id);
  if (!q)
    return ignore("db:verify answer for a request never sent", out);
  if (e->type == XS2S_DIALBACK_NONE)
    return ignore("db:verify answer with an unknown type", out);
  /* XEP-0220 2.4.3: whatever went wrong at the authoritative server, the
   * initiating server hears remote-server-not-found. */
  answer_query(db, q, e->type, XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND, out);
  return 0;
}

void xs2s__dialback_answer_error(const xs2s_dialback_request *request,
                                 xs2s_stanza_condition condition,
                                 xs2s_dialback_answer *answer) {
  memset(answer, 0, sizeof(*answer));
  copy_str(answer->originating, sizeof(answer->originating),
           request->originating);
  copy_str(answer->receiving, sizeof(answer->receiving), request->receiving);
  copy_str(answer->stream_id, sizeof(answer->stream_id), request->stream_id);
  answer->result = XS2S_DIALBACK_ERROR;
  answer->condition =
      condition ? condition : XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
}

size_t xs2s__dialback_queries_pending(const xs2s__dialback *db) {
  return db->nqueries;
}

/* Receiving role. */

/* Answers the initiating server for pair @p with @type and records it. */
static int answer_pair(xs2s__dialback *db, xs2s__dialback_pair *p,
                       xs2s_dialback_state type, xs2s_stanza_condition cond,
                       xs2s__dialback_out *out) {
  int rc = reply(db->mem, "result", p->to, p->from, NULL, type, cond, out);
  if (rc)
    return rc;
  set_state(db, p, type, cond, 0, out);
  return 0;
}

/* Refuses a <db:result> with a dialback error. The pair records the error
 * when it has (or can get) a place in the table; the answer goes out even
 * when it cannot. */
static int refuse(xs2s__dialback *db, const xs2s__dialback_elem *e,
                  xs2s_stanza_condition cond, const char *why,
                  xs2s__dialback_out *out) {
  out->why = why;
  xs2s__dialback_pair *p;
  if (get_pair(db, e->from, e->to, &p) == 0)
    return answer_pair(db, p, XS2S_DIALBACK_ERROR, cond, out);
  return reply(db->mem, "result", e->to, e->from, NULL, XS2S_DIALBACK_ERROR,
               cond, out);
}

static void fill_request(const xs2s__dialback *db, const xs2s__dialback_elem *e,
                         xs2s__dialback_out *out) {
  xs2s_dialback_request *r = &out->request;
  copy_str(r->originating, sizeof(r->originating), e->from);
  copy_str(r->receiving, sizeof(r->receiving), e->to);
  copy_str(r->stream_id, sizeof(r->stream_id), db->stream_id);
  memcpy(r->key, e->key, e->key_len);
  r->key[e->key_len] = '\0';
  out->has_request = 1;
}

/* The policy's checks, in the order XEP-0220's error table implies: the
 * target must be ours, the sender allowed, TLS present if required, the
 * key well-formed. Returns the condition to refuse with, or NONE. */
static xs2s_stanza_condition judge(const xs2s__dialback_elem *e,
                                   const xs2s__dialback_policy *pol,
                                   const char **why) {
  if (pol->is_local && !pol->is_local(e->to, pol->user_data)) {
    *why = "db:result for a domain not served here";
    return XS2S_STANZA_ERR_ITEM_NOT_FOUND;
  }
  if (pol->allowed && !pol->allowed(e->from, e->to, pol->user_data)) {
    *why = "db:result from a domain the policy forbids";
    return XS2S_STANZA_ERR_POLICY_VIOLATION;
  }
  if (pol->tls_required && !pol->tls) {
    *why = "db:result without TLS while policy requires TLS";
    return XS2S_STANZA_ERR_POLICY_VIOLATION;
  }
  if (!key_ok(e->key, e->key_len)) {
    *why = "db:result with a missing or malformed key";
    return XS2S_STANZA_ERR_NOT_ACCEPTABLE;
  }
  return XS2S_STANZA_ERR_NONE;
}

static int on_result(xs2s__dialback *db, const xs2s__dialback_elem *e,
                     uint64_t now, const xs2s__dialback_policy *pol,
                     xs2s__dialback_out *out) {
  static const xs2s__dialback_policy open_policy = {0};
  if (!pol)
    pol = &open_policy;
  if (!db->stream_id[0])
    return XS2S_ERR_BAD_STATE;
  if (!e->from || !e->to)
    return stream_error(XS2S_STREAM_ERR_IMPROPER_ADDRESSING,
                        "db:result without from or to", out);
  if (!xs2s__dialback_domain_ok(e->from))
    return stream_error(XS2S_STREAM_ERR_INVALID_FROM,
                        "db:result with a malformed from", out);
  if (!xs2s__dialback_domain_ok(e->to))
    return refuse(db, e, XS2S_STANZA_ERR_ITEM_NOT_FOUND,
                  "db:result with a malformed to", out);

  xs2s__dialback_pair *p = find_pair(db, e->from, e->to);
  if (p && p->state == XS2S_DIALBACK_PENDING)
    return ignore("db:result for a pair already being verified", out);
  if (p && p->state == XS2S_DIALBACK_INVALID)
    return ignore("db:result for a pair already found invalid", out);

  const char *why = NULL;
  xs2s_stanza_condition cond = judge(e, pol, &why);
  if (cond)
    return refuse(db, e, cond, why, out);
  if (p && p->state == XS2S_DIALBACK_VALID)
    return answer_pair(db, p, XS2S_DIALBACK_VALID, XS2S_STANZA_ERR_NONE, out);

  int trusted =
      pol->tls && pol->cert_names && pol->cert_names(e->from, pol->user_data);
  if (!trusted && pol->cert_required)
    return refuse(db, e, XS2S_STANZA_ERR_NOT_AUTHORIZED,
                  "db:result without a certificate while policy requires one",
                  out);
  int rc = get_pair(db, e->from, e->to, &p);
  if (rc == XS2S_ERR_LIMIT)
    return refuse(db, e, XS2S_STANZA_ERR_RESOURCE_CONSTRAINT,
                  "db:result beyond the pairs allowed on one stream", out);
  if (rc)
    return rc;
  if (trusted) {
    /* XEP-0344: the certificate already proves the sender domain. */
    rc = answer_pair(db, p, XS2S_DIALBACK_VALID, XS2S_STANZA_ERR_NONE, out);
    p->by_certificate = rc == 0;
    return rc;
  }
  set_state(db, p, XS2S_DIALBACK_PENDING, XS2S_STANZA_ERR_NONE, now, out);
  fill_request(db, e, out);
  return 0;
}

int xs2s__dialback_verified(xs2s__dialback *db, const xs2s_dialback_answer *a,
                            xs2s__dialback_out *out) {
  if (db->dir != XS2S__DIALBACK_INCOMING)
    return XS2S_ERR_BAD_STATE;
  if (strcmp(a->stream_id, db->stream_id) != 0)
    return ignore("verification answer for another stream", out);
  xs2s__dialback_pair *p = find_pair(db, a->originating, a->receiving);
  if (!p || p->state != XS2S_DIALBACK_PENDING)
    return ignore("verification answer for no pending db:result", out);
  switch (a->result) {
  case XS2S_DIALBACK_VALID:
    return answer_pair(db, p, XS2S_DIALBACK_VALID, XS2S_STANZA_ERR_NONE, out);
  case XS2S_DIALBACK_INVALID:
    out->why = "the authoritative server says the key is invalid";
    if (db->opts.invalid_as_error)
      return answer_pair(db, p, XS2S_DIALBACK_ERROR, XS2S_STANZA_ERR_FORBIDDEN,
                         out);
    /* XEP-0220 2.2.1: an invalid key means spoofing; close the stream. */
    out->close = 1;
    return answer_pair(db, p, XS2S_DIALBACK_INVALID, XS2S_STANZA_ERR_NONE, out);
  case XS2S_DIALBACK_ERROR:
    return answer_pair(db, p, XS2S_DIALBACK_ERROR,
                       a->condition ? a->condition
                                    : XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND,
                       out);
  default:
    return XS2S_ERR_INVALID_ARGUMENT;
  }
}

/* Authoritative role. */

int xs2s__dialback_authoritative(const xs2s_mem *mem, const char *secret,
                                 const xs2s__dialback_elem *v,
                                 const xs2s__dialback_policy *pol,
                                 xs2s__dialback_out *out) {
  if (!v->is_verify)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!v->from || !v->to)
    return stream_error(XS2S_STREAM_ERR_IMPROPER_ADDRESSING,
                        "db:verify without from or to", out);
  if (!v->id)
    return stream_error(XS2S_STREAM_ERR_BAD_FORMAT, "db:verify without id",
                        out);
  if (pol && pol->is_local && !pol->is_local(v->to, pol->user_data)) {
    out->why = "db:verify for a domain not served here";
    return reply(mem, "verify", v->to, v->from, v->id, XS2S_DIALBACK_ERROR,
                 XS2S_STANZA_ERR_ITEM_NOT_FOUND, out);
  }
  if (!secret || !*secret) {
    out->why = "db:verify while no dialback secret is configured";
    return reply(mem, "verify", v->to, v->from, v->id, XS2S_DIALBACK_ERROR,
                 XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR, out);
  }
  /* The id names the stream the key was sent on; a key replayed on
   * another stream was made for another id and fails here. */
  char key[XS2S_DIALBACK_KEY_SIZE];
  int ok = xs2s_dialback_key(secret, v->from, v->to, v->id, key) == 0 &&
           xs2s_dialback_key_equal(key, v->key, v->key_len);
  if (!ok)
    out->why = "db:verify with a key that does not match";
  return reply(mem, "verify", v->to, v->from, v->id,
               ok ? XS2S_DIALBACK_VALID : XS2S_DIALBACK_INVALID,
               XS2S_STANZA_ERR_NONE, out);
}

/* Dispatch. */

int xs2s__dialback_receive(xs2s__dialback *db, const xs2s_stanza *elem,
                           uint64_t now, const xs2s__dialback_policy *policy,
                           const char *secret, xs2s__dialback_out *out) {
  xs2s__dialback_elem e;
  int rc = xs2s__dialback_parse(elem, &e);
  if (rc)
    return rc;
  /* Without XEP-0288 streams are one-way: requests arrive on incoming
   * streams and answers on outgoing ones. Anything else is unsolicited. */
  if (db->dir == XS2S__DIALBACK_INCOMING) {
    if (e.has_type)
      return ignore("dialback answer on an incoming stream", out);
    if (e.is_verify)
      return xs2s__dialback_authoritative(db->mem, secret, &e, policy, out);
    return on_result(db, &e, now, policy, out);
  }
  if (!e.has_type)
    return ignore("dialback request on an outgoing stream", out);
  if (e.is_verify)
    return on_verify_answer(db, &e, out);
  return on_result_answer(db, &e, out);
}

/* Timers and loss of the stream. */

uint64_t xs2s__dialback_next_deadline(const xs2s__dialback *db) {
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; i < db->npairs; i++)
    if (db->pairs[i]->state == XS2S_DIALBACK_PENDING &&
        db->pairs[i]->deadline < next)
      next = db->pairs[i]->deadline;
  for (size_t i = 0; i < db->nqueries; i++)
    if (db->queries[i].deadline < next)
      next = db->queries[i].deadline;
  return next;
}

/* Fails the pending entry with the earliest deadline not after @now
 * (any, when @lost). @lost: the stream is gone, so nothing is sent. */
static int fail_one(xs2s__dialback *db, uint64_t now, int lost,
                    xs2s__dialback_out *out) {
  const xs2s_stanza_condition cond = XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT;
  xs2s__dialback_pair *pair = NULL;
  xs2s__dialback_query *query = NULL;
  uint64_t best = UINT64_MAX;
  for (size_t i = 0; i < db->npairs; i++) {
    xs2s__dialback_pair *p = db->pairs[i];
    if (p->state == XS2S_DIALBACK_PENDING && (lost || p->deadline <= now) &&
        (!pair || p->deadline < best))
      pair = p, best = p->deadline;
  }
  for (size_t i = 0; i < db->nqueries; i++) {
    xs2s__dialback_query *q = &db->queries[i];
    if ((lost || q->deadline <= now) &&
        ((!pair && !query) || q->deadline < best))
      query = q, pair = NULL, best = q->deadline;
  }
  if (query) {
    out->why = lost ? "stream closed before the db:verify answer"
                    : "db:verify answer timed out";
    answer_query(db, query, XS2S_DIALBACK_ERROR, cond, out);
    return 1;
  }
  if (!pair)
    return 0;
  out->why =
      lost ? "stream closed while dialback was pending" : "dialback timed out";
  if (db->dir == XS2S__DIALBACK_INCOMING && !lost) {
    int rc = answer_pair(db, pair, XS2S_DIALBACK_ERROR, cond, out);
    return rc ? rc : 1;
  }
  set_state(db, pair, XS2S_DIALBACK_ERROR, cond, 0, out);
  return 1;
}

int xs2s__dialback_expire(xs2s__dialback *db, uint64_t now,
                          xs2s__dialback_out *out) {
  return fail_one(db, now, 0, out);
}

int xs2s__dialback_fail_pending(xs2s__dialback *db, xs2s__dialback_out *out) {
  return fail_one(db, 0, 1, out);
}
