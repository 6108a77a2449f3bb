/*
 * print.c: the probe's two outputs, a report for people and a JSON object
 * for programs (docs/PROBE.md describes both).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "probe.h"

const char *probe_addr_ip(const xs2s_resolve_addr *a, char *buf,
                          size_t len) {
  if (a->sa.sa_family == AF_INET6)
    return inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, (socklen_t)len);
  return inet_ntop(AF_INET, &a->in.sin_addr, buf, (socklen_t)len);
}

static void hex(char *out, const unsigned char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    sprintf(out + 2 * i, "%02x", p[i]);
  out[2 * len] = '\0';
}

void probe_time_text(int64_t secs, int style, char *buf, size_t len) {
  time_t t = (time_t)secs;
  struct tm tm;
  size_t n = 0;
  if (gmtime_r(&t, &tm))
    n = style == PROBE_TIME_JSON ? strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm)
                                 : strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
  if (n == 0)
    snprintf(buf, len, "%lld", (long long)secs);
}

static const char *name_type(xs2s_tls_name_type t, int human) {
  switch (t) {
  case XS2S_TLS_NAME_DNS:
    return human ? "DNS" : "dns";
  case XS2S_TLS_NAME_SRV:
    return human ? "SRVName" : "srv";
  case XS2S_TLS_NAME_XMPPADDR:
    return human ? "xmppAddr" : "xmppaddr";
  case XS2S_TLS_NAME_CN:
    return human ? "subject CN" : "cn";
  case XS2S_TLS_NAME_OTHER:
    break;
  }
  return "other";
}

/* ======================================================================= */
/* JSON                                                                    */
/* ======================================================================= */

void print_candidate_fields_json(json *j, const xs2s_resolve_candidate *c) {
  char ip[INET6_ADDRSTRLEN];
  json_str(j, "host", c->host);
  json_int(j, "port", c->port);
  json_int(j, "priority", c->priority);
  json_int(j, "weight", c->weight);
  json_str(j, "tls", xs2s_resolve_tls_name(c->tls));
  json_str(j, "dnssec", xs2s_dnssec_name(c->dnssec));
  json_array(j, "addresses");
  for (size_t i = 0; i < c->naddrs; i++)
    json_str(j, NULL, probe_addr_ip(&c->addrs[i], ip, sizeof(ip)));
  json_end(j);
  if (c->error)
    json_str(j, "error", xs2s_error_name(c->error));
  if (c->tlsa_checked) {
    json_object(j, "tlsa");
    json_str(j, "dnssec", xs2s_dnssec_name(c->tlsa_dnssec));
    json_array(j, "records");
    for (size_t i = 0; i < c->ntlsa; i++) {
      const xs2s_resolve_tlsa *t = &c->tlsa[i];
      char data[2 * 64 + 1];
      size_t len = t->len > 64 ? 64 : t->len;
      hex(data, t->data, len);
      json_object(j, NULL);
      json_int(j, "usage", t->usage);
      json_int(j, "selector", t->selector);
      json_int(j, "matching_type", t->matching_type);
      json_str(j, "data", data);
      json_end(j);
    }
    json_end(j);
    json_end(j);
  }
}

void print_resolution_json(json *j, const xs2s_resolve_result *res) {
  json_str(j, "domain", res->domain);
  if (res->error) {
    json_str(j, "error", xs2s_stanza_condition_name(res->condition));
    json_str(j, "code", xs2s_error_name(res->error));
    json_str(j, "message", xs2s_strerror(res->error));
  }
  if (res->source != XS2S_RESOLVE_SOURCE_NONE)
    json_str(j, "source", xs2s_resolve_source_name(res->source));
  if (res->why_bogus)
    json_str(j, "why_bogus", res->why_bogus);
}

