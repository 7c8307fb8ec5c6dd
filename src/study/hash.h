#pragma once
// The name of a job's folder: a 64-bit FNV-1a hash of its canonical settings, as 16 hex digits.
#include <string>
#include <string_view>

namespace loaq::study {

std::string hash_hex(std::string_view text);

}  // namespace loaq::study
