#include "server/config/server_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace qf::server {
namespace {

ConfigField StringField(std::string key, std::string help, std::string ServerConfig::*member) {
  return ConfigField{std::move(key), std::move(help),
                     [member](ServerConfig& config, const std::string& value) {
                       config.*member = value;
                       return absl::OkStatus();
                     },
                     [member](const ServerConfig& config) { return config.*member; }};
}

ConfigField IntField(std::string key, std::string help, int ServerConfig::*member) {
  return ConfigField{
      std::move(key), std::move(help),
      [member, key](ServerConfig& config, const std::string& value) {
        int parsed = 0;
        if (!absl::SimpleAtoi(value, &parsed)) {
          return absl::InvalidArgumentError(
              absl::StrCat(key, ": expected an integer, got '", value, "'"));
        }
        config.*member = parsed;
        return absl::OkStatus();
      },
      [member](const ServerConfig& config) { return std::to_string(config.*member); }};
}

ConfigField DoubleField(std::string key, std::string help, double ServerConfig::*member) {
  return ConfigField{std::move(key), std::move(help),
                     [member, key](ServerConfig& config, const std::string& value) {
                       double parsed = 0;
                       if (!absl::SimpleAtod(value, &parsed)) {
                         return absl::InvalidArgumentError(
                             absl::StrCat(key, ": expected a number, got '", value, "'"));
                       }
                       config.*member = parsed;
                       return absl::OkStatus();
                     },
                     [member](const ServerConfig& config) { return absl::StrCat(config.*member); }};
}

const ConfigField* FindField(const std::string& key) {
  const auto& fields = ConfigFields();
  auto it = std::find_if(fields.begin(), fields.end(),
                         [&](const ConfigField& field) { return field.key == key; });
  return it == fields.end() ? nullptr : &*it;
}

}  // namespace

std::string ConfigField::EnvironmentVariable() const {
  std::string name = "QUANTFACE_" + key;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name;
}

std::string ConfigField::Flag() const { return "--" + absl::StrReplaceAll(key, {{"_", "-"}}); }

const std::vector<ConfigField>& ConfigFields() {
  static const std::vector<ConfigField> fields = {
      StringField("grpc_address", "gRPC listen address (host:port; port 0 = any free port)",
                  &ServerConfig::grpc_address),
      StringField("metrics_address", "Prometheus /metrics listen address",
                  &ServerConfig::metrics_address),
      StringField("data_dir", "Directory for the registry, jobs and galleries",
                  &ServerConfig::data_dir),
      StringField("asset_dir", "Directory of the built-in models' weights",
                  &ServerConfig::asset_dir),
      StringField("default_model", "Model for requests that name none",
                  &ServerConfig::default_model),
      StringField(
          "evaluations_dir",
          "Evaluation reports <model>.json with thresholds (empty = <data_dir>/evaluations)",
          &ServerConfig::evaluations_dir),
      StringField("shape_predictor", "dlib 68-point shape predictor for face detection",
                  &ServerConfig::shape_predictor),
      IntField("max_batch_items", "Most faces or pairs in one batch call",
               &ServerConfig::max_batch_items),
      IntField("max_receive_message_bytes", "Largest accepted request message",
               &ServerConfig::max_receive_message_bytes),
      IntField("max_send_message_bytes", "Largest reply message",
               &ServerConfig::max_send_message_bytes),
      IntField("max_rpc_threads", "Upper bound on threads serving RPCs",
               &ServerConfig::max_rpc_threads),
      DoubleField("shutdown_grace_seconds", "Time in-flight calls get to finish on shutdown",
                  &ServerConfig::shutdown_grace_seconds),
      StringField("log_level", "trace|debug|info|warn|error|critical|off",
                  &ServerConfig::log_level),
      IntField("torch_threads", "LibTorch intra-op threads (0 = one per core)",
               &ServerConfig::torch_threads),
      StringField("port_file", "Write the bound ports here as JSON once serving",
                  &ServerConfig::port_file),
      StringField("gallery_db", "Gallery database (empty = <data_dir>/galleries.db)",
                  &ServerConfig::gallery_db),
      StringField("gallery_index", "1:N search index: flat (exact) or hnsw (approximate)",
                  &ServerConfig::gallery_index),
      IntField("job_cpu_workers", "CPU job workers (-1 = one when there is no CUDA device)",
               &ServerConfig::job_cpu_workers),
      IntField("max_queued_jobs", "Most jobs waiting for a worker", &ServerConfig::max_queued_jobs),
      IntField("job_checkpoint_every", "QAT checkpoint interval in steps",
               &ServerConfig::job_checkpoint_every),
      IntField("max_job_steps", "Largest step count a job may ask for",
               &ServerConfig::max_job_steps),
      StringField("lfw_dir",
                  "LFW directory of the 'lfw' and 'lfw-all-pairs' evaluation protocols (empty = "
                  "none)",
                  &ServerConfig::lfw_dir),
      IntField("lfw_all_pairs_max_people",
               "People of people.txt the 'lfw-all-pairs' protocol scores (0 = all)",
               &ServerConfig::lfw_all_pairs_max_people),
      StringField("synthetic_cache_dir",
                  "Cache of generated synthetic sets (empty = <data_dir>/synthetic)",
                  &ServerConfig::synthetic_cache_dir),
      StringField("quantized_engine", "Serving of packed low-bit models: int8 or fake_quant",
                  &ServerConfig::quantized_engine),
      IntField("max_upload_bytes", "Largest model file UploadModel accepts",
               &ServerConfig::max_upload_bytes),
      IntField("micro_batch_max_wait_us",
               "Longest wait (us) for concurrent requests to share a forward (0 = off)",
               &ServerConfig::micro_batch_max_wait_us),
      IntField("micro_batch_max_size", "Most faces in one shared forward",
               &ServerConfig::micro_batch_max_size),
      IntField("micro_batch_max_queue", "Most faces waiting for a forward per model",
               &ServerConfig::micro_batch_max_queue),
  };
  return fields;
}

