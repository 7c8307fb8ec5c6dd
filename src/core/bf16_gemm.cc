#include "core/bf16_gemm.h"

#include <vector>

#include "core/blas.h"
#include "core/dtype.h"
#include "core/error.h"

#ifdef LOAQ_HAVE_DNNL
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#endif

namespace loaq {

void to_bf16(const float* x, int64_t n, uint16_t* out) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

#ifdef LOAQ_HAVE_DNNL

std::string_view bf16_gemm_backend() {
  return "onednn";
}

namespace {

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>;

struct Engine {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  std::map<Key, dnnl::matmul> cache;  // primitives by shape, strides and beta
  std::mutex mu;
};

Engine& engine() {
  static Engine e;
  return e;
}

}  // namespace

void gemm_bf16_nt(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                  const uint16_t* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (beta != 0.0f && beta != 1.0f) fail("gemm_bf16_nt: beta must be 0 or 1 (got {})", beta);
  if (m == 0 || n == 0) return;
  using dt = dnnl::memory::data_type;
  using md = dnnl::memory::desc;
  Engine& e = engine();
  const md a_md({m, k}, dt::bf16, {lda, 1});
  const md b_md({k, n}, dt::bf16, {1, ldb});  // B[n, k] read as its transpose
  const md c_md({m, n}, dt::f32, {ldc, 1});
  try {
    std::lock_guard<std::mutex> lock(e.mu);
    const Key key{m, n, k, lda, ldb, ldc, beta != 0.0f};
    auto it = e.cache.find(key);
    if (it == e.cache.end()) {
      dnnl::primitive_attr attr;
      if (beta != 0.0f) {
        dnnl::post_ops po;
        po.append_sum(1.0f);
        attr.set_post_ops(po);
      }
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, e.eng);
      if (e.cache.size() > 256) e.cache.clear();
      it = e.cache.emplace(key, dnnl::matmul(pd)).first;
    }
    dnnl::memory am(a_md, e.eng, const_cast<uint16_t*>(a)),
        bm(b_md, e.eng, const_cast<uint16_t*>(b)), cm(c_md, e.eng, c);
    it->second.execute(e.stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    e.stream.wait();
  } catch (const dnnl::error& err) {
    fail("oneDNN bf16 matmul {}×{}×{}: {}", m, n, k, err.what());
  }
}

#else

std::string_view bf16_gemm_backend() {
  return "fp32-fallback";
}

void gemm_bf16_nt(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                  const uint16_t* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (beta != 0.0f && beta != 1.0f) fail("gemm_bf16_nt: beta must be 0 or 1 (got {})", beta);
  std::vector<float> af(size_t(m * k)), bf(size_t(n * k));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) af[size_t(i * k + j)] = bf16_to_f32(a[i * lda + j]);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) bf[size_t(i * k + j)] = bf16_to_f32(b[i * ldb + j]);
  gemm(false, true, m, n, k, 1.0f, af.data(), k, bf.data(), k, beta, c, ldc);
}

#endif

void linear_bf16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y,
                 float beta) {
  std::vector<uint16_t> xb(size_t(m * k));
  to_bf16(x, m * k, xb.data());
  gemm_bf16_nt(m, n, k, xb.data(), k, w, k, beta, y, n);
}

}  // namespace loaq
