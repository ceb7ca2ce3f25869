// CountingSearchIndex: a SearchIndex that passes every call to another one
// and counts the searches. With a flat index each search is a full scan of
// the gallery, so the count is what a caller's search strategy costs; the
// benchmark and the tests of GalleryIndex's widening read it.
#ifndef QUANTFACE_CORE_GALLERY_COUNTING_SEARCH_INDEX_H_
#define QUANTFACE_CORE_GALLERY_COUNTING_SEARCH_INDEX_H_

#include <atomic>
#include <memory>
#include <utility>

#include "core/gallery/search_index.h"

namespace qf::gallery {

class CountingSearchIndex final : public SearchIndex {
 public:
  // `searches` outlives this index (the GalleryIndex that owns it may not
  // hand it back); it is incremented once per Search() call.
  CountingSearchIndex(std::unique_ptr<SearchIndex> inner, std::atomic<int64_t>* searches)
      : inner_(std::move(inner)), searches_(searches) {}

  int dim() const override { return inner_->dim(); }
  int64_t size() const override { return inner_->size(); }
  std::string kind() const override { return inner_->kind(); }
  absl::Status Add(const std::vector<int64_t>& ids, const std::vector<float>& vectors) override {
    return inner_->Add(ids, vectors);
  }
  void Remove(const std::vector<int64_t>& ids) override { inner_->Remove(ids); }
  absl::StatusOr<std::vector<std::vector<SearchHit>>> Search(
      const std::vector<float>& queries, int k, const IdFilter& filter = nullptr) const override {
    searches_->fetch_add(1);
    return inner_->Search(queries, k, filter);
  }

 private:
  const std::unique_ptr<SearchIndex> inner_;
  std::atomic<int64_t>* const searches_;
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_COUNTING_SEARCH_INDEX_H_
