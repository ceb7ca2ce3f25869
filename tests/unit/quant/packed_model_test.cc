#include "core/quant/packed_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/quant/bit_packing.h"
#include "core/quant/distiller.h"
#include "core/synth/noise_source.h"
#include "core/util/sha256.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {
namespace fs = std::filesystem;

TEST(BitPackingTest, KnownLayoutAndRoundTrip) {
  // 1 | 2 << 2 | 3 << 4 = 0b00111001.
  const auto packed = PackBits({1, 2, 3}, 2);
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(*packed, std::string(1, '\x39'));
  torch::manual_seed(0);
  for (int bits = 1; bits <= 8; ++bits) {
    const torch::Tensor r = torch::randint(0, 1 << bits, {1001}, torch::kLong);
    std::vector<uint8_t> values;
    for (int64_t i = 0; i < r.numel(); ++i)
      values.push_back(static_cast<uint8_t>(r[i].item<int64_t>()));
    const auto p = PackBits(values, bits);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->size(), PackedBytes(1001, bits));
    const auto back = UnpackBits(*p, 1001, bits);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, values) << bits;
  }
  EXPECT_FALSE(PackBits({4}, 2).ok());
  EXPECT_FALSE(UnpackBits("ab", 3, 2).ok());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Replaces the trailing checksum so that a deliberate edit passes it.
std::string Reseal(std::string file) {
  const std::string body = file.substr(0, file.size() - 64);
  return body + Sha256Hex(body);
}

class PackedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(5);
    dir_ = fs::temp_directory_path() / ("qf_packed_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "model.qfp").string();
    student_ = std::make_shared<nn::DlibResnet>();
    student_->eval();
    FakeQuantOptions options;
    options.bits = {4, 4};
    options.keep_first_last_8bit = true;
    auto hooks = FakeQuantHooks::Attach(*student_, options);
    ASSERT_TRUE(hooks.ok());
    hooks_ = *hooks;
    synth::NoiseSource noise(student_->spec().input, 1);
    ASSERT_TRUE(CalibratePtq(*student_, *hooks_, noise, {4, 2, {}, {}}, torch::kCPU).ok());
    input_ = synth::NoiseSource(student_->spec().input, 2).NextBatch(2);
    ASSERT_TRUE(WritePackedModel(path_, *student_, *hooks_, {{"note", "test"}}).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string path_;
  std::shared_ptr<nn::DlibResnet> student_;
  std::shared_ptr<FakeQuantHooks> hooks_;
  torch::Tensor input_;
};

TEST_F(PackedModelTest, RoundTripReproducesTheStudent) {
  const auto loaded = LoadPackedModel(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->header["architecture"], "dlib-resnet");
  EXPECT_EQ(loaded->header["bits"], "w4a4");
  EXPECT_EQ(loaded->header["metadata"]["note"], "test");
  EXPECT_EQ(loaded->header["weight_scheme"], "auto");
  EXPECT_EQ(loaded->hooks->options().weight_scheme, WeightScheme::kAuto);
  // Resolved per layer: the 8-bit first and last layers symmetric, the
  // 4-bit ones asymmetric, as when the file was written.
  for (const auto* layer : loaded->hooks->layers()) {
    EXPECT_EQ(layer->weight_scheme,
              layer->weight_bits == 8 ? WeightScheme::kSymmetric : WeightScheme::kAsymmetric)
        << layer->name;
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = student_->forward(input_);
  const torch::Tensor actual = loaded->model->forward(input_);
  EXPECT_GT(torch::nn::functional::cosine_similarity(expected, actual).min().item<double>(),
            0.9999);
  EXPECT_EQ(loaded->hooks->layers().front()->weight_bits, 8);
  EXPECT_EQ(loaded->hooks->layers()[1]->weight_bits, 4);
  // 4-bit weights (8-bit first/last): well over 6x smaller than float32.
  EXPECT_GT(static_cast<double>(Float32Bytes(*student_)) / loaded->file_bytes, 6.0);
}

// Layers kept at 8 bits by name come back from the file at 8 bits, and the
// header names them.
TEST_F(PackedModelTest, NamedLayersAt8BitsRoundTrip) {
  nn::DlibResnet student;
  student.eval();
  FakeQuantOptions options;
  options.bits = {4, 4};
  options.keep_8bit_layers = {"conv32_1_conv1"};
  auto hooks = FakeQuantHooks::Attach(student, options);
  ASSERT_TRUE(hooks.ok()) << hooks.status();
  synth::NoiseSource noise(student.spec().input, 1);
  ASSERT_TRUE(CalibratePtq(student, **hooks, noise, {4, 2, {}, {}}, torch::kCPU).ok());
  const std::string path = (dir_ / "named.qfp").string();
  ASSERT_TRUE(WritePackedModel(path, student, **hooks, {}).ok());
  const auto loaded = LoadPackedModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->header["keep_8bit_layers"], nlohmann::json::array({"conv32_1_conv1"}));
  for (const auto* layer : loaded->hooks->layers()) {
    const bool kept = layer->name == "conv32_1_conv1";
    EXPECT_EQ(layer->weight_bits, kept ? 8 : 4) << layer->name;
    EXPECT_EQ(layer->input->bits(), kept ? 8 : 4) << layer->name;
  }
  torch::NoGradGuard no_grad;
  EXPECT_GT(torch::nn::functional::cosine_similarity(student.forward(input_),
                                                     loaded->model->forward(input_))
                .min()
                .item<double>(),
            0.9999);
}

TEST_F(PackedModelTest, CorruptFilesGiveClearErrors) {
  const std::string good = ReadFile(path_);
  const std::string bad = (dir_ / "bad.qfp").string();

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  WriteFile(bad, flipped);
  auto status = LoadPackedModel(bad).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("checksum"), std::string::npos) << status;

  WriteFile(bad, good.substr(0, good.size() - 100));
  EXPECT_EQ(LoadPackedModel(bad).status().code(), absl::StatusCode::kDataLoss);

  WriteFile(bad, "NOTAMODEL" + std::string(100, 'x'));
  status = LoadPackedModel(bad).status();
  EXPECT_NE(status.message().find("magic"), std::string::npos) << status;

  std::string newer = good;
  newer[8] = 2;  // Version 2.
  WriteFile(bad, Reseal(newer));
  status = LoadPackedModel(bad).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("version 2"), std::string::npos) << status;

  std::string other = good;
  const size_t at = other.find("\"dlib-resnet\"");
  ASSERT_NE(at, std::string::npos);
  other.replace(at, 13, "\"dlib-resnex\"");
  WriteFile(bad, Reseal(other));
  status = LoadPackedModel(bad).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("dlib-resnex"), std::string::npos) << status;

  EXPECT_EQ(LoadPackedModel((dir_ / "missing.qfp").string()).status().code(),
            absl::StatusCode::kNotFound);
}

