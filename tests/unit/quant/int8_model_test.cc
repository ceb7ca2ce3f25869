#include "core/quant/int8_model.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/quant/activation_quantizer.h"
#include "core/quant/distiller.h"
#include "core/quant/quantized_engine.h"
#include "core/synth/noise_source.h"
#include "tests/unit/nn/test_assets.h"

namespace qf::quant {
namespace {
namespace fs = std::filesystem;

// Calibrates `model` at `bits` on noise, packs and reloads it: the fake-quant
// reference the integer model must reproduce.
// `edit` may change the hooks' layers before calibration.
// `after_calibration` may change them before packing.
PackedModel PackAndLoad(nn::Backbone& model, const FakeQuantOptions& options,
                        const std::string& name,
                        const std::function<void(FakeQuantHooks&)>& edit = {},
                        const std::function<void(FakeQuantHooks&)>& after_calibration = {}) {
  auto hooks = FakeQuantHooks::Attach(model, options);
  EXPECT_TRUE(hooks.ok());
  if (edit) edit(**hooks);
  synth::NoiseSource noise(model.spec().input, 1);
  EXPECT_TRUE(CalibratePtq(model, **hooks, noise, {4, 2, {}, {}}, torch::kCPU).ok());
  if (after_calibration) after_calibration(**hooks);
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

// Largest ||a - b|| / ||b|| over the rows.
double MaxRelativeError(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).norm(2, {1}) / b.norm(2, {1})).max().item<double>();
}

struct Agreement {
  std::string engine;  // "" when the integer model failed.
  double min_cosine = 0;
  double max_relative_error = 1;
  // The fake-quant reference against itself, run one image at a time.
  double reference_batch_error = 0;
};

// Integer vs fake-quant embeddings of `packed` on noise images.
Agreement Compare(const PackedModel& packed) {
  Agreement result;
  auto int8 = Int8Model::Create(packed);
  EXPECT_TRUE(int8.ok()) << int8.status().ToString();
  if (!int8.ok()) return result;
  const torch::Tensor input = synth::NoiseSource(packed.model->spec().input, 3).NextBatch(3);
  torch::NoGradGuard no_grad;
  const torch::Tensor reference = packed.model->forward(input);
  const auto actual = (*int8)->Embed(input);
  EXPECT_TRUE(actual.ok()) << actual.status();
  if (!actual.ok()) return result;
  result.engine = (*int8)->engine();
  std::vector<torch::Tensor> one_by_one;
  for (int64_t i = 0; i < input.size(0); ++i) {
    one_by_one.push_back(packed.model->forward(input.slice(0, i, i + 1)));
  }
  result.reference_batch_error = MaxRelativeError(torch::cat(one_by_one), reference);
  result.min_cosine = MinCosine(*actual, reference);
  result.max_relative_error = MaxRelativeError(*actual, reference);
  return result;
}

// Returns the engine the integer model chose ("" when it failed).
std::string ExpectIntegerMatchesFakeQuant(nn::Backbone& model, const FakeQuantOptions& options,
                                          const std::string& name, double min_cosine = 0.999) {
  model.eval();
  const Agreement agreement = Compare(PackAndLoad(model, options, name));
  EXPECT_GE(agreement.min_cosine, min_cosine)
      << name << " " << QuantBitsName(options.bits) << " on " << agreement.engine;
  return agreement.engine;
}

FakeQuantOptions Bits(int weight, int activation, WeightScheme scheme = WeightScheme::kAsymmetric) {
  FakeQuantOptions options;
  options.bits = {weight, activation};
  options.weight_scheme = scheme;
  return options;
}

TEST(Int8ModelTest, RealDlibResnetW4A4MatchesFakeQuant) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
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

// 8-bit asymmetric weights go to QNNPACK, where 4-bit activations need the
// clamp onto the low-bit grid too. LibTorch's QNNPACK clamp scrambled
// channels_last tensors (cosine 0.78 here, 52 % on LFW). QNNPACK's
// fixed-point requantization is off by one code now and then, which a 4-bit
// grid and this chaotic random net amplify, hence the looser bound (0.988
// measured; the real model: int8-lfw in docs/BENCHMARKS.md).
TEST(Int8ModelTest, DlibResnetW8A4OnQnnpackMatchesFakeQuant) {
  torch::manual_seed(13);
  nn::DlibResnet model;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, Bits(8, 4), "dlib84", 0.98), "qnnpack");
}

