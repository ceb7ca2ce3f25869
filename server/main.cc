// quantface-server: configuration, logging, signals; everything else lives in
// QuantFaceServer and the services.
#include <signal.h>
#include <torch/torch.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "core/util/heap_allocator.h"
#include "server/config/server_config.h"
#include "server/quantface_server.h"

namespace {

using qf::server::ServerConfig;

// Writes the bound ports atomically, so a reader never sees half a file.
void WritePortFile(const std::string& path, int grpc_port, int metrics_port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp);
    out << "{\"grpc_port\": " << grpc_port << ", \"metrics_port\": " << metrics_port << "}\n";
  }
  std::filesystem::rename(temp, path);
}

int Fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken synchronously by sigwait() below; block them before any
  // thread exists so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app{"QuantFace Service: low-bit face recognition over gRPC", "quantface-server"};
  std::string config_path;
  bool print_config = false;
  app.add_option("-c,--config", config_path,
                 "YAML configuration file (also QUANTFACE_CONFIG); keys as the flags below");
  app.add_flag("--print-config", print_config, "Print the effective configuration and exit");
  app.set_version_flag("--version", QF_VERSION);
  std::map<std::string, std::string> flag_values;
  std::map<std::string, CLI::Option*> flag_options;
  const ServerConfig defaults;
  for (const auto& field : qf::server::ConfigFields()) {
    flag_options[field.key] = app.add_option(field.Flag(), flag_values[field.key],
                                             field.help + " [default: " + field.get(defaults) +
                                                 ", env " + field.EnvironmentVariable() + "]");
  }
  CLI11_PARSE(app, argc, argv);

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  ServerConfig config;
  if (config_path.empty() && std::getenv("QUANTFACE_CONFIG") != nullptr) {
    config_path = std::getenv("QUANTFACE_CONFIG");
  }
  if (!config_path.empty()) {
    if (auto status = qf::server::ApplyYamlFile(config_path, config); !status.ok()) {
      return Fail(std::string(status.message()));
    }
  }
  if (auto status =
          qf::server::ApplyEnvironment([](const char* n) { return std::getenv(n); }, config);
      !status.ok()) {
    return Fail(std::string(status.message()));
  }
  for (const auto& field : qf::server::ConfigFields()) {
    if (flag_options[field.key]->count() == 0) continue;
    if (auto status = field.set(config, flag_values[field.key]); !status.ok()) {
      return Fail(field.Flag() + ": " + std::string(status.message()));
    }
  }
  if (auto status = qf::server::Validate(config); !status.ok()) {
    return Fail("invalid configuration: " + std::string(status.message()));
  }
  if (print_config) {
    std::cout << qf::server::ToYaml(config) << "\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // LibTorch defaults to one intra-op thread on this platform: set it.
  const int torch_threads =
      config.torch_threads > 0
          ? config.torch_threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(torch_threads);

  std::error_code error;
  std::filesystem::create_directories(config.data_dir, error);
  if (error) return Fail("cannot create data_dir " + config.data_dir + ": " + error.message());

  auto server = qf::server::QuantFaceServer::Start(config);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  spdlog::info(
      "quantface-server {} serving grpc_port={} metrics_port={} data_dir={} torch_threads={} "
      "malloc={}",
      QF_VERSION, (*server)->grpc_port(), (*server)->metrics_port(), config.data_dir, torch_threads,
      qf::CurrentHeapAllocator().name);
  if (!config.port_file.empty()) {
    WritePortFile(config.port_file, (*server)->grpc_port(), (*server)->metrics_port());
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received {}, draining in-flight calls for up to {} s",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT", config.shutdown_grace_seconds);
  (*server)->Shutdown(
      std::chrono::milliseconds(static_cast<int64_t>(config.shutdown_grace_seconds * 1000)));
  spdlog::info("shutdown complete");
  return 0;
}
