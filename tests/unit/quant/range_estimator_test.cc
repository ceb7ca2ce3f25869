#include "core/quant/range_estimator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/quant/activation_quantizer.h"
#include "core/quant/affine.h"

namespace qf::quant {
namespace {

double QuantizationError(const torch::Tensor& x, const torch::Tensor& lo, const torch::Tensor& hi,
                         int bits) {
  return (FakeQuantizePerTensor(x, ComputeAffineParams(lo, hi, bits), bits) - x)
      .square()
      .mean()
      .item<double>();
}

// Post-ReLU-like activations: a dense bulk in [0, 1] and rare values up to 8.
torch::Tensor HeavyTailed() {
  torch::manual_seed(3);
  torch::Tensor x = torch::rand({4096});
  x.index_put_({torch::indexing::Slice(0, 8)}, torch::linspace(4, 8, 8));
  return x;
}

TEST(RangeEstimatorTest, NamesRoundTripAndUnknownOnesAreRefused) {
  for (const RangeEstimator e : {RangeEstimator::kMinMax, RangeEstimator::kMse}) {
    const auto parsed = ParseRangeEstimator(RangeEstimatorName(e));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, e);
  }
  const auto bad = ParseRangeEstimator("percentile");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("minmax or mse"), std::string::npos);
}

TEST(RangeEstimatorTest, MinMaxIsTheBatchMinAndMax) {
  const torch::Tensor x = HeavyTailed() - 0.5;
  const auto [lo, hi] = EstimateBatchRange(x, 4, RangeEstimator::kMinMax);
  EXPECT_FLOAT_EQ(lo.item<float>(), x.min().item<float>());
  EXPECT_FLOAT_EQ(hi.item<float>(), x.max().item<float>());
}

TEST(RangeEstimatorTest, MseClipsRareOutliersAndCutsTheError) {
  const torch::Tensor x = HeavyTailed();
  const auto [lo, hi] = EstimateBatchRange(x, 4, RangeEstimator::kMse);
  EXPECT_FLOAT_EQ(lo.item<float>(), x.min().item<float>());  // Nothing to clip below.
  EXPECT_LT(hi.item<float>(), 0.8f * 8.0f);
  EXPECT_GE(hi.item<float>(), 0.3f * 8.0f - 1e-5f);  // The smallest factor searched.
  EXPECT_LT(QuantizationError(x, lo, hi, 4), 0.7 * QuantizationError(x, x.min(), x.max(), 4));
}

TEST(RangeEstimatorTest, MseKeepsZeroInsideASignedRangeAndNeverWidens) {
  const torch::Tensor x = torch::cat({-HeavyTailed(), HeavyTailed()});
  const auto [lo, hi] = EstimateBatchRange(x, 4, RangeEstimator::kMse);
  EXPECT_LT(lo.item<float>(), 0.f);
  EXPECT_GT(hi.item<float>(), 0.f);
  EXPECT_GE(lo.item<float>(), x.min().item<float>());
  EXPECT_LE(hi.item<float>(), x.max().item<float>());
}

TEST(RangeEstimatorTest, MseKeepsAnEvenlyFilledRangeAtEightBits) {
  // Uniform values leave nothing worth clipping, and 8 bits make clipping
  // cost more than the finer grid saves.
  const torch::Tensor x = torch::linspace(0, 1, 100000);
  const auto [lo, hi] = EstimateBatchRange(x, 8, RangeEstimator::kMse);
  EXPECT_FLOAT_EQ(hi.item<float>(), 1.0f);
}

TEST(RangeEstimatorTest, MseScoresLargeBatchesOnASubsetButTakesMinMaxFromAll) {
  // Three million values: the strided subset skips most, yet the search
  // must still start from the full batch's extremes.
  torch::Tensor x = torch::rand({3 << 20}) * 0.1;
  x.index_put_({1}, -5.0);
  x.index_put_({2}, 5.0);
  const auto [lo, hi] = EstimateBatchRange(x, 4, RangeEstimator::kMse);
  EXPECT_LE(lo.item<float>(), -5.0f * 0.3f + 1e-5f);
  EXPECT_LT(lo.item<float>(), 0.f);
}

