// GalleryIndex: the in-memory, searchable image of one gallery: a SearchIndex
// over its templates plus which identity owns each template and the
// identities' names and metadata.
//
// Contract: Identify() returns, per probe, up to k identities (not templates)
// with their best template score, best first, only identities whose metadata
// holds every pair of the filter. Exact when the SearchIndex is exact: it asks
// the index for more templates until it has k distinct identities or has seen
// them all. Thread-safe: Identify() calls run concurrently; Put/Remove are
// serialized with them, so a search sees an enrolment whole or not at all.
#ifndef QUANTFACE_CORE_GALLERY_GALLERY_INDEX_H_
#define QUANTFACE_CORE_GALLERY_GALLERY_INDEX_H_

#include <memory>
#include <shared_mutex>
#include <unordered_map>

#include "core/gallery/gallery_records.h"
#include "core/gallery/search_index.h"

namespace qf::gallery {

struct Candidate {
  std::string identity_id;
  std::string display_name;
  Metadata metadata;
  float score = 0;
};

class GalleryIndex {
 public:
  GalleryIndex(GalleryRecord gallery, std::unique_ptr<SearchIndex> index);

  // The gallery's fixed fields (id, model, dimension, create time).
  const GalleryRecord& gallery() const { return gallery_; }
  const std::string& index_kind() const { return index_kind_; }

  // Adds or updates an identity and adds its new templates (normalized,
  // gallery dimension; ids from the store).
  absl::Status Put(const IdentityRecord& identity, const std::vector<int64_t>& template_ids,
                   const std::vector<std::vector<float>>& templates);
  void Remove(int64_t identity_key);

  // `probes` are normalized rows of the gallery's dimension.
  absl::StatusOr<std::vector<std::vector<Candidate>>> Identify(
      const std::vector<std::vector<float>>& probes, int k, const Metadata& filter) const;

  int64_t identity_count() const;
  int64_t template_count() const;

 private:
  struct IdentityEntry {
    IdentityRecord record;
    std::vector<int64_t> template_ids;
  };

  const GalleryRecord gallery_;
  const std::string index_kind_;
  mutable std::shared_mutex mutex_;
  std::unique_ptr<SearchIndex> index_;
  std::unordered_map<int64_t, IdentityEntry> identities_;  // by identity_key
  std::unordered_map<int64_t, int64_t> template_owner_;    // template id -> identity_key
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_GALLERY_INDEX_H_