TEST(Int8ModelTest, SymmetricW8A8RunsOnOneDnnAndMatchesFakeQuant) {
  torch::manual_seed(14);
  nn::DlibResnet model;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, Bits(8, 8, WeightScheme::kSymmetric), "dlib88s"),
            "onednn");
}

// What a w8a8 job gets when it names no scheme: oneDNN, not QNNPACK.
TEST(Int8ModelTest, DefaultSchemeW8A8RunsOnOneDnnAndMatchesFakeQuant) {
  torch::manual_seed(15);
  nn::DlibResnet model;
  FakeQuantOptions defaults;
  defaults.bits = {8, 8};
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, defaults, "dlib88auto"), "onednn");
}

TEST(Int8ModelTest, SymmetricFirstAndLastAt8BitsStayOnOneDnn) {
  torch::manual_seed(15);
  nn::DlibResnet model;
  FakeQuantOptions options = Bits(4, 4, WeightScheme::kSymmetric);
  options.keep_first_last_8bit = true;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, options, "dlib44s8", 0.99), "onednn");
}

// Kept first/last layers take the symmetric grid, so an asymmetric w4a4
// student with them stays on oneDNN instead of QNNPACK.
TEST(Int8ModelTest, AsymmetricFirstAndLastAt8BitsStayOnOneDnn) {
  torch::manual_seed(16);
  nn::DlibResnet model;
  FakeQuantOptions options = Bits(4, 4);
  options.keep_first_last_8bit = true;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(model, options, "dlib44a8", 0.99), "onednn");
}

// Learned weight steps narrower than the weights (here every step halved)
// clip the 8-bit first and last layers on their symmetric grid, at its last
// code: the student stays on oneDNN. (It went to QNNPACK while the fake
// quantizers allowed one code more, q - zero_point = 128.)
TEST(Int8ModelTest, NarrowedSymmetricFirstAndLastStepsStayOnOneDnn) {
  torch::manual_seed(17);
  nn::DlibResnet model;
  model.eval();
  FakeQuantOptions options = Bits(4, 4);
  options.keep_first_last_8bit = true;
  const PackedModel packed =
      PackAndLoad(model, options, "dlib44narrow", {}, [](FakeQuantHooks& hooks) {
        torch::NoGradGuard no_grad;
        for (const torch::Tensor& log_scale : hooks.StartLearningWeightRanges()) {
          log_scale.sub_(std::log(2.0));
        }
      });
  const Agreement agreement = Compare(packed);
  EXPECT_EQ(agreement.engine, "onednn");
  EXPECT_GE(agreement.min_cosine, 0.99);
}

// Files written before that rule hold 8-bit asymmetric first/last weights:
// they still load with their own grids, and run on an engine that takes them.
TEST(Int8ModelTest, OlderAsymmetricFirstAndLastFilesStillRun) {
  torch::manual_seed(16);
  nn::DlibResnet model;
  model.eval();
  FakeQuantOptions options = Bits(4, 4);
  options.keep_first_last_8bit = true;
  const PackedModel packed = PackAndLoad(model, options, "dlib44a8old", [](FakeQuantHooks& hooks) {
    for (const std::string& name : {hooks.layers().front()->name, hooks.layers().back()->name}) {
      hooks.mutable_layer(name)->weight_scheme = WeightScheme::kAsymmetric;
    }
  });
  // The stored stem grid is asymmetric: its zero points are not all 127,
  // the symmetric 8-bit grid's middle.
  const auto& stem_zero_points = packed.hooks->layers().front()->frozen_weight_params->zero_point;
  EXPECT_TRUE((stem_zero_points != 127).any().item<bool>());
  const Agreement agreement = Compare(packed);
  EXPECT_EQ(agreement.engine, "qnnpack");
  EXPECT_GE(agreement.min_cosine, 0.98);
}

