#pragma once
// Distribution across processes (MPI ranks). The rest of loaq calls only this interface; whether it
// runs on MPI (OpenMPI, `mpirun -n R loaq ...`) or as the single process is decided at build time
// (LOAQ_MPI) by which backend is linked (src/dist/backend/).
//
// The determinism rule (README "Running on several processes"): work is split into chunks whose
// definition does not depend on R (a calibration chunk, an evaluation batch, a zero-shot example);
// each rank holds a contiguous range of chunks (split()); every sum over chunks is formed exactly
// as the single process forms it, S = ((init + P0) + P1) + ... in chunk order, where P_c is
// computed from chunk c alone. ordered_sum() does that across ranks as a chain: rank r receives the
// running sum of the chunks before its range, adds its own partials in order and passes the sum on.
// So the result has the same bits for every R and every split. Values computed per chunk (a
// window's NLL, an example's log-likelihoods) are gathered in chunk order (allgather()) and reduced
// by the caller in the same loop as the single process.
#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace loaq::dist {

// ---- process ----------------------------------------------------------------------------------

// Starts the distributed runtime when the process was launched by an MPI launcher (mpirun, srun);
// a plain start stays a single process without touching MPI. A build without MPI started by a
// launcher with more than one process throws loaq::Error saying so. Ranks sharing a node get
// cores / (ranks on the node) OpenMP threads unless OMP_NUM_THREADS is set. Call once, first.
void init(int* argc, char*** argv);
// Ends the runtime (MPI_Finalize after a barrier). Idempotent; no-op when init() did not start MPI.
void finalize();

