/*
 * tls.c: one GnuTLS session over memory buffers (sans-I/O).
 *
 * GnuTLS reads ciphertext through pull_fn from t->in, which xs2s_tls_feed()
 * fills, and writes through push_fn into t->out, which the caller drains
 * with xs2s_tls_output() / xs2s_tls_output_consume(). An empty t->in makes
 * pull_fn report EAGAIN, so every GnuTLS call returns instead of blocking.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "session_trim.h"
#include "tls_int.h"

static ssize_t push_fn(gnutls_transport_ptr_t ptr, const void *data,
                       size_t len) {
  xs2s_tls *t = ptr;
  if (xs2s__buf_append(&t->out, data, len) < 0) {
    t->out_oom = 1;
    gnutls_transport_set_errno(t->session, ENOMEM);
    return -1;
  }
  return (ssize_t)len;
}

static ssize_t pull_fn(gnutls_transport_ptr_t ptr, void *data, size_t len) {
  xs2s_tls *t = ptr;
  if (t->in.len == 0) {
    gnutls_transport_set_errno(t->session, EAGAIN);
    return -1;
  }
  size_t n = len < t->in.len ? len : t->in.len;
  memcpy(data, xs2s__buf_bytes(&t->in), n);
  xs2s__buf_consume(&t->in, n);
  return (ssize_t)n;
}

void xs2s__tls_trim(xs2s_tls *t) {
  if (t && t->in.len == 0)
    xs2s__buf_free(&t->in);
  if (t && t->out.len == 0)
    xs2s__buf_free(&t->out);
}

/* GnuTLS asks for our certificate: by SNI when we receive, by our local
 * domain when we initiate. Entries live in the credentials, which outlive
 * the session, so GnuTLS may keep the pointers. */
int xs2s__tls_retrieve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn,
                         int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                         int pk_algos_length, gnutls_pcert_st **pcert,
                         unsigned *pcert_length, gnutls_privkey_t *privkey) {
  (void)req_ca_rdn;
  (void)nreqs;
  (void)pk_algos;
  (void)pk_algos_length;
  xs2s_tls *t = gnutls_session_get_ptr(s);
  const xs2s__cert_entry *e = NULL;
  if (t->role == XS2S_TLS_RECEIVING) {
    char sni[XS2S__DNS_NAME_MAX + 2];
    size_t size = sizeof(sni);
    unsigned type;
    int have = gnutls_server_name_get(s, sni, &size, &type, 0) == 0 &&
               type == GNUTLS_NAME_DNS;
    e = xs2s__creds_select(t->creds, have ? sni : NULL, 1);
  } else if (t->local_domain) {
    e = xs2s__creds_select(t->creds, t->local_domain, 0);
  }
  *pcert = e ? e->pcerts : NULL;
  *pcert_length = e ? e->pcert_count : 0;
  *privkey = e ? e->key : NULL;
  return 0;
}

/* Keeps a reason for xs2s_tls_error_detail(); enters FAILED. */
static int fail(xs2s_tls *t, int gnutls_rc, int code) {
  if (t->out_oom) {
    code = XS2S_ERR_NOMEM;
    snprintf(t->detail, sizeof(t->detail), "out of memory");
  } else if (gnutls_rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    snprintf(t->detail, sizeof(t->detail), "%s: %s",
             gnutls_strerror(gnutls_rc),
             gnutls_alert_get_name(gnutls_alert_get(t->session)));
  } else {
    snprintf(t->detail, sizeof(t->detail), "%s", gnutls_strerror(gnutls_rc));
  }
  t->state = XS2S__TLS_FAILED;
  return code;
}

static char *normalized_copy(const xs2s_mem *mem, const char *domain,
                             int *rc) {
  char norm[XS2S__DOMAIN_MAX + 1];
  *rc = xs2s__domain_normalize_host(domain, norm);
  if (*rc < 0)
    return NULL;
  char *copy = xs2s__strdup(mem, norm);
  if (!copy)
    *rc = XS2S_ERR_NOMEM;
  return copy;
}

