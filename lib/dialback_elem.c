/*
 * dialback_elem.c: building and reading <db:result> and <db:verify>
 * elements, and the syntax checks applied to what peers put in them.
 */
#include <string.h>

#include "dialback.h"
#include "domain.h"
#include "utf8.h"

static int xml_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A domain is acceptable exactly when it has a canonical form: pairs are
 * matched by that form (domain.c), so a name without one could be stored
 * but never found again. */
int xs2s__dialback_domain_ok(const char *domain) {
  if (!domain)
    return 0;
  size_t n = strnlen(domain, XS2S_DIALBACK_DOMAIN_MAX + 1);
  if (n == 0 || n > XS2S_DIALBACK_DOMAIN_MAX || !xs2s__utf8_valid(domain, n))
    return 0;
  char canonical[XS2S__DOMAIN_MAX + 1];
  return xs2s__domain_normalize(domain, n, canonical) >= 0;
}

int xs2s__dialback_id_ok(const char *id) {
  if (!id)
    return 0;
  size_t n = strnlen(id, XS2S_DIALBACK_ID_MAX + 1);
  if (n == 0 || n > XS2S_DIALBACK_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)id[i];
    if (c <= 0x20 || c == 0x7f)
      return 0;
  }
  return 1;
}

static xs2s_dialback_state type_from_attr(const char *type) {
  if (!type)
    return XS2S_DIALBACK_NONE;
  if (strcmp(type, "valid") == 0)
    return XS2S_DIALBACK_VALID;
  if (strcmp(type, "invalid") == 0)
    return XS2S_DIALBACK_INVALID;
  if (strcmp(type, "error") == 0)
    return XS2S_DIALBACK_ERROR;
  return XS2S_DIALBACK_NONE;
}

/* The condition inside <error/>; undefined-condition when it is missing
 * or unknown, so that an error is never mistaken for no error. */
static xs2s_stanza_condition error_condition(const xs2s_stanza *elem) {
  const xs2s_stanza *err = xs2s_stanza_find_child(elem, "error", NULL);
  for (const xs2s_stanza *c = err ? xs2s_stanza_first_child(err) : NULL; c;
       c = xs2s_stanza_next(c)) {
    if (!xs2s_stanza_is(c, NULL, XS2S_NS_STANZA_ERRORS))
      continue;
    xs2s_stanza_condition cond =
        xs2s_stanza_condition_from_name(xs2s_stanza_name(c));
    if (cond != XS2S_STANZA_ERR_NONE)
      return cond;
  }
  return XS2S_STANZA_ERR_UNDEFINED_CONDITION;
}

int xs2s__dialback_parse(const xs2s_stanza *elem, xs2s__dialback_elem *e) {
  memset(e, 0, sizeof(*e));
  if (xs2s_stanza_is(elem, "verify", XS2S_NS_DIALBACK))
    e->is_verify = 1;
  else if (!xs2s_stanza_is(elem, "result", XS2S_NS_DIALBACK))
    return XS2S_ERR_INVALID_ARGUMENT;
  e->from = xs2s_stanza_attr(elem, "from");
  e->to = xs2s_stanza_attr(elem, "to");
  e->id = xs2s_stanza_attr(elem, "id");
  const char *type = xs2s_stanza_attr(elem, "type");
  e->has_type = type != NULL;
  e->type = type_from_attr(type);
  if (e->type == XS2S_DIALBACK_ERROR)
    e->condition = error_condition(elem);
  const char *text = xs2s_stanza_text(elem);
  if (!text)
    return XS2S_ERR_NOMEM;
  size_t n = strlen(text);
  while (n && xml_space(*text)) {
    text++;
    n--;
  }
  while (n && xml_space(text[n - 1]))
    n--;
  e->key = text;
  e->key_len = n;
  return 0;
}

static int add_error(xs2s_stanza *s, xs2s_stanza_condition cond) {
  const char *name = xs2s_stanza_condition_name(cond);
  if (!name) {
    cond = XS2S_STANZA_ERR_UNDEFINED_CONDITION;
    name = xs2s_stanza_condition_name(cond);
  }
  /* XEP-0220 puts <error/> in the stream's content namespace. */
  xs2s_stanza *err = xs2s_stanza_add_child(s, "error", XS2S_NS_SERVER);
  if (!err ||
      xs2s_stanza_set_attr(err, "type", xs2s_stanza_condition_type(cond)) != 0)
    return XS2S_ERR_NOMEM;
  if (!xs2s_stanza_add_child(err, name, XS2S_NS_STANZA_ERRORS))
    return XS2S_ERR_NOMEM;
  return 0;
}

static int set_attrs(xs2s_stanza *s, const char *from, const char *to,
                     const char *id, xs2s_dialback_state type) {
  static const char *const type_names[] = {
      [XS2S_DIALBACK_VALID] = "valid",
      [XS2S_DIALBACK_INVALID] = "invalid",
      [XS2S_DIALBACK_ERROR] = "error",
  };
  if (xs2s_stanza_set_attr(s, "from", from) != 0 ||
      xs2s_stanza_set_attr(s, "to", to) != 0)
    return XS2S_ERR_NOMEM;
  if (id && xs2s_stanza_set_attr(s, "id", id) != 0)
    return XS2S_ERR_NOMEM;
  if (type >= XS2S_DIALBACK_VALID && type <= XS2S_DIALBACK_ERROR &&
      xs2s_stanza_set_attr(s, "type", type_names[type]) != 0)
    return XS2S_ERR_NOMEM;
  return 0;
}

xs2s_stanza *xs2s__dialback_build(const xs2s_mem *mem, const char *name,
                                  const char *from, const char *to,
                                  const char *id, xs2s_dialback_state type,
                                  xs2s_stanza_condition condition,
                                  const char *key) {
  xs2s_stanza *s = xs2s_stanza_new_mem(mem, name, XS2S_NS_DIALBACK);
  if (!s)
    return NULL;
  int rc = set_attrs(s, from, to, id, type);
  if (rc == 0 && type == XS2S_DIALBACK_ERROR)
    rc = add_error(s, condition);
  else if (rc == 0 && type == XS2S_DIALBACK_NONE && key)
    rc = xs2s_stanza_add_text(s, key, strlen(key));
  if (rc != 0) {
    xs2s_stanza_free(s);
    return NULL;
  }
  return s;
}
