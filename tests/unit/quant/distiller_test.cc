#include "core/quant/distiller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/eval/embedding_spread.h"
#include "core/quant/feature_recorder.h"
#include "core/synth/noise_source.h"
#include "core/synth/tensor_set_source.h"
#include "tests/unit/quant/off_grid_share.h"
#include "tests/unit/quant/tiny_backbone.h"

namespace qf::quant {
namespace {

using testing::TinyBackbone;

TEST(DistillationLossTest, ZeroForSameDirectionAndScaleInvariant) {
  const torch::Tensor a = torch::randn({4, 8});
  EXPECT_NEAR(DistillationLoss(a * 3, a).item<double>(), 0.0, 1e-12);
  // Opposite unit vectors differ by 2 in every norm: MSE = 4 / D summed over D.
  const torch::Tensor e = torch::zeros({1, 4}).index_put_({0, 0}, 1.f);
  EXPECT_NEAR(DistillationLoss(e, -e).item<double>(), 4.0 / 4.0, 1e-6);
}

TEST(CopyWeightsTest, CopiesAndRejectsMismatch) {
  TinyBackbone a;
  TinyBackbone b;
  ASSERT_TRUE(CopyWeights(a, b).ok());
  const torch::Tensor x = torch::randn({2, 3, 16, 16});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(a.forward(x), b.forward(x)));
  testing::UnhookableBackbone other;
  EXPECT_FALSE(CopyWeights(a, other).ok());
}

// 40 steps of 16 with a 5-step warm-up: enough for the tiny student's loss
// to fall.
QatOptions ShortRun() {
  QatOptions options;
  options.steps = 40;
  options.batch_size = 16;
  options.learning_rate = 0.5;
  options.warmup_steps = 5;
  return options;
}

// ShortRun with every layer's rounding learned, at a rate that lets the
// tiny student's choices move in the 35 steps after its warm-up.
QatOptions LearnedRoundingRun(double regularization, double share) {
  QatOptions options = ShortRun();
  options.learned_rounding = RoundingLayers::kAll;
  options.rounding_learning_rate = 0.2;
  options.rounding_regularization = regularization;
  options.rounding_share = share;
  return options;
}

// Copies `teacher` into `student` and attaches 3-bit fake quantization.
absl::StatusOr<std::shared_ptr<FakeQuantHooks>> AttachThreeBitStudent(TinyBackbone& teacher,
                                                                      TinyBackbone& student) {
  if (absl::Status s = CopyWeights(teacher, student); !s.ok()) return s;
  FakeQuantOptions fq;
  fq.bits = {3, 3};
  return FakeQuantHooks::Attach(student, fq);
}

// A tiny teacher and its 3-bit fake-quantized copy, the subject of the QAT
// tests.
class ThreeBitStudentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::shared_ptr<FakeQuantHooks>> attached =
        AttachThreeBitStudent(teacher, student);
    ASSERT_TRUE(attached.ok()) << attached.status();
    hooks = *std::move(attached);
  }

  // Seeded before the two models draw their weights.
  const bool seeded = (torch::manual_seed(4), true);
  TinyBackbone teacher;
  TinyBackbone student;
  std::shared_ptr<FakeQuantHooks> hooks;
};

