#pragma once
// Dense row-major fp32 tensor: the one activation and weight type of the compute path.
// Checkpoint tensors of any float dtype are converted to this on load.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace loaq {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  Tensor() = default;
  // A zero-filled tensor of the given shape.
  explicit Tensor(std::vector<int64_t> shape_);

  int64_t numel() const { return int64_t(data.size()); }
  int ndim() const { return int(shape.size()); }
  int64_t dim(int i) const { return shape.at(size_t(i < 0 ? i + ndim() : i)); }
  // For a 2-D tensor: rows = shape[0], cols = shape[1].
  int64_t rows() const { return dim(0); }
  int64_t cols() const { return dim(1); }
  bool empty() const { return data.empty(); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
  float* row(int64_t r) { return data.data() + r * shape.back(); }
  const float* row(int64_t r) const { return data.data() + r * shape.back(); }
};

// Number of elements of a shape (1 for a scalar shape {}).
int64_t shape_numel(std::span<const int64_t> shape);
// "[2, 64, 4096]".
std::string shape_str(std::span<const int64_t> shape);

}  // namespace loaq
