/*
 * json.c: a minimal JSON writer for xs2s-probe.
 */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>

void json_init(json *j) {
  j->depth = 0;
  j->first[0] = 1;
}

static void quoted(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      printf("\\u%04x", *p);
    else
      putchar(*p); /* UTF-8 passes through */
  }
  putchar('"');
}

/* The separator and the key before a value. */
static void lead(json *j, const char *key) {
  if (!j->first[j->depth])
    putchar(',');
  j->first[j->depth] = 0;
  if (key) {
    quoted(key);
    putchar(':');
  }
}

static void open_level(json *j, const char *key, char c, char close) {
  lead(j, key);
  putchar(c);
  if (j->depth + 1 < JSON_MAX_DEPTH)
    j->depth++;
  j->first[j->depth] = 1;
  j->close[j->depth] = close;
}

void json_object(json *j, const char *key) { open_level(j, key, '{', '}'); }

void json_array(json *j, const char *key) { open_level(j, key, '[', ']'); }

void json_end(json *j) {
  if (j->depth == 0)
    return;
  putchar(j->close[j->depth]);
  j->depth--;
}

void json_str(json *j, const char *key, const char *value) {
  lead(j, key);
  if (value)
    quoted(value);
  else
    fputs("null", stdout);
}

void json_int(json *j, const char *key, int64_t value) {
  lead(j, key);
  printf("%" PRId64, value);
}

void json_bool(json *j, const char *key, int value) {
  lead(j, key);
  fputs(value ? "true" : "false", stdout);
}

void json_null(json *j, const char *key) {
  lead(j, key);
  fputs("null", stdout);
}

void json_finish(json *j) {
  (void)j;
  putchar('\n');
}
