/*
 * xs2s-probe: can a server reach an XMPP domain over server-to-server
 * federation, securely, and if not, why not.
 *
 *   xs2s-probe [options] DOMAIN
 *   xs2s-probe --resolve-only [options] DOMAIN
 *
 * Finds the connection candidates the way a server would (static routes,
 * SRV records, the fallback to the domain itself), connects to each in
 * order, and shows what it saw: the stream features, STARTTLS, the
 * certificate (subject, names, issuer, validity, whether it is trusted and
 * names DOMAIN), the features under TLS and whether dialback is offered.
 * It authenticates nothing: it stops once the stream restarted under TLS
 * has shown its features. --json prints the same as one JSON object.
 *
 * Exit status: 0 reachable securely, 1 reachable but not securely, 2 not
 * reachable, 3 usage or name resolution error. docs/PROBE.md has the rest.
 * Uses the public API only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/probe.h"

enum { EXIT_SECURE = 0, EXIT_INSECURE = 1, EXIT_UNREACHABLE = 2,
       EXIT_USAGE = 3 };

#define DEFAULT_FROM "probe.invalid"
#define DEFAULT_TIMEOUT_MS 10000u
#define MAX_ROUTES 32
#define MAX_CA_FILES 8

static void usage(FILE *out) {
  fputs(
      "usage: xs2s-probe [options] DOMAIN\n"
      "\n"
      "Connects where a server would connect to reach DOMAIN and shows, for\n"
      "each candidate: the stream features, STARTTLS, the certificate and\n"
      "whether it proves DOMAIN, and whether dialback is offered.\n"
      "\n"
      "  --json                one JSON object on stdout\n"
      "  --from DOMAIN         our domain in the stream header (default "
      DEFAULT_FROM ")\n"
      "  --ca FILE             trust the CA certificates in FILE instead of\n"
      "                        the system store (repeatable)\n"
      "  --timeout MS          limit per connection attempt, and for DNS\n"
      "                        (default 10000)\n"
      "  --all                 probe every candidate (the default)\n"
      "  --first               stop at the first secure candidate\n"
      "  --resolve-only        show the candidates, connect to none\n"
      "  --resolver-conf FILE  unbound.conf(5) file: forwarders, stub zones,\n"
      "                        local data, trust anchors\n"
      "  --resolv-conf FILE    resolv.conf(5) (default /etc/resolv.conf\n"
      "                        unless --resolver-conf is given)\n"
      "  --hosts FILE          hosts(5) file (default /etc/hosts likewise)\n"
      "  --trust-anchor FILE   DS/DNSKEY records to validate DNSSEC from\n"
      "  --route [DOMAIN=]HOST[:PORT]      static route, STARTTLS; repeatable\n"
      "  --route-tls [DOMAIN=]HOST[:PORT]  static route, direct TLS\n"
      "                        (XEP-0368); repeatable\n"
      "  --seed N              reproducible weighted SRV order\n"
      "  -v, --verbose         the stream's log lines on stderr\n"
      "\n"
      "Candidates from _xmpps-server._tcp SRV records and --route-tls are\n"
      "probed with TLS first (ALPN xmpp-server), the others with STARTTLS.\n"
      "\n"
      "exit status: 0 reachable securely, 1 reachable but not securely,\n"
      "2 not reachable, 3 usage or name resolution error\n",
      out);
}

/* ---- options ---------------------------------------------------------- */

static uint64_t seed_state;
static uint32_t seeded_random(void *ud) {
  (void)ud;
  /* xorshift64*: reproducible, good enough for an order. */
  seed_state ^= seed_state >> 12;
  seed_state ^= seed_state << 25;
  seed_state ^= seed_state >> 27;
  return (uint32_t)((seed_state * 0x2545f4914f6cdd1dULL) >> 32);
}

typedef struct route_arg {
  char *copy;         /* owns the strings below */
  const char *domain; /* NULL: the probed domain */
  const char *host;
  uint16_t port;
  xs2s_resolve_tls tls;
} route_arg;