static int copy_domains(xs2s_tls *t, const xs2s_tls_options *o) {
  int rc = 0;
  if (t->role != XS2S_TLS_INITIATING)
    return 0;
  if (!o || !o->remote_domain)
    return XS2S_ERR_INVALID_ARGUMENT;
  t->remote_domain = normalized_copy(&t->mem, o->remote_domain, &rc);
  if (rc == 0 && o->local_domain)
    t->local_domain = normalized_copy(&t->mem, o->local_domain, &rc);
  return rc;
}

/* A handshake message after the handshake (a TLS 1.3 NewSessionTicket or
 * KeyUpdate) was processed: gnutls_record_recv() then returns
 * GNUTLS_E_AGAIN although records may still be buffered behind it. */
static int post_handshake_hook(gnutls_session_t s, unsigned htype,
                               unsigned when, unsigned incoming,
                               const gnutls_datum_t *msg) {
  (void)htype;
  (void)when;
  (void)msg;
  xs2s_tls *t = gnutls_session_get_ptr(s);
  if (incoming && t->established)
    t->post_handshake = 1;
  return 0;
}

static int setup_session(xs2s_tls *t) {
  gnutls_session_t s = t->session;
  /* Default: the system's policy, without the versions RFC 8996 retired
   * (made once, in the credentials). */
  int rc = gnutls_priority_set(s, t->creds->priority
                                      ? t->creds->priority
                                      : t->creds->default_priority);
  if (rc >= 0)
    rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->creds->cred);
  if (rc < 0)
    return rc == GNUTLS_E_MEMORY_ERROR ? XS2S_ERR_NOMEM : XS2S_ERR_TLS;
  gnutls_session_set_ptr(s, t);
  gnutls_transport_set_ptr(s, t);
  gnutls_transport_set_push_function(s, push_fn);
  gnutls_transport_set_pull_function(s, pull_fn);
  gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_ANY,
                                     GNUTLS_HOOK_POST, post_handshake_hook);
  if (t->role == XS2S_TLS_INITIATING) {
    rc = gnutls_server_name_set(s, GNUTLS_NAME_DNS, t->remote_domain,
                                strlen(t->remote_domain));
  } else {
    /* Ask for a certificate but go on without one (dialback); do not list
     * our CAs in the request: with the system store that list is huge. */
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    gnutls_certificate_send_x509_rdn_sequence(s, 1);
  }
  if (rc >= 0 && (t->flags & XS2S_TLS_DIRECT)) {
    gnutls_datum_t proto = {(unsigned char *)XS2S_TLS_ALPN_XMPP_SERVER,
                            sizeof(XS2S_TLS_ALPN_XMPP_SERVER) - 1};
    rc = gnutls_alpn_set_protocols(s, &proto, 1, 0);
  }
  if (rc < 0)
    return rc == GNUTLS_E_MEMORY_ERROR ? XS2S_ERR_NOMEM : XS2S_ERR_TLS;
  return 0;
}

