// RunQuantizeJob's checks of the training source, which must refuse a job
// before it loads or generates any training data.
#include "core/quant/quantize_job.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/nn/dlib_resnet.h"
#include "core/nn/model_zoo.h"
#include "core/quant/packed_model.h"
#include "core/synth/tensor_set_source.h"
#include "tests/unit/nn/test_assets.h"

namespace qf::quant {
namespace {

QuantizeJobConfig DlibResnetJob(const std::string& source) {
  QuantizeJobConfig config;
  config.teacher = "dlib-resnet";
  config.asset_dir = nn::testing::AssetDir();
  config.bits = {4, 4};
  config.source = source;
  // A job these checks let through calibrates on four images and ends, so a
  // missing check fails the test quickly instead of training for minutes.
  config.method = QuantMethod::kPtq;
  config.ptq.num_images = 4;
  config.ptq.batch_size = 4;
  return config;
}

TEST(QuantizeJobTest, UnknownSourceIsRefusedWithTheAcceptedNames) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  const auto result = RunQuantizeJob(DlibResnetJob("webcam"), nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("unknown source 'webcam'"), std::string::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("inverted-faces"), std::string::npos) << result.status();
}

TEST(QuantizeJobTest, AugmentationIsRefusedForSourcesThatMakeNewImagesEveryBatch) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  for (const std::string source : {"noise", "procedural", "procedural+noise", "generator"}) {
    QuantizeJobConfig config = DlibResnetJob(source);
    config.augmentation = synth::FaceViewAugmentation();
    const auto result = RunQuantizeJob(config, nullptr);
    ASSERT_FALSE(result.ok()) << source;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << source;
    EXPECT_NE(result.status().message().find("augmentation applies to the sources builtin"),
              std::string::npos)
        << result.status();
  }
}

TEST(QuantizeJobTest, BlendBoundOutsideZeroToHalfIsRefused) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  for (const double bound : {-0.1, 0.6}) {
    QuantizeJobConfig config = DlibResnetJob("inverted-faces");
    config.augmentation.max_blend = bound;
    const auto result = RunQuantizeJob(config, nullptr);
    ASSERT_FALSE(result.ok()) << bound;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << bound;
    EXPECT_NE(result.status().message().find("blend weight bound must be in [0, 0.5]"),
              std::string::npos)
        << result.status();
  }
}

TEST(QuantizeJobTest, NegativeSyntheticEvalImagesAreRefused) {
  QuantizeJobConfig config = DlibResnetJob("noise");
  config.synthetic_eval_images = -1;
  const auto result = RunQuantizeJob(config, nullptr);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_NE(result.status().message().find("synthetic_eval_images"), std::string::npos);
}

// A job asked to measure its student on the training source reports the
// mean cosine over that many images; a 4-bit student is close to its
// teacher there but not equal.
TEST(QuantizeJobTest, AJobMeasuresItsStudentOnTheTrainingSourceWhenAsked) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  QuantizeJobConfig config = DlibResnetJob("procedural");
  config.synthetic_eval_images = 6;  // One batch of 32 would do; 6 checks the count.
  const auto job = RunQuantizeJob(config, nullptr);
  ASSERT_TRUE(job.ok()) << job.status();
  const nlohmann::json& eval = job->report["synthetic_eval"];
  EXPECT_EQ(eval["training"]["images"], 6);
  EXPECT_EQ(eval["training"]["new_images"], true);  // Rendered faces are new every batch.
  const double cosine = eval["training"]["mean_teacher_student_cosine"].get<double>();
  EXPECT_GT(cosine, 0.5);
  EXPECT_LT(cosine, 0.9999);
  // dlib-resnet sees rendered faces as much alike (0.93 over 16), not as one.
  const double spread = eval["training"]["teacher_mean_pairwise_cosine"].get<double>();
  EXPECT_GT(spread, 0.5);
  EXPECT_LT(spread, 0.999);
  EXPECT_FALSE(eval.contains("held_out"));  // Only generated sets have one.
  config.synthetic_eval_images = 0;
  const auto without = RunQuantizeJob(config, nullptr);
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE(without->report.contains("synthetic_eval"));
}

