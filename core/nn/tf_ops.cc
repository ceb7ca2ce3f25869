#include "core/nn/tf_ops.h"

#include <algorithm>
#include <utility>

namespace qf::nn {

namespace F = torch::nn::functional;

std::vector<int64_t> TfSamePadAmounts(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  const auto pads = [&](int64_t size) {
    const int64_t out = (size + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
    return std::pair<int64_t, int64_t>(total / 2, total - total / 2);
  };
  const auto [top, bottom] = pads(x.size(2));
  const auto [left, right] = pads(x.size(3));
  return {left, right, top, bottom};
}

torch::Tensor TfSamePad(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  return F::pad(x, F::PadFuncOptions(TfSamePadAmounts(x, kernel, stride)));
}

void AlignDownBlockOperands(torch::Tensor& out, torch::Tensor& shortcut) {
  const int64_t pad_h = shortcut.size(2) - out.size(2);
  const int64_t pad_w = shortcut.size(3) - out.size(3);
  if (pad_h > 0 || pad_w > 0) out = F::pad(out, F::PadFuncOptions({0, pad_w, 0, pad_h}));
  const int64_t extra = out.size(1) - shortcut.size(1);
  if (extra > 0) {
    shortcut = torch::cat(
        {shortcut, torch::zeros({shortcut.size(0), extra, shortcut.size(2), shortcut.size(3)},
                                shortcut.options())},
        1);
  }
}

}  // namespace qf::nn
