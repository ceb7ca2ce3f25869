// ModelRegistryService: The model registry: built-in teachers and quantized students.
//
// Translates protos to core calls; holds no numerics. RPCs that later issues
// implement answer UNIMPLEMENTED with a message naming the RPC, never a silent
// success.
#ifndef QUANTFACE_SERVER_SERVICES_MODEL_REGISTRY_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_MODEL_REGISTRY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "quantface/v1/registry.grpc.pb.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class ModelRegistryService final : public v1::ModelRegistry::Service {
 public:
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
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_MODEL_REGISTRY_SERVICE_H_
