// `quantface model ...`: ModelRegistry, with chunked upload and download.
#include <fstream>
#include <iostream>

#include "client/commands/commands.h"
#include "client/commands/unary_call.h"
#include "core/util/sha256.h"
#include "quantface/v1/registry.grpc.pb.h"

namespace qf::cli {
namespace {

namespace v1 = ::quantface::v1;

constexpr size_t kUploadChunkBytes = 1 << 20;

struct UploadOptions {
  std::string path;
  std::string model_id;
  std::string display_name;
  std::string format = "packed";
  std::string architecture;
  int latent_dim = 0;
  bool declared_synthetic = false;
};

int Upload(CliContext& context, const UploadOptions& options) {
  v1::UploadModelRequest::Metadata metadata;
  if (options.format == "packed") {
    metadata.set_format(v1::MODEL_FORMAT_PACKED_QUANTIZED);
  } else if (options.format == "state-dict") {
    metadata.set_format(v1::MODEL_FORMAT_TORCH_STATE_DICT);
  } else if (options.format == "generator") {
    metadata.set_format(v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR);
  } else {
    return context.Fail("--format must be packed, state-dict or generator");
  }
  auto digest = Sha256HexOfFile(options.path);
  if (!digest.ok()) return context.Fail(std::string(digest.status().message()));
  std::ifstream in(options.path, std::ios::binary | std::ios::ate);
  metadata.set_size_bytes(static_cast<int64_t>(in.tellg()));
  in.seekg(0);
  metadata.set_sha256(*digest);
  metadata.set_model_id(options.model_id);
  metadata.set_display_name(options.display_name);
  metadata.set_architecture(options.architecture);
  metadata.set_latent_dim(options.latent_dim);
  metadata.set_declared_synthetic(options.declared_synthetic);

  auto stub = v1::ModelRegistry::NewStub(context.Channel());
  grpc::ClientContext call;  // Uploads take as long as the file needs.
  v1::Model model;
  auto writer = stub->UploadModel(&call, &model);
  v1::UploadModelRequest request;
  *request.mutable_metadata() = metadata;
  bool open = writer->Write(request);
  std::string buffer(kUploadChunkBytes, '\0');
  while (open && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() == 0) break;
    request.set_chunk(buffer.data(), static_cast<size_t>(in.gcount()));
    open = writer->Write(request);
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return context.Fail(status);
  context.Print(model);
  return kExitOk;
}

int Download(CliContext& context, const std::string& name, const std::string& artifact,
             const std::string& output) {
  auto stub = v1::ModelRegistry::NewStub(context.Channel());
  grpc::ClientContext call;
  v1::DownloadModelRequest request;
  request.set_name(ResourceName("models", name));
  request.set_artifact(artifact);
  auto reader = stub->DownloadModel(&call, request);
  const std::string temp = output + ".part";
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out) return context.Fail("cannot write " + temp, kExitRpcError);
  Sha256Hasher hasher;
  std::string expected_sha256;
  v1::DownloadModelResponse chunk;
  while (reader->Read(&chunk)) {
    out.write(chunk.chunk().data(), static_cast<std::streamsize>(chunk.chunk().size()));
    hasher.Update(chunk.chunk());
    if (!chunk.sha256().empty()) expected_sha256 = chunk.sha256();
  }
  out.close();
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::remove(temp.c_str());
    return context.Fail(status);
  }
  const std::string actual = hasher.HexDigest();
  if (actual != expected_sha256) {
    std::remove(temp.c_str());
    return context.Fail("downloaded sha256 " + actual + " != server's " + expected_sha256,
                        kExitRpcError);
  }
  std::rename(temp.c_str(), output.c_str());
  context.Note("wrote " + output + " sha256 " + actual);
  return kExitOk;
}

}  // namespace

