#pragma once
// Error type of loaq: every failure the user can cause (bad file, bad option, unsupported model) is
// reported as a loaq::Error whose message names the file or field and what is wrong.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace loaq {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws loaq::Error with a fmt-formatted message.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace loaq
