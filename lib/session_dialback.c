/*
 * session_dialback.c: server dialback (XEP-0220) on the stream, through the
 * per-stream dialback table (lib/dialback.h).
 *
 * The table decides; this file feeds it the elements, the policy and the
 * time, writes the elements it answers with, and turns its state changes
 * into callbacks:
 *
 *   initiating   xs2s_session_add_pair() / the stream's own pair: a
 *                <db:result/> once the stream is open; the answer makes the
 *                pair valid (authenticated) or not (auth_failed);
 *   verifier     xs2s_session_verify(): a <db:verify/> once the stream is
 *                open; the answer goes to verify_answer; a verify_only
 *                stream closes when nothing is outstanding;
 *   receiving    a <db:result/> becomes a verify_request (or is valid at
 *                once when the peer's certificate names the domain,
 *                XEP-0344); xs2s_session_dialback_answer() brings the
 *                verdict back;
 *   authoritative  a <db:verify/> is answered at once with the secret.
 *
 * Requests made before the stream is open wait in small queues here.
 */
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "domain.h"
#include "session_int.h"

/* A pair or verification asked for before the stream was open. */
typedef struct xs2s__wait {
  struct xs2s__wait *next;
  char *local, *remote;          /* add_pair */
  xs2s_dialback_request *request; /* verify */
} xs2s__wait;

static void wait_free(xs2s_session *s, xs2s__wait *w) {
  xs2s__free(&s->mem, w->local);
  xs2s__free(&s->mem, w->remote);
  xs2s__free(&s->mem, w->request);
  xs2s__free(&s->mem, w);
}

static int wait_push(xs2s_session *s, const char *local, const char *remote,
                     const xs2s_dialback_request *req) {
  xs2s__wait *w = xs2s__calloc(&s->mem, 1, sizeof(*w));
  if (!w)
    return XS2S_ERR_NOMEM;
  if (req) {
    w->request = xs2s__malloc(&s->mem, sizeof(*req));
    if (w->request)
      *w->request = *req;
  } else {
    w->local = xs2s__strdup(&s->mem, local);
    w->remote = xs2s__strdup(&s->mem, remote);
  }
  if (req ? !w->request : !w->local || !w->remote) {
    wait_free(s, w);
    return XS2S_ERR_NOMEM;
  }
  xs2s__wait **tail = (xs2s__wait **)&s->waiting;
  while (*tail)
    tail = &(*tail)->next;
  *tail = w;
  return 0;
}

static int wait_has_pair(const xs2s_session *s, const char *local,
                         const char *remote) {
  for (const xs2s__wait *w = s->waiting; w; w = w->next)
    if (w->local && xs2s__domain_equal(w->local, local) &&
        xs2s__domain_equal(w->remote, remote))
      return 1;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Policy given to the table                                              */
/* ---------------------------------------------------------------------- */

static int policy_is_local(const char *domain, void *user_data) {
  return xs2s__session_is_local(user_data, domain);
}

static int policy_allowed(const char *remote, const char *local,
                          void *user_data) {
  (void)local;
  xs2s_security_mode mode;
  int cert;
  return xs2s__session_allowed(user_data, remote) &&
         xs2s__session_peer_policy(user_data, remote, &mode, &cert) == 0;
}

static int policy_cert_names(const char *remote, void *user_data) {
  return xs2s__tls_peer_valid_for(user_data, remote);
}

/* The terms for element @el: on a receiving stream those of the domain a
 * <db:result/> speaks for, whatever domain the stream header named. */
static xs2s__dialback_policy policy_of(xs2s_session *s,
                                       const xs2s_stanza *el) {
  xs2s_security_mode mode = s->security;
  int cert = s->require_valid_cert;
  const char *from = xs2s_stanza_attr(el, "from");
  if (s->role == XS2S_SESSION_RECEIVING && from &&
      xs2s_stanza_is(el, "result", XS2S_NS_DIALBACK))
    xs2s__session_peer_policy(s, from, &mode, &cert); /* refusal: allowed */
  xs2s__dialback_policy p = {
      .tls = s->tls_state == XS2S__TLS_ACTIVE,
      .tls_required = mode == XS2S_SECURITY_REQUIRED,
      .cert_required = cert,
      .is_local = policy_is_local,
      .allowed = policy_allowed,
      .cert_names = policy_cert_names,
      .user_data = s,
  };
  return p;
}

/* ---------------------------------------------------------------------- */
/* Acting on the table's output                                           */
/* ---------------------------------------------------------------------- */

static void report_pair(xs2s_session *s, const xs2s__dialback_pair *p) {
  int out = s->role == XS2S_SESSION_INITIATING;
  const char *local = out ? p->from : p->to;
  const char *remote = out ? p->to : p->from;
  switch (p->state) {
  case XS2S_DIALBACK_VALID:
    xs2s__pair_authenticated(s, local, remote,
                             p->by_certificate ? XS2S_AUTH_CERTIFICATE
                                               : XS2S_AUTH_DIALBACK);
    break;
  case XS2S_DIALBACK_INVALID:
  case XS2S_DIALBACK_ERROR: {
    xs2s_stanza_condition cond = p->condition != XS2S_STANZA_ERR_NONE
                                     ? p->condition
                                     : XS2S_STANZA_ERR_NOT_AUTHORIZED;
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "dialback for '%s' -> '%s' %s: %s", p->from, p->to,
                      xs2s_dialback_state_name(p->state),
                      xs2s_stanza_condition_name(cond));
    if (out && s->cb.auth_failed)
      s->cb.auth_failed(s, local, remote, cond, s->user_data);
    break;
  }
  default:
    break;
  }
}

