#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace loaq {

namespace {
std::atomic<bool> g_enabled{true};
}

void Progress::set_enabled(bool on) { g_enabled = on; }

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "--:--";
  const auto t = int64_t(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}

Progress::Progress(std::string label, int64_t total, std::string unit, bool show)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      active_(show && g_enabled && isatty(fileno(stderr))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::advance(int64_t n) {
  done_ += n;
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= std::chrono::milliseconds(100)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (active_) draw(true);
}

void Progress::draw(bool final) {
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = el > 0 ? double(done_) / el : 0.0;
  const double frac = total_ > 0 ? double(done_) / double(total_) : 0.0;
  constexpr int kWidth = 30;
  const int fill = int(frac * kWidth);
  std::string bar(size_t(fill), '=');
  if (fill < kWidth) bar += '>' + std::string(size_t(kWidth - fill - 1), ' ');
  const double eta = rate > 0 ? double(total_ - done_) / rate : -1.0;
  fmt::print(stderr, "\r{} [{}] {}/{} {:.1f} {}/s {} {}{}", label_, bar, done_, total_, rate, unit_,
             final ? "elapsed" : "ETA", format_duration(final ? el : eta), final ? "\n" : "   ");
  std::fflush(stderr);
}

}  // namespace loaq