// A tiny QAT run must reduce the distillation loss of a 3-bit student below
// what calibration alone (PTQ) achieves.
TEST_F(ThreeBitStudentTest, QatReducesDistillationLossBelowPtq) {
  const torch::Device cpu(torch::kCPU);

  synth::NoiseSource calibration(teacher.spec().input, 7);
  ASSERT_TRUE(CalibratePtq(student, *hooks, calibration, {64, 16, {}, {}}, cpu).ok());
  synth::NoiseSource held_out(teacher.spec().input, 99);
  const absl::StatusOr<double> ptq_loss =
      MeasureDistillationLoss(teacher, student, held_out, 4, 32, cpu);
  ASSERT_TRUE(ptq_loss.ok());

  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options;
  options.steps = 80;
  options.batch_size = 16;
  options.learning_rate = 0.5;
  options.warmup_steps = 5;
  std::vector<double> losses;
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, cpu,
             [&](const QatProgress& p) { losses.push_back(p.loss); });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(losses.size(), 80u);
  EXPECT_EQ(report->steps, 80);
  EXPECT_LT(report->last_loss, report->first_loss);

  synth::NoiseSource held_out_again(teacher.spec().input, 99);
  const absl::StatusOr<double> qat_loss =
      MeasureDistillationLoss(teacher, student, held_out_again, 4, 32, cpu);
  ASSERT_TRUE(qat_loss.ok());
  EXPECT_LT(*qat_loss, *ptq_loss * 0.8) << "PTQ " << *ptq_loss << " QAT " << *qat_loss;
  // Ranges froze after warm-up.
  for (const auto* layer : hooks->layers()) EXPECT_FALSE(layer->input->observing());
  for (const auto* layer : hooks->layers()) EXPECT_EQ(layer->input->num_observed(), 4 + 5);
}

// With learned activation ranges the scales move after the warm-up and the
// student still trains (the loss falls); the scales stay on the same grid
// kind (zero point fixed).
TEST_F(ThreeBitStudentTest, QatLearnsActivationScalesAfterWarmup) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options;
  options.steps = 60;
  options.batch_size = 16;
  options.learning_rate = 0.5;
  options.warmup_steps = 5;
  options.learn_activation_ranges = true;
  std::vector<float> warmup_scales;
  std::vector<int> warmup_zero_points;
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, torch::Device(torch::kCPU),
             [&](const QatProgress& p) {
               if (p.step != options.warmup_steps) return;
               for (const auto* layer : hooks->layers()) {
                 warmup_scales.push_back(layer->input->Params().scale.item<float>());
                 warmup_zero_points.push_back(layer->input->Params().zero_point.item<int>());
               }
             });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->last_loss, report->first_loss);
  ASSERT_EQ(warmup_scales.size(), hooks->layers().size());
  int moved = 0;
  for (size_t i = 0; i < warmup_scales.size(); ++i) {
    const ActivationQuantizer& q = *hooks->layers()[i]->input;
    EXPECT_TRUE(q.learning());
    EXPECT_EQ(q.num_observed(), 5);  // Observed during the warm-up only.
    EXPECT_EQ(q.Params().zero_point.item<int>(), warmup_zero_points[i]);
    if (std::abs(q.Params().scale.item<float>() / warmup_scales[i] - 1) > 1e-3) ++moved;
  }
  EXPECT_GT(moved, 0);
  EXPECT_EQ(QatOptionsToJson(options)["activation_ranges"], "ema warm-up, then learned (LSQ)");
}

// With learned weight ranges every layer's per-channel weight scales start
// from the grid its weights had when the warm-up ended, move after it, and
// keep their zero points; the student still trains.
TEST_F(ThreeBitStudentTest, QatLearnsWeightScalesAfterWarmup) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  options.optimizer = QatOptimizer::kAdam;
  options.learning_rate = 0.01;
  options.learn_weight_ranges = true;
  const auto weight_of = [&](const FakeQuantHooks::Layer& layer) {
    return student.named_parameters()[layer.name + ".weight"];
  };
  std::vector<AffineParams> at_warmup_end;
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, torch::Device(torch::kCPU),
             [&](const QatProgress& p) {
               if (p.step != options.warmup_steps) return;
               for (const auto* layer : hooks->layers()) {
                 EXPECT_FALSE(layer->learned_weight_log_scale.defined()) << layer->name;
                 at_warmup_end.push_back(hooks->WeightParams(*layer, weight_of(*layer)));
               }
             });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->last_loss, report->first_loss);
  ASSERT_EQ(at_warmup_end.size(), hooks->layers().size());
  int moved = 0;
  for (size_t i = 0; i < at_warmup_end.size(); ++i) {
    const FakeQuantHooks::Layer& layer = *hooks->layers()[i];
    ASSERT_TRUE(layer.learned_weight_log_scale.defined()) << layer.name;
    const AffineParams now = hooks->WeightParams(layer, weight_of(layer));
    EXPECT_TRUE(torch::equal(now.zero_point, at_warmup_end[i].zero_point)) << layer.name;
    if (!torch::allclose(now.scale, at_warmup_end[i].scale, /*rtol=*/1e-3, /*atol=*/0)) ++moved;
  }
  EXPECT_GT(moved, 0);
  EXPECT_EQ(QatOptionsToJson(options)["weight_grid"], "learned after the warm-up (LSQ)");
}

