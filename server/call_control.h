// ControlOf: what a gRPC call allows its server-side work, as a CallControl
// (server/micro_batcher.h): the client's deadline on the steady clock (none
// when the client set none) and whether the client has cancelled.
#ifndef QUANTFACE_SERVER_CALL_CONTROL_H_
#define QUANTFACE_SERVER_CALL_CONTROL_H_

#include <grpcpp/grpcpp.h>

#include "server/micro_batcher.h"

namespace qf::server {

// The returned control refers to `context`: use it only during the call.
CallControl ControlOf(const grpc::ServerContext& context);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_CALL_CONTROL_H_
