#pragma once
// Function multi-versioning for the element-wise hot loops (softmax, SiLU, log-sum-exp, RMSNorm):
// the build targets x86-64-v2 so the binary runs anywhere, and these functions are also compiled
// for AVX2 (x86-64-v3) and AVX-512 (x86-64-v4), the best chosen at load time (GCC target_clones,
// an ifunc). Results can differ in the last bits between CPUs (vector width changes the order of
// reduction sums); on one machine they are deterministic.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define LOAQ_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOAQ_SIMD_CLONES
#endif