static void close_if_verified(xs2s_session *s) {
  if (s->verify_only && s->state == XS2S_SESSION_OPEN && !s->waiting &&
      xs2s__dialback_queries_pending(&s->db) == 0) {
    xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                      "verification done; closing the stream");
    xs2s_session_close(s, XS2S_STREAM_ERR_NONE, NULL);
  }
}

/* Carries out what one table operation asked for. */
static int act(xs2s_session *s, xs2s__dialback_out *out) {
  int rc = 0;
  if (out->why)
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO, "dialback: %s", out->why);
  if (out->reply)
    rc = xs2s__session_write_stanza(s, out->reply);
  if (out->pair)
    report_pair(s, out->pair);
  if (out->has_request) {
    if (s->cb.verify_request)
      s->cb.verify_request(s, &out->request, s->user_data);
    else
      xs2s__session_log(s, XS2S_SESSION_LOG_WARNING,
                        "no verify_request callback: key for '%s' will time "
                        "out", out->request.originating);
  }
  if (out->has_answer && s->cb.verify_answer)
    s->cb.verify_answer(s, &out->answer, s->user_data);
  int close = out->close;
  xs2s_stream_condition cond = out->stream_error;
  int had_answer = out->has_answer;
  xs2s__dialback_out_clear(out);
  if (rc < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  if (close) {
    if (cond != XS2S_STREAM_ERR_NONE)
      return xs2s__session_fail(s, XS2S_ERR_DIALBACK_INVALID, cond, NULL);
    xs2s_session_close(s, XS2S_STREAM_ERR_NONE, NULL);
    return 0;
  }
  if (had_answer)
    close_if_verified(s);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Stream side                                                            */
/* ---------------------------------------------------------------------- */

int xs2s__dialback_element(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  xs2s__dialback_policy pol = policy_of(s, el);
  int is_verify = xs2s_stanza_is(el, "verify", XS2S_NS_DIALBACK);
  int rc = xs2s__dialback_receive(&s->db, el, s->now, &pol, s->secret, &out);
  if (rc < 0) {
    xs2s__dialback_out_clear(&out);
    return xs2s__session_fail(s, rc, xs2s_stream_condition_from_error(rc),
                              NULL);
  }
  if (is_verify && s->role == XS2S_SESSION_RECEIVING)
    s->verify_served = 1;
  return act(s, &out);
}

int xs2s__dialback_usable(const xs2s_session *s) {
  return (s->peer_dialback_feature || s->peer_has_db) && s->secret &&
         *s->secret;
}

/* Initiating: sends the <db:result/> for one pair. */
static int start_pair(xs2s_session *s, const char *local, const char *remote) {
  xs2s_dialback_state st = xs2s__dialback_state(&s->db, local, remote, NULL);
  if (st == XS2S_DIALBACK_PENDING || st == XS2S_DIALBACK_VALID)
    return 0;
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_usable(s)
               ? xs2s__dialback_start(&s->db, s->secret, local, remote,
                                      s->now, &out)
               : XS2S_ERR_POLICY;
  if (rc < 0) {
    xs2s__dialback_out_clear(&out);
    xs2s__session_log(s, XS2S_SESSION_LOG_WARNING,
                      "cannot start dialback for '%s' -> '%s': %s", local,
                      remote, xs2s_strerror(rc));
    if (rc != XS2S_ERR_NOMEM && s->cb.auth_failed)
      s->cb.auth_failed(s, local, remote,
                        rc == XS2S_ERR_POLICY
                            ? XS2S_STANZA_ERR_POLICY_VIOLATION
                            : XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR,
                        s->user_data);
    return rc == XS2S_ERR_NOMEM ? rc : 0;
  }
  return act(s, &out);
}

static int send_verify(xs2s_session *s, const xs2s_dialback_request *req) {
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_verify(&s->db, req, s->now, &out);
  if (rc < 0) {
    xs2s__dialback_out_clear(&out);
    return rc;
  }
  return act(s, &out);
}

/* Tells the engine that a queued verification will get no answer. */
static void verify_abandoned(xs2s_session *s, const xs2s_dialback_request *r,
                             xs2s_stanza_condition cond) {
  xs2s_dialback_answer ans;
  xs2s__dialback_answer_error(r, cond, &ans);
  if (s->cb.verify_answer)
    s->cb.verify_answer(s, &ans, s->user_data);
}

int xs2s__dialback_kick(xs2s_session *s) {
  int rc = 0;
  if (!s->verify_only && !s->own_pair_started) {
    s->own_pair_started = 1;
    rc = start_pair(s, s->local_domains[0], s->remote_domain);
  }
  while (rc == 0 && s->waiting && s->state == XS2S_SESSION_OPEN) {
    xs2s__wait *w = s->waiting;
    s->waiting = w->next;
    if (w->request) {
      int vrc = send_verify(s, w->request);
      if (vrc < 0 && vrc != XS2S_ERR_NOMEM)
        verify_abandoned(s, w->request, XS2S_STANZA_ERR_INTERNAL_SERVER_ERROR);
      rc = vrc == XS2S_ERR_NOMEM ? vrc : 0;
    } else {
      rc = start_pair(s, w->local, w->remote);
    }
    wait_free(s, w);
  }
  if (rc == 0)
    close_if_verified(s);
  return rc;
}

int xs2s__dialback_timers(xs2s_session *s) {
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int n = 0;
  while (s->state == XS2S_SESSION_OPEN &&
         (n = xs2s__dialback_expire(&s->db, s->now, &out)) > 0) {
    int rc = act(s, &out);
    if (rc < 0)
      return rc;
  }
  xs2s__dialback_out_clear(&out);
  /* An overdue entry that cannot be answered would stay due forever. */
  if (n < 0)
    return xs2s__session_fail(s, n, XS2S_STREAM_ERR_RESOURCE_CONSTRAINT,
                              NULL);
  return 0;
}

/* What a pair or verification that never got an answer failed with. */
static xs2s_stanza_condition abandon_condition(const xs2s_session *s) {
  switch (s->close_error) {
  case XS2S_ERR_PEER_STREAM_ERROR:
    /* The server was reached; a peer that does not serve the domain says
     * so, other refusals are a failed negotiation (RFC 6120 8.3.3.17). */
    if (s->close_condition == XS2S_STREAM_ERR_HOST_UNKNOWN ||
        s->close_condition == XS2S_STREAM_ERR_HOST_GONE)
      return XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
    return XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT;
  case XS2S_ERR_TLS:
  case XS2S_ERR_TLS_HANDSHAKE:
  case XS2S_ERR_TIMEOUT:
    return XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT;
  case XS2S_ERR_POLICY:
  case XS2S_ERR_CERT_UNTRUSTED:
  case XS2S_ERR_CERT_NAME_MISMATCH:
  case XS2S_ERR_DANE_MISMATCH:
    return XS2S_STANZA_ERR_POLICY_VIOLATION;
  default:
    return XS2S_STANZA_ERR_REMOTE_SERVER_NOT_FOUND;
  }
}

void xs2s__dialback_abandon(xs2s_session *s) {
  xs2s_stanza_condition cond = abandon_condition(s);
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  while (xs2s__dialback_fail_pending(&s->db, &out) > 0) {
    if (out.pair)
      report_pair(s, out.pair);
    if (out.has_answer && s->cb.verify_answer)
      s->cb.verify_answer(s, &out.answer, s->user_data);
    xs2s__dialback_out_clear(&out);
  }
  xs2s__dialback_out_clear(&out);
  /* What never got onto the stream fails too. */
  if (s->role == XS2S_SESSION_INITIATING && !s->verify_only &&
      !s->own_pair_started) {
    s->own_pair_started = 1;
    if (s->cb.auth_failed)
      s->cb.auth_failed(s, s->local_domains[0], s->remote_domain, cond,
                        s->user_data);
  }
  while (s->waiting) {
    xs2s__wait *w = s->waiting;
    s->waiting = w->next;
    if (w->request)
      verify_abandoned(s, w->request, XS2S_STANZA_ERR_REMOTE_SERVER_TIMEOUT);
    else if (s->cb.auth_failed)
      s->cb.auth_failed(s, w->local, w->remote, cond, s->user_data);
    wait_free(s, w);
  }
}

void xs2s__dialback_waiting_free(xs2s_session *s) {
  while (s->waiting) {
    xs2s__wait *w = s->waiting;
    s->waiting = w->next;
    wait_free(s, w);
  }
}

/* ---------------------------------------------------------------------- */
/* Public entry points                                                    */
/* ---------------------------------------------------------------------- */

static int initiating_usable(const xs2s_session *s) {
  return s->role == XS2S_SESSION_INITIATING &&
         s->state != XS2S_SESSION_CLOSING && s->state != XS2S_SESSION_CLOSED;
}

int xs2s_session_add_pair(xs2s_session *s, const char *local,
                          const char *remote) {
  if (!local || !remote || !*remote || !xs2s__session_is_local(s, local))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!initiating_usable(s) || s->verify_only)
    return XS2S_ERR_BAD_STATE;
  if (s->require_valid_cert && s->state == XS2S_SESSION_OPEN &&
      !xs2s__tls_peer_valid_for(s, remote))
    return XS2S_ERR_POLICY;
  int own = xs2s__domain_equal(local, s->local_domains[0]) &&
            xs2s__domain_equal(remote, s->remote_domain);
  if (s->state != XS2S_SESSION_OPEN) {
    if (own || wait_has_pair(s, local, remote))
      return 0;
    return wait_push(s, local, remote, NULL);
  }
  int rc = start_pair(s, local, remote);
  int frc = xs2s__session_flush(s);
  return rc < 0 ? rc : frc;
}