TEST(Int8ModelTest, RealFaceResW6A6MatchesFakeQuant) {
  QF_REQUIRE_ASSETS(false, nn::FaceRes::kModelPath);
  auto model = nn::FaceRes::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectIntegerMatchesFakeQuant(**model, Bits(6, 6), "realfaceres66");
}

// 8-bit asymmetric weights put faceres on QNNPACK, where its ReLU6 bound is
// a clamp of the conv output: the clamp that scrambled channels_last tensors.
TEST(Int8ModelTest, RealFaceResW8A8OnQnnpackMatchesFakeQuant) {
  QF_REQUIRE_ASSETS(false, nn::FaceRes::kModelPath);
  auto model = nn::FaceRes::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(**model, Bits(8, 8), "realfaceres88"), "qnnpack");
}

// Depthwise convs kept at 8 bits take the symmetric grid, so an otherwise
// asymmetric w4a8 faceres stays on oneDNN.
TEST(Int8ModelTest, RealFaceResW4A8DepthwiseAt8BitsStaysOnOneDnn) {
  QF_REQUIRE_ASSETS(false, nn::FaceRes::kModelPath);
  auto model = nn::FaceRes::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  FakeQuantOptions options = Bits(4, 8);
  options.keep_depthwise_8bit = true;
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(**model, options, "realfaceres48dw"), "onednn");
}

// A layer kept at 8 bits inside a residual block (an 8-bit input between
// 4-bit activations: its producer requantizes onto an 8-bit grid) runs on
// oneDNN and agrees with the fake quant as tightly as plain w4a4. (On
// faceres at w4a4, PTQ on noise leaves the integer and fake-quant forwards
// at cosine 0.98-0.99 with or without kept layers, session 6's near-ties,
// so that model cannot show a regression here.)
TEST(Int8ModelTest, RealDlibResnetW4A4WithANamedLayerAt8BitsMatchesFakeQuant) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  auto model = nn::DlibResnet::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  FakeQuantOptions options = Bits(4, 4);
  options.keep_8bit_layers = {"conv32_1_conv1"};
  EXPECT_EQ(ExpectIntegerMatchesFakeQuant(**model, options, "realdlib44named"), "onednn");
}

// Add operands on 8-bit grids between 4-bit conv inputs: each block's
// output is rounded onto the next conv's 4-bit grid and, separately, onto
// the shortcut's 8-bit grid.
// Both add operands at 8 bits, or only the branch's (the paper's points).
TEST(Int8ModelTest, RealDlibResnetW4A4WithAddOperandsAt8BitsMatchesFakeQuant) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  auto model = nn::DlibResnet::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  for (const bool residual_only : {false, true}) {
    FakeQuantOptions options = Bits(4, 4);
    options.keep_first_last_8bit = true;
    options.keep_add_operands_8bit = !residual_only;
    options.keep_residual_operands_8bit = residual_only;
    EXPECT_EQ(ExpectIntegerMatchesFakeQuant(
                  **model, options, residual_only ? "realdlib44residual" : "realdlib44adds"),
              "onednn");
  }
}

TEST(Int8ModelTest, RandomFaceResW6A6MatchesFakeQuant) {
  torch::manual_seed(13);
  nn::FaceRes model;
  ExpectIntegerMatchesFakeQuant(model, Bits(6, 6), "faceres66", 0.99);
}