void AddModelCommands(CLI::App& app, CliContext& context, int& exit_status) {
  auto* model = app.add_subcommand("model", "The model registry (ModelRegistry)");
  model->require_subcommand(1);

  auto architecture = std::make_shared<std::string>();
  auto teacher = std::make_shared<std::string>();
  auto bits = std::make_shared<int>(0);
  auto page_size = std::make_shared<int>(0);
  auto page_token = std::make_shared<std::string>();
  auto* list = model->add_subcommand("list", "List models");
  list->add_option("--architecture", *architecture, "Only this architecture");
  list->add_option("--weight-bits", *bits, "Only models with these weight bits");
  list->add_option("--teacher", *teacher, "Only students of this teacher");
  list->add_option("--page-size", *page_size, "Models per page");
  list->add_option("--page-token", *page_token, "Token from the previous page");
  list->callback([&context, &exit_status, architecture, teacher, bits, page_size, page_token] {
    v1::ListModelsRequest request;
    request.set_architecture(*architecture);
    if (!teacher->empty()) request.set_teacher_model(ResourceName("models", *teacher));
    request.set_weight_bits(*bits);
    request.set_page_size(*page_size);
    request.set_page_token(*page_token);
    auto stub = v1::ModelRegistry::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::ModelRegistry::Stub::ListModels, request);
  });

  auto name = std::make_shared<std::string>();
  auto* get = model->add_subcommand("get", "Show a model with its evaluation");
  get->add_option("name", *name, "Model name or id")->required();
  get->callback([&context, &exit_status, name] {
    v1::GetModelRequest request;
    request.set_name(ResourceName("models", *name));
    auto stub = v1::ModelRegistry::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::ModelRegistry::Stub::GetModel, request);
  });

  auto* remove = model->add_subcommand("delete", "Delete a model");
  remove->add_option("name", *name, "Model name or id")->required();
  remove->callback([&context, &exit_status, name] {
    v1::DeleteModelRequest request;
    request.set_name(ResourceName("models", *name));
    auto stub = v1::ModelRegistry::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::ModelRegistry::Stub::DeleteModel, request);
  });

  auto* make_default = model->add_subcommand("default", "Make a model the default");
  make_default->add_option("name", *name, "Model name or id")->required();
  make_default->callback([&context, &exit_status, name] {
    v1::SetDefaultModelRequest request;
    request.set_name(ResourceName("models", *name));
    auto stub = v1::ModelRegistry::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::ModelRegistry::Stub::SetDefaultModel, request);
  });

  auto output = std::make_shared<std::string>();
  auto artifact = std::make_shared<std::string>();
  auto* download = model->add_subcommand("download", "Download a model file or an artifact");
  download->add_option("name", *name, "Model name or id")->required();
  download->add_option("-o,--output", *output, "Output file")->required();
  download->add_option("--artifact", *artifact,
                       "One of the model's artifacts instead of its file: roc (PNG) or log");
  download->callback([&context, &exit_status, name, artifact, output] {
    exit_status = Download(context, *name, *artifact, *output);
  });

  auto upload_options = std::make_shared<UploadOptions>();
  auto* upload = model->add_subcommand("upload", "Upload a model file");
  upload->add_option("file", upload_options->path, "The file")
      ->required()
      ->check(CLI::ExistingFile);
  upload->add_option("--id", upload_options->model_id, "Model id")->required();
  upload->add_option("--display-name", upload_options->display_name, "Human-readable name");
  upload->add_option("--format", upload_options->format, "packed, state-dict or generator")
      ->capture_default_str();
  upload->add_option("--architecture", upload_options->architecture,
                     "Architecture of a state-dict, e.g. iresnet50");
  upload->add_option("--latent-dim", upload_options->latent_dim,
                     "Generator: latent length (0: the module's latent_dim attribute)");
  upload->add_flag("--declared-synthetic", upload_options->declared_synthetic,
                   "Generator: declare that it makes faces of no real person (required)");
  upload->callback(
      [&context, &exit_status, upload_options] { exit_status = Upload(context, *upload_options); });
}

}  // namespace qf::cli