int xs2s_session_verify(xs2s_session *s, const xs2s_dialback_request *req) {
  if (!req || !xs2s__dialback_domain_ok(req->originating) ||
      !xs2s__dialback_domain_ok(req->receiving) ||
      !xs2s__dialback_id_ok(req->stream_id) || !req->key[0])
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!initiating_usable(s))
    return XS2S_ERR_BAD_STATE;
  if (s->state != XS2S_SESSION_OPEN)
    return wait_push(s, NULL, NULL, req);
  int rc = send_verify(s, req);
  int frc = xs2s__session_flush(s);
  return rc < 0 ? rc : frc;
}

int xs2s_session_dialback_answer(xs2s_session *s,
                                 const xs2s_dialback_answer *answer) {
  if (!answer)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (s->role != XS2S_SESSION_RECEIVING || s->state != XS2S_SESSION_OPEN)
    return XS2S_ERR_BAD_STATE;
  xs2s__dialback_out out;
  xs2s__dialback_out_init(&out);
  int rc = xs2s__dialback_verified(&s->db, answer, &out);
  if (rc < 0) {
    xs2s__dialback_out_clear(&out);
    return rc;
  }
  rc = act(s, &out);
  int frc = xs2s__session_flush(s);
  return rc < 0 ? rc : frc;
}
