#include "core/gallery/search_index_factory.h"

#include "absl/strings/str_cat.h"
#include "core/gallery/flat_search_index.h"
#include "core/gallery/hnsw_search_index.h"

namespace qf::gallery {

bool IsSearchIndexKind(const std::string& kind) { return kind == "flat" || kind == "hnsw"; }

absl::StatusOr<std::unique_ptr<SearchIndex>> MakeSearchIndex(const std::string& kind, int dim) {
  if (dim <= 0) return absl::InvalidArgumentError(absl::StrCat("bad dimension ", dim));
  if (kind == "flat") return std::make_unique<FlatSearchIndex>(dim);
  if (kind == "hnsw") return std::make_unique<HnswSearchIndex>(dim, HnswOptions{});
  return absl::InvalidArgumentError(
      absl::StrCat("unknown search index '", kind, "'; expected flat or hnsw"));
}

}  // namespace qf::gallery
