// The one place where core's absl::Status values become gRPC statuses.
#ifndef QUANTFACE_SERVER_GRPC_STATUS_H_
#define QUANTFACE_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace qf::server {

// Same code (the two enums share the canonical numbering), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_GRPC_STATUS_H_
