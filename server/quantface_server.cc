#include "server/quantface_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "server/lazy_face_detector.h"
#include "server/metrics/rpc_metrics_interceptor.h"
#include "server/services/gallery_service.h"
#include "server/services/model_registry_service.h"
#include "server/services/quantization_service.h"
#include "server/services/verification_service.h"

namespace qf::server {
namespace {

// Names reported by grpc.health.v1.Health, besides "" (the whole server).
const std::vector<std::string>& ServiceNames() {
  static const std::vector<std::string> names = {
      "quantface.v1.QuantizationService", "quantface.v1.ModelRegistry",
      "quantface.v1.VerificationService", "quantface.v1.GalleryService"};
  return names;
}

void SetServing(grpc::Server& server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const std::string& name : ServiceNames()) health->SetServingStatus(name, serving);
}

}  // namespace

absl::StatusOr<std::unique_ptr<QuantFaceServer>> QuantFaceServer::Start(
    const ServerConfig& config) {
  auto server = std::make_unique<QuantFaceServer>(PrivateToken{});

  auto metrics = MetricsEndpoint::Create(config.metrics_address);
  if (!metrics.ok()) return metrics.status();
  server->metrics_ = std::move(metrics).value();
  server->rpc_metrics_ = std::make_unique<RpcMetrics>(server->metrics_->registry());
  prometheus::BuildGauge()
      .Name("quantface_build_info")
      .Help("Always 1; the labels describe the running build.")
      .Register(server->metrics_->registry())
      .Add({{"version", QF_VERSION}})
      .Set(1);

  server->services_.push_back(std::make_unique<QuantizationService>());
  server->services_.push_back(std::make_unique<ModelRegistryService>());
  const std::string evaluations_dir =
      config.evaluations_dir.empty() ? config.data_dir + "/evaluations" : config.evaluations_dir;
  server->models_ =
      std::make_unique<ModelHub>(config.asset_dir, evaluations_dir, config.default_model,
                                 std::make_shared<LazyFaceDetector>(config.shape_predictor));
  if (!server->models_->Resolve("models/" + config.default_model).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_model '", config.default_model, "' is not a known model"));
  }
  const std::string gallery_db =
      config.gallery_db.empty() ? config.data_dir + "/galleries.db" : config.gallery_db;
  auto galleries = gallery::Galleries::Open(gallery_db, config.gallery_index);
  if (!galleries.ok()) return galleries.status();
  server->galleries_ = std::move(galleries).value();
  server->gallery_metrics_ = std::make_unique<GalleryMetrics>(server->metrics_->registry());
  for (const gallery::IndexBuild& build : server->galleries_->builds()) {
    spdlog::info("gallery {}: {} index of {} templates built in {:.3f} s", build.gallery_id,
                 config.gallery_index, build.templates, build.seconds);
    server->gallery_metrics_->SetBuildSeconds(build.gallery_id, config.gallery_index,
                                              build.seconds);
    auto index = server->galleries_->Index(build.gallery_id);
    if (index.ok()) {
      server->gallery_metrics_->SetSize(build.gallery_id, (*index)->identity_count(),
                                        (*index)->template_count());
    }
  }
  server->services_.push_back(std::make_unique<VerificationService>(
      *server->models_, *server->galleries_, *server->gallery_metrics_, config.max_batch_items,
      server->metrics_->registry()));
  server->services_.push_back(std::make_unique<GalleryService>(
      *server->galleries_, *server->models_, *server->gallery_metrics_, config.max_batch_items));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.grpc_address, grpc::InsecureServerCredentials(),
                           &server->grpc_port_);
  builder.SetMaxReceiveMessageSize(config.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(config.max_send_message_bytes);
  grpc::ResourceQuota quota("quantface-server");
  quota.SetMaxThreads(config.max_rpc_threads);
  builder.SetResourceQuota(quota);
  for (const auto& service : server->services_) builder.RegisterService(service.get());

  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<RpcMetricsInterceptorFactory>(*server->rpc_metrics_));
  builder.experimental().SetInterceptorCreators(std::move(creators));

  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", config.grpc_address));
  }
  SetServing(*server->server_, true);
  return server;
}

void QuantFaceServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(*server_, false);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

QuantFaceServer::~QuantFaceServer() {
  if (server_ != nullptr) Shutdown(std::chrono::milliseconds(0));
}

}  // namespace qf::server
