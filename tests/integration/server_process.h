// ServerProcess: a real quantface-server binary started for a test, on
// ephemeral loopback ports, with its own temporary data directory.
//
// Start() launches it and waits until it has written its port file (the
// server writes it only once both ports are bound). The destructor sends
// SIGTERM and reaps the process; Stop() does the same and returns the exit
// status so tests can check graceful shutdown.
#ifndef QUANTFACE_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define QUANTFACE_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace qf::testing {

class ServerProcess {
 public:
  // `extra_args` are appended to the server's command line.
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Use `dir` as data_dir instead of a fresh one (a restart over the data of
  // an earlier process). Call before Start().
  void set_data_dir(std::string dir) { data_dir_override_ = std::move(dir); }

  absl::Status Start(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGTERM, then waits; returns the exit status (or -signal if killed).
  int Stop(int signal_number = 15);

  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  int metrics_port() const { return metrics_port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }

 private:
  std::vector<std::string> extra_args_;
  std::string work_dir_;
  std::string data_dir_;
  std::string data_dir_override_;
  std::string port_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

// Runs a command to completion; returns its exit status, stdout and stderr.
struct CommandResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv);

// GET http://127.0.0.1:port/path, body only; empty on failure.
std::string HttpGet(int port, const std::string& path);

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_INTEGRATION_SERVER_PROCESS_H_
