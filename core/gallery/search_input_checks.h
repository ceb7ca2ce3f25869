// Argument checks shared by the SearchIndex implementations.
#ifndef QUANTFACE_CORE_GALLERY_SEARCH_INPUT_CHECKS_H_
#define QUANTFACE_CORE_GALLERY_SEARCH_INPUT_CHECKS_H_

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"

namespace qf::gallery {

// Rows are whole, ids are new and distinct, values are finite.
absl::Status CheckAdd(int dim, const std::vector<int64_t>& ids, const std::vector<float>& vectors,
                      const std::unordered_set<int64_t>& present);

// Queries are whole rows and k is positive.
absl::Status CheckSearch(int dim, const std::vector<float>& queries, int k);

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_SEARCH_INPUT_CHECKS_H_