// Starts at init(), finalizes at scope exit, unless an exception is leaving the scope: then
// fail_job() ends the job (a finalize would wait for ranks that may never come).
struct Session {
  Session(int* argc, char*** argv) { init(argc, argv); }
  ~Session() {
    if (std::uncaught_exceptions() == 0) finalize();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

int rank();                  // 0 ... size()-1
int size();                  // R
bool is_root();              // rank() == 0: the rank that prints and writes
bool is_mpi_build();         // built with LOAQ_MPI
std::string backend_name();  // "mpi" or "single"

// Ends the whole job after a failure on this rank: prints "loaq: <kind>: <message>" (with
// "rank r/R: " before the message when R > 1) once, from this rank, and returns `code` (R = 1) or
// aborts every rank with that exit code (R > 1, MPI_Abort: no rank is left waiting in a
// collective). A non-root rank waits a moment before printing, so that an error every rank hits
// (a bad input file) is printed by rank 0 alone.
int fail_job(const std::string& kind, const std::string& message, int code);

// ---- splitting work ---------------------------------------------------------------------------

struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool operator==(const Range&) const = default;
};

// The index-th of `parts` contiguous ranges of [0, n): sizes differ by at most one, the first
// n % parts ranges are the longer ones. Ranges may be empty when n < parts.
Range split(int64_t n, int parts, int index);
// Every rank's range: split(n, size(), r) for r = 0..size()-1.
std::vector<Range> split_all(int64_t n);
// This rank's range of n chunks.
inline Range my_range(int64_t n) {
  return split(n, size(), rank());
}
// Items [0, n_items) cut into chunks of `chunk` items (the last may be shorter); the items of the
// chunks split() gives this rank (and of every rank). For evaluation windows run in batches.
Range my_items(int64_t n_items, int64_t chunk);
std::vector<Range> items_all(int64_t n_items, int64_t chunk);
// The rank whose split() range holds chunk c of n.
int owner_of(int64_t c, int64_t n);

// Owners for tasks of the given costs (the solves of a layer's linear groups), R = size():
// longest first, each to the least-loaded rank, ties to the higher rank; the costliest task thus
// goes to rank R-1, where ordered_sum()'s chain ends (no delivery hop). Deterministic: the same
// on every rank.
std::vector<int> assign_owners(std::span<const double> costs);

// ---- collectives (every rank calls them, in the same order) ------------------------------------

// The chained sum in chunk order (see the rule above). Chunks [0, n_chunks) are owned as
// split(n_chunks) gives them. On entry, `sum` holds the initial value on rank 0 (normally zeros)
// and anything on the other ranks. The buffer travels in segments (a pipeline: the chain costs
// about one buffer's transfer time, plus R-1 segment latencies): for each segment [offset, offset +
// seg.size()) of `sum`, add_chunk(c, offset, seg) is called on the owner of every chunk c, in
// increasing c, when seg holds init + P_0 + ... + P_{c-1} of those elements; it must add the same
// elements of P_c (seg[k] += P_c[offset + k]) exactly as the single process adds them. On return,
// `sum` holds the total on rank `to` (kAll: on every rank); on the other ranks its content is
// unspecified. Ranks with no chunks pass the sum on.
// Bytes moved: · 8 · |sum| along the chain, plus the delivery (to a rank other than the last:
// one more hop; kAll: a broadcast, (R-1) · 8 · |sum|).
constexpr int kAll = -1;
// `segment` (values, > 0; 0: 4 MiB of doubles) sets the segments' length, so that a caller can
// align them with its own blocks (the rows of a statistics tile).
using AddChunk = std::function<void(int64_t chunk, int64_t offset, std::span<double> seg)>;
void ordered_sum(std::span<double> sum, int64_t n_chunks, const AddChunk& add_chunk, int to = kAll,
                 int64_t segment = 0);
// The same with this rank's partials already computed: mine[i] is P_{my_range(n_chunks).begin + i},
// added element by element (sum[k] += P[k]).
void ordered_sum(std::span<double> sum, int64_t n_chunks,
                 std::span<const std::span<const double>> mine, int to = kAll);
// The same with fp32 partials (an fp32 GEMM/SYRK product per chunk, as add_gram() forms it), each
// added as sum[k] += double(P[k]): half the memory of fp64 partials, the same bits.
void ordered_sum(std::span<double> sum, int64_t n_chunks,
                 std::span<const std::span<const float>> mine, int to = kAll);

// Copies `owner`'s buffer to every rank.
void broadcast(std::span<double> buf, int owner);
void broadcast(std::span<float> buf, int owner);
void broadcast(std::span<int32_t> buf, int owner);
void broadcast(std::span<int64_t> buf, int owner);
void broadcast(std::span<int8_t> buf, int owner);

// In-place gather in order: rank r has filled data[ranges[r]] (ranges contiguous, ascending, as
// split_all()/items_all() give them, scaled by `per_item` values per item); afterwards every rank
// holds all of them.
void allgather(std::span<double> data, std::span<const Range> ranges, int64_t per_item = 1);

// Sums of a few values over the ranks, formed in rank order (((v_0 + v_1) + v_2) ...) on every
// rank: the same on every rank, but (for doubles) not independent of R; for values that must not
// depend on R, gather per-chunk values with allgather() and sum them in chunk order.
void sum_in_rank_order(std::span<double> v);
void sum_in_rank_order(std::span<int64_t> v);  // exact

void barrier();

// ---- accounting -------------------------------------------------------------------------------

// What this rank's collectives moved and cost. bytes: payload this rank delivered to other ranks
// (a broadcast of B bytes from the owner counts ·B on the owner); seconds: wall time inside
// collectives, waiting included.
struct CommStats {
  int64_t calls = 0;
  int64_t bytes = 0;
  double seconds = 0;
};
CommStats comm_stats();
void reset_comm_stats();
// Every rank's CommStats, in rank order, on every rank (a collective).
std::vector<CommStats> gather_comm_stats();

// ---- launch environment and test hooks ---------------------------------------------------------

// The number of processes a launcher started, from its environment (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, PMIX/PMI rank variables), 0 when not launched by one.
int launcher_size();
// Test hook: throws loaq::Error("test failure injected at <where> (LOAQ_TEST_FAIL_RANK)") when the
// environment variable LOAQ_TEST_FAIL_RANK equals this rank (and LOAQ_TEST_FAIL_AT, if set, equals
// `where`). With LOAQ_TEST_FAIL_MODE=die the rank kills itself (SIGKILL) instead.
void test_fault_point(const char* where);

}  // namespace loaq::dist
