// Quantization-aware training by embedding distillation (QuantFace), and the
// post-training (PTQ) baseline, over a fake-quantized student.
//
// Loss: MSE between the L2-normalized embeddings of student and teacher on
// the same batch; no labels. Optimizer (paper defaults): SGD, Nesterov
// momentum 0.9, weight decay 5e-4, lr 0.1 * batch / 512 with cosine (or step:
// x0.1 at 50 % and 75 % of the steps) decay, gradient-norm clipping at 5;
// QatOptions::optimizer picks AdamW instead (not the paper's method).
// Activation ranges are EMA-tracked during the first warmup_steps steps and
// frozen after (the hooks' observing flag), or learned after
// (QatOptions::learn_activation_ranges). Optionally (not the paper's method,
// QatOptions::feature_loss_weight) the loss adds the relative squared error
// between the student's and the teacher's activations at every quantization
// site (conv/linear inputs, residual-add operands), averaged over the sites,
// and (QatOptions::pair_loss_weight) the squared error of the batch's
// pairwise embedding similarities.
//
// Contract: teacher and student must have the same spec; the teacher is not
// modified (eval mode, no gradients). Both are moved to `device`. Errors from
// LibTorch come back as InternalError; nothing throws.
#ifndef QUANTFACE_CORE_QUANT_DISTILLER_H_
#define QUANTFACE_CORE_QUANT_DISTILLER_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/qat_defaults.h"
#include "core/synth/image_source.h"