// A generated set is measured on its own images, at most as many as it
// has, and on a held-out set generated alike with another seed (cached).
TEST(QuantizeJobTest, AGeneratedSetIsMeasuredOnItsImagesAndOnAHeldOutSet) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  const std::string cache = ::testing::TempDir() + "/qf-synthetic-eval-cache";
  std::filesystem::remove_all(cache);
  QuantizeJobConfig config = DlibResnetJob("builtin");
  config.cache_dir = cache;
  config.inversion.num_images = 4;
  config.inversion.batch_size = 4;
  config.inversion.steps = 1;
  config.synthetic_eval_images = 8;
  const auto job = RunQuantizeJob(config, nullptr);
  ASSERT_TRUE(job.ok()) << job.status();
  const nlohmann::json& eval = job->report["synthetic_eval"];
  EXPECT_EQ(eval["training"]["images"], 4);
  EXPECT_FALSE(eval["training"].contains("new_images"));
  ASSERT_TRUE(eval.contains("held_out"));
  EXPECT_EQ(eval["held_out"]["images"], 8);
  EXPECT_EQ(eval["held_out"]["seed"], config.seed + kHeldOutSeedOffset);
  EXPECT_EQ(eval["held_out"]["cache_hit"], false);
  for (const char* part : {"training", "held_out"}) {
    const double cosine = eval[part]["mean_teacher_student_cosine"].get<double>();
    EXPECT_GT(cosine, 0.5) << part;
    EXPECT_LT(cosine, 0.9999) << part;
    const double spread = eval[part]["teacher_mean_pairwise_cosine"].get<double>();
    EXPECT_GT(spread, -1.0) << part;
    EXPECT_LT(spread, 0.999) << part;
  }
  const auto again = RunQuantizeJob(config, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->report["synthetic_eval"]["held_out"]["cache_hit"], true);
  std::filesystem::remove_all(cache);
}

TEST(QuantizeJobTest, ColorJitterBoundOutsideItsRangeIsRefused) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  for (const double bound : {-0.1, 0.95}) {
    QuantizeJobConfig config = DlibResnetJob("inverted-faces");
    config.augmentation.max_color_jitter = bound;
    const auto result = RunQuantizeJob(config, nullptr);
    ASSERT_FALSE(result.ok()) << bound;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << bound;
    EXPECT_NE(result.status().message().find("colour jitter bound must be in [0, 0.9]"),
              std::string::npos)
        << result.status();
  }
}

TEST(QuantizeJobTest, DownscaleBoundOutsideItsRangeIsRefused) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  // Below 1 would enlarge, 0 would divide by zero, past 8 no face is left.
  for (const double bound : {0.0, 0.5, 9.0, std::nan("")}) {
    QuantizeJobConfig config = DlibResnetJob("inverted-faces");
    config.augmentation.max_downscale = bound;
    const auto result = RunQuantizeJob(config, nullptr);
    ASSERT_FALSE(result.ok()) << bound;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << bound;
    EXPECT_NE(result.status().message().find("downscale factor bound must be in [1, 8]"),
              std::string::npos)
        << result.status();
  }
}

TEST(QuantizeJobTest, AugmentationPassesTheSourceCheckForAnImageSet) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  // A folder that is not declared synthetic: the job fails on that, after the
  // augmentation check let it through.
  QuantizeJobConfig config = DlibResnetJob("folder");
  config.folder = ::testing::TempDir();
  config.augmentation = synth::FaceViewAugmentation();
  const auto result = RunQuantizeJob(config, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_NE(result.status().message().find("not declared synthetic"), std::string::npos)
      << result.status();
}

TEST(QuantizeJobTest, GetOrGenerateSetMakesASetOnceAndReadsItFromTheCacheAfter) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  QuantizeJobConfig config = DlibResnetJob("inverted-faces");
  config.inversion.num_images = 4;
  config.inversion.batch_size = 4;
  config.inversion.steps = 1;
  config.cache_dir = ::testing::TempDir() + "/qf-generated-set-cache";
  std::filesystem::remove_all(config.cache_dir);
  absl::StatusOr<std::shared_ptr<nn::Backbone>> teacher =
      nn::LoadBuiltinModel(config.teacher, config.asset_dir);
  ASSERT_TRUE(teacher.ok()) << teacher.status();

  int64_t last_done = -1;
  const auto generated = GetOrGenerateSet(config, **teacher, torch::kCPU,
                                          [&](const JobProgress& p) { last_done = p.done; });
  ASSERT_TRUE(generated.ok()) << generated.status();
  EXPECT_FALSE(generated->cache_hit);
  EXPECT_EQ(generated->images.sizes(), (std::vector<int64_t>{4, 3, 150, 150}));
  EXPECT_EQ(generated->spec["start"]["kind"], "procedural-faces") << generated->spec.dump();
  EXPECT_EQ(last_done, 4);

  const auto cached = GetOrGenerateSet(config, **teacher, torch::kCPU);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_TRUE(cached->cache_hit);
  EXPECT_EQ(cached->spec, generated->spec);
  EXPECT_TRUE(torch::equal(cached->images, generated->images));
  std::filesystem::remove_all(config.cache_dir);
}

