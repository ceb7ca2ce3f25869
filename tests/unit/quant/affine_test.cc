#include "core/quant/affine.h"

#include <gtest/gtest.h>

#include "core/quant/activation_quantizer.h"
#include "core/quant/quant_bits.h"

namespace qf::quant {
namespace {

TEST(AffineParamsTest, KnownValues) {
  // [-1, 3] at 2 bits: scale 4/3, zero point round(0.75) = 1.
  const AffineParams p = ComputeAffineParams(torch::tensor(-1.f), torch::tensor(3.f), 2);
  EXPECT_FLOAT_EQ(p.scale.item<float>(), 4.f / 3.f);
  EXPECT_EQ(p.zero_point.item<int>(), 1);
  EXPECT_EQ(p.zero_point.scalar_type(), torch::kInt);
}

TEST(AffineParamsTest, RangeIsWidenedToContainZero) {
  // [1, 2] becomes [0, 2]: scale 2/255, zero point 0, so 0 is exact.
  const AffineParams p = ComputeAffineParams(torch::tensor(1.f), torch::tensor(2.f), 8);
  EXPECT_FLOAT_EQ(p.scale.item<float>(), 2.f / 255.f);
  EXPECT_EQ(p.zero_point.item<int>(), 0);
}

TEST(AffineParamsTest, ConstantZeroRangeDoesNotDivideByZero) {
  const AffineParams p = ComputeAffineParams(torch::tensor(0.f), torch::tensor(0.f), 4);
  EXPECT_FLOAT_EQ(p.scale.item<float>(), kMinScale);
  const torch::Tensor q = FakeQuantizePerTensor(torch::zeros({3}), p, 4);
  EXPECT_TRUE(torch::equal(q, torch::zeros({3})));
}

TEST(FakeQuantizeWeightTest, PerChannelRangesAndKnownValues) {
  // Channel 0 in [0, 3]: 2 bits give step 1. Channel 1 in [-1, 2]: step 1,
  // zero point 1. Channel 2 in [0, 30]: step 10.
  const torch::Tensor w = torch::tensor({{0.f, 1.2f, 2.f, 3.f},  //
                                         {-1.f, 0.f, 0.4f, 2.f},
                                         {0.f, 14.f, 16.f, 30.f}});
  const AffineParams p = PerChannelWeightParams(w, 2);
  EXPECT_TRUE(torch::allclose(p.scale, torch::tensor({1.f, 1.f, 10.f})));
  EXPECT_TRUE(torch::equal(p.zero_point, torch::tensor({0, 1, 0}, torch::kInt)));
  const torch::Tensor q = FakeQuantizeWeight(w, 2);
  const torch::Tensor expected = torch::tensor({{0.f, 1.f, 2.f, 3.f},  //
                                                {-1.f, 0.f, 0.f, 2.f},
                                                {0.f, 10.f, 20.f, 30.f}});
  EXPECT_TRUE(torch::allclose(q, expected)) << q;
}

TEST(FakeQuantizeWeightTest, ConvWeightsAreQuantizedPerOutputChannel) {
  torch::manual_seed(0);
  torch::Tensor w = torch::randn({4, 3, 3, 3});
  w[2] *= 100;  // A wide channel must not coarsen the others.
  const torch::Tensor q = FakeQuantizeWeight(w, 8);
  for (int c = 0; c < 4; ++c) {
    const double range = (w[c].max() - torch::clamp_max(w[c].min(), 0)).item<double>();
    EXPECT_LE((q[c] - w[c]).abs().max().item<double>(), range / 255.0 / 2.0 + 1e-6) << c;
  }
}

TEST(FakeQuantizeWeightTest, SymmetricGridKnownValues) {
  // 3 bits symmetric: zero point 3, codes 0..6, scale max|w| / 3.
  // Channel 0: max|w| = 3 (from -3), step 1. Channel 1: max|w| = 0.6, step 0.2.
  const torch::Tensor w = torch::tensor({{-3.f, 0.4f, 1.6f, 2.f},  //
                                         {0.f, 0.25f, 0.5f, 0.6f}});
  const AffineParams p = PerChannelWeightParams(w, 3, WeightScheme::kSymmetric);
  EXPECT_TRUE(torch::allclose(p.scale, torch::tensor({1.f, 0.2f})));
  EXPECT_TRUE(torch::equal(p.zero_point, torch::tensor({3, 3}, torch::kInt)));
  const torch::Tensor q = FakeQuantizeWeight(w, 3, WeightScheme::kSymmetric);
  const torch::Tensor expected = torch::tensor({{-3.f, 0.f, 2.f, 2.f},  //
                                                {0.f, 0.2f, 0.4f, 0.6f}});
  EXPECT_TRUE(torch::allclose(q, expected)) << q;
}

TEST(FakeQuantizeWeightTest, SymmetricEightBitIntegersFitInt8) {
  // The point of the scheme: round(w / scale) stays in [-127, 127], while
  // the asymmetric grid of a one-sided channel reaches 255.
  torch::manual_seed(1);
  torch::Tensor w = torch::randn({8, 16, 3, 3});
  w[3] = w[3].abs();  // One-sided channel.
  const AffineParams sym = PerChannelWeightParams(w, 8, WeightScheme::kSymmetric);
  const torch::Tensor ints = torch::round(w / sym.scale.view({-1, 1, 1, 1}));
  EXPECT_LE(ints.abs().max().item<float>(), 127.f);
  EXPECT_EQ(ints.abs().max().item<float>(), 127.f);  // The range is used fully.
  const AffineParams asym = PerChannelWeightParams(w, 8);
  const torch::Tensor asym_ints = torch::round(w / asym.scale.view({-1, 1, 1, 1}));
  EXPECT_GT(asym_ints.abs().max().item<float>(), 127.f);
}

// A weight beyond a narrowed symmetric range stops at the grid's last code,
// 2^b - 2: at 8 bits round(w / scale) stays within int8 instead of reaching
// +128 (one code past the grid, which oneDNN cannot hold).
TEST(FakeQuantizeWeightTest, ClippedSymmetricWeightsStopAtTheGridsLastCode) {
  EXPECT_EQ(WeightCodeMax(8, WeightScheme::kSymmetric), 254);
  EXPECT_EQ(WeightCodeMax(8, WeightScheme::kAuto), 254);
  EXPECT_EQ(WeightCodeMax(8, WeightScheme::kAsymmetric), 255);
  EXPECT_EQ(WeightCodeMax(4, WeightScheme::kSymmetric), 14);
  EXPECT_EQ(WeightCodeMax(4, WeightScheme::kAuto), 15);
  torch::manual_seed(2);
  const torch::Tensor w = torch::randn({4, 32});
  const ChannelRange range = WeightChannelRange(w, WeightScheme::kSymmetric);
  const AffineParams half =
      ClippedRangeParams(range, 8, WeightScheme::kSymmetric, torch::full({4}, 0.5f));
  const torch::Tensor q = torch::fake_quantize_per_channel_affine(
      w, half.scale, half.zero_point, 0, 0, WeightCodeMax(8, WeightScheme::kSymmetric));
  const torch::Tensor ints = torch::round(q / half.scale.view({-1, 1}));
  EXPECT_EQ(ints.max().item<float>(), 127.f);  // Clipped on both sides, symmetrically.
  EXPECT_EQ(ints.min().item<float>(), -127.f);
}

TEST(WeightSchemeTest, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseWeightScheme("symmetric"), WeightScheme::kSymmetric);
  EXPECT_EQ(*ParseWeightScheme("asymmetric"), WeightScheme::kAsymmetric);
  EXPECT_EQ(*ParseWeightScheme("auto"), WeightScheme::kAuto);
  for (const WeightScheme scheme :
       {WeightScheme::kAsymmetric, WeightScheme::kSymmetric, WeightScheme::kAuto}) {
    EXPECT_EQ(*ParseWeightScheme(WeightSchemeName(scheme)), scheme);
  }
  EXPECT_FALSE(ParseWeightScheme("sym").ok());
  EXPECT_NE(ParseWeightScheme("sym").status().message().find("auto, asymmetric or symmetric"),
            std::string::npos);
}

// kAuto is the paper's asymmetric grid below 8 bits (where both grids fit
// int8) and the symmetric one at 8 bits (where only it fits oneDNN).
TEST(WeightSchemeTest, AutoIsSymmetricAt8BitsOnly) {
  EXPECT_EQ(ResolveWeightScheme(WeightScheme::kAuto, 8), WeightScheme::kSymmetric);
  for (int bits = 2; bits < 8; ++bits) {
    EXPECT_EQ(ResolveWeightScheme(WeightScheme::kAuto, bits), WeightScheme::kAsymmetric) << bits;
  }
  for (int bits : {4, 8}) {
    EXPECT_EQ(ResolveWeightScheme(WeightScheme::kAsymmetric, bits), WeightScheme::kAsymmetric);
    EXPECT_EQ(ResolveWeightScheme(WeightScheme::kSymmetric, bits), WeightScheme::kSymmetric);
  }

  // The functions that know the bit width resolve it themselves.
  torch::manual_seed(3);
  const torch::Tensor w = torch::randn({6, 3, 3, 3}) + 0.3;  // Skewed: the grids differ.
  for (int bits : {4, 8}) {
    const WeightScheme resolved = ResolveWeightScheme(WeightScheme::kAuto, bits);
    const AffineParams automatic = PerChannelWeightParams(w, bits, WeightScheme::kAuto);
    const AffineParams expected = PerChannelWeightParams(w, bits, resolved);
    EXPECT_TRUE(torch::equal(automatic.scale, expected.scale)) << bits;
    EXPECT_TRUE(torch::equal(automatic.zero_point, expected.zero_point)) << bits;
    EXPECT_TRUE(torch::equal(FakeQuantizeWeight(w, bits, WeightScheme::kAuto),
                             FakeQuantizeWeight(w, bits, resolved)))
        << bits;
  }
  EXPECT_FALSE(torch::equal(PerChannelWeightParams(w, 8, WeightScheme::kAuto).zero_point,
                            PerChannelWeightParams(w, 8, WeightScheme::kAsymmetric).zero_point));
  // The two-step form has no bit width: it refuses kAuto instead of guessing.
  EXPECT_THROW(WeightChannelRange(w, WeightScheme::kAuto), c10::Error);
}

TEST(FakeQuantizeWeightTest, StraightThroughGradientIsIdentity) {
  torch::Tensor w = torch::randn({5, 7}).set_requires_grad(true);
  FakeQuantizeWeight(w, 3).mul(torch::arange(35).view({5, 7}).to(torch::kFloat)).sum().backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::arange(35).view({5, 7}).to(torch::kFloat)));
}

