#pragma once
// A progress bar with rate and ETA on stderr. Draws only when stderr is a terminal (and not when
// disabled), at most ten times a second, so it costs nothing in logs and tests.
#include <chrono>
#include <cstdint>
#include <string>

namespace loaq {

class Progress {
 public:
  // Nothing is drawn when `show` is false, when disabled globally, or when stderr is not a terminal.
  Progress(std::string label, int64_t total, std::string unit = "it", bool show = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  // Draws the final state and ends the line.
  void finish();

  // Globally disable drawing (e.g. --quiet).
  static void set_enabled(bool on);

 private:
  void draw(bool final);

  std::string label_, unit_;
  int64_t total_, done_ = 0;
  bool active_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:02:03" or "02:03".
std::string format_duration(double seconds);

}  // namespace loaq
