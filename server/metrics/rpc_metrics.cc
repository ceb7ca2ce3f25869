#include "server/metrics/rpc_metrics.h"

#include "server/metrics/grpc_code_name.h"

namespace qf::server {
namespace {

// From 0.5 ms (a cached-embedding Match) to 60 s (a large batch).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return buckets;
}

}  // namespace

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("quantface_rpc_requests_total")
                    .Help("gRPC calls handled, by method and status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("quantface_rpc_duration_seconds")
                    .Help("Time from receiving a call to sending its status, by method.")
                    .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("quantface_rpc_in_flight")
                     .Help("gRPC calls being handled right now, by method.")
                     .Register(registry)) {}

void RpcMetrics::CallStarted(const std::string& method) {
  in_flight_.Add({{"method", method}}).Increment();
}

void RpcMetrics::CallFinished(const std::string& method, grpc::StatusCode code, double seconds) {
  in_flight_.Add({{"method", method}}).Decrement();
  requests_.Add({{"method", method}, {"code", std::string(GrpcCodeName(code))}}).Increment();
  duration_.Add({{"method", method}}, LatencyBuckets()).Observe(seconds);
}

}  // namespace qf::server
