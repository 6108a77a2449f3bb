/*
 * session_sm.c: XEP-0198 stream management on a server-to-server stream.
 *
 * Stanzas flow one way (initiating to receiving; bidirectional streams do
 * not use stream management), so:
 *   - the receiving side offers <sm/>, answers <enable/> with <enabled/>
 *     (with a resumption id when it keeps state for broken streams),
 *     counts the stanzas it hands to the embedder (h) and answers <r/>
 *     with <a h/>; a <resume/> is put to the embedder, which knows the
 *     previous streams;
 *   - the initiating side sends <enable resume='true'/> (or <resume/> when
 *     the embedder asks) right after the first domain pair is
 *     authenticated, counts what it sends from then on, asks for
 *     acknowledgements every ack_every stanzas, and ack_ms after the last
 *     unrequested one or when the embedder says its queue drained (those
 *     only when no request is outstanding; never one <r/> per stanza), and
 *     reports acknowledged counts to the embedder, which keeps the stanzas
 *     themselves.
 *
 * Counts are modulo 2^32: the peer's h is valid when h - acked (mod 2^32)
 * is at most sent - acked; anything more is a stream error
 * (undefined-condition with <handled-count-too-high/>).
 */
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "session_int.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

void xs2s__sm_init(xs2s_session *s, const xs2s_session_config *c) {
  xs2s__sm *sm = &s->sm;
  sm->off = c->sm_off || c->verify_only;
  sm->resume_s = c->sm_resume_s;
  sm->ack_every = c->sm_ack_every ? c->sm_ack_every
                                  : XS2S_SESSION_DEFAULT_SM_ACK_EVERY;
  sm->ack_ms = c->sm_ack_ms ? c->sm_ack_ms : XS2S_SESSION_DEFAULT_SM_ACK_MS;
}

/* Bidirectional streams carry stanzas both ways: not covered here. */
static int usable(const xs2s_session *s) {
  return !s->sm.off && !s->bidi_on && !s->verify_only;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

/* A decimal count 0..2^32-1 without sign or spaces; -1 otherwise. */
static int parse_count(const char *t, uint32_t *out) {
  if (!t || !*t)
    return -1;
  uint64_t v = 0;
  for (int n = 0; *t; t++, n++) {
    if (*t < '0' || *t > '9' || n >= 10)
      return -1;
    v = v * 10 + (uint64_t)(*t - '0');
  }
  if (v > UINT32_MAX)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

/* Ids go back into attributes: only characters that need no escaping. */
static int id_ok(const char *id) {
  if (!id || !*id || strlen(id) > XS2S__SM_ID_MAX)
    return 0;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || strchr("-._~:+/=", *p)))
      return 0;
  return 1;
}

static int true_attr(const xs2s_stanza *el, const char *name) {
  const char *v = xs2s_stanza_attr(el, name);
  return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static void emit(xs2s_session *s, xs2s_sm_event *ev) {
  if (s->cb.sm)
    s->cb.sm(s, ev, s->user_data);
}

static int write_fmt(xs2s_session *s, const char *fmt, const char *a,
                     uint32_t n) __attribute__((format(printf, 2, 0)));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* Only called with the literal formats of this file. */
static int write_fmt(xs2s_session *s, const char *fmt, const char *a,
                     uint32_t n) {
  char buf[256];
  int len = a ? snprintf(buf, sizeof(buf), fmt, a, (unsigned long)n)
              : snprintf(buf, sizeof(buf), fmt, (unsigned long)n);
  if (len < 0 || (size_t)len >= sizeof(buf))
    return XS2S_ERR_INTERNAL;
  return xs2s__session_write(s, buf, (size_t)len);
}
#pragma GCC diagnostic pop

static int write_ack(xs2s_session *s) {
  return write_fmt(s, "<a xmlns='" XS2S_NS_SM "' h='%lu'/>", NULL,
                   s->sm.handled);
}

static int write_request(xs2s_session *s) {
  xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                    "asking for an acknowledgement (%lu sent, %lu acked)",
                    (unsigned long)s->sm.sent, (unsigned long)s->sm.acked);
  int rc = xs2s__session_write_str(s, "<r xmlns='" XS2S_NS_SM "'/>");
  if (rc == 0) {
    s->sm.r_pending = 1;
    s->sm.since_r = 0;
  }
  return rc;
}