// A run stopped after its warm-up resumes with the weight scales it had
// learned by its last checkpoint, and goes on learning them.
TEST_F(ThreeBitStudentTest, LearnedWeightScalesResumeFromTheCheckpoint) {
  const std::string path = ::testing::TempDir() + "/learned_weights_resume_test.ckpt";
  std::filesystem::remove(path);
  QatOptions options = ShortRun();
  options.optimizer = QatOptimizer::kAdam;
  options.learning_rate = 0.01;
  options.warmup_steps = 3;
  options.learn_weight_ranges = true;
  options.steps = 12;
  options.checkpoint_path = path;
  options.checkpoint_every = 5;
  int64_t stop_after = 7;
  options.should_stop = [&] { return stop_after-- == 0; };
  std::vector<torch::Tensor> checkpointed;  // The scales when step 5's checkpoint was written.
  synth::NoiseSource train(teacher.spec().input, 8);
  const absl::StatusOr<QatReport> stopped =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU, [&](const QatProgress& p) {
        if (p.step != 5) return;
        for (const auto* layer : hooks->layers()) {
          checkpointed.push_back(layer->learned_weight_log_scale.detach().clone());
        }
      });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
  ASSERT_EQ(checkpointed.size(), hooks->layers().size());

  // A fresh student resumes at step 5; with steps = 5 it stops right there.
  TinyBackbone fresh;
  absl::StatusOr<std::shared_ptr<FakeQuantHooks>> fresh_hooks =
      AttachThreeBitStudent(teacher, fresh);
  ASSERT_TRUE(fresh_hooks.ok()) << fresh_hooks.status();
  options.should_stop = nullptr;
  options.steps = 5;
  const absl::StatusOr<QatReport> resumed =
      RunQat(teacher, fresh, **fresh_hooks, train, options, torch::kCPU);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from_step, 5);
  for (size_t i = 0; i < checkpointed.size(); ++i) {
    const FakeQuantHooks::Layer& layer = *(*fresh_hooks)->layers()[i];
    ASSERT_TRUE(layer.learned_weight_log_scale.defined()) << layer.name;
    EXPECT_TRUE(layer.learned_weight_log_scale.requires_grad()) << layer.name;
    EXPECT_TRUE(torch::equal(layer.learned_weight_log_scale.detach(), checkpointed[i]))
        << layer.name;
  }
  std::filesystem::remove(path);
}

TEST(FeatureDistillationLossTest, RelativeErrorAveragedOverSharedSites) {
  const torch::Tensor t = torch::ones({2, 4});
  const std::map<std::string, torch::Tensor> teacher = {{"a", t}, {"b", 2 * t}, {"only", t}};
  // Site a off by 10 % everywhere (0.01 relative squared), b exact; "only"
  // has no student counterpart and "extra" no teacher one: both ignored.
  const std::map<std::string, torch::Tensor> student = {
      {"a", 1.1 * t}, {"b", 2 * t}, {"extra", torch::zeros({3})}};
  EXPECT_NEAR(FeatureDistillationLoss(student, teacher).item<double>(), 0.01 / 2, 1e-6);
  EXPECT_EQ(FeatureDistillationLoss({}, teacher).item<double>(), 0.0);
}