namespace qf::quant {

enum class LrSchedule { kCosine, kStep };

// kSgd is the paper's optimizer. kAdam (not the paper's method) is AdamW:
// Adam with decoupled weight decay; momentum and nesterov do not apply. Why
// offer it: the paper's SGD rate (0.1 * batch / 512) was set for hundreds of
// thousands of steps on 0.5M images, and a CPU job runs hundreds; Adam's
// per-weight step sizes do not depend on the loss's scale, which for a
// mean over a 1024-d normalized embedding is tiny.
enum class QatOptimizer { kSgd, kAdam };

// Which layers' rounding QAT learns (QatOptions::learned_rounding).
enum class RoundingLayers { kNone, kDepthwise, kAll };

// "none" / "depthwise" / "all", and back; other names are InvalidArgument.
const char* RoundingLayersName(RoundingLayers layers);
absl::StatusOr<RoundingLayers> ParseRoundingLayers(const std::string& name);

// "sgd" / "adam", and back; other names are InvalidArgument.
const char* QatOptimizerName(QatOptimizer optimizer);
absl::StatusOr<QatOptimizer> ParseQatOptimizer(const std::string& name);

struct QatOptions {
  int64_t steps = 600;
  int64_t batch_size = 32;
  QatOptimizer optimizer = QatOptimizer::kSgd;
  // 0: SgdDefaultLearningRate (the paper's) or kAdamDefaultLearningRate.
  double learning_rate = 0;
  double momentum = 0.9;                    // SGD only.
  bool nesterov = true;                     // SGD only.
  double weight_decay = kPaperWeightDecay;  // SGD: L2 in the gradient; Adam: decoupled (AdamW).
  LrSchedule schedule = LrSchedule::kCosine;
  double grad_clip_norm = 5.0;
  int64_t warmup_steps = 50;  // Activation ranges tracked, then frozen.
  // Not the paper's method: after the warm-up, learn the activation scales
  // (LSQ, see activation_quantizer.h) with their own optimizer (the same
  // kind, schedule and momentum, no weight decay) instead of freezing them.
  // The scales are saved with the model; their optimizer state is not
  // checkpointed (a resumed job restarts it).
  bool learn_activation_ranges = false;
  // Not the paper's method: after the warm-up, learn each conv/linear
  // layer's per-channel weight scale (LSQ, FakeQuantHooks::
  // StartLearningWeightRanges) with the activation scales' optimizer,
  // instead of taking the grid from the weights' min/max (or clipped
  // range). The scales are saved with the model and checkpointed; their
  // optimizer state is not. Offline only (quant_bench quantize
  // --learn-weight-ranges), not in the job API: it fits the synthetic faces
  // better but did not carry over to LFW (docs/BENCHMARKS.md, session 15).
  bool learn_weight_ranges = false;
  // Not the paper's method: > 0 adds this weight times the feature loss
  // (FeatureDistillationLoss) of the activations at every quantization site
  // (the student's quantized, the teacher's float) to the embedding loss. The teacher must be
  // Hookable with no hooks installed; it gets a FeatureRecorder for the run, and the student's
  // hooks a tap.
  double feature_loss_weight = 0;
  // Not the paper's method: > 0 adds this weight times PairSimilarityLoss to
  // the embedding loss. Why: verification compares pairs, and when the
  // teacher's embeddings share a large common component (dlib-resnet: mean
  // cosine 0.84 between different people on LFW) a small embedding error
  // is a large error in the part of each embedding that tells people apart.
  double pair_loss_weight = 0;
  // Not the paper's method: > 0 freezes weights that oscillate between two
  // grid levels (iterative weight freezing, Nagel et al., ICML 2022; see
  // oscillation_tracker.h): after the warm-up, a weight whose oscillation
  // frequency (EMA, momentum kDefaultOscillationMomentum) exceeds the
  // threshold keeps its most frequent level to the end. The threshold decays
  // on a cosine from 10x this value to this value over the steps after the
  // warm-up (the paper's MobileNetV2 setting: 0.1 to 0.01). 0: weights are
  // only tracked, and the report counts them. Frozen state is not
  // checkpointed: a resumed run tracks afresh. Offline only (quant_bench
  // quantize --freeze-oscillations), not in the job API.
  double oscillation_freeze_threshold = 0;
  // Not the paper's method: in every training step, each element of each
  // quantized activation keeps its full-precision value with this
  // probability, in [0, 1) (QDrop, Wei et al., ICLR 2022; FakeQuantHooks::
  // set_quantization_drop). The student is evaluated, saved and served
  // with every element quantized. 0: the paper's QAT. Offline only
  // (quant_bench quantize --quantization-drop), not in the job API.
  double quantization_drop = 0;
  // Not the paper's method: after the warm-up, the chosen layers' weights
  // stop being rounded to the nearest level; each weight's up-or-down choice
  // is learned instead (FakeQuantHooks::StartLearningRounding, AdaRound's
  // soft rounding) by its own Adam optimizer at rounding_learning_rate
  // (constant), through the same loss plus rounding_regularization times
  // the rounding regularizer, for rounding_share of the steps after the
  // warm-up. The regularizer is off for the first 20 % of those steps, then
  // its beta falls linearly from 20 to 2 (AdaRound's schedule), pushing
  // every choice towards a decision. The chosen layers' latent weights and
  // grids stay where the warm-up left them until then; at the end of the
  // share every choice is decided (up where h >= 0.5) and written into the
  // latent weights (FinishLearningRounding), and the remaining steps train
  // the whole student, those layers on their kept grids, against the
  // decided weights. Why the remaining steps: at the end of a run with
  // rounding_share 1, 99 of faceres' 44,640 depthwise weights were still
  // between their levels, most of them in the first three layers, so the
  // student trained was not the student served (docs/BENCHMARKS.md,
  // session 31).
  // Measured on faceres w4a4 it served worse than nearest rounding (drops
  // 1.48, 1.60 and 2.35 at shares 0.25, 0.75 and 1, against 1.26), choosing
  // nearest rounding for all but 0-26 of 44,640 depthwise weights (sessions
  // 31-32); the default share is the least harmful of the three.
  // Offline only (quant_bench quantize --learn-rounding), not in the job
  // API, and not checkpointed (refused with a checkpoint path).
  RoundingLayers learned_rounding = RoundingLayers::kNone;
  double rounding_learning_rate = 1e-2;
  double rounding_share = 0.25;
  // The regularizer's gradient on a logit is about 0.1 to 0.5 times this
  // weight, and it must be of the order of the loss's own gradient there
  // for the loss to have a say: on faceres w4a4 (embedding loss plus 0.01
  // times the feature loss) that gradient's RMS was 1e-7 to 2e-7 per logit
  // (docs/BENCHMARKS.md, session 31), where 1e-4 snapped every choice back
  // to nearest rounding within 50 steps.
  double rounding_regularization = 1e-6;
  // Polled before every step; returning true stops training with CANCELLED
  // (the job system's cooperative cancellation). Not part of the report.
  std::function<bool()> should_stop;
  // With a path and checkpoint_every > 0, the student's weights, activation
  // ranges and optimizer state are written there (atomically, see
  // qat_checkpoint.h) every checkpoint_every steps, and training resumes
  // from that file when it exists at the start.
  std::string checkpoint_path;
  int64_t checkpoint_every = 0;
};

// The learning rate a run with these options starts from.
double BaseLearningRate(const QatOptions& options);

nlohmann::json QatOptionsToJson(const QatOptions& options);

// QatReport::oscillations for the job report: the counts over every tracked
// layer ("all"), over the depthwise convs alone when there are any, and per
// layer.
nlohmann::json OscillationsToJson(
    const std::vector<FakeQuantHooks::LayerOscillations>& oscillations);

struct QatProgress {
  int64_t step = 0;  // 1-based, after the step.
  int64_t total = 0;
  double loss = 0;
  double learning_rate = 0;
};

struct QatReport {
  int64_t steps = 0;
  double first_loss = 0;  // Loss of the first step.
  double last_loss = 0;   // Mean loss over the last 10 % of the steps.
  double seconds = 0;
  int64_t resumed_from_step = 0;  // > 0 when a checkpoint was loaded.
  // Every layer with weights under 8 bits, at the last step: how many of its
  // integer weights oscillate or were frozen (FakeQuantHooks::
  // FinishOscillationTracking; tracked after the warm-up in every run).
  std::vector<FakeQuantHooks::LayerOscillations> oscillations;
  // Every layer whose rounding was learned (QatOptions::learned_rounding),
  // at the last step.
  std::vector<FakeQuantHooks::LayerRounding> rounding;
};

// The step at which learned rounding's choices are decided:
// warmup_steps + rounding_share * (steps - warmup_steps), at least one step
// after the warm-up.
int64_t RoundingEndStep(const QatOptions& options);

// The rounding regularizer's beta at `step`; 0 (regularizer off) during the
// warm-up, the first 20 % of the rounding steps after it, from
// RoundingEndStep on, and when rounding is not learned.
double RoundingBetaAt(const QatOptions& options, int64_t step);

// QatReport::rounding for the job report: the counts over every layer
// ("all"), over the depthwise convs alone when there are any, and per layer.
nlohmann::json RoundingToJson(const std::vector<FakeQuantHooks::LayerRounding>& rounding);

// The freezing threshold at `step` (oscillation_freeze_threshold's cosine
// schedule); 0 during the warm-up and when freezing is off.
double FreezeThresholdAt(const QatOptions& options, int64_t step);

// MSE of the row-wise L2-normalized embeddings (both N x D).
torch::Tensor DistillationLoss(const torch::Tensor& student, const torch::Tensor& teacher);

// Mean over the sites of both maps of |s - t|^2 / |t|^2 (each over the whole
// batch): the features' relative squared error. Zero (a defined
// scalar) when no site is shared.
torch::Tensor FeatureDistillationLoss(const std::map<std::string, torch::Tensor>& student,
                                      const std::map<std::string, torch::Tensor>& teacher);

// Mean over the off-diagonal pairs (i, j) of the batch of
// (cos(s_i, s_j) - cos(t_i, t_j))^2: how far the student's pairwise
// similarities are from the teacher's. Zero for a batch of one.
torch::Tensor PairSimilarityLoss(const torch::Tensor& student, const torch::Tensor& teacher);

// Copies every parameter and buffer of `from` into `to` (same architecture).
absl::Status CopyWeights(const torch::nn::Module& from, torch::nn::Module& to);

absl::StatusOr<QatReport> RunQat(nn::Backbone& teacher, nn::Backbone& student,
                                 FakeQuantHooks& hooks, synth::ImageSource& source,
                                 const QatOptions& options, torch::Device device,
                                 const std::function<void(const QatProgress&)>& progress = nullptr);

struct PtqOptions {
  int64_t num_images = 256;
  int64_t batch_size = 32;
  std::function<bool()> should_stop;                          // Polled per batch; true: CANCELLED.
  std::function<void(int64_t done, int64_t total)> progress;  // After each batch; optional.
};

// Runs the calibration images through the student with the hooks observing,
// then freezes the ranges. Weights are untouched.
absl::Status CalibratePtq(nn::Backbone& student, FakeQuantHooks& hooks, synth::ImageSource& source,
                          const PtqOptions& options, torch::Device device);

// How closely a student follows its teacher on a set of images, and how
// far apart the teacher places those images.
struct EmbeddingAgreement {
  double mean_cosine = 0;  // Student vs teacher, per image.
  // eval::MeanPairwiseCosine of the teacher's embeddings; NaN for one image.
  double teacher_mean_pairwise_cosine = 0;
};

// EmbeddingAgreement on `num_images` images from `source` (in batches of at
// most `batch_size`), in eval mode with no gradients. InvalidArgument for
// num_images or batch_size <= 0.
absl::StatusOr<EmbeddingAgreement> MeasureEmbeddingAgreement(nn::Backbone& teacher,
                                                             nn::Backbone& student,
                                                             synth::ImageSource& source,
                                                             int64_t num_images, int64_t batch_size,
                                                             torch::Device device);

// Mean distillation loss of the student over `num_batches` batches of
// `source` (no training, ranges unchanged if frozen).
absl::StatusOr<double> MeasureDistillationLoss(nn::Backbone& teacher, nn::Backbone& student,
                                               synth::ImageSource& source, int64_t num_batches,
                                               int64_t batch_size, torch::Device device);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_DISTILLER_H_