static void features_json(json *j, const char *key, const xs2s_stanza *f) {
  if (!f) {
    json_null(j, key);
    return;
  }
  const xs2s_stanza *tls = xs2s_stanza_find_child(f, "starttls", XS2S_NS_TLS);
  unsigned db = xs2s_dialback_feature_parse(f);
  json_object(j, key);
  json_bool(j, "starttls", tls != NULL);
  json_bool(j, "starttls_required",
            tls && xs2s_stanza_find_child(tls, "required", XS2S_NS_TLS));
  json_array(j, "sasl");
  const xs2s_stanza *m = xs2s_stanza_find_child(f, "mechanisms", XS2S_NS_SASL);
  for (xs2s_stanza *c = m ? xs2s_stanza_first_child(m) : NULL; c;
       c = xs2s_stanza_next(c))
    if (xs2s_stanza_is(c, "mechanism", XS2S_NS_SASL))
      json_str(j, NULL, xs2s_stanza_text(c));
  json_end(j);
  json_bool(j, "dialback", (db & XS2S_DIALBACK_FEATURE_OFFERED) != 0);
  json_bool(j, "dialback_errors", (db & XS2S_DIALBACK_FEATURE_ERRORS) != 0);
  /* Everything else, in Clark notation: {namespace}name. */
  json_array(j, "other");
  for (xs2s_stanza *c = xs2s_stanza_first_child(f); c;
       c = xs2s_stanza_next(c)) {
    const char *ns = xs2s_stanza_ns(c);
    if (xs2s_stanza_type(c) != XS2S_NODE_ELEMENT ||
        xs2s_stanza_is(c, "starttls", XS2S_NS_TLS) ||
        xs2s_stanza_is(c, "mechanisms", XS2S_NS_SASL) ||
        xs2s_stanza_is(c, "dialback", XS2S_NS_DIALBACK_FEATURE))
      continue;
    char clark[512];
    snprintf(clark, sizeof(clark), "{%s}%s", ns ? ns : "",
             xs2s_stanza_name(c));
    json_str(j, NULL, clark);
  }
  json_end(j);
  json_end(j);
}

static void certificate_json(json *j, const xs2s_tls_cert_info *ci) {
  char when[64];
  json_object(j, "certificate");
  json_str(j, "subject", ci->subject);
  json_str(j, "issuer", ci->issuer);
  json_str(j, "serial", ci->serial);
  json_str(j, "sha256", ci->sha256);
  probe_time_text(ci->not_before, PROBE_TIME_JSON, when, sizeof(when));
  json_str(j, "not_before", when);
  probe_time_text(ci->not_after, PROBE_TIME_JSON, when, sizeof(when));
  json_str(j, "not_after", when);
  json_array(j, "names");
  for (size_t i = 0; i < ci->name_count; i++) {
    json_object(j, NULL);
    json_str(j, "type", name_type(ci->names[i].type, 0));
    json_str(j, "value", ci->names[i].value);
    json_end(j);
  }
  json_end(j);
  json_int(j, "chain_length", (int64_t)ci->chain_length);
  json_end(j);
}

static void verification_json(json *j, const probe_report *r) {
  const xs2s_tls_verify_result *v = &r->verify;
  json_object(j, "verification");
  json_bool(j, "authenticated", v->authenticated);
  json_bool(j, "trusted", v->chain == XS2S_TLS_CHAIN_TRUSTED);
  json_str(j, "chain", xs2s_tls_chain_status_name(v->chain));
  json_bool(j, "name_matches", v->name != XS2S_TLS_MATCH_NONE);
  json_str(j, "name_match", xs2s_tls_name_match_name(v->name));
  json_str(j, "dane", v->dane == XS2S_TLS_DANE_MATCH      ? "match"
                      : v->dane == XS2S_TLS_DANE_MISMATCH ? "mismatch"
                                                          : "none");
  json_end(j);
}

static void handshake_json(json *j, const probe_report *r) {
  json_object(j, "handshake");
  json_bool(j, "established", r->tls_established);
  if (r->tls_established) {
    json_str(j, "version", r->tls_info.version);
    json_str(j, "cipher", r->tls_info.cipher);
    json_str(j, "description", r->tls_info.description);
    json_str(j, "alpn", r->tls_info.alpn);
  }
  if (r->tls_error)
    json_str(j, "error", r->tls_error);
  json_end(j);
}

static void end_json(json *j, const probe_report *r) {
  if (!r->ended) {
    json_null(j, "ended");
    return;
  }
  json_object(j, "ended");
  json_str(j, "by", r->close.origin == XS2S_CLOSED_BY_PEER ? "peer" : "probe");
  json_str(j, "code", r->close.error ? xs2s_error_name(r->close.error)
                                     : NULL);
  json_str(j, "condition",
           r->close.condition != XS2S_STREAM_ERR_NONE
               ? xs2s_stream_condition_name(r->close.condition)
               : NULL);
  json_str(j, "text", r->close.text);
  json_end(j);
}

