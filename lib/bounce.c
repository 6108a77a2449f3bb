/*
 * bounce.c: RFC 6120 stanza error replies.
 */
#include "bounce.h"

#include <string.h>

#include <xs2s/xs2s.h>

static int is(const char *a, const char *b) {
  return a && strcmp(a, b) == 0;
}

int xs2s__bounce_due(const xs2s_stanza *s) {
  if (!s || xs2s_stanza_type(s) != XS2S_NODE_ELEMENT)
    return 0;
  const char *name = xs2s_stanza_name(s);
  const char *type = xs2s_stanza_attr(s, "type");
  if (!xs2s_stanza_attr(s, "from") || is(type, "error"))
    return 0;
  if (is(name, "message"))
    return 1;
  if (is(name, "iq"))
    return !is(type, "result");
  if (is(name, "presence"))
    return !is(type, "unavailable") && !is(type, "probe");
  return 0;
}

/* Sets @name to @value when @value is not NULL; 0 or a negative code. */
static int copy_attr(xs2s_stanza *dst, const char *name, const char *value) {
  return value ? xs2s_stanza_set_attr(dst, name, value) : 0;
}

static int add_payload(xs2s_stanza *reply, const xs2s_stanza *orig,
                       size_t max_payload) {
  size_t len = 0;
  if (max_payload == 0)
    return 0;
  int rc = xs2s_stanza_serialize(orig, NULL, 0, &len);
  if (rc < 0 && rc != XS2S_ERR_BUFFER_TOO_SMALL)
    return rc;
  if (len > max_payload)
    return 0;
  for (const xs2s_stanza *c = xs2s_stanza_first_child(orig); c;
       c = xs2s_stanza_next(c)) {
    /* The reply carries exactly one <error/>: ours. */
    if (xs2s_stanza_is(c, "error", xs2s_stanza_ns(orig)))
      continue;
    if (!xs2s_stanza_add_copy(reply, c))
      return XS2S_ERR_NOMEM;
  }
  return 0;
}

static int add_error(xs2s_stanza *reply, xs2s_stanza_condition cond,
                     const char *text, const char *by) {
  xs2s_stanza *err = xs2s_stanza_add_child(reply, "error", NULL);
  if (!err)
    return XS2S_ERR_NOMEM;
  int rc = xs2s_stanza_set_attr(err, "type", xs2s_stanza_condition_type(cond));
  if (rc == 0)
    rc = copy_attr(err, "by", by);
  if (rc < 0)
    return rc;
  if (!xs2s_stanza_add_child(err, xs2s_stanza_condition_name(cond),
                             XS2S_NS_STANZA_ERRORS))
    return XS2S_ERR_NOMEM;
  if (!text)
    return 0;
  xs2s_stanza *t = xs2s_stanza_add_child(err, "text", XS2S_NS_STANZA_ERRORS);
  if (!t)
    return XS2S_ERR_NOMEM;
  rc = xs2s_stanza_set_attr_ns(t, "lang", XS2S_NS_XML, "en");
  if (rc == 0)
    rc = xs2s_stanza_add_text(t, text, strlen(text));
  return rc;
}

int xs2s__bounce_build(const xs2s_stanza *orig, xs2s_stanza_condition cond,
                       const char *text, const char *by, size_t max_payload,
                       const xs2s_mem *mem, xs2s_stanza **out) {
  *out = NULL;
  if (!orig || xs2s_stanza_type(orig) != XS2S_NODE_ELEMENT ||
      !xs2s_stanza_condition_name(cond))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!xs2s__bounce_due(orig))
    return XS2S__BOUNCE_NONE;
  xs2s_stanza *reply =
      xs2s_stanza_new_mem(mem, xs2s_stanza_name(orig), xs2s_stanza_ns(orig));
  if (!reply)
    return XS2S_ERR_NOMEM;
  const char *id = xs2s_stanza_attr(orig, "id");
  /* An <iq/> error must carry an id, empty when the request had none
   * (RFC 6120 8.3.1 rule 3). */
  if (!id && is(xs2s_stanza_name(orig), "iq"))
    id = "";
  const char *lang = xs2s_stanza_attr_ns(orig, "lang", XS2S_NS_XML);
  int rc = copy_attr(reply, "from", xs2s_stanza_attr(orig, "to"));
  if (rc == 0)
    rc = copy_attr(reply, "to", xs2s_stanza_attr(orig, "from"));
  if (rc == 0)
    rc = xs2s_stanza_set_attr(reply, "type", "error");
  if (rc == 0)
    rc = copy_attr(reply, "id", id);
  if (rc == 0 && lang)
    rc = xs2s_stanza_set_attr_ns(reply, "lang", XS2S_NS_XML, lang);
  if (rc == 0)
    rc = add_payload(reply, orig, max_payload);
  if (rc == 0)
    rc = add_error(reply, cond, text, by);
  if (rc < 0) {
    xs2s_stanza_free(reply);
    return rc;
  }
  *out = reply;
  return 0;
}

int xs2s_stanza_error_reply(const xs2s_stanza *orig,
                            xs2s_stanza_condition cond, const char *text,
                            xs2s_stanza **out) {
  if (!out)
    return XS2S_ERR_INVALID_ARGUMENT;
  return xs2s__bounce_build(orig, cond, text, NULL,
                            XS2S_ERROR_REPLY_MAX_PAYLOAD, NULL, out);
}
