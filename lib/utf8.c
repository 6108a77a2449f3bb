/*
 * utf8.c: UTF-8 validation (RFC 3629) and XML 1.0 character classes.
 */
#include "utf8.h"

#include <string.h>

/* Sets up @st for the sequence that lead byte @c starts; 0 when @c cannot
 * start one. */
static int lead(xs2s__utf8 *st, unsigned char c) {
  st->lo = 0x80;
  st->hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    st->need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    st->need = 2;
    if (c == 0xE0)
      st->lo = 0xA0; /* overlong */
    else if (c == 0xED)
      st->hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    st->need = 3;
    if (c == 0xF0)
      st->lo = 0x90; /* overlong */
    else if (c == 0xF4)
      st->hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  return 1;
}

/* 1 when the eight bytes at @p are all ASCII. */
static int ascii8(const unsigned char *p) {
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  return (w & 0x8080808080808080ull) == 0;
}

size_t xs2s__utf8_scan(xs2s__utf8 *st, const char *data, size_t len) {
  const unsigned char *s = (const unsigned char *)data;
  size_t i = 0;
  while (i < len) {
    if (st->need == 0) {
      while (i + 8 <= len && ascii8(s + i))
        i += 8;
      if (i == len)
        break;
      unsigned char c = s[i];
      if (c < 0x80) {
        i++;
        continue;
      }
      if (!lead(st, c))
        return i;
      i++;
      continue;
    }
    unsigned char c = s[i];
    if (c < st->lo || c > st->hi)
      return i;
    st->need--;
    st->lo = 0x80;
    st->hi = 0xBF;
    i++;
  }
  return len;
}

int xs2s__utf8_valid(const char *s, size_t len) {
  xs2s__utf8 st = {0, 0, 0};
  return xs2s__utf8_scan(&st, s, len) == len && st.need == 0;
}

/* Decodes the code point at @s[*i] (input already known to be valid UTF-8
 * or checked here); returns it and advances *i, or returns -1. */
static long decode(const unsigned char *s, size_t len, size_t *i) {
  xs2s__utf8 st;
  unsigned char c = s[*i];
  if (c < 0x80) {
    (*i)++;
    return c;
  }
  if (!lead(&st, c))
    return -1;
  long cp = c & (st.need == 1 ? 0x1F : st.need == 2 ? 0x0F : 0x07);
  size_t j = *i + 1;
  while (st.need > 0) {
    if (j >= len || s[j] < st.lo || s[j] > st.hi)
      return -1;
    cp = (cp << 6) | (s[j] & 0x3F);
    st.lo = 0x80;
    st.hi = 0xBF;
    st.need--;
    j++;
  }
  *i = j;
  return cp;
}

int xs2s__xml_text_valid(const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80) {
      i++;
      continue;
    }
    long cp = decode(s, len, &i);
    if (cp < 0)
      return 0;
    if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
      return 0;
    if (cp == 0xFFFE || cp == 0xFFFF)
      return 0;
  }
  return 1;
}

/* XML 1.0 (fifth edition) NameStartChar, without the colon. */
static int name_start(long c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) ||
         (c >= 0xF8 && c <= 0x2FF) || (c >= 0x370 && c <= 0x37D) ||
         (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) ||
         (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) ||
         (c >= 0x3001 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
         (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

/* NameChar, without the colon. */
static int name_char(long c) {
  if (name_start(c))
    return 1;
  return c == '-' || c == '.' || (c >= '0' && c <= '9') || c == 0xB7 ||
         (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

int xs2s__xml_ncname_valid(const char *name) {
  const unsigned char *s = (const unsigned char *)name;
  size_t len = strlen(name), i = 0;
  if (len == 0)
    return 0;
  while (i < len) {
    int first = i == 0;
    long c = decode(s, len, &i);
    if (c < 0 || !(first ? name_start(c) : name_char(c)))
      return 0;
  }
  return 1;
}
