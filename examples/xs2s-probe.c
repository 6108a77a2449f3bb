/*
 * xs2s-probe: where would a server connect to reach an XMPP domain, and why.
 *
 *   xs2s-probe --resolve-only [options] DOMAIN
 *
 * Prints where the service was found (static routes, SRV records, or the
 * fallback to the domain itself), every candidate with its priority,
 * weight, port, TLS mode, DNSSEC status and addresses, in the order a
 * connection would try them; --json prints the same as one JSON object.
 * Uses the public API only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xs2s/xs2s.h>

typedef struct probe {
  int json;
  int done;
  int exit_code;
} probe;

static void usage(FILE *out) {
  fputs(
      "usage: xs2s-probe --resolve-only [options] DOMAIN\n"
      "\n"
      "  --resolve-only        show the connection candidates (DNS only)\n"
      "  --resolver-conf FILE  unbound.conf(5) file: forwarders, stub zones,\n"
      "                        local data, trust anchors\n"
      "  --resolv-conf FILE    resolv.conf(5) (default /etc/resolv.conf\n"
      "                        unless --resolver-conf is given)\n"
      "  --hosts FILE          hosts(5) file (default /etc/hosts likewise)\n"
      "  --trust-anchor FILE   DS/DNSKEY records to validate DNSSEC from\n"
      "  --route HOST[:PORT]   static route for DOMAIN (STARTTLS); repeatable\n"
      "  --route-tls HOST[:PORT]  static route with direct TLS; repeatable\n"
      "  --timeout MS          give up after MS milliseconds (default 20000)\n"
      "  --seed N              reproducible weighted order\n"
      "  --json                one JSON object on stdout\n",
      out);
}

/* ---- text helpers ----------------------------------------------------- */

static const char *addr_ip(const xs2s_resolve_addr *a, char *buf,
                           size_t len) {
  if (a->sa.sa_family == AF_INET6)
    return inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, (socklen_t)len);
  return inet_ntop(AF_INET, &a->in.sin_addr, buf, (socklen_t)len);
}

