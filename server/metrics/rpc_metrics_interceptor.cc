#include "server/metrics/rpc_metrics_interceptor.h"

namespace qf::server {

RpcMetricsInterceptor::RpcMetricsInterceptor(std::string method, RpcMetrics& metrics)
    : method_(std::move(method)), metrics_(metrics), start_(std::chrono::steady_clock::now()) {
  metrics_.CallStarted(method_);
}

RpcMetricsInterceptor::~RpcMetricsInterceptor() {
  // A call torn down without a status (client vanished mid-stream) still ends.
  if (!finished_) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_.CallFinished(method_, grpc::StatusCode::CANCELLED, elapsed.count());
  }
}

void RpcMetricsInterceptor::Intercept(grpc::experimental::InterceptorBatchMethods* methods) {
  if (methods->QueryInterceptionHookPoint(
          grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_.CallFinished(method_, methods->GetSendStatus().error_code(), elapsed.count());
    finished_ = true;
  }
  methods->Proceed();
}

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  std::string method = info->method() != nullptr ? info->method() : "unknown";
  if (!method.empty() && method.front() == '/') method.erase(0, 1);
  // gRPC takes ownership of the interceptor and deletes it when the call ends.
  return std::make_unique<RpcMetricsInterceptor>(std::move(method), metrics_).release();
}

}  // namespace qf::server
