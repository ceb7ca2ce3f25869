// ActivationQuantizer: per-tensor asymmetric fake quantization of one
// activation, with its range tracked as an exponential moving average of the
// batch min/max while observing, then frozen.
//
// Contract: while observing, each Apply() first updates the range
// (the first batch sets it; later ones: r = beta * r + (1 - beta) * batch)
// and then quantizes with the updated range. Once frozen, Apply() quantizes
// with the stored range and never changes it. Apply() before any
// observation returns x unchanged (nothing is known about its range yet).
// The range lives on the device of the last observed batch.
#ifndef QUANTFACE_CORE_QUANT_ACTIVATION_QUANTIZER_H_
#define QUANTFACE_CORE_QUANT_ACTIVATION_QUANTIZER_H_

#include <torch/torch.h>

#include <cstdint>

#include "core/quant/affine.h"

namespace qf::quant {

class ActivationQuantizer {
 public:
  explicit ActivationQuantizer(int bits, double beta = 0.9) : bits_(bits), beta_(beta) {}

  torch::Tensor Apply(const torch::Tensor& x);

  void set_observing(bool observing) { observing_ = observing; }
  bool observing() const { return observing_; }
  bool initialized() const { return lo_.defined(); }
  int bits() const { return bits_; }
  int64_t num_observed() const { return num_observed_; }

  // The tracked range (scalars); undefined before the first observation.
  const torch::Tensor& lo() const { return lo_; }
  const torch::Tensor& hi() const { return hi_; }
  // Sets a frozen range, e.g. loaded from a model file.
  void SetRange(const torch::Tensor& lo, const torch::Tensor& hi);
  AffineParams Params() const { return ComputeAffineParams(lo_, hi_, bits_); }

 private:
  const int bits_;
  const double beta_;
  bool observing_ = true;
  int64_t num_observed_ = 0;
  torch::Tensor lo_;
  torch::Tensor hi_;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_ACTIVATION_QUANTIZER_H_
