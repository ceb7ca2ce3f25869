#include "server/services/model_registry_service.h"

#include "server/grpc_status.h"

namespace qf::server {

grpc::Status ModelRegistryService::ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                                              v1::ListModelsResponse*) {
  return Unimplemented("quantface.v1.ModelRegistry/ListModels");
}

grpc::Status ModelRegistryService::GetModel(grpc::ServerContext*, const v1::GetModelRequest*,
                                            v1::Model*) {
  return Unimplemented("quantface.v1.ModelRegistry/GetModel");
}

grpc::Status ModelRegistryService::DeleteModel(grpc::ServerContext*, const v1::DeleteModelRequest*,
                                               google::protobuf::Empty*) {
  return Unimplemented("quantface.v1.ModelRegistry/DeleteModel");
}

grpc::Status ModelRegistryService::UploadModel(grpc::ServerContext*,
                                               grpc::ServerReader<v1::UploadModelRequest>*,
                                               v1::Model*) {
  return Unimplemented("quantface.v1.ModelRegistry/UploadModel");
}

grpc::Status ModelRegistryService::DownloadModel(grpc::ServerContext*,
                                                 const v1::DownloadModelRequest*,
                                                 grpc::ServerWriter<v1::DownloadModelResponse>*) {
  return Unimplemented("quantface.v1.ModelRegistry/DownloadModel");
}

grpc::Status ModelRegistryService::SetDefaultModel(grpc::ServerContext*,
                                                   const v1::SetDefaultModelRequest*, v1::Model*) {
  return Unimplemented("quantface.v1.ModelRegistry/SetDefaultModel");
}

}  // namespace qf::server