TEST(RangeEstimatorTest, ActivationQuantizerTracksTheClippedRange) {
  const torch::Tensor x = HeavyTailed();
  ActivationQuantizer min_max(4);
  ActivationQuantizer mse(4, 0.9, RangeEstimator::kMse);
  min_max.Apply(x);
  mse.Apply(x);
  EXPECT_FLOAT_EQ(min_max.hi().item<float>(), 8.0f);
  EXPECT_LT(mse.hi().item<float>(), 0.8f * 8.0f);
  EXPECT_LT((mse.Apply(x) - x).square().mean().item<double>(),
            (min_max.Apply(x) - x).square().mean().item<double>());
}

// Per-channel weight error of a clip (undefined = min/max) under `scheme`.
torch::Tensor ChannelErrors(const torch::Tensor& w, int bits, WeightScheme scheme,
                            const torch::Tensor& clip) {
  const AffineParams p = PerChannelWeightParams(w, bits, scheme, clip);
  return (torch::fake_quantize_per_channel_affine(w, p.scale, p.zero_point, 0, 0, QuantMax(bits)) -
          w)
      .square()
      .flatten(1)
      .sum(1);
}

TEST(WeightClipTest, MinMaxIsOneForEveryChannelAndMatchesTheUnclippedParams) {
  torch::manual_seed(8);
  const torch::Tensor w = torch::randn({6, 3, 3, 3});
  for (const WeightScheme scheme : {WeightScheme::kAsymmetric, WeightScheme::kSymmetric}) {
    const torch::Tensor clip = EstimateWeightClip(w, 4, scheme, RangeEstimator::kMinMax);
    EXPECT_TRUE(torch::equal(clip, torch::ones({6})));
    const AffineParams clipped = PerChannelWeightParams(w, 4, scheme, clip);
    const AffineParams plain = PerChannelWeightParams(w, 4, scheme);
    EXPECT_TRUE(torch::equal(clipped.scale, plain.scale));
    EXPECT_TRUE(torch::equal(clipped.zero_point, plain.zero_point));
  }
}

TEST(WeightClipTest, MseClipsEachChannelOnItsOwnAndNeverRaisesItsError) {
  // Channel 0 is Gaussian (sigma 0.1) with two outliers near 10 sigma,
  // channel 1 evenly filled: at 4 bits the first is worth clipping (the
  // outliers' own error costs less than the coarse step would), the second
  // barely.
  torch::manual_seed(9);
  torch::Tensor w = torch::randn({2, 64, 3, 3}) * 0.1;
  w.index_put_({0, 0, 0, 0}, 1.0);
  w.index_put_({0, 0, 0, 1}, -0.8);
  w.index_put_({1}, torch::linspace(-1, 1, 64 * 9).view({64, 3, 3}));
  for (const WeightScheme scheme : {WeightScheme::kAsymmetric, WeightScheme::kSymmetric}) {
    const torch::Tensor clip = EstimateWeightClip(w, 4, scheme, RangeEstimator::kMse);
    ASSERT_EQ(clip.sizes(), torch::IntArrayRef({2}));
    EXPECT_LT(clip[0].item<float>(), 0.85f) << WeightSchemeName(scheme);
    EXPECT_GE(clip[0].item<float>(), 0.3f - 1e-6f);
    EXPECT_GE(clip[1].item<float>(), 0.85f) << WeightSchemeName(scheme);
    const torch::Tensor clipped_error = ChannelErrors(w, 4, scheme, clip);
    const torch::Tensor min_max_error = ChannelErrors(w, 4, scheme, torch::Tensor());
    EXPECT_LT(clipped_error[0].item<double>(), 0.85 * min_max_error[0].item<double>());
    EXPECT_LE(clipped_error[1].item<double>(), min_max_error[1].item<double>());
  }
}

TEST(WeightClipTest, SymmetricClipKeepsTheZeroPointInTheMiddle) {
  torch::manual_seed(10);
  torch::Tensor w = torch::randn({4, 32}) * 0.1;
  w.index_put_({torch::indexing::Slice(), 0}, 3.0);
  const torch::Tensor clip =
      EstimateWeightClip(w, 4, WeightScheme::kSymmetric, RangeEstimator::kMse);
  const AffineParams p = PerChannelWeightParams(w, 4, WeightScheme::kSymmetric, clip);
  EXPECT_TRUE(torch::equal(p.zero_point, torch::full({4}, 7, torch::kInt)));
  EXPECT_TRUE(torch::allclose(p.scale, 3.0 * clip / 7.0));
}

}  // namespace
}  // namespace qf::quant
