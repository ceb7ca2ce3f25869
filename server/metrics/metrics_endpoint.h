// MetricsEndpoint: the Prometheus registry of the process and the HTTP
// exposer that serves it at /metrics on its own port.
//
// Create() binds the port (port 0 = any free port) and fails with UNAVAILABLE
// when it cannot. The registry outlives every metric registered in it.
#ifndef QUANTFACE_SERVER_METRICS_METRICS_ENDPOINT_H_
#define QUANTFACE_SERVER_METRICS_METRICS_ENDPOINT_H_

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/metrics/process_collector.h"

namespace qf::server {

class MetricsEndpoint {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Create(const std::string& address);

  prometheus::Registry& registry() { return *registry_; }
  int port() const { return port_; }

 private:
  // Lets Create() use std::make_unique while keeping construction private.
  struct PrivateToken {};

 public:
  explicit MetricsEndpoint(PrivateToken) {}

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<ProcessCollector> process_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_METRICS_METRICS_ENDPOINT_H_
