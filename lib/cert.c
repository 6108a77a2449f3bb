/*
 * cert.c: a certificate's names and details, decoded into plain C strings
 * for identity matching (identity.c) and for diagnostics.
 */
#include <arpa/inet.h>
#include <gnutls/x509-ext.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "tls_int.h"

#define SAN_OID "2.5.29.17"

/* A growing list of names. */
typedef struct name_list {
  const xs2s_mem *mem;
  xs2s_tls_name *v;
  size_t n, cap;
} name_list;

static int list_add(name_list *l, xs2s_tls_name_type type, const char *s,
                    size_t len) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    xs2s_tls_name *v = xs2s__realloc(l->mem, l->v, cap * sizeof(*v));
    if (!v)
      return XS2S_ERR_NOMEM;
    l->v = v;
    l->cap = cap;
  }
  char *copy = xs2s__strndup(l->mem, s, len);
  if (!copy)
    return XS2S_ERR_NOMEM;
  l->v[l->n].type = type;
  l->v[l->n].value = copy;
  l->n++;
  return 0;
}

/* A value with an embedded NUL ("a.test\0.evil") would be read shorter
 * than it is; such a name is listed as OTHER so it can never match. */
static int list_add_datum(name_list *l, xs2s_tls_name_type type,
                          const gnutls_datum_t *d, const char *other_prefix) {
  if (memchr(d->data, '\0', d->size) == NULL)
    return list_add(l, type, (const char *)d->data, d->size);
  char text[96];
  snprintf(text, sizeof(text), "%s(contains a NUL byte)", other_prefix);
  return list_add(l, XS2S_TLS_NAME_OTHER, text, strlen(text));
}

static int add_ip(name_list *l, const gnutls_datum_t *d) {
  char text[INET6_ADDRSTRLEN + 4] = "IP:";
  int af = d->size == 4 ? AF_INET : d->size == 16 ? AF_INET6 : 0;
  if (!af || !inet_ntop(af, d->data, text + 3, sizeof(text) - 3))
    strcpy(text + 3, "(malformed)");
  return list_add(l, XS2S_TLS_NAME_OTHER, text, strlen(text));
}

static int add_othername(name_list *l, const gnutls_datum_t *oid,
                         const gnutls_datum_t *value) {
  unsigned vtype;
  gnutls_datum_t virt = {NULL, 0};
  int rc;
  if (gnutls_x509_othername_to_virtual((const char *)oid->data, value, &vtype,
                                       &virt) == 0 &&
      (vtype == GNUTLS_SAN_OTHERNAME_XMPP ||
       vtype == GNUTLS_SAN_OTHERNAME_SRV)) {
    rc = list_add_datum(l,
                        vtype == GNUTLS_SAN_OTHERNAME_XMPP
                            ? XS2S_TLS_NAME_XMPPADDR
                            : XS2S_TLS_NAME_SRV,
                        &virt, "otherName:");
  } else {
    char text[128];
    snprintf(text, sizeof(text), "otherName:%s", (const char *)oid->data);
    rc = list_add(l, XS2S_TLS_NAME_OTHER, text, strlen(text));
  }
  gnutls_free(virt.data);
  return rc;
}

static int add_san(name_list *l, unsigned type, const gnutls_datum_t *san,
                   const gnutls_datum_t *oid) {
  switch (type) {
  case GNUTLS_SAN_DNSNAME:
    return list_add_datum(l, XS2S_TLS_NAME_DNS, san, "DNS:");
  case GNUTLS_SAN_OTHERNAME:
    return add_othername(l, oid, san);
  case GNUTLS_SAN_IPADDRESS:
    return add_ip(l, san);
  case GNUTLS_SAN_URI:
  case GNUTLS_SAN_RFC822NAME: {
    const char *prefix = type == GNUTLS_SAN_URI ? "URI:" : "email:";
    char text[512];
    int n = snprintf(text, sizeof(text), "%s%.*s", prefix, (int)san->size,
                     (const char *)san->data);
    size_t len = n < 0 ? 0 : strnlen(text, sizeof(text) - 1);
    return list_add(l, XS2S_TLS_NAME_OTHER, text, len);
  }
  default: {
    char text[32];
    snprintf(text, sizeof(text), "SAN type %u", type);
    return list_add(l, XS2S_TLS_NAME_OTHER, text, strlen(text));
  }
  }
}

