/*
 * json.h: a minimal JSON writer for xs2s-probe (stdout, one object).
 *
 * Keeps track of commas: every value written inside an object or an array
 * is separated from the previous one. Keys are written only inside
 * objects; pass NULL as the key inside arrays and at the top.
 */
#ifndef XS2S_PROBE_JSON_H
#define XS2S_PROBE_JSON_H

#include <stdint.h>

#define JSON_MAX_DEPTH 16

typedef struct json {
  int depth;
  int first[JSON_MAX_DEPTH]; /* nothing written yet at this level */
  char close[JSON_MAX_DEPTH]; /* '}' or ']' for the open level */
} json;

void json_init(json *j);
void json_object(json *j, const char *key);
void json_array(json *j, const char *key);
/* Closes the innermost object or array. */
void json_end(json *j);
/* A string, or null for NULL. */
void json_str(json *j, const char *key, const char *value);
void json_int(json *j, const char *key, int64_t value);
void json_bool(json *j, const char *key, int value);
void json_null(json *j, const char *key);
/* The last top-level value is done: a newline. */
void json_finish(json *j);

#endif /* XS2S_PROBE_JSON_H */
