// HnswSearchIndex: approximate search, FAISS IndexHNSWFlat (inner product)
// plus a position -> id table, for galleries where exact search is too slow.
//
// HNSW graphs cannot delete nodes, so Remove() leaves a tombstone: the
// position is excluded from every search through an IDSelector. Tombstones
// are dropped when the index is rebuilt from the gallery store (at start-up).
// Recall against exact search is measured by bench/gallery_search.
#ifndef QUANTFACE_CORE_GALLERY_HNSW_SEARCH_INDEX_H_
#define QUANTFACE_CORE_GALLERY_HNSW_SEARCH_INDEX_H_

#include <faiss/IndexHNSW.h>

#include <shared_mutex>
#include <unordered_map>

#include "core/gallery/search_index.h"

namespace qf::gallery {

struct HnswOptions {
  int neighbors = 32;        // M: graph degree
  int ef_construction = 80;  // candidate list while inserting
  int ef_search = 128;       // candidate list while searching (raised to k when smaller)
};

class HnswSearchIndex final : public SearchIndex {
 public:
  HnswSearchIndex(int dim, HnswOptions options);

  int dim() const override { return dim_; }
  int64_t size() const override;
  std::string kind() const override { return "hnsw"; }

  absl::Status Add(const std::vector<int64_t>& ids, const std::vector<float>& vectors) override;
  void Remove(const std::vector<int64_t>& ids) override;
  absl::StatusOr<std::vector<std::vector<SearchHit>>> Search(
      const std::vector<float>& queries, int k, const IdFilter& filter = nullptr) const override;

 private:
  const int dim_;
  const HnswOptions options_;
  mutable std::shared_mutex mutex_;
  faiss::IndexHNSWFlat index_;
  std::vector<int64_t> ids_;                       // ids_[position in index_]
  std::vector<bool> alive_;                        // false once removed
  std::unordered_map<int64_t, int64_t> position_;  // live id -> position
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_HNSW_SEARCH_INDEX_H_
