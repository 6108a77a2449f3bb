/*
 * fuzz_dialback.c: libFuzzer target for the per-stream dialback table
 * (lib/dialback.h) fed arbitrary <db:result/> and <db:verify/> elements.
 *
 * Input: byte 0 sets the direction and the policy, byte 1 the pair limit;
 * the rest is lines, each an operation letter and its argument:
 *
 *   r XML      an element from the peer (xs2s_stanza_parse, then receive)
 *   k XML      the same, with the key XEP-0185 makes for the element's
 *              from, to and id (or the stream id) appended as its text
 *   s F T      initiating role: send our key for the pair (F, T)
 *   v O R I K  verifier role: send <db:verify/> for a request
 *   a O R X    receiving role: the authoritative verdict (X: v, i or e)
 *   m F T      mark a pair valid (SASL EXTERNAL or a certificate)
 *   i ID       set the stream id
 *   f N        the peer's dialback feature bits
 *   t MS       let time pass and expire what is due
 *   l          the stream is lost: fail everything pending
 *
 * Invariants: the table stays within its limits; every reply is a
 * dialback element that parses back; a request names this stream's id
 * and well-formed domains; and a pair becomes valid only in the ways the
 * protocol allows: an authoritative 'valid' for a pending pair, a
 * certificate that names the sender, mark_valid, or (initiating) the
 * peer's 'valid' for a key sent on this stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dialback.h"
#include "domain.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"
#define MAX_LINE 4096

enum {
  CFG_OUTGOING = 0x01,
  CFG_TLS = 0x02,
  CFG_TLS_REQUIRED = 0x04,
  CFG_CERT_REQUIRED = 0x08,
  CFG_LOCAL_ONLY = 0x10,  /* only b.example and c.example are ours */
  CFG_DENY_EVIL = 0x20,   /* evil.example is forbidden */
  CFG_CERT_NAMES = 0x40,  /* the certificate names a.example */
  CFG_INVALID_AS_ERROR = 0x80
};

typedef struct world {
  unsigned cfg;
  xs2s__dialback db;
  xs2s__dialback_policy pol;
  uint64_t now;
} world;

static int is_local(const char *domain, void *ud) {
  (void)ud;
  return strcmp(domain, "b.example") == 0 || strcmp(domain, "c.example") == 0;
}

static int allowed(const char *remote, const char *local, void *ud) {
  (void)local;
  (void)ud;
  return strcmp(remote, "evil.example") != 0;
}

static int cert_names(const char *remote, void *ud) {
  (void)ud;
  return strcmp(remote, "a.example") == 0;
}

/* Splits "w1 w2 ..." in place into at most @max words. */
static size_t words(char *s, char **w, size_t max) {
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r(s, " ", &save); t && n < max;
       t = strtok_r(NULL, " ", &save))
    w[n++] = t;
  return n;
}