static int write_failed(xs2s_session *s, const char *cond) {
  char buf[160];
  snprintf(buf, sizeof(buf),
           "<failed xmlns='" XS2S_NS_SM "'><%s xmlns='" NS_STANZAS
           "'/></failed>",
           cond);
  return xs2s__session_write_str(s, buf);
}

static int fail_stream(xs2s_session *s, const char *text) {
  return xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                            XS2S_STREAM_ERR_UNSUPPORTED_STANZA_TYPE, text);
}

/* The peer claims more than we sent: a stream error with XEP-0198's
 * application condition. */
static int too_high(xs2s_session *s, uint32_t h, uint32_t sent) {
  char app[160];
  snprintf(app, sizeof(app),
           "<handled-count-too-high xmlns='" XS2S_NS_SM
           "' h='%lu' send-count='%lu'/>",
           (unsigned long)h, (unsigned long)sent);
  s->error_app = app;
  int rc = xs2s__session_fail(s, XS2S_ERR_BAD_FORMAT,
                              XS2S_STREAM_ERR_UNDEFINED_CONDITION,
                              "handled count too high");
  s->error_app = NULL;
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Features                                                               */
/* ---------------------------------------------------------------------- */

int xs2s__sm_feature_add(xs2s_session *s, xs2s_stanza *features) {
  if (!usable(s) || s->role != XS2S_SESSION_RECEIVING)
    return 0;
  return xs2s_stanza_add_child(features, "sm", XS2S_NS_SM) ? 0
                                                           : XS2S_ERR_NOMEM;
}

void xs2s__sm_feature_read(xs2s_session *s, const xs2s_stanza *features) {
  s->sm.offered =
      xs2s_stanza_find_child(features, "sm", XS2S_NS_SM) != NULL;
}

/* ---------------------------------------------------------------------- */
/* Initiating side                                                        */
/* ---------------------------------------------------------------------- */

static void start_counting(xs2s_session *s, uint32_t from) {
  s->sm.sent = s->sm.acked = from;
  s->sm.since_r = 0;
  s->sm.r_pending = 0;
  s->sm.last_sent = s->now;
}

static int send_enable(xs2s_session *s) {
  int rc = xs2s__session_write_str(
      s, "<enable xmlns='" XS2S_NS_SM "' resume='true'/>");
  if (rc < 0)
    return rc;
  s->sm.state = XS2S__SM_ENABLING;
  start_counting(s, 0);
  return 0;
}

/* The resumption cannot happen: the embedder bounces, we enable afresh. */
static int resume_failed(xs2s_session *s, int has_h, uint32_t h) {
  xs2s__sm *sm = &s->sm;
  xs2s_sm_event ev = {.type = XS2S_SM_FAILED, .resume = 1};
  if (has_h) {
    uint32_t count = h - sm->prev_acked;
    if (count <= sm->prev_sent - sm->prev_acked) {
      ev.has_h = 1;
      ev.h = h;
      ev.count = count;
    }
  }
  sm->want_resume = 0;
  sm->state = XS2S__SM_NONE;
  emit(s, &ev);
  if (s->state != XS2S_SESSION_OPEN)
    return 0;
  return sm->offered ? send_enable(s) : 0;
}

int xs2s__sm_kick(xs2s_session *s) {
  xs2s__sm *sm = &s->sm;
  if (s->role != XS2S_SESSION_INITIATING || !usable(s) ||
      sm->state != XS2S__SM_NONE || !s->pair_authenticated ||
      s->state != XS2S_SESSION_OPEN)
    return 0;
  if (!sm->offered) {
    if (sm->want_resume) {
      xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                        "cannot resume: the peer offers no stream "
                        "management");
      sm->state = XS2S__SM_FAILED;
      return resume_failed(s, 0, 0);
    }
    return 0;
  }
  if (!sm->want_resume)
    return send_enable(s);
  int rc = write_fmt(s, "<resume xmlns='" XS2S_NS_SM
                        "' previd='%s' h='%lu'/>",
                     sm->prev_id, sm->handled);
  if (rc == 0)
    sm->state = XS2S__SM_RESUMING;
  return rc;
}

