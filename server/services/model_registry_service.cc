#include "server/services/model_registry_service.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/util/sha256.h"
#include "server/grpc_status.h"

namespace qf::server {
namespace {

constexpr int kDefaultChunkBytes = 1 << 20;
constexpr int kMaxChunkBytes = 4 << 20;

}  // namespace

grpc::Status ModelRegistryService::ListModels(grpc::ServerContext*,
                                              const v1::ListModelsRequest* request,
                                              v1::ListModelsResponse* response) {
  ModelListFilter filter;
  filter.architecture = request->architecture();
  filter.weight_bits = request->weight_bits();
  filter.teacher_model = request->teacher_model();
  auto page = registry_.List(filter, request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Model& model : page->models) *response->add_models() = std::move(model);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status ModelRegistryService::GetModel(grpc::ServerContext*,
                                            const v1::GetModelRequest* request,
                                            v1::Model* response) {
  auto model = registry_.Get(request->name());
  if (!model.ok()) return ToGrpcStatus(model.status());
  *response = *std::move(model);
  return grpc::Status::OK;
}

grpc::Status ModelRegistryService::DeleteModel(grpc::ServerContext*,
                                               const v1::DeleteModelRequest* request,
                                               google::protobuf::Empty*) {
  const absl::Status status = registry_.Delete(request->name());
  if (status.ok() && changed_) changed_();
  return ToGrpcStatus(status);
}

grpc::Status ModelRegistryService::UploadModel(grpc::ServerContext*,
                                               grpc::ServerReader<v1::UploadModelRequest>* reader,
                                               v1::Model* response) {
  v1::UploadModelRequest message;
  if (!reader->Read(&message) || !message.has_metadata()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first UploadModelRequest must carry metadata");
  }
  const v1::UploadModelRequest::Metadata metadata = message.metadata();
  if (absl::Status s = ModelRegistry::CheckId(metadata.model_id()); !s.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("metadata.", s.message())));
  }
  if (metadata.size_bytes() < 0 || metadata.size_bytes() > max_upload_bytes_) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("metadata.size_bytes must be in 0..", max_upload_bytes_));
  }
  if (registry_.Get(absl::StrCat("models/", metadata.model_id())).ok()) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("model models/", metadata.model_id(), " already exists"));
  }
  auto writer = registry_.NewUpload();
  if (!writer.ok()) return ToGrpcStatus(writer.status());
  while (reader->Read(&message)) {
    if (message.has_metadata()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "metadata may only be sent in the first message");
    }
    if ((*writer)->size() + static_cast<int64_t>(message.chunk().size()) > max_upload_bytes_) {
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("upload exceeds max_upload_bytes (", max_upload_bytes_, " bytes)"));
    }
    if (absl::Status s = (*writer)->Append(message.chunk()); !s.ok()) return ToGrpcStatus(s);
  }
  if ((*writer)->size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the upload carried no file bytes");
  }
  NewModel request;
  request.id = metadata.model_id();
  request.display_name = metadata.display_name();
  request.format = metadata.format();
  request.architecture = metadata.architecture();
  request.expected_size = metadata.size_bytes();
  request.expected_sha256 = metadata.sha256();
  request.latent_dim = metadata.latent_dim();
  request.declared_synthetic = metadata.declared_synthetic();
  auto model = registry_.AddModel(request, **writer);
  if (!model.ok()) return ToGrpcStatus(model.status());
  if (changed_) changed_();
  *response = *std::move(model);
  return grpc::Status::OK;
}

grpc::Status ModelRegistryService::DownloadModel(
    grpc::ServerContext* context, const v1::DownloadModelRequest* request,
    grpc::ServerWriter<v1::DownloadModelResponse>* writer) {
  if (request->chunk_size() < 0 || request->chunk_size() > kMaxChunkBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("chunk_size must be in 0..", kMaxChunkBytes));
  }
  auto model = registry_.Get(request->name());
  if (!model.ok()) return ToGrpcStatus(model.status());
  v1::ModelArtifact artifact;
  auto path = request->artifact().empty()
                  ? registry_.FilePath(request->name())
                  : registry_.ArtifactPath(request->name(), request->artifact(), &artifact);
  if (!path.ok()) return ToGrpcStatus(path.status());
  // What the bytes must hash to: the model file's or the artifact's digest.
  const std::string expected_sha256 =
      request->artifact().empty() ? model->sha256() : artifact.sha256();
  std::ifstream in(*path, std::ios::binary | std::ios::ate);
  if (!in) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        absl::StrCat("the file of ", request->name(), " is missing"));
  }
  const int64_t size = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  const int chunk_size = request->chunk_size() == 0 ? kDefaultChunkBytes : request->chunk_size();
  std::string buffer(static_cast<size_t>(chunk_size), '\0');
  Sha256Hasher hasher;  // Of the bytes actually sent, not the stored name.
  int64_t offset = 0;
  do {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    in.read(buffer.data(), chunk_size);
    const auto count = static_cast<size_t>(in.gcount());
    v1::DownloadModelResponse response;
    response.set_chunk(buffer.data(), count);
    response.set_offset(offset);
    response.set_size_bytes(size);
    hasher.Update(std::string_view(buffer.data(), count));
    offset += static_cast<int64_t>(count);
    if (offset >= size) {
      // The digest of what was read must be the stored one: a file damaged
      // on disk is reported, not delivered.
      const std::string digest = hasher.HexDigest();
      if (digest != expected_sha256) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            absl::StrCat("the stored file of ", request->name(),
                                         " is damaged: sha256 ", digest, " != ", expected_sha256));
      }
      response.set_sha256(digest);
    }
    if (!writer->Write(response)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
  } while (offset < size && in);
  if (offset != size) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        absl::StrCat("read ", offset, " of ", size, " bytes of ", request->name()));
  }
  return grpc::Status::OK;
}

grpc::Status ModelRegistryService::SetDefaultModel(grpc::ServerContext*,
                                                   const v1::SetDefaultModelRequest* request,
                                                   v1::Model* response) {
  auto model = registry_.SetDefault(request->name());
  if (!model.ok()) return ToGrpcStatus(model.status());
  *response = *std::move(model);
  return grpc::Status::OK;
}

}  // namespace qf::server
