// QuantFaceServer: the running gRPC server with its services, health
// checking, reflection and /metrics endpoint.
//
// Start() binds both ports and returns a serving server, or the reason it
// could not (UNAVAILABLE for a busy port). Shutdown() marks every service
// NOT_SERVING, stops accepting calls, lets in-flight calls finish until the
// grace period ends and cancels the rest, then stops the job workers (running
// jobs stay RUNNING in the job store and resume on the next start).
// Destruction shuts down if needed.
#ifndef QUANTFACE_SERVER_QUANTFACE_SERVER_H_
#define QUANTFACE_SERVER_QUANTFACE_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <chrono>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/gallery/galleries.h"
#include "server/config/server_config.h"
#include "server/jobs/job_metrics.h"
#include "server/jobs/job_scheduler.h"
#include "server/jobs/job_store.h"
#include "server/metrics/gallery_metrics.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/rpc_metrics.h"
#include "server/model_hub.h"
#include "server/registry/model_registry.h"
#include "server/store/data_dir_lock.h"

namespace qf::server {

class QuantFaceServer {
 public:
  static absl::StatusOr<std::unique_ptr<QuantFaceServer>> Start(const ServerConfig& config);
  ~QuantFaceServer();

  QuantFaceServer(const QuantFaceServer&) = delete;
  QuantFaceServer& operator=(const QuantFaceServer&) = delete;

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_->port(); }
  // For the registry: a model must not be deleted while a gallery uses it.
  gallery::Galleries& galleries() { return *galleries_; }

  void Shutdown(std::chrono::milliseconds grace);

  // The model registry (for other services, e.g. galleries' in-use check).
  ModelRegistry& registry() { return *registry_; }

 private:
  struct PrivateToken {};

 public:
  explicit QuantFaceServer(PrivateToken) {}

 private:
  absl::Status StartJobsAndRegistry(const ServerConfig& config, const std::string& evaluations_dir);

  std::unique_ptr<MetricsEndpoint> metrics_;
  std::unique_ptr<RpcMetrics> rpc_metrics_;
  std::unique_ptr<DataDirLock> data_dir_lock_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<JobMetrics> job_metrics_;
  std::unique_ptr<JobStore> job_store_;
  std::unique_ptr<JobScheduler> scheduler_;  // After what its workers use.
  std::unique_ptr<ModelHub> models_;
  std::unique_ptr<gallery::Galleries> galleries_;
  std::unique_ptr<GalleryMetrics> gallery_metrics_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_QUANTFACE_SERVER_H_
