/*
 * condition.c: RFC 6120 condition names, generated from the lists in
 * condition.h.
 */
#include <string.h>

#include <xs2s/condition.h>

static const char *const stream_names[XS2S_STREAM_ERR_COUNT_] = {
#define XS2S_STREAM_NAME_(id, name) [XS2S_STREAM_ERR_##id] = name,
    XS2S_STREAM_CONDITION_LIST(XS2S_STREAM_NAME_)
#undef XS2S_STREAM_NAME_
};

static const char *const stanza_names[XS2S_STANZA_ERR_COUNT_] = {
#define XS2S_STANZA_NAME_(id, name, type) [XS2S_STANZA_ERR_##id] = name,
    XS2S_STANZA_CONDITION_LIST(XS2S_STANZA_NAME_)
#undef XS2S_STANZA_NAME_
};

static const char *const stanza_types[XS2S_STANZA_ERR_COUNT_] = {
#define XS2S_STANZA_TYPE_(id, name, type) [XS2S_STANZA_ERR_##id] = type,
    XS2S_STANZA_CONDITION_LIST(XS2S_STANZA_TYPE_)
#undef XS2S_STANZA_TYPE_
};

/* Index of @name in @names[1..count), or 0. */
static int index_of(const char *const *names, int count, const char *name) {
  if (!name)
    return 0;
  for (int i = 1; i < count; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return 0;
}

const char *xs2s_stream_condition_name(xs2s_stream_condition c) {
  if ((int)c <= 0 || c >= XS2S_STREAM_ERR_COUNT_)
    return NULL;
  return stream_names[c];
}

xs2s_stream_condition xs2s_stream_condition_from_name(const char *name) {
  return (xs2s_stream_condition)index_of(stream_names, XS2S_STREAM_ERR_COUNT_,
                                         name);
}

xs2s_stream_condition xs2s_stream_condition_from_error(int code) {
  switch (code) {
  case XS2S_ERR_NOMEM:
    return XS2S_STREAM_ERR_RESOURCE_CONSTRAINT;
  case XS2S_ERR_LIMIT:
  case XS2S_ERR_POLICY:
    return XS2S_STREAM_ERR_POLICY_VIOLATION;
  case XS2S_ERR_NOT_WELL_FORMED:
    return XS2S_STREAM_ERR_NOT_WELL_FORMED;
  case XS2S_ERR_RESTRICTED_XML:
    return XS2S_STREAM_ERR_RESTRICTED_XML;
  case XS2S_ERR_INVALID_NAMESPACE:
    return XS2S_STREAM_ERR_INVALID_NAMESPACE;
  case XS2S_ERR_BAD_NAMESPACE_PREFIX:
    return XS2S_STREAM_ERR_BAD_NAMESPACE_PREFIX;
  case XS2S_ERR_UNSUPPORTED_ENCODING:
    return XS2S_STREAM_ERR_UNSUPPORTED_ENCODING;
  case XS2S_ERR_BAD_FORMAT:
    return XS2S_STREAM_ERR_BAD_FORMAT;
  case XS2S_ERR_TIMEOUT:
    return XS2S_STREAM_ERR_CONNECTION_TIMEOUT;
  case XS2S_ERR_INTERNAL:
    return XS2S_STREAM_ERR_INTERNAL_SERVER_ERROR;
  default:
    return XS2S_STREAM_ERR_UNDEFINED_CONDITION;
  }
}

const char *xs2s_stanza_condition_name(xs2s_stanza_condition c) {
  if ((int)c <= 0 || c >= XS2S_STANZA_ERR_COUNT_)
    return NULL;
  return stanza_names[c];
}

const char *xs2s_stanza_condition_type(xs2s_stanza_condition c) {
  if ((int)c <= 0 || c >= XS2S_STANZA_ERR_COUNT_)
    return NULL;
  return stanza_types[c];
}

xs2s_stanza_condition xs2s_stanza_condition_from_name(const char *name) {
  return (xs2s_stanza_condition)index_of(stanza_names, XS2S_STANZA_ERR_COUNT_,
                                         name);
}