void print_candidate_json(json *j, const probe_report *r) {
  json_object(j, NULL);
  print_candidate_fields_json(j, r->cand);
  json_array(j, "connect");
  for (size_t i = 0; i < r->nattempts; i++) {
    char err[128];
    json_object(j, NULL);
    json_str(j, "address", r->attempts[i].address);
    json_bool(j, "connected", r->attempts[i].error == 0);
    if (r->attempts[i].error) {
      snprintf(err, sizeof(err), "%s", strerror(r->attempts[i].error));
      json_str(j, "error", err);
    }
    json_end(j);
  }
  json_end(j);
  if (r->verdict != PROBE_NOT_TRIED && r->connected >= 0) {
    json_str(j, "stream_id", r->stream_id);
    features_json(j, "features", r->features_plain);
    if (r->tls_tried || r->tls_established)
      handshake_json(j, r);
    if (r->cert)
      certificate_json(j, r->cert);
    if (r->tls_established && r->verified)
      verification_json(j, r);
    features_json(j, "features_tls", r->features_tls);
    const xs2s_stanza *last =
        r->features_tls ? r->features_tls : r->features_plain;
    json_bool(j, "dialback_offered",
              last && (xs2s_dialback_feature_parse(last) &
                       XS2S_DIALBACK_FEATURE_OFFERED));
    json_bool(j, "timed_out", r->timed_out);
    end_json(j, r);
  }
  json_str(j, "verdict", probe_verdict_name(r->verdict));
  json_array(j, "reasons");
  for (size_t i = 0; i < r->nreasons; i++)
    json_str(j, NULL, r->reasons[i]);
  json_end(j);
  json_array(j, "notes");
  for (size_t i = 0; i < r->nnotes; i++)
    json_str(j, NULL, r->notes[i]);
  json_end(j);
  json_end(j);
}

/* ======================================================================= */
/* People                                                                  */
/* ======================================================================= */

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

static void text_candidate_row(size_t n, const xs2s_resolve_candidate *c) {
  char ip[INET6_ADDRSTRLEN];
  printf("  %2zu  %-34s %5u %5u %6u  %-8s  %-8s  ", n, c->host, c->port,
         c->priority, c->weight, xs2s_resolve_tls_name(c->tls),
         xs2s_dnssec_name(c->dnssec));
  if (c->naddrs == 0)
    printf("(unusable: %s)", xs2s_strerror(c->error));
  for (size_t i = 0; i < c->naddrs; i++)
    printf("%s%s", i ? ", " : "", probe_addr_ip(&c->addrs[i], ip, sizeof(ip)));
  putchar('\n');
  if (!c->tlsa_checked)
    return;
  printf("      TLSA _%u._tcp.%s (%s):%s\n", c->port, c->host,
         xs2s_dnssec_name(c->tlsa_dnssec),
         c->ntlsa ? "" : " none, DANE does not apply");
  for (size_t i = 0; i < c->ntlsa; i++) {
    const xs2s_resolve_tlsa *t = &c->tlsa[i];
    char data[2 * 64 + 1];
    hex(data, t->data, t->len > 64 ? 64 : t->len);
    printf("        %u %u %u %s\n", t->usage, t->selector, t->matching_type,
           data);
  }
}

void print_resolution_text(const xs2s_resolve_result *res) {
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
    text_candidate_row(i + 1, &res->candidates[i]);
}

/* "STARTTLS (required), SASL EXTERNAL, dialback (with errors)". */
static void features_text(const char *label, const xs2s_stanza *f) {
  printf("  %-14s", label);
  if (!f) {
    puts("(none received)");
    return;
  }
  int n = 0;
  for (xs2s_stanza *c = xs2s_stanza_first_child(f); c;
       c = xs2s_stanza_next(c)) {
    if (xs2s_stanza_type(c) != XS2S_NODE_ELEMENT)
      continue;
    fputs(n++ ? ", " : "", stdout);
    if (xs2s_stanza_is(c, "starttls", XS2S_NS_TLS)) {
      fputs("STARTTLS", stdout);
      if (xs2s_stanza_find_child(c, "required", XS2S_NS_TLS))
        fputs(" (required)", stdout);
    } else if (xs2s_stanza_is(c, "mechanisms", XS2S_NS_SASL)) {
      fputs("SASL", stdout);
      for (xs2s_stanza *m = xs2s_stanza_first_child(c); m;
           m = xs2s_stanza_next(m))
        if (xs2s_stanza_is(m, "mechanism", XS2S_NS_SASL))
          printf(" %s", xs2s_stanza_text(m));
    } else if (xs2s_stanza_is(c, "dialback", XS2S_NS_DIALBACK_FEATURE)) {
      fputs("dialback", stdout);
      if (xs2s_dialback_feature_parse(f) & XS2S_DIALBACK_FEATURE_ERRORS)
        fputs(" (with errors)", stdout);
    } else {
      printf("%s (%s)", xs2s_stanza_name(c),
             xs2s_stanza_ns(c) ? xs2s_stanza_ns(c) : "no namespace");
    }
  }
  puts(n ? "" : "(empty: nothing offered)");
}

