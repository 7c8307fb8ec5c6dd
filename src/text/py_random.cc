#include "text/py_random.h"

#include <bit>

#include "core/error.h"

namespace loaq {

namespace {
constexpr int kN = 624, kM = 397;
}

PyRandom::PyRandom(uint64_t seed) {
  // init_genrand(19650218), then init_by_array(key) with key = the 32-bit words of the seed,
  // least significant first (a single word 0 for seed 0): CPython's random_seed / init_by_array.
  uint32_t key[2];
  int key_len = 0;
  key[key_len++] = uint32_t(seed);
  if (seed >> 32) key[key_len++] = uint32_t(seed >> 32);
  mt_[0] = 19650218u;
  for (int i = 1; i < kN; ++i) mt_[size_t(i)] = 1812433253u * (mt_[size_t(i - 1)] ^ (mt_[size_t(i - 1)] >> 30)) + uint32_t(i);
  int i = 1, j = 0;
  for (int k = kN > key_len ? kN : key_len; k; --k) {
    mt_[size_t(i)] = (mt_[size_t(i)] ^ ((mt_[size_t(i - 1)] ^ (mt_[size_t(i - 1)] >> 30)) * 1664525u)) + key[j] + uint32_t(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= key_len) j = 0;
  }
  for (int k = kN - 1; k; --k) {
    mt_[size_t(i)] = (mt_[size_t(i)] ^ ((mt_[size_t(i - 1)] ^ (mt_[size_t(i - 1)] >> 30)) * 1566083941u)) - uint32_t(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000u;
  idx_ = kN;
}

uint32_t PyRandom::next_u32() {
  constexpr uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrix = 0x9908b0dfu;
  if (idx_ >= kN) {
    for (int k = 0; k < kN; ++k) {
      const uint32_t y = (mt_[size_t(k)] & kUpper) | (mt_[size_t((k + 1) % kN)] & kLower);
      mt_[size_t(k)] = mt_[size_t((k + kM) % kN)] ^ (y >> 1) ^ ((y & 1u) ? kMatrix : 0u);
    }
    idx_ = 0;
  }
  uint32_t y = mt_[size_t(idx_++)];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint32_t PyRandom::getrandbits(int k) {
  if (k < 1 || k > 32) fail("getrandbits: k = {} outside [1, 32]", k);
  return next_u32() >> (32 - k);
}

int64_t PyRandom::randint(int64_t a, int64_t b) {
  if (b < a) fail("randint: empty range [{}, {}]", a, b);
  const auto n = uint64_t(b - a) + 1;
  if (n > 0xffffffffull) fail("randint: range of {} values exceeds 32 bits", n);
  const int k = std::bit_width(n);
  uint32_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return a + int64_t(r);
}

}  // namespace loaq
