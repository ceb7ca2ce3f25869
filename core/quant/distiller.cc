#include "core/quant/distiller.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/eval/embedding_spread.h"
#include "core/nn/scoped_layer_hooks.h"
#include "core/quant/feature_recorder.h"
#include "core/quant/qat_checkpoint.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

namespace F = torch::nn::functional;

torch::Tensor Normalized(const torch::Tensor& x) {
  return F::normalize(x, F::NormalizeFuncOptions().dim(1));
}

double LearningRateAt(const QatOptions& options, double base, int64_t step) {
  const double progress = static_cast<double>(step) / static_cast<double>(options.steps);
  if (options.schedule == LrSchedule::kCosine)
    return base * 0.5 * (1.0 + std::cos(M_PI * progress));
  if (progress >= 0.75) return base * 0.01;
  if (progress >= 0.5) return base * 0.1;
  return base;
}

// For the length of a QAT run: tracks the student's integer weights, and
// on every exit path bakes any frozen ones into the latent weights and
// stops tracking (FakeQuantHooks::FinishOscillationTracking).
class OscillationTracking {
 public:
  explicit OscillationTracking(FakeQuantHooks& hooks) : hooks_(hooks) {
    hooks_.TrackOscillations();
  }
  ~OscillationTracking() {
    if (finished_) return;
    // A run that failed or was cancelled: its student is not used, and a
    // destructor must not throw.
    try {
      Finish();
    } catch (const c10::Error&) {
    }
  }
  OscillationTracking(const OscillationTracking&) = delete;
  OscillationTracking& operator=(const OscillationTracking&) = delete;

  std::vector<FakeQuantHooks::LayerOscillations> Finish() {
    finished_ = true;
    hooks_.set_oscillation_freeze_threshold(0);
    return hooks_.FinishOscillationTracking();
  }

 private:
  FakeQuantHooks& hooks_;
  bool finished_ = false;
};

// For the length of a QAT run: the hooks drop the quantization of some
// activation elements in training forwards, and quantize every element
// again on every exit path.
class QuantizationDropScope {
 public:
  QuantizationDropScope(FakeQuantHooks& hooks, double probability) : hooks_(hooks) {
    hooks_.set_quantization_drop(probability);
  }
  ~QuantizationDropScope() { hooks_.set_quantization_drop(0); }
  QuantizationDropScope(const QuantizationDropScope&) = delete;
  QuantizationDropScope& operator=(const QuantizationDropScope&) = delete;

 private:
  FakeQuantHooks& hooks_;
};

absl::Status CheckSameSpec(const nn::Backbone& teacher, const nn::Backbone& student) {
  if (teacher.spec().architecture != student.spec().architecture ||
      teacher.spec().embedding_dim != student.spec().embedding_dim) {
    return absl::InvalidArgumentError(absl::StrCat("teacher '", teacher.spec().architecture,
                                                   "' and student '", student.spec().architecture,
                                                   "' differ"));
  }
  return absl::OkStatus();
}

// For the length of a QAT run with feature distillation: records the
// teacher's activations at every quantization site and taps the student's;
// the destructor uninstalls both, whatever way the run ends.
class FeatureTaps {
 public:
  FeatureTaps(nn::Backbone& teacher, nn::Hookable& hookable, FakeQuantHooks& student_hooks)
      : student_hooks_(student_hooks),
        recorder_(std::make_shared<FeatureRecorder>(QuantizedLayerNames(teacher))),
        teacher_hooks_(hookable, recorder_) {
    student_hooks_.set_tap(
        [this](const std::string& site, const torch::Tensor& values) { student_[site] = values; });
  }
  ~FeatureTaps() { student_hooks_.set_tap(nullptr); }
  FeatureTaps(const FeatureTaps&) = delete;
  FeatureTaps& operator=(const FeatureTaps&) = delete;

