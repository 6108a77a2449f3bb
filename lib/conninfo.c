/*
 * conninfo.c: names for the connection-introspection enums.
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

const char *xs2s_auth_method_name(xs2s_auth_method m) {
  switch (m) {
  case XS2S_AUTH_NONE:
    return "none";
  case XS2S_AUTH_SASL_EXTERNAL:
    return "sasl-external";
  case XS2S_AUTH_CERTIFICATE:
    return "certificate";
  case XS2S_AUTH_DIALBACK:
    return "dialback";
  }
  return NULL;
}
