#pragma once
// The transport under src/dist/dist.h: one implementation is linked, MPI (mpi.cc) or the single
// process (single.cc), chosen by CMake (LOAQ_MPI). Byte counts may exceed 2 GiB (they are cut into
// messages that MPI's int counts can hold).
#include <cstddef>

namespace loaq::dist::backend {

// Starts the transport. `launched` is the process count the launcher's environment announces (0:
// not started by a launcher). Throws loaq::Error when it cannot run that way.
void init(int* argc, char*** argv, int launched);
void finalize();
int rank();
int size();
bool is_mpi_build();
const char* name();

// Point to point, blocking; messages between two ranks arrive in the order they were sent.
void send(const void* data, size_t bytes, int to);
void recv(void* data, size_t bytes, int from);
void bcast(void* data, size_t bytes, int root);
void barrier();
// Ends every process of the job with this exit code.
[[noreturn]] void abort(int code);

}  // namespace loaq::dist::backend
