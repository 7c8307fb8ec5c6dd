// The transport of a build without MPI: one process, rank 0 of 1. Started by mpirun with more than
// one process, it refuses to run rather than have every process do (and write) the whole job.
#include <cstdlib>

#include "core/error.h"
#include "dist/backend/backend.h"

namespace loaq::dist::backend {

void init(int*, char***, int launched) {
  if (launched > 1)
    fail(
        "this loaq was built without MPI (LOAQ_MPI=OFF or no MPI found at build time), but it was "
        "started by an MPI launcher as one of {} processes; rebuild with libopenmpi-dev installed "
        "(cmake -DLOAQ_MPI=ON) or run it as a single process",
        launched);
}
void finalize() {}
int rank() {
  return 0;
}
int size() {
  return 1;
}
bool is_mpi_build() {
  return false;
}
const char* name() {
  return "single";
}

void send(const void*, size_t, int) {
  fail("internal: send in a single-process run");
}
void recv(void*, size_t, int) {
  fail("internal: recv in a single-process run");
}
void bcast(void*, size_t, int) {}
void barrier() {}
void abort(int code) {
  std::_Exit(code);
}

}  // namespace loaq::dist::backend