// Real weights: every step must round exactly as the fake quantizer does.
// At 4 bits the embeddings then come out bit-identical; a wrong grid or a
// second rounding anywhere shows as a 10-20 % error (tried as mutations). At
// 8 bits the fake-quant reference is itself only stable to about 1 %: the
// same images run as a batch of 1 instead of 3 change its embeddings by 1.1 %
// (relative L2), because float accumulation order flips near-tie codes and
// the fine 8-bit grids carry the flips on; the integer model is 1.2-1.4 %
// away, so the 8-bit bound is 3 %.
TEST(Int8ModelTest, RealDlibResnetAgreesTightly) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  struct Case {
    FakeQuantOptions options;
    double min_cosine;
    double max_relative_error;
  };
  FakeQuantOptions w4a4_first_last_8 = Bits(4, 4, WeightScheme::kSymmetric);
  w4a4_first_last_8.keep_first_last_8bit = true;
  // Asymmetric 4-bit weights between the symmetric 8-bit ends: oneDNN too.
  FakeQuantOptions w4a4_asymmetric_first_last_8 = Bits(4, 4);
  w4a4_asymmetric_first_last_8.keep_first_last_8bit = true;
  for (const Case& c : {Case{Bits(8, 8, WeightScheme::kSymmetric), 0.9998, 0.03},
                        Case{Bits(8, 8), 0.9998, 0.03}, Case{w4a4_first_last_8, 0.99995, 0.01},
                        Case{w4a4_asymmetric_first_last_8, 0.99995, 0.01}}) {
    auto model = nn::DlibResnet::FromAssets(nn::testing::AssetDir());
    ASSERT_TRUE(model.ok()) << model.status();
    const Agreement a = Compare(PackAndLoad(**model, c.options, "realdlibtight"));
    const std::string what = QuantBitsName(c.options.bits) + " " +
                             WeightSchemeName(c.options.weight_scheme) + " on " + a.engine;
    EXPECT_GE(a.min_cosine, c.min_cosine) << what;
    EXPECT_LE(a.max_relative_error, c.max_relative_error) << what;
    std::cout << what << ": min cosine " << a.min_cosine << ", max relative error "
              << a.max_relative_error << " (fake quant batch 1 vs 3: " << a.reference_batch_error
              << ")\n";
  }
}

// A server holds oneDNN students and may load and run a QNNPACK one (8-bit
// asymmetric weights) at any time, also while the others run. Neither may
// change what the other computes: LibTorch's non-conv quantized ops pick
// their kernel from the process-wide engine, which each prepack sets.
TEST(Int8ModelTest, QnnpackAndOneDnnStudentsLoadAndRunSideBySide) {
  torch::manual_seed(21);
  nn::DlibResnet model_a;
  model_a.eval();
  // 4-bit activations: the forward clamps onto the low-bit grid (ClampToGrid).
  const PackedModel onednn_packed = PackAndLoad(model_a, Bits(4, 4), "engine44");
  torch::manual_seed(22);
  nn::DlibResnet model_b;
  model_b.eval();
  const PackedModel qnnpack_packed = PackAndLoad(model_b, Bits(8, 4), "engine84");
  auto onednn = Int8Model::Create(onednn_packed);
  ASSERT_TRUE(onednn.ok()) << onednn.status();
  ASSERT_EQ((*onednn)->engine(), "onednn");
  const torch::Tensor input = synth::NoiseSource(onednn_packed.model->spec().input, 5).NextBatch(2);
  const auto onednn_alone = (*onednn)->Embed(input);
  ASSERT_TRUE(onednn_alone.ok()) << onednn_alone.status();
  torch::Tensor qnnpack_alone;
  {
    auto qnnpack = Int8Model::Create(qnnpack_packed);
    ASSERT_TRUE(qnnpack.ok()) << qnnpack.status();
    ASSERT_EQ((*qnnpack)->engine(), "qnnpack");
    const auto embedded = (*qnnpack)->Embed(input);
    ASSERT_TRUE(embedded.ok()) << embedded.status();
    qnnpack_alone = *embedded;
  }

  // One thread loads QNNPACK students and runs each; this one runs the
  // oneDNN student meanwhile.
  std::atomic<bool> stop{false};
  std::atomic<int> loads{0};
  std::atomic<int> qnnpack_differing{0};
  std::string load_error;  // Read after join.
  std::thread loader([&] {
    while (!stop) {
      auto qnnpack = Int8Model::Create(qnnpack_packed);
      const auto embedded =
          qnnpack.ok() ? (*qnnpack)->Embed(input) : absl::StatusOr<torch::Tensor>(qnnpack.status());
      if (!embedded.ok()) {
        load_error = embedded.status().ToString();
        return;
      }
      if (!torch::equal(*embedded, qnnpack_alone)) ++qnnpack_differing;
      ++loads;
    }
  });
  // At least 8 forwards, and on until two loads have run beside them.
  int forwards = 0;
  int onednn_differing = 0;
  while (forwards < 8 || (loads < 2 && forwards < 1000)) {
    const auto during = (*onednn)->Embed(input);
    ASSERT_TRUE(during.ok()) << during.status();
    ++forwards;
    if (!torch::equal(*during, *onednn_alone)) ++onednn_differing;
  }
  stop = true;
  loader.join();
  EXPECT_EQ(load_error, "");
  EXPECT_GE(loads.load(), 2);
  EXPECT_EQ(onednn_differing, 0) << "of " << forwards << " oneDNN forwards";
  EXPECT_EQ(qnnpack_differing.load(), 0) << "of " << loads.load() << " QNNPACK forwards";
}

