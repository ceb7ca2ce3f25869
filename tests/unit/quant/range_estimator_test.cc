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

}  // namespace
}  // namespace qf::quant
