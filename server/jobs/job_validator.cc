#include "server/jobs/job_validator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/quant/layer_name_check.h"
#include "core/quant/qat_defaults.h"

namespace qf::server {
namespace {

absl::Status Invalid(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("config.", field, " ", problem));
}

absl::Status CheckRange(const std::string& field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return Invalid(field, absl::StrCat("must be in ", lo, "..", hi, ", got ", value));
  }
  return absl::OkStatus();
}

// The registry model that config field `field` names: INVALID_ARGUMENT for a
// malformed name, NOT_FOUND "config.<field> <name> not found".
absl::StatusOr<v1::Model> ReferencedModel(const ModelRegistry& registry, const std::string& field,
                                          const std::string& name) {
  if (auto id = ModelRegistry::IdOf(name, absl::StrCat("config.", field)); !id.ok()) {
    return id.status();
  }
  auto model = registry.Get(name);
  if (!model.ok() && model.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("config.", field, " ", name, " not found"));
  }
  return model;
}

constexpr int kViewsPerIdentity = 4;  // The built-in generator's (core/synth).

}  // namespace

absl::StatusOr<v1::JobConfig> ValidateJobConfig(const v1::JobConfig& input,
                                                const ModelRegistry& registry,
                                                const JobLimits& limits) {
  v1::JobConfig config = input;

  // Teacher.
  if (config.teacher_model().empty()) return Invalid("teacher_model", "is required");
  auto teacher_id = ModelRegistry::IdOf(config.teacher_model(), "config.teacher_model");
  if (!teacher_id.ok()) return teacher_id.status();
  auto teacher = ReferencedModel(registry, "teacher_model", config.teacher_model());
  if (!teacher.ok()) return teacher.status();
  const auto& quantizable = limits.quantizable_teachers;
  if (teacher->format() != v1::MODEL_FORMAT_BUILTIN ||
      std::find(quantizable.begin(), quantizable.end(), *teacher_id) == quantizable.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("config.teacher_model ", config.teacher_model(),
                     " cannot be quantized here: teachers are the built-in models models/",
                     absl::StrJoin(quantizable, ", models/")));
  }

  // Starting point: a student of this teacher, checked now so that a job
  // cannot wait in the queue only to fail on it.
  if (const std::string& initial = config.initial_student_model(); !initial.empty()) {
    auto student = ReferencedModel(registry, "initial_student_model", initial);
    if (!student.ok()) return student.status();
    if (student->format() != v1::MODEL_FORMAT_PACKED_QUANTIZED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "config.initial_student_model ", initial,
          " is not a quantized model (give the result of an earlier job of this teacher)"));
    }
    if (student->teacher_model() != config.teacher_model()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "config.initial_student_model ", initial, " is a student of ",
          student->teacher_model().empty() ? "no recorded teacher" : student->teacher_model(),
          ", not of config.teacher_model ", config.teacher_model()));
    }
  }

  // Layers kept at 8 bits: names checked against the teacher's layers now,
  // not when the job starts.
  if (const auto layers = limits.quantizable_layers.find(*teacher_id);
      layers != limits.quantizable_layers.end()) {
    const std::vector<std::string> requested(config.keep_8bit_layers().begin(),
                                             config.keep_8bit_layers().end());
    if (absl::Status s = quant::CheckLayerNames("config.keep_8bit_layers", *teacher_id,
                                                layers->second, requested);
        !s.ok()) {
      return s;
    }
  }

  // Bits and method.
  if (absl::Status s = CheckRange("weight_bits", config.weight_bits(), 2, 8); !s.ok()) return s;
  if (absl::Status s = CheckRange("activation_bits", config.activation_bits(), 2, 8); !s.ok()) {
    return s;
  }
  if (config.method() == v1::JobConfig::METHOD_UNSPECIFIED) {
    config.set_method(v1::JobConfig::METHOD_QAT);
  }
  const bool qat = config.method() == v1::JobConfig::METHOD_QAT;
  if (!qat && config.learn_activation_ranges()) {
    return Invalid("learn_activation_ranges", "applies to METHOD_QAT only: PTQ does not train");
  }
  if (!std::isfinite(config.feature_loss_weight()) || config.feature_loss_weight() < 0) {
    return Invalid("feature_loss_weight", absl::StrCat("must be a finite number >= 0, got ",
                                                       config.feature_loss_weight()));
  }
  if (!qat && config.feature_loss_weight() > 0) {
    return Invalid("feature_loss_weight", "applies to METHOD_QAT only: PTQ does not train");
  }
  if (!v1::JobConfig::ActivationRanges_IsValid(config.activation_ranges())) {
    return Invalid("activation_ranges",
                   absl::StrCat("unknown value ", config.activation_ranges(),
                                ": use ACTIVATION_RANGES_MINMAX or ACTIVATION_RANGES_MSE"));
  }
  if (!v1::JobConfig::WeightScheme_IsValid(config.weight_scheme())) {
    return Invalid("weight_scheme",
                   absl::StrCat("unknown value ", config.weight_scheme(),
                                ": use WEIGHT_SCHEME_AUTO, "
                                "WEIGHT_SCHEME_ASYMMETRIC or WEIGHT_SCHEME_SYMMETRIC"));
  }
  if (config.weight_scheme() == v1::JobConfig::WEIGHT_SCHEME_UNSPECIFIED) {
    config.set_weight_scheme(v1::JobConfig::WEIGHT_SCHEME_AUTO);
  }
  if (!v1::JobConfig::WeightRanges_IsValid(config.weight_ranges())) {
    return Invalid("weight_ranges",
                   absl::StrCat("unknown value ", config.weight_ranges(),
                                ": use WEIGHT_RANGES_MINMAX or WEIGHT_RANGES_MSE"));
  }

  // Steps and batches.
  if (config.steps() == 0) config.set_steps(qat ? 600 : 8);
  if (absl::Status s = CheckRange("steps", config.steps(), 1, limits.max_steps); !s.ok()) return s;
  if (config.batch_size() == 0) config.set_batch_size(32);
  if (absl::Status s = CheckRange("batch_size", config.batch_size(), 1, limits.max_batch_size);
      !s.ok()) {
    return s;
  }
  if (config.activation_warmup_steps() == 0) {
    config.set_activation_warmup_steps(std::min(50, config.steps()));
  }
  if (absl::Status s = CheckRange("activation_warmup_steps", config.activation_warmup_steps(), 1,
                                  config.steps());
      !s.ok()) {
    return s;
  }

  // Synthetic data: the only training source.
  v1::SyntheticDataConfig& data = *config.mutable_synthetic_data();
  if (absl::Status s =
          CheckRange("synthetic_data.num_images", data.num_images(), 0, limits.max_num_images);
      !s.ok()) {
    return s;
  }
  switch (data.source()) {
    case v1::SyntheticDataConfig::SOURCE_BUILTIN: {
      if (data.num_images() == 0) data.set_num_images(512);
      const int identities = (data.num_images() + kViewsPerIdentity - 1) / kViewsPerIdentity;
      if (data.num_identities() != 0 && data.num_identities() != identities) {
        return Invalid("synthetic_data.num_identities",
                       absl::StrCat("must be 0 or ", identities, ": the built-in generator makes ",
                                    kViewsPerIdentity, " views of each identity"));
      }
      data.set_num_identities(identities);
      break;
    }
    case v1::SyntheticDataConfig::SOURCE_INVERTED_FACES: {
      if (data.num_images() == 0) data.set_num_images(512);
      if (data.num_identities() != 0 && data.num_identities() != data.num_images()) {
        return Invalid("synthetic_data.num_identities",
                       absl::StrCat("must be 0 or ", data.num_images(),
                                    ": every inverted face is its own identity"));
      }
      data.set_num_identities(data.num_images());
      if (data.spread() == 0) data.set_spread(2.0);
      if (!(data.spread() > 0 && data.spread() <= 10)) {
        return Invalid("synthetic_data.spread", "must be in (0, 10]");
      }
      break;
    }
    case v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE:
    case v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES:
      break;
    case v1::SyntheticDataConfig::SOURCE_GENERATOR_MODEL: {
      if (data.generator_model().empty()) {
        return Invalid("synthetic_data.generator_model", "is required for SOURCE_GENERATOR_MODEL");
      }
      auto generator =
          ReferencedModel(registry, "synthetic_data.generator_model", data.generator_model());
      if (!generator.ok()) return generator.status();
      if (generator->format() != v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR) {
        return absl::FailedPreconditionError(absl::StrCat(
            "config.synthetic_data.generator_model ", data.generator_model(),
            " is not a generator (upload one with MODEL_FORMAT_TORCHSCRIPT_GENERATOR)"));
      }
      if (!generator->generator().declared_synthetic()) {
        return absl::FailedPreconditionError(absl::StrCat("config.synthetic_data.generator_model ",
                                                          data.generator_model(),
                                                          " was not declared synthetic"));
      }
      break;
    }
    case v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER: {
      if (data.image_folder().empty()) {
        return Invalid("synthetic_data.image_folder", "is required for SOURCE_IMAGE_FOLDER");
      }
      if (!data.declared_synthetic()) {
        return Invalid("synthetic_data.declared_synthetic",
                       "must be true: training data must be synthetic faces of no real person, "
                       "and the client has to declare that the folder holds only such images");
      }
      std::error_code ec;
      if (!std::filesystem::is_directory(data.image_folder(), ec)) {
        return absl::NotFoundError(absl::StrCat("config.synthetic_data.image_folder '",
                                                data.image_folder(),
                                                "' is not a directory on the server"));
      }
      break;
    }
    default:
      return Invalid("synthetic_data.source",
                     "must be set: SOURCE_BUILTIN, SOURCE_PROCEDURAL_FACES, "
                     "SOURCE_INVERTED_FACES, SOURCE_GAUSSIAN_NOISE, SOURCE_GENERATOR_MODEL or "
                     "SOURCE_IMAGE_FOLDER");
  }
  if (data.seed() == 0) {
    std::random_device random;
    data.set_seed((static_cast<uint64_t>(random()) << 32 | random()) | 1);
  }

  // Optimizer (paper defaults).
  v1::OptimizerConfig& optimizer = *config.mutable_optimizer();
  if (optimizer.learning_rate() < 0) return Invalid("optimizer.learning_rate", "must be >= 0");
  if (optimizer.momentum() < 0 || optimizer.momentum() >= 1) {
    return Invalid("optimizer.momentum", "must be in [0, 1)");
  }
  if (optimizer.weight_decay() < 0) return Invalid("optimizer.weight_decay", "must be >= 0");
  if (optimizer.gradient_clip_norm() < 0) {
    return Invalid("optimizer.gradient_clip_norm", "must be >= 0");
  }
  if (optimizer.algorithm() == v1::OptimizerConfig::ALGORITHM_UNSPECIFIED) {
    optimizer.set_algorithm(v1::OptimizerConfig::ALGORITHM_SGD);
  }
  if (optimizer.algorithm() != v1::OptimizerConfig::ALGORITHM_SGD &&
      optimizer.algorithm() != v1::OptimizerConfig::ALGORITHM_ADAMW) {
    return Invalid("optimizer.algorithm", absl::StrCat("unknown value ", optimizer.algorithm(),
                                                       "; use ALGORITHM_SGD or ALGORITHM_ADAMW"));
  }
  if (optimizer.algorithm() == v1::OptimizerConfig::ALGORITHM_ADAMW && !qat) {
    return Invalid("optimizer.algorithm",
                   "ALGORITHM_ADAMW applies to METHOD_QAT only: PTQ does not train");
  }
  if (optimizer.learning_rate() == 0) {
    optimizer.set_learning_rate(optimizer.algorithm() == v1::OptimizerConfig::ALGORITHM_ADAMW
                                    ? quant::kAdamDefaultLearningRate
                                    : quant::SgdDefaultLearningRate(config.batch_size()));
  }
  // Momentum and Nesterov are SGD's: an AdamW config that sets them would
  // claim settings the run ignores, and one that does not keeps them unset.
  if (optimizer.algorithm() == v1::OptimizerConfig::ALGORITHM_ADAMW) {
    if (optimizer.momentum() != 0) {
      return Invalid("optimizer.momentum", "applies to ALGORITHM_SGD only, not ALGORITHM_ADAMW");
    }
    if (optimizer.nesterov()) {
      return Invalid("optimizer.nesterov", "applies to ALGORITHM_SGD only, not ALGORITHM_ADAMW");
    }
  } else {
    if (optimizer.momentum() == 0) optimizer.set_momentum(0.9);
    // Presence, not value: an explicit false is plain momentum.
    if (!optimizer.has_nesterov()) optimizer.set_nesterov(true);
  }
  if (!optimizer.has_weight_decay()) optimizer.set_weight_decay(quant::kPaperWeightDecay);
  if (optimizer.schedule() == v1::OptimizerConfig::SCHEDULE_UNSPECIFIED) {
    optimizer.set_schedule(v1::OptimizerConfig::SCHEDULE_COSINE);
  }
  if (optimizer.gradient_clip_norm() == 0) optimizer.set_gradient_clip_norm(5.0);

  // Evaluation.
  if (!config.evaluation_protocol().empty()) {
    const auto protocol = limits.protocols.find(config.evaluation_protocol());
    if (protocol == limits.protocols.end()) {
      std::vector<std::string> names;
      for (const auto& [name, path] : limits.protocols) names.push_back(name);
      return Invalid("evaluation_protocol",
                     absl::StrCat("'", config.evaluation_protocol(),
                                  "' is not configured on this server; configured: [",
                                  absl::StrJoin(names, ", "), "]"));
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(protocol->second, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat("config.evaluation_protocol '", protocol->first, "': its data directory ",
                       protocol->second, " does not exist on the server"));
    }
  }

  // Device.
  if (config.device() == v1::DEVICE_PREFERENCE_UNSPECIFIED) {
    config.set_device(v1::DEVICE_PREFERENCE_ANY);
  }
  if (config.device() == v1::DEVICE_PREFERENCE_GPU && limits.cuda_devices == 0) {
    return absl::FailedPreconditionError(
        "config.device DEVICE_PREFERENCE_GPU cannot be satisfied: this server has no CUDA device");
  }
  if (config.device() == v1::DEVICE_PREFERENCE_CPU && limits.cpu_workers == 0) {
    return absl::FailedPreconditionError(
        "config.device DEVICE_PREFERENCE_CPU cannot be satisfied: this server runs no CPU "
        "workers (job_cpu_workers is 0)");
  }
  if (limits.cuda_devices == 0 && limits.cpu_workers == 0) {
    return absl::FailedPreconditionError("config.device: this server has no job workers");
  }

  if (config.output_display_name().size() > 200) {
    return Invalid("output_display_name", "must be at most 200 characters");
  }
  if (config.output_display_name().empty()) {
    config.set_output_display_name(absl::StrCat(*teacher_id, " w", config.weight_bits(), "a",
                                                config.activation_bits(), " ",
                                                qat ? "qat" : "ptq"));
  }
  return config;
}

}  // namespace qf::server
