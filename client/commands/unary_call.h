// CallAndPrint: one unary RPC with the context's deadline, result printed,
// error reported. Keeps each subcommand down to building its request.
#ifndef QUANTFACE_CLIENT_COMMANDS_UNARY_CALL_H_
#define QUANTFACE_CLIENT_COMMANDS_UNARY_CALL_H_

#include "client/cli_context.h"

namespace qf::cli {

template <typename Stub, typename Request, typename Response>
int CallAndPrint(CliContext& context, Stub& stub,
                 grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                 const Request& request) {
  Response response;
  auto call = context.NewCallContext();
  const grpc::Status status = (stub.*method)(call.get(), request, &response);
  if (!status.ok()) return context.Fail(status);
  context.Print(response);
  return kExitOk;
}

}  // namespace qf::cli

#endif  // QUANTFACE_CLIENT_COMMANDS_UNARY_CALL_H_
