// GalleryIndex: the in-memory, searchable image of one gallery: a SearchIndex
// over its templates plus which identity owns each template, which model
// embedded it, and the identities' names and metadata.
//
// Contract: Identify() returns, per probe, up to k identities (not templates),
// each with the score of its deciding template, only identities whose
// metadata holds every pair of the filter. Scores are ranked by their margin
// over the threshold of the model that embedded the template (thresholds
// given per model; none given: every threshold 0, so by score): a gallery
// switched to a student holds templates of its teacher, whose scores against
// the student's probes have thresholds of their own. An identity's deciding
// template is its one of largest margin; identities come best margin first.
// Exact when the SearchIndex is exact: it asks the index for more templates
// until no template not yet seen could change the first k. Thread-safe:
// Identify() calls run concurrently; Put/Remove are serialized with them, so
// a search sees an enrolment whole or not at all.
#ifndef QUANTFACE_CORE_GALLERY_GALLERY_INDEX_H_
#define QUANTFACE_CORE_GALLERY_GALLERY_INDEX_H_

#include <map>
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
  float score = 0;             // of the deciding template
  float threshold = 0;         // of the model that embedded it
  std::string template_model;  // that model
};

// Decision threshold per template model (resource name).
using ThresholdByModel = std::map<std::string, float>;

class GalleryIndex {
 public:
  GalleryIndex(GalleryRecord gallery, std::unique_ptr<SearchIndex> index);

  // The gallery's fixed fields (id, model, dimension, create time).
  const GalleryRecord& gallery() const { return gallery_; }
  const std::string& index_kind() const { return index_kind_; }

  // Adds or updates an identity and adds its new templates (normalized,
  // gallery dimension; ids from the store), embedded by `model`.
  absl::Status Put(const IdentityRecord& identity, const std::string& model,
                   const std::vector<int64_t>& template_ids,
                   const std::vector<std::vector<float>>& templates);
  void Remove(int64_t identity_key);

  // `probes` are normalized rows of the gallery's dimension. `thresholds`,
  // when given, must name every model of template_models()
  // (FAILED_PRECONDITION otherwise).
  absl::StatusOr<std::vector<std::vector<Candidate>>> Identify(
      const std::vector<std::vector<float>>& probes, int k, const Metadata& filter,
      const ThresholdByModel& thresholds = {}) const;

  int64_t identity_count() const;
  int64_t template_count() const;
  // How many templates each model embedded (models with none left out).
  std::map<std::string, int64_t> template_models() const;

 private:
  struct IdentityEntry {
    IdentityRecord record;
    std::vector<int64_t> template_ids;
  };
  struct TemplateEntry {
    int64_t identity_key = 0;
    int model = 0;  // into models_
  };

  const GalleryRecord gallery_;
  const std::string index_kind_;
  mutable std::shared_mutex mutex_;
  std::unique_ptr<SearchIndex> index_;
  std::unordered_map<int64_t, IdentityEntry> identities_;  // by identity_key
  std::unordered_map<int64_t, TemplateEntry> templates_;   // by template id
  std::vector<std::string> models_;                        // that embedded templates
  std::vector<int64_t> model_template_counts_;             // parallel to models_
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_GALLERY_INDEX_H_