// Packs `student` with its `hooks` into a temporary file named after `name`
// and loads the file back (then removes it).
absl::StatusOr<PackedModel> PackAndLoad(nn::Backbone& student, FakeQuantHooks& hooks,
                                        const std::string& name) {
  const std::string path =
      (fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".qfp")).string();
  QF_RETURN_IF_ERROR(WritePackedModel(path, student, hooks, {}));
  absl::StatusOr<PackedModel> loaded = LoadPackedModel(path);
  fs::remove(path);
  return loaded;
}

// Calibrates `student` with fake quantization `options` on two noise
// batches, then PackAndLoad. `hooks` receives the student's own hooks.
absl::StatusOr<PackedModel> CalibratePackAndLoad(nn::Backbone& student,
                                                 const FakeQuantOptions& options,
                                                 const std::string& name,
                                                 std::shared_ptr<FakeQuantHooks>* hooks) {
  QF_ASSIGN_OR_RETURN(*hooks, FakeQuantHooks::Attach(student, options));
  synth::NoiseSource noise(student.spec().input, 1);
  QF_RETURN_IF_ERROR(CalibratePtq(student, **hooks, noise, {2, 2, {}, {}}, torch::kCPU));
  return PackAndLoad(student, **hooks, name);
}

// Add operands kept at 8 bits: the file says so, and the loaded model
// rebuilds their 8-bit quantizers and reproduces the student.
// Add operands kept at 8 bits, all of them or only the branch's, come back
// at the bits the options give them, and the loaded model computes the same.
TEST(PackedModelCodesTest, AddOperandsKeptAt8BitsRoundTrip) {
  for (const bool residual_only : {false, true}) {
    const std::string option =
        residual_only ? "keep_residual_operands_8bit" : "keep_add_operands_8bit";
    torch::manual_seed(9);
    auto student = std::make_shared<nn::DlibResnet>();
    student->eval();
    FakeQuantOptions options;
    options.bits = {4, 4};
    options.keep_add_operands_8bit = !residual_only;
    options.keep_residual_operands_8bit = residual_only;
    std::shared_ptr<FakeQuantHooks> hooks;
    const auto loaded = CalibratePackAndLoad(*student, options, "qf_adds_test", &hooks);
    ASSERT_TRUE(loaded.ok()) << option << ": " << loaded.status();
    EXPECT_EQ(loaded->header[option], true);
    EXPECT_EQ(loaded->hooks->options().keep_add_operands_8bit, !residual_only);
    EXPECT_EQ(loaded->hooks->options().keep_residual_operands_8bit, residual_only);
    ASSERT_EQ(loaded->hooks->add_operands().size(), 28u);
    for (const auto& [site, quantizer] : loaded->hooks->add_operands()) {
      const bool kept = !residual_only || nn::IsResidualOperandSite(site);
      EXPECT_EQ(quantizer->bits(), kept ? 8 : 4) << option << " " << site;
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor input = synth::NoiseSource(student->spec().input, 2).NextBatch(2);
    EXPECT_TRUE(torch::equal(loaded->model->forward(input), student->forward(input))) << option;
  }
}

// The file must hold the very weights the student ran with. The fake
// quantizer rounds w * float(1 / scale); for weights within an ulp of a
// rounding boundary that differs from rounding w / scale (how the codes were
// once computed: about 4 weights in 10^7, so a 5.6M-weight dlib ResNet
// changed a couple). Such weights are planted here in one channel.
TEST(PackedModelCodesTest, RoundTripIsExactAtRoundingBoundaries) {
  torch::manual_seed(6);
  auto student = std::make_shared<nn::DlibResnet>();
  student->eval();
  // conv32_down channel 0: max |w| 0.5 fixes the symmetric 8-bit step.
  const float step = 0.5f / 127.0f;
  const float inverse = 1.0f / step;
  std::vector<float> planted = {0.5f};
  for (int k = -126; k < 126 && planted.size() < 40; ++k) {
    float w = (static_cast<float>(k) + 0.5f) * step;
    for (int ulp = 0; ulp < 3; ++ulp, w = std::nextafter(w, 1.0f)) {
      if (std::nearbyint(w / step) != std::nearbyint(w * inverse)) planted.push_back(w);
    }
  }
  ASSERT_GT(planted.size(), 3u);
  torch::Tensor weight = student->named_parameters()["conv32_down.weight"];
  {
    torch::NoGradGuard no_grad;
    weight[0]
        .view({-1})
        .slice(0, 0, static_cast<int64_t>(planted.size()))
        .copy_(torch::tensor(planted));
  }
  FakeQuantOptions options;
  options.bits = {8, 8};
  options.weight_scheme = WeightScheme::kSymmetric;
  std::shared_ptr<FakeQuantHooks> hooks;
  const auto loaded = CalibratePackAndLoad(*student, options, "qf_codes_test", &hooks);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  torch::NoGradGuard no_grad;
  const torch::Tensor ran_with = FakeQuantizeWeight(weight.detach(), 8, WeightScheme::kSymmetric);
  const torch::Tensor input = synth::NoiseSource(student->spec().input, 2).NextBatch(2);
  const torch::Tensor expected = student->forward(input);
  const torch::Tensor loaded_weight = loaded->model->named_parameters()["conv32_down.weight"];
  EXPECT_TRUE(torch::equal(loaded_weight, ran_with))
      << (loaded_weight != ran_with).sum().item<int64_t>() << " weights differ";
  EXPECT_TRUE(torch::equal(loaded->model->forward(input), expected));
}

// MSE-clipped weight ranges: the file holds the clipped grid the student ran
// with, and says how it was chosen.
TEST(PackedModelCodesTest, MseClippedWeightsRoundTripExactly) {
  torch::manual_seed(7);
  auto student = std::make_shared<nn::DlibResnet>();
  student->eval();
  FakeQuantOptions options;
  options.bits = {4, 8};
  options.weight_ranges = RangeEstimator::kMse;
  std::shared_ptr<FakeQuantHooks> hooks;
  const auto loaded = CalibratePackAndLoad(*student, options, "qf_clip_test", &hooks);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  torch::NoGradGuard no_grad;
  const torch::Tensor input = synth::NoiseSource(student->spec().input, 2).NextBatch(2);
  const torch::Tensor expected = student->forward(input);
  int clipped_layers = 0;
  for (const FakeQuantHooks::Layer* layer : hooks->layers()) {
    clipped_layers += (layer->weight_clip < 1.0f).any().item<bool>();
  }
  EXPECT_GT(clipped_layers, 0);
  EXPECT_EQ(loaded->header["weight_ranges"], "mse");
  EXPECT_EQ(loaded->hooks->options().weight_ranges, RangeEstimator::kMse);
  const FakeQuantHooks::Layer* layer = hooks->layers()[1];
  const torch::Tensor weight = student->named_parameters()[layer->name + ".weight"];
  const AffineParams p = hooks->WeightParams(*layer, weight);
  const torch::Tensor ran_with =
      torch::fake_quantize_per_channel_affine(weight, p.scale, p.zero_point, 0, 0, QuantMax(4));
  EXPECT_TRUE(torch::equal(loaded->model->named_parameters()[layer->name + ".weight"], ran_with));
  EXPECT_TRUE(torch::equal(loaded->model->forward(input), expected));
}

// Learned weight scales, here narrowed below the weights' min/max so that
// the extreme weights clip: the file holds the codes on the learned grid and
// reproduces the student.
TEST(PackedModelCodesTest, LearnedWeightScalesRoundTripExactly) {
  torch::manual_seed(8);
  auto student = std::make_shared<nn::DlibResnet>();
  student->eval();
  FakeQuantOptions options;
  options.bits = {4, 8};
  std::shared_ptr<FakeQuantHooks> hooks;
  ASSERT_TRUE(CalibratePackAndLoad(*student, options, "qf_learned_grid_test", &hooks).ok());
  {
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& log_scale : hooks->StartLearningWeightRanges()) {
      log_scale.add_(std::log(0.8));
    }
  }
  const absl::StatusOr<PackedModel> loaded = PackAndLoad(*student, *hooks, "qf_learned_grid_test");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  torch::NoGradGuard no_grad;
  const FakeQuantHooks::Layer* layer = hooks->layers()[1];
  const torch::Tensor weight = student->named_parameters()[layer->name + ".weight"];
  const AffineParams p = hooks->WeightParams(*layer, weight);
  EXPECT_TRUE(torch::allclose(p.scale, PerChannelWeightParams(weight, 4).scale * 0.8));
  const torch::Tensor ran_with =
      torch::fake_quantize_per_channel_affine(weight, p.scale, p.zero_point, 0, 0, QuantMax(4));
  EXPECT_TRUE(torch::equal(loaded->model->named_parameters()[layer->name + ".weight"], ran_with));
  const torch::Tensor input = synth::NoiseSource(student->spec().input, 2).NextBatch(2);
  EXPECT_TRUE(torch::equal(loaded->model->forward(input), student->forward(input)));
}

