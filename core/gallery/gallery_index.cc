#include "core/gallery/gallery_index.h"

#include <algorithm>
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

absl::Status GalleryIndex::Put(const IdentityRecord& identity,
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
  IdentityEntry& entry = identities_[identity.identity_key];
  entry.record = identity;
  entry.template_ids.insert(entry.template_ids.end(), template_ids.begin(), template_ids.end());
  for (int64_t id : template_ids) template_owner_[id] = identity.identity_key;
  return absl::OkStatus();
}

void GalleryIndex::Remove(int64_t identity_key) {
  std::unique_lock lock(mutex_);
  auto it = identities_.find(identity_key);
  if (it == identities_.end()) return;
  index_->Remove(it->second.template_ids);
  for (int64_t id : it->second.template_ids) template_owner_.erase(id);
  identities_.erase(it);
}

absl::StatusOr<std::vector<std::vector<Candidate>>> GalleryIndex::Identify(
    const std::vector<std::vector<float>>& probes, int k, const Metadata& filter) const {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("top_k must be positive, got ", k));
  for (const auto& probe : probes) {
    if (static_cast<int>(probe.size()) != gallery_.dimension) {
      return absl::FailedPreconditionError(absl::StrCat(
          "probe has ", probe.size(), " values; gallery galleries/", gallery_.gallery_id, " holds ",
          gallery_.dimension, "-value templates of ", gallery_.model));
    }
  }
  std::shared_lock lock(mutex_);
  IdFilter accept;
  if (!filter.empty()) {
    accept = [this, &filter](int64_t template_id) {
      auto owner = template_owner_.find(template_id);
      if (owner == template_owner_.end()) return false;
      return HasAll(identities_.at(owner->second).record.metadata, filter);
    };
  }
  const int64_t total = static_cast<int64_t>(template_owner_.size());
  std::vector<std::vector<Candidate>> results(probes.size());
  for (size_t p = 0; p < probes.size(); ++p) {
    if (total == 0) continue;
    // Most identities have few templates: 2k templates usually hold k
    // identities; widen only when they do not.
    int64_t asked = std::min<int64_t>(total, 2 * static_cast<int64_t>(k));
    while (true) {
      auto hits = index_->Search(probes[p], static_cast<int>(asked), accept);
      if (!hits.ok()) return hits.status();
      std::vector<Candidate>& candidates = results[p];
      candidates.clear();
      std::unordered_map<int64_t, size_t> seen;
      for (const SearchHit& hit : (*hits)[0]) {
        auto owner = template_owner_.find(hit.id);
        if (owner == template_owner_.end()) continue;
        if (seen.count(owner->second) > 0) continue;  // hits are best first
        if (static_cast<int>(candidates.size()) == k) break;
        const IdentityRecord& record = identities_.at(owner->second).record;
        seen[owner->second] = candidates.size();
        candidates.push_back({record.identity_id, record.display_name, record.metadata, hit.score});
      }
      const bool exhausted = static_cast<int64_t>((*hits)[0].size()) < asked || asked >= total;
      if (static_cast<int>(candidates.size()) >= k || exhausted) break;
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
  return static_cast<int64_t>(template_owner_.size());
}

}  // namespace qf::gallery
