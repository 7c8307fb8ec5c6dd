#include "core/memory.h"

#include <sys/resource.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string_view>

#include "core/error.h"

namespace loaq {

uint64_t peak_rss_bytes() {
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return uint64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

uint64_t current_anon_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) != 0) continue;
    // "RssAnon:	  123456 kB"
    size_t i = 8;
    while (i < line.size() && !std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    uint64_t kb = 0;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])))
      kb = kb * 10 + uint64_t(line[i++] - '0');
    return kb * 1024;
  }
  return 0;
}

void AnonPeakSampler::sample() {
  const uint64_t v = current_anon_bytes();
  uint64_t cur = peak_.load();
  while (v > cur && !peak_.compare_exchange_weak(cur, v)) {
  }
}

void AnonPeakSampler::start() {
  if (running()) return;
  peak_ = 0;
  stop_ = false;
  sample();
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(period_ms_));
      sample();
    }
  });
}

void AnonPeakSampler::stop() {
  if (!running()) return;
  stop_ = true;
  thread_.join();
  sample();
}

uint64_t parse_memory_size(const std::string& text, const std::string& what) {
  auto bad = [&](std::string_view why) -> uint64_t {
    fail(
        "{}: '{}' is not a memory size ({}); expected a number with an optional unit, e.g. 20G, "
        "512M, 1.5GiB, 1000000 (K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB of "
        "1000)",
        what, text, why);
  };
  size_t i = 0, digits = 0;
  double value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    value = value * 10 + (text[i++] - '0');
    ++digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    double scale = 0.1;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value += (text[i++] - '0') * scale;
      scale /= 10;
      ++digits;
    }
  }
  if (digits == 0) return bad("no number");
  std::string unit;
  for (; i < text.size(); ++i) unit += char(std::toupper(static_cast<unsigned char>(text[i])));
  double mul = 0;
  const double k = 1024;
  if (unit.empty() || unit == "B")
    mul = 1;
  else if (unit == "K" || unit == "KIB")
    mul = k;
  else if (unit == "M" || unit == "MIB")
    mul = k * k;
  else if (unit == "G" || unit == "GIB")
    mul = k * k * k;
  else if (unit == "T" || unit == "TIB")
    mul = k * k * k * k;
  else if (unit == "KB")
    mul = 1e3;
  else if (unit == "MB")
    mul = 1e6;
  else if (unit == "GB")
    mul = 1e9;
  else if (unit == "TB")
    mul = 1e12;
  else
    return bad("unknown unit '" + text.substr(text.size() - unit.size()) + "'");
  const double bytes = value * mul;
  if (!(bytes < 1.8e19)) return bad("too large");
  if (mul == 1 && text.find('.') != std::string::npos) return bad("a fraction of a byte");
  return uint64_t(bytes);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = double(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.2f} {}", v, units[u]);
}

}  // namespace loaq
