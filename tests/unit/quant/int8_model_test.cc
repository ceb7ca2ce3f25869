#include "core/quant/int8_model.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/quant/distiller.h"
#include "core/synth/noise_source.h"
#include "tests/unit/nn/test_assets.h"

namespace qf::quant {
namespace {
namespace fs = std::filesystem;

// Calibrates `model` at `bits` on noise, packs and reloads it: the fake-quant
// reference the integer model must reproduce.
PackedModel PackAndLoad(nn::Backbone& model, const FakeQuantOptions& options,
                        const std::string& name) {
  auto hooks = FakeQuantHooks::Attach(model, options);
  EXPECT_TRUE(hooks.ok());
  synth::NoiseSource noise(model.spec().input, 1);
  EXPECT_TRUE(CalibratePtq(model, **hooks, noise, {4, 2, {}, {}}, torch::kCPU).ok());
  const std::string path =
      (fs::temp_directory_path() / (name + std::to_string(::getpid()) + ".qfp")).string();
  EXPECT_TRUE(WritePackedModel(path, model, **hooks, {}).ok());
  absl::StatusOr<PackedModel> loaded = LoadPackedModel(path);
  fs::remove(path);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return *std::move(loaded);
}

double MinCosine(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::nn::functional::cosine_similarity(a, b).min().item<double>();
}

// Returns the engine the integer model chose ("" when it failed).
std::string ExpectIntegerMatchesFakeQuant(nn::Backbone& model, const FakeQuantOptions& options,
                                          const std::string& name, double min_cosine = 0.999) {
  model.eval();
  PackedModel packed = PackAndLoad(model, options, name);
  auto int8 = Int8Model::Create(packed);
  EXPECT_TRUE(int8.ok()) << int8.status().ToString();
  if (!int8.ok()) return "";
  const torch::Tensor input = synth::NoiseSource(model.spec().input, 3).NextBatch(3);
  torch::NoGradGuard no_grad;
  const torch::Tensor reference = packed.model->forward(input);
  const auto actual = (*int8)->Embed(input);
  EXPECT_TRUE(actual.ok()) << actual.status();
  if (!actual.ok()) return "";
  EXPECT_GE(MinCosine(*actual, reference), min_cosine)
      << name << " " << QuantBitsName(options.bits) << " on " << (*int8)->engine();
  return (*int8)->engine();
}

FakeQuantOptions Bits(int weight, int activation, WeightScheme scheme = WeightScheme::kAsymmetric) {
  FakeQuantOptions options;
  options.bits = {weight, activation};
  options.weight_scheme = scheme;
  return options;
}

TEST(Int8ModelTest, RealDlibResnetW4A4MatchesFakeQuant) {
  const std::string missing = nn::testing::MissingFiles({nn::DlibResnet::kManifestPath}, false);
  if (!missing.empty()) {
    if (nn::testing::AllowMissingAssets()) GTEST_SKIP() << missing;
    FAIL() << missing;
  }
  auto model = nn::DlibResnet::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(**model, Bits(4, 4), "realdlib44"), "onednn");
}

// Random weights make a chaotic 29-conv net: the last-bit differences of the
// kernels' requantization grow through it, so the bound is looser here.
TEST(Int8ModelTest, RandomDlibResnetW4A4MatchesFakeQuant) {
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(seed);
    nn::DlibResnet model;
    ExpectIntegerMatchesFakeQuant(model, Bits(4, 4), "dlib44", 0.99);
  }
}

TEST(Int8ModelTest, DlibResnetW8A8MatchesFakeQuant) {
  torch::manual_seed(12);
  nn::DlibResnet model;
  // 8-bit asymmetric weights do not fit oneDNN's symmetric int8.
  EXPECT_NE(ExpectIntegerMatchesFakeQuant(model, Bits(8, 8), "dlib88"), "onednn");
}

TEST(Int8ModelTest, SymmetricW8A8RunsOnOneDnnAndMatchesFakeQuant) {
  torch::manual_seed(14);
  nn::DlibResnet model;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, Bits(8, 8, WeightScheme::kSymmetric), "dlib88s"),
            "onednn");
}

TEST(Int8ModelTest, SymmetricFirstAndLastAt8BitsStayOnOneDnn) {
  torch::manual_seed(15);
  nn::DlibResnet model;
  FakeQuantOptions options = Bits(4, 4, WeightScheme::kSymmetric);
  options.keep_first_last_8bit = true;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, options, "dlib44s8", 0.99), "onednn");
}

TEST(Int8ModelTest, RealFaceResW6A6MatchesFakeQuant) {
  const std::string missing = nn::testing::MissingFiles({nn::FaceRes::kModelPath}, false);
  if (!missing.empty()) {
    if (nn::testing::AllowMissingAssets()) GTEST_SKIP() << missing;
    FAIL() << missing;
  }
  auto model = nn::FaceRes::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectIntegerMatchesFakeQuant(**model, Bits(6, 6), "realfaceres66");
}

TEST(Int8ModelTest, RandomFaceResW6A6MatchesFakeQuant) {
  torch::manual_seed(13);
  nn::FaceRes model;
  ExpectIntegerMatchesFakeQuant(model, Bits(6, 6), "faceres66", 0.99);
}

}  // namespace
}  // namespace qf::quant

namespace qf::quant {
namespace {

// The int8 kernel itself, on grid values: float conv of the dequantized
// values vs quantized::conv2d with a fine output grid.
TEST(Int8KernelTest, ConvOnGridValuesIsExact) {
  at::globalContext().setQEngine(at::QEngine::ONEDNN);
  torch::manual_seed(0);
  const torch::Tensor wint = torch::randint(-7, 8, {8, 4, 3, 3}, torch::kLong);
  const torch::Tensor wscale = torch::rand({8}, torch::kDouble) * 0.1 + 0.01;
  const torch::Tensor qw = at::_make_per_channel_quantized_tensor(
      wint.to(torch::kChar), wscale, torch::zeros({8}, torch::kLong), 0);
  const torch::Tensor xint = torch::randint(0, 16, {2, 4, 10, 10}, torch::kLong);
  const double xs = 0.05;
  const int64_t xzp = 3;
  const torch::Tensor qx = at::_make_per_tensor_quantized_tensor(xint.to(torch::kByte), xs, xzp);
  const torch::Tensor ref = torch::conv2d(qx.dequantize(), qw.dequantize(), {}, 1, 1);
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("quantized::conv2d_prepack", "")
                             .typed<c10::intrusive_ptr<ConvPackedParamsBase<2>>(
                                 torch::Tensor, c10::optional<torch::Tensor>, torch::List<int64_t>,
                                 torch::List<int64_t>, torch::List<int64_t>, int64_t)>();
  auto packed = op.call(qw, c10::nullopt, torch::List<int64_t>({1, 1}),
                        torch::List<int64_t>({1, 1}), torch::List<int64_t>({1, 1}), 1);
  const double out_scale = (ref.max() - ref.min()).item<double>() / 255.0;
  const int64_t out_zp = static_cast<int64_t>(std::round(-ref.min().item<double>() / out_scale));
  const torch::Tensor y = packed->apply(qx, out_scale, out_zp).dequantize();
  const double err = (y - ref).abs().max().item<double>();
  EXPECT_LE(err, out_scale * 0.51) << "max err " << err << " step " << out_scale;
}

}  // namespace
}  // namespace qf::quant
