// OscillationTracker: finds the weights of one tensor whose integer value
// swings back and forth between adjacent grid levels during QAT, and can
// freeze them (iterative weight freezing: Nagel, Fournarakis, Bondarenko,
// Blankevoort, "Overcoming Oscillations in Quantization-Aware Training",
// ICML 2022; implemented here from the paper's description).
//
// Why: under the straight-through estimator a latent weight that sits near a
// rounding boundary is pushed across it by one step and back by the next, so
// its quantized value keeps flipping while the latent weight barely moves.
// The paper finds this worst at 4 bits in depthwise convs (9 weights per
// channel), the layers that cost faceres most at w4a4 (docs/BENCHMARKS.md).
//
// Contract: Observe() takes the integer values of the tensor (any shape,
// the same at every call, float holding integers) once per training step. A
// weight oscillates at a step when its value changes in the direction
// opposite to its previous change. Its oscillation frequency is an EMA with
// `momentum` of that event, and its integer value gets an EMA alike. With a
// freeze threshold > 0, a weight whose frequency exceeds it is frozen at its
// rounded integer EMA and stays frozen; the caller substitutes the frozen
// values (frozen(), frozen_integers()) for what it computes. Not
// thread-safe; state lives on the device of the first observed tensor.
#ifndef QUANTFACE_CORE_QUANT_OSCILLATION_TRACKER_H_
#define QUANTFACE_CORE_QUANT_OSCILLATION_TRACKER_H_

#include <torch/torch.h>

#include <cstdint>

namespace qf::quant {

// The frequency above which a weight counts as oscillating in reports: about
// one reversal per hundred steps, the paper's final freezing threshold.
inline constexpr double kOscillatingFrequency = 0.01;

// The paper's momentum for both EMAs (a horizon of about 100 steps).
inline constexpr double kDefaultOscillationMomentum = 0.01;

struct OscillationCounts {
  int64_t weights = 0;      // Tracked weights.
  int64_t oscillating = 0;  // Frequency above kOscillatingFrequency now.
  int64_t frozen = 0;
  int64_t reversals = 0;  // Oscillation events summed over every step observed.

  OscillationCounts& operator+=(const OscillationCounts& other);
};

class OscillationTracker {
 public:
  // momentum in (0, 1].
  explicit OscillationTracker(double momentum = kDefaultOscillationMomentum);

  // Updates the statistics with this step's integer values; then, when
  // freeze_threshold > 0, freezes every weight whose frequency exceeds it.
  // Frozen weights are observed as their frozen values (the caller applied
  // them), so they stop oscillating.
  void Observe(const torch::Tensor& integers, double freeze_threshold = 0.0);

  // Undefined until the first Observe().
  const torch::Tensor& frequency() const { return frequency_; }
  // Bool mask and the values frozen entries hold (float); undefined until a
  // weight freezes.
  const torch::Tensor& frozen() const { return frozen_; }
  const torch::Tensor& frozen_integers() const { return frozen_integers_; }
  bool has_frozen() const { return frozen_.defined(); }

  int64_t steps() const { return steps_; }
  OscillationCounts Counts() const;

 private:
  const double momentum_;
  int64_t steps_ = 0;
  torch::Tensor reversals_;  // int64 scalar; undefined before the second step.
  torch::Tensor previous_;   // Last step's integers.
  torch::Tensor direction_;  // Sign of each weight's last change, 0 before any.
  torch::Tensor frequency_;
  torch::Tensor mean_integer_;  // EMA of the integer values.
  torch::Tensor frozen_;
  torch::Tensor frozen_integers_;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_OSCILLATION_TRACKER_H_