static void certificate_text(const probe_options *o, const probe_report *r) {
  const xs2s_tls_cert_info *ci = r->cert;
  char from[64], to[64];
  printf("  %-14s%s\n", "certificate:", ci->subject ? ci->subject : "");
  for (size_t i = 0; i < ci->name_count; i++)
    printf("  %-14s  %-10s %s\n", i ? "" : "  names:",
           name_type(ci->names[i].type, 1), ci->names[i].value);
  printf("  %-14s  %s\n", "  issuer:", ci->issuer ? ci->issuer : "");
  probe_time_text(ci->not_before, PROBE_TIME_HUMAN, from, sizeof(from));
  probe_time_text(ci->not_after, PROBE_TIME_HUMAN, to, sizeof(to));
  printf("  %-14s  %s to %s\n", "  valid:", from, to);
  printf("  %-14s  %s\n", "  sha256:", ci->sha256 ? ci->sha256 : "");
  printf("  %-14s  %zu certificate%s\n", "  chain:", ci->chain_length,
         ci->chain_length == 1 ? "" : "s");
  if (!r->verified)
    return;
  const xs2s_tls_verify_result *v = &r->verify;
  if (v->chain == XS2S_TLS_CHAIN_TRUSTED)
    printf("  %-14s  yes\n", "  trusted:");
  else
    printf("  %-14s  no (%s)\n", "  trusted:",
           xs2s_tls_chain_status_name(v->chain));
  if (v->name == XS2S_TLS_MATCH_NONE)
    printf("  %-14s  no, %s is not among its names\n", "  matches:",
           o->domain);
  else
    printf("  %-14s  yes, %s (%s)\n", "  matches:", o->domain,
           xs2s_tls_name_match_name(v->name));
}

static const char *verdict_text(probe_verdict v) {
  switch (v) {
  case PROBE_SECURE:
    return "SECURE: TLS with a certificate that proves the domain";
  case PROBE_INSECURE:
    return "REACHABLE, NOT SECURE";
  case PROBE_UNREACHABLE:
    return "NOT REACHABLE";
  case PROBE_NOT_TRIED:
    break;
  }
  return "not tried (an earlier candidate is secure)";
}

void print_candidate_text(const probe_options *o, const probe_report *r) {
  const xs2s_resolve_candidate *c = r->cand;
  printf("\n[%zu] %s port %u, %s", r->index, c->host, c->port,
         c->tls == XS2S_RESOLVE_TLS_DIRECT ? "direct TLS (XEP-0368)"
                                           : "STARTTLS");
  if (c->priority || c->weight)
    printf(", SRV priority %u weight %u", c->priority, c->weight);
  putchar('\n');
  if (r->verdict == PROBE_NOT_TRIED) {
    printf("  %-14s%s\n", "verdict:", verdict_text(r->verdict));
    return;
  }
  for (size_t i = 0; i < r->nattempts; i++)
    printf("  %-14s%s: %s\n", i ? "" : "connect:", r->attempts[i].address,
           r->attempts[i].error ? strerror(r->attempts[i].error)
                                : "connected");
  if (r->connected >= 0) {
    if (r->stream_id)
      printf("  %-14sopened (id %s)\n", "stream:", r->stream_id);
    if (c->tls == XS2S_RESOLVE_TLS_STARTTLS)
      features_text("features:", r->features_plain);
    if (r->tls_established)
      printf("  %-14s%s, %s%s%s\n", "TLS:",
             r->tls_info.version ? r->tls_info.version : "?",
             r->tls_info.cipher ? r->tls_info.cipher : "?",
             r->tls_info.alpn ? ", ALPN " : "",
             r->tls_info.alpn ? r->tls_info.alpn : "");
    else if (r->tls_error)
      printf("  %-14s%s\n", "TLS:", r->tls_error);
    if (r->cert)
      certificate_text(o, r);
    if (r->tls_established)
      features_text("under TLS:", r->features_tls);
    const xs2s_stanza *last =
        r->features_tls ? r->features_tls : r->features_plain;
    if (last)
      printf("  %-14s%s\n", "dialback:",
             xs2s_dialback_feature_parse(last) & XS2S_DIALBACK_FEATURE_OFFERED
                 ? "offered"
                 : "not offered");
  }
  printf("  %-14s%s\n", "verdict:", verdict_text(r->verdict));
  for (size_t i = 0; i < r->nreasons; i++)
    printf("    - %s\n", r->reasons[i]);
  for (size_t i = 0; i < r->nnotes; i++)
    printf("    note: %s\n", r->notes[i]);
}
