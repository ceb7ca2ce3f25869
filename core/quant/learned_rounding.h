// LearnedRounding: one layer's weights rounded up or down by a learned
// choice instead of to the nearest level of their grid: AdaRound's soft
// rounding (Nagel, Amjad, van Baalen, Louizos, Blankevoort, "Up or Down?
// Adaptive Rounding for Post-Training Quantization", ICML 2020; implemented
// here from the paper's description), trained by the QAT loss itself instead
// of AdaRound's layer-by-layer reconstruction. Not the QuantFace paper's
// method.
//
// Why: under AdamW at QAT's small rates a latent weight seldom crosses a
// rounding boundary (session 30's oscillation counts, docs/BENCHMARKS.md),
// so the student keeps, for most weights, the nearest-level rounding it
// started with. Nearest rounding minimizes each weight's error, not the
// network's; with 9 weights per depthwise 3x3 filter the two differ most.
// Here each weight's up-or-down choice is a parameter of its own.
//
// Contract: the constructor fixes the layer's grid (per output channel) and
// each weight's lower level, floor(w / scale) + zero_point. A trainable logit
// per weight sets the fraction h = clamp(sigmoid(logit) * 1.2 - 0.1, 0, 1)
// added to that level (the rectified sigmoid, which reaches 0 and 1
// exactly). Logits start where h is the weight's fractional position
// between its two levels, so the soft weights start at the float weights
// (within the grid's range). Quantized(true) is that soft, differentiable
// weight, for training; Quantized(false) the decision: up where h >= 0.5.
// Regularizer() pushes every h towards 0 or 1; with it annealed, h ends
// decided. Levels are clamped to the grid, so weights beyond the grid's
// range stay at its ends whatever their logit. Not thread-safe.
#ifndef QUANTFACE_CORE_QUANT_LEARNED_ROUNDING_H_
#define QUANTFACE_CORE_QUANT_LEARNED_ROUNDING_H_

#include <torch/torch.h>

#include <cstdint>

#include "core/quant/affine.h"

namespace qf::quant {

struct RoundingCounts {
  int64_t weights = 0;
  int64_t away_from_nearest = 0;  // Decided otherwise than nearest rounding.
  int64_t undecided = 0;          // 0 < h < 1 (to 1e-6): soft and decided weights differ.
                                  // The report's "soft_when_decided".

  RoundingCounts& operator+=(const RoundingCounts& other);
};

class LearnedRounding {
 public:
  // `grid`: per-channel params for `weight`'s dim 0, with codes 0..code_max
  // (WeightCodeMax).
  LearnedRounding(const torch::Tensor& weight, const AffineParams& grid, int64_t code_max);

  // The trainable logits, shape of the weight.
  const torch::Tensor& logits() const { return logits_; }
  const AffineParams& grid() const { return grid_; }

  // The weight's values on its grid: soft (differentiable in the logits) or
  // decided.
  torch::Tensor Quantized(bool soft) const;

  // Sum over the weights of 1 - |2h - 1|^beta (AdaRound's f_reg): zero once
  // every h is 0 or 1. A large beta leaves h free except near 0 and 1; beta
  // falling towards 2 pushes every h to its nearer end.
  torch::Tensor Regularizer(double beta) const;

  RoundingCounts Counts() const;

 private:
  // h in [0, 1], the fraction added to the lower level.
  torch::Tensor Fraction() const;
  // Levels as floats, clamped to [0, qmax].
  torch::Tensor Levels(const torch::Tensor& fraction) const;

  const AffineParams grid_;
  const double qmax_;
  torch::Tensor scale_;       // Broadcastable to the weight: [C, 1, ...].
  torch::Tensor zero_point_;  // Float, same shape as scale_.
  torch::Tensor lower_;       // floor(w / scale) + zero_point, float.
  torch::Tensor nearest_;     // Nearest rounding's levels, for Counts().
  torch::Tensor logits_;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_LEARNED_ROUNDING_H_