// Depthwise convs kept at 8 bits: the file holds their 8-bit codes, says so,
// and reproduces the student; it is barely larger than all at 4 bits.
TEST(PackedModelCodesTest, DepthwiseKeptAt8BitsRoundTrips) {
  torch::manual_seed(8);
  uint64_t file_bytes[2] = {0, 0};
  for (const bool keep : {false, true}) {
    auto student = std::make_shared<nn::FaceRes>();
    student->eval();
    FakeQuantOptions options;
    options.bits = {4, 8};
    options.keep_depthwise_8bit = keep;
    std::shared_ptr<FakeQuantHooks> hooks;
    const auto loaded = CalibratePackAndLoad(*student, options, "qf_dw_test", &hooks);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    file_bytes[keep] = loaded->file_bytes;
    if (!keep) continue;
    EXPECT_EQ(loaded->header["keep_depthwise_8bit"], true);
    EXPECT_TRUE(loaded->hooks->options().keep_depthwise_8bit);
    for (const FakeQuantHooks::Layer* layer : loaded->hooks->layers()) {
      EXPECT_EQ(layer->weight_bits, layer->name.rfind("conv_dw_", 0) == 0 ? 8 : 4) << layer->name;
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor input = synth::NoiseSource(student->spec().input, 2).NextBatch(2);
    EXPECT_TRUE(torch::equal(loaded->model->forward(input), student->forward(input)));
  }
  EXPECT_GT(file_bytes[1], file_bytes[0]);
  EXPECT_LT(file_bytes[1], file_bytes[0] * 1.02);
}

}  // namespace
}  // namespace qf::quant