absl::Status ApplyYamlText(const std::string& yaml, ServerConfig& config) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError("config must be a YAML mapping");
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    const ConfigField* field = FindField(key);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown config key '", key, "'"));
    }
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": expected a scalar value"));
    }
    if (absl::Status status = field->set(config, entry.second.Scalar()); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyYamlFile(const std::string& path, ServerConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid YAML: ", e.what()));
  }
  absl::Status status = ApplyYamlText(YAML::Dump(root), config);
  if (!status.ok()) return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
  return absl::OkStatus();
}

absl::Status ApplyEnvironment(const std::function<const char*(const char*)>& getenv,
                              ServerConfig& config) {
  for (const ConfigField& field : ConfigFields()) {
    const std::string variable = field.EnvironmentVariable();
    const char* value = getenv(variable.c_str());
    if (value == nullptr) continue;
    if (absl::Status status = field.set(config, value); !status.ok()) {
      return absl::Status(status.code(), absl::StrCat(variable, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const ServerConfig& config) {
  if (config.grpc_address.empty()) return absl::InvalidArgumentError("grpc_address is empty");
  if (config.metrics_address.empty()) {
    return absl::InvalidArgumentError("metrics_address is empty");
  }
  if (config.data_dir.empty()) return absl::InvalidArgumentError("data_dir is empty");
  if (config.max_receive_message_bytes < 1024 || config.max_send_message_bytes < 1024) {
    return absl::InvalidArgumentError("max_*_message_bytes must be at least 1024");
  }
  if (config.max_rpc_threads < 2) {
    return absl::InvalidArgumentError("max_rpc_threads must be at least 2");
  }
  if (config.shutdown_grace_seconds < 0) {
    return absl::InvalidArgumentError("shutdown_grace_seconds must not be negative");
  }
  if (config.max_batch_items < 1) {
    return absl::InvalidArgumentError("max_batch_items must be at least 1");
  }
  if (config.default_model.empty()) return absl::InvalidArgumentError("default_model is empty");
  if (config.torch_threads < 0) return absl::InvalidArgumentError("torch_threads must be >= 0");
  if (config.gallery_index != "flat" && config.gallery_index != "hnsw") {
    return absl::InvalidArgumentError(
        absl::StrCat("gallery_index '", config.gallery_index, "' is not flat or hnsw"));
  }
  if (config.job_cpu_workers < -1) {
    return absl::InvalidArgumentError("job_cpu_workers must be -1 (auto) or >= 0");
  }
  if (config.max_queued_jobs < 1) return absl::InvalidArgumentError("max_queued_jobs must be >= 1");
  if (config.job_checkpoint_every < 0) {
    return absl::InvalidArgumentError("job_checkpoint_every must be >= 0 (0 = no checkpoints)");
  }
  if (config.max_job_steps < 1) return absl::InvalidArgumentError("max_job_steps must be >= 1");
  if (config.max_upload_bytes < 1)
    return absl::InvalidArgumentError("max_upload_bytes must be >= 1");
  if (config.quantized_engine != "int8" && config.quantized_engine != "fake_quant") {
    return absl::InvalidArgumentError(
        absl::StrCat("quantized_engine '", config.quantized_engine, "' is not int8 or fake_quant"));
  }
  if (config.micro_batch_max_wait_us < 0) {
    return absl::InvalidArgumentError("micro_batch_max_wait_us must be >= 0 (0 = off)");
  }
  if (config.micro_batch_max_size < 1) {
    return absl::InvalidArgumentError("micro_batch_max_size must be >= 1");
  }
  if (config.micro_batch_max_queue < 1) {
    return absl::InvalidArgumentError("micro_batch_max_queue must be >= 1");
  }
  static const std::vector<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                   "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), config.log_level) == kLevels.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log_level '", config.log_level, "' is not one of trace..off"));
  }
  return absl::OkStatus();
}

std::string ToYaml(const ServerConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const ConfigField& field : ConfigFields()) {
    out << YAML::Key << field.key << YAML::Value << field.get(config);
  }
  out << YAML::EndMap;
  return out.c_str();
}

}  // namespace qf::server
