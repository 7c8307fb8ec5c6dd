#pragma once
// A hidden-state stream of the calibration windows ([windows, seqlen, hidden]: h or ĥ of Algorithm
// 1), stored in fp32 or bf16. The streams are the only per-model activations a quantization run
// holds; chunks of windows are read out in fp32, advanced through a sub-layer and written back.
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace loaq {

class Stream {
 public:
  Stream() = default;
  Stream(DType dtype, int64_t windows, int64_t seqlen, int64_t hidden);

  DType dtype() const { return dtype_; }
  int64_t windows() const { return windows_; }
  bool empty() const { return windows_ == 0; }
  // Windows [w0, w1) as fp32 rows [(w1 − w0)·seqlen, hidden].
  Tensor read(int64_t w0, int64_t w1) const;
  // Stores rows of windows w0… (bf16: rounded to nearest even).
  void write(int64_t w0, const Tensor& rows);
  int64_t bytes() const;
  static int64_t bytes_for(DType dtype, int64_t windows, int64_t seqlen, int64_t hidden);

  // The raw little-endian contents to `path`, atomically (the resume state), and back; a file of
  // the wrong size is an error naming it.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  DType dtype_ = DType::F32;
  int64_t windows_ = 0, seqlen_ = 0, hidden_ = 0;
  std::vector<float> f32_;
  std::vector<uint16_t> bf16_;
};

}  // namespace loaq
