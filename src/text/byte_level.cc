#include "text/byte_level.h"

#include <array>

#include "text/utf8.h"

namespace loaq::byte_level {

namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};  // every alphabet character is below U+0200
  std::array<std::string, 256> utf8;
  Tables() {
    to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[size_t(b)] = printable ? char32_t(b) : char32_t(256 + n++);
    }
    for (int b = 0; b < 256; ++b) {
      to_byte[to_char[size_t(b)]] = int16_t(b);
      utf8::append(utf8[size_t(b)], to_char[size_t(b)]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) {
  return tables().to_char[b];
}

int char_to_byte(char32_t c) {
  return c < 512 ? tables().to_byte[c] : -1;
}

void encode(std::string_view bytes, std::string& out) {
  const Tables& t = tables();
  for (const char c : bytes) out.append(t.utf8[static_cast<unsigned char>(c)]);
}

}  // namespace loaq::byte_level
