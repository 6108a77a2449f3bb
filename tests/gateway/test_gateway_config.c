/* The gateway's configuration file: a complete file read back through the
 * xs2s_config getters, the defaults, relative paths, and bad files whose
 * messages must name the right line and the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static const char *certs;

/* Replaces every "@C@" in @tmpl with the certificate directory. */
static char *expand(const char *tmpl) {
  static char out[16384];
  char *o = out;
  for (const char *p = tmpl; *p;) {
    if (strncmp(p, "@C@", 3) == 0) {
      o += sprintf(o, "%s", certs);
      p += 3;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return out;
}

static gw_config *parse(const char *tmpl, char *err, size_t size) {
  const char *xml = expand(tmpl);
  gw_config *cfg = NULL;
  int rc = gw_config_parse(xml, strlen(xml), "gw.xml", NULL, &cfg, err, size);
  CHECK((rc == 0) == (cfg != NULL));
  return cfg;
}

static const char full[] =
    "<?xml version='1.0'?>\n"                                          /* 1 */
    "<!-- a gateway -->\n"                                             /* 2 */
    "<gateway>\n"                                                      /* 3 */
    "  <log level='debug' status-interval='90s'/>\n"                   /* 4 */
    "  <domain name='A.Test.' certificate='@C@/a.test.pem'\n"          /* 5 */
    "          key='@C@/a.test.key'/>\n"                               /* 6 */
    "  <domain name='bot.a.test' certificate='@C@/b.test.pem'/>\n"     /* 7 */
    "  <listen address='127.0.0.2:5269'/>\n"                           /* 8 */
    "  <listen address='[::1]' direct-tls='yes' reuseport='true'/>\n"  /* 9 */
    "  <components address='127.0.0.1:5999'>\n"                        /* 10 */
    "    <component domain='a.test' secret='s1'/>\n"                   /* 11 */
    "    <component domain='BOT.a.test' secret='s2'/>\n"               /* 12 */
    "  </components>\n"                                                /* 13 */
    "  <trust ca='@C@/ca.pem' crl='@C@/crl.pem' system='no'/>\n"       /* 14 */
    "  <dialback secret='db-secret'/>\n"                               /* 15 */
    "  <security tls='optional' require-valid-certificate='no'\n"      /* 16 */
    "            tls-priority='NORMAL'>\n"                             /* 17 */
    "    <remote domain='old.example' tls='off'/>\n"                   /* 18 */
    "    <remote domain='bank.example' require-valid-certificate='yes'/>\n"
    "  </security>\n"                                                  /* 20 */
    "  <privacy mode='allow'>\n"                                       /* 21 */
    "    <allow domain='b.test'/>\n"                                   /* 22 */
    "    <deny domain='spam.example'/>\n"                              /* 23 */
    "  </privacy>\n"                                                   /* 24 */
    "  <route domain='b.test' target='127.0.0.3:5269'/>\n"             /* 25 */
    "  <route domain='b.test' target='[::1]' direct-tls='yes'/>\n"     /* 26 */
    "  <resolver unbound-config='@C@/ca.pem'/>\n"                      /* 27 */
    "  <limits queue-bytes='2M' connections='100'/>\n"                 /* 28 */
    "  <timeouts connect='500ms' idle='0' retry-max='10min'\n"         /* 29 */
    "            keepalive='1h'/>\n"                                   /* 30 */
    "</gateway>\n";

static void test_full(void) {
  char err[512] = "";
  gw_config *cfg = parse(full, err, sizeof(err));
  CHECK_STR(err, "");
  if (!cfg)
    return;
  xs2s_config *x = cfg->xs2s;
  CHECK_INT(cfg->log_level, GW_LOG_DEBUG);
  CHECK_INT(cfg->status_interval_ms, 90000);
  CHECK_INT(xs2s_config_domain_count(x), 2);
  const char *cert, *key;
  CHECK_STR(xs2s_config_domain_at(x, 0, &cert, &key), "a.test");
  CHECK(cert && strstr(cert, "/a.test.pem"));
  CHECK(key && strstr(key, "/a.test.key"));
  CHECK_STR(xs2s_config_domain_at(x, 1, &cert, &key), "bot.a.test");
  CHECK(cert && strstr(cert, "/b.test.pem") && key == cert);
  unsigned flags = 99;
  CHECK_INT(xs2s_config_listener_count(x), 2);
  CHECK_STR(xs2s_config_listener_at(x, 0, &flags), "127.0.0.2:5269");
  CHECK_INT(flags, 0);
  CHECK_STR(xs2s_config_listener_at(x, 1, &flags), "[::1]:5270");
  CHECK_INT(flags, XS2S_LISTEN_DIRECT_TLS | XS2S_LISTEN_REUSEPORT);
  CHECK_STR(cfg->component_address, "127.0.0.1:5999");
  CHECK_INT(cfg->component_count, 2);
  CHECK_STR(cfg->components[0].domain, "a.test");
  CHECK_STR(cfg->components[0].secret, "s1");
  CHECK_INT(cfg->components[0].line, 11);
  CHECK_STR(cfg->components[1].domain, "bot.a.test");
  CHECK(gw_config_component(cfg, "Bot.A.Test.") == &cfg->components[1]);
  CHECK(gw_config_component(cfg, "c.test") == NULL);
  CHECK(strstr(xs2s_config_ca_file(x), "/ca.pem") != NULL);
  CHECK(strstr(xs2s_config_crl_file(x), "/crl.pem") != NULL);
  CHECK_INT(xs2s_config_system_trust(x), 0);
  CHECK_STR(xs2s_config_dialback_secret(x), "db-secret");
  CHECK_INT(xs2s_config_tls_mode(x), XS2S_TLS_OPTIONAL);
  CHECK_INT(xs2s_config_require_valid_cert(x), 0);
  CHECK_STR(xs2s_config_tls_priority(x), "NORMAL");
  xs2s_tls_mode mode;
  int req;
  CHECK_INT(xs2s_config_remote_policy_count(x), 2);
  CHECK_STR(xs2s_config_remote_policy_at(x, 0, &mode, &req), "old.example");
  CHECK_INT(mode, XS2S_TLS_OFF);
  CHECK_INT(req, -1);
  CHECK_STR(xs2s_config_remote_policy_at(x, 1, &mode, &req), "bank.example");
  CHECK_INT(mode, XS2S_TLS_INHERIT);
  CHECK_INT(req, 1);
  CHECK_INT(xs2s_config_privacy_mode(x), XS2S_PRIVACY_ALLOW_LIST);
  CHECK_STR(xs2s_config_privacy_domain_at(x, XS2S_PRIVACY_ALLOW_LIST, 0),
            "b.test");
  CHECK_STR(xs2s_config_privacy_domain_at(x, XS2S_PRIVACY_DENY_LIST, 0),
            "spam.example");
  xs2s_route r;
  CHECK_INT(xs2s_config_route_count(x, "b.test"), 2);
  CHECK_INT(xs2s_config_route_at(x, "b.test", 0, &r), 0);
  CHECK_STR(r.host, "127.0.0.3");
  CHECK_INT(r.port, 5269);
  CHECK_INT(xs2s_config_route_at(x, "b.test", 1, &r), 0);
  CHECK_STR(r.host, "::1");
  CHECK_INT(r.port, 5270);
  CHECK_INT(r.flags, XS2S_ROUTE_DIRECT_TLS);
  CHECK(strstr(xs2s_config_unbound_config(x), "/ca.pem") != NULL);
  CHECK_INT(xs2s_config_limit(x, XS2S_LIMIT_QUEUE_BYTES), 2 * 1024 * 1024);
  CHECK_INT(xs2s_config_limit(x, XS2S_LIMIT_CONNECTIONS), 100);
  CHECK_INT(xs2s_config_timeout(x, XS2S_TIMEOUT_CONNECT), 500);
  CHECK_INT(xs2s_config_timeout(x, XS2S_TIMEOUT_IDLE), 0);
  CHECK_INT(xs2s_config_timeout(x, XS2S_TIMEOUT_RETRY_MAX), 600000);
  CHECK_INT(xs2s_config_timeout(x, XS2S_TIMEOUT_KEEPALIVE), 3600000);
  gw_config_free(cfg);
}

static void test_defaults(void) {
  char err[512] = "x";
  gw_config *cfg = parse("<gateway><domain name='a.test'/></gateway>", err,
                         sizeof(err));
  CHECK_STR(err, "");
  if (!cfg)
    return;
  CHECK_INT(cfg->log_level, GW_LOG_INFO);
  CHECK_INT(cfg->status_interval_ms, 0);
  CHECK_STR(cfg->component_address, GW_DEFAULT_COMPONENT_ADDRESS);
  CHECK_INT(cfg->component_count, 0);
  CHECK_INT(xs2s_config_listener_count(cfg->xs2s), 1);
  CHECK_STR(xs2s_config_listener_at(cfg->xs2s, 0, NULL), "0.0.0.0:5269");
  CHECK(xs2s_config_dialback_secret(cfg->xs2s) == NULL);
  const char *cert = "x", *key = "x";
  CHECK_STR(xs2s_config_domain_at(cfg->xs2s, 0, &cert, &key), "a.test");
  CHECK(cert == NULL && key == NULL);
  gw_config_free(cfg);
}

/* A file is read from disk, and its relative names are taken relative to
 * its own directory, not to the current one. */
static void test_load_relative(void) {
  char dir[] = "/tmp/gwcfg-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[512], cmd[1024];
  snprintf(cmd, sizeof(cmd), "cp %s/a.test.pem %s/a.test.key %s/", certs,
           certs, dir);
  CHECK_INT(system(cmd), 0);
  snprintf(path, sizeof(path), "%s/gateway.xml", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f)
    return;
  fputs("<gateway>\n <domain name='a.test' certificate='a.test.pem'"
        " key='a.test.key'/>\n</gateway>\n",
        f);
  fclose(f);
  char err[512] = "";
  gw_config *cfg = NULL;
  CHECK_INT(gw_config_load(path, &cfg, err, sizeof(err)), 0);
  CHECK_STR(err, "");
  if (cfg) {
    const char *cert;
    xs2s_config_domain_at(cfg->xs2s, 0, &cert, NULL);
    char want[600];
    snprintf(want, sizeof(want), "%s/a.test.pem", dir);
    CHECK_STR(cert, want);
  }
  gw_config_free(cfg);
  /* A missing file names itself. */
  char missing[600];
  snprintf(missing, sizeof(missing), "%s/none.xml", dir);
  CHECK_INT(gw_config_load(missing, &cfg, err, sizeof(err)), -1);
  CHECK(cfg == NULL);
  CHECK(strncmp(err, missing, strlen(missing)) == 0);
  CHECK(strstr(err, "cannot open") != NULL);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  CHECK_INT(system(cmd), 0);
}

typedef struct bad {
  const char *xml;
  const char *want; /* the message must start with this */
  const char *also; /* and contain this */
} bad;

#define HEAD "<gateway>\n<domain name='a.test'/>\n"

static const bad bads[] = {
    {HEAD "<colour/>\n</gateway>", "gw.xml:3: ", "unknown element <colour>"},
    {HEAD "<log level='loud'/>\n</gateway>", "gw.xml:3: ", "level='loud'"},
    {HEAD "<log lvl='info'/>\n</gateway>", "gw.xml:3: ",
     "unknown attribute 'lvl' on <log>"},
    {HEAD "<log/>\n<log/>\n</gateway>", "gw.xml:4: ",
     "<log> given twice (first at line 3)"},
    {HEAD "<log status-interval='10'/>\n</gateway>", "gw.xml:3: ",
     "expected a duration"},
    {HEAD "<listen address='example.org:5269'/>\n</gateway>", "gw.xml:3: ",
     "invalid listener address 'example.org:5269'"},
    {HEAD "<listen address='0.0.0.0' direct-tls='maybe'/>\n</gateway>",
     "gw.xml:3: ", "expected yes or no"},
    {HEAD "<components>\n<component domain='b.test' secret='x'/>\n"
          "</components>\n</gateway>",
     "gw.xml:4: ", "component domain 'b.test' is not a local <domain>"},
    {HEAD "<components>\n<component domain='a.test' secret='x'/>\n"
          "<component domain='A.TEST' secret='y'/>\n</components>\n"
          "</gateway>",
     "gw.xml:5: ", "already configured at line 4"},
    {HEAD "<components>\n<component domain='a.test'/>\n</components>\n"
          "</gateway>",
     "gw.xml:4: ", "<component> needs a non-empty secret attribute"},
    {HEAD "<components>\n<domain name='x.test'/>\n</components>\n"
          "</gateway>",
     "gw.xml:4: ", "unknown element <domain> inside <components>"},
    {HEAD "<domain name='a..test'/>\n</gateway>", "gw.xml:3: ",
     "invalid local domain 'a..test'"},
    {HEAD "<domain name='A.test'/>\n</gateway>", "gw.xml:3: ",
     "local domain 'A.test' is listed twice"},
    {HEAD "<domain name='c.test' certificate='/nonexistent/c.pem'/>\n"
          "</gateway>",
     "gw.xml:3: ", "cannot read /nonexistent/c.pem"},
    {HEAD "<domain name='c.test' key='@C@/a.test.key'/>\n</gateway>",
     "gw.xml:3: ", "has a key but no certificate"},
    {HEAD "<security tls='sometimes'/>\n</gateway>", "gw.xml:3: ",
     "expected required, optional or off"},
    {HEAD "<security>\n<remote tls='off'/>\n</security>\n</gateway>",
     "gw.xml:4: ", "<remote> needs a non-empty domain attribute"},
    {HEAD "<privacy mode='whitelist'/>\n</gateway>", "gw.xml:3: ",
     "expected off, allow or deny"},
    {HEAD "<privacy>\n<allow domain='b test'/>\n</privacy>\n</gateway>",
     "gw.xml:4: ", "invalid domain 'b test'"},
    {HEAD "<route domain='b.test' target='host:99999'/>\n</gateway>",
     "gw.xml:3: ", "invalid route to 'host:99999'"},
    {HEAD "<limits queue-bytes='lots'/>\n</gateway>", "gw.xml:3: ",
     "expected a number"},
    {HEAD "<limits queue-bytes='0'/>\n</gateway>", "gw.xml:3: ",
     "out of range"},
    {HEAD "<limits cpu='1'/>\n</gateway>", "gw.xml:3: ",
     "unknown limit 'cpu'"},
    {HEAD "<timeouts connect='5 s'/>\n</gateway>", "gw.xml:3: ",
     "expected a duration"},
    {HEAD "<timeouts connect='1ms'/>\n</gateway>", "gw.xml:3: ",
     "out of range"},
    {HEAD "<timeouts lunch='1h'/>\n</gateway>", "gw.xml:3: ",
     "unknown timeout 'lunch'"},
    {HEAD "<timeouts connect='99999999999999999999s'/>\n</gateway>",
     "gw.xml:3: ", "expected a duration"},
    {HEAD "oops\n</gateway>", "gw.xml:3: ", "unexpected text inside"},
    {HEAD "<x:log xmlns:x='urn:x'/>\n</gateway>", "gw.xml:3: ",
     "in namespace 'urn:x'"},
    {HEAD "<log level='info'\n</gateway>", "gw.xml:4: ", "XML error"},
    {"<?xml version='1.0'?>\n<!DOCTYPE gateway [<!ENTITY e 'x'>]>\n"
     "<gateway/>",
     "gw.xml:3: ", "DTD is not allowed"},
    {"\n<config/>", "gw.xml:2: ", "expected <gateway>"},
    {"<gateway version='1'/>", "gw.xml:1: ", "unknown attribute 'version'"},
    /* Whole-file problems have no line. */
    {"<gateway/>", "gw.xml: ", "no local domain"},
    {HEAD "<security tls='required'/>\n</gateway>", "gw.xml: ",
     "TLS is required but local domain a.test has no certificate"},
    {"", "gw.xml:", "XML error"},
};

static void test_bad(void) {
  for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
    char err[512] = "";
    gw_config *cfg = parse(bads[i].xml, err, sizeof(err));
    CHECK(cfg == NULL);
    gw_config_free(cfg);
    int ok = strncmp(err, bads[i].want, strlen(bads[i].want)) == 0 &&
             strstr(err, bads[i].also) != NULL;
    if (!ok)
      fprintf(stderr, "case %zu: got \"%s\", want \"%s...%s\"\n", i, err,
              bads[i].want, bads[i].also);
    CHECK(ok);
  }
}

/* A message never overruns the buffer it is given. */
static void test_small_error_buffer(void) {
  char err[8];
  memset(err, 'x', sizeof(err));
  gw_config *cfg = parse("<gateway><colour/></gateway>", err, sizeof(err));
  CHECK(cfg == NULL);
  CHECK(memchr(err, '\0', sizeof(err)) != NULL);
  CHECK(parse("<gateway><colour/></gateway>", NULL, 0) == NULL);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CERT-DIR\n", argv[0]);
    return 2;
  }
  certs = argv[1];
  RUN(test_full);
  RUN(test_defaults);
  RUN(test_load_relative);
  RUN(test_bad);
  RUN(test_small_error_buffer);
  return check_finish();
}
