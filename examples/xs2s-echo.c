/*
 * xs2s-echo: the smallest embedding of xs2s. It serves one domain,
 * answers XEP-0199 pings and echoes the body of every message back.
 *
 *   xs2s-echo --domain D [--listen ADDR:PORT]... [--cert FILE --key FILE]
 *             [--ca FILE] [--tls required|optional|off] [--secret S]
 *             [--resolver-conf FILE] [--route DOMAIN=HOST:PORT]...
 *             [--listen-tls ADDR:PORT]... [--route-tls DOMAIN=HOST:PORT]...
 *             [--verbose]
 *
 * The -tls forms use XEP-0368 direct TLS: TLS from the first byte instead
 * of STARTTLS.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xs2s/xs2s.h>

static xs2s_ctx *the_ctx;
static int verbose;

static void on_signal(int sig) {
  (void)sig;
  xs2s_ctx_stop(the_ctx); /* signal-safe */
}

static void reply(xs2s_ctx *ctx, xs2s_stanza *r, const xs2s_stanza *to) {
  xs2s_stanza_set_attr(r, "from", xs2s_stanza_attr(to, "to"));
  xs2s_stanza_set_attr(r, "to", xs2s_stanza_attr(to, "from"));
  if (xs2s_stanza_attr(to, "id"))
    xs2s_stanza_set_attr(r, "id", xs2s_stanza_attr(to, "id"));
  int rc = xs2s_ctx_send(ctx, r, NULL);
  if (rc < 0)
    fprintf(stderr, "xs2s-echo: reply not sent: %s\n", xs2s_strerror(rc));
  xs2s_stanza_free(r);
}

static int on_stanza(xs2s_ctx *ctx, const xs2s_stanza *s, const char *remote,
                     void *ud) {
  (void)ud;
  const char *type = xs2s_stanza_attr(s, "type");
  if (xs2s_stanza_is(s, "iq", "jabber:server")) {
    if (type && strcmp(type, "get") == 0 &&
        xs2s_stanza_find_child(s, "ping", "urn:xmpp:ping")) {
      printf("ping from %s\n", remote);
      xs2s_stanza *pong = xs2s_stanza_new("iq", "jabber:server");
      xs2s_stanza_set_attr(pong, "type", "result");
      reply(ctx, pong, s);
      return 0;
    }
    if (type && (!strcmp(type, "get") || !strcmp(type, "set")))
      return XS2S_STANZA_ERR_SERVICE_UNAVAILABLE;
    return 0;
  }
  const xs2s_stanza *body = xs2s_stanza_find_child(s, "body", "jabber:server");
  if (xs2s_stanza_is(s, "message", "jabber:server") && body &&
      (!type || strcmp(type, "error") != 0)) {
    const char *text = xs2s_stanza_text(body);
    printf("message from %s: %s\n", remote, text ? text : "");
    xs2s_stanza *m = xs2s_stanza_new("message", "jabber:server");
    if (type)
      xs2s_stanza_set_attr(m, "type", type);
    xs2s_stanza_add_copy(m, body);
    reply(ctx, m, s);
  }
  fflush(stdout);
  return 0;
}

static void on_bounce(xs2s_ctx *ctx, const xs2s_stanza *s,
                      xs2s_stanza_condition cond, const char *text, void *tag,
                      void *ud) {
  (void)ctx, (void)tag, (void)ud;
  printf("bounced to %s: %s (%s)\n", xs2s_stanza_attr(s, "to"),
         xs2s_stanza_condition_name(cond), text);
  fflush(stdout);
}

static void on_peer(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx, (void)ud;
  printf("up %s %s %s tls=%s auth=%s\n", xs2s_direction_name(ev->direction), ev->remote_domain,
         ev->peer_address, ev->tls ? "yes" : "no",
         xs2s_auth_method_name(ev->auth));
  fflush(stdout);
}

static void on_peer_down(xs2s_ctx *ctx, const xs2s_peer_event *ev, void *ud) {
  (void)ctx, (void)ud;
  printf("down %s %s\n", xs2s_direction_name(ev->direction),
         ev->remote_domain);
  fflush(stdout);
}

