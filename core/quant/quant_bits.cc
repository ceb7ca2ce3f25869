#include "core/quant/quant_bits.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace qf::quant {

absl::StatusOr<QuantBits> ParseQuantBits(const std::string& text) {
  const auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat("bad bit widths '", text,
                                                   "': expected w<W>a<A> with W and A in ",
                                                   kMinBits, "..", kMaxBits, ", e.g. w4a4"));
  };
  if (text.size() < 4 || text[0] != 'w') return invalid();
  const size_t a = text.find('a');
  if (a == std::string::npos) return invalid();
  QuantBits bits;
  if (!absl::SimpleAtoi(absl::string_view(text).substr(1, a - 1), &bits.weight) ||
      !absl::SimpleAtoi(absl::string_view(text).substr(a + 1), &bits.activation)) {
    return invalid();
  }
  if (bits.weight < kMinBits || bits.weight > kMaxBits || bits.activation < kMinBits ||
      bits.activation > kMaxBits) {
    return invalid();
  }
  return bits;
}

std::string QuantBitsName(const QuantBits& bits) {
  return absl::StrCat("w", bits.weight, "a", bits.activation);
}

}  // namespace qf::quant
