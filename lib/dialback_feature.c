/*
 * dialback_feature.c: the XEP-0220 stream feature and the rule for
 * multiplexing target domains on one stream.
 */
#include <netinet/in.h>
#include <string.h>

#include <xs2s/dialback.h>

int xs2s_dialback_feature_add(xs2s_stanza *features) {
  if (!features || xs2s_stanza_type(features) != XS2S_NODE_ELEMENT)
    return XS2S_ERR_INVALID_ARGUMENT;
  xs2s_stanza *db =
      xs2s_stanza_add_child(features, "dialback", XS2S_NS_DIALBACK_FEATURE);
  if (!db || !xs2s_stanza_add_child(db, "errors", NULL))
    return XS2S_ERR_NOMEM;
  return 0;
}

unsigned xs2s_dialback_feature_parse(const xs2s_stanza *features) {
  if (!features || xs2s_stanza_type(features) != XS2S_NODE_ELEMENT)
    return 0;
  const xs2s_stanza *db =
      xs2s_stanza_find_child(features, "dialback", XS2S_NS_DIALBACK_FEATURE);
  if (!db)
    return 0;
  unsigned bits = XS2S_DIALBACK_FEATURE_OFFERED;
  if (xs2s_stanza_find_child(db, "errors", XS2S_NS_DIALBACK_FEATURE))
    bits |= XS2S_DIALBACK_FEATURE_ERRORS;
  return bits;
}

/* An address reduced to 16 bytes (IPv4 as IPv4-mapped IPv6) and a port;
 * 0 when the family is not an IP one. */
static int ip_key(const struct sockaddr *sa, unsigned char addr[16],
                  unsigned *port) {
  if (!sa)
    return 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    memset(addr, 0, 10);
    addr[10] = addr[11] = 0xff;
    memcpy(addr + 12, &in->sin_addr, 4);
    *port = ntohs(in->sin_port);
    return 1;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    memcpy(addr, &in6->sin6_addr, 16);
    *port = ntohs(in6->sin6_port);
    return 1;
  }
  return 0;
}

int xs2s_dialback_may_multiplex(unsigned peer_features,
                                const struct sockaddr *stream_peer,
                                const struct sockaddr *const *candidates,
                                size_t count) {
  if (!(peer_features & XS2S_DIALBACK_FEATURE_ERRORS) || !candidates)
    return 0;
  unsigned char want[16];
  unsigned want_port;
  if (!ip_key(stream_peer, want, &want_port))
    return 0;
  for (size_t i = 0; i < count; i++) {
    unsigned char got[16];
    unsigned got_port;
    if (ip_key(candidates[i], got, &got_port) && got_port == want_port &&
        memcmp(got, want, 16) == 0)
      return 1;
  }
  return 0;
}
