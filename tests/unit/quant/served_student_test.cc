#include "core/quant/served_student.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/nn/dlib_resnet.h"
#include "core/quant/distiller.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/packed_model.h"
#include "core/synth/noise_source.h"

namespace qf::quant {
namespace {
namespace fs = std::filesystem;

// A randomly initialized dlib-resnet, w8a8 on the default (symmetric) grid
// so that it runs on oneDNN, calibrated on noise and packed.
std::string PackedW8A8Student() {
  torch::manual_seed(5);
  nn::DlibResnet model;
  FakeQuantOptions options;
  options.bits = {8, 8};
  auto hooks = FakeQuantHooks::Attach(model, options);
  EXPECT_TRUE(hooks.ok()) << hooks.status();
  synth::NoiseSource noise(model.spec().input, 1);
  EXPECT_TRUE(CalibratePtq(model, **hooks, noise, {4, 2, {}, {}}, torch::kCPU).ok());
  const std::string path =
      (fs::temp_directory_path() / ("served" + std::to_string(::getpid()) + ".qfp")).string();
  EXPECT_TRUE(WritePackedModel(path, model, **hooks, {}).ok());
  return path;
}

double MinCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::nn::functional::cosine_similarity(a, b).min().item<double>();
}

TEST(ServedStudentTest, IntegerWhenAskedElseTheFakeQuantSimulation) {
  const std::string path = PackedW8A8Student();
  const auto integer = LoadServedStudent(path, /*integer=*/true);
  const auto simulated = LoadServedStudent(path, /*integer=*/false);
  const auto packed = LoadPackedModel(path);
  fs::remove(path);
  ASSERT_TRUE(integer.ok()) << integer.status();
  ASSERT_TRUE(simulated.ok()) << simulated.status();
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(integer->forward, "integer (onednn)");
  EXPECT_EQ(integer->engine, "onednn");
  EXPECT_TRUE(integer->fallback_reason.empty());
  EXPECT_EQ(simulated->forward, "fake-quant");
  EXPECT_TRUE(simulated->engine.empty());

  torch::NoGradGuard no_grad;
  torch::manual_seed(9);
  const torch::Tensor faces = torch::randn({2, 3, 150, 150}) * 0.3;
  const torch::Tensor reference = packed->model->forward(faces);
  // The simulation is the packed model's own forward; the integer one agrees
  // with it as int8_model_test.cc requires of every w8a8 student.
  EXPECT_TRUE(torch::equal(simulated->backbone->forward(faces), reference));
  EXPECT_GT(MinCosine(integer->backbone->forward(faces), reference), 0.99);
}

TEST(ServedStudentTest, LoadErrorsComeBackAsTheyAre) {
  const auto missing = LoadServedStudent("/nonexistent/student.qfp", true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), LoadPackedModel("/nonexistent/student.qfp").status().code());
}

}  // namespace
}  // namespace qf::quant
