#include "core/gallery/flat_search_index.h"

#include <faiss/impl/FaissException.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <mutex>

#include "core/gallery/position_selector.h"
#include "core/gallery/search_input_checks.h"

namespace qf::gallery {
namespace {

// Below this many rows a single-threaded scan is fast enough.
constexpr int64_t kRowsPerShard = 1 << 16;

// Positions of one shard, seen by a selector over the whole index.
class ShardSelector final : public faiss::IDSelector {
 public:
  ShardSelector(const faiss::IDSelector* whole, int64_t offset) : whole_(whole), offset_(offset) {}
  bool is_member(faiss::Index::idx_t position) const override {
    return whole_->is_member(position + offset_);
  }

 private:
  const faiss::IDSelector* whole_;
  const int64_t offset_;
};

}  // namespace

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
  const faiss::IDSelector* sel = filter ? &selector : nullptr;
  const int64_t rows = static_cast<int64_t>(ids_.size());
  // FAISS scans the rows for a few queries on one thread (it parallelizes
  // over queries, or over BLAS blocks for many). For a few queries over a
  // large gallery, split the rows into shards scanned in parallel and merge
  // the per-shard top k: the same exact result, sooner on several cores.
  const int shards =
      static_cast<int>(std::min<int64_t>(omp_get_max_threads(), rows / kRowsPerShard));
  try {
    if (static_cast<int>(n) < faiss::distance_compute_blas_threshold && shards > 1) {
      std::vector<std::vector<float>> shard_scores(shards, std::vector<float>(n * kk));
      std::vector<std::vector<int64_t>> shard_positions(shards, std::vector<int64_t>(n * kk));
      const int64_t per_shard = (rows + shards - 1) / shards;
#pragma omp parallel for num_threads(shards)
      for (int s = 0; s < shards; ++s) {
        const int64_t begin = s * per_shard;
        const int64_t count = std::min(rows, begin + per_shard) - begin;
        const ShardSelector shard_sel(sel, begin);
        faiss::knn_inner_product(queries.data(), index_.get_xb() + begin * dim_, dim_, n, count, kk,
                                 shard_scores[s].data(), shard_positions[s].data(),
                                 sel != nullptr ? &shard_sel : nullptr);
        for (int64_t& position : shard_positions[s]) {
          if (position >= 0) position += begin;
        }
      }
      for (size_t q = 0; q < n; ++q) {
        std::vector<std::pair<float, int64_t>> merged;
        for (int s = 0; s < shards; ++s) {
          for (int64_t j = 0; j < kk; ++j) {
            const int64_t position = shard_positions[s][q * kk + j];
            if (position >= 0) merged.emplace_back(shard_scores[s][q * kk + j], position);
          }
        }
        const size_t keep = std::min<size_t>(kk, merged.size());
        std::partial_sort(merged.begin(), merged.begin() + keep, merged.end(),
                          [](const auto& a, const auto& b) { return a.first > b.first; });
        for (int64_t j = 0; j < kk; ++j) {
          scores[q * kk + j] = j < static_cast<int64_t>(keep) ? merged[j].first : 0.0f;
          positions[q * kk + j] = j < static_cast<int64_t>(keep) ? merged[j].second : -1;
        }
      }
    } else {
      faiss::SearchParameters params;
      params.sel = &selector;
      index_.search(static_cast<faiss::Index::idx_t>(n), queries.data(), kk, scores.data(),
                    positions.data(), filter ? &params : nullptr);
    }
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
