/*
 * session_locals.c: a session that shares its owner's local domains.
 */
#include "session_locals.h"

#include "session_int.h"

void xs2s__session_share_locals(xs2s_session *s,
                                int (*is_local)(const char *domain,
                                                void *user_data),
                                void *user_data) {
  s->is_local_hook = is_local;
  s->is_local_user_data = user_data;
}
