// Default QAT learning rates and weight decay, in a header without LibTorch so that the
// server's job validator can fill in a job's defaults from the same numbers
// as the training engine (core/quant/distiller.h).
#ifndef QUANTFACE_CORE_QUANT_QAT_DEFAULTS_H_
#define QUANTFACE_CORE_QUANT_QAT_DEFAULTS_H_

#include <cstdint>

namespace qf::quant {

// The QuantFace paper's SGD rate: 0.1 per 512 images in a batch.
inline constexpr double SgdDefaultLearningRate(int64_t batch_size) {
  return 0.1 * static_cast<double>(batch_size) / 512.0;
}

// The paper's weight decay (SGD: L2 in the gradient; AdamW: decoupled).
inline constexpr double kPaperWeightDecay = 5e-4;

// AdamW (not the paper's optimizer): a common rate for fine-tuning a trained
// network; its steps do not scale with the batch.
inline constexpr double kAdamDefaultLearningRate = 1e-4;

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_QAT_DEFAULTS_H_
