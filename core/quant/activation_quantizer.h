// ActivationQuantizer: per-tensor asymmetric fake quantization of one
// activation, with its range tracked as an exponential moving average of the
// batch ranges while observing, then frozen. A batch's range is its min/max
// (the paper's) or a clipped range (core/quant/range_estimator.h).
//
// Contract: while observing, each Apply() first updates the range
// (the first batch sets it; later ones: r = beta * r + (1 - beta) * batch)
// and then quantizes with the updated range. Once frozen, Apply() quantizes
// with the stored range and never changes it. Apply() before any
// observation returns x unchanged (nothing is known about its range yet).
// The range lives on the device of the last observed batch.
//
// Optionally the range is then learned instead of frozen (StartLearning):
// the scale becomes a trainable parameter initialized from the range, the
// zero point stays fixed, and Apply() uses ATen's learnable fake quantizer,
// whose scale gradient is LSQ's (Esser et al., "Learned Step Size
// Quantization", ICLR 2020), scaled by 1 / sqrt(features * qmax) as LSQ
// prescribes. lo()/hi() then follow the learned scale, so saving a model
// needs nothing new. This is not the QuantFace paper's method (it freezes
// the EMA range): min/max ranges spend most of a 4-bit grid on rare large
// activations, and a learned clip trades that for resolution.
#ifndef QUANTFACE_CORE_QUANT_ACTIVATION_QUANTIZER_H_
#define QUANTFACE_CORE_QUANT_ACTIVATION_QUANTIZER_H_

#include <torch/torch.h>

#include <cstdint>

#include "core/quant/affine.h"
#include "core/quant/range_estimator.h"

namespace qf::quant {

class ActivationQuantizer {
 public:
  explicit ActivationQuantizer(int bits, double beta = 0.9,
                               RangeEstimator estimator = RangeEstimator::kMinMax)
      : bits_(bits), beta_(beta), estimator_(estimator) {}

  torch::Tensor Apply(const torch::Tensor& x);

  void set_observing(bool observing) { observing_ = observing; }
  bool observing() const { return observing_; }
  bool initialized() const { return lo_.defined(); }
  int bits() const { return bits_; }
  RangeEstimator estimator() const { return estimator_; }
  int64_t num_observed() const { return num_observed_; }

  // The range (scalars); undefined before the first observation. While
  // learning: the range the learned scale and fixed zero point span.
  torch::Tensor lo() const;
  torch::Tensor hi() const;
  // Sets a frozen range, e.g. loaded from a model file; ends learning.
  void SetRange(const torch::Tensor& lo, const torch::Tensor& hi);
  AffineParams Params() const;

  // Stops observing and makes the scale trainable, starting from the
  // current range (which must exist). Returns the scale parameter ([1],
  // requires_grad) for the optimizer.
  torch::Tensor StartLearning();
  bool learning() const { return learned_scale_.defined(); }

 private:
  const int bits_;
  const double beta_;
  const RangeEstimator estimator_;
  bool observing_ = true;
  int64_t num_observed_ = 0;
  torch::Tensor lo_;
  torch::Tensor hi_;
  torch::Tensor learned_scale_;  // [1], trainable; defined while learning.
  torch::Tensor zero_point_;     // [1] float, fixed; defined while learning.
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_ACTIVATION_QUANTIZER_H_
