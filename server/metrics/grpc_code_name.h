// Canonical upper-case names of gRPC status codes ("OK", "NOT_FOUND", ...),
// used as metric label values and in CLI output.
#ifndef QUANTFACE_SERVER_METRICS_GRPC_CODE_NAME_H_
#define QUANTFACE_SERVER_METRICS_GRPC_CODE_NAME_H_

#include <grpcpp/support/status.h>

#include <string_view>

namespace qf::server {

std::string_view GrpcCodeName(grpc::StatusCode code);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_METRICS_GRPC_CODE_NAME_H_
