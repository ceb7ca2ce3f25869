// A server interceptor that records RpcMetrics for every call, so handlers
// never count themselves. One interceptor object lives per call: it is created
// when the call arrives and the status is recorded when the server sends it.
#ifndef QUANTFACE_SERVER_METRICS_RPC_METRICS_INTERCEPTOR_H_
#define QUANTFACE_SERVER_METRICS_RPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <string>

#include "server/metrics/rpc_metrics.h"

namespace qf::server {

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(std::string method, RpcMetrics& metrics);
  ~RpcMetricsInterceptor() override;

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override;

 private:
  const std::string method_;
  RpcMetrics& metrics_;
  const std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

class RpcMetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(RpcMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  RpcMetrics& metrics_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_METRICS_RPC_METRICS_INTERCEPTOR_H_
