// GalleryService: galleries of enrolled identities over gallery::Galleries.
//
// A gallery is bound at creation to a model of the ModelHub; its templates
// have that model's dimension. Enroll embeds every face with the gallery's
// model (the same input handling as VerificationService: image, image +
// landmarks, aligned crop, or an embedding of that model), stores only the
// embeddings, and replies after the store has committed them. All faces of
// an Enroll are stored or none: the first bad face fails the call with its
// index and reason (INVALID_ARGUMENT; FAILED_PRECONDITION for an embedding of
// another model). SwitchGalleryModel rebinds a gallery to a model related to
// its own by distillation (the registry's teacher_model, either way round),
// keeping the templates; unrelated models are FAILED_PRECONDITION. Each
// template keeps the model that embedded it, so a switch is refused while
// the gallery holds templates the target cannot be compared with (those of
// another student of the same teacher, say), and an Enroll whose faces were
// embedded before a concurrent switch is ABORTED rather than mislabelled.
#ifndef QUANTFACE_SERVER_SERVICES_GALLERY_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_GALLERY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "core/gallery/galleries.h"
#include "core/image/decoder.h"
#include "quantface/v1/gallery.grpc.pb.h"
#include "server/metrics/gallery_metrics.h"
#include "server/model_hub.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class GalleryService final : public v1::GalleryService::Service {
 public:
  GalleryService(gallery::Galleries& galleries, ModelHub& models, GalleryMetrics& metrics,
                 int max_batch_items);

  grpc::Status CreateGallery(grpc::ServerContext* context, const v1::CreateGalleryRequest* request,
                             v1::Gallery* response) override;
  grpc::Status GetGallery(grpc::ServerContext* context, const v1::GetGalleryRequest* request,
                          v1::Gallery* response) override;
  grpc::Status ListGalleries(grpc::ServerContext* context, const v1::ListGalleriesRequest* request,
                             v1::ListGalleriesResponse* response) override;
  grpc::Status DeleteGallery(grpc::ServerContext* context, const v1::DeleteGalleryRequest* request,
                             google::protobuf::Empty* response) override;
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::Status RemoveIdentity(grpc::ServerContext* context,
                              const v1::RemoveIdentityRequest* request,
                              google::protobuf::Empty* response) override;
  grpc::Status ListIdentities(grpc::ServerContext* context,
                              const v1::ListIdentitiesRequest* request,
                              v1::ListIdentitiesResponse* response) override;
  grpc::Status SwitchGalleryModel(grpc::ServerContext* context,
                                  const v1::SwitchGalleryModelRequest* request,
                                  v1::Gallery* response) override;

 private:
  absl::StatusOr<gallery::GalleryRecord> SwitchChecked(
      const v1::SwitchGalleryModelRequest& request);
  absl::Status EnrollChecked(grpc::ServerContext& context, const v1::EnrollRequest& request,
                             v1::EnrollResponse& response);
  void UpdateSize(const std::string& gallery_id);
  // ToProto plus the template counts per model from the gallery's index.
  void ToProtoWithModels(const gallery::GalleryRecord& record, v1::Gallery& out) const;

  gallery::Galleries& galleries_;
  ModelHub& models_;
  GalleryMetrics& metrics_;
  const int max_batch_items_;
  const image::Decoder decoder_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_GALLERY_SERVICE_H_
