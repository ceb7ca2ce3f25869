// QuantBits: the bit widths of a quantized student, e.g. "w4a4" = 4-bit
// weights, 4-bit activations. Weights and activations are set independently,
// each from 2 to 8 bits (8 is the widest the int8 kernels can run).
#ifndef QUANTFACE_CORE_QUANT_QUANT_BITS_H_
#define QUANTFACE_CORE_QUANT_QUANT_BITS_H_

#include <string>

#include "absl/status/statusor.h"

namespace qf::quant {

inline constexpr int kMinBits = 2;
inline constexpr int kMaxBits = 8;

struct QuantBits {
  int weight = 8;
  int activation = 8;
};

// "w<W>a<A>" with W, A in [kMinBits, kMaxBits]; InvalidArgumentError otherwise.
absl::StatusOr<QuantBits> ParseQuantBits(const std::string& text);

// "w<W>a<A>".
std::string QuantBitsName(const QuantBits& bits);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_QUANT_BITS_H_