// Each residual add's shortcut has its own quantizer. Calibration gives a
// block's shortcut and conv1 the same range (same tensor), so narrow some
// shortcut ranges: the integer model must then round the block input onto
// the shortcut's own grid (and clip it there) for the first block (the stem
// output), a middle block (the previous add's sum) and a down block (the
// pooled sum); reusing conv1's codes would be off by up to 40 %.
TEST(Int8ModelTest, ShortcutsOnTheirOwnGridsMatchFakeQuant) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  auto model = nn::DlibResnet::FromAssets(nn::testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  FakeQuantOptions options = Bits(4, 4, WeightScheme::kSymmetric);
  options.keep_first_last_8bit = true;
  PackedModel packed = PackAndLoad(**model, options, "realdlibshortcuts");
  for (const char* site : {"conv32_1/shortcut", "conv64_2/shortcut", "conv128_down/shortcut"}) {
    ActivationQuantizer& q = packed.hooks->add_operand(site);
    q.SetRange(q.lo(), q.hi() * 0.6);
  }
  const Agreement a = Compare(packed);
  EXPECT_GE(a.min_cosine, 0.99995);
  EXPECT_LE(a.max_relative_error, 0.01);
  std::cout << "narrowed shortcuts: min cosine " << a.min_cosine << ", max relative error "
            << a.max_relative_error << "\n";
}

// The taps (quant_bench int8-lfw --layers) must see every quantized
// activation of both forwards under the same site names and shapes, so that
// the two can be compared layer by layer; the image is quantized identically.
TEST(Int8ModelTest, TapsSeeTheSameSitesInBothForwards) {
  torch::manual_seed(0);
  nn::DlibResnet dlib;
  nn::FaceRes faceres;
  for (nn::Backbone* model : std::vector<nn::Backbone*>{&dlib, &faceres}) {
    model->eval();
    PackedModel packed = PackAndLoad(*model, Bits(4, 4), "taps");
    auto int8 = Int8Model::Create(packed);
    ASSERT_TRUE(int8.ok()) << int8.status();
    std::map<std::string, torch::Tensor> fake, integer;
    packed.hooks->set_tap([&](const std::string& site, const torch::Tensor& values) {
      EXPECT_EQ(fake.count(site), 0u) << site << " seen twice";
      fake[site] = values.contiguous();
    });
    (*int8)->set_tap([&](const std::string& site, const torch::Tensor& values) {
      EXPECT_EQ(integer.count(site), 0u) << site << " seen twice";
      integer[site] = values.contiguous();
    });
    const torch::Tensor input = synth::NoiseSource(model->spec().input, 5).NextBatch(2);
    torch::NoGradGuard no_grad;
    packed.model->forward(input);
    ASSERT_TRUE((*int8)->Embed(input).ok());

    const std::string architecture = model->spec().architecture;
    const size_t layers = packed.hooks->layers().size();
    EXPECT_EQ(fake.size(), layers + packed.hooks->add_operands().size()) << architecture;
    ASSERT_EQ(fake.size(), integer.size()) << architecture;
    for (const auto& [site, values] : fake) {
      ASSERT_EQ(integer.count(site), 1u) << architecture << ": " << site;
      EXPECT_EQ(values.sizes(), integer[site].sizes()) << architecture << ": " << site;
    }
    const std::string first = packed.hooks->layers().front()->name;
    EXPECT_TRUE(torch::equal(fake[first], integer[first])) << architecture << ": " << first;
  }
}

