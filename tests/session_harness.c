/*
 * session_harness.c: sessions joined through memory, a fake clock, and the
 * test program playing the engine (see session_harness.h).
 */
#include "session_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"

static int logging(void) {
  static int on = -1;
  if (on < 0)
    on = getenv("XS2S_TEST_LOG") != NULL;
  return on;
}

static void copy_str(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

/* ---------------------------------------------------------------------- */
/* Callbacks: record what happened                                        */
/* ---------------------------------------------------------------------- */

static void cb_stanza(xs2s_session *s, xs2s_stanza *st, void *ud) {
  (void)s;
  h_peer *p = ud;
  if (p->n_stanzas < H_MAX)
    p->stanzas[p->n_stanzas++] = xs2s_stanza_copy(st);
}

static void cb_authenticated(xs2s_session *s, const char *local,
                             const char *remote, xs2s_auth_method how,
                             void *ud) {
  (void)s;
  h_peer *p = ud;
  if (p->n_auth >= H_MAX)
    return;
  copy_str(p->auth_local[p->n_auth], 64, local);
  copy_str(p->auth_remote[p->n_auth], 64, remote);
  p->auth_how[p->n_auth++] = how;
}

static void cb_auth_failed(xs2s_session *s, const char *local,
                           const char *remote, xs2s_stanza_condition cond,
                           void *ud) {
  (void)s;
  h_peer *p = ud;
  if (p->n_failed >= H_MAX)
    return;
  copy_str(p->failed_local[p->n_failed], 64, local);
  copy_str(p->failed_remote[p->n_failed], 64, remote);
  p->failed_cond[p->n_failed++] = cond;
}

static void cb_verify_request(xs2s_session *s, const xs2s_dialback_request *r,
                              void *ud) {
  (void)s;
  h_peer *p = ud;
  if (p->n_requests < H_MAX)
    p->requests[p->n_requests++] = *r;
}

static void cb_verify_answer(xs2s_session *s, const xs2s_dialback_answer *a,
                             void *ud) {
  (void)s;
  h_peer *p = ud;
  if (p->n_answers < H_MAX)
    p->answers[p->n_answers++] = *a;
}

static void cb_closed(xs2s_session *s, const xs2s_session_close_info *info,
                      void *ud) {
  (void)s;
  h_peer *p = ud;
  p->closed++;
  p->close = *info;
  copy_str(p->close_text, sizeof(p->close_text), info->text);
  p->close.text = p->close_text;
}

static void cb_log(xs2s_session *s, xs2s_session_log_level level,
                   const char *msg, void *ud) {
  (void)s;
  h_peer *p = ud;
  if (logging())
    fprintf(stderr, "  [%llu %s %d] %s\n", (unsigned long long)p->w->now,
            p->label, (int)level, msg);
}

static void cb_want_write(xs2s_session *s, void *ud) {
  (void)s;
  ((h_peer *)ud)->n_want_write++;
}

static void cb_features(xs2s_session *s, const xs2s_stanza *f, void *ud) {
  h_peer *p = ud;
  unsigned bits = xs2s_session_is_secure(s) ? H_FEAT_SECURE : 0;
  if (xs2s_stanza_find_child(f, "starttls", XS2S_NS_TLS))
    bits |= H_FEAT_STARTTLS;
  if (xs2s_stanza_find_child(f, "mechanisms", XS2S_NS_SASL))
    bits |= H_FEAT_EXTERNAL;
  if (xs2s_dialback_feature_parse(f) & XS2S_DIALBACK_FEATURE_OFFERED)
    bits |= H_FEAT_DIALBACK;
  if (p->n_features < H_MAX)
    p->features[p->n_features] = bits;
  p->n_features++;
  if (p->close_on_features == p->n_features)
    xs2s_session_close(s, XS2S_STREAM_ERR_NONE, NULL);
}

static void cb_sm(xs2s_session *s, xs2s_sm_event *ev, void *ud) {
  h_peer *p = ud;
  if ((unsigned)ev->type < 8)
    p->n_sm[ev->type]++;
  p->sm_last = *ev;
  p->sm_last.id = NULL; /* borrowed */
  if (ev->type == XS2S_SM_ACKED)
    p->sm_acked += ev->count;
  if (ev->type == XS2S_SM_RESUME_REQUEST && p->sm_accept_id &&
      strcmp(ev->id, p->sm_accept_id) == 0 &&
      xs2s_session_pair_method(s, p->sm_pair_local, p->sm_pair_remote) !=
          XS2S_AUTH_NONE) {
    ev->accept = 1;
    ev->handled = p->sm_accept_handled;
  }
}

static const xs2s_session_callbacks callbacks = {
    .sm = cb_sm,
    .stanza = cb_stanza,
    .authenticated = cb_authenticated,
    .auth_failed = cb_auth_failed,
    .verify_request = cb_verify_request,
    .verify_answer = cb_verify_answer,
    .closed = cb_closed,
    .log = cb_log,
    .want_write = cb_want_write,
    .features = cb_features,
};

/* ---------------------------------------------------------------------- */
/* World                                                                  */
/* ---------------------------------------------------------------------- */

void h_world_init(h_world *w) {
  memset(w, 0, sizeof(*w));
  w->now = 1000;
  w->wall = (uint64_t)time(NULL) * 1000;
  xs2s__mem_init(&w->mem, NULL);
}

static void peer_free(h_peer *p) {
  xs2s_session_free(p->s);
  xs2s__buf_free(&p->raw_in);
  for (int i = 0; i < p->n_stanzas; i++)
    xs2s_stanza_free(p->stanzas[i]);
}

void h_world_free(h_world *w) {
  for (int i = 0; i < w->nlinks; i++) {
    peer_free(&w->links[i]->a);
    peer_free(&w->links[i]->b);
    free(w->links[i]);
  }
  w->nlinks = 0;
}

void h_add_server(h_world *w, h_server *srv) {
  w->servers[w->nservers++] = srv;
}

static h_server *server_of(h_world *w, const char *domain) {
  for (int i = 0; i < w->nservers; i++)
    for (size_t j = 0; j < w->servers[i]->ndomains; j++)
      if (strcasecmp(w->servers[i]->domains[j], domain) == 0)
        return w->servers[i];
  return NULL;
}

static void peer_open(h_world *w, h_peer *p, h_server *srv,
                      xs2s_session_role role, const char *local,
                      const char *remote, int verify_only) {
  p->w = w;
  xs2s__buf_init(&p->raw_in, &w->mem);
  if (!srv)
    return;
  const char *domains[5];
  size_t n = 0;
  domains[n++] = local;
  for (size_t i = 0; i < srv->ndomains; i++)
    if (strcasecmp(srv->domains[i], local) != 0)
      domains[n++] = srv->domains[i];
  xs2s_session_config cfg = {
      .role = role,
      .local_domains = domains,
      .local_domain_count = n,
      .remote_domain = role == XS2S_SESSION_INITIATING ? remote : NULL,
      .security = srv->mode,
      .require_valid_certificate = srv->require_cert,
      .tls_creds = srv->creds,
      .dialback_secret = srv->secret,
      .allow_domain = srv->allow,
      .peer_policy = role == XS2S_SESSION_RECEIVING ? w->peer_policy : NULL,
      .policy_user_data = srv,
      .wall_clock_ms = w->wall,
      .verify_only = verify_only,
      .mem = srv->mem,
      .limits = srv->limits,
      .tlsa = role == XS2S_SESSION_INITIATING ? w->tlsa : NULL,
      .tlsa_count = role == XS2S_SESSION_INITIATING ? w->tlsa_count : 0,
      .direct_tls = w->direct_tls,
      .idle_timeout_ms = w->idle_ms,
      .bidi = role == XS2S_SESSION_INITIATING ? w->bidi_init : w->bidi_recv,
      .sm_off = w->sm_off,
      .sm_resume_s = w->sm_resume_s,
      .sm_ack_every = w->sm_ack_every,
  };
  int rc = xs2s_session_new(&p->s, &cfg, &callbacks, p, w->now);
  if (rc < 0 && !srv->mem) {
    fprintf(stderr, "xs2s_session_new: %s\n", xs2s_strerror(rc));
    abort();
  }
}

h_link *h_connect(h_world *w, h_server *from, const char *from_domain,
                  h_server *to, const char *to_domain, int verify_only) {
  h_link *l = calloc(1, sizeof(*l));
  if (!l || w->nlinks >= H_MAX)
    abort();
  w->links[w->nlinks++] = l;
  l->a.link = l->b.link = l;
  l->a.label = verify_only ? "verifier" : "initiating";
  l->b.label = verify_only ? "authoritative" : "receiving";
  peer_open(w, &l->a, from, XS2S_SESSION_INITIATING, from_domain, to_domain,
            verify_only);
  peer_open(w, &l->b, to, XS2S_SESSION_RECEIVING, to_domain, NULL, 0);
  return l;
}

/* ---------------------------------------------------------------------- */
/* Moving bytes                                                           */
/* ---------------------------------------------------------------------- */

static int deliver(h_link *l, int dir, const char *data, size_t len) {
  h_peer *dst = dir == 0 ? &l->b : &l->a;
  size_t cap = len + 4096;
  char *buf = malloc(cap);
  memcpy(buf, data, len);
  if (l->filter)
    len = l->filter(l, dir, buf, len, cap);
  if (dst->s) {
    size_t step = l->chunk ? l->chunk : len;
    for (size_t off = 0; off < len; off += step) {
      size_t n = len - off < step ? len - off : step;
      if (xs2s_session_want_read(dst->s))
        xs2s_session_recv(dst->s, (const uint8_t *)buf + off, n, dst->w->now);
    }
  } else {
    xs2s__buf_append(&dst->raw_in, buf, len);
  }
  free(buf);
  return 1;
}

/* Moves @src's output to its partner; handles the end of a connection. */
static int transfer(h_link *l, int dir) {
  h_peer *src = dir == 0 ? &l->a : &l->b;
  h_peer *dst = dir == 0 ? &l->b : &l->a;
  if (!src->s)
    return 0;
  const uint8_t *data;
  size_t n = xs2s_session_output(src->s, &data);
  int moved = 0;
  if (n > 0) {
    char *copy = malloc(n);
    memcpy(copy, data, n);
    xs2s_session_consume(src->s, n);
    deliver(l, dir, copy, n);
    free(copy);
    moved = 1;
  }
  /* A closed, drained session's connection is closed by its engine. */
  if (xs2s_session_get_state(src->s) == XS2S_SESSION_CLOSED &&
      !xs2s_session_want_write(src->s) && !dst->eof) {
    dst->eof = 1;
    if (dst->s)
      xs2s_session_on_eof(dst->s, l->a.w->now);
    moved = 1;
  }
  return moved;
}

void h_raw_send(h_peer *p, const char *text) {
  h_link *l = p->link;
  deliver(l, p == &l->a ? 0 : 1, text, strlen(text));
}

ssize_t h_inject(h_peer *p, const char *text) {
  return xs2s_session_recv(p->s, (const uint8_t *)text, strlen(text),
                           p->w->now);
}

const char *h_raw_text(h_peer *p) {
  xs2s__buf_append(&p->raw_in, "", 1);
  p->raw_in.len--;
  return xs2s__buf_bytes(&p->raw_in);
}

/* ---------------------------------------------------------------------- */
/* Playing the engine: dialback routing                                   */
/* ---------------------------------------------------------------------- */

/* Sends a receiving peer's new requests to verification streams. */
static int route_requests(h_world *w, h_peer *p, int *routed) {
  int moved = 0;
  while (*routed < p->n_requests) {
    const xs2s_dialback_request *r = &p->requests[(*routed)++];
    h_server *auth = server_of(w, r->originating);
    h_server *self = server_of(w, r->receiving);
    if (!auth || !self)
      continue;
    h_link *v = h_connect(w, self, r->receiving, auth, r->originating, 1);
    v->verify_link = 1;
    if (v->a.s)
      xs2s_session_verify(v->a.s, r);
    moved = 1;
  }
  return moved;
}

static h_peer *receiving_with_id(h_world *w, const char *id) {
  for (int i = 0; i < w->nlinks; i++) {
    h_peer *b = &w->links[i]->b;
    const char *sid = b->s ? xs2s_session_stream_id(b->s) : NULL;
    if (sid && strcmp(sid, id) == 0)
      return b;
  }
  return NULL;
}

static int route_answers(h_world *w, h_peer *p, int *routed) {
  int moved = 0;
  while (*routed < p->n_answers) {
    const xs2s_dialback_answer *a = &p->answers[(*routed)++];
    h_peer *to = receiving_with_id(w, a->stream_id);
    if (to && to->s)
      xs2s_session_dialback_answer(to->s, a);
    moved = 1;
  }
  return moved;
}

void h_run(h_world *w) {
  for (int round = 0; round < 1000; round++) {
    int moved = 0;
    for (int i = 0; i < w->nlinks; i++) {
      moved |= transfer(w->links[i], 0);
      moved |= transfer(w->links[i], 1);
    }
    if (!w->hold_requests)
      for (int i = 0; i < w->nlinks; i++) {
        h_link *l = w->links[i];
        moved |= route_requests(w, &l->b, &l->b.routed);
        moved |= route_answers(w, &l->a, &l->a.routed);
      }
    if (!moved)
      return;
  }
  fprintf(stderr, "h_run: no quiescence\n");
  abort();
}

void h_advance(h_world *w, uint64_t ms) {
  uint64_t end = w->now + ms;
  for (int spins = 0;; spins++) {
    if (spins > 100000) {
      fprintf(stderr, "h_advance: a deadline stays due\n");
      abort();
    }
    h_run(w); /* bytes in flight arrive before time moves on */
    uint64_t next = end;
    for (int i = 0; i < w->nlinks; i++)
      for (int k = 0; k < 2; k++) {
        h_peer *p = k ? &w->links[i]->b : &w->links[i]->a;
        if (p->s) {
          uint64_t d = xs2s_session_next_deadline(p->s);
          if (d < next)
            next = d;
        }
      }
    if (next > w->now)
      w->now = next;
    for (int i = 0; i < w->nlinks; i++)
      for (int k = 0; k < 2; k++) {
        h_peer *p = k ? &w->links[i]->b : &w->links[i]->a;
        if (p->s && xs2s_session_next_deadline(p->s) <= w->now)
          xs2s_session_on_timer(p->s, w->now);
      }
    h_run(w);
    if (w->now >= end)
      return;
  }
}

/* ---------------------------------------------------------------------- */
/* Checks and builders                                                    */
/* ---------------------------------------------------------------------- */

int h_authenticated(const h_peer *p, const char *local, const char *remote,
                    xs2s_auth_method how) {
  for (int i = 0; i < p->n_auth; i++)
    if (strcmp(p->auth_local[i], local) == 0 &&
        strcmp(p->auth_remote[i], remote) == 0 && p->auth_how[i] == how)
      return 1;
  return 0;
}

xs2s_stanza_condition h_failed(const h_peer *p, const char *local,
                               const char *remote) {
  for (int i = 0; i < p->n_failed; i++)
    if (strcmp(p->failed_local[i], local) == 0 &&
        strcmp(p->failed_remote[i], remote) == 0)
      return p->failed_cond[i];
  return XS2S_STANZA_ERR_NONE;
}

xs2s_stanza *h_message(const char *from, const char *to, const char *body) {
  xs2s_stanza *m = xs2s_stanza_new("message", XS2S_NS_SERVER);
  xs2s_stanza_set_attr(m, "from", from);
  xs2s_stanza_set_attr(m, "to", to);
  xs2s_stanza *b = xs2s_stanza_add_child(m, "body", NULL);
  xs2s_stanza_add_text(b, body, strlen(body));
  return m;
}

xs2s_tls_creds *h_creds(const char *dir, const char *domain,
                        const char *name) {
  char cert[512], key[512], path[512];
  xs2s_tls_creds *c = xs2s_tls_creds_new(NULL);
  if (!c)
    abort();
  snprintf(path, sizeof(path), "%s/ca.pem", dir);
  if (xs2s_tls_creds_add_trust_file(c, path) < 0) {
    fprintf(stderr, "cannot load %s (are the test certificates made?)\n",
            path);
    abort();
  }
  snprintf(path, sizeof(path), "%s/crl.pem", dir);
  if (xs2s_tls_creds_add_crl_file(c, path) < 0)
    abort();
  if (name) {
    snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
    snprintf(key, sizeof(key), "%s/%s.key", dir, name);
    if (xs2s_tls_creds_add_cert_file(c, domain, cert, key) < 0) {
      fprintf(stderr, "cannot load %s\n", cert);
      abort();
    }
  }
  return c;
}
