// What the launcher's environment says, and the test-only fault hook (dist.h).
#include <csignal>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "dist/dist.h"

namespace loaq::dist {

namespace {
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return end && *end == '\0' && x >= 0 && x < (1L << 30) ? int(x) : -1;
}
}  // namespace

int launcher_size() {
  for (const char* s : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const int n = env_int(s); n > 0) return n;
  // PMIx (OpenMPI 4+, Slurm --mpi=pmix) and PMI-1/2 announce a rank without a size: a rank above
  // zero means several processes.
  for (const char* s : {"PMIX_RANK", "PMI_RANK"})
    if (const int r = env_int(s); r >= 0) return r + 1;
  return 0;
}

void test_fault_point(const char* where) {
  const int r = env_int("LOAQ_TEST_FAIL_RANK");
  if (r < 0 || r != rank()) return;
  if (const char* at = std::getenv("LOAQ_TEST_FAIL_AT"); at && *at && std::string(at) != where)
    return;
  if (const char* m = std::getenv("LOAQ_TEST_FAIL_MODE"); m && std::string(m) == "die")
    std::raise(SIGKILL);  // a rank that dies without a word
  fail("test failure injected at {} (LOAQ_TEST_FAIL_RANK={})", where, r);
}

}  // namespace loaq::dist
