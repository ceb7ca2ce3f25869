// Tensor operations of the TF.js graphs that our ports reproduce exactly, kept
// in one place because the float models (faceres, dlib-resnet) and the integer
// engine (core/quant/int8_model) must compute them identically.
#ifndef QUANTFACE_CORE_NN_TF_OPS_H_
#define QUANTFACE_CORE_NN_TF_OPS_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace qf::nn {

// TensorFlow 'SAME' padding for a conv of `kernel` and `stride` on an NCHW
// tensor: the odd pixel goes to the bottom/right, unlike PyTorch's symmetric
// padding.
torch::Tensor TfSamePad(const torch::Tensor& x, int64_t kernel, int64_t stride);
// The amounts TfSamePad pads, in F::pad's order: {left, right, top, bottom}.
std::vector<int64_t> TfSamePadAmounts(const torch::Tensor& x, int64_t kernel, int64_t stride);

// dlib-resnet's down-sampling residual: the conv branch `out` is zero-padded
// at the bottom/right to the shortcut's size, and the shortcut gets zero
// channels appended up to `out`'s channel count. Both must be NCHW; the
// shortcut must not be smaller than `out` (callers check and say where).
void AlignDownBlockOperands(torch::Tensor& out, torch::Tensor& shortcut);

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_TF_OPS_H_
