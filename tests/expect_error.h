#pragma once
// For tests of loaq's error messages: `f` must throw loaq::Error whose message contains every one
// of `parts` (a file's path, the tensor or field it names, what is wrong).
#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <initializer_list>
#include <string>

#include "core/error.h"

namespace loaq::test {

inline void expect_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message lacks '" << p << "': " << msg;
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-loaq exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "did not throw";
}

}  // namespace loaq::test
