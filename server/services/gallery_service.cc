#include "server/services/gallery_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "server/call_control.h"
#include "server/face_batch.h"
#include "server/gallery_names.h"
#include "server/grpc_status.h"
#include "server/store/page_request.h"

namespace qf::server {

GalleryService::GalleryService(gallery::Galleries& galleries, ModelHub& models,
                               GalleryMetrics& metrics, int max_batch_items)
    : galleries_(galleries),
      models_(models),
      metrics_(metrics),
      max_batch_items_(max_batch_items) {}

void GalleryService::ToProtoWithModels(const gallery::GalleryRecord& record,
                                       v1::Gallery& out) const {
  ToProto(record, out);
  auto index = galleries_.Index(record.gallery_id);
  if (!index.ok()) return;  // Deleted meanwhile: the record's counts stand.
  for (const auto& [model, count] : (*index)->template_models()) {
    (*out.mutable_template_counts_by_model())[model] = count;
  }
}

void GalleryService::UpdateSize(const std::string& gallery_id) {
  auto index = galleries_.Index(gallery_id);
  if (!index.ok()) return;
  metrics_.SetSize(gallery_id, (*index)->identity_count(), (*index)->template_count(),
                   (*index)->template_models());
}

grpc::Status GalleryService::CreateGallery(grpc::ServerContext*,
                                           const v1::CreateGalleryRequest* request,
                                           v1::Gallery* response) {
  if (absl::Status status = gallery::ValidateGalleryId(request->gallery_id()); !status.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("gallery_id: ", status.message())));
  }
  if (request->gallery().model().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "gallery.model is required: the model (models/{model}) that embeds its faces"));
  }
  auto id = models_.Resolve(request->gallery().model());
  if (!id.ok()) return ToGrpcStatus(id.status());
  // Loading the model here fixes the gallery's dimension and proves the
  // model can serve it.
  auto embedder = models_.Embedder(*id);
  if (!embedder.ok()) return ToGrpcStatus(embedder.status());
  gallery::GalleryRecord record;
  record.gallery_id = request->gallery_id();
  record.display_name = request->gallery().display_name();
  record.model = ModelHub::ResourceName(*id);
  record.dimension = (*embedder)->spec().embedding_dim;
  record.flip_average = request->gallery().flip_average();
  auto created = galleries_.Create(record);
  if (!created.ok()) return ToGrpcStatus(created.status());
  ToProtoWithModels(*created, *response);
  metrics_.SetSize(created->gallery_id, 0, 0, {});
  return grpc::Status::OK;
}

grpc::Status GalleryService::GetGallery(grpc::ServerContext*, const v1::GetGalleryRequest* request,
                                        v1::Gallery* response) {
  auto id = ParseGalleryName(request->name(), "name");
  if (!id.ok()) return ToGrpcStatus(id.status());
  auto record = galleries_.Get(*id);
  if (!record.ok()) return ToGrpcStatus(record.status());
  ToProtoWithModels(*record, *response);
  return grpc::Status::OK;
}

grpc::Status GalleryService::ListGalleries(grpc::ServerContext*,
                                           const v1::ListGalleriesRequest* request,
                                           v1::ListGalleriesResponse* response) {
  auto size = PageLimit(request->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  auto page = galleries_.List(request->page_token(), *size + 1);
  if (!page.ok()) return ToGrpcStatus(page.status());
  const bool more = static_cast<int>(page->size()) > *size;
  if (more) page->pop_back();
  for (const auto& record : *page) ToProtoWithModels(record, *response->add_galleries());
  if (more) response->set_next_page_token(page->back().gallery_id);
  return grpc::Status::OK;
}

grpc::Status GalleryService::DeleteGallery(grpc::ServerContext*,
                                           const v1::DeleteGalleryRequest* request,
                                           google::protobuf::Empty*) {
  auto id = ParseGalleryName(request->name(), "name");
  if (!id.ok()) return ToGrpcStatus(id.status());
  if (absl::Status status = galleries_.Delete(*id); !status.ok()) return ToGrpcStatus(status);
  metrics_.Forget(*id);
  return grpc::Status::OK;
}

absl::Status GalleryService::EnrollChecked(grpc::ServerContext& context,
                                           const v1::EnrollRequest& request,
                                           v1::EnrollResponse& response) {
  QF_ASSIGN_OR_RETURN(const std::string gallery_id, ParseGalleryName(request.gallery(), "gallery"));
  QF_RETURN_IF_ERROR(gallery::ValidateIdentityId(request.identity_id()));
  if (request.faces().empty()) return absl::InvalidArgumentError("faces: at least one is needed");
  if (request.faces_size() > max_batch_items_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "faces: ", request.faces_size(), " given; this server accepts at most ", max_batch_items_));
  }
  QF_ASSIGN_OR_RETURN(auto index, galleries_.Index(gallery_id));
  const std::string& model = index->gallery().model;
  auto model_id = models_.Resolve(model);
  if (!model_id.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("gallery's model ", model, " is not served: ", model_id.status().message()));
  }
  QF_ASSIGN_OR_RETURN(const ServedModel served, models_.Serve(*model_id));
  std::vector<const v1::FaceInput*> faces;
  for (const auto& face : request.faces()) faces.push_back(&face);
  const auto results =
      EmbedFaces(faces, served, model, decoder_, index->gallery().flip_average, ControlOf(context));
  gallery::EnrollItem item;
  item.identity_id = request.identity_id();
  item.display_name = request.display_name();
  item.metadata.insert(request.metadata().begin(), request.metadata().end());
  item.model = model;  // The store refuses it if the gallery was switched meanwhile.
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].status.ok()) {
      return absl::Status(results[i].status.code(),
                          absl::StrCat("faces[", i, "]: ", results[i].status.message()));
    }
    item.embeddings.push_back(results[i].embedding);
  }
  // A client that gave up gets no reply; do not store what it cannot know of.
  if (context.IsCancelled()) return absl::CancelledError("cancelled before storing");
  QF_ASSIGN_OR_RETURN(auto enrolled, galleries_.Enroll(gallery_id, {item}));
  ToProto(gallery_id, enrolled[0].identity, *response.mutable_identity());
  response.set_templates_added(static_cast<int32_t>(enrolled[0].template_ids.size()));
  UpdateSize(gallery_id);
  return absl::OkStatus();
}

