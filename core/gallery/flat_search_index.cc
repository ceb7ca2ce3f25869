#include "core/gallery/flat_search_index.h"

#include <faiss/impl/FaissException.h>

#include <algorithm>
#include <mutex>

#include "core/gallery/position_selector.h"
#include "core/gallery/search_input_checks.h"

namespace qf::gallery {

FlatSearchIndex::FlatSearchIndex(int dim) : dim_(dim), index_(dim) {}

int64_t FlatSearchIndex::size() const {
  std::shared_lock lock(mutex_);
  return static_cast<int64_t>(ids_.size());
}

absl::Status FlatSearchIndex::Add(const std::vector<int64_t>& ids,
                                  const std::vector<float>& vectors) {
  std::unique_lock lock(mutex_);
  if (absl::Status status = CheckAdd(dim_, ids, vectors, present_); !status.ok()) return status;
  if (ids.empty()) return absl::OkStatus();
  try {
    index_.add(static_cast<faiss::Index::idx_t>(ids.size()), vectors.data());
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(e.what());
  }
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  present_.insert(ids.begin(), ids.end());
  return absl::OkStatus();
}

void FlatSearchIndex::Remove(const std::vector<int64_t>& ids) {
  std::unique_lock lock(mutex_);
  std::unordered_set<int64_t> doomed;
  for (int64_t id : ids) {
    if (present_.erase(id) > 0) doomed.insert(id);
  }
  if (doomed.empty()) return;
  std::vector<faiss::Index::idx_t> positions;
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (doomed.count(ids_[i]) > 0) positions.push_back(static_cast<faiss::Index::idx_t>(i));
  }
  // IndexFlat::remove_ids keeps the order of the remaining rows; do the same.
  const faiss::IDSelectorBatch selector(positions.size(), positions.data());
  index_.remove_ids(selector);
  ids_.erase(std::remove_if(ids_.begin(), ids_.end(),
                            [&doomed](int64_t id) { return doomed.count(id) > 0; }),
             ids_.end());
}

absl::StatusOr<std::vector<std::vector<SearchHit>>> FlatSearchIndex::Search(
    const std::vector<float>& queries, int k, const IdFilter& filter) const {
  if (absl::Status status = CheckSearch(dim_, queries, k); !status.ok()) return status;
  const size_t n = queries.size() / static_cast<size_t>(dim_);
  std::shared_lock lock(mutex_);
  std::vector<std::vector<SearchHit>> results(n);
  if (ids_.empty()) return results;
  const int64_t kk = std::min<int64_t>(k, static_cast<int64_t>(ids_.size()));
  std::vector<float> scores(n * kk);
  std::vector<faiss::Index::idx_t> positions(n * kk);
  PositionSelector selector(ids_, nullptr, filter);
  faiss::SearchParameters params;
  params.sel = &selector;
  try {
    index_.search(static_cast<faiss::Index::idx_t>(n), queries.data(), kk, scores.data(),
                  positions.data(), filter ? &params : nullptr);
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(e.what());
  }
  for (size_t q = 0; q < n; ++q) {
    for (int64_t j = 0; j < kk; ++j) {
      const faiss::Index::idx_t position = positions[q * kk + j];
      if (position < 0) break;  // fewer than k accepted vectors
      results[q].push_back({ids_[position], scores[q * kk + j]});
    }
  }
  return results;
}

}  // namespace qf::gallery