static void on_log(xs2s_ctx *ctx, xs2s_log_level level, const char *line,
                   void *ud) {
  (void)ctx, (void)ud;
  if (verbose || level <= XS2S_LOG_WARNING)
    fprintf(stderr, "%s: %s\n", xs2s_log_level_name(level), line);
}

static int usage(void) {
  fprintf(stderr,
          "usage: xs2s-echo --domain D [--listen ADDR:PORT]... [--cert FILE "
          "--key FILE]\n"
          "                 [--ca FILE] [--tls required|optional|off] "
          "[--secret S]\n"
          "                 [--resolver-conf FILE] [--route "
          "DOMAIN=HOST:PORT]...\n"
          "                 [--listen-tls ADDR:PORT]... [--route-tls "
          "DOMAIN=HOST:PORT]... [--verbose]\n");
  return 2;
}

int main(int argc, char **argv) {
  xs2s_config *cfg = xs2s_config_new(NULL);
  const char *domain = NULL, *cert = NULL, *key = NULL;
  int listeners = 0, rc = 0;
  for (int i = 1; i < argc && rc == 0; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--verbose")) {
      verbose = 1;
      continue;
    }
    if (!v)
      return usage();
    i++;
    if (!strcmp(o, "--domain")) {
      domain = v;
    } else if (!strcmp(o, "--listen") || !strcmp(o, "--listen-tls")) {
      rc = xs2s_config_add_listener(
          cfg, v, strcmp(o, "--listen") ? XS2S_LISTEN_DIRECT_TLS : 0);
      listeners++;
    } else if (!strcmp(o, "--cert")) {
      cert = v;
    } else if (!strcmp(o, "--key")) {
      key = v;
    } else if (!strcmp(o, "--ca")) {
      rc = xs2s_config_set_ca_file(cfg, v);
      if (rc == 0)
        rc = xs2s_config_set_system_trust(cfg, 0);
    } else if (!strcmp(o, "--tls")) {
      rc = xs2s_config_set_tls_mode(
          cfg, !strcmp(v, "required")   ? XS2S_TLS_REQUIRED
               : !strcmp(v, "optional") ? XS2S_TLS_OPTIONAL
               : !strcmp(v, "off")      ? XS2S_TLS_OFF
                                        : XS2S_TLS_INHERIT);
    } else if (!strcmp(o, "--secret")) {
      rc = xs2s_config_set_dialback_secret(cfg, v);
    } else if (!strcmp(o, "--resolver-conf")) {
      rc = xs2s_config_set_unbound_config(cfg, v);
    } else if (!strcmp(o, "--route") || !strcmp(o, "--route-tls")) {
      char d[1024];
      const char *eq = strchr(v, '=');
      if (!eq || (size_t)(eq - v) >= sizeof(d))
        return usage();
      memcpy(d, v, (size_t)(eq - v));
      d[eq - v] = '\0';
      rc = xs2s_config_add_route(
          cfg, d, eq + 1, strcmp(o, "--route") ? XS2S_ROUTE_DIRECT_TLS : 0);
    } else {
      return usage();
    }
  }
  if (!domain)
    return usage();
  if (rc == 0)
    rc = xs2s_config_add_domain(cfg, domain, cert, key);
  if (rc == 0 && listeners == 0)
    rc = xs2s_config_add_listener(cfg, "0.0.0.0", 0);
  if (rc < 0) {
    fprintf(stderr, "xs2s-echo: bad option: %s\n", xs2s_strerror(rc));
    return 2;
  }
  xs2s_ctx_callbacks cb = {on_stanza, on_bounce, on_peer, on_peer_down,
                           on_log};
  rc = xs2s_ctx_new(&the_ctx, cfg, &cb, NULL, NULL);
  xs2s_config_free(cfg);
  if (rc < 0) {
    fprintf(stderr, "xs2s-echo: %s\n", xs2s_strerror(rc));
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  printf("ready %s port %u\n", domain, xs2s_ctx_listen_port(the_ctx, 0));
  fflush(stdout);
  rc = xs2s_ctx_run(the_ctx);
  xs2s_ctx_free(the_ctx);
  return rc < 0 ? 1 : 0;
}