  const std::map<std::string, torch::Tensor>& teacher() const { return recorder_->features(); }
  const std::map<std::string, torch::Tensor>& student() const { return student_; }

 private:
  FakeQuantHooks& student_hooks_;
  const std::shared_ptr<FeatureRecorder> recorder_;
  const nn::ScopedLayerHooks teacher_hooks_;  // After recorder_: installs it.
  std::map<std::string, torch::Tensor> student_;
};

// The loss as the report states it.
std::string LossDescription(const QatOptions& options) {
  std::string loss = "mse(l2norm(student), l2norm(teacher))";
  if (options.feature_loss_weight > 0) {
    absl::StrAppend(&loss, " + ", options.feature_loss_weight,
                    " * mean over quantization sites |s - t|^2 / |t|^2");
  }
  if (options.pair_loss_weight > 0) {
    absl::StrAppend(&loss, " + ", options.pair_loss_weight,
                    " * mean over pairs (cos(s_i, s_j) - cos(t_i, t_j))^2");
  }
  return loss;
}

// The optimizer over the student's weights that `options` ask for.
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const QatOptions& options,
                                                       std::vector<torch::Tensor> params,
                                                       double lr) {
  if (options.optimizer == QatOptimizer::kAdam) {
    return std::make_unique<torch::optim::AdamW>(
        std::move(params), torch::optim::AdamWOptions(lr).weight_decay(options.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(std::move(params),
                                             torch::optim::SGDOptions(lr)
                                                 .momentum(options.momentum)
                                                 .nesterov(options.nesterov)
                                                 .weight_decay(options.weight_decay));
}

void SetLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace

const char* RoundingLayersName(RoundingLayers layers) {
  switch (layers) {
    case RoundingLayers::kDepthwise:
      return "depthwise";
    case RoundingLayers::kAll:
      return "all";
    case RoundingLayers::kNone:
      break;
  }
  return "none";
}

absl::StatusOr<RoundingLayers> ParseRoundingLayers(const std::string& name) {
  if (name == "none") return RoundingLayers::kNone;
  if (name == "depthwise") return RoundingLayers::kDepthwise;
  if (name == "all") return RoundingLayers::kAll;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown learned-rounding layers '", name, "' (none, depthwise or all)"));
}

const char* QatOptimizerName(QatOptimizer optimizer) {
  return optimizer == QatOptimizer::kAdam ? "adam" : "sgd";
}

absl::StatusOr<QatOptimizer> ParseQatOptimizer(const std::string& name) {
  if (name == "sgd") return QatOptimizer::kSgd;
  if (name == "adam") return QatOptimizer::kAdam;
  return absl::InvalidArgumentError(absl::StrCat("unknown optimizer '", name, "' (sgd or adam)"));
}

double BaseLearningRate(const QatOptions& options) {
  if (options.learning_rate > 0) return options.learning_rate;
  return options.optimizer == QatOptimizer::kAdam ? kAdamDefaultLearningRate
                                                  : SgdDefaultLearningRate(options.batch_size);
}

double FreezeThresholdAt(const QatOptions& options, int64_t step) {
  if (options.oscillation_freeze_threshold <= 0 || step < options.warmup_steps) return 0;
  const double span =
      static_cast<double>(std::max<int64_t>(options.steps - options.warmup_steps, 1));
  const double progress = static_cast<double>(step - options.warmup_steps) / span;
  const double final_threshold = options.oscillation_freeze_threshold;
  // From 10x the final threshold: early on only the wildest oscillators freeze.
  return final_threshold + 9.0 * final_threshold * 0.5 * (1.0 + std::cos(M_PI * progress));
}

int64_t RoundingEndStep(const QatOptions& options) {
  const double span =
      static_cast<double>(std::max<int64_t>(options.steps - options.warmup_steps, 0));
  return options.warmup_steps + std::max<int64_t>(1, std::llround(options.rounding_share * span));
}

double RoundingBetaAt(const QatOptions& options, int64_t step) {
  const int64_t end = RoundingEndStep(options);
  if (options.learned_rounding == RoundingLayers::kNone || step < options.warmup_steps ||
      step >= end) {
    return 0;
  }
  const double progress = static_cast<double>(step - options.warmup_steps) /
                          static_cast<double>(end - options.warmup_steps);
  // AdaRound's schedule: choices move freely at first, then a falling beta
  // pushes each towards its nearer end.
  constexpr double kFreeShare = 0.2;
  constexpr double kFirstBeta = 20;
  constexpr double kLastBeta = 2;
  if (progress < kFreeShare) return 0;
  return kLastBeta + (kFirstBeta - kLastBeta) * (1 - (progress - kFreeShare) / (1 - kFreeShare));
}

nlohmann::json QatOptionsToJson(const QatOptions& options) {
  nlohmann::json json = {
      {"steps", options.steps},
      {"batch_size", options.batch_size},
      {"optimizer", options.optimizer == QatOptimizer::kAdam ? "adamw (not the paper's)" : "sgd"},
      {"learning_rate", BaseLearningRate(options)},
      {"weight_decay", options.weight_decay},
      {"schedule", options.schedule == LrSchedule::kCosine ? "cosine" : "step"},
      {"grad_clip_norm", options.grad_clip_norm},
      {"warmup_steps", options.warmup_steps},
      {"activation_ranges", options.learn_activation_ranges ? "ema warm-up, then learned (LSQ)"
                                                            : "ema warm-up, then frozen"},
      {"weight_grid", options.learn_weight_ranges ? "learned after the warm-up (LSQ)"
                                                  : "from the weights' ranges"},
      {"loss", LossDescription(options)}};
  if (options.oscillation_freeze_threshold > 0) {
    json["oscillation_freezing"] = {
        {"final_threshold", options.oscillation_freeze_threshold},
        {"first_threshold", FreezeThresholdAt(options, options.warmup_steps)},
        {"momentum", kDefaultOscillationMomentum},
        {"method", "iterative weight freezing, Nagel et al. 2022 (not the paper's)"}};
  }
  if (options.quantization_drop > 0) {
    json["quantization_drop"] = {
        {"probability", options.quantization_drop},
        {"method",
         "QDrop, Wei et al. 2022: each activation element kept in full precision with this "
         "probability in training steps (not the paper's)"}};
  }
  if (options.learned_rounding != RoundingLayers::kNone) {
    json["learned_rounding"] = {
        {"layers", RoundingLayersName(options.learned_rounding)},
        {"learning_rate", options.rounding_learning_rate},
        {"regularization", options.rounding_regularization},
        {"share", options.rounding_share},
        {"decided_at_step", RoundingEndStep(options)},
        {"beta", "off for the first 20 % of its steps, then 20 falling linearly to 2"},
        {"method",
         "AdaRound's soft rounding, Nagel et al. 2020, trained by the QAT loss "
         "(not the paper's)"}};
  }
  if (options.optimizer == QatOptimizer::kSgd) {
    json["momentum"] = options.momentum;
    json["nesterov"] = options.nesterov;
  }
  return json;
}

namespace {

// `layers`' counts as a report's JSON: summed over every layer ("all"), over
// the depthwise convs when there are any, and per layer with its name, bits
// and kind; `counts_json` writes one Counts.
template <typename Counts, typename CountsJson>
nlohmann::json PerLayerCountsToJson(const std::vector<FakeQuantHooks::LayerCounts<Counts>>& layers,
                                    CountsJson counts_json) {
  Counts all;
  Counts depthwise;
  nlohmann::json rows = nlohmann::json::array();
  for (const FakeQuantHooks::LayerCounts<Counts>& layer : layers) {
    all += layer.counts;
    if (layer.depthwise) depthwise += layer.counts;
    nlohmann::json row = counts_json(layer.counts);
    row["name"] = layer.name;
    row["weight_bits"] = layer.weight_bits;
    row["depthwise"] = layer.depthwise;
    rows.push_back(std::move(row));
  }
  nlohmann::json json = {{"all", counts_json(all)}, {"layers", std::move(rows)}};
  if (depthwise.weights > 0) json["depthwise"] = counts_json(depthwise);
  return json;
}

}  // namespace

nlohmann::json OscillationsToJson(
    const std::vector<FakeQuantHooks::LayerOscillations>& oscillations) {
  nlohmann::json json = PerLayerCountsToJson(oscillations, [](const OscillationCounts& counts) {
    return nlohmann::json{{"weights", counts.weights},
                          {"oscillating", counts.oscillating},
                          {"frozen", counts.frozen},
                          {"reversals", counts.reversals}};
  });
  json["oscillating_above_frequency"] = kOscillatingFrequency;
  json["momentum"] = kDefaultOscillationMomentum;
  return json;
}

nlohmann::json RoundingToJson(const std::vector<FakeQuantHooks::LayerRounding>& rounding) {
  return PerLayerCountsToJson(rounding, [](const RoundingCounts& counts) {
    return nlohmann::json{{"weights", counts.weights},
                          {"away_from_nearest", counts.away_from_nearest},
                          {"soft_when_decided", counts.undecided}};
  });
}

torch::Tensor PairSimilarityLoss(const torch::Tensor& student, const torch::Tensor& teacher) {
  const int64_t n = student.size(0);
  if (n < 2) return torch::zeros({}, student.options());
  const torch::Tensor s = Normalized(student);
  const torch::Tensor t = Normalized(teacher);
  const torch::Tensor diff = s.matmul(s.t()) - t.matmul(t.t());
  // The diagonal is 1 - 1 = 0 in both; average over the n (n - 1) others.
  return diff.square().sum() / static_cast<double>(n * (n - 1));
}

torch::Tensor FeatureDistillationLoss(const std::map<std::string, torch::Tensor>& student,
                                      const std::map<std::string, torch::Tensor>& teacher) {
  torch::Tensor sum;
  int64_t sites = 0;
  for (const auto& [site, t] : teacher) {
    const auto it = student.find(site);
    if (it == student.end()) continue;
    const torch::Tensor term =
        (it->second - t).square().sum() / torch::clamp_min(t.square().sum(), 1e-12);
    sum = sum.defined() ? sum + term : term;
    ++sites;
  }
  if (sites == 0) return torch::zeros({});
  return sum / static_cast<double>(sites);
}

torch::Tensor DistillationLoss(const torch::Tensor& student, const torch::Tensor& teacher) {
  return F::mse_loss(Normalized(student), Normalized(teacher));
}

absl::Status CopyWeights(const torch::nn::Module& from, torch::nn::Module& to) {
  try {
    torch::NoGradGuard no_grad;
    const auto src_params = from.named_parameters();
    auto dst_params = to.named_parameters();
    const auto src_buffers = from.named_buffers();
    auto dst_buffers = to.named_buffers();
    if (src_params.size() != dst_params.size() || src_buffers.size() != dst_buffers.size()) {
      return absl::InvalidArgumentError("copying weights between different architectures");
    }
    for (const auto& item : src_params) {
      torch::Tensor* dst = dst_params.find(item.key());
      if (dst == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("no parameter ", item.key()));
      dst->copy_(item.value());
    }
    for (const auto& item : src_buffers) {
      torch::Tensor* dst = dst_buffers.find(item.key());
      if (dst == nullptr) return absl::InvalidArgumentError(absl::StrCat("no buffer ", item.key()));
      dst->copy_(item.value());
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("copying weights: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::StatusOr<QatReport> RunQat(nn::Backbone& teacher, nn::Backbone& student,
                                 FakeQuantHooks& hooks, synth::ImageSource& source,
                                 const QatOptions& options, torch::Device device,
                                 const std::function<void(const QatProgress&)>& progress) {
  if (options.steps <= 0 || options.batch_size <= 0) {
    return absl::InvalidArgumentError("QAT needs steps > 0 and batch_size > 0");
  }
  if (!(options.oscillation_freeze_threshold >= 0 && options.oscillation_freeze_threshold < 0.1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oscillation freeze threshold must be in [0, 0.1) (it starts 10x higher, and "
                     "a frequency never exceeds 1), got ",
                     options.oscillation_freeze_threshold));
  }
  if (!(options.quantization_drop >= 0 && options.quantization_drop < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization drop probability must be in [0, 1) (1 would train a "
                     "full-precision student), got ",
                     options.quantization_drop));
  }
  const bool learns_rounding = options.learned_rounding != RoundingLayers::kNone;
  if (learns_rounding && !options.checkpoint_path.empty() && options.checkpoint_every > 0) {
    return absl::InvalidArgumentError(
        "learned rounding is not checkpointed: run it without a checkpoint path");
  }
  if (learns_rounding && !(options.rounding_share > 0 && options.rounding_share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learned rounding's share of the steps must be in (0, 1], got ", options.rounding_share));
  }
  if (learns_rounding && options.warmup_steps >= options.steps) {
    return absl::InvalidArgumentError(
        "learned rounding starts after the warm-up: it needs warmup_steps < steps");
  }
  if (learns_rounding &&
      !(options.rounding_learning_rate > 0 && options.rounding_regularization >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learned rounding needs a learning rate > 0 and a regularization >= 0, got ",
                     options.rounding_learning_rate, " and ", options.rounding_regularization));
  }
  if (absl::Status s = CheckSameSpec(teacher, student); !s.ok()) return s;
  std::unique_ptr<FeatureTaps> feature_taps;
  if (options.feature_loss_weight > 0) {
    auto* hookable = dynamic_cast<nn::Hookable*>(&teacher);
    if (hookable == nullptr || hookable->layer_hooks() != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("feature distillation needs a teacher with hook points and none installed; ",
                       teacher.spec().architecture, hookable ? " has hooks" : " has none"));
    }
    feature_taps = std::make_unique<FeatureTaps>(teacher, *hookable, hooks);
  }
  const double base_lr = BaseLearningRate(options);
  const auto start = std::chrono::steady_clock::now();
  QatReport report;
  try {
    teacher.to(device);
    student.to(device);
    teacher.eval();
    student.train();
    OscillationTracking oscillations(hooks);
    const QuantizationDropScope quantization_drop(hooks, options.quantization_drop);
    std::vector<torch::Tensor> params = student.parameters();
    const std::unique_ptr<torch::optim::Optimizer> optimizer_owner =
        MakeOptimizer(options, params, base_lr);
    torch::optim::Optimizer& optimizer = *optimizer_owner;
    hooks.set_observing(options.warmup_steps > 0);
    int64_t first_step = 0;
    const bool checkpointing = !options.checkpoint_path.empty() && options.checkpoint_every > 0;
    if (checkpointing) {
      absl::StatusOr<int64_t> resumed =
          LoadQatCheckpoint(options.checkpoint_path, student, hooks, optimizer, device);
      if (resumed.ok()) {
        first_step = std::min(*resumed, options.steps);
        hooks.set_observing(first_step < options.warmup_steps);
        report.resumed_from_step = first_step;
      } else if (resumed.status().code() != absl::StatusCode::kNotFound) {
        return resumed.status();
      }
    }
    // Learned activation and weight scales get their own optimizer, created
    // when the warm-up ends (or at once when resuming after it).
    std::unique_ptr<torch::optim::Optimizer> range_optimizer;
    const bool learns_ranges = options.learn_activation_ranges || options.learn_weight_ranges;
    const auto start_learning_ranges = [&] {
      std::vector<torch::Tensor> scales;
      if (options.learn_activation_ranges) scales = hooks.StartLearningRanges();
      if (options.learn_weight_ranges) {
        for (torch::Tensor& scale : hooks.StartLearningWeightRanges()) scales.push_back(scale);
      }
      if (scales.empty()) return;
      QatOptions range_options = options;
      range_options.weight_decay = 0;  // A scale has no reason to shrink.
      range_optimizer = MakeOptimizer(range_options, std::move(scales), base_lr);
    };
    if (learns_ranges && first_step > 0 && first_step >= options.warmup_steps) {
      start_learning_ranges();
    }
    // Learned rounding's logits get theirs at the same point, before the
    // weight scales (a layer whose rounding is learned keeps its grid).
    std::unique_ptr<torch::optim::Optimizer> rounding_optimizer;
    const auto start_learning_rounding = [&]() -> absl::Status {
      std::vector<torch::Tensor> logits =
          hooks.StartLearningRounding(options.learned_rounding == RoundingLayers::kDepthwise);
      if (logits.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("learned rounding (", RoundingLayersName(options.learned_rounding),
                         "): the student has no such layer with weights under 8 bits"));
      }
      rounding_optimizer = std::make_unique<torch::optim::Adam>(
          std::move(logits), torch::optim::AdamOptions(options.rounding_learning_rate));
      return absl::OkStatus();
    };
    double tail_sum = 0;
    int64_t tail_count = 0;
    const int64_t tail_start = options.steps - std::max<int64_t>(1, options.steps / 10);
    for (int64_t step = first_step; step < options.steps; ++step) {
      if (options.should_stop && options.should_stop()) {
        return absl::CancelledError(absl::StrCat("QAT cancelled after ", step, " steps"));
      }
      if (step == options.warmup_steps) {
        hooks.set_observing(false);
        if (learns_rounding) QF_RETURN_IF_ERROR(start_learning_rounding());
        if (learns_ranges) start_learning_ranges();
      }
      if (rounding_optimizer && step == RoundingEndStep(options)) {
        // Decided from here on: the other layers train against the
        // decisions as they will be served.
        report.rounding = hooks.FinishLearningRounding();
        rounding_optimizer.reset();
      }
      hooks.set_oscillation_freeze_threshold(FreezeThresholdAt(options, step));
      const double lr = LearningRateAt(options, base_lr, step);
      SetLearningRate(optimizer, lr);
      if (range_optimizer) {
        SetLearningRate(*range_optimizer, lr);
        range_optimizer->zero_grad();
      }
      const torch::Tensor batch = source.NextBatch(options.batch_size).to(device);
      torch::Tensor target;
      {
        torch::NoGradGuard no_grad;
        target = teacher.forward(batch);
      }
      const torch::Tensor embeddings = student.forward(batch);
      torch::Tensor loss = DistillationLoss(embeddings, target);
      if (options.pair_loss_weight > 0) {
        loss = loss + options.pair_loss_weight * PairSimilarityLoss(embeddings, target);
      }
      if (feature_taps) {
        loss = loss + options.feature_loss_weight *
                          FeatureDistillationLoss(feature_taps->student(), feature_taps->teacher());
      }
      const double value = loss.item<double>();
      if (const double beta = RoundingBetaAt(options, step); beta > 0) {
        loss = loss + options.rounding_regularization * hooks.RoundingRegularizer(beta);
      }
      optimizer.zero_grad();
      if (rounding_optimizer) rounding_optimizer->zero_grad();
      loss.backward();
      if (options.grad_clip_norm > 0) {
        torch::nn::utils::clip_grad_norm_(params, options.grad_clip_norm);
      }
      optimizer.step();
      if (range_optimizer) range_optimizer->step();
      if (rounding_optimizer) rounding_optimizer->step();
      if (step == first_step) report.first_loss = value;
      if (step >= tail_start) {
        tail_sum += value;
        ++tail_count;
      }
      if (progress) progress({step + 1, options.steps, value, lr});
      if (checkpointing && (step + 1) % options.checkpoint_every == 0 && step + 1 < options.steps) {
        QF_RETURN_IF_ERROR(
            SaveQatCheckpoint(options.checkpoint_path, step + 1, student, hooks, optimizer));
      }
    }
    hooks.set_observing(false);
    if (rounding_optimizer) report.rounding = hooks.FinishLearningRounding();
    report.oscillations = oscillations.Finish();
    student.eval();
    report.steps = options.steps;
    report.last_loss = tail_sum / static_cast<double>(std::max<int64_t>(tail_count, 1));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("QAT failed: ", e.what_without_backtrace()));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

absl::Status CalibratePtq(nn::Backbone& student, FakeQuantHooks& hooks, synth::ImageSource& source,
                          const PtqOptions& options, torch::Device device) {
  if (options.num_images <= 0 || options.batch_size <= 0) {
    return absl::InvalidArgumentError("PTQ needs num_images > 0 and batch_size > 0");
  }
  try {
    torch::NoGradGuard no_grad;
    student.to(device);
    student.eval();
    hooks.set_observing(true);
    for (int64_t done = 0; done < options.num_images; done += options.batch_size) {
      if (options.should_stop && options.should_stop()) {
        return absl::CancelledError(absl::StrCat("PTQ cancelled after ", done, " images"));
      }
      const int64_t n = std::min(options.batch_size, options.num_images - done);
      student.forward(source.NextBatch(n).to(device));
      if (options.progress) options.progress(done + n, options.num_images);
    }
    hooks.set_observing(false);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("PTQ calibration failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> MeasureDistillationLoss(nn::Backbone& teacher, nn::Backbone& student,
                                               synth::ImageSource& source, int64_t num_batches,
                                               int64_t batch_size, torch::Device device) {
  try {
    torch::NoGradGuard no_grad;
    double sum = 0;
    for (int64_t i = 0; i < num_batches; ++i) {
      const torch::Tensor batch = source.NextBatch(batch_size).to(device);
      sum += DistillationLoss(student.forward(batch), teacher.forward(batch)).item<double>();
    }
    return sum / static_cast<double>(std::max<int64_t>(num_batches, 1));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("measuring loss: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<EmbeddingAgreement> MeasureEmbeddingAgreement(nn::Backbone& teacher,
                                                             nn::Backbone& student,
                                                             synth::ImageSource& source,
                                                             int64_t num_images, int64_t batch_size,
                                                             torch::Device device) {
  if (num_images <= 0 || batch_size <= 0) {
    return absl::InvalidArgumentError("measuring the embedding cosine needs images and a batch");
  }
  EmbeddingAgreement agreement;
  std::vector<torch::Tensor> teacher_rows;
  try {
    torch::NoGradGuard no_grad;
    teacher.eval();
    student.eval();
    double sum = 0;
    for (int64_t done = 0; done < num_images; done += batch_size) {
      const int64_t n = std::min(batch_size, num_images - done);
      const torch::Tensor batch = source.NextBatch(n).to(device);
      const torch::Tensor teacher_embeddings = teacher.forward(batch);
      sum += torch::nn::functional::cosine_similarity(
                 student.forward(batch), teacher_embeddings,
                 torch::nn::functional::CosineSimilarityFuncOptions().dim(1))
                 .sum()
                 .item<double>();
      teacher_rows.push_back(teacher_embeddings.to(torch::kCPU));
    }
    agreement.mean_cosine = sum / static_cast<double>(num_images);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("measuring the embedding cosine: ", e.what_without_backtrace()));
  }
  if (num_images < 2) {
    agreement.teacher_mean_pairwise_cosine = std::nan("");
  } else {
    QF_ASSIGN_OR_RETURN(agreement.teacher_mean_pairwise_cosine,
                        eval::MeanPairwiseCosine(torch::cat(teacher_rows)));
  }
  return agreement;
}

}  // namespace qf::quant
