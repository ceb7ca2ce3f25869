#include "core/quant/learned_rounding.h"

#include <cmath>
#include <vector>

namespace qf::quant {
namespace {

// The rectified sigmoid's stretch (AdaRound's zeta and gamma): h reaches 0
// and 1 at finite logits (|logit| >= log 11), so decided weights stop
// receiving gradient.
constexpr double kZeta = 1.1;
constexpr double kGamma = -0.1;

}  // namespace

RoundingCounts& RoundingCounts::operator+=(const RoundingCounts& other) {
  weights += other.weights;
  away_from_nearest += other.away_from_nearest;
  undecided += other.undecided;
  return *this;
}

LearnedRounding::LearnedRounding(const torch::Tensor& weight, const AffineParams& grid,
                                 int64_t code_max)
    : grid_(grid), qmax_(static_cast<double>(code_max)) {
  torch::NoGradGuard no_grad;
  const torch::Tensor w = weight.detach();
  std::vector<int64_t> per_channel(static_cast<size_t>(w.dim()), 1);
  per_channel[0] = -1;
  scale_ = grid.scale.to(w.device(), w.scalar_type()).view(per_channel);
  zero_point_ = grid.zero_point.to(w.device(), w.scalar_type()).view(per_channel);
  const torch::Tensor position = w / scale_;
  const torch::Tensor floor = position.floor();
  lower_ = floor + zero_point_;
  nearest_ = (position.round() + zero_point_).clamp(0, qmax_);
  // h(logit) = fraction  <=>  sigmoid(logit) = (fraction - gamma) / (zeta - gamma).
  const torch::Tensor target = ((position - floor) - kGamma) / (kZeta - kGamma);
  logits_ = torch::log(target / (1 - target)).set_requires_grad(true);
}

torch::Tensor LearnedRounding::Fraction() const {
  return (torch::sigmoid(logits_) * (kZeta - kGamma) + kGamma).clamp(0, 1);
}

torch::Tensor LearnedRounding::Levels(const torch::Tensor& fraction) const {
  return (lower_ + fraction).clamp(0, qmax_);
}

torch::Tensor LearnedRounding::Quantized(bool soft) const {
  if (soft) return (Levels(Fraction()) - zero_point_) * scale_;
  torch::NoGradGuard no_grad;
  return (Levels(Fraction().ge(0.5).to(lower_.scalar_type())) - zero_point_) * scale_;
}

torch::Tensor LearnedRounding::Regularizer(double beta) const {
  return (1 - (2 * Fraction() - 1).abs().pow(beta)).sum();
}

RoundingCounts LearnedRounding::Counts() const {
  torch::NoGradGuard no_grad;
  const torch::Tensor fraction = Fraction();
  const torch::Tensor decided = Levels(fraction.ge(0.5).to(lower_.scalar_type()));
  RoundingCounts counts;
  counts.weights = logits_.numel();
  counts.away_from_nearest = decided.ne(nearest_).sum().item<int64_t>();
  // A weight that starts on a level gets h within float rounding of 0.
  constexpr double kDecided = 1e-6;
  counts.undecided =
      fraction.gt(kDecided).logical_and(fraction.lt(1 - kDecided)).sum().item<int64_t>();
  return counts;
}

}  // namespace qf::quant