int xs2s_tls_new(xs2s_tls **out, xs2s_tls_creds *creds, xs2s_tls_role role,
                 const xs2s_tls_options *options, const xs2s_mem *mem) {
  if (out)
    *out = NULL;
  if (!out || !creds ||
      (role != XS2S_TLS_INITIATING && role != XS2S_TLS_RECEIVING))
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_mem m;
  xs2s__mem_init(&m, mem);
  xs2s_tls *t = xs2s__calloc(&m, 1, sizeof(*t));
  if (!t)
    return XS2S_ERR_NOMEM;
  t->mem = m;
  t->role = role;
  t->flags = options ? options->flags : 0;
  xs2s__buf_init(&t->in, &t->mem);
  xs2s__buf_init(&t->out, &t->mem);
  t->creds = xs2s_tls_creds_ref(creds);
  xs2s__creds_freeze(creds);

  int rc = copy_domains(t, options);
  if (rc == 0) {
    unsigned flags = (role == XS2S_TLS_INITIATING ? GNUTLS_CLIENT
                                                   : GNUTLS_SERVER) |
                     GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS;
    int g = gnutls_init(&t->session, flags);
    if (g < 0)
      rc = g == GNUTLS_E_MEMORY_ERROR ? XS2S_ERR_NOMEM : XS2S_ERR_TLS;
  }
  if (rc == 0)
    rc = setup_session(t);
  if (rc < 0) {
    xs2s_tls_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void xs2s_tls_free(xs2s_tls *t) {
  if (!t)
    return;
  if (t->session)
    gnutls_deinit(t->session);
  xs2s__tls_drop_peer(t);
  xs2s__cert_info_free(&t->mem, &t->peer_info);
  xs2s__buf_free(&t->in);
  xs2s__buf_free(&t->out);
  xs2s__free(&t->mem, t->remote_domain);
  xs2s__free(&t->mem, t->local_domain);
  xs2s__free(&t->mem, t->sni);
  xs2s__free(&t->mem, t->alpn);
  xs2s__free(&t->mem, t->description);
  xs2s_tls_creds_unref(t->creds);
  xs2s_mem m = t->mem;
  xs2s__free(&m, t);
}

int xs2s_tls_feed(xs2s_tls *t, const void *data, size_t len) {
  if (!t || (!data && len > 0))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (t->state == XS2S__TLS_FAILED || t->state == XS2S__TLS_PEER_CLOSED ||
      t->state == XS2S__TLS_CLOSED)
    return XS2S_ERR_STREAM_CLOSED;
  return xs2s__buf_append(&t->in, data, len);
}

/* Keeps what xs2s_tls_get_info() reports. */
static int on_established(xs2s_tls *t) {
  gnutls_session_t s = t->session;
  if (t->role == XS2S_TLS_RECEIVING) {
    char sni[XS2S__DNS_NAME_MAX + 2];
    size_t size = sizeof(sni);
    unsigned type;
    if (gnutls_server_name_get(s, sni, &size, &type, 0) == 0 &&
        type == GNUTLS_NAME_DNS && !(t->sni = xs2s__strdup(&t->mem, sni)))
      return XS2S_ERR_NOMEM;
  } else if (!(t->sni = xs2s__strdup(&t->mem, t->remote_domain))) {
    return XS2S_ERR_NOMEM;
  }
  gnutls_datum_t proto;
  if (gnutls_alpn_get_selected_protocol(s, &proto) == 0 &&
      !(t->alpn = xs2s__strndup(&t->mem, (const char *)proto.data,
                                proto.size)))
    return XS2S_ERR_NOMEM;
  char *desc = gnutls_session_get_desc(s);
  if (desc) {
    t->description = xs2s__strdup(&t->mem, desc);
    gnutls_free(desc);
    if (!t->description)
      return XS2S_ERR_NOMEM;
  }
  return 0;
}

int xs2s_tls_handshake(xs2s_tls *t) {
  if (!t)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (t->state == XS2S__TLS_FAILED)
    return XS2S_ERR_TLS_HANDSHAKE;
  if (t->state != XS2S__TLS_HANDSHAKE)
    return 0;
  for (;;) {
    int rc = gnutls_handshake(t->session);
    if (rc == 0)
      break;
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
      return t->out_oom ? fail(t, rc, XS2S_ERR_NOMEM) : XS2S_TLS_AGAIN;
    /* A warning alert (e.g. unrecognized_name) was consumed: go on. Any
     * other code, fatal or not, ends the handshake, so that nothing can
     * make this loop spin without consuming input. */
    if (rc == GNUTLS_E_WARNING_ALERT_RECEIVED)
      continue;
    /* Tell the peer why, unless it told us or we cannot write. */
    if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED && !t->out_oom)
      gnutls_alert_send_appropriate(t->session, rc);
    return fail(t, rc, XS2S_ERR_TLS_HANDSHAKE);
  }
  int rc = on_established(t);
  if (rc < 0)
    return fail(t, GNUTLS_E_MEMORY_ERROR, rc);
  t->established = 1;
  t->state = XS2S__TLS_OPEN;
  return 0;
}

int xs2s_tls_is_established(const xs2s_tls *t) {
  return t && t->established && t->state != XS2S__TLS_FAILED;
}

int xs2s_tls_write(xs2s_tls *t, const void *data, size_t len) {
  if (!t || (!data && len > 0))
    return XS2S_ERR_INVALID_ARGUMENT;
  if (t->state != XS2S__TLS_OPEN && t->state != XS2S__TLS_PEER_CLOSED)
    return XS2S_ERR_BAD_STATE;
  if (len == 0)
    return 0;
  /* Room for every record first, so that running out of memory leaves
   * the session as it was instead of half-written. */
  size_t records = len / XS2S_TLS_MAX_RECORD + 1;
  size_t per_record = gnutls_record_overhead_size(t->session) + 32;
  if (len > (size_t)-1 / 4 || xs2s__buf_reserve(&t->out, len + records *
                                                                   per_record) <
                                   0)
    return XS2S_ERR_NOMEM;
  const char *p = data;
  size_t off = 0;
  while (off < len) {
    size_t chunk = len - off;
    if (chunk > XS2S_TLS_MAX_RECORD)
      chunk = XS2S_TLS_MAX_RECORD;
    ssize_t n = gnutls_record_send(t->session, p + off, chunk);
    if (n < 0) /* push_fn never blocks, so even EAGAIN is a failure */
      return fail(t, (int)n, XS2S_ERR_TLS);
    off += (size_t)n;
  }
  return 0;
}

/* The peer sent close_notify. */
static ssize_t peer_closed(xs2s_tls *t) {
  t->state = t->state == XS2S__TLS_BYE_SENT ? XS2S__TLS_CLOSED
                                            : XS2S__TLS_PEER_CLOSED;
  return XS2S_ERR_TLS_PEER_CLOSED;
}

ssize_t xs2s_tls_read(xs2s_tls *t, void *buf, size_t cap) {
  if (!t || !buf || cap == 0)
    return XS2S_ERR_INVALID_ARGUMENT;
  switch (t->state) {
  case XS2S__TLS_HANDSHAKE:
    return XS2S_ERR_BAD_STATE;
  case XS2S__TLS_FAILED:
    return XS2S_ERR_TLS;
  case XS2S__TLS_PEER_CLOSED:
  case XS2S__TLS_CLOSED:
    return XS2S_ERR_TLS_PEER_CLOSED;
  case XS2S__TLS_OPEN:
  case XS2S__TLS_BYE_SENT:
    break;
  }
  for (;;) {
    ssize_t n = gnutls_record_recv(t->session, buf, cap);
    if (n > 0)
      return n;
    if (n == 0)
      return peer_closed(t);
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      if (t->out_oom)
        return fail(t, (int)n, XS2S_ERR_NOMEM);
      if (!t->post_handshake)
        return 0;
      t->post_handshake = 0; /* look behind it */
      continue;
    }
    if (n == GNUTLS_E_REHANDSHAKE) {
      /* TLS 1.2 renegotiation is not supported; say so and go on. */
      gnutls_alert_send(t->session, GNUTLS_AL_WARNING,
                        GNUTLS_A_NO_RENEGOTIATION);
      continue;
    }
    if (n == GNUTLS_E_WARNING_ALERT_RECEIVED)
      continue;
    return fail(t, (int)n, XS2S_ERR_TLS);
  }
}