TEST(ActivationQuantizerTest, EmaThenFreeze) {
  ActivationQuantizer q(8, 0.9);
  q.Apply(torch::tensor({0.f, 1.f}));  // First batch sets the range.
  EXPECT_FLOAT_EQ(q.lo().item<float>(), 0.f);
  EXPECT_FLOAT_EQ(q.hi().item<float>(), 1.f);
  q.Apply(torch::tensor({-1.f, 3.f}));  // 0.9 * old + 0.1 * batch.
  EXPECT_NEAR(q.lo().item<float>(), -0.1f, 1e-6);
  EXPECT_NEAR(q.hi().item<float>(), 1.2f, 1e-6);
  EXPECT_EQ(q.num_observed(), 2);

  q.set_observing(false);
  const torch::Tensor out = q.Apply(torch::tensor({-10.f, 0.5f, 10.f}));
  EXPECT_NEAR(q.lo().item<float>(), -0.1f, 1e-6);  // Frozen.
  EXPECT_NEAR(q.hi().item<float>(), 1.2f, 1e-6);
  EXPECT_EQ(q.num_observed(), 2);
  // Out-of-range values are clipped to the frozen grid's ends.
  EXPECT_NEAR(out[0].item<float>(), -0.1f, 0.01f);
  EXPECT_NEAR(out[1].item<float>(), 0.5f, 0.005f);
  EXPECT_NEAR(out[2].item<float>(), 1.2f, 0.01f);
}

