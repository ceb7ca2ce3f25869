#include "core/gallery/hnsw_search_index.h"

#include <faiss/impl/FaissException.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "core/gallery/position_selector.h"
#include "core/gallery/search_input_checks.h"

namespace qf::gallery {

HnswSearchIndex::HnswSearchIndex(int dim, HnswOptions options)
    : dim_(dim), options_(options), index_(dim, options.neighbors, faiss::METRIC_INNER_PRODUCT) {
  index_.hnsw.efConstruction = options.ef_construction;
  index_.hnsw.efSearch = options.ef_search;
}

int64_t HnswSearchIndex::size() const {
  std::shared_lock lock(mutex_);
  return static_cast<int64_t>(position_.size());
}

absl::Status HnswSearchIndex::Add(const std::vector<int64_t>& ids,
                                  const std::vector<float>& vectors) {
  std::unique_lock lock(mutex_);
  std::unordered_set<int64_t> present;
  present.reserve(ids.size());
  for (int64_t id : ids) {
    if (position_.count(id) > 0) present.insert(id);
  }
  if (absl::Status status = CheckAdd(dim_, ids, vectors, present); !status.ok()) return status;
  if (ids.empty()) return absl::OkStatus();
  try {
    index_.add(static_cast<faiss::Index::idx_t>(ids.size()), vectors.data());
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(e.what());
  }
  for (int64_t id : ids) {
    position_[id] = static_cast<int64_t>(ids_.size());
    ids_.push_back(id);
    alive_.push_back(true);
  }
  return absl::OkStatus();
}

void HnswSearchIndex::Remove(const std::vector<int64_t>& ids) {
  std::unique_lock lock(mutex_);
  for (int64_t id : ids) {
    auto it = position_.find(id);
    if (it == position_.end()) continue;
    alive_[it->second] = false;
    position_.erase(it);
  }
}

absl::StatusOr<std::vector<std::vector<SearchHit>>> HnswSearchIndex::Search(
    const std::vector<float>& queries, int k, const IdFilter& filter) const {
  if (absl::Status status = CheckSearch(dim_, queries, k); !status.ok()) return status;
  const size_t n = queries.size() / static_cast<size_t>(dim_);
  std::shared_lock lock(mutex_);
  std::vector<std::vector<SearchHit>> results(n);
  if (position_.empty()) return results;
  const int64_t kk = std::min<int64_t>(k, static_cast<int64_t>(position_.size()));
  std::vector<float> scores(n * kk);
  std::vector<faiss::Index::idx_t> positions(n * kk);
  const bool any_removed = position_.size() != ids_.size();
  PositionSelector selector(ids_, &alive_, filter);
  faiss::SearchParametersHNSW params;
  params.efSearch = std::max<int>(options_.ef_search, static_cast<int>(kk));
  params.sel = (any_removed || filter) ? &selector : nullptr;
  try {
    index_.search(static_cast<faiss::Index::idx_t>(n), queries.data(), kk, scores.data(),
                  positions.data(), &params);
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(e.what());
  }
  for (size_t q = 0; q < n; ++q) {
    for (int64_t j = 0; j < kk; ++j) {
      const faiss::Index::idx_t position = positions[q * kk + j];
      if (position < 0) break;
      results[q].push_back({ids_[position], scores[q * kk + j]});
    }
  }
  return results;
}

}  // namespace qf::gallery