TEST(QuantizeJobTest, GetOrGenerateSetRefusesSourcesThatAreNotGenerated) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  const QuantizeJobConfig config = DlibResnetJob("folder");
  absl::StatusOr<std::shared_ptr<nn::Backbone>> teacher =
      nn::LoadBuiltinModel(config.teacher, config.asset_dir);
  ASSERT_TRUE(teacher.ok()) << teacher.status();
  const auto refused = GetOrGenerateSet(config, **teacher, torch::kCPU);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("source 'folder' is not generated"), std::string::npos)
      << refused.status();
}

// Progressive quantization: a w4a4 job starts from the weights of a w4a8
// student of its teacher; a student of another teacher is refused before
// the job makes or reads any training data.
TEST(QuantizeJobTest, AJobStartsFromAStudentOfItsTeacherAndRefusesOthers) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  const std::string dir = ::testing::TempDir() + "/qf-init-student";
  std::filesystem::create_directories(dir);
  QuantizeJobConfig first = DlibResnetJob("noise");
  first.bits = {4, 8};
  first.keep_first_last_8bit = true;
  const auto earlier = RunQuantizeJob(first, nullptr);
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  const std::string path = dir + "/w4a8.qfp";
  ASSERT_TRUE(WritePackedModel(path, *earlier->student, *earlier->hooks, earlier->report).ok());

  QuantizeJobConfig second = DlibResnetJob("noise");
  second.keep_first_last_8bit = true;
  second.init_student_path = path;
  const auto progressive = RunQuantizeJob(second, nullptr);
  ASSERT_TRUE(progressive.ok()) << progressive.status();
  EXPECT_EQ(progressive->report["bits"], "w4a4");
  EXPECT_EQ(progressive->report["initialized_from"]["bits"], "w4a8");
  EXPECT_EQ(progressive->report["initialized_from"]["path"], path);
  // PTQ leaves the weights as they started: the w4a8 student's.
  const auto packed = LoadPackedModel(path);
  ASSERT_TRUE(packed.ok()) << packed.status();
  const auto started = progressive->student->named_parameters();
  const auto stored = packed->model->named_parameters();
  const auto teacher = progressive->teacher->named_parameters();
  for (const FakeQuantHooks::Layer* layer : packed->hooks->layers()) {
    const std::string name = layer->name + ".weight";
    EXPECT_TRUE(torch::equal(started[name], stored[name])) << name;
    EXPECT_FALSE(torch::equal(started[name], teacher[name])) << name;
  }

  nlohmann::json other_report = earlier->report;
  other_report["teacher"]["id"] = "dlib-resnet@sha256:another-teacher";
  const std::string other = dir + "/other-teacher.qfp";
  ASSERT_TRUE(WritePackedModel(other, *earlier->student, *earlier->hooks, other_report).ok());
  // A folder never declared synthetic: had the job got as far as its
  // source, it would fail on that instead.
  QuantizeJobConfig refused = DlibResnetJob("folder");
  refused.folder = dir;
  refused.init_student_path = other;
  const auto result = RunQuantizeJob(refused, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("is a student of dlib-resnet@sha256:another-teacher"),
            std::string::npos)
      << result.status();
  std::filesystem::remove_all(dir);
}

TEST(QuantizeJobTest, AnEqualizedJobScalesTheStudentsStreamAndRecordsIt) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  QuantizeJobConfig config = DlibResnetJob("noise");
  config.keep_first_last_8bit = true;
  config.residual_stream_equalization = 0.5;
  const auto job = RunQuantizeJob(config, nullptr);
  ASSERT_TRUE(job.ok()) << job.status();
  const nlohmann::json& equalization = job->report["residual_stream_equalization"];
  EXPECT_EQ(equalization["strength"], 0.5);
  EXPECT_EQ(equalization["images"], kEqualizationImages);
  EXPECT_GE(equalization["min_factor"].get<double>(), 1.0 - 1e-6);
  EXPECT_GT(equalization["max_factor"].get<double>(), equalization["min_factor"].get<double>());
  // The student's stream readers differ from the teacher's; the teacher,
  // kept for evaluation, is the built-in model as loaded.
  auto student = job->student->named_parameters();
  auto teacher = job->teacher->named_parameters();
  EXPECT_FALSE(torch::allclose(student["conv64_1_conv1.weight"], teacher["conv64_1_conv1.weight"]));
  const auto fresh = nn::LoadBuiltinModel("dlib-resnet", nn::testing::AssetDir());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(torch::equal((*fresh)->named_parameters()["fc.weight"], teacher["fc.weight"]));

  config.init_student_path = "/nonexistent/student.qfp";
  const auto combined = RunQuantizeJob(config, nullptr);
  EXPECT_EQ(combined.status().code(), absl::StatusCode::kInvalidArgument) << combined.status();
}

}  // namespace
}  // namespace qf::quant
