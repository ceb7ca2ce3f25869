#include "core/quant/integer_lfw_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/eval/lfw_dataset.h"
#include "core/nn/dlib_resnet.h"
#include "core/quant/distiller.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/synth/noise_source.h"

namespace qf::quant {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Twelve LFW pairs: three matched and three mismatched of folds 1 and 2.
eval::LfwDataset TinyLfw() {
  absl::StatusOr<eval::LfwDataset> full =
      eval::LoadLfwDataset(std::string(QF_SHARED_DIR) + "/data/lfw");
  EXPECT_TRUE(full.ok()) << full.status();
  eval::LfwDataset tiny = *full;
  tiny.pairs.clear();
  for (const size_t start : {0, 300, 600, 900}) {
    for (size_t i = start; i < start + 3; ++i) tiny.pairs.push_back(full->pairs[i]);
  }
  return tiny;
}

// A teacher and its w8a8 fake-quant student (the same random weights),
// calibrated on noise.
struct TeacherAndStudent {
  nn::DlibResnet teacher;
  nn::DlibResnet student;
  std::shared_ptr<FakeQuantHooks> hooks;
};

std::unique_ptr<TeacherAndStudent> MakeStudent() {
  auto models = std::make_unique<TeacherAndStudent>();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < models->teacher.parameters().size(); ++i) {
    models->student.parameters()[i].copy_(models->teacher.parameters()[i]);
  }
  FakeQuantOptions options;
  options.bits = {8, 8};
  auto hooks = FakeQuantHooks::Attach(models->student, options);
  EXPECT_TRUE(hooks.ok()) << hooks.status();
  models->hooks = *hooks;
  synth::NoiseSource noise(models->student.spec().input, 1);
  EXPECT_TRUE(
      CalibratePtq(models->student, *models->hooks, noise, {4, 2, {}, {}}, torch::kCPU).ok());
  models->teacher.eval();
  models->student.eval();
  return models;
}

int CountTemporaryModelFiles() {
  int count = 0;
  const std::string prefix = absl::StrCat("qf-integer-eval-", ::getpid(), "-");
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path())) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) ++count;
  }
  return count;
}

TEST(IntegerLfwEvalTest, EvaluatesThePackedStudentOnTheIntegerEngine) {
  const eval::LfwDataset lfw = TinyLfw();
  auto models = MakeStudent();
  absl::StatusOr<IntegerLfwReport> report =
      EvaluateIntegerStudentOnLfw(lfw, models->teacher, models->student, *models->hooks);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->engine.empty());
  // w8a8 of the same weights: the integer embeddings follow the teacher's.
  EXPECT_GT(report->lfw.mean_teacher_student_cosine, 0.99);
  EXPECT_LT(report->lfw.mean_teacher_student_cosine, 1.0 + 1e-6);
  EXPECT_EQ(report->lfw.student.num_pairs, 12);
  EXPECT_EQ(report->lfw.student.folds.size(), 2u);
  EXPECT_EQ(CountTemporaryModelFiles(), 0);  // The packed round-trip file is gone.
}

TEST(IntegerLfwEvalTest, UsesCachedTeacherEmbeddingsWithoutChangingThem) {
  const eval::LfwDataset lfw = TinyLfw();
  auto models = MakeStudent();
  // Cached rows that are not the teacher's: the report must be built on them.
  std::unordered_map<std::string, torch::Tensor> cache;
  for (const eval::LfwPair& pair : lfw.pairs) {
    for (const auto& [name, number] :
         {std::pair(pair.name_a, pair.number_a), std::pair(pair.name_b, pair.number_b)}) {
      cache[lfw.ImagePath(name, number)] = torch::nn::functional::normalize(
          torch::ones({128}), torch::nn::functional::NormalizeFuncOptions().dim(0));
    }
  }
  const size_t cached = cache.size();
  StudentLfwOptions options;
  options.teacher_embeddings = &cache;
  absl::StatusOr<IntegerLfwReport> report =
      EvaluateIntegerStudentOnLfw(lfw, models->teacher, models->student, *models->hooks, options);
  ASSERT_TRUE(report.ok()) << report.status();
  // Every cached "teacher" row is the same vector: all teacher pairs match.
  EXPECT_DOUBLE_EQ(report->lfw.teacher.accuracy_mean, 0.5);
  EXPECT_EQ(cache.size(), cached);
}

TEST(IntegerLfwEvalTest, StopRequestCancels) {
  const eval::LfwDataset lfw = TinyLfw();
  auto models = MakeStudent();
  StudentLfwOptions options;
  options.should_stop = [] { return true; };
  absl::StatusOr<IntegerLfwReport> report =
      EvaluateIntegerStudentOnLfw(lfw, models->teacher, models->student, *models->hooks, options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kCancelled) << report.status();
  EXPECT_EQ(CountTemporaryModelFiles(), 0);
}

// A backbone the integer engine has no forward for.
class OtherBackbone : public nn::Backbone {
 public:
  OtherBackbone() { spec_.architecture = "mobileface"; }
  torch::Tensor forward(torch::Tensor input) override { return input; }
  const nn::ModelSpec& spec() const override { return spec_; }

 private:
  nn::ModelSpec spec_;
};

TEST(IntegerLfwEvalTest, ArchitectureWithoutIntegerForwardIsUnimplemented) {
  auto models = MakeStudent();
  OtherBackbone other;
  absl::StatusOr<IntegerLfwReport> report =
      EvaluateIntegerStudentOnLfw(eval::LfwDataset(), models->teacher, other, *models->hooks);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(report.status().message(), HasSubstr("mobileface"));
}

}  // namespace
}  // namespace qf::quant