static void json_string(const char *s) {
  if (!s) {
    fputs("null", stdout);
    return;
  }
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20)
      printf("\\u%04x", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

static void hex(const unsigned char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    printf("%02x", p[i]);
}

/* ---- JSON output ------------------------------------------------------ */

static void json_candidate(const xs2s_resolve_candidate *c) {
  char ip[INET6_ADDRSTRLEN];
  fputs("{\"host\":", stdout);
  json_string(c->host);
  printf(",\"port\":%u,\"priority\":%u,\"weight\":%u,\"tls\":\"%s\","
         "\"dnssec\":\"%s\",\"addresses\":[",
         c->port, c->priority, c->weight, xs2s_resolve_tls_name(c->tls),
         xs2s_dnssec_name(c->dnssec));
  for (size_t i = 0; i < c->naddrs; i++) {
    if (i)
      putchar(',');
    json_string(addr_ip(&c->addrs[i], ip, sizeof(ip)));
  }
  putchar(']');
  if (c->error) {
    fputs(",\"error\":", stdout);
    json_string(xs2s_error_name(c->error));
  }
  if (c->tlsa_checked) {
    printf(",\"tlsa\":{\"dnssec\":\"%s\",\"records\":[",
           xs2s_dnssec_name(c->tlsa_dnssec));
    for (size_t i = 0; i < c->ntlsa; i++) {
      const xs2s_resolve_tlsa *t = &c->tlsa[i];
      printf("%s{\"usage\":%u,\"selector\":%u,\"matching_type\":%u,"
             "\"data\":\"",
             i ? "," : "", t->usage, t->selector, t->matching_type);
      hex(t->data, t->len);
      fputs("\"}", stdout);
    }
    fputs("]}", stdout);
  }
  putchar('}');
}

static void print_json(const xs2s_resolve_result *res) {
  fputs("{\"domain\":", stdout);
  json_string(res->domain);
  if (res->error) {
    fputs(",\"error\":", stdout);
    json_string(xs2s_stanza_condition_name(res->condition));
    fputs(",\"code\":", stdout);
    json_string(xs2s_error_name(res->error));
    fputs(",\"message\":", stdout);
    json_string(xs2s_strerror(res->error));
  }
  if (res->source != XS2S_RESOLVE_SOURCE_NONE) {
    fputs(",\"source\":", stdout);
    json_string(xs2s_resolve_source_name(res->source));
  }
  if (res->why_bogus) {
    fputs(",\"why_bogus\":", stdout);
    json_string(res->why_bogus);
  }
  if (!res->error || res->ncandidates) {
    fputs(",\"candidates\":[", stdout);
    for (size_t i = 0; i < res->ncandidates; i++) {
      if (i)
        putchar(',');
      json_candidate(&res->candidates[i]);
    }
    putchar(']');
  }
  fputs("}\n", stdout);
}

/* ---- human output ----------------------------------------------------- */

static const char *source_text(xs2s_resolve_source s) {
  switch (s) {
  case XS2S_RESOLVE_SOURCE_STATIC:
    return "static routes (DNS not consulted)";
  case XS2S_RESOLVE_SOURCE_SRV:
    return "SRV records (_xmpps-server._tcp and _xmpp-server._tcp)";
  case XS2S_RESOLVE_SOURCE_FALLBACK:
    return "fallback: no SRV records, the domain itself on port 5269";
  case XS2S_RESOLVE_SOURCE_NONE:
    break;
  }
  return "(none)";
}

static void text_candidate(size_t n, const xs2s_resolve_candidate *c) {
  char ip[INET6_ADDRSTRLEN];
  printf("  %2zu  %-34s %5u %5u %6u  %-8s  %-8s  ", n, c->host, c->port,
         c->priority, c->weight, xs2s_resolve_tls_name(c->tls),
         xs2s_dnssec_name(c->dnssec));
  if (c->naddrs == 0)
    printf("(unusable: %s)", xs2s_strerror(c->error));
  for (size_t i = 0; i < c->naddrs; i++)
    printf("%s%s", i ? ", " : "", addr_ip(&c->addrs[i], ip, sizeof(ip)));
  putchar('\n');
  if (!c->tlsa_checked)
    return;
  printf("      TLSA _%u._tcp.%s (%s):%s\n", c->port, c->host,
         xs2s_dnssec_name(c->tlsa_dnssec),
         c->ntlsa ? "" : " none, DANE does not apply");
  for (size_t i = 0; i < c->ntlsa; i++) {
    const xs2s_resolve_tlsa *t = &c->tlsa[i];
    printf("        %u %u %u ", t->usage, t->selector, t->matching_type);
    hex(t->data, t->len);
    putchar('\n');
  }
}

static void print_text(const xs2s_resolve_result *res) {
  printf("domain:  %s\n", res->domain);
  printf("source:  %s\n", source_text(res->source));
  if (res->error)
    printf("error:   %s (%s: %s)\n",
           xs2s_stanza_condition_name(res->condition),
           xs2s_error_name(res->error), xs2s_strerror(res->error));
  if (res->why_bogus)
    printf("dnssec:  %s\n", res->why_bogus);
  if (res->ncandidates == 0)
    return;
  printf("\ncandidates, in the order connections would try them:\n");
  printf("  %2s  %-34s %5s %5s %6s  %-8s  %-8s  %s\n", "#", "host", "port",
         "prio", "weight", "tls", "dnssec", "addresses (in order)");
  for (size_t i = 0; i < res->ncandidates; i++)
    text_candidate(i + 1, &res->candidates[i]);
}

static void on_result(const xs2s_resolve_result *res, void *user_data) {
  probe *p = user_data;
  p->done = 1;
  p->exit_code = res->error ? 1 : 0;
  if (p->json)
    print_json(res);
  else
    print_text(res);
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
  char *host;
  uint16_t port;
  xs2s_resolve_tls tls;
} route_arg;

/* HOST, HOST:PORT, [V6] or [V6]:PORT. */
static int parse_route(const char *spec, xs2s_resolve_tls tls,
                       route_arg *out) {
  char *copy = strdup(spec);
  if (!copy)
    return -1;
  char *port = NULL;
  if (copy[0] == '[') {
    char *end = strchr(copy, ']');
    if (!end)
      goto bad;
    if (end[1] == ':')
      port = end + 2;
    else if (end[1] != '\0')
      goto bad;
    end[1] = '\0';
  } else {
    char *colon = strchr(copy, ':');
    if (colon && !strchr(colon + 1, ':')) {
      *colon = '\0';
      port = colon + 1;
    }
  }
  out->port = 0;
  if (port) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(port, &end, 10);
    if (errno || *end || v == 0 || v > 65535)
      goto bad;
    out->port = (uint16_t)v;
  }
  out->host = copy;
  out->tls = tls;
  return 0;
bad:
  free(copy);
  return -1;
}