TEST(PairSimilarityLossTest, ComparesPairwiseCosinesOnly) {
  // Teacher rows orthogonal (cosine 0); the student's second row at 45
  // degrees to its first (cosine 0.7071): each of the 2 ordered off-diagonal
  // pairs is off by 0.7071, so the mean squared error is 0.5.
  const torch::Tensor teacher = torch::tensor({{1.f, 0.f}, {0.f, 1.f}});
  const torch::Tensor student = torch::tensor({{2.f, 0.f}, {1.f, 1.f}});
  EXPECT_NEAR(PairSimilarityLoss(student, teacher).item<double>(), 0.5, 1e-6);
  // A rotation of the whole embedding space (here: the dimensions
  // permuted) and per-row scales keep every pairwise cosine, though the
  // embedding loss sees them.
  torch::manual_seed(3);
  const torch::Tensor t = torch::randn({5, 8});
  const torch::Tensor rotated = 3.0 * t.flip({1});
  EXPECT_NEAR(PairSimilarityLoss(rotated, t).item<double>(), 0.0, 1e-10);
  EXPECT_GT(DistillationLoss(rotated, t).item<double>(), 0.01);
  EXPECT_EQ(PairSimilarityLoss(t.slice(0, 0, 1), t.slice(0, 0, 1) + 1).item<double>(), 0.0);
}

TEST(FeatureRecorderTest, RecordsEveryQuantizationSiteAndChangesNothing) {
  torch::manual_seed(2);
  TinyBackbone model;
  const torch::Tensor x = torch::randn({2, 3, 16, 16});
  torch::NoGradGuard no_grad;
  const torch::Tensor plain = model.forward(x);
  auto recorder = std::make_shared<FeatureRecorder>(QuantizedLayerNames(model));
  model.set_layer_hooks(recorder);
  EXPECT_TRUE(torch::equal(model.forward(x), plain));
  model.set_layer_hooks(nullptr);
  std::vector<std::string> sites;
  for (const auto& [site, value] : recorder->features()) sites.push_back(site);
  EXPECT_EQ(sites,
            (std::vector<std::string>{"block/residual", "block/shortcut", "conv1", "conv2", "fc"}));
  EXPECT_TRUE(torch::equal(recorder->features().at("conv1"), x));
  // The student's tap sees the same sites.
  auto hooks = FakeQuantHooks::Attach(model, {});
  ASSERT_TRUE(hooks.ok());
  std::vector<std::string> tapped;
  (*hooks)->set_tap([&](const std::string& site, const torch::Tensor&) { tapped.push_back(site); });
  model.forward(x);
  std::sort(tapped.begin(), tapped.end());
  EXPECT_EQ(tapped, sites);
}

// Feature distillation trains as well as the embedding loss alone, reports
// its loss, and leaves neither the teacher's recorder nor the student's tap
// behind.
TEST_F(ThreeBitStudentTest, FeatureLossTrainsAndUninstallsItsTaps) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  options.feature_loss_weight = 0.1;
  const torch::Device cpu(torch::kCPU);
  const absl::StatusOr<QatReport> report = RunQat(teacher, student, *hooks, train, options, cpu);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->last_loss, report->first_loss);
  EXPECT_EQ(teacher.layer_hooks(), nullptr);
  EXPECT_FALSE(hooks->has_tap());
  EXPECT_NE(QatOptionsToJson(options)["loss"].get<std::string>().find("0.1 * mean over"),
            std::string::npos);

  // A teacher that already has hooks is refused, not silently rewired.
  teacher.set_layer_hooks(
      std::make_shared<FeatureRecorder>(std::map<const torch::nn::Module*, std::string>{}));
  const absl::StatusOr<QatReport> refused = RunQat(teacher, student, *hooks, train, options, cpu);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  teacher.set_layer_hooks(nullptr);
}

// The pair loss trains alongside the embedding loss and is named in the
// report.
TEST_F(ThreeBitStudentTest, PairLossTrains) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  options.pair_loss_weight = 2.0;
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->last_loss, report->first_loss);
  EXPECT_NE(QatOptionsToJson(options)["loss"].get<std::string>().find("2 * mean over pairs"),
            std::string::npos);
}