/* [DOMAIN=]HOST, HOST:PORT, [V6] or [V6]:PORT. */
static int parse_route(const char *spec, xs2s_resolve_tls tls,
                       route_arg *out) {
  char *copy = strdup(spec);
  if (!copy)
    return -1;
  char *host = copy, *port = NULL;
  char *eq = strchr(copy, '=');
  out->domain = NULL;
  if (eq) {
    *eq = '\0';
    out->domain = copy;
    host = eq + 1;
  }
  if (host[0] == '[') {
    char *end = strchr(host, ']');
    if (!end)
      goto bad;
    if (end[1] == ':')
      port = end + 2;
    else if (end[1] != '\0')
      goto bad;
    end[1] = '\0';
  } else {
    char *colon = strchr(host, ':');
    if (colon && !strchr(colon + 1, ':')) {
      *colon = '\0';
      port = colon + 1;
    }
  }
  if (!*host || (out->domain && !*out->domain))
    goto bad;
  out->port = 0;
  if (port) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(port, &end, 10);
    if (errno || *end || v == 0 || v > 65535)
      goto bad;
    out->port = (uint16_t)v;
  }
  out->copy = copy;
  out->host = host;
  out->tls = tls;
  return 0;
bad:
  free(copy);
  return -1;
}

static int parse_ms(const char *s, unsigned *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v == 0 || v > 3600000)
    return -1;
  *out = (unsigned)v;
  return 0;
}

typedef struct args {
  probe_options o;
  xs2s_resolver_options ropts;
  int resolve_only;
  route_arg routes[MAX_ROUTES];
  size_t nroutes;
  const char *ca[MAX_CA_FILES];
  size_t nca;
} args;

