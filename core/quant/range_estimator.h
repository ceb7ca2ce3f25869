// RangeEstimator: how an activation quantizer turns one observed batch into
// the range [lo, hi] that its moving average then tracks.
//
//   kMinMax  the batch min and max: the QuantFace paper's choice and the
//            default. Nothing is clipped, so the grid stretches to the rarest
//            large activation.
//   kMse     the min/max range shrunk by the factor r in {1, 0.95, ..., 0.3}
//            (lo and hi each scaled by r where they lie on their side of zero)
//            whose b-bit fake quantization of the batch has the least mean
//            squared error: clip the rare outliers to spend the levels on the
//            bulk. At 4 bits this matters (docs/BENCHMARKS.md); at 8 the
//            grid is fine enough that min/max loses little.
//
// Contract: EstimateBatchRange() returns float32 scalars on x's device with
// lo <= 0 <= hi whenever the batch's own min/max contain 0; it never widens
// the min/max range. It needs no gradient and records none. Large batches
// are scored on a strided subset of at most 2^20 values (the full batch
// still sets min/max), which keeps the search under a few fake-quant passes
// of the batch.
//
// Weights use the same estimators per output channel (EstimateWeightClip):
// kMse picks, for each channel on its own, the factor r of the same list
// whose clipped grid (affine.h) fake-quantizes that channel with the least
// squared error. At 4 bits a single large weight otherwise sets the step of
// its whole channel.
#ifndef QUANTFACE_CORE_QUANT_RANGE_ESTIMATOR_H_
#define QUANTFACE_CORE_QUANT_RANGE_ESTIMATOR_H_

#include <torch/torch.h>

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/quant/affine.h"

namespace qf::quant {

enum class RangeEstimator { kMinMax, kMse };

// "minmax" / "mse"; InvalidArgumentError otherwise.
absl::StatusOr<RangeEstimator> ParseRangeEstimator(const std::string& text);
std::string RangeEstimatorName(RangeEstimator estimator);

// {lo, hi} of one batch; see the contract above.
std::pair<torch::Tensor, torch::Tensor> EstimateBatchRange(const torch::Tensor& x, int bits,
                                                           RangeEstimator estimator);

// Per output channel (dim 0) of a conv/linear weight, the factor in (0, 1]
// that scales the channel's range under `scheme` (the `clip` argument of
// PerChannelWeightParams): all ones for kMinMax, the least-error factor for
// kMse. float32, shape [C], on the weight's device; no gradient.
torch::Tensor EstimateWeightClip(const torch::Tensor& weight, int bits, WeightScheme scheme,
                                 RangeEstimator estimator);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_RANGE_ESTIMATOR_H_