static int on_enabled(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__sm *sm = &s->sm;
  if (sm->state != XS2S__SM_ENABLING)
    return fail_stream(s, "unexpected <enabled/>");
  const char *id = xs2s_stanza_attr(el, "id");
  sm->state = XS2S__SM_ON;
  sm->resumable = true_attr(el, "resume") && id_ok(id);
  if (sm->resumable)
    snprintf(sm->id, sizeof(sm->id), "%s", id);
  uint32_t max = 0;
  if (parse_count(xs2s_stanza_attr(el, "max"), &max) == 0)
    sm->max_s = max;
  xs2s__session_log(s, XS2S_SESSION_LOG_DEBUG,
                    "stream management on%s%s", sm->resumable ? ", id " : "",
                    sm->resumable ? sm->id : "");
  xs2s_sm_event ev = {.type = XS2S_SM_ENABLED,
                      .id = sm->resumable ? sm->id : NULL,
                      .resume = sm->resumable,
                      .max_s = sm->max_s};
  emit(s, &ev);
  return 0;
}

static int on_resumed(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__sm *sm = &s->sm;
  uint32_t h;
  const char *previd = xs2s_stanza_attr(el, "previd");
  if (sm->state != XS2S__SM_RESUMING)
    return fail_stream(s, "unexpected <resumed/>");
  if (parse_count(xs2s_stanza_attr(el, "h"), &h) < 0 || !previd ||
      strcmp(previd, sm->prev_id) != 0)
    return fail_stream(s, "malformed <resumed/>");
  uint32_t count = h - sm->prev_acked;
  if (count > sm->prev_sent - sm->prev_acked)
    return too_high(s, h, sm->prev_sent);
  sm->state = XS2S__SM_ON;
  sm->want_resume = 0;
  sm->resumable = 1;
  snprintf(sm->id, sizeof(sm->id), "%s", sm->prev_id);
  start_counting(s, h);
  xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                    "stream %s resumed: %lu of %lu unacknowledged stanzas "
                    "were handled",
                    sm->id, (unsigned long)count,
                    (unsigned long)(sm->prev_sent - sm->prev_acked));
  xs2s_sm_event ev = {.type = XS2S_SM_RESUMED, .id = sm->id, .h = h,
                      .count = count, .resume = 1};
  emit(s, &ev);
  return 0;
}

static int on_failed(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__sm *sm = &s->sm;
  uint32_t h = 0;
  int has_h = parse_count(xs2s_stanza_attr(el, "h"), &h) == 0;
  if (sm->state == XS2S__SM_RESUMING) {
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "the peer refused to resume stream %s", sm->prev_id);
    sm->state = XS2S__SM_FAILED;
    return resume_failed(s, has_h, h);
  }
  if (sm->state != XS2S__SM_ENABLING)
    return fail_stream(s, "unexpected <failed/>");
  sm->state = XS2S__SM_FAILED;
  xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                    "the peer refused stream management");
  xs2s_sm_event ev = {.type = XS2S_SM_FAILED};
  emit(s, &ev);
  return 0;
}

static int on_ack(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__sm *sm = &s->sm;
  uint32_t h;
  if (sm->state != XS2S__SM_ON)
    return fail_stream(s, "<a/> without stream management");
  if (parse_count(xs2s_stanza_attr(el, "h"), &h) < 0)
    return fail_stream(s, "malformed <a/>");
  uint32_t count = h - sm->acked;
  if (count > sm->sent - sm->acked)
    return too_high(s, h, sm->sent);
  sm->acked = h;
  sm->r_pending = 0;
  if (count == 0)
    return 0;
  xs2s_sm_event ev = {.type = XS2S_SM_ACKED, .h = h, .count = count};
  emit(s, &ev);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Receiving side                                                         */
/* ---------------------------------------------------------------------- */

/* <enable/> or <resume/> is acceptable now; else answers <failed/>. */
static int may_start(xs2s_session *s) {
  if (!s->pair_authenticated || s->sm.state != XS2S__SM_NONE ||
      s->state != XS2S_SESSION_OPEN) {
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "stream management asked for %s",
                      s->pair_authenticated ? "twice" : "before "
                                                        "authentication");
    write_failed(s, "unexpected-request");
    return 0;
  }
  return 1;
}

static int new_id(xs2s_session *s) {
  unsigned char rnd[16];
  if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
    return XS2S_ERR_INTERNAL;
  for (size_t i = 0; i < sizeof(rnd); i++)
    snprintf(s->sm.id + 2 * i, 3, "%02x", rnd[i]);
  return 0;
}

