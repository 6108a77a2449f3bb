/*
 * dialback_key.c: XEP-0185 dialback keys, their comparison, and random
 * secrets, on GnuTLS.
 */
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <xs2s/dialback.h>

#define SHA256_LEN 32

static void to_hex(const unsigned char *bin, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[bin[i] >> 4];
    out[2 * i + 1] = digits[bin[i] & 0xf];
  }
  out[2 * n] = '\0';
}

/* Length of @s when it is a usable key input: 1..@max bytes and no space
 * (the separator of the HMAC message); else 0. */
static size_t part_len(const char *s, size_t max) {
  if (!s)
    return 0;
  size_t n = strnlen(s, max + 1);
  if (n == 0 || n > max || memchr(s, ' ', n))
    return 0;
  return n;
}

int xs2s_dialback_key(const char *secret, const char *receiving_domain,
                      const char *originating_domain, const char *stream_id,
                      char out[XS2S_DIALBACK_KEY_SIZE]) {
  if (!out)
    return XS2S_ERR_INVALID_ARGUMENT;
  out[0] = '\0';
  size_t rl = part_len(receiving_domain, XS2S_DIALBACK_DOMAIN_MAX);
  size_t ol = part_len(originating_domain, XS2S_DIALBACK_DOMAIN_MAX);
  size_t il = part_len(stream_id, XS2S_DIALBACK_ID_MAX);
  if (!secret || !*secret || !rl || !ol || !il)
    return XS2S_ERR_INVALID_ARGUMENT;

  /* The HMAC key is the hex text of the secret's hash, not its bytes. */
  unsigned char digest[SHA256_LEN];
  char hashed_secret[2 * SHA256_LEN + 1];
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), digest) < 0)
    return XS2S_ERR_INTERNAL;
  to_hex(digest, SHA256_LEN, hashed_secret);

  char msg[2 * XS2S_DIALBACK_DOMAIN_MAX + XS2S_DIALBACK_ID_MAX + 2];
  size_t n = 0;
  memcpy(msg + n, receiving_domain, rl);
  n += rl;
  msg[n++] = ' ';
  memcpy(msg + n, originating_domain, ol);
  n += ol;
  msg[n++] = ' ';
  memcpy(msg + n, stream_id, il);
  n += il;

  int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, hashed_secret, 2 * SHA256_LEN,
                            msg, n, digest);
  gnutls_memset(hashed_secret, 0, sizeof(hashed_secret));
  if (rc < 0)
    return XS2S_ERR_INTERNAL;
  to_hex(digest, SHA256_LEN, out);
  return 0;
}

static int xml_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int xs2s_dialback_key_equal(const char *expected, const char *received,
                            size_t received_len) {
  if (!expected || !received)
    return 0;
  while (received_len && xml_space(*received)) {
    received++;
    received_len--;
  }
  while (received_len && xml_space(received[received_len - 1]))
    received_len--;
  size_t n = strlen(expected);
  if (n != received_len || n == 0)
    return 0;
  /* Accumulate every difference so the time does not depend on where the
   * first one is. */
  unsigned char diff = 0;
  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)expected[i] ^ (unsigned char)received[i];
  return diff == 0;
}

int xs2s_dialback_secret_generate(char out[XS2S_DIALBACK_KEY_SIZE]) {
  if (!out)
    return XS2S_ERR_INVALID_ARGUMENT;
  unsigned char raw[SHA256_LEN];
  out[0] = '\0';
  if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) < 0)
    return XS2S_ERR_INTERNAL;
  to_hex(raw, sizeof(raw), out);
  gnutls_memset(raw, 0, sizeof(raw));
  return 0;
}
