#include "core/env.h"

#include <cblas.h>
#include <omp.h>

namespace loaq {

void set_num_threads(int n) {
  if (n <= 0) return;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() {
  return omp_get_max_threads();
}

BlasThreadsScope::BlasThreadsScope(int n) : saved_(openblas_get_num_threads()) {
  openblas_set_num_threads(n);
}

BlasThreadsScope::~BlasThreadsScope() {
  openblas_set_num_threads(saved_);
}

}  // namespace loaq
