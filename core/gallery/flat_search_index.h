// FlatSearchIndex: exact search, FAISS IndexFlatIP (BLAS matrix products for
// batches, a SIMD scan for single queries) plus a position -> id table.
//
// Why the own id table instead of faiss::IndexIDMap: FAISS 1.7.3 (Debian 12)
// refuses search parameters through IndexIDMap, and the metadata filter needs
// an IDSelector; positions in IndexFlatIP are dense, so the table is a vector.
// Remove() compacts both in O(n), fine for the rare removals of a gallery.
#ifndef QUANTFACE_CORE_GALLERY_FLAT_SEARCH_INDEX_H_
#define QUANTFACE_CORE_GALLERY_FLAT_SEARCH_INDEX_H_

#include <faiss/IndexFlat.h>

#include <shared_mutex>
#include <unordered_set>

#include "core/gallery/search_index.h"

namespace qf::gallery {

class FlatSearchIndex final : public SearchIndex {
 public:
  explicit FlatSearchIndex(int dim);

  int dim() const override { return dim_; }
  int64_t size() const override;
  std::string kind() const override { return "flat"; }

  absl::Status Add(const std::vector<int64_t>& ids, const std::vector<float>& vectors) override;
  void Remove(const std::vector<int64_t>& ids) override;
  absl::StatusOr<std::vector<std::vector<SearchHit>>> Search(
      const std::vector<float>& queries, int k, const IdFilter& filter = nullptr) const override;

 private:
  const int dim_;
  mutable std::shared_mutex mutex_;
  faiss::IndexFlatIP index_;
  std::vector<int64_t> ids_;  // ids_[position in index_]
  std::unordered_set<int64_t> present_;
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_FLAT_SEARCH_INDEX_H_
