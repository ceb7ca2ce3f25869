// MakeSearchIndex: the SearchIndex implementation named by configuration
// ("flat" = exact, the default; "hnsw" = approximate).
#ifndef QUANTFACE_CORE_GALLERY_SEARCH_INDEX_FACTORY_H_
#define QUANTFACE_CORE_GALLERY_SEARCH_INDEX_FACTORY_H_

#include <memory>
#include <string>

#include "core/gallery/search_index.h"

namespace qf::gallery {

// INVALID_ARGUMENT for an unknown kind or a non-positive dimension.
absl::StatusOr<std::unique_ptr<SearchIndex>> MakeSearchIndex(const std::string& kind, int dim);

// Whether `kind` names an implementation (for validating configuration).
bool IsSearchIndexKind(const std::string& kind);

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_SEARCH_INDEX_FACTORY_H_
