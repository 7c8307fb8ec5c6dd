// Process lifetime and the job-wide failure path (dist.h).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/env.h"
#include "core/progress.h"
#include "dist/backend/backend.h"
#include "dist/dist.h"

namespace loaq::dist {

void init(int* argc, char*** argv) {
  backend::init(argc, argv, launcher_size());
  if (!is_root()) Progress::set_enabled(false);  // rank 0 alone draws progress
  // Several ranks on one node share its cores unless OMP_NUM_THREADS (or --threads) says otherwise.
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if (local && (!omp || !*omp)) {
    const int n = std::atoi(local);
    if (n > 1) set_num_threads(std::max(1, int(std::thread::hardware_concurrency()) / n));
  }
}

void finalize() {
  backend::finalize();
}

int rank() {
  return backend::rank();
}
int size() {
  return backend::size();
}
bool is_root() {
  return rank() == 0;
}
bool is_mpi_build() {
  return backend::is_mpi_build();
}
std::string backend_name() {
  return backend::name();
}

int fail_job(const std::string& kind, const std::string& message, int code) {
  if (size() == 1) {
    fmt::print(stderr, "loaq: {}: {}\n", kind, message);
    finalize();
    return code;
  }
  // If rank 0 fails too (an error every rank hits), its abort ends this process during the wait.
  if (!is_root()) usleep(1000 * 1000);
  fmt::print(stderr, "loaq: {}: rank {}/{}: {}\n", kind, rank(), size(), message);
  std::fflush(stderr);
  backend::abort(code);
}

}  // namespace loaq::dist
