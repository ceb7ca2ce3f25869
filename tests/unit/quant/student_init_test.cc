// InitializeFromStudent: a job's student starts from an earlier student's
// weights only when that student was made from the same teacher.
#include "core/quant/student_init.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "core/nn/dlib_resnet.h"
#include "core/quant/distiller.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/packed_model.h"
#include "core/quant/quantize_job.h"
#include "core/synth/noise_source.h"
#include "core/util/sha256.h"

namespace qf::quant {
namespace {
namespace fs = std::filesystem;

// A randomly initialized dlib-resnet with `source`'s weights.
std::shared_ptr<nn::DlibResnet> CopyOf(nn::DlibResnet& source) {
  auto copy = std::make_shared<nn::DlibResnet>();
  torch::NoGradGuard no_grad;
  auto to = copy->named_parameters();
  for (const auto& item : source.named_parameters()) to[item.key()].copy_(item.value());
  copy->eval();
  return copy;
}

class StudentInitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(11);
    dir_ = fs::temp_directory_path() / ("qf_student_init_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    teacher_ = std::make_shared<nn::DlibResnet>();
    teacher_->eval();
    teacher_id_ = TeacherId(*teacher_);
    // An earlier w4a8 student of this teacher, calibrated (PTQ) on noise.
    earlier_ = CopyOf(*teacher_);
    FakeQuantOptions options;
    options.bits = {4, 8};
    options.keep_first_last_8bit = true;
    auto hooks = FakeQuantHooks::Attach(*earlier_, options);
    ASSERT_TRUE(hooks.ok()) << hooks.status();
    hooks_ = *hooks;
    synth::NoiseSource noise(earlier_->spec().input, 1);
    ASSERT_TRUE(CalibratePtq(*earlier_, *hooks_, noise, {4, 2, {}, {}}, torch::kCPU).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The earlier student written with `metadata`; returns its path.
  std::string Write(const std::string& name, const nlohmann::json& metadata) {
    const std::string path = (dir_ / name).string();
    EXPECT_TRUE(WritePackedModel(path, *earlier_, *hooks_, metadata).ok());
    return path;
  }

  fs::path dir_;
  std::shared_ptr<nn::DlibResnet> teacher_;
  std::string teacher_id_;
  std::shared_ptr<nn::DlibResnet> earlier_;
  std::shared_ptr<FakeQuantHooks> hooks_;
};

TEST_F(StudentInitTest, CopiesEveryQuantizedLayerOfAStudentOfTheSameTeacher) {
  const std::string path = Write("w4a8.qfp", {{"teacher", {{"id", teacher_id_}}}});
  const auto packed = LoadPackedModel(path);
  ASSERT_TRUE(packed.ok()) << packed.status();
  auto student = CopyOf(*teacher_);
  const auto initialized = InitializeFromStudent(path, teacher_id_, *student);
  ASSERT_TRUE(initialized.ok()) << initialized.status();
  EXPECT_EQ((*initialized)["path"], path);
  EXPECT_EQ((*initialized)["bits"], "w4a8");
  EXPECT_EQ((*initialized)["layers"].get<size_t>(), packed->hooks->layers().size());
  EXPECT_EQ((*initialized)["sha256"], *Sha256HexOfFile(path));
  const auto from = packed->model->named_parameters();
  const auto to = student->named_parameters();
  const auto teacher = teacher_->named_parameters();
  int differs_from_teacher = 0;
  for (const FakeQuantHooks::Layer* layer : packed->hooks->layers()) {
    const std::string name = layer->name + ".weight";
    EXPECT_TRUE(torch::equal(to[name], from[name])) << name;
    if (!torch::equal(to[name], teacher[name])) ++differs_from_teacher;
    const std::string bias = layer->name + ".bias";
    if (from.contains(bias)) {
      EXPECT_TRUE(torch::equal(to[bias], from[bias])) << bias;
    }
  }
  // The stored weights are on the 4-bit (and 8-bit) grids, not the teacher's.
  EXPECT_EQ(differs_from_teacher, static_cast<int>(packed->hooks->layers().size()));
}

TEST_F(StudentInitTest, RefusesAStudentOfAnotherTeacherAndLeavesTheWeights) {
  const std::string path =
      Write("other.qfp", {{"teacher", {{"id", "dlib-resnet@sha256:0123456789abcdef"}}}});
  auto student = CopyOf(*teacher_);
  const auto initialized = InitializeFromStudent(path, teacher_id_, *student);
  ASSERT_FALSE(initialized.ok());
  EXPECT_EQ(initialized.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(initialized.status().message().find("is a student of dlib-resnet@sha256:0123"),
            std::string::npos)
      << initialized.status();
  const auto teacher = teacher_->named_parameters();
  for (const auto& item : student->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), teacher[item.key()])) << item.key();
  }
}

TEST_F(StudentInitTest, RefusesAFileThatRecordsNoTeacher) {
  const std::string path = Write("anonymous.qfp", {{"note", "no teacher here"}});
  auto student = CopyOf(*teacher_);
  const auto initialized = InitializeFromStudent(path, teacher_id_, *student);
  ASSERT_FALSE(initialized.ok());
  EXPECT_EQ(initialized.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(initialized.status().message().find("records no teacher"), std::string::npos)
      << initialized.status();
}

TEST_F(StudentInitTest, MissingAndCorruptFilesKeepTheLoadersErrors) {
  auto student = CopyOf(*teacher_);
  const auto missing =
      InitializeFromStudent((dir_ / "missing.qfp").string(), teacher_id_, *student);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  const std::string path = Write("corrupt.qfp", {{"teacher", {{"id", teacher_id_}}}});
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x7f');
  }
  const auto corrupt = InitializeFromStudent(path, teacher_id_, *student);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss) << corrupt.status();
}

}  // namespace
}  // namespace qf::quant
