// ModelRegistryService: the gRPC face of ModelRegistry (server/registry).
//
// Translates protos to registry calls; holds no numerics. Uploads stream into
// a blob writer (never held in memory whole), are limited to
// `max_upload_bytes`, and are validated by the registry's inspector before
// anything is stored; downloads stream the stored file in chunks with its
// sha256 on the last message.
#ifndef QUANTFACE_SERVER_SERVICES_MODEL_REGISTRY_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_MODEL_REGISTRY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>

#include "quantface/v1/registry.grpc.pb.h"
#include "server/registry/model_registry.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class ModelRegistryService final : public v1::ModelRegistry::Service {
 public:
  // `changed` runs after every change of the registry's contents (metrics).
  ModelRegistryService(ModelRegistry& registry, int64_t max_upload_bytes,
                       std::function<void()> changed)
      : registry_(registry), max_upload_bytes_(max_upload_bytes), changed_(std::move(changed)) {}

  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status DeleteModel(grpc::ServerContext* context, const v1::DeleteModelRequest* request,
                           google::protobuf::Empty* response) override;
  grpc::Status UploadModel(grpc::ServerContext* context,
                           grpc::ServerReader<v1::UploadModelRequest>* reader,
                           v1::Model* response) override;
  grpc::Status DownloadModel(grpc::ServerContext* context, const v1::DownloadModelRequest* request,
                             grpc::ServerWriter<v1::DownloadModelResponse>* writer) override;
  grpc::Status SetDefaultModel(grpc::ServerContext* context,
                               const v1::SetDefaultModelRequest* request,
                               v1::Model* response) override;

 private:
  ModelRegistry& registry_;
  const int64_t max_upload_bytes_;
  const std::function<void()> changed_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_MODEL_REGISTRY_SERVICE_H_
