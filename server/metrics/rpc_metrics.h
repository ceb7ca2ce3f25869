// RpcMetrics: per-method request counters and latency histograms.
//
// Families (Prometheus naming conventions, `quantface_` prefix):
//   quantface_rpc_requests_total{method, code}    counter, one per finished call
//   quantface_rpc_duration_seconds{method}        histogram of handling time
//   quantface_rpc_in_flight{method}               gauge of calls being handled
// `method` is the full gRPC method without the leading slash, e.g.
// "quantface.v1.VerificationService/Match". Thread-safe.
#ifndef QUANTFACE_SERVER_METRICS_RPC_METRICS_H_
#define QUANTFACE_SERVER_METRICS_RPC_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <grpcpp/support/status.h>

#include <string>

namespace qf::server {

class RpcMetrics {
 public:
  explicit RpcMetrics(prometheus::Registry& registry);

  void CallStarted(const std::string& method);
  void CallFinished(const std::string& method, grpc::StatusCode code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_METRICS_RPC_METRICS_H_
