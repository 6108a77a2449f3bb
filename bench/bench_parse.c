/*
 * bench_parse.c: stream parsing speed against raw libxml2.
 *
 * Generates one server-to-server stream in memory (messages and presences
 * of typical size, some with xml:lang, bodies with escaped characters),
 * then parses it with xs2s_parser (which builds every stanza's tree) and
 * with libxml2's SAX2 push parser and empty callbacks, the floor any
 * libxml2-based parser stands on. Both get the same chunks; each run is
 * repeated and the best time kept. The figure that matters is the ratio.
 *
 *   bench_parse [stanzas [chunk-bytes [repetitions]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>

#include <xs2s/xs2s.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the stream ---- */

typedef struct text {
  char *data;
  size_t len, cap;
} text;

static void add(text *t, const char *s) {
  size_t n = strlen(s);
  if (t->len + n > t->cap) {
    t->cap = (t->len + n) * 2;
    t->data = realloc(t->data, t->cap);
    if (!t->data) {
      perror("realloc");
      exit(1);
    }
  }
  memcpy(t->data + t->len, s, n);
  t->len += n;
}

static const char *const bodies[] = {
    "Are you coming to the meeting at 3?",
    "Sure &amp; I&apos;ll bring the slides &lt;v2&gt;",
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln",
    "ok",
    "See https://example.org/a?b=1&amp;c=2 for details",
};

static text make_stream(int stanzas) {
  text t = {NULL, 0, 0};
  char buf[512];
  add(&t, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
          "xmlns:stream='http://etherx.jabber.org/streams' "
          "xmlns:db='jabber:server:dialback' from='a.example' "
          "to='b.example' version='1.0' id='bench-1'>");
  for (int i = 0; i < stanzas; i++) {
    if (i % 4 == 3) {
      snprintf(buf, sizeof(buf),
               "<presence from='user%d@a.example/phone' to='friend%d@"
               "b.example'><show>away</show><status>Back at %d</status>"
               "<priority>5</priority></presence>",
               i % 97, i % 89, i % 24);
    } else {
      snprintf(buf, sizeof(buf),
               "<message from='user%d@a.example/laptop' to='friend%d@"
               "b.example' type='chat' id='msg-%d'%s><body>%s</body>"
               "<active xmlns='http://jabber.org/protocol/chatstates'/>"
               "</message>",
               i % 97, i % 89, i, i % 3 == 0 ? " xml:lang='en'" : "",
               bodies[i % 5]);
    }
    add(&t, buf);
  }
  add(&t, "</stream:stream>");
  return t;
}

/* ---- xs2s ---- */

static int on_stanza(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  (void)p;
  (void)s;
  (*(long *)ud)++;
  return 0;
}

static double run_xs2s(const text *t, size_t chunk, long *stanzas) {
  xs2s_parser_callbacks cb = {NULL, on_stanza, NULL, NULL};
  *stanzas = 0;
  double start = now();
  xs2s_parser *p = xs2s_parser_new(&cb, stanzas, NULL);
  for (size_t off = 0; off < t->len; off += chunk) {
    size_t n = t->len - off < chunk ? t->len - off : chunk;
    if (xs2s_parser_feed(p, t->data + off, n) != (ssize_t)n) {
      fprintf(stderr, "xs2s: parse failed\n");
      exit(1);
    }
  }
  xs2s_parser_free(p);
  return now() - start;
}

/* ---- raw libxml2 ---- */

static void raw_start(void *ud, const xmlChar *localname,
                      const xmlChar *prefix, const xmlChar *uri, int nb_ns,
                      const xmlChar **ns, int nb_attrs, int nb_defaulted,
                      const xmlChar **attrs) {
  (void)ud, (void)localname, (void)prefix, (void)uri, (void)nb_ns, (void)ns;
  (void)nb_attrs, (void)nb_defaulted, (void)attrs;
}

static void raw_end(void *ud, const xmlChar *localname, const xmlChar *prefix,
                    const xmlChar *uri) {
  (void)ud, (void)localname, (void)prefix, (void)uri;
}

static void raw_chars(void *ud, const xmlChar *ch, int len) {
  (void)ud, (void)ch, (void)len;
}

static double run_raw(const text *t, size_t chunk) {
  xmlSAXHandler sax;
  memset(&sax, 0, sizeof(sax));
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElementNs = raw_start;
  sax.endElementNs = raw_end;
  sax.characters = raw_chars;
  double start = now();
  xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL);
  xmlCtxtUseOptions(ctxt, XML_PARSE_NONET);
  for (size_t off = 0; off < t->len; off += chunk) {
    size_t n = t->len - off < chunk ? t->len - off : chunk;
    if (xmlParseChunk(ctxt, t->data + off, (int)n, 0) != 0) {
      fprintf(stderr, "libxml2: parse failed\n");
      exit(1);
    }
  }
  xmlFreeParserCtxt(ctxt);
  return now() - start;
}

int main(int argc, char **argv) {
  int stanzas = argc > 1 ? atoi(argv[1]) : 50000;
  size_t chunk = argc > 2 ? (size_t)atol(argv[2]) : 16384;
  int reps = argc > 3 ? atoi(argv[3]) : 7;
  if (stanzas <= 0 || chunk == 0 || reps <= 0) {
    fprintf(stderr, "usage: %s [stanzas [chunk-bytes [repetitions]]]\n",
            argv[0]);
    return 2;
  }
  xmlInitParser();
  text t = make_stream(stanzas);
  double best_xs2s = 1e9, best_raw = 1e9;
  long seen = 0;
  for (int i = 0; i < reps; i++) {
    double raw = run_raw(&t, chunk);
    double x = run_xs2s(&t, chunk, &seen);
    if (raw < best_raw)
      best_raw = raw;
    if (x < best_xs2s)
      best_xs2s = x;
  }
  if (seen != stanzas) {
    fprintf(stderr, "xs2s saw %ld stanzas of %d\n", seen, stanzas);
    return 1;
  }
  double mb = (double)t.len / 1e6;
  printf("stream: %d stanzas, %.2f MB (%.0f bytes/stanza), chunks of %zu "
         "bytes, best of %d\n",
         stanzas, mb, (double)t.len / stanzas, chunk, reps);
  printf("raw libxml2 SAX2 push: %10.0f stanzas/s %8.1f MB/s\n",
         stanzas / best_raw, mb / best_raw);
  printf("xs2s parser (trees):   %10.0f stanzas/s %8.1f MB/s\n",
         stanzas / best_xs2s, mb / best_xs2s);
  printf("ratio xs2s/raw: %.2f\n", best_raw / best_xs2s);
  free(t.data);
  return 0;
}
