#pragma once
// Process-wide compute settings.

namespace loaq {

// Sets the number of threads used by OpenMP loops and by BLAS. n <= 0 keeps the defaults
// (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, else all cores).
void set_num_threads(int n);
// Threads OpenMP loops will use.
int num_threads();

// BLAS (and OpenBLAS's LAPACK) on `n` threads while this lives, then back to what it was.
// OpenBLAS's factorizations (gesdd, syevd, geqrf) do not give the same bits on another number of
// threads; a computation that must be identical on 1 or N processes (each with its own thread
// count) runs them on one thread.
class BlasThreadsScope {
 public:
  explicit BlasThreadsScope(int n);
  ~BlasThreadsScope();
  BlasThreadsScope(const BlasThreadsScope&) = delete;
  BlasThreadsScope& operator=(const BlasThreadsScope&) = delete;

 private:
  int saved_;
};

}  // namespace loaq
