// `quantface health`: grpc.health.v1.Health/Check through the generic stub,
// so the CLI needs no copy of health.proto.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <condition_variable>
#include <iostream>
#include <mutex>

#include "client/commands/commands.h"

namespace qf::cli {
namespace {

// HealthCheckRequest{service=1} and HealthCheckResponse{status=1} are tiny;
// encoding them by hand avoids generating code for a two-field message.
grpc::ByteBuffer EncodeHealthRequest(const std::string& service) {
  std::string bytes;
  if (!service.empty()) {
    bytes.push_back(0x0a);  // field 1, length-delimited
    bytes.push_back(static_cast<char>(service.size()));
    bytes += service;
  }
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

int DecodeHealthStatus(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (bytes.size() >= 2 && bytes[0] == 0x08) return bytes[1];  // field 1, varint
  return 0;
}

const char* StatusName(int status) {
  switch (status) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

void AddHealthCommands(CLI::App& app, CliContext& context, int& exit_status) {
  auto* health = app.add_subcommand("health", "Ask the server's grpc.health.v1 service");
  auto service = std::make_shared<std::string>();
  health->add_option("--service", *service, "Service name (empty = whole server)");
  health->callback([&context, &exit_status, service] {
    if (service->size() > 127) {
      exit_status = context.Fail("--service is too long");
      return;
    }
    grpc::GenericStub stub(context.Channel());
    auto call = context.NewCallContext();
    const grpc::ByteBuffer request = EncodeHealthRequest(*service);
    grpc::ByteBuffer response;
    grpc::Status status;
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    stub.UnaryCall(call.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                   &response, [&](grpc::Status s) {
                     std::lock_guard<std::mutex> lock(mutex);
                     status = std::move(s);
                     finished = true;
                     done.notify_one();
                   });
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return finished; });
    if (!status.ok()) {
      exit_status = context.Fail(status);
      return;
    }
    const int serving = DecodeHealthStatus(response);
    if (context.json) {
      std::cout << "{\"status\":\"" << StatusName(serving) << "\"}\n";
    } else {
      std::cout << StatusName(serving) << "\n";
    }
    exit_status = serving == 1 ? kExitOk : kExitRpcError;
  });
}

}  // namespace qf::cli
