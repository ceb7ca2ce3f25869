#include "core/gallery/gallery_index.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace qf::gallery {
namespace {

bool HasAll(const Metadata& metadata, const Metadata& filter) {
  for (const auto& [key, value] : filter) {
    auto it = metadata.find(key);
    if (it == metadata.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

GalleryIndex::GalleryIndex(GalleryRecord gallery, std::unique_ptr<SearchIndex> index)
    : gallery_(std::move(gallery)), index_kind_(index->kind()), index_(std::move(index)) {}

absl::Status GalleryIndex::Put(const IdentityRecord& identity, const std::string& model,
                               const std::vector<int64_t>& template_ids,
                               const std::vector<std::vector<float>>& templates) {
  if (template_ids.size() != templates.size()) {
    return absl::InvalidArgumentError("one id per template is needed");
  }
  std::vector<float> rows;
  rows.reserve(templates.size() * static_cast<size_t>(gallery_.dimension));
  for (const auto& row : templates) rows.insert(rows.end(), row.begin(), row.end());
  std::unique_lock lock(mutex_);
  if (absl::Status status = index_->Add(template_ids, rows); !status.ok()) return status;
  auto known = std::find(models_.begin(), models_.end(), model);
  const int model_code = static_cast<int>(known - models_.begin());
  if (known == models_.end()) {
    models_.push_back(model);
    model_template_counts_.push_back(0);
  }
  IdentityEntry& entry = identities_[identity.identity_key];
  entry.record = identity;
  entry.template_ids.insert(entry.template_ids.end(), template_ids.begin(), template_ids.end());
  for (int64_t id : template_ids) templates_[id] = {identity.identity_key, model_code};
  model_template_counts_[model_code] += static_cast<int64_t>(template_ids.size());
  return absl::OkStatus();
}

void GalleryIndex::Remove(int64_t identity_key) {
  std::unique_lock lock(mutex_);
  auto it = identities_.find(identity_key);
  if (it == identities_.end()) return;
  index_->Remove(it->second.template_ids);
  for (int64_t id : it->second.template_ids) {
    auto entry = templates_.find(id);
    if (entry == templates_.end()) continue;
    --model_template_counts_[entry->second.model];
    templates_.erase(entry);
  }
  identities_.erase(it);
}

absl::StatusOr<std::vector<std::vector<Candidate>>> GalleryIndex::Identify(
    const std::vector<std::vector<float>>& probes, int k, const Metadata& filter,
    const ThresholdByModel& thresholds) const {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("top_k must be positive, got ", k));
  for (const auto& probe : probes) {
    if (static_cast<int>(probe.size()) != gallery_.dimension) {
      return absl::FailedPreconditionError(absl::StrCat(
          "probe has ", probe.size(), " values; gallery galleries/", gallery_.gallery_id, " holds ",
          gallery_.dimension, "-value templates of ", gallery_.model));
    }
  }
  std::shared_lock lock(mutex_);
  // The threshold of each model code, and the lowest one of any template:
  // a template not yet seen scores at most the last one seen, so its margin
  // is at most that score minus the lowest threshold.
  std::vector<float> threshold_of(models_.size(), 0.0f);
  float lowest_threshold = std::numeric_limits<float>::infinity();
  float highest_threshold = -std::numeric_limits<float>::infinity();
  for (size_t m = 0; m < models_.size(); ++m) {
    if (model_template_counts_[m] == 0) continue;
    if (!thresholds.empty()) {
      auto given = thresholds.find(models_[m]);
      if (given == thresholds.end()) {
        return absl::FailedPreconditionError(absl::StrCat("no threshold for the templates of ",
                                                          models_[m], " in gallery galleries/",
                                                          gallery_.gallery_id));
      }
      threshold_of[m] = given->second;
    }
    lowest_threshold = std::min(lowest_threshold, threshold_of[m]);
    highest_threshold = std::max(highest_threshold, threshold_of[m]);
  }
  // Most identities have few templates: 2k templates usually hold k
  // identities. When the thresholds differ, the first k are settled only
  // once the scores seen reach the gap between them below the k-th: 8k
  // usually do (bench/gallery_search --mixed-gaps, docs/BENCHMARKS.md), and
  // a wider first request costs next to nothing, where asking again is a
  // second scan of a flat index. Widen only when that is not enough.
  const int64_t first_request = (highest_threshold > lowest_threshold ? 8 : 2) * int64_t{k};
  IdFilter accept;
  if (!filter.empty()) {
    accept = [this, &filter](int64_t template_id) {
      auto entry = templates_.find(template_id);
      if (entry == templates_.end()) return false;
      return HasAll(identities_.at(entry->second.identity_key).record.metadata, filter);
    };
  }
  const int64_t total = static_cast<int64_t>(templates_.size());
  std::vector<std::vector<Candidate>> results(probes.size());
  for (size_t p = 0; p < probes.size(); ++p) {
    if (total == 0) continue;
    int64_t asked = std::min<int64_t>(total, first_request);
    while (true) {
      auto hits = index_->Search(probes[p], static_cast<int>(asked), accept);
      if (!hits.ok()) return hits.status();
      std::vector<Candidate> candidates;
      std::unordered_map<int64_t, size_t> seen;  // identity_key -> candidate
      for (const SearchHit& hit : (*hits)[0]) {
        auto entry = templates_.find(hit.id);
        if (entry == templates_.end()) continue;
        const float threshold = threshold_of[entry->second.model];
        auto [at, inserted] = seen.emplace(entry->second.identity_key, candidates.size());
        if (!inserted) {
          Candidate& known = candidates[at->second];
          if (hit.score - threshold <= known.score - known.threshold) continue;
          known.score = hit.score;
          known.threshold = threshold;
          known.template_model = models_[entry->second.model];
          continue;
        }
        const IdentityRecord& record = identities_.at(entry->second.identity_key).record;
        candidates.push_back({record.identity_id, record.display_name, record.metadata, hit.score,
                              threshold, models_[entry->second.model]});
      }
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Candidate& a, const Candidate& b) {
                         return a.score - a.threshold > b.score - b.threshold;
                       });
      const bool exhausted = static_cast<int64_t>((*hits)[0].size()) < asked || asked >= total;
      // Settled: the k-th margin is at least any unseen template's. With one
      // threshold for all, that holds as soon as k identities were seen.
      const float unseen_bound = (*hits)[0].empty() ? -std::numeric_limits<float>::infinity()
                                                    : (*hits)[0].back().score - lowest_threshold;
      const bool settled = static_cast<int>(candidates.size()) >= k &&
                           candidates[k - 1].score - candidates[k - 1].threshold >= unseen_bound;
      if (settled || exhausted) {
        if (static_cast<int>(candidates.size()) > k) candidates.resize(k);
        results[p] = std::move(candidates);
        break;
      }
      asked = std::min<int64_t>(total, asked * 4);
    }
  }
  return results;
}

int64_t GalleryIndex::identity_count() const {
  std::shared_lock lock(mutex_);
  return static_cast<int64_t>(identities_.size());
}

int64_t GalleryIndex::template_count() const {
  std::shared_lock lock(mutex_);
  return static_cast<int64_t>(templates_.size());
}

std::map<std::string, int64_t> GalleryIndex::template_models() const {
  std::shared_lock lock(mutex_);
  std::map<std::string, int64_t> counts;
  for (size_t m = 0; m < models_.size(); ++m) {
    if (model_template_counts_[m] > 0) counts[models_[m]] = model_template_counts_[m];
  }
  return counts;
}

}  // namespace qf::gallery
