// Bad inputs through the real CLI: for each broken copy of a model directory, `loaq eval` must end
// with exit status 1 and a message on stderr that says "error" and names the file, tensor or field,
// never with a crash. A positive control checks that the unmodified copy succeeds.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "test_assets.h"

extern char** environ;

namespace loaq {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  bool signaled = false;
  int signal = 0;
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs `args` (args[0] is the executable) with stdout and stderr captured through one pipe.
RunResult run(const std::vector<std::string>& args) {
  RunResult r;
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(err);
    return r;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, size_t(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  }
  return r;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A safetensors file split into its JSON header and its data section, to be edited and written
// back (header re-padded to a multiple of 8; offsets are relative to the data section).
struct RawSafetensors {
  nlohmann::ordered_json header;
  std::string data;

  static RawSafetensors read(const std::string& path) {
    const std::string raw = read_bytes(path);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(raw.at(size_t(i)))) << (8 * i);
    return {nlohmann::ordered_json::parse(raw.substr(8, n)), raw.substr(8 + n)};
  }
  void write(const std::string& path) const {
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(h.size()) >> (8 * i)) & 0xff);
    write_bytes(path, out + h + data);
  }
  uint64_t begin(const std::string& name) const { return header.at(name).at("data_offsets")[0]; }
  uint64_t end(const std::string& name) const { return header.at(name).at("data_offsets")[1]; }
};

const char* const kQ = "model.layers.0.self_attn.q_proj.weight";
const char* const kK = "model.layers.0.self_attn.k_proj.weight";

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto src = test::asset("models/stories260K");
    if (!src) GTEST_SKIP() << "asset 'models/stories260K' not found (set LOAQ_ASSETS)";
    if (!test::asset("data/wikitext2")) GTEST_SKIP() << "asset 'data/wikitext2' not found";
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("loaq-bad-input-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Copies as new, writable files (the shared files are read-only).
    for (const char* f :
         {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"})
      write_bytes(file(f), read_bytes(*src + "/" + f));
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string weights() const { return file("model.safetensors"); }

  RunResult eval() const {
    return run({LOAQ_BINARY, "eval", "--model", dir_.string(), "--ppl", "wikitext2", "--seqlen",
                "64", "--max-windows", "1", "-q"});
  }

  // The CLI fails cleanly: exit status 1, "error" and every one of `parts` in its output, and no
  // crash or sanitizer report.
  void expect_clean_failure(std::initializer_list<std::string> parts) const {
    const RunResult r = eval();
    EXPECT_FALSE(r.signaled) << "killed by signal " << r.signal << ":\n" << r.output;
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("error"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Sanitizer"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("runtime error"), std::string::npos) << r.output;
    for (const auto& p : parts)
      EXPECT_NE(r.output.find(p), std::string::npos) << "output lacks '" << p << "':\n" << r.output;
  }

  fs::path dir_;
};

TEST_F(BadInput, PositiveControl) {
  const RunResult r = eval();
  EXPECT_FALSE(r.signaled) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wikitext2"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("error"), std::string::npos) << r.output;
}

TEST_F(BadInput, TruncatedSafetensors) {
  const std::string raw = read_bytes(weights());
  write_bytes(weights(), raw.substr(0, raw.size() / 2));
  expect_clean_failure({weights(), "outside the data section", "truncated"});
}

TEST_F(BadInput, TruncatedToFewBytes) {
  write_bytes(weights(), "\x10\x00\x00");
  expect_clean_failure({weights(), "shorter than the 8-byte header length"});
}

TEST_F(BadInput, HeaderLengthPastEndOfFile) {
  std::string raw = read_bytes(weights());
  const uint64_t n = raw.size();  // at least 8 bytes more than what follows the length
  for (int i = 0; i < 8; ++i) raw[size_t(i)] = char((n >> (8 * i)) & 0xff);
  write_bytes(weights(), raw);
  expect_clean_failure({weights(), "runs past the end of the file"});
}

TEST_F(BadInput, OverlappingTensorRanges) {
  auto st = RawSafetensors::read(weights());
  // k_proj moved onto the start of q_proj (same length, so only the overlap is wrong).
  const uint64_t len = st.end(kK) - st.begin(kK);
  ASSERT_GT(st.end(kQ) - st.begin(kQ), len);
  st.header[kK]["data_offsets"] = {st.begin(kQ), st.begin(kQ) + len};
  st.write(weights());
  expect_clean_failure({weights(), kQ, kK, "overlap"});
}

TEST_F(BadInput, RangeOutOfBounds) {
  auto st = RawSafetensors::read(weights());
  const uint64_t len = st.end(kQ) - st.begin(kQ);
  const uint64_t size = st.data.size();
  st.header[kQ]["data_offsets"] = {size - len + 4, size + 4};
  st.write(weights());
  expect_clean_failure({weights(), kQ, "outside the data section"});
}

TEST_F(BadInput, ShapeLengthMismatch) {
  auto st = RawSafetensors::read(weights());
  st.header[kQ]["shape"] = {64, 65};
  st.write(weights());
  expect_clean_failure(
      {weights(), kQ, "[64, 65]", "needs 16640 bytes but data_offsets give 16384"});
}

TEST_F(BadInput, UnknownDtype) {
  auto st = RawSafetensors::read(weights());
  st.header[kQ]["dtype"] = "F8_E9M9";
  st.write(weights());
  expect_clean_failure({weights(), kQ, "unknown dtype 'F8_E9M9'"});
}

TEST_F(BadInput, UnsupportedArchitecture) {
  auto cfg = nlohmann::ordered_json::parse(read_bytes(file("config.json")));
  cfg["architectures"] = {"MistralForCausalLM"};
  write_bytes(file("config.json"), cfg.dump(2));
  expect_clean_failure({file("config.json"), "'architectures'", "MistralForCausalLM"});
}

TEST_F(BadInput, MalformedConfig) {
  write_bytes(file("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"], hidden_size: 64");
  expect_clean_failure({file("config.json"), "invalid JSON"});
}

TEST_F(BadInput, MissingConfig) {
  fs::remove(file("config.json"));
  expect_clean_failure({dir_.string(), "config.json"});
}

TEST_F(BadInput, MissingTokenizer) {
  fs::remove(file("tokenizer.model"));
  expect_clean_failure({dir_.string(), "tokenizer"});
}

TEST_F(BadInput, NanInWeight) {
  {
    const SafetensorsFile src(weights());
    Tensor q = src.read_f32(kQ);
    q.data[q.data.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    std::vector<TensorToWrite> ts;
    for (const auto& t : src.tensors())
      ts.push_back(t.name == kQ ? f32_entry(t.name, q)
                                : TensorToWrite{t.name, t.dtype, t.shape, src.bytes(t)});
    // Written beside the original and renamed over it once the mapping is released.
    write_safetensors(file("new.safetensors"), std::move(ts));
  }
  fs::rename(file("new.safetensors"), weights());
  expect_clean_failure({weights(), kQ, "non-finite"});
}

TEST_F(BadInput, MissingWeight) {
  auto st = RawSafetensors::read(weights());
  st.header.erase(kK);
  st.write(weights());
  expect_clean_failure({kK});
}

}  // namespace
}  // namespace loaq
