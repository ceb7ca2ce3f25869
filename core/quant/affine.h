// Asymmetric (affine) uniform quantization to b bits, the arithmetic every
// quantizer of the engine shares.
//
// A range [lo, hi] is first widened to contain 0 (so that zero padding and
// ReLU zeros are exact), then scale = (hi - lo) / (2^b - 1) and
// zero_point = round(-lo / scale) clamped to [0, 2^b - 1]. A value x maps to
// q = clamp(round(x / scale) + zero_point, 0, 2^b - 1) and back to
// (q - zero_point) * scale. Scales never drop below kMinScale, so a constant
// or all-zero range quantizes to exact zeros instead of dividing by zero.
//
// Fake quantization uses LibTorch's fake_quantize_* ops: their gradient is
// the straight-through estimator (identity inside the range, zero for inputs
// clipped by it).
#ifndef QUANTFACE_CORE_QUANT_AFFINE_H_
#define QUANTFACE_CORE_QUANT_AFFINE_H_

#include <torch/torch.h>

#include <cstdint>

namespace qf::quant {

inline constexpr float kMinScale = 1e-8f;

inline int64_t QuantMax(int bits) { return (int64_t{1} << bits) - 1; }

struct AffineParams {
  torch::Tensor scale;       // float32, shape [] (per tensor) or [C] (per channel).
  torch::Tensor zero_point;  // int32, same shape as scale.
};

// Parameters for ranges lo..hi (same shape, any float dtype); no gradient.
AffineParams ComputeAffineParams(const torch::Tensor& lo, const torch::Tensor& hi, int bits);

// Per-output-channel (dim 0) min/max parameters of a conv/linear weight.
AffineParams PerChannelWeightParams(const torch::Tensor& weight, int bits);

// Fake-quantizes a weight per output channel with its own min/max range.
torch::Tensor FakeQuantizeWeight(const torch::Tensor& weight, int bits);

// Fake-quantizes x per tensor with scalar params (shape []).
torch::Tensor FakeQuantizePerTensor(const torch::Tensor& x, const AffineParams& params, int bits);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_AFFINE_H_