const void *xs2s_tls_output(const xs2s_tls *t, size_t *len) {
  *len = t->out.len;
  return xs2s__buf_bytes(&t->out);
}

void xs2s_tls_output_consume(xs2s_tls *t, size_t n) {
  xs2s__buf_consume(&t->out, n);
}

int xs2s_tls_bye(xs2s_tls *t) {
  if (!t)
    return XS2S_ERR_INVALID_ARGUMENT;
  switch (t->state) {
  case XS2S__TLS_HANDSHAKE:
    t->state = XS2S__TLS_CLOSED;
    return 0;
  case XS2S__TLS_OPEN:
  case XS2S__TLS_PEER_CLOSED: {
    int rc = gnutls_bye(t->session, GNUTLS_SHUT_WR);
    if (rc < 0 && rc != GNUTLS_E_AGAIN)
      return fail(t, rc, XS2S_ERR_TLS);
    t->state = t->state == XS2S__TLS_OPEN ? XS2S__TLS_BYE_SENT
                                          : XS2S__TLS_CLOSED;
    return t->out_oom ? fail(t, rc, XS2S_ERR_NOMEM) : 0;
  }
  default:
    return 0;
  }
}

const char *xs2s_tls_error_detail(const xs2s_tls *t) {
  return t ? t->detail : "";
}

