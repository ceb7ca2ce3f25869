// Packing of unsigned integers of 1..8 bits into a dense little-endian bit
// stream (value i occupies bits [i * bits, (i + 1) * bits), least significant
// bit first), so a w4 weight tensor takes half the bytes of int8 and a w6
// tensor three quarters. Written by hand because LibTorch has no sub-byte
// tensor type in 1.13 (quint4x2 covers 4 bits only, quint2x4 only 2).
#ifndef QUANTFACE_CORE_QUANT_BIT_PACKING_H_
#define QUANTFACE_CORE_QUANT_BIT_PACKING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qf::quant {

// Bytes needed for `count` values of `bits` bits.
inline uint64_t PackedBytes(uint64_t count, int bits) {
  return (count * static_cast<uint64_t>(bits) + 7) / 8;
}

// Values must be < 2^bits (checked: InvalidArgumentError otherwise).
absl::StatusOr<std::string> PackBits(const std::vector<uint8_t>& values, int bits);

// InvalidArgumentError when `packed` is not exactly PackedBytes(count, bits).
absl::StatusOr<std::vector<uint8_t>> UnpackBits(const std::string& packed, uint64_t count,
                                                int bits);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_BIT_PACKING_H_