static void put(char *dst, size_t size, const char *src) {
  size_t n = strnlen(src, size - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* What each operation produced must be well-formed. */
static void check_out(world *w, const xs2s__dialback_out *out) {
  if (out->reply) {
    xs2s__dialback_elem e;
    FUZZ_ASSERT(xs2s__dialback_parse(out->reply, &e) == 0);
    fuzz_check_round_trip(out->reply);
  }
  if (out->has_request) {
    FUZZ_ASSERT(w->db.dir == XS2S__DIALBACK_INCOMING);
    FUZZ_ASSERT(strcmp(out->request.stream_id, w->db.stream_id) == 0);
    FUZZ_ASSERT(xs2s__dialback_domain_ok(out->request.originating));
    FUZZ_ASSERT(xs2s__dialback_domain_ok(out->request.receiving));
    FUZZ_ASSERT(out->request.key[0] != '\0');
    FUZZ_ASSERT(xs2s__dialback_state(&w->db, out->request.originating,
                                     out->request.receiving,
                                     NULL) == XS2S_DIALBACK_PENDING);
  }
  if (out->has_answer) {
    FUZZ_ASSERT(w->db.dir == XS2S__DIALBACK_OUTGOING);
    FUZZ_ASSERT(out->answer.result == XS2S_DIALBACK_VALID ||
                out->answer.result == XS2S_DIALBACK_INVALID ||
                out->answer.result == XS2S_DIALBACK_ERROR);
  }
  if (out->close)
    FUZZ_ASSERT(out->why != NULL || out->pair != NULL);
  FUZZ_ASSERT(w->db.npairs <= w->db.opts.max_pairs);
  FUZZ_ASSERT(w->db.nqueries <= w->db.opts.max_pairs);
}

/* The states of the pairs before an operation, by index (pairs are only
 * appended, or all forgotten by a new stream id). */
typedef struct snapshot {
  size_t npairs;
  xs2s_dialback_state state[XS2S_DIALBACK_DEFAULT_MAX_PAIRS];
} snapshot;

static void take(const world *w, snapshot *snap) {
  snap->npairs = w->db.npairs;
  for (size_t i = 0; i < w->db.npairs; i++)
    snap->state[i] = w->db.pairs[i]->state;
}

/* How a pair may have become valid in the operation just done. */
typedef struct became_valid_rule {
  char op;
  const xs2s_stanza *elem;         /* r, k */
  const xs2s_dialback_answer *ans; /* a */
  const char *from, *to;           /* m */
} became_valid_rule;

static void check_valid(const world *w, const snapshot *before,
                        const became_valid_rule *r) {
  for (size_t i = 0; i < w->db.npairs; i++) {
    const xs2s__dialback_pair *p = w->db.pairs[i];
    int was = i < before->npairs ? (int)before->state[i] : XS2S_DIALBACK_NONE;
    if (p->state != XS2S_DIALBACK_VALID || was == XS2S_DIALBACK_VALID)
      continue;
    switch (r->op) {
    case 'm':
      /* Pairs match by canonical form (a trailing dot, case, U-labels). */
      FUZZ_ASSERT(xs2s__domain_equal(p->from, r->from) &&
                  xs2s__domain_equal(p->to, r->to));
      break;
    case 'a':
      FUZZ_ASSERT(was == XS2S_DIALBACK_PENDING);
      FUZZ_ASSERT(r->ans->result == XS2S_DIALBACK_VALID);
      break;
    case 'r':
    case 'k':
      if (w->db.dir == XS2S__DIALBACK_INCOMING) {
        /* Only a certificate over TLS makes a <db:result/> valid at once. */
        FUZZ_ASSERT((w->cfg & CFG_TLS) && (w->cfg & CFG_CERT_NAMES));
        FUZZ_ASSERT(xs2s__domain_equal(p->from, "a.example"));
        FUZZ_ASSERT(p->by_certificate);
      } else {
        /* The peer's answer to a key we sent. */
        FUZZ_ASSERT(was == XS2S_DIALBACK_PENDING);
        FUZZ_ASSERT(xs2s_stanza_is(r->elem, "result", XS2S_NS_DIALBACK));
        FUZZ_ASSERT(strcmp(xs2s_stanza_attr(r->elem, "type"), "valid") == 0);
      }
      break;
    default:
      FUZZ_ASSERT(!"a pair became valid without an answer");
    }
  }
}

/* Appends the XEP-0185 key for the element's own addresses. */
static void add_key(world *w, xs2s_stanza *el) {
  const char *from = xs2s_stanza_attr(el, "from");
  const char *to = xs2s_stanza_attr(el, "to");
  const char *id = xs2s_stanza_attr(el, "id");
  if (!id)
    id = w->db.stream_id;
  char key[XS2S_DIALBACK_KEY_SIZE];
  if (from && to &&
      xs2s_dialback_key(SECRET, from, to, id, key) == 0)
    FUZZ_ASSERT(xs2s_stanza_add_text(el, key, strlen(key)) == 0);
}

static void op_receive(world *w, char op, const char *arg) {
  int err = 0;
  xs2s_stanza *el = xs2s_stanza_parse(arg, strlen(arg), &err);
  if (!el)
    return;
  if (op == 'k')
    add_key(w, el);
  snapshot before;
  take(w, &before);
  size_t queries = w->db.nqueries;
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_receive(&w->db, el, w->now, &w->pol, SECRET, &out);
  if (!xs2s_stanza_is(el, "result", XS2S_NS_DIALBACK) &&
      !xs2s_stanza_is(el, "verify", XS2S_NS_DIALBACK))
    FUZZ_ASSERT(rc == XS2S_ERR_INVALID_ARGUMENT);
  else
    FUZZ_ASSERT(rc == 0 || rc == XS2S_ERR_BAD_STATE);
  check_out(w, &out);
  if (out.has_answer)
    FUZZ_ASSERT(w->db.nqueries + 1 == queries);
  else
    FUZZ_ASSERT(w->db.nqueries == queries);
  became_valid_rule rule = {.op = op, .elem = el};
  check_valid(w, &before, &rule);
  xs2s__dialback_out_clear(&out);
  xs2s_stanza_free(el);
}

static void op_answer(world *w, char *arg) {
  char *a[3];
  if (words(arg, a, 3) < 3)
    return;
  xs2s_dialback_answer ans;
  memset(&ans, 0, sizeof(ans));
  put(ans.originating, sizeof(ans.originating), a[0]);
  put(ans.receiving, sizeof(ans.receiving), a[1]);
  put(ans.stream_id, sizeof(ans.stream_id), w->db.stream_id);
  ans.result = a[2][0] == 'v'   ? XS2S_DIALBACK_VALID
               : a[2][0] == 'i' ? XS2S_DIALBACK_INVALID
                                : XS2S_DIALBACK_ERROR;
  if (ans.result == XS2S_DIALBACK_ERROR)
    ans.condition = (xs2s_stanza_condition)(a[2][1] & 0x1f);
  snapshot before;
  take(w, &before);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_verified(&w->db, &ans, &out);
  FUZZ_ASSERT(rc == 0 || rc == XS2S_ERR_BAD_STATE);
  FUZZ_ASSERT(rc == 0 || w->db.dir == XS2S__DIALBACK_OUTGOING);
  check_out(w, &out);
  became_valid_rule rule = {.op = 'a', .ans = &ans};
  check_valid(w, &before, &rule);
  xs2s__dialback_out_clear(&out);
}

static void op_start(world *w, char *arg) {
  char *a[2];
  if (words(arg, a, 2) < 2)
    return;
  snapshot before;
  take(w, &before);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_start(&w->db, SECRET, a[0], a[1], w->now, &out);
  if (rc == 0) {
    FUZZ_ASSERT(out.reply && out.pair &&
                out.pair->state == XS2S_DIALBACK_PENDING);
    FUZZ_ASSERT(w->db.dir == XS2S__DIALBACK_OUTGOING);
  }
  check_out(w, &out);
  became_valid_rule rule = {.op = 's'};
  check_valid(w, &before, &rule);
  xs2s__dialback_out_clear(&out);
}

static void op_verify(world *w, char *arg) {
  char *a[4];
  if (words(arg, a, 4) < 4)
    return;
  xs2s_dialback_request req;
  memset(&req, 0, sizeof(req));
  put(req.originating, sizeof(req.originating), a[0]);
  put(req.receiving, sizeof(req.receiving), a[1]);
  put(req.stream_id, sizeof(req.stream_id), a[2]);
  put(req.key, sizeof(req.key), a[3]);
  size_t queries = w->db.nqueries;
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_verify(&w->db, &req, w->now, &out);
  FUZZ_ASSERT(w->db.nqueries == queries + (rc == 0));
  FUZZ_ASSERT(rc != 0 || out.reply != NULL);
  check_out(w, &out);
  xs2s__dialback_out_clear(&out);
}

static void op_mark(world *w, char *arg) {
  char *a[2];
  if (words(arg, a, 2) < 2)
    return;
  snapshot before;
  take(w, &before);
  int rc = xs2s__dialback_mark_valid(&w->db, a[0], a[1]);
  if (rc == 0)
    FUZZ_ASSERT(xs2s__dialback_state(&w->db, a[0], a[1], NULL) ==
                XS2S_DIALBACK_VALID);
  became_valid_rule rule = {.op = 'm', .from = a[0], .to = a[1]};
  check_valid(w, &before, &rule);
}

/* Runs @step (expire or fail_pending) until it reports nothing more. */
static void drain(world *w, int lost) {
  size_t bound = w->db.npairs + w->db.nqueries + 1;
  for (size_t i = 0;; i++) {
    FUZZ_ASSERT(i <= bound);
    snapshot before;
    take(w, &before);
    xs2s__dialback_out out;
    xs2s__dialback_out_init(&out);
    int n = lost ? xs2s__dialback_fail_pending(&w->db, &out)
                 : xs2s__dialback_expire(&w->db, w->now, &out);
    FUZZ_ASSERT(n >= 0);
    check_out(w, &out);
    became_valid_rule rule = {.op = 't'};
    check_valid(w, &before, &rule);
    if (out.pair)
      FUZZ_ASSERT(out.pair->state == XS2S_DIALBACK_ERROR);
    xs2s__dialback_out_clear(&out);
    if (n == 0)
      break;
  }
  if (lost) {
    FUZZ_ASSERT(w->db.nqueries == 0);
    FUZZ_ASSERT(xs2s__dialback_count(&w->db, XS2S_DIALBACK_PENDING) == 0);
  }
  FUZZ_ASSERT(lost || xs2s__dialback_next_deadline(&w->db) > w->now);
}

static void run_line(world *w, char *line) {
  char op = line[0];
  char *arg = line[0] ? line + 1 : line;
  while (*arg == ' ')
    arg++;
  switch (op) {
  case 'r':
  case 'k':
    op_receive(w, op, arg);
    break;
  case 's':
    op_start(w, arg);
    break;
  case 'v':
    op_verify(w, arg);
    break;
  case 'a':
    op_answer(w, arg);
    break;
  case 'm':
    op_mark(w, arg);
    break;
  case 'i': {
    int rc = xs2s__dialback_set_stream_id(&w->db, arg);
    FUZZ_ASSERT(rc == 0 || rc == XS2S_ERR_INVALID_ARGUMENT ||
                rc == XS2S_ERR_BAD_STATE);
    if (rc == 0)
      FUZZ_ASSERT(strcmp(w->db.stream_id, arg) == 0);
    break;
  }
  case 'f':
    xs2s__dialback_set_peer_features(&w->db, (unsigned)atoi(arg));
    break;
  case 't':
    w->now += strtoull(arg, NULL, 10) % (2 * XS2S_DIALBACK_DEFAULT_TIMEOUT_MS);
    drain(w, 0);
    break;
  case 'l':
    drain(w, 1);
    break;
  default:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  world w;
  memset(&w, 0, sizeof(w));
  w.cfg = data[0];
  xs2s__dialback_options opts = {
      .max_pairs = 1 + data[1] % 8u,
      .invalid_as_error = (w.cfg & CFG_INVALID_AS_ERROR) != 0,
  };
  xs2s_mem mem;
  xs2s__mem_init(&mem, NULL);
  xs2s__dialback_init(&w.db, &mem,
                      w.cfg & CFG_OUTGOING ? XS2S__DIALBACK_OUTGOING
                                           : XS2S__DIALBACK_INCOMING,
                      &opts);
  w.pol.tls = (w.cfg & CFG_TLS) != 0;
  w.pol.tls_required = (w.cfg & CFG_TLS_REQUIRED) != 0;
  w.pol.cert_required = (w.cfg & CFG_CERT_REQUIRED) != 0;
  w.pol.is_local = w.cfg & CFG_LOCAL_ONLY ? is_local : NULL;
  w.pol.allowed = w.cfg & CFG_DENY_EVIL ? allowed : NULL;
  w.pol.cert_names = w.cfg & CFG_CERT_NAMES ? cert_names : NULL;
  FUZZ_ASSERT(xs2s__dialback_set_stream_id(&w.db, "s1") == 0);

  char *line = malloc(MAX_LINE + 1);
  FUZZ_ASSERT(line != NULL);
  size_t off = 2;
  while (off < size) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
    size_t n = len < MAX_LINE ? len : MAX_LINE;
    memcpy(line, data + off, n);
    line[n] = '\0';
    if (strlen(line) == n) /* lines with NUL bytes are skipped */
      run_line(&w, line);
    off += len + 1;
  }
  free(line);
  drain(&w, 1);
  xs2s__dialback_free(&w.db);
  return 0;
}