// AdamW (not the paper's optimizer) trains the same student, starts from
// its own default rate and is named in the report, which then leaves out
// SGD's momentum.
TEST_F(ThreeBitStudentTest, AdamTrainsAndIsNamedInTheReport) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  options.optimizer = QatOptimizer::kAdam;
  options.learning_rate = 0.01;
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->last_loss, report->first_loss * 0.8);
  const nlohmann::json json = QatOptionsToJson(options);
  EXPECT_EQ(json["optimizer"], "adamw (not the paper's)");
  EXPECT_DOUBLE_EQ(json["learning_rate"].get<double>(), 0.01);
  EXPECT_FALSE(json.contains("momentum"));

  options.learning_rate = 0;
  EXPECT_DOUBLE_EQ(BaseLearningRate(options), kAdamDefaultLearningRate);
  options.optimizer = QatOptimizer::kSgd;
  EXPECT_DOUBLE_EQ(BaseLearningRate(options), 0.1 * 16 / 512);
  EXPECT_EQ(QatOptionsToJson(options)["optimizer"], "sgd");
  EXPECT_EQ(QatOptionsToJson(options)["momentum"], 0.9);
}

// An AdamW run checkpoints its moment estimates like SGD's momentum and
// resumes from them.
TEST_F(ThreeBitStudentTest, AdamRunResumesFromItsCheckpoint) {
  const std::string path = ::testing::TempDir() + "/adam_resume_test.ckpt";
  std::filesystem::remove(path);
  QatOptions options = ShortRun();
  options.optimizer = QatOptimizer::kAdam;
  options.learning_rate = 0.01;
  options.steps = 12;
  options.checkpoint_path = path;
  options.checkpoint_every = 5;
  int64_t stop_after = 7;
  options.should_stop = [&] { return stop_after-- == 0; };
  synth::NoiseSource train(teacher.spec().input, 8);
  const absl::StatusOr<QatReport> stopped =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);

  options.should_stop = nullptr;
  const absl::StatusOr<QatReport> resumed =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from_step, 5);
  std::filesystem::remove(path);
}

TEST(QatOptimizerTest, NamesRoundTripAndUnknownNamesAreRefused) {
  for (const QatOptimizer optimizer : {QatOptimizer::kSgd, QatOptimizer::kAdam}) {
    const absl::StatusOr<QatOptimizer> parsed = ParseQatOptimizer(QatOptimizerName(optimizer));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, optimizer);
  }
  const absl::StatusOr<QatOptimizer> unknown = ParseQatOptimizer("rmsprop");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("rmsprop"), std::string::npos);
}

