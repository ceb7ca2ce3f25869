#include "client/cli_context.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "server/metrics/grpc_code_name.h"

namespace qf::cli {

std::shared_ptr<grpc::Channel> CliContext::Channel() {
  if (channel_ == nullptr) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(256 << 20);
    arguments.SetMaxSendMessageSize(256 << 20);
    channel_ = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), arguments);
  }
  return channel_;
}

std::unique_ptr<grpc::ClientContext> CliContext::NewCallContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (timeout_seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)));
  }
  return context;
}

void CliContext::Print(const google::protobuf::Message& message) const {
  std::string text;
  if (json) {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = false;
    options.preserve_proto_field_names = true;
    google::protobuf::util::MessageToJsonString(message, &text, options);
    std::cout << text << "\n";
  } else {
    google::protobuf::TextFormat::PrintToString(message, &text);
    std::cout << text;
    if (text.empty()) std::cout << "ok\n";
  }
}

void CliContext::Note(const std::string& line) const {
  if (!json) std::cout << line << "\n";
}

int CliContext::Fail(const grpc::Status& status) const {
  std::cerr << "error: " << qf::server::GrpcCodeName(status.error_code()) << ": "
            << status.error_message() << "\n";
  return kExitRpcError;
}

int CliContext::Fail(const std::string& message, int exit_status) const {
  std::cerr << "error: " << message << "\n";
  return exit_status;
}

std::string ResourceName(const std::string& collection, const std::string& id_or_name) {
  if (id_or_name.empty() || id_or_name.find('/') != std::string::npos) return id_or_name;
  return collection + "/" + id_or_name;
}

}  // namespace qf::cli
