#include "core/quant/bit_packing.h"

#include "absl/strings/str_cat.h"

namespace qf::quant {

absl::StatusOr<std::string> PackBits(const std::vector<uint8_t>& values, int bits) {
  if (bits < 1 || bits > 8) return absl::InvalidArgumentError(absl::StrCat("bad bit width ", bits));
  std::string out(PackedBytes(values.size(), bits), '\0');
  uint64_t bit = 0;
  for (const uint8_t v : values) {
    if (v >> bits != 0) {
      return absl::InvalidArgumentError(absl::StrCat("value ", v, " does not fit ", bits, " bits"));
    }
    for (int b = 0; b < bits; ++b, ++bit) {
      if ((v >> b) & 1) out[bit / 8] = static_cast<char>(out[bit / 8] | (1 << (bit % 8)));
    }
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> UnpackBits(const std::string& packed, uint64_t count,
                                                int bits) {
  if (bits < 1 || bits > 8) return absl::InvalidArgumentError(absl::StrCat("bad bit width ", bits));
  if (packed.size() != PackedBytes(count, bits)) {
    return absl::InvalidArgumentError(absl::StrCat("packed size ", packed.size(), " for ", count,
                                                   " values of ", bits, " bits, expected ",
                                                   PackedBytes(count, bits)));
  }
  std::vector<uint8_t> values(count, 0);
  uint64_t bit = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint8_t v = 0;
    for (int b = 0; b < bits; ++b, ++bit) {
      if ((static_cast<uint8_t>(packed[bit / 8]) >> (bit % 8)) & 1)
        v |= static_cast<uint8_t>(1 << b);
    }
    values[i] = v;
  }
  return values;
}

}  // namespace qf::quant
