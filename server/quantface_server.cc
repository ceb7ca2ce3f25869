#include "server/quantface_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/eval/protocol_names.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/packed_model.h"
#include "server/jobs/job_validator.h"
#include "server/jobs/quantize_job_runner.h"
#include "server/lazy_face_detector.h"
#include "server/metrics/rpc_metrics_interceptor.h"
#include "server/registry/builtin_models.h"
#include "server/registry/model_inspector.h"
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

  const std::string evaluations_dir =
      config.evaluations_dir.empty() ? config.data_dir + "/evaluations" : config.evaluations_dir;
  server->models_ =
      std::make_unique<ModelHub>(config.asset_dir, evaluations_dir, config.default_model,
                                 std::make_shared<LazyFaceDetector>(config.shape_predictor));
  if (!server->models_->Resolve("models/" + config.default_model).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_model '", config.default_model, "' is not a known model"));
  }
  if (config.micro_batch_max_wait_us > 0 && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    // libgomp reads it before main(), so it cannot be set from here.
    spdlog::warn(
        "micro-batching is on but OMP_WAIT_POLICY is unset: spinning OpenMP workers cost "
        "micro-batched serving up to 3x its throughput on a busy CPU; start the server with "
        "OMP_WAIT_POLICY=passive");
  }
  MicroBatchOptions batching;
  batching.max_wait = std::chrono::microseconds(config.micro_batch_max_wait_us);
  batching.max_batch = config.micro_batch_max_size;
  batching.max_queue = config.micro_batch_max_queue;
  server->models_->SetBatching(
      batching, &prometheus::BuildHistogram()
                     .Name("quantface_embed_batch_size")
                     .Help("Face images per model forward pass, by model (several requests' "
                           "faces when micro-batching is on; a mirror-averaged face is two "
                           "images).")
                     .Register(server->metrics_->registry()));
  if (absl::Status s = server->StartJobsAndRegistry(config, evaluations_dir); !s.ok()) return s;
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
                                        (*index)->template_count(), (*index)->template_models());
    }
  }
  // A model bound to a gallery, or whose templates a switched gallery still
  // holds, must not be deleted from the registry.
  server->registry_->AddInUseCheck([galleries = server->galleries_.get()](const std::string& name) {
    absl::StatusOr<std::vector<std::string>> users = galleries->GalleriesUsingModel(name);
    if (users.ok()) return *std::move(users);
    spdlog::error("checking galleries that use {}: {}", name, users.status().ToString());
    return std::vector<std::string>{"(galleries unknown: " + std::string(users.status().message()) +
                                    ")"};
  });
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
  if (scheduler_ != nullptr) scheduler_->Shutdown();
}

absl::Status QuantFaceServer::StartJobsAndRegistry(const ServerConfig& config,
                                                   const std::string& evaluations_dir) {
  auto lock = DataDirLock::Acquire(config.data_dir);
  if (!lock.ok()) return lock.status();
  data_dir_lock_ = *std::move(lock);
  auto registry = ModelRegistry::Open(config.data_dir + "/registry", InspectModelFile);
  if (!registry.ok()) return registry.status();
  registry_ = *std::move(registry);
  if (absl::Status s = RegisterBuiltinModels(*registry_, config.asset_dir, evaluations_dir);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = registry_->InitDefault("models/" + config.default_model); !s.ok()) return s;
  models_->AttachRegistry(registry_.get(), config.quantized_engine == "int8");
  registry_->AddDeleteListener(
      [hub = models_.get()](const std::string& name) { hub->Forget(name.substr(7)); });

  job_metrics_ = std::make_unique<JobMetrics>(metrics_->registry());
  auto store = JobStore::Open(config.data_dir + "/jobs/jobs.db");
  if (!store.ok()) return store.status();
  job_store_ = *std::move(store);

  JobLimits limits;
  limits.max_steps = config.max_job_steps;
  limits.cuda_devices = static_cast<int>(torch::cuda::device_count());
  limits.cpu_workers =
      config.job_cpu_workers >= 0 ? config.job_cpu_workers : (limits.cuda_devices == 0 ? 1 : 0);
  if (!config.lfw_dir.empty()) {
    limits.protocols["lfw"] = config.lfw_dir;
    limits.protocols[eval::kLfwAllPairsBenchmark] = config.lfw_dir;
  }
  for (const std::string& teacher : limits.quantizable_teachers) {
    auto backbone = quant::NewQuantizableBackbone(teacher);
    if (!backbone.ok()) return backbone.status();
    limits.quantizable_layers[teacher] = quant::OrderedQuantizedLayerNames(**backbone);
  }

  QuantizeRunnerOptions runner;
  runner.asset_dir = config.asset_dir;
  runner.synthetic_cache_dir = config.synthetic_cache_dir.empty() ? config.data_dir + "/synthetic"
                                                                  : config.synthetic_cache_dir;
  runner.protocols = limits.protocols;
  runner.all_pairs_max_people = config.lfw_all_pairs_max_people;
  runner.checkpoint_every = config.job_checkpoint_every;
  runner.cpu_threads = config.torch_threads;

  SchedulerOptions options;
  options.cpu_workers = limits.cpu_workers;
  options.cuda_devices = limits.cuda_devices;
  options.max_queued = config.max_queued_jobs;
  options.work_root = config.data_dir + "/jobs/work";
  auto scheduler = JobScheduler::Create(
      options, *job_store_, MakeQuantizeJobRunner(runner, *registry_), job_metrics_.get());
  if (!scheduler.ok()) return scheduler.status();
  scheduler_ = *std::move(scheduler);
  registry_->AddInUseCheck([scheduler = scheduler_.get()](const std::string& name) {
    return scheduler->JobsUsingModel(name);
  });
  const auto registry_changed = [registry = registry_.get(), metrics = job_metrics_.get()] {
    const ModelRegistry::Totals totals = registry->totals();
    metrics->SetRegistry(totals.models, totals.stored_bytes);
  };
  registry_changed();
  registry_->AddChangeListener(registry_changed);

  services_.push_back(std::make_unique<QuantizationService>(*scheduler_, *registry_, limits));
  services_.push_back(
      std::make_unique<ModelRegistryService>(*registry_, config.max_upload_bytes, nullptr));
  scheduler_->Start();
  spdlog::info("job workers: {} CUDA, {} CPU; registry: {} models", limits.cuda_devices,
               limits.cpu_workers, registry_->totals().models);
  return absl::OkStatus();
}

QuantFaceServer::~QuantFaceServer() {
  if (server_ != nullptr) Shutdown(std::chrono::milliseconds(0));
}

}  // namespace qf::server
