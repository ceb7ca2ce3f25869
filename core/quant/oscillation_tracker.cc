#include "core/quant/oscillation_tracker.h"

namespace qf::quant {

OscillationCounts& OscillationCounts::operator+=(const OscillationCounts& other) {
  weights += other.weights;
  oscillating += other.oscillating;
  frozen += other.frozen;
  reversals += other.reversals;
  return *this;
}

OscillationTracker::OscillationTracker(double momentum) : momentum_(momentum) {
  TORCH_CHECK(momentum > 0.0 && momentum <= 1.0, "oscillation momentum must be in (0, 1], got ",
              momentum);
}

void OscillationTracker::Observe(const torch::Tensor& integers, double freeze_threshold) {
  torch::NoGradGuard no_grad;
  const torch::Tensor current = integers.detach().to(torch::kFloat).clone();
  if (!previous_.defined()) {
    previous_ = current;
    direction_ = torch::zeros_like(current);
    frequency_ = torch::zeros_like(current);
    mean_integer_ = current.clone();
    ++steps_;
    return;
  }
  TORCH_CHECK(current.sizes() == previous_.sizes(), "oscillation tracking: shape changed from ",
              previous_.sizes(), " to ", current.sizes());
  const torch::Tensor change = torch::sign(current - previous_);
  const torch::Tensor reversed = (change * direction_) < 0;
  // Summed on the device: no host sync per layer and step.
  reversals_ = reversals_.defined() ? reversals_ + reversed.sum() : reversed.sum();
  frequency_.mul_(1.0 - momentum_).add_(reversed.to(torch::kFloat), momentum_);
  mean_integer_.mul_(1.0 - momentum_).add_(current, momentum_);
  direction_ = torch::where(change != 0, change, direction_);
  previous_ = current;
  ++steps_;
  if (freeze_threshold <= 0.0) return;
  torch::Tensor newly = frequency_ > freeze_threshold;
  if (frozen_.defined()) newly = newly & ~frozen_;
  if (!newly.any().item<bool>()) return;
  if (!frozen_.defined()) {
    frozen_ = torch::zeros_like(current, torch::kBool);
    frozen_integers_ = torch::zeros_like(current);
  }
  frozen_integers_ = torch::where(newly, mean_integer_.round(), frozen_integers_);
  frozen_ = frozen_ | newly;
}

OscillationCounts OscillationTracker::Counts() const {
  OscillationCounts counts;
  if (!frequency_.defined()) return counts;
  counts.weights = frequency_.numel();
  counts.oscillating = (frequency_ > kOscillatingFrequency).sum().item<int64_t>();
  counts.frozen = frozen_.defined() ? frozen_.sum().item<int64_t>() : 0;
  counts.reversals = reversals_.defined() ? reversals_.item<int64_t>() : 0;
  return counts;
}

}  // namespace qf::quant
