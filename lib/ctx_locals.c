/*
 * ctx_locals.c: the engine's local domains, looked up in the
 * configuration's hash table (normal forms) rather than scanned.
 */
#include <string.h>

#include "config.h"
#include "ctx_int.h"
#include "domain.h"

/* Up to this many domains a scan is cheaper than hashing the name (every
 * xs2s_ctx_send() looks up two). */
#define SCAN_MAX 8u

const char *xs2s__ctx_local_name(const xs2s_ctx *ctx, const char *d) {
  if (ctx->nlocals <= SCAN_MAX) {
    for (size_t i = 0; i < ctx->nlocals; i++)
      if (strcmp(ctx->locals[i], d) == 0)
        return ctx->locals[i];
    return NULL;
  }
  const xs2s__named *n = xs2s__dtab_get(&ctx->cfg->locals, d, strlen(d));
  return n ? n->name : NULL;
}

int xs2s__ctx_local_index(const xs2s_ctx *ctx, const char *d) {
  const char *name = xs2s__ctx_local_name(ctx, d);
  for (size_t i = 0; name && i < ctx->nlocals; i++)
    if (ctx->locals[i] == name)
      return (int)i;
  return -1;
}

int xs2s__ctx_is_local(const char *domain, void *user_data) {
  const xs2s_ctx *ctx = user_data;
  char norm[XS2S__DOMAIN_MAX + 1];
  if (!domain || xs2s__domain_normalize(domain, strlen(domain), norm) < 0)
    return 0;
  return xs2s__ctx_local_name(ctx, norm) != NULL;
}