int main(int argc, char **argv) {
  enum { OPT_CONF = 256, OPT_RESOLV, OPT_HOSTS, OPT_TA, OPT_ROUTE,
         OPT_ROUTE_TLS, OPT_TIMEOUT, OPT_SEED, OPT_JSON, OPT_RESOLVE_ONLY };
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
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  xs2s_resolver_options opts = {0};
  probe p = {0, 0, 1};
  int resolve_only = 0;
  route_arg routes[32];
  size_t nroutes = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case OPT_RESOLVE_ONLY:
      resolve_only = 1;
      break;
    case OPT_CONF:
      opts.unbound_conf = optarg;
      break;
    case OPT_RESOLV:
      opts.resolv_conf = optarg;
      break;
    case OPT_HOSTS:
      opts.hosts_file = optarg;
      break;
    case OPT_TA:
      opts.trust_anchor_file = optarg;
      break;
    case OPT_ROUTE:
    case OPT_ROUTE_TLS:
      if (nroutes == sizeof(routes) / sizeof(routes[0]) ||
          parse_route(optarg,
                      opt == OPT_ROUTE ? XS2S_RESOLVE_TLS_STARTTLS
                                       : XS2S_RESOLVE_TLS_DIRECT,
                      &routes[nroutes]) != 0) {
        fprintf(stderr, "xs2s-probe: bad route '%s'\n", optarg);
        return 2;
      }
      nroutes++;
      break;
    case OPT_TIMEOUT:
      opts.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case OPT_SEED:
      seed_state = strtoull(optarg, NULL, 10) | 1;
      opts.random = seeded_random;
      break;
    case OPT_JSON:
      p.json = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc - 1) {
    usage(stderr);
    return 2;
  }
  if (!resolve_only) {
    fputs("xs2s-probe: only --resolve-only is available in this version\n",
          stderr);
    return 2;
  }
  const char *domain = argv[optind];

  xs2s_resolver *r = NULL;
  int rc = xs2s_resolver_new(&opts, &r);
  if (rc < 0) {
    fprintf(stderr, "xs2s-probe: resolver: %s\n", xs2s_strerror(rc));
    return 2;
  }
  for (size_t i = 0; i < nroutes && rc == 0; i++)
    rc = xs2s_resolver_add_route(r, domain, routes[i].host, routes[i].port,
                                 routes[i].tls);
  for (size_t i = 0; i < nroutes; i++)
    free(routes[i].host);
  if (rc == 0)
    rc = xs2s_resolve(r, domain, on_result, &p, NULL);
  if (rc == 0)
    rc = xs2s_resolver_wait(r, -1);
  xs2s_resolver_free(r);
  if (rc < 0) {
    fprintf(stderr, "xs2s-probe: %s: %s\n", domain, xs2s_strerror(rc));
    return 2;
  }
  return p.exit_code;
}
