#include "core/quant/range_estimator.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/quant/affine.h"

namespace qf::quant {
namespace {

constexpr int64_t kMaxScoredValues = int64_t{1} << 20;
constexpr int kShrinkSteps = 15;  // r = 1, 0.95, ..., 0.30.
constexpr double kShrinkStep = 0.05;

}  // namespace

absl::StatusOr<RangeEstimator> ParseRangeEstimator(const std::string& text) {
  if (text == "minmax") return RangeEstimator::kMinMax;
  if (text == "mse") return RangeEstimator::kMse;
  return absl::InvalidArgumentError(
      absl::StrCat("range estimator '", text, "': expected minmax or mse"));
}

std::string RangeEstimatorName(RangeEstimator estimator) {
  return estimator == RangeEstimator::kMse ? "mse" : "minmax";
}

std::pair<torch::Tensor, torch::Tensor> EstimateBatchRange(const torch::Tensor& x, int bits,
                                                           RangeEstimator estimator) {
  torch::NoGradGuard no_grad;
  const torch::Tensor values = x.detach().to(torch::kFloat).reshape({-1});
  const torch::Tensor lo = values.min();
  const torch::Tensor hi = values.max();
  if (estimator == RangeEstimator::kMinMax) return {lo, hi};

  const int64_t stride = std::max<int64_t>(1, values.numel() / kMaxScoredValues);
  const torch::Tensor scored = values.slice(0, 0, values.numel(), stride);
  // Shrinking moves each bound toward zero and never across it, so a range
  // that contains 0 keeps containing it.
  const torch::Tensor lo_shrinks = (lo < 0).to(torch::kFloat);
  const torch::Tensor hi_shrinks = (hi > 0).to(torch::kFloat);
  double best_error = std::numeric_limits<double>::infinity();
  std::pair<torch::Tensor, torch::Tensor> best = {lo, hi};
  for (int step = 0; step < kShrinkSteps; ++step) {
    const double r = 1.0 - kShrinkStep * step;
    const torch::Tensor candidate_lo = lo * (1.0 - lo_shrinks * (1.0 - r));
    const torch::Tensor candidate_hi = hi * (1.0 - hi_shrinks * (1.0 - r));
    const AffineParams params = ComputeAffineParams(candidate_lo, candidate_hi, bits);
    const double error =
        (FakeQuantizePerTensor(scored, params, bits) - scored).square().mean().item<double>();
    if (error < best_error) {
      best_error = error;
      best = {candidate_lo, candidate_hi};
    }
  }
  return best;
}

torch::Tensor EstimateWeightClip(const torch::Tensor& weight, int bits, WeightScheme scheme,
                                 RangeEstimator estimator) {
  torch::NoGradGuard no_grad;
  const torch::Tensor w = weight.detach().to(torch::kFloat);
  const auto channels = w.size(0);
  torch::Tensor best_clip = torch::ones({channels}, w.options());
  if (estimator == RangeEstimator::kMinMax) return best_clip;
  // Every channel is scored against every factor at once: one fake-quant
  // pass of the weight per factor, on ranges taken once.
  const torch::Tensor flat = w.flatten(1);
  const WeightScheme resolved = ResolveWeightScheme(scheme, bits);
  const ChannelRange range = WeightChannelRange(flat, resolved);
  torch::Tensor best_error =
      torch::full({channels}, std::numeric_limits<float>::infinity(), w.options());
  for (int step = 0; step < kShrinkSteps; ++step) {
    const torch::Tensor clip = torch::full({channels}, 1.0 - kShrinkStep * step, w.options());
    const AffineParams params = ClippedRangeParams(range, bits, resolved, clip);
    const torch::Tensor error =
        (torch::fake_quantize_per_channel_affine(flat, params.scale, params.zero_point,
                                                 /*axis=*/0, 0, WeightCodeMax(bits, resolved)) -
         flat)
            .square()
            .sum(1);
    const torch::Tensor better = error < best_error;
    best_error = torch::where(better, error, best_error);
    best_clip = torch::where(better, clip, best_clip);
  }
  return best_clip;
}

}  // namespace qf::quant
