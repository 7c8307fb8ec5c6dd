#pragma once
// Measured memory of this process, for reports and memory plans: the peak resident set (getrusage),
// the current anonymous resident set (/proc/self/status RssAnon: heap and private mappings, without
// the page cache of mmap'd checkpoint files), a sampler of its peak, and sizes as users write them.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace loaq {

// Peak resident set size of this process so far, in bytes (getrusage ru_maxrss, file pages
// included).
uint64_t peak_rss_bytes();
// Current anonymous resident memory in bytes (RssAnon of /proc/self/status); 0 where unavailable.
uint64_t current_anon_bytes();

// Samples current_anon_bytes() on a background thread every `period_ms` between start() and stop(),
// keeping the maximum. start() samples once at once; stop() samples once more, so a peak that lasts
// through either call is seen even if shorter than the period.
class AnonPeakSampler {
 public:
  explicit AnonPeakSampler(int period_ms = 20) : period_ms_(period_ms) {}
  ~AnonPeakSampler() { stop(); }
  AnonPeakSampler(const AnonPeakSampler&) = delete;
  AnonPeakSampler& operator=(const AnonPeakSampler&) = delete;

  void start();  // resets the peak; a no-op while running
  void stop();   // a no-op when not running
  bool running() const { return thread_.joinable(); }
  // The largest sample since start() (also while running).
  uint64_t peak_bytes() const { return peak_.load(); }

 private:
  void sample();
  int period_ms_;
  std::atomic<uint64_t> peak_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Parses a memory size: a non-negative decimal number (fraction allowed) with an optional unit,
// case-insensitive: none or B (bytes), K/M/G/T and KiB/MiB/GiB/TiB (powers of 1024), KB/MB/GB/TB
// (powers of 1000). "20G", "512M", "1.5GiB", "1000000". The result is rounded down to whole bytes.
// Throws loaq::Error naming `what` (e.g. "--max-memory") and the text on anything else.
uint64_t parse_memory_size(const std::string& text, const std::string& what);

// "1.50 GiB", "512.0 MiB", "100 B": for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace loaq
