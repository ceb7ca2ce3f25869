// CliContext: what every `quantface` subcommand shares: the server address,
// the per-call deadline, the output mode, and how results and errors are
// printed.
//
// Results go to stdout (protobuf text format for people, JSON with --json for
// scripts); errors go to stderr as "error: CODE: message" and turn into a
// non-zero exit status.
#ifndef QUANTFACE_CLIENT_CLI_CONTEXT_H_
#define QUANTFACE_CLIENT_CLI_CONTEXT_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

namespace qf::cli {

// Exit statuses of the CLI.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcError = 1;
inline constexpr int kExitUsage = 2;

class CliContext {
 public:
  std::string server = "localhost:50051";
  double timeout_seconds = 30;
  bool json = false;

  // A channel to `server`, created on first use.
  std::shared_ptr<grpc::Channel> Channel();
  // A fresh ClientContext with the deadline set.
  std::unique_ptr<grpc::ClientContext> NewCallContext() const;

  void Print(const google::protobuf::Message& message) const;
  // Prints a plain line only in human mode (progress notes, summaries).
  void Note(const std::string& line) const;

  // Prints the error and returns the exit status for it.
  int Fail(const grpc::Status& status) const;
  int Fail(const std::string& message, int exit_status = kExitUsage) const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

// "dlib-resnet" -> "models/dlib-resnet"; names already prefixed pass through.
std::string ResourceName(const std::string& collection, const std::string& id_or_name);

}  // namespace qf::cli

#endif  // QUANTFACE_CLIENT_CLI_CONTEXT_H_