grpc::Status GalleryService::Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                                    v1::EnrollResponse* response) {
  return ToGrpcStatus(EnrollChecked(*context, *request, *response));
}

absl::StatusOr<gallery::GalleryRecord> GalleryService::SwitchChecked(
    const v1::SwitchGalleryModelRequest& request) {
  QF_ASSIGN_OR_RETURN(const std::string gallery_id, ParseGalleryName(request.name(), "name"));
  if (request.model().empty()) {
    return absl::InvalidArgumentError("model is required: the models/{model} to switch to");
  }
  QF_ASSIGN_OR_RETURN(const gallery::GalleryRecord current, galleries_.Get(gallery_id));
  QF_ASSIGN_OR_RETURN(const std::string target_id, models_.Resolve(request.model()));
  const std::string target = ModelHub::ResourceName(target_id);
  if (target == current.model) return current;
  QF_ASSIGN_OR_RETURN(const v1::Model target_entry, models_.Describe(target_id));
  // Embeddings of a student distilled from a teacher stay comparable with the
  // teacher's (that is what distillation trained for); nothing else is.
  if (!models_.StudentOfPair(target, current.model)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "gallery galleries/", gallery_id, " holds templates of ", current.model, "; ", target,
        " was not distilled from it (its teacher: ",
        target_entry.teacher_model().empty() ? "none" : target_entry.teacher_model(),
        "), so its embeddings cannot be compared with them: create a new gallery and re-enrol"));
  }
  // Templates of a model switched away from earlier stay; each must be
  // comparable with the target too (its teacher or a student of it), or no
  // measured threshold would decide their scores.
  QF_ASSIGN_OR_RETURN(auto index, galleries_.Index(gallery_id));
  for (const auto& [template_model, count] : index->template_models()) {
    if (template_model == target || models_.StudentOfPair(template_model, target)) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "gallery galleries/", gallery_id, " still holds ", count, " templates of ", template_model,
        " (enrolled before an earlier switch), which cannot be compared with ", target,
        ": switch back to a model they can be compared with, or re-enrol those identities"));
  }
  // Loading proves the model can serve and gives its dimension.
  QF_ASSIGN_OR_RETURN(auto embedder, models_.Embedder(target_id));
  if (embedder->spec().embedding_dim != current.dimension) {
    return absl::FailedPreconditionError(
        absl::StrCat(target, " embeddings have ", embedder->spec().embedding_dim,
                     " values; the gallery's templates have ", current.dimension));
  }
  QF_ASSIGN_OR_RETURN(gallery::GalleryRecord switched, galleries_.SwitchModel(gallery_id, target));
  // Explicit thresholds still work without them, so the switch stands; the
  // operator learns now rather than from the first FAR-based Match.
  for (const auto& [template_model, count] : index->template_models()) {
    if (template_model == target) continue;
    auto template_id = models_.Resolve(template_model);
    if (!template_id.ok()) continue;
    auto points = models_.CrossOperatingPointsFor(target_id, *template_id, switched.flip_average);
    if (!points.ok()) {
      spdlog::warn(
          "gallery {} switched to {}: its {} templates of {} have no FAR thresholds "
          "against {} probes yet: {}",
          gallery_id, target, count, template_model, target,
          std::string(points.status().message()));
    }
  }
  return switched;
}

grpc::Status GalleryService::SwitchGalleryModel(grpc::ServerContext*,
                                                const v1::SwitchGalleryModelRequest* request,
                                                v1::Gallery* response) {
  auto switched = SwitchChecked(*request);
  if (!switched.ok()) return ToGrpcStatus(switched.status());
  ToProtoWithModels(*switched, *response);
  return grpc::Status::OK;
}

grpc::Status GalleryService::RemoveIdentity(grpc::ServerContext*,
                                            const v1::RemoveIdentityRequest* request,
                                            google::protobuf::Empty*) {
  auto name = ParseIdentityName(request->name(), "name");
  if (!name.ok()) return ToGrpcStatus(name.status());
  if (absl::Status status = galleries_.RemoveIdentity(name->first, name->second); !status.ok()) {
    return ToGrpcStatus(status);
  }
  UpdateSize(name->first);
  return grpc::Status::OK;
}

grpc::Status GalleryService::ListIdentities(grpc::ServerContext*,
                                            const v1::ListIdentitiesRequest* request,
                                            v1::ListIdentitiesResponse* response) {
  auto id = ParseGalleryName(request->gallery(), "gallery");
  if (!id.ok()) return ToGrpcStatus(id.status());
  auto size = PageLimit(request->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  auto page = galleries_.ListIdentities(*id, request->page_token(), *size + 1);
  if (!page.ok()) return ToGrpcStatus(page.status());
  const bool more = static_cast<int>(page->size()) > *size;
  if (more) page->pop_back();
  for (const auto& record : *page) ToProto(*id, record, *response->add_identities());
  if (more) response->set_next_page_token(page->back().identity_id);
  return grpc::Status::OK;
}

}  // namespace qf::server