static int add_sans(name_list *l, gnutls_x509_crt_t crt) {
  gnutls_datum_t ext = {NULL, 0};
  unsigned critical;
  int rc = gnutls_x509_crt_get_extension_by_oid2(crt, SAN_OID, 0, &ext,
                                                 &critical);
  if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
    return 0;
  if (rc < 0)
    return XS2S_ERR_TLS;
  gnutls_subject_alt_names_t sans;
  if (gnutls_subject_alt_names_init(&sans) < 0) {
    gnutls_free(ext.data);
    return XS2S_ERR_NOMEM;
  }
  rc = gnutls_x509_ext_import_subject_alt_names(&ext, sans, 0) < 0
           ? XS2S_ERR_TLS
           : 0;
  for (unsigned i = 0; rc == 0; i++) {
    unsigned type;
    gnutls_datum_t san, oid;
    int g = gnutls_subject_alt_names_get(sans, i, &type, &san, &oid);
    if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
      break;
    rc = g < 0 ? XS2S_ERR_TLS : add_san(l, type, &san, &oid);
  }
  gnutls_subject_alt_names_deinit(sans);
  gnutls_free(ext.data);
  return rc;
}

static int add_cns(name_list *l, gnutls_x509_crt_t crt) {
  for (unsigned i = 0;; i++) {
    char cn[256];
    size_t size = sizeof(cn);
    int rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
                                           i, 0, cn, &size);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
      return 0;
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
      continue; /* absurdly long CN: diagnostics only, skip it */
    if (rc < 0)
      return XS2S_ERR_TLS;
    rc = list_add(l, XS2S_TLS_NAME_CN, cn, strnlen(cn, size));
    if (rc < 0)
      return rc;
  }
}

int xs2s__cert_names(gnutls_x509_crt_t crt, const xs2s_mem *mem,
                     xs2s_tls_name **names, size_t *count) {
  name_list l = {mem, NULL, 0, 0};
  int rc = add_sans(&l, crt);
  if (rc == 0)
    rc = add_cns(&l, crt);
  if (rc < 0) {
    xs2s__cert_names_free(mem, l.v, l.n);
    *names = NULL;
    *count = 0;
    return rc;
  }
  *names = l.v;
  *count = l.n;
  return 0;
}

void xs2s__cert_names_free(const xs2s_mem *mem, xs2s_tls_name *names,
                           size_t count) {
  for (size_t i = 0; i < count; i++)
    xs2s__free(mem, (void *)names[i].value);
  xs2s__free(mem, names);
}

/* Copies a GnuTLS-allocated datum into an xs2s string and frees it. */
static char *take_datum(const xs2s_mem *mem, gnutls_datum_t *d) {
  char *s = xs2s__strndup(mem, (const char *)d->data, d->size);
  gnutls_free(d->data);
  d->data = NULL;
  return s;
}

static char *hex_of(const xs2s_mem *mem, const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char *s = xs2s__malloc(mem, 2 * n + 1);
  if (!s)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  s[2 * n] = '\0';
  return s;
}

int xs2s__cert_info(gnutls_x509_crt_t crt, size_t chain_length,
                    const xs2s_mem *mem, xs2s_tls_cert_info *info) {
  memset(info, 0, sizeof(*info));
  gnutls_datum_t dn = {NULL, 0};
  unsigned char raw[64];
  size_t size;
  int rc = 0;

  if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
    return XS2S_ERR_TLS;
  info->subject = take_datum(mem, &dn);
  if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) < 0)
    rc = XS2S_ERR_TLS;
  else
    info->issuer = take_datum(mem, &dn);
  size = sizeof(raw);
  if (rc == 0 && gnutls_x509_crt_get_serial(crt, raw, &size) < 0)
    rc = XS2S_ERR_TLS;
  if (rc == 0)
    info->serial = hex_of(mem, raw, size);
  size = sizeof(raw);
  if (rc == 0 &&
      gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, raw, &size) < 0)
    rc = XS2S_ERR_TLS;
  if (rc == 0)
    info->sha256 = hex_of(mem, raw, size);
  if (rc == 0 && (!info->subject || !info->issuer || !info->serial ||
                  !info->sha256))
    rc = XS2S_ERR_NOMEM;
  if (rc == 0) {
    xs2s_tls_name *names;
    rc = xs2s__cert_names(crt, mem, &names, &info->name_count);
    info->names = names;
  }
  if (rc < 0) {
    xs2s__cert_info_free(mem, info);
    return rc;
  }
  info->not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
  info->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
  info->chain_length = chain_length;
  return 0;
}

void xs2s__cert_info_free(const xs2s_mem *mem, xs2s_tls_cert_info *info) {
  xs2s__free(mem, (void *)info->subject);
  xs2s__free(mem, (void *)info->issuer);
  xs2s__free(mem, (void *)info->serial);
  xs2s__free(mem, (void *)info->sha256);
  xs2s__cert_names_free(mem, (xs2s_tls_name *)info->names, info->name_count);
  memset(info, 0, sizeof(*info));
}
