#pragma once
// Process-wide compute settings.

namespace loaq {

// Sets the number of threads used by OpenMP loops and by BLAS. n <= 0 keeps the defaults
// (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, else all cores).
void set_num_threads(int n);
// Threads OpenMP loops will use.
int num_threads();

}  // namespace loaq
