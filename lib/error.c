/*
 * error.c: names and descriptions of error codes, generated from the one
 * list in common.h.
 */
#include <xs2s/common.h>

const char *xs2s_strerror(int code) {
  switch (code) {
  case XS2S_OK:
    return "success";
#define XS2S_ERROR_TEXT_(name, value, text)                                    \
  case value:                                                                  \
    return text;
    XS2S_ERROR_LIST(XS2S_ERROR_TEXT_)
#undef XS2S_ERROR_TEXT_
  }
  return "unknown error";
}

const char *xs2s_error_name(int code) {
  switch (code) {
  case XS2S_OK:
    return "XS2S_OK";
#define XS2S_ERROR_NAME_(name, value, text)                                    \
  case value:                                                                  \
    return "XS2S_ERR_" #name;
    XS2S_ERROR_LIST(XS2S_ERROR_NAME_)
#undef XS2S_ERROR_NAME_
  }
  return NULL;
}

const char *xs2s_version(void) {
  return XS2S_VERSION_STRING;
}
