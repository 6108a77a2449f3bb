/*
 * ctx_trim.c: an idle connection gives memory back.
 *
 * Each connection has one trim timer, armed when bytes move and not
 * before it is due: a busy connection re-arms it once per trim period,
 * not per read. When it finds the connection silent for the configured
 * time ("trim"), the session frees what it can rebuild
 * (session_trim.h); the timer is then left alone until bytes move again,
 * so an idle connection costs no wake-ups.
 */
#include "ctx_int.h"
#include "session_trim.h"

static void trim_timer_fn(xs2s__timer *t, uint64_t now, void *arg) {
  (void)t;
  xs2s__conn *c = arg;
  xs2s_ctx *ctx = c->ctx;
  uint64_t delay = ctx->cfg->timeouts[XS2S_TIMEOUT_TRIM];
  if (c->state != XS2S__CONN_OPEN || !c->session || delay == 0)
    return;
  if (now - c->active_ms < delay) {
    xs2s__loop_timer_set(&ctx->loop, &c->trim_timer,
                         delay - (now - c->active_ms));
    return;
  }
  /* No conn_enter/leave: trimming runs no callback and makes no output. */
  xs2s__session_trim(c->session);
}

void xs2s__conn_trim_init(xs2s__conn *c) {
  xs2s__timer_init(&c->trim_timer, trim_timer_fn, c);
}

void xs2s__conn_trim_touch(xs2s__conn *c, uint64_t now) {
  c->active_ms = now;
  uint64_t delay = c->ctx->cfg->timeouts[XS2S_TIMEOUT_TRIM];
  if (delay && !xs2s__timer_armed(&c->trim_timer))
    xs2s__loop_timer_set(&c->ctx->loop, &c->trim_timer, delay);
}

void xs2s__conn_trim_stop(xs2s__conn *c) {
  xs2s__loop_timer_cancel(&c->ctx->loop, &c->trim_timer);
}
