#pragma once
// UTF-8 as the Hugging Face tokenizers read it, extended to byte strings that are not valid UTF-8.
// An ill-formed sequence is counted as its "maximal subpart" (Unicode 15, §3.9 D93b; what Rust's
// String::from_utf8_lossy replaces by one U+FFFD): the longest prefix of a well-formed sequence, at
// least one byte. The tokenizers treat such a subpart as one opaque character that no regex
// matches and no vocabulary holds.
#include <cstddef>
#include <string>
#include <string_view>

namespace loaq::utf8 {

// The byte length of the character that starts at s[i] (requires i < s.size()). Sets *valid to
// whether it is a well-formed UTF-8 sequence; an ill-formed one reports its maximal subpart.
size_t char_length(std::string_view s, size_t i, bool* valid);

// The code point of the well-formed sequence of `n` bytes at s[i] (as char_length reported it).
char32_t decode(std::string_view s, size_t i, size_t n);

// Appends the UTF-8 encoding of `cp` (a Unicode scalar value) to `out`.
void append(std::string& out, char32_t cp);

// True when `s` is entirely well-formed UTF-8.
bool is_valid(std::string_view s);

// Rust's String::from_utf8_lossy: every maximal ill-formed subpart becomes U+FFFD; valid input is
// returned unchanged.
std::string to_valid_lossy(std::string_view bytes);

}  // namespace loaq::utf8
