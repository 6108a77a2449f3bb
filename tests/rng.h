/*
 * rng.h: a seeded generator for tests that need reproducible "random"
 * orders (splitmix64, reduced to 32 bits).
 */
#ifndef XS2S_TEST_RNG_H
#define XS2S_TEST_RNG_H

#include <stdint.h>

static inline uint32_t test_rng(void *state) {
  uint64_t *s = state;
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}

#endif /* XS2S_TEST_RNG_H */
