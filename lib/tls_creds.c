/*
 * tls_creds.c: the certificates, keys, trust anchors, CRLs and priority
 * shared by TLS sessions.
 *
 * Our own certificates are kept as GnuTLS pcerts with their private keys,
 * one entry per local domain, and handed to GnuTLS per session by the
 * retrieve callback in tls.c; that is what lets the receiving side choose
 * by SNI and the initiating side by its local domain. Trust anchors and
 * CRLs live in the GnuTLS credentials' trust list, which verify.c uses.
 */
#include <string.h>

#include "alloc.h"
#include "tls_int.h"

xs2s_tls_creds *xs2s_tls_creds_new(const xs2s_mem *mem) {
  xs2s_mem m;
  xs2s__mem_init(&m, mem);
  xs2s_tls_creds *c = xs2s__calloc(&m, 1, sizeof(*c));
  if (!c)
    return NULL;
  c->mem = m;
  c->refs = 1;
  if (gnutls_certificate_allocate_credentials(&c->cred) < 0) {
    xs2s__free(&m, c);
    return NULL;
  }
  if (gnutls_priority_init2(&c->default_priority, XS2S__TLS_DEFAULT_APPEND,
                            NULL, GNUTLS_PRIORITY_INIT_DEF_APPEND) < 0) {
    gnutls_certificate_free_credentials(c->cred);
    xs2s__free(&m, c);
    return NULL;
  }
  gnutls_certificate_set_retrieve_function2(c->cred, xs2s__tls_retrieve_cert);
  return c;
}

xs2s_tls_creds *xs2s_tls_creds_ref(xs2s_tls_creds *creds) {
  __atomic_add_fetch(&creds->refs, 1, __ATOMIC_RELAXED);
  return creds;
}

static void entry_clear(const xs2s_mem *mem, xs2s__cert_entry *e) {
  for (unsigned i = 0; i < e->pcert_count; i++)
    gnutls_pcert_deinit(&e->pcerts[i]);
  xs2s__free(mem, e->pcerts);
  if (e->key)
    gnutls_privkey_deinit(e->key);
  xs2s__cert_names_free(mem, e->names, e->name_count);
  xs2s__free(mem, e->domain);
  memset(e, 0, sizeof(*e));
}

void xs2s_tls_creds_unref(xs2s_tls_creds *creds) {
  if (!creds || __atomic_sub_fetch(&creds->refs, 1, __ATOMIC_ACQ_REL) != 0)
    return;
  for (size_t i = 0; i < creds->entry_count; i++)
    entry_clear(&creds->mem, &creds->entries[i]);
  xs2s__free(&creds->mem, creds->entries);
  if (creds->priority)
    gnutls_priority_deinit(creds->priority);
  gnutls_priority_deinit(creds->default_priority);
  gnutls_certificate_free_credentials(creds->cred);
  xs2s_mem m = creds->mem;
  xs2s__free(&m, creds);
}

void xs2s__creds_freeze(xs2s_tls_creds *creds) {
  __atomic_store_n(&creds->frozen, 1, __ATOMIC_RELEASE);
}

static int check_configurable(const xs2s_tls_creds *creds) {
  if (!creds)
    return XS2S_ERR_INVALID_ARGUMENT;
  return __atomic_load_n(&creds->frozen, __ATOMIC_ACQUIRE)
             ? XS2S_ERR_BAD_STATE
             : 0;
}

/* Whether @key is the private half of @pcert's public key. */
static int key_fits(gnutls_privkey_t key, gnutls_pcert_st *pcert) {
  unsigned char id1[64], id2[64];
  size_t n1 = sizeof(id1), n2 = sizeof(id2);
  gnutls_pubkey_t pub;
  if (gnutls_pubkey_init(&pub) < 0)
    return 0;
  int ok = gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
           gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id1, &n1) ==
               0 &&
           gnutls_pubkey_get_key_id(pcert->pubkey, GNUTLS_KEYID_USE_SHA256,
                                    id2, &n2) == 0 &&
           n1 == n2 && memcmp(id1, id2, n1) == 0;
  gnutls_pubkey_deinit(pub);
  return ok;
}

/* Fills @e's chain and names from PEM text. */
static int load_chain(const xs2s_mem *mem, xs2s__cert_entry *e,
                      const gnutls_datum_t *pem) {
  gnutls_x509_crt_t *crts = NULL;
  unsigned n = 0;
  if (gnutls_x509_crt_list_import2(&crts, &n, pem, GNUTLS_X509_FMT_PEM,
                                   GNUTLS_X509_CRT_LIST_SORT) < 0 ||
      n == 0)
    return XS2S_ERR_TLS_CREDENTIALS;
  int rc = xs2s__cert_names(crts[0], mem, &e->names, &e->name_count);
  if (rc == 0) {
    e->pcerts = xs2s__calloc(mem, n, sizeof(*e->pcerts));
    if (!e->pcerts)
      rc = XS2S_ERR_NOMEM;
  }
  if (rc == 0) {
    unsigned imported = n;
    if (gnutls_pcert_import_x509_list(e->pcerts, crts, &imported, 0) < 0)
      rc = XS2S_ERR_TLS_CREDENTIALS;
    else
      e->pcert_count = imported;
  }
  for (unsigned i = 0; i < n; i++)
    gnutls_x509_crt_deinit(crts[i]);
  gnutls_free(crts);
  return rc;
}

