/*
 * conninfo.c: names for the connection-introspection enums (the
 * authentication methods are named by session.c).
 */
#include <xs2s/xs2s.h>

const char *xs2s_direction_name(xs2s_direction d) {
  switch (d) {
  case XS2S_DIR_INCOMING:
    return "incoming";
  case XS2S_DIR_OUTGOING:
    return "outgoing";
  }
  return NULL;
}
