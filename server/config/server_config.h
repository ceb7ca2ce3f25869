// ServerConfig: every setting of quantface-server, with its embedded default.
//
// Settings are layered, each layer overriding the one before:
//   built-in defaults < YAML file (--config) < QUANTFACE_* environment < flags.
// One table (ConfigFields) names each setting once with its YAML key,
// environment variable and flag, so the three layers cannot drift apart.
#ifndef QUANTFACE_SERVER_CONFIG_SERVER_CONFIG_H_
#define QUANTFACE_SERVER_CONFIG_SERVER_CONFIG_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qf::server {

struct ServerConfig {
  // gRPC listen address; port 0 picks a free port (see port_file).
  std::string grpc_address = "0.0.0.0:50051";
  // Prometheus /metrics listen address; port 0 picks a free port.
  std::string metrics_address = "0.0.0.0:9464";
  // Where jobs, galleries and the model registry keep their files.
  std::string data_dir = "var";
  // Where scripts/fetch_assets.sh put the built-in models' weights.
  std::string asset_dir = ".cache/assets";
  // Model used by requests that name none.
  std::string default_model = "dlib-resnet";
  // Evaluation reports ("<model>.json", written by `quantface bench lfw
  // --report`); empty means <data_dir>/evaluations. Thresholds per
  // false-accept rate come from them.
  std::string evaluations_dir;
  // dlib 68-point shape predictor for detecting faces in raw images (Debian's
  // libdlib-data installs it here); loaded on first use.
  std::string shape_predictor = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
  // Most faces / pairs accepted in one batch call.
  int max_batch_items = 256;
  // Largest request / reply message in bytes.
  int max_receive_message_bytes = 64 << 20;
  int max_send_message_bytes = 64 << 20;
  // Upper bound on threads serving RPCs at once.
  int max_rpc_threads = 64;
  // On SIGTERM/SIGINT, in-flight calls get this long to finish.
  double shutdown_grace_seconds = 10.0;
  // trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
  // Intra-op threads for LibTorch; 0 means one per core.
  int torch_threads = 0;
  // If set, the bound ports are written here as JSON once serving.
  std::string port_file;
  // SQLite database of galleries; empty means <data_dir>/galleries.db.
  std::string gallery_db;
  // 1:N search index built for each gallery at start-up: "flat" (exact) or
  // "hnsw" (approximate, for large galleries).
  std::string gallery_index = "flat";

  // Job system and model registry (issue 5).
  // CPU job workers; -1: one when LibTorch sees no CUDA device, else none.
  int job_cpu_workers = -1;
  // Most jobs waiting for a worker; more submissions get RESOURCE_EXHAUSTED.
  int max_queued_jobs = 100;
  // QAT checkpoint interval in steps (resume point after a restart).
  int job_checkpoint_every = 50;
  // Largest optimizer-step count a job may ask for.
  int max_job_steps = 100000;
  // LFW directory for the "lfw" (View 2) and "lfw-all-pairs" (View 2, then
  // every pair of images on the student as served) evaluation protocols;
  // empty: neither is offered.
  std::string lfw_dir;
  // People of people.txt that "lfw-all-pairs" scores (the first N; 0: all).
  int lfw_all_pairs_max_people = 0;
  // Cache of generated synthetic training sets; empty: <data_dir>/synthetic.
  std::string synthetic_cache_dir;
  // How packed low-bit models are served: "int8" (integer kernels where the
  // architecture has them, else fake quant) or "fake_quant".
  std::string quantized_engine = "int8";
  // Largest model file UploadModel accepts.
  int max_upload_bytes = 1 << 30;

  // Micro-batching (issue 6): concurrent requests for the same model share
  // one forward pass. The oldest waiting face waits at most this long for
  // others to join (0 = off: each request runs its own forward).
  int micro_batch_max_wait_us = 0;
  // Most faces in one shared forward pass.
  int micro_batch_max_size = 32;
  // Most faces waiting for a forward per model; more get RESOURCE_EXHAUSTED.
  int micro_batch_max_queue = 1024;
};

// One setting: its names in each layer and how to read/write it as text.
struct ConfigField {
  std::string key;  // YAML key, e.g. "grpc_address".
  std::string help;
  std::function<absl::Status(ServerConfig&, const std::string&)> set;
  std::function<std::string(const ServerConfig&)> get;

  std::string EnvironmentVariable() const;  // e.g. "QUANTFACE_GRPC_ADDRESS".
  std::string Flag() const;                 // e.g. "--grpc-address".
};

const std::vector<ConfigField>& ConfigFields();

// Applies a YAML mapping of setting keys to scalars. Unknown keys and values
// of the wrong type are errors (a typo must not silently use a default).
absl::Status ApplyYamlFile(const std::string& path, ServerConfig& config);
absl::Status ApplyYamlText(const std::string& yaml, ServerConfig& config);

// Applies every QUANTFACE_* variable that `getenv` finds.
absl::Status ApplyEnvironment(const std::function<const char*(const char*)>& getenv,
                              ServerConfig& config);

// Checks values that parse but make no sense (negative sizes, ...).
absl::Status Validate(const ServerConfig& config);

// The effective configuration as YAML, for --print-config and the log.
std::string ToYaml(const ServerConfig& config);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_CONFIG_SERVER_CONFIG_H_