static int on_enable(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__sm *sm = &s->sm;
  if (!may_start(s))
    return 0;
  sm->state = XS2S__SM_ON;
  sm->handled = 0;
  sm->resumable = sm->resume_s > 0 && true_attr(el, "resume");
  int rc;
  if (sm->resumable && (rc = new_id(s)) < 0)
    return xs2s__session_fail(s, rc, XS2S_STREAM_ERR_INTERNAL_SERVER_ERROR,
                              NULL);
  if (sm->resumable) {
    char buf[200];
    snprintf(buf, sizeof(buf),
             "<enabled xmlns='" XS2S_NS_SM "' id='%s' resume='true' "
             "max='%lu'/>",
             sm->id, (unsigned long)sm->resume_s);
    rc = xs2s__session_write_str(s, buf);
  } else {
    sm->id[0] = '\0';
    rc = xs2s__session_write_str(s, "<enabled xmlns='" XS2S_NS_SM "'/>");
  }
  if (rc < 0)
    return rc;
  xs2s_sm_event ev = {.type = XS2S_SM_ENABLED,
                      .id = sm->resumable ? sm->id : NULL,
                      .resume = sm->resumable,
                      .max_s = sm->resume_s};
  emit(s, &ev);
  return 0;
}

static int on_resume(xs2s_session *s, const xs2s_stanza *el) {
  xs2s__sm *sm = &s->sm;
  if (!may_start(s))
    return 0;
  const char *previd = xs2s_stanza_attr(el, "previd");
  uint32_t h;
  if (!id_ok(previd) || parse_count(xs2s_stanza_attr(el, "h"), &h) < 0 ||
      sm->resume_s == 0)
    return write_failed(s, "item-not-found");
  xs2s_sm_event ev = {.type = XS2S_SM_RESUME_REQUEST, .id = previd, .h = h};
  emit(s, &ev);
  if (s->state != XS2S_SESSION_OPEN)
    return 0;
  /* Our stanzas on a one-way stream: none, so the peer handled none. */
  if (!ev.accept || h != 0) {
    xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                      "refused to resume stream %s", previd);
    return write_failed(s, "item-not-found");
  }
  sm->state = XS2S__SM_ON;
  sm->resumable = 1;
  sm->handled = ev.handled;
  snprintf(sm->id, sizeof(sm->id), "%s", previd);
  xs2s__session_log(s, XS2S_SESSION_LOG_INFO,
                    "stream %s resumed, %lu stanzas handled", sm->id,
                    (unsigned long)sm->handled);
  return write_fmt(s, "<resumed xmlns='" XS2S_NS_SM "' previd='%s' h='%lu'/>",
                   sm->id, sm->handled);
}

/* ---------------------------------------------------------------------- */
/* Dispatch                                                               */
/* ---------------------------------------------------------------------- */

int xs2s__sm_element(xs2s_session *s, const xs2s_stanza *el) {
  const char *name = xs2s_stanza_name(el);
  int initiating = s->role == XS2S_SESSION_INITIATING;
  if (!usable(s)) {
    /* A peer that asks on a bidirectional stream, where we offered it
     * before bidirectionality was asked for: a refusal, not an error. */
    if (!s->sm.off && s->bidi_on && s->role == XS2S_SESSION_RECEIVING &&
        (strcmp(name, "enable") == 0 || strcmp(name, "resume") == 0))
      return write_failed(s, "feature-not-implemented");
    return fail_stream(s, "stream management is not offered");
  }
  if (s->state == XS2S_SESSION_CLOSING &&
      (strcmp(name, "r") == 0 || strcmp(name, "enable") == 0 ||
       strcmp(name, "resume") == 0))
    return 0; /* our end is written: nothing more can be answered */
  if (strcmp(name, "r") == 0) {
    if (s->sm.state != XS2S__SM_ON)
      return fail_stream(s, "<r/> without stream management");
    return write_ack(s);
  }
  if (strcmp(name, "a") == 0) {
    if (!initiating) {
      /* We send nothing on a one-way stream: only h='0' is true. */
      uint32_t h;
      if (s->sm.state != XS2S__SM_ON)
        return fail_stream(s, "<a/> without stream management");
      if (parse_count(xs2s_stanza_attr(el, "h"), &h) < 0)
        return fail_stream(s, "malformed <a/>");
      return h == 0 ? 0 : too_high(s, h, 0);
    }
    return on_ack(s, el);
  }
  if (initiating) {
    if (strcmp(name, "enabled") == 0)
      return on_enabled(s, el);
    if (strcmp(name, "resumed") == 0)
      return on_resumed(s, el);
    if (strcmp(name, "failed") == 0)
      return on_failed(s, el);
  } else {
    if (strcmp(name, "enable") == 0)
      return on_enable(s, el);
    if (strcmp(name, "resume") == 0)
      return on_resume(s, el);
  }
  return fail_stream(s, "unexpected stream management element");
}

