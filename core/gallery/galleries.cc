#include "core/gallery/galleries.h"

#include <chrono>

#include "core/gallery/search_index_factory.h"
#include "core/util/status_macros.h"

namespace qf::gallery {

absl::StatusOr<std::unique_ptr<Galleries>> Galleries::Open(const std::string& database_path,
                                                           const std::string& index_kind) {
  if (!IsSearchIndexKind(index_kind)) return MakeSearchIndex(index_kind, 1).status();
  QF_ASSIGN_OR_RETURN(auto store, GalleryStore::Open(database_path));
  std::unique_ptr<Galleries> galleries(new Galleries(std::move(store), index_kind));
  std::string after;
  while (true) {
    QF_ASSIGN_OR_RETURN(auto page, galleries->store_->ListGalleries(after, 1000));
    if (page.empty()) break;
    for (const GalleryRecord& gallery : page) {
      QF_ASSIGN_OR_RETURN(auto index, galleries->Build(gallery));
      galleries->indexes_[gallery.gallery_id] = std::move(index);
    }
    after = page.back().gallery_id;
  }
  return galleries;
}

absl::StatusOr<std::shared_ptr<GalleryIndex>> Galleries::Build(const GalleryRecord& gallery) {
  const auto start = std::chrono::steady_clock::now();
  QF_ASSIGN_OR_RETURN(auto search, MakeSearchIndex(index_kind_, gallery.dimension));
  auto index = std::make_shared<GalleryIndex>(gallery, std::move(search));
  std::map<int64_t, IdentityRecord> identities;
  QF_RETURN_IF_ERROR(store_->ForEachIdentity(gallery.gallery_id, [&](IdentityRecord identity) {
    identities.emplace(identity.identity_key, std::move(identity));
  }));
  // Templates come grouped by identity only by accident of insertion order;
  // collect per identity and embedding model, then add in those batches.
  struct Batch {
    std::vector<int64_t> ids;
    std::vector<std::vector<float>> rows;
  };
  std::map<int64_t, std::map<std::string, Batch>> templates;
  QF_RETURN_IF_ERROR(store_->ForEachTemplate(gallery.gallery_id, [&](TemplateRecord record) {
    Batch& batch = templates[record.identity_key][record.model];
    batch.ids.push_back(record.template_id);
    batch.rows.push_back(std::move(record.embedding));
  }));
  int64_t count = 0;
  for (auto& [key, identity] : identities) {
    const auto& by_model = templates[key];
    identity.template_count = 0;
    for (const auto& [model, batch] : by_model) {
      identity.template_count += static_cast<int32_t>(batch.ids.size());
    }
    count += identity.template_count;
    if (by_model.empty()) QF_RETURN_IF_ERROR(index->Put(identity, gallery.model, {}, {}));
    for (const auto& [model, batch] : by_model) {
      QF_RETURN_IF_ERROR(index->Put(identity, model, batch.ids, batch.rows));
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::unique_lock lock(map_mutex_);
  builds_[gallery.gallery_id] = {gallery.gallery_id, count, elapsed.count()};
  return index;
}

std::shared_ptr<GalleryIndex> Galleries::Find(const std::string& gallery_id) const {
  std::shared_lock lock(map_mutex_);
  auto it = indexes_.find(gallery_id);
  return it == indexes_.end() ? nullptr : it->second;
}

absl::StatusOr<GalleryRecord> Galleries::Create(GalleryRecord gallery) {
  std::lock_guard writer(writer_);
  QF_ASSIGN_OR_RETURN(GalleryRecord created, store_->CreateGallery(std::move(gallery)));
  QF_ASSIGN_OR_RETURN(auto index, Build(created));
  std::unique_lock lock(map_mutex_);
  indexes_[created.gallery_id] = std::move(index);
  return created;
}

absl::StatusOr<GalleryRecord> Galleries::Get(const std::string& gallery_id) const {
  return store_->GetGallery(gallery_id);
}

absl::StatusOr<std::vector<GalleryRecord>> Galleries::List(const std::string& after,
                                                           int limit) const {
  return store_->ListGalleries(after, limit);
}

absl::Status Galleries::Delete(const std::string& gallery_id) {
  std::lock_guard writer(writer_);
  QF_RETURN_IF_ERROR(store_->DeleteGallery(gallery_id));
  std::unique_lock lock(map_mutex_);
  indexes_.erase(gallery_id);
  builds_.erase(gallery_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Galleries::GalleriesUsingModel(
    const std::string& model) const {
  return store_->GalleriesUsingModel(model);
}

absl::StatusOr<GalleryRecord> Galleries::SwitchModel(const std::string& gallery_id,
                                                     const std::string& model) {
  std::lock_guard writer(writer_);
  QF_ASSIGN_OR_RETURN(GalleryRecord switched, store_->SetGalleryModel(gallery_id, model));
  // A fresh index rather than a mutable binding: searches in flight keep the
  // old one, new ones see the new model, never a mix.
  QF_ASSIGN_OR_RETURN(auto index, Build(switched));
  std::unique_lock lock(map_mutex_);
  indexes_[gallery_id] = std::move(index);
  return switched;
}

absl::StatusOr<std::vector<EnrollResult>> Galleries::Enroll(const std::string& gallery_id,
                                                            const std::vector<EnrollItem>& items) {
  std::lock_guard writer(writer_);
  QF_ASSIGN_OR_RETURN(auto results, store_->Enroll(gallery_id, items));
  std::shared_ptr<GalleryIndex> index = Find(gallery_id);
  if (index == nullptr) return absl::InternalError("gallery index missing for " + gallery_id);
  for (const EnrollResult& result : results) {
    QF_RETURN_IF_ERROR(
        index->Put(result.identity, result.model, result.template_ids, result.normalized));
  }
  return results;
}

absl::Status Galleries::RemoveIdentity(const std::string& gallery_id,
                                       const std::string& identity_id) {
  std::lock_guard writer(writer_);
  QF_ASSIGN_OR_RETURN(const IdentityRecord identity, store_->GetIdentity(gallery_id, identity_id));
  QF_RETURN_IF_ERROR(store_->RemoveIdentity(gallery_id, identity_id).status());
  if (std::shared_ptr<GalleryIndex> index = Find(gallery_id)) index->Remove(identity.identity_key);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<IdentityRecord>> Galleries::ListIdentities(const std::string& gallery_id,
                                                                      const std::string& after,
                                                                      int limit) const {
  return store_->ListIdentities(gallery_id, after, limit);
}

absl::StatusOr<std::vector<TemplateRecord>> Galleries::IdentityTemplates(
    const std::string& gallery_id, const std::string& identity_id) const {
  return store_->IdentityTemplates(gallery_id, identity_id);
}

absl::StatusOr<std::shared_ptr<const GalleryIndex>> Galleries::Index(
    const std::string& gallery_id) const {
  std::shared_ptr<const GalleryIndex> index = Find(gallery_id);
  if (index == nullptr) {
    return absl::NotFoundError("gallery galleries/" + gallery_id + " not found");
  }
  return index;
}

std::vector<IndexBuild> Galleries::builds() const {
  std::shared_lock lock(map_mutex_);
  std::vector<IndexBuild> builds;
  for (const auto& [id, build] : builds_) builds.push_back(build);
  return builds;
}

}  // namespace qf::gallery
