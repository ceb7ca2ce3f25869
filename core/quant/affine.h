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
// Weights can instead use a symmetric grid per output channel:
// scale = max|w| / (2^(b-1) - 1) and zero_point = 2^(b-1) - 1, so codes run
// over [0, 2^b - 2] and q - zero_point over [-(2^(b-1) - 1), 2^(b-1) - 1].
// One code of the b-bit range goes unused, but at b = 8 the integer values
// fit int8 with zero point 0, which is what oneDNN's int8 convolutions take
// (8-bit asymmetric weights need |q - zero_point| up to 255 and run on the
// much slower QNNPACK here). Below 8 bits both grids fit int8 (|q -
// zero_point| <= 2^b - 1 <= 127), so the choice only decides speed at b = 8;
// WeightScheme::kAuto makes it per layer on that ground.
//
// Fake quantization uses LibTorch's fake_quantize_* ops: their gradient is
// the straight-through estimator (identity inside the range, zero for inputs
// clipped by it).
#ifndef QUANTFACE_CORE_QUANT_AFFINE_H_
#define QUANTFACE_CORE_QUANT_AFFINE_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace qf::quant {

inline constexpr float kMinScale = 1e-8f;

inline int64_t QuantMax(int bits) { return (int64_t{1} << bits) - 1; }

struct AffineParams {
  torch::Tensor scale;       // float32, shape [] (per tensor) or [C] (per channel).
  torch::Tensor zero_point;  // int32, same shape as scale.
};

// Parameters for ranges lo..hi (same shape, any float dtype); no gradient.
AffineParams ComputeAffineParams(const torch::Tensor& lo, const torch::Tensor& hi, int bits);

// How a layer's weights map onto their b-bit grid.
enum class WeightScheme {
  kAsymmetric,  // Per-channel min/max (the QuantFace paper's choice).
  kSymmetric,   // Per-channel max|w|, zero point in the middle (see above).
  // kAsymmetric below 8 bits, kSymmetric at 8: the paper's grid wherever
  // oneDNN's int8 kernels can run it, the symmetric one where the paper's
  // would send the model to QNNPACK (slower than float32 on x86; symmetric
  // 8-bit weights cost no measurable accuracy, docs/BENCHMARKS.md). A
  // choice made per layer from its bit width; ResolveWeightScheme() makes it.
  kAuto,
};

// "asymmetric" / "symmetric" / "auto"; InvalidArgumentError otherwise.
absl::StatusOr<WeightScheme> ParseWeightScheme(const std::string& text);
std::string WeightSchemeName(WeightScheme scheme);

// The grid a layer with `bits`-bit weights uses under `scheme`: kAuto
// resolved as above, the other two unchanged.
WeightScheme ResolveWeightScheme(WeightScheme scheme, int bits);

// The largest code of a `bits`-bit weight grid: 2^b - 1, or 2^b - 2 on the
// symmetric grid (`scheme` is resolved first). Fake quantizers of weights
// clamp to it: a weight clipped by a range narrower than its channel (a clip
// factor, a learned step) then lands on the symmetric grid's last code,
// not one past it, where q - zero_point = 2^(b-1) would not fit oneDNN's
// int8 at b = 8 and sent the whole model to QNNPACK.
int64_t WeightCodeMax(int bits, WeightScheme scheme);

// Per-output-channel (dim 0) parameters of a conv/linear weight. The
// functions below that take both `bits` and a scheme resolve kAuto
// themselves.
AffineParams PerChannelWeightParams(const torch::Tensor& weight, int bits,
                                    WeightScheme scheme = WeightScheme::kAsymmetric);

// The same with each channel's range scaled by clip[c] in (0, 1] (float32,
// shape [C]): min and max times clip[c] for the asymmetric scheme, max|w|
// times clip[c] for the symmetric one. Weights beyond the scaled range clip
// to its ends; clip[c] = 1 gives the parameters above.
AffineParams PerChannelWeightParams(const torch::Tensor& weight, int bits, WeightScheme scheme,
                                    const torch::Tensor& clip);

// The two steps of the above, for callers that try many clips of one weight:
// each channel's range under `scheme` (min and max, or -max|w| and max|w|;
// float32 [C] each), then the parameters of that range scaled by `clip`.
// WeightChannelRange has no bit width to resolve kAuto with: pass it a
// resolved scheme (c10::Error for kAuto).
struct ChannelRange {
  torch::Tensor lo;
  torch::Tensor hi;
};
ChannelRange WeightChannelRange(const torch::Tensor& weight, WeightScheme scheme);
AffineParams ClippedRangeParams(const ChannelRange& range, int bits, WeightScheme scheme,
                                const torch::Tensor& clip);

// Fake-quantizes a weight per output channel with its own range.
torch::Tensor FakeQuantizeWeight(const torch::Tensor& weight, int bits,
                                 WeightScheme scheme = WeightScheme::kAsymmetric);

// Fake-quantizes x per tensor with scalar params (shape []).
torch::Tensor FakeQuantizePerTensor(const torch::Tensor& x, const AffineParams& params, int bits);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_AFFINE_H_