static int load_key(xs2s__cert_entry *e, const gnutls_datum_t *pem) {
  if (gnutls_privkey_init(&e->key) < 0)
    return XS2S_ERR_NOMEM;
  if (gnutls_privkey_import_x509_raw(e->key, pem, GNUTLS_X509_FMT_PEM, NULL,
                                     0) < 0 ||
      !key_fits(e->key, &e->pcerts[0]))
    return XS2S_ERR_TLS_CREDENTIALS;
  return 0;
}

static int add_entry(xs2s_tls_creds *c, const char *domain,
                     const gnutls_datum_t *cert, const gnutls_datum_t *key) {
  int rc = check_configurable(c);
  if (rc < 0)
    return rc;
  xs2s__cert_entry e;
  memset(&e, 0, sizeof(e));
  if (domain) {
    char norm[XS2S__DOMAIN_MAX + 1];
    rc = xs2s__domain_normalize_host(domain, norm);
    if (rc < 0)
      return rc;
    if (!(e.domain = xs2s__strdup(&c->mem, norm)))
      return XS2S_ERR_NOMEM;
  }
  rc = load_chain(&c->mem, &e, cert);
  if (rc == 0)
    rc = load_key(&e, key);
  if (rc == 0) {
    xs2s__cert_entry *v = xs2s__realloc(&c->mem, c->entries,
                                        (c->entry_count + 1) * sizeof(*v));
    if (!v) {
      rc = XS2S_ERR_NOMEM;
    } else {
      c->entries = v;
      c->entries[c->entry_count++] = e;
      return 0;
    }
  }
  entry_clear(&c->mem, &e);
  return rc;
}

int xs2s_tls_creds_add_cert_mem(xs2s_tls_creds *creds, const char *domain,
                                const char *cert_pem, size_t cert_len,
                                const char *key_pem, size_t key_len) {
  if (!cert_pem || !key_pem || cert_len > UINT32_MAX || key_len > UINT32_MAX)
    return XS2S_ERR_INVALID_ARGUMENT;
  gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned)cert_len};
  gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned)key_len};
  return add_entry(creds, domain, &cert, &key);
}

int xs2s_tls_creds_add_cert_file(xs2s_tls_creds *creds, const char *domain,
                                 const char *cert_file, const char *key_file) {
  if (!cert_file || !key_file)
    return XS2S_ERR_INVALID_ARGUMENT;
  int rc = check_configurable(creds);
  if (rc < 0)
    return rc;
  gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
  if (gnutls_load_file(cert_file, &cert) < 0 ||
      gnutls_load_file(key_file, &key) < 0)
    rc = XS2S_ERR_TLS_CREDENTIALS;
  else
    rc = add_entry(creds, domain, &cert, &key);
  gnutls_free(cert.data);
  if (key.data) /* key material: wipe before freeing */
    memset(key.data, 0, key.size);
  gnutls_free(key.data);
  return rc;
}

/* GnuTLS loaders return how many items they took; none is an error. */
static int loaded(int n) {
  if (n == GNUTLS_E_MEMORY_ERROR)
    return XS2S_ERR_NOMEM;
  return n > 0 ? 0 : XS2S_ERR_TLS_CREDENTIALS;
}

int xs2s_tls_creds_add_trust_file(xs2s_tls_creds *creds, const char *ca_file) {
  int rc = check_configurable(creds);
  if (rc < 0)
    return rc;
  if (!ca_file)
    return XS2S_ERR_INVALID_ARGUMENT;
  return loaded(gnutls_certificate_set_x509_trust_file(creds->cred, ca_file,
                                                       GNUTLS_X509_FMT_PEM));
}

int xs2s_tls_creds_add_system_trust(xs2s_tls_creds *creds) {
  int rc = check_configurable(creds);
  if (rc < 0)
    return rc;
  return loaded(gnutls_certificate_set_x509_system_trust(creds->cred));
}

int xs2s_tls_creds_add_crl_file(xs2s_tls_creds *creds, const char *crl_file) {
  int rc = check_configurable(creds);
  if (rc < 0)
    return rc;
  if (!crl_file)
    return XS2S_ERR_INVALID_ARGUMENT;
  return loaded(gnutls_certificate_set_x509_crl_file(creds->cred, crl_file,
                                                     GNUTLS_X509_FMT_PEM));
}

int xs2s_tls_creds_set_priority(xs2s_tls_creds *creds, const char *priority) {
  int rc = check_configurable(creds);
  if (rc < 0)
    return rc;
  gnutls_priority_t p = NULL;
  if (priority) {
    rc = gnutls_priority_init2(&p, priority, NULL, 0);
    if (rc == GNUTLS_E_MEMORY_ERROR)
      return XS2S_ERR_NOMEM;
    if (rc < 0)
      return XS2S_ERR_INVALID_ARGUMENT;
  }
  if (creds->priority)
    gnutls_priority_deinit(creds->priority);
  creds->priority = p;
  return 0;
}

const xs2s__cert_entry *xs2s__creds_select(const xs2s_tls_creds *creds,
                                           const char *name, int use_default) {
  char norm[XS2S__DOMAIN_MAX + 1];
  if (name && xs2s__domain_normalize_host(name, norm) == 0) {
    for (size_t i = 0; i < creds->entry_count; i++)
      if (creds->entries[i].domain &&
          strcmp(creds->entries[i].domain, norm) == 0)
        return &creds->entries[i];
    for (size_t i = 0; i < creds->entry_count; i++)
      if (xs2s__match_names(creds->entries[i].names,
                            creds->entries[i].name_count,
                            norm) != XS2S_TLS_MATCH_NONE)
        return &creds->entries[i];
  }
  return use_default && creds->entry_count > 0 ? &creds->entries[0] : NULL;
}
