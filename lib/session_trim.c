/*
 * session_trim.c: giving an idle session's memory back.
 *
 * An idle authenticated stream otherwise keeps about 20 KiB it does not
 * use: libxml2's push context (its 8 KiB input buffer, dictionary and
 * stacks), the parser's 4 KiB scratch chunk and buffers kept at the size
 * the TLS handshake needed. All of it is rebuilt on the next use.
 */
#include "session_trim.h"

#include "parser_internal.h"
#include "session_int.h"

int xs2s__session_trim(xs2s_session *s) {
  if (!s)
    return 0;
  int hibernated = 0;
  if (s->parser && !s->parser_reset_pending && !s->parser_failed)
    hibernated = xs2s__parser_hibernate(s->parser);
  if (s->plain.len == 0)
    xs2s__buf_free(&s->plain);
  if (s->out.len == 0)
    xs2s__buf_free(&s->out);
  xs2s__tls_trim(s->tls);
  return hibernated;
}
