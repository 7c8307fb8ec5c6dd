#include "study/hash.h"

#include <fmt/format.h>

#include <cstdint>

namespace loaq::study {

std::string hash_hex(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace loaq::study
