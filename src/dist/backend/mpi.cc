// The MPI transport (OpenMPI). MPI is started only when a launcher started the process, so that a
// plain `loaq ...` costs nothing and prints nothing of MPI's. Only the main thread calls MPI
// (MPI_THREAD_FUNNELED); OpenMP threads compute inside each rank.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "dist/backend/backend.h"

namespace loaq::dist::backend {

namespace {

bool g_started = false;
int g_rank = 0, g_size = 1;
MPI_Comm g_comm = MPI_COMM_NULL;                 // a duplicate of MPI_COMM_WORLD: our messages only
constexpr size_t kMaxMessage = size_t(1) << 30;  // bytes per MPI call (its counts are int)

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail("MPI: {} failed: {}", what, std::string(msg, size_t(len)));
}

}  // namespace

void init(int* argc, char*** argv, int launched) {
  if (launched <= 0 || g_started) return;
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_started = true;
  if (provided < MPI_THREAD_FUNNELED) fail("MPI: the library does not provide MPI_THREAD_FUNNELED");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &g_comm), "MPI_Comm_dup");
  // Errors end the job (the default on MPI_COMM_WORLD; made explicit for our communicator).
  MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_ARE_FATAL);
  check(MPI_Comm_rank(g_comm, &g_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(g_comm, &g_size), "MPI_Comm_size");
}

void finalize() {
  if (!g_started) return;
  g_started = false;
  MPI_Barrier(g_comm);
  MPI_Comm_free(&g_comm);
  MPI_Finalize();
}

int rank() {
  return g_rank;
}
int size() {
  return g_size;
}
bool is_mpi_build() {
  return true;
}
const char* name() {
  return "mpi";
}

void send(const void* data, size_t bytes, int to) {
  auto* p = static_cast<const char*>(data);
  size_t o = 0;
  do {  // one (possibly empty) message per kMaxMessage bytes; recv() cuts the same way
    const size_t n = std::min(kMaxMessage, bytes - o);
    check(MPI_Send(p + o, int(n), MPI_BYTE, to, 0, g_comm), "MPI_Send");
    o += n;
  } while (o < bytes);
}

void recv(void* data, size_t bytes, int from) {
  auto* p = static_cast<char*>(data);
  size_t o = 0;
  do {
    const size_t n = std::min(kMaxMessage, bytes - o);
    check(MPI_Recv(p + o, int(n), MPI_BYTE, from, 0, g_comm, MPI_STATUS_IGNORE), "MPI_Recv");
    o += n;
  } while (o < bytes);
}

void bcast(void* data, size_t bytes, int root) {
  auto* p = static_cast<char*>(data);
  for (size_t o = 0; o < bytes; o += kMaxMessage)
    check(MPI_Bcast(p + o, int(std::min(kMaxMessage, bytes - o)), MPI_BYTE, root, g_comm),
          "MPI_Bcast");
}

void barrier() {
  if (g_started) check(MPI_Barrier(g_comm), "MPI_Barrier");
}

void abort(int code) {
  if (g_started) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace loaq::dist::backend
