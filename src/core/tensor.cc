#include "core/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace loaq {

Tensor::Tensor(std::vector<int64_t> shape_) : shape(std::move(shape_)) {
  data.assign(size_t(shape_numel(shape)), 0.0f);
}

int64_t shape_numel(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(std::span<const int64_t> shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace loaq