// Quantize() must give the fake quantizer's codes bit for bit: values on
// rounding ties (nearbyint rounds them to even), outside the range, and on
// a low-bit grid whose top code is below 255.
TEST(Int8CodesTest, QuantizeGivesTheFakeQuantizersCodes) {
  for (const Int8Model::Grid grid : {Int8Model::Grid{0.0371, 3, 255}, Int8Model::Grid{0.25, 7, 15},
                                     Int8Model::Grid{0.0625, 0, 255}}) {
    const float step = static_cast<float>(grid.scale);
    // Ties (k + 0.5) * step, their neighbours, and values beyond both ends.
    const torch::Tensor k = torch::arange(-20, 300, torch::kFloat);
    const torch::Tensor ties = (k + 0.5) * step;
    const torch::Tensor x =
        torch::cat({ties, torch::nextafter(ties, ties + 1), torch::nextafter(ties, ties - 1),
                    torch::randn({2000}) * 10 * step + 40 * step})
            .view({2, -1, 1, 1});  // 4-d: the channels-last path.
    const torch::Tensor reference =
        torch::fake_quantize_per_tensor_affine(x, grid.scale, grid.zero_point, 0, grid.qmax);
    const torch::Tensor q = Int8Model::Quantize(x, grid);
    ASSERT_TRUE(q.is_quantized());
    EXPECT_EQ(q.q_scale(), grid.scale);
    EXPECT_EQ(q.q_zero_point(), grid.zero_point);
    EXPECT_LE(q.int_repr().max().item<int64_t>(), grid.qmax);
    // Exact: both are (code - zero_point) * scale in float32.
    EXPECT_TRUE(torch::equal(Int8Model::Dequantize(q), reference)) << "scale " << grid.scale;
    EXPECT_TRUE(torch::equal(Int8Model::Dequantize(q), q.dequantize()));
  }
}

// PadCodes must give what padding the float values with zeros and then
// quantizing gives (zero is the code zero_point), and stay channels-last.
TEST(Int8CodesTest, PadCodesPadsWithTheCodeOfZero) {
  const Int8Model::Grid grid{0.05, 9, 15};
  const torch::Tensor x = torch::randn({2, 5, 7, 6}) * 0.3;
  const torch::Tensor q = Int8Model::Quantize(x, grid);
  for (const std::vector<int64_t>& amounts :
       {std::vector<int64_t>{0, 1, 0, 1}, std::vector<int64_t>{1, 2, 0, 1},
        std::vector<int64_t>{3, 3, 3, 3}}) {
    const torch::Tensor padded = Int8Model::PadCodes(q, amounts);
    ASSERT_TRUE(padded.is_quantized());
    EXPECT_TRUE(padded.is_contiguous(torch::MemoryFormat::ChannelsLast));
    const torch::Tensor reference = Int8Model::Quantize(
        torch::nn::functional::pad(Int8Model::Dequantize(q),
                                   torch::nn::functional::PadFuncOptions(amounts)),
        grid);
    EXPECT_TRUE(torch::equal(padded.int_repr(), reference.int_repr())) << amounts;
    EXPECT_EQ(padded.q_zero_point(), grid.zero_point);
  }
}

}  // namespace
}  // namespace qf::quant

namespace qf::quant {
namespace {

// The int8 kernel itself, on grid values: float conv of the dequantized
// values vs quantized::conv2d with a fine output grid.
TEST(Int8KernelTest, ConvOnGridValuesIsExact) {
  const PrepackScope onednn(at::QEngine::ONEDNN);
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
