#pragma once
// GPT-2's byte-level alphabet (bytes_to_unicode): every byte value is shown as one printable
// character, so a byte-level BPE vocabulary is made of valid strings. Printable Latin-1 bytes
// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the 68 others map, in byte order, to
// U+0100, U+0101, ... (space is 'Ġ' U+0120, newline 'Ċ' U+010A).
#include <cstdint>
#include <string>
#include <string_view>

namespace loaq::byte_level {

// The character that stands for byte `b`.
char32_t byte_to_char(uint8_t b);
// The byte a character stands for, or -1 when `c` is not in the alphabet.
int char_to_byte(char32_t c);
// Appends the alphabet encoding of every byte of `bytes` to `out`.
void encode(std::string_view bytes, std::string& out);

}  // namespace loaq::byte_level