// Every run reports its layers' oscillations (all three are at 3 bits);
// the 3-bit student at this rate reverses some weights. With freezing on,
// the threshold follows its schedule and some weights freeze, and the run
// ends with every frozen weight baked in and nothing tracked.
TEST_F(ThreeBitStudentTest, QatReportsOscillationsAndFreezesWhenAsked) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  absl::StatusOr<QatReport> report = RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->oscillations.size(), 3u);
  int64_t weights = 0;
  int64_t reversals = 0;
  for (const auto& layer : report->oscillations) {
    weights += layer.counts.weights;
    reversals += layer.counts.reversals;
    EXPECT_EQ(layer.counts.frozen, 0) << layer.name;
  }
  EXPECT_EQ(weights, 8 * 3 * 9 + 8 * 8 * 9 + 8 * TinyBackbone::kDim);
  EXPECT_GT(reversals, 0);
  const nlohmann::json json = OscillationsToJson(report->oscillations);
  EXPECT_EQ(json["all"]["weights"], weights);
  EXPECT_FALSE(json.contains("depthwise"));  // TinyBackbone has none.
  EXPECT_EQ(json["layers"].size(), 3u);
  EXPECT_FALSE(QatOptionsToJson(options).contains("oscillation_freezing"));

  options.oscillation_freeze_threshold = 0.02;
  EXPECT_DOUBLE_EQ(FreezeThresholdAt(options, options.warmup_steps - 1), 0.0);
  EXPECT_NEAR(FreezeThresholdAt(options, options.warmup_steps), 0.2, 1e-12);
  EXPECT_NEAR(FreezeThresholdAt(options, options.steps), 0.02, 1e-12);
  report = RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  ASSERT_TRUE(report.ok()) << report.status();
  int64_t frozen = 0;
  for (const auto& layer : report->oscillations) frozen += layer.counts.frozen;
  EXPECT_GT(frozen, 0);
  for (const auto* layer : hooks->layers()) EXPECT_EQ(layer->oscillations, nullptr);
  EXPECT_EQ(QatOptionsToJson(options)["oscillation_freezing"]["final_threshold"], 0.02);

  options.oscillation_freeze_threshold = 0.1;  // Would start at 1: nothing could freeze.
  EXPECT_EQ(RunQat(teacher, student, *hooks, train, options, torch::kCPU).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A run with a quantization drop trains on forwards in which part of each
// activation is in full precision, says so in its options' JSON, and leaves
// the hooks quantizing every element; a probability outside [0, 1) is
// refused.
TEST_F(ThreeBitStudentTest, QuantizationDropIsActiveOnlyDuringTheRun) {
  const std::string site = "block/residual";
  double largest_off_grid_share = 0;
  hooks->set_tap([&](const std::string& name, const torch::Tensor& values) {
    if (name != site) return;  // The site exists once its operand was seen.
    const ActivationQuantizer& quantizer = *hooks->add_operands().at(site);
    if (quantizer.observing()) return;
    largest_off_grid_share =
        std::max(largest_off_grid_share, testing::OffGridShare(quantizer, values));
  });
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  options.quantization_drop = 0.3;
  ASSERT_TRUE(RunQat(teacher, student, *hooks, train, options, torch::kCPU).ok());
  EXPECT_GT(largest_off_grid_share, 0.2);
  EXPECT_EQ(hooks->quantization_drop(), 0.0);
  EXPECT_EQ(QatOptionsToJson(options)["quantization_drop"]["probability"], 0.3);
  EXPECT_FALSE(QatOptionsToJson(ShortRun()).contains("quantization_drop"));

  largest_off_grid_share = 0;
  student.forward(train.NextBatch(4)).sum().backward();  // A training forward.
  EXPECT_EQ(largest_off_grid_share, 0.0);

  for (double probability : {-0.1, 1.0}) {
    options.quantization_drop = probability;
    const absl::Status status =
        RunQat(teacher, student, *hooks, train, options, torch::kCPU).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << probability;
    EXPECT_NE(status.message().find("quantization drop"), std::string::npos);
  }
}

// A student with the teacher's weights and no hooks is the teacher:
// cosine 1; quantized to 3 bits it is not; the teacher's spread is that of
// its own embeddings; a count or batch of 0 is refused.
TEST_F(ThreeBitStudentTest, EmbeddingCosineIsOneForTheTeacherAndLowerForItsStudent) {
  synth::NoiseSource source(teacher.spec().input, 5);
  const torch::Device cpu(torch::kCPU);
  ASSERT_TRUE(CalibratePtq(student, *hooks, source, {16, 8, {}, {}}, cpu).ok());
  const absl::StatusOr<EmbeddingAgreement> quantized =
      MeasureEmbeddingAgreement(teacher, student, source, 10, 4, cpu);
  ASSERT_TRUE(quantized.ok()) << quantized.status();
  EXPECT_LT(quantized->mean_cosine, 0.9999);
  EXPECT_GT(quantized->mean_cosine, 0.0);
  const absl::StatusOr<EmbeddingAgreement> same =
      MeasureEmbeddingAgreement(teacher, teacher, source, 10, 4, cpu);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_NEAR(same->mean_cosine, 1.0, 1e-5);
  // Over one epoch of a set, in whatever order, the spread is that of the
  // teacher's embeddings of the set.
  const torch::Tensor images = synth::NoiseSource(teacher.spec().input, 9).NextBatch(10);
  synth::TensorSetSource set(images, nlohmann::json::object(), 1, /*mirror=*/false);
  const absl::StatusOr<EmbeddingAgreement> on_set =
      MeasureEmbeddingAgreement(teacher, student, set, 10, 4, cpu);
  ASSERT_TRUE(on_set.ok()) << on_set.status();
  torch::NoGradGuard no_grad;
  const absl::StatusOr<double> spread = eval::MeanPairwiseCosine(teacher.forward(images));
  ASSERT_TRUE(spread.ok()) << spread.status();
  EXPECT_NEAR(on_set->teacher_mean_pairwise_cosine, *spread, 1e-6);
  EXPECT_LT(*spread, 0.9999);  // Not one direction: the check can tell.
  EXPECT_TRUE(std::isnan(MeasureEmbeddingAgreement(teacher, student, source, 1, 4, cpu)
                             ->teacher_mean_pairwise_cosine));
  EXPECT_EQ(MeasureEmbeddingAgreement(teacher, student, source, 0, 4, cpu).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeasureEmbeddingAgreement(teacher, student, source, 4, 0, cpu).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The rounding choices LearnedRoundingRun(regularization, 1) leaves
// between levels when it decides them, for a fresh 3-bit student of
// `teacher`.
int64_t SoftWhenDecided(TinyBackbone& teacher, double regularization) {
  TinyBackbone student;
  absl::StatusOr<std::shared_ptr<FakeQuantHooks>> hooks = AttachThreeBitStudent(teacher, student);
  EXPECT_TRUE(hooks.ok()) << hooks.status();
  if (!hooks.ok()) return -1;
  synth::NoiseSource train(teacher.spec().input, 8);
  const absl::StatusOr<QatReport> report = RunQat(
      teacher, student, **hooks, train, LearnedRoundingRun(regularization, 1.0), torch::kCPU);
  EXPECT_TRUE(report.ok()) << report.status();
  if (!report.ok()) return -1;
  RoundingCounts counts;
  for (const auto& layer : report->rounding) counts += layer.counts;
  return counts.undecided;
}

// With learned rounding the 3-bit student's rounding trains after the
// warm-up: the run ends with its choices decided, some of them away from
// nearest rounding, baked into the latent weights on grids that no longer
// move; the regularizer leaves fewer of them soft when they are decided.
TEST_F(ThreeBitStudentTest, QatLearnsRoundingAndDecidesEveryChoice) {
  synth::NoiseSource train(teacher.spec().input, 8);
  const QatOptions options = LearnedRoundingRun(/*regularization=*/1.0, /*share=*/1.0);
  EXPECT_EQ(RoundingEndStep(options), options.steps);
  EXPECT_DOUBLE_EQ(RoundingBetaAt(options, options.warmup_steps + 6), 0.0);  // Free: 20 %.
  EXPECT_NEAR(RoundingBetaAt(options, options.warmup_steps + 7), 20.0, 1e-9);
  EXPECT_NEAR(RoundingBetaAt(options, options.steps - 1), 2.0 + 18.0 / 28.0, 1e-9);
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(report->last_loss, report->first_loss);
  ASSERT_EQ(report->rounding.size(), 3u);
  EXPECT_TRUE(report->oscillations.empty());  // Rounding replaced tracking.
  int64_t away = 0;
  int64_t soft = 0;
  for (const auto& layer : report->rounding) {
    away += layer.counts.away_from_nearest;
    soft += layer.counts.undecided;
  }
  EXPECT_GT(away, 0);
  for (const auto* layer : hooks->layers()) {
    EXPECT_EQ(layer->rounding, nullptr);
    ASSERT_TRUE(layer->frozen_weight_params.has_value());
  }
  // Every latent weight lies on its stored grid.
  auto parameters = student.named_parameters();
  for (const char* name : {"conv1", "conv2", "fc"}) {
    const torch::Tensor weight = parameters[std::string(name) + ".weight"];
    const AffineParams& grid = *hooks->mutable_layer(name)->frozen_weight_params;
    EXPECT_TRUE(torch::allclose(
        torch::fake_quantize_per_channel_affine(weight, grid.scale, grid.zero_point, 0, 0, 7),
        weight, 0, 1e-6))
        << name;
  }
  const nlohmann::json json = RoundingToJson(report->rounding);
  EXPECT_EQ(json["all"]["away_from_nearest"], away);
  EXPECT_EQ(json["all"]["soft_when_decided"], soft);
  // 131 against 821 of the 920 choices when written.
  EXPECT_LT(2 * SoftWhenDecided(teacher, 1.0), SoftWhenDecided(teacher, 0.0));
  EXPECT_FALSE(json.contains("depthwise"));
  EXPECT_EQ(QatOptionsToJson(options)["learned_rounding"]["layers"], "all");
}

// With a share under 1 the choices are decided part way, and the remaining
// steps train the whole student against them: the decided layers' latent
// weights move on, quantized on their kept grids.
TEST_F(ThreeBitStudentTest, LearnedRoundingDecidesPartWayAndTrainsOn) {
  synth::NoiseSource train(teacher.spec().input, 8);
  const QatOptions options = LearnedRoundingRun(/*regularization=*/1.0, /*share=*/0.5);
  EXPECT_EQ(RoundingEndStep(options), 5 + 18);  // 0.5 * 35 rounds to 18.
  EXPECT_DOUBLE_EQ(RoundingBetaAt(options, RoundingEndStep(options)), 0.0);
  torch::Tensor decided;
  const absl::StatusOr<QatReport> report =
      RunQat(teacher, student, *hooks, train, options, torch::kCPU, [&](const QatProgress& p) {
        if (p.step == RoundingEndStep(options) + 1) {
          decided = student.named_parameters()["conv2.weight"].detach().clone();
        }
      });
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->rounding.size(), 3u);
  for (const auto* layer : hooks->layers()) {
    EXPECT_EQ(layer->rounding, nullptr);
    EXPECT_TRUE(layer->frozen_weight_params.has_value());
  }
  ASSERT_TRUE(decided.defined());
  EXPECT_FALSE(torch::equal(decided, student.named_parameters()["conv2.weight"]));
  EXPECT_EQ(QatOptionsToJson(options)["learned_rounding"]["decided_at_step"], 23);
}

TEST_F(ThreeBitStudentTest, LearnedRoundingRefusesWhatItCannotDo) {
  synth::NoiseSource train(teacher.spec().input, 8);
  QatOptions options = ShortRun();
  options.learned_rounding = RoundingLayers::kDepthwise;  // TinyBackbone has none.
  EXPECT_EQ(RunQat(teacher, student, *hooks, train, options, torch::kCPU).status().code(),
            absl::StatusCode::kFailedPrecondition);
  options.learned_rounding = RoundingLayers::kAll;
  options.checkpoint_path = ::testing::TempDir() + "/rounding.ckpt";
  options.checkpoint_every = 10;
  EXPECT_EQ(RunQat(teacher, student, *hooks, train, options, torch::kCPU).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.checkpoint_path.clear();
  options.rounding_share = 0;
  EXPECT_EQ(RunQat(teacher, student, *hooks, train, options, torch::kCPU).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.rounding_share = 0.25;
  options.warmup_steps = options.steps;
  EXPECT_EQ(RunQat(teacher, student, *hooks, train, options, torch::kCPU).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRoundingLayers("depthwise").value(), RoundingLayers::kDepthwise);
  EXPECT_STREQ(RoundingLayersName(RoundingLayers::kNone), "none");
  EXPECT_EQ(ParseRoundingLayers("some").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunQatTest, RejectsMismatchedModels) {
  TinyBackbone student;
  testing::UnhookableBackbone teacher;
  auto hooks = FakeQuantHooks::Attach(student, {});
  ASSERT_TRUE(hooks.ok());
  synth::NoiseSource source(student.spec().input, 1);
  EXPECT_FALSE(RunQat(teacher, student, **hooks, source, {}, torch::kCPU).ok());
}

}  // namespace
}  // namespace qf::quant
