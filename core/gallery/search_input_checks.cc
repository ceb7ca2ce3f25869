#include "core/gallery/search_input_checks.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace qf::gallery {

absl::Status CheckAdd(int dim, const std::vector<int64_t>& ids, const std::vector<float>& vectors,
                      const std::unordered_set<int64_t>& present) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dim)) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", ids.size(), " vectors of ", dim,
                                                   " values, got ", vectors.size(), " values"));
  }
  std::unordered_set<int64_t> seen;
  for (int64_t id : ids) {
    if (id < 0) return absl::InvalidArgumentError(absl::StrCat("negative id ", id));
    if (present.count(id) > 0 || !seen.insert(id).second) {
      return absl::AlreadyExistsError(absl::StrCat("id ", id, " is already in the index"));
    }
  }
  for (float v : vectors) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("vector has a non-finite value");
  }
  return absl::OkStatus();
}

absl::Status CheckSearch(int dim, const std::vector<float>& queries, int k) {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k must be positive, got ", k));
  if (queries.empty() || queries.size() % static_cast<size_t>(dim) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("queries must be whole rows of ", dim, " values, got ", queries.size()));
  }
  return absl::OkStatus();
}

}  // namespace qf::gallery
