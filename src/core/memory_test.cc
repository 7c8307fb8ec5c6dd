// Measured memory: RssAnon and ru_maxrss follow an allocation that is touched, the sampler sees a
// short-lived peak, and sizes parse exactly or fail naming the option.
#include "core/memory.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "core/error.h"

namespace loaq {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// Allocates and touches `bytes` (every page written, so it is resident), keeps it for `hold`.
void touch_and_hold(uint64_t bytes, std::chrono::milliseconds hold) {
  std::unique_ptr<char[]> p(new char[bytes]);
  std::memset(p.get(), 1, bytes);
  // Keep the compiler from eliding the buffer.
  volatile char sink = p[bytes / 2];
  (void)sink;
  std::this_thread::sleep_for(hold);
}

TEST(Memory, AnonAndPeakRssAreMeasured) {
  const uint64_t anon = current_anon_bytes();
  EXPECT_GT(anon, 0u);
  EXPECT_GE(peak_rss_bytes(), anon);
}

// AddressSanitizer keeps freed memory in its quarantine: the release checks hold only without it.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kQuarantine = true;
#else
constexpr bool kQuarantine = false;
#endif

TEST(Memory, SamplerSeesA200MBPeak) {
  const uint64_t base = current_anon_bytes();
  AnonPeakSampler s(5);
  s.start();
  EXPECT_TRUE(s.running());
  touch_and_hold(200 * kMiB, std::chrono::milliseconds(300));
  // Freed before stop(): only the sampler can have seen it (glibc returns a block this large to
  // the system at once, it was mmap'd).
  if (!kQuarantine) {
    EXPECT_LT(current_anon_bytes(), base + 50 * kMiB);
  }
  s.stop();
  EXPECT_FALSE(s.running());
  const uint64_t peak = s.peak_bytes();
  EXPECT_GE(peak, base + 190 * kMiB) << "base " << base << " peak " << peak;
  EXPECT_LE(peak, base + 250 * kMiB) << "base " << base << " peak " << peak;
  EXPECT_GE(peak_rss_bytes(), 200 * kMiB);

  // A restart resets the peak.
  s.start();
  s.stop();
  if (!kQuarantine) {
    EXPECT_LT(s.peak_bytes(), base + 50 * kMiB);
  }
}

TEST(Memory, ParseMemorySize) {
  EXPECT_EQ(parse_memory_size("1000000", "--max-memory"), 1000000u);
  EXPECT_EQ(parse_memory_size("0", "--max-memory"), 0u);
  EXPECT_EQ(parse_memory_size("20G", "--max-memory"), 20ull << 30);
  EXPECT_EQ(parse_memory_size("512M", "--max-memory"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("512m", "--max-memory"), 512ull << 20);
  EXPECT_EQ(parse_memory_size("1.5GiB", "--max-memory"), 3ull << 29);
  EXPECT_EQ(parse_memory_size("64KiB", "--max-memory"), 64ull << 10);
  EXPECT_EQ(parse_memory_size("2T", "--max-memory"), 2ull << 40);
  EXPECT_EQ(parse_memory_size("5GB", "--max-memory"), 5'000'000'000ull);
  EXPECT_EQ(parse_memory_size("2.5MB", "--max-memory"), 2'500'000ull);
  EXPECT_EQ(parse_memory_size("100B", "--max-memory"), 100u);
  EXPECT_EQ(parse_memory_size(".5K", "--max-memory"), 512u);

  for (const char* bad :
       {"", "G", "-1G", "1.5", "12X", "1 G", "1e9", "1.2.3G", "20GG", "99999999999999999999999"}) {
    try {
      parse_memory_size(bad, "--max-memory");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("--max-memory"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos) << msg;
    }
  }
}

TEST(Memory, FormatBytes) {
  EXPECT_EQ(format_bytes(100), "100 B");
  EXPECT_EQ(format_bytes(3ull << 29), "1.50 GiB");
  EXPECT_EQ(format_bytes(512ull << 20), "512.00 MiB");
}

}  // namespace
}  // namespace loaq
