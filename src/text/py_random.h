#pragma once
// Python's `random` module generator (MT19937 seeded by init_by_array, as random.seed(int) does),
// so that calibration windows are drawn exactly as GPTQ's data loaders draw them with
// random.seed(seed) and random.randint(a, b).
#include <array>
#include <cstdint>

namespace loaq {

class PyRandom {
 public:
  // random.seed(seed) for a non-negative integer seed.
  explicit PyRandom(uint64_t seed);
  // The next 32 random bits (MT19937 genrand_uint32).
  uint32_t next_u32();
  // random.getrandbits(k) for 1 ≤ k ≤ 32.
  uint32_t getrandbits(int k);
  // random.randint(a, b): uniform on [a, b] by rejection sampling on bit_length(b − a + 1) bits.
  int64_t randint(int64_t a, int64_t b);

 private:
  std::array<uint32_t, 624> mt_{};
  int idx_ = 625;
};

}  // namespace loaq
