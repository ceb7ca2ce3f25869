// Galleries: the gallery store (durable truth) together with one GalleryIndex
// per gallery (searchable image), kept in step.
//
// Contract: Open() builds every gallery's index from the store (the database
// is the truth; there is no snapshot to trust). Each mutation commits to the
// store first and then updates the index, under one writer lock, so the index
// never holds what the store does not and an acknowledged enrolment is both
// durable and searchable. Reads and searches run concurrently with each other.
#ifndef QUANTFACE_CORE_GALLERY_GALLERIES_H_
#define QUANTFACE_CORE_GALLERY_GALLERIES_H_

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "core/gallery/gallery_index.h"
#include "core/gallery/gallery_store.h"

namespace qf::gallery {

struct IndexBuild {
  std::string gallery_id;
  int64_t templates = 0;
  double seconds = 0;
};

class Galleries {
 public:
  // `index_kind` as in MakeSearchIndex ("flat" or "hnsw").
  static absl::StatusOr<std::unique_ptr<Galleries>> Open(const std::string& database_path,
                                                         const std::string& index_kind);

  absl::StatusOr<GalleryRecord> Create(GalleryRecord gallery);
  absl::StatusOr<GalleryRecord> Get(const std::string& gallery_id) const;
  absl::StatusOr<std::vector<GalleryRecord>> List(const std::string& after, int limit) const;
  absl::Status Delete(const std::string& gallery_id);
  absl::StatusOr<std::vector<std::string>> GalleriesUsingModel(const std::string& model) const;
  // Rebinds the gallery to `model` (same dimension) with its templates, and
  // rebuilds its index under the new binding. The caller decides whether the
  // templates stay comparable (see GalleryService::SwitchGalleryModel).
  absl::StatusOr<GalleryRecord> SwitchModel(const std::string& gallery_id,
                                            const std::string& model);

  absl::StatusOr<std::vector<EnrollResult>> Enroll(const std::string& gallery_id,
                                                   const std::vector<EnrollItem>& items);
  absl::Status RemoveIdentity(const std::string& gallery_id, const std::string& identity_id);
  absl::StatusOr<std::vector<IdentityRecord>> ListIdentities(const std::string& gallery_id,
                                                             const std::string& after,
                                                             int limit) const;
  absl::StatusOr<std::vector<TemplateRecord>> IdentityTemplates(
      const std::string& gallery_id, const std::string& identity_id) const;

  // The searchable gallery; NOT_FOUND for an unknown id.
  absl::StatusOr<std::shared_ptr<const GalleryIndex>> Index(const std::string& gallery_id) const;

  // How long building each index took at Open() or Create().
  std::vector<IndexBuild> builds() const;
  const std::string& index_kind() const { return index_kind_; }

 private:
  Galleries(std::unique_ptr<GalleryStore> store, std::string index_kind)
      : store_(std::move(store)), index_kind_(std::move(index_kind)) {}
  absl::StatusOr<std::shared_ptr<GalleryIndex>> Build(const GalleryRecord& gallery);
  std::shared_ptr<GalleryIndex> Find(const std::string& gallery_id) const;

  const std::unique_ptr<GalleryStore> store_;
  const std::string index_kind_;
  std::mutex writer_;  // one mutation at a time: store commit + index update
  mutable std::shared_mutex map_mutex_;
  std::map<std::string, std::shared_ptr<GalleryIndex>> indexes_;
  std::map<std::string, IndexBuild> builds_;
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_GALLERIES_H_