TEST(ActivationQuantizerTest, GradientPassesInsideRangeOnly) {
  ActivationQuantizer q(4);
  q.SetRange(torch::tensor(0.f), torch::tensor(1.f));
  torch::Tensor x = torch::tensor({-0.5f, 0.3f, 0.7f, 2.f}).set_requires_grad(true);
  q.Apply(x).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::tensor({0.f, 1.f, 1.f, 0.f})));
}

TEST(ActivationQuantizerTest, LearnedScaleStartsAtTheRangeAndGrowsToStopClipping) {
  ActivationQuantizer q(4);
  q.SetRange(torch::tensor(0.f), torch::tensor(15.f));               // Scale 1, zero point 0.
  EXPECT_THROW(ActivationQuantizer(4).StartLearning(), c10::Error);  // Never observed.
  torch::Tensor scale = q.StartLearning();
  ASSERT_TRUE(q.learning());
  EXPECT_TRUE(scale.requires_grad());
  EXPECT_FLOAT_EQ(scale.item<float>(), 1.f);
  EXPECT_FLOAT_EQ(q.lo().item<float>(), 0.f);
  EXPECT_FLOAT_EQ(q.hi().item<float>(), 15.f);
  // Same grid as before learning: integers 0..15.
  EXPECT_TRUE(
      torch::allclose(q.Apply(torch::tensor({0.4f, 2.6f, 20.f})), torch::tensor({0.f, 3.f, 15.f})));

  // Activations spread over [0, 3] on a grid that ends at 1.5 (a range
  // observed on other data): clipping dominates the error. Learning the
  // scale (LSQ) on that error must widen the grid and cut the error.
  torch::manual_seed(3);
  q.SetRange(torch::tensor(0.f), torch::tensor(1.5f));
  scale = q.StartLearning();
  const torch::Tensor x = (torch::rand({4000}) * 3).view({1, -1});
  const auto error = [&] { return (q.Apply(x) - x).square().mean(); };
  const double before = error().item<double>();
  EXPECT_NEAR(before, 0.375, 0.03);  // E[(x - 1.5)^2; x > 1.5] for x ~ U(0, 3).
  torch::optim::SGD optimizer({scale}, torch::optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 0; step < 200; ++step) {
    optimizer.zero_grad();
    error().backward();
    optimizer.step();
  }
  EXPECT_GT(q.hi().item<float>(), 2.7f);
  EXPECT_LT(error().item<double>(), before * 0.1) << "scale " << scale.item<float>();
  // lo/hi and Params() follow the learned scale; the zero point stays.
  const AffineParams p = q.Params();
  EXPECT_FLOAT_EQ(p.scale.item<float>(), scale.item<float>());
  EXPECT_EQ(p.zero_point.item<int>(), 0);
  EXPECT_NEAR(q.hi().item<float>(), 15 * scale.item<float>(), 1e-5);
  // A frozen copy built from lo/hi (what a model file stores) quantizes alike.
  ActivationQuantizer frozen(4);
  frozen.SetRange(q.lo(), q.hi());
  EXPECT_TRUE(torch::allclose(frozen.Apply(x), q.Apply(x).detach(), 0, 1e-5));
}

TEST(ActivationQuantizerTest, NothingObservedIsIdentity) {
  ActivationQuantizer q(2);
  q.set_observing(false);
  const torch::Tensor x = torch::randn({4});
  EXPECT_TRUE(torch::equal(q.Apply(x), x));
}

TEST(QuantBitsTest, ParsesAndRejects) {
  for (const auto& [text, w, a] :
       {std::tuple{"w8a8", 8, 8}, {"w4a4", 4, 4}, {"w4a8", 4, 8}, {"w6a6", 6, 6}, {"w2a8", 2, 8}}) {
    const absl::StatusOr<QuantBits> bits = ParseQuantBits(text);
    ASSERT_TRUE(bits.ok()) << text;
    EXPECT_EQ(bits->weight, w);
    EXPECT_EQ(bits->activation, a);
    EXPECT_EQ(QuantBitsName(*bits), text);
  }
  for (const char* bad : {"", "w4", "4a4", "w9a4", "w4a1", "w1a8", "wxa4", "w4a4x", "a4w4"}) {
    EXPECT_FALSE(ParseQuantBits(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace qf::quant