/* 0 to go on, else the exit status. */
static int parse_args(int argc, char **argv, args *a) {
  enum { OPT_CONF = 256, OPT_RESOLV, OPT_HOSTS, OPT_TA, OPT_ROUTE,
         OPT_ROUTE_TLS, OPT_TIMEOUT, OPT_SEED, OPT_JSON, OPT_RESOLVE_ONLY,
         OPT_FROM, OPT_CA, OPT_ALL, OPT_FIRST };
  static const struct option longopts[] = {
      {"resolve-only", no_argument, NULL, OPT_RESOLVE_ONLY},
      {"resolver-conf", required_argument, NULL, OPT_CONF},
      {"resolv-conf", required_argument, NULL, OPT_RESOLV},
      {"hosts", required_argument, NULL, OPT_HOSTS},
      {"trust-anchor", required_argument, NULL, OPT_TA},
      {"route", required_argument, NULL, OPT_ROUTE},
      {"route-tls", required_argument, NULL, OPT_ROUTE_TLS},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"seed", required_argument, NULL, OPT_SEED},
      {"json", no_argument, NULL, OPT_JSON},
      {"from", required_argument, NULL, OPT_FROM},
      {"ca", required_argument, NULL, OPT_CA},
      {"all", no_argument, NULL, OPT_ALL},
      {"first", no_argument, NULL, OPT_FIRST},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  a->o.from = DEFAULT_FROM;
  a->o.timeout_ms = DEFAULT_TIMEOUT_MS;
  int opt;
  while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
    switch (opt) {
    case OPT_RESOLVE_ONLY:
      a->resolve_only = 1;
      break;
    case OPT_CONF:
      a->ropts.unbound_conf = optarg;
      break;
    case OPT_RESOLV:
      a->ropts.resolv_conf = optarg;
      break;
    case OPT_HOSTS:
      a->ropts.hosts_file = optarg;
      break;
    case OPT_TA:
      a->ropts.trust_anchor_file = optarg;
      break;
    case OPT_ROUTE:
    case OPT_ROUTE_TLS:
      if (a->nroutes == MAX_ROUTES ||
          parse_route(optarg,
                      opt == OPT_ROUTE ? XS2S_RESOLVE_TLS_STARTTLS
                                       : XS2S_RESOLVE_TLS_DIRECT,
                      &a->routes[a->nroutes]) != 0) {
        fprintf(stderr, "xs2s-probe: bad route '%s'\n", optarg);
        return EXIT_USAGE;
      }
      a->nroutes++;
      break;
    case OPT_TIMEOUT:
      if (parse_ms(optarg, &a->o.timeout_ms) < 0) {
        fprintf(stderr, "xs2s-probe: bad timeout '%s'\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case OPT_SEED:
      seed_state = strtoull(optarg, NULL, 10) | 1;
      a->ropts.random = seeded_random;
      break;
    case OPT_JSON:
      a->o.json = 1;
      break;
    case OPT_FROM:
      a->o.from = optarg;
      break;
    case OPT_CA:
      if (a->nca == MAX_CA_FILES) {
        fputs("xs2s-probe: too many --ca files\n", stderr);
        return EXIT_USAGE;
      }
      a->ca[a->nca++] = optarg;
      break;
    case OPT_ALL:
      a->o.first = 0;
      break;
    case OPT_FIRST:
      a->o.first = 1;
      break;
    case 'v':
      a->o.verbose = 1;
      break;
    case 'h':
      usage(stdout);
      return -1;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    usage(stderr);
    return EXIT_USAGE;
  }
  a->o.domain = argv[optind];
  a->ropts.timeout_ms = a->o.timeout_ms;
  return 0;
}

/* ---- trust ------------------------------------------------------------ */

static int make_creds(args *a) {
  a->o.creds = xs2s_tls_creds_new(NULL);
  if (!a->o.creds)
    return XS2S_ERR_NOMEM;
  for (size_t i = 0; i < a->nca; i++) {
    int rc = xs2s_tls_creds_add_trust_file(a->o.creds, a->ca[i]);
    if (rc < 0) {
      fprintf(stderr, "xs2s-probe: %s: %s\n", a->ca[i], xs2s_strerror(rc));
      return rc;
    }
  }
  if (a->nca == 0 && xs2s_tls_creds_add_system_trust(a->o.creds) < 0)
    fputs("xs2s-probe: warning: no system CA store (Debian package "
          "ca-certificates); no certificate will be trusted, use --ca\n",
          stderr);
  return 0;
}

/* ---- resolution ------------------------------------------------------- */

static void on_result(const xs2s_resolve_result *res, void *user_data) {
  xs2s_resolve_result **out = user_data;
  if (xs2s_resolve_result_copy(res, NULL, out) < 0)
    *out = NULL;
}

static int resolve(args *a, xs2s_resolve_result **res) {
  xs2s_resolver *r = NULL;
  int rc = xs2s_resolver_new(&r, &a->ropts);
  for (size_t i = 0; i < a->nroutes && rc == 0; i++) {
    const route_arg *rt = &a->routes[i];
    rc = xs2s_resolver_add_route(r, rt->domain ? rt->domain : a->o.domain,
                                 rt->host, rt->port, rt->tls);
  }
  if (rc == 0)
    rc = xs2s_resolve(r, a->o.domain, on_result, res, NULL);
  if (rc == 0)
    rc = xs2s_resolver_wait(r, -1);
  if (rc == 0 && !*res)
    rc = XS2S_ERR_NOMEM;
  xs2s_resolver_free(r);
  return rc;
}

static int resolve_only(const args *a, const xs2s_resolve_result *res) {
  if (a->o.json) {
    json j;
    json_init(&j);
    json_object(&j, NULL);
    print_resolution_json(&j, res);
    if (!res->error || res->ncandidates) {
      json_array(&j, "candidates");
      for (size_t i = 0; i < res->ncandidates; i++) {
        json_object(&j, NULL);
        print_candidate_fields_json(&j, &res->candidates[i]);
        json_end(&j);
      }
      json_end(&j);
    }
    json_end(&j);
    json_finish(&j);
  } else {
    print_resolution_text(res);
  }
  return res->error ? EXIT_USAGE : EXIT_SECURE;
}

/* ---- probing ---------------------------------------------------------- */

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int exit_status(probe_verdict best) {
  switch (best) {
  case PROBE_SECURE:
    return EXIT_SECURE;
  case PROBE_INSECURE:
    return EXIT_INSECURE;
  default:
    return EXIT_UNREACHABLE;
  }
}

static void summary(const probe_options *o, probe_verdict best,
                    size_t best_index, char *buf, size_t len) {
  switch (best) {
  case PROBE_SECURE:
    snprintf(buf, len, "%s is reachable securely (candidate %zu)", o->domain,
             best_index);
    break;
  case PROBE_INSECURE:
    snprintf(buf, len,
             "%s is reachable, but not securely: see the reasons of each "
             "candidate",
             o->domain);
    break;
  default:
    snprintf(buf, len,
             "%s is not reachable: no candidate opened an XMPP stream",
             o->domain);
    break;
  }
}

static int probe_all(const args *a, const xs2s_resolve_result *res) {
  const probe_options *o = &a->o;
  json j;
  json_init(&j);
  if (o->json) {
    json_object(&j, NULL);
    print_resolution_json(&j, res);
    json_str(&j, "from", o->from);
    json_array(&j, "candidates");
  } else {
    printf("probing %s as %s\n", o->domain, o->from);
    print_resolution_text(res);
  }
  fflush(stdout);
  probe_verdict best = PROBE_NOT_TRIED;
  size_t best_index = 0;
  for (size_t i = 0; i < res->ncandidates; i++) {
    probe_report r = {.cand = &res->candidates[i], .index = i + 1};
    if (!(o->first && best == PROBE_SECURE)) {
      probe_candidate(o, &r);
      probe_judge(o, &r, wall_ms());
    }
    if (o->json)
      print_candidate_json(&j, &r);
    else
      print_candidate_text(o, &r);
    fflush(stdout);
    if (r.verdict > best) {
      best = r.verdict;
      best_index = r.index;
    }
    probe_report_clear(&r);
  }
  char text[512];
  summary(o, best, best_index, text, sizeof(text));
  int status = exit_status(best);
  if (o->json) {
    json_end(&j);
    json_str(&j, "verdict", probe_verdict_name(best == PROBE_NOT_TRIED
                                                   ? PROBE_UNREACHABLE
                                                   : best));
    json_int(&j, "exit", status);
    json_str(&j, "summary", text);
    json_end(&j);
    json_finish(&j);
  } else {
    printf("\n%s\n", text);
  }
  return status;
}

/* A resolution failure: what was found, and exit status 3. */
static int resolution_failed(const args *a, const xs2s_resolve_result *res) {
  if (!a->o.json) {
    print_resolution_text(res);
    printf("\n%s: name resolution failed, nothing to connect to\n",
           a->o.domain);
    return EXIT_USAGE;
  }
  json j;
  json_init(&j);
  json_object(&j, NULL);
  print_resolution_json(&j, res);
  json_str(&j, "from", a->o.from);
  json_array(&j, "candidates");
  json_end(&j);
  json_str(&j, "verdict", "resolution-failed");
  json_int(&j, "exit", EXIT_USAGE);
  json_str(&j, "summary", "name resolution failed, nothing to connect to");
  json_end(&j);
  json_finish(&j);
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  args a;
  memset(&a, 0, sizeof(a));
  int status = parse_args(argc, argv, &a);
  xs2s_resolve_result *res = NULL;
  if (status == 0) {
    int rc = resolve(&a, &res);
    if (rc < 0) {
      fprintf(stderr, "xs2s-probe: %s: %s\n", a.o.domain, xs2s_strerror(rc));
      status = EXIT_USAGE;
    }
  }
  if (status == 0 && a.resolve_only)
    status = resolve_only(&a, res);
  else if (status == 0 && res->error)
    status = resolution_failed(&a, res);
  else if (status == 0 && make_creds(&a) < 0)
    status = EXIT_USAGE;
  else if (status == 0)
    status = probe_all(&a, res);
  xs2s_resolve_result_free(res);
  xs2s_tls_creds_unref(a.o.creds);
  for (size_t i = 0; i < a.nroutes; i++)
    free(a.routes[i].copy);
  return status < 0 ? 0 : status;
}