int xs2s_tls_get_info(const xs2s_tls *t, xs2s_tls_info *info) {
  if (!t || !info)
    return XS2S_ERR_INVALID_ARGUMENT;
  if (!t->established)
    return XS2S_ERR_BAD_STATE;
  gnutls_session_t s = t->session;
  memset(info, 0, sizeof(*info));
  info->version = gnutls_protocol_get_name(gnutls_protocol_get_version(s));
  info->cipher = gnutls_cipher_get_name(gnutls_cipher_get(s));
  info->description = t->description;
  info->alpn = t->alpn;
  info->sni = t->sni;
  unsigned n = 0;
  info->peer_cert = gnutls_certificate_get_peers(s, &n) != NULL && n > 0;
  return 0;
}

void xs2s__tls_drop_peer(xs2s_tls *t) {
  for (size_t i = 0; i < t->peer_count; i++)
    gnutls_x509_crt_deinit(t->peer[i]);
  xs2s__free(&t->mem, t->peer);
  t->peer = NULL;
  t->peer_count = 0;
}

int xs2s__tls_load_peer(xs2s_tls *t) {
  if (t->peer || (t->peer_loaded && !t->peer_info_ok))
    return 0;
  unsigned n = 0;
  const gnutls_datum_t *raw = gnutls_certificate_get_peers(t->session, &n);
  if (!raw || n == 0) {
    t->peer_loaded = 1;
    return 0;
  }
  t->peer = xs2s__calloc(&t->mem, n, sizeof(*t->peer));
  if (!t->peer)
    return XS2S_ERR_NOMEM;
  int rc = 0;
  for (unsigned i = 0; i < n && rc == 0; i++) {
    if (gnutls_x509_crt_init(&t->peer[i]) < 0) {
      rc = XS2S_ERR_NOMEM;
      break;
    }
    t->peer_count = i + 1;
    if (gnutls_x509_crt_import(t->peer[i], &raw[i], GNUTLS_X509_FMT_DER) < 0)
      rc = XS2S_ERR_TLS;
  }
  if (rc == 0 && !t->peer_loaded)
    rc = xs2s__cert_info(t->peer[0], n, &t->mem, &t->peer_info);
  if (rc < 0) {
    xs2s__tls_drop_peer(t);
    return rc;
  }
  t->peer_loaded = 1;
  t->peer_info_ok = 1;
  return 0;
}

int xs2s_tls_peer_cert(xs2s_tls *t, const xs2s_tls_cert_info **info) {
  if (!t || !info)
    return XS2S_ERR_INVALID_ARGUMENT;
  *info = NULL;
  if (!t->established)
    return XS2S_ERR_BAD_STATE;
  int rc = xs2s__tls_load_peer(t);
  if (rc < 0)
    return rc;
  xs2s__tls_drop_peer(t); /* the info is all that is kept */
  if (!t->peer_info_ok)
    return XS2S_ERR_NOT_FOUND;
  *info = &t->peer_info;
  return 0;
}