/* ---------------------------------------------------------------------- */
/* Counting and requests                                                  */
/* ---------------------------------------------------------------------- */

int xs2s__sm_blocked(const xs2s_session *s) {
  return s->sm.state == XS2S__SM_RESUMING;
}

int xs2s__sm_sent(xs2s_session *s) {
  xs2s__sm *sm = &s->sm;
  if (sm->state != XS2S__SM_ENABLING && sm->state != XS2S__SM_ON)
    return 0;
  sm->sent++;
  sm->since_r++;
  sm->last_sent = s->now;
  /* Every ack_every stanzas even while a request is outstanding: in a
   * burst, one request at a time would be answered only at its end, and a
   * peer that dies in it would leave everything unacknowledged. */
  if (sm->state == XS2S__SM_ON && sm->since_r >= sm->ack_every)
    return write_request(s);
  return 0;
}

void xs2s__sm_handled(xs2s_session *s) {
  if (s->sm.state == XS2S__SM_ON)
    s->sm.handled++;
}

int xs2s__sm_before_close(xs2s_session *s) {
  xs2s__sm *sm = &s->sm;
  if (sm->state != XS2S__SM_ON || !s->header_sent)
    return 0;
  if (s->role == XS2S_SESSION_RECEIVING)
    return write_ack(s); /* what we handled, before our end */
  if (s->close_origin == XS2S_CLOSED_LOCALLY && sm->sent != sm->acked &&
      !sm->r_pending)
    return write_request(s); /* the answer comes before the peer's end */
  return 0;
}

uint64_t xs2s__sm_deadline(const xs2s_session *s) {
  const xs2s__sm *sm = &s->sm;
  if (sm->state != XS2S__SM_ON || sm->r_pending || sm->sent == sm->acked ||
      sm->since_r == 0)
    return XS2S_SESSION_NO_TIMEOUT;
  return sm->last_sent + sm->ack_ms;
}

int xs2s__sm_timer(xs2s_session *s) {
  if (s->now >= xs2s__sm_deadline(s))
    return write_request(s);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Public                                                                 */
/* ---------------------------------------------------------------------- */

int xs2s_session_sm_resume(xs2s_session *s, const char *previd,
                           uint32_t acked, uint32_t sent) {
  if (!s || !id_ok(previd))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (s->role != XS2S_SESSION_INITIATING || s->sm.off || s->verify_only ||
      s->pair_authenticated || s->sm.state != XS2S__SM_NONE)
    return XS2S_ERR_BAD_STATE;
  xs2s__sm *sm = &s->sm;
  sm->want_resume = 1;
  snprintf(sm->prev_id, sizeof(sm->prev_id), "%s", previd);
  sm->prev_acked = acked;
  sm->prev_sent = sent;
  return 0;
}

int xs2s_session_sm_request_ack(xs2s_session *s) {
  xs2s__sm *sm = &s->sm;
  if (s->role != XS2S_SESSION_INITIATING || sm->state != XS2S__SM_ON ||
      sm->r_pending || sm->sent == sm->acked ||
      s->state != XS2S_SESSION_OPEN)
    return 0;
  int rc = write_request(s);
  if (rc == 0 && s->tls_state == XS2S__TLS_ACTIVE && s->hold)
    return 1; /* released with the held stanzas */
  if (rc == 0)
    rc = xs2s__session_flush(s);
  return rc < 0 ? rc : 1;
}

int xs2s_session_sm_info(const xs2s_session *s, xs2s_sm_info *out) {
  const xs2s__sm *sm = &s->sm;
  memset(out, 0, sizeof(*out));
  out->on = sm->state == XS2S__SM_ON;
  out->pending = sm->state == XS2S__SM_ENABLING;
  out->resuming = sm->state == XS2S__SM_RESUMING;
  out->resumable = out->on && sm->resumable && sm->id[0];
  out->id = out->resumable ? sm->id : NULL;
  out->handled = sm->handled;
  out->sent = sm->sent;
  out->acked = sm->acked;
  return out->on;
}
