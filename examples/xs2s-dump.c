/*
 * xs2s-dump: print an XMPP stream as xs2s parses it.
 *
 *   xs2s-dump [FILE]      (standard input when FILE is absent or "-")
 *
 * Prints the stream header, then each top-level element re-serialised with
 * a counter, then the end of the stream. On bad input it prints the stream
 * error a server would send (its RFC 6120 condition) and exits with 1.
 * Uses only the public API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xs2s/xs2s.h>

typedef struct dump {
  unsigned long stanzas;
  int closed;
  int stream_error; /* the error callback reported the condition */
} dump;

static void print_opt(const char *label, const char *value) {
  if (value)
    printf("  %s: %s\n", label, value);
}

static int on_open(xs2s_parser *p, const xs2s_stream_header *h, void *ud) {
  (void)p;
  (void)ud;
  printf("stream header\n");
  print_opt("from", h->from);
  print_opt("to", h->to);
  print_opt("id", h->id);
  print_opt("version", h->version);
  print_opt("xml:lang", h->lang);
  print_opt("default namespace", h->default_ns);
  for (size_t i = 0; i < h->ns_count; i++)
    if (h->ns_prefixes[i])
      printf("  xmlns:%s = %s\n", h->ns_prefixes[i], h->ns_uris[i]);
  return 0;
}

static int on_stanza(xs2s_parser *p, xs2s_stanza *s, void *ud) {
  dump *d = ud;
  (void)p;
  size_t len = 0;
  xs2s_stanza_serialize(s, NULL, 0, &len);
  char *xml = malloc(len + 1);
  if (!xml)
    return XS2S_ERR_NOMEM;
  int rc = xs2s_stanza_serialize(s, xml, len + 1, &len);
  if (rc == 0)
    printf("#%lu %s\n", ++d->stanzas, xml);
  free(xml);
  return rc;
}

static void on_close(xs2s_parser *p, void *ud) {
  dump *d = ud;
  (void)p;
  d->closed = 1;
  printf("end of stream after %lu stanzas\n", d->stanzas);
}

static void on_error(xs2s_parser *p, int code, xs2s_stream_condition c,
                     const char *message, void *ud) {
  dump *d = ud;
  (void)p;
  d->stream_error = 1;
  fprintf(stderr, "stream error <%s/>: %s (%s)\n",
          xs2s_stream_condition_name(c), message, xs2s_error_name(code));
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "-";
  if (argc > 2 || strcmp(path, "--help") == 0) {
    fprintf(stderr, "usage: %s [FILE]\n", argv[0]);
    return 2;
  }
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!in) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return 2;
  }
  dump d = {0, 0, 0};
  xs2s_parser_callbacks cb = {on_open, on_stanza, on_close, on_error};
  xs2s_parser *p = xs2s_parser_new(&cb, &d, NULL);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  int status = 0;
  char buf[4096];
  size_t n;
  while (!status && !d.closed && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
    ssize_t rc = xs2s_parser_feed(p, buf, n);
    if (rc < 0) {
      if (!d.stream_error)
        fprintf(stderr, "error: %s\n", xs2s_strerror((int)rc));
      status = 1;
    }
  }
  if (ferror(in)) {
    fprintf(stderr, "%s: read error\n", path);
    status = 1;
  } else if (!status && !d.closed) {
    fprintf(stderr, "stream ended without </stream:stream>\n");
    status = 1;
  }
  xs2s_parser_free(p);
  if (in != stdin)
    fclose(in);
  return status;
}
