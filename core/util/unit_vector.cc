#include "core/util/unit_vector.h"

#include <cmath>

namespace qf {

absl::StatusOr<std::vector<float>> UnitLength(std::vector<float> values) {
  double norm = 0;
  for (const float v : values) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("embedding has a non-finite value");
    norm += static_cast<double>(v) * v;
  }
  if (norm <= 0) return absl::InvalidArgumentError("embedding is all zeros");
  const double scale = 1.0 / std::sqrt(norm);
  for (float& v : values) v = static_cast<float>(v * scale);
  return values;
}

}  // namespace qf
