#include "core/quant/learned_rounding.h"

#include <gtest/gtest.h>

namespace qf::quant {
namespace {

// A 4-bit grid of step 1/8 per channel with zero point 8 (levels -1 ..
// 0.875; binary fractions, so positions on it are exact), and weights whose
// positions on it are known.
class LearnedRoundingTest : public ::testing::Test {
 protected:
  const AffineParams grid{torch::full({2}, 0.125f), torch::full({2}, 8, torch::kInt)};
  // Channel 0: 0.29 (level 10.32), -0.575 (3.4), 0.0875 (8.7); channel 1:
  // 0.625 (13, on a level), 2.05 (24.4, beyond the range: clamps to 15),
  // -0.6375 (2.9).
  const torch::Tensor weight =
      torch::tensor({{0.29f, -0.575f, 0.0875f}, {0.625f, 2.05f, -0.6375f}});
};

TEST_F(LearnedRoundingTest, StartsAtTheWeightsAndDecidesLikeNearestRounding) {
  const LearnedRounding rounding(weight, grid, QuantMax(4));
  ASSERT_EQ(rounding.logits().sizes(), weight.sizes());
  EXPECT_TRUE(rounding.logits().requires_grad());
  const torch::Tensor soft = rounding.Quantized(/*soft=*/true);
  // Inside the range the soft weights are the weights; beyond it, the end.
  EXPECT_TRUE(torch::allclose(
      soft, torch::tensor({{0.29f, -0.575f, 0.0875f}, {0.625f, 0.875f, -0.6375f}}), 1e-5, 1e-6));
  const torch::Tensor nearest = torch::fake_quantize_per_channel_affine(
      weight, grid.scale, grid.zero_point, /*axis=*/0, 0, 15);
  EXPECT_TRUE(torch::allclose(rounding.Quantized(/*soft=*/false), nearest, 0, 1e-6));
  const RoundingCounts counts = rounding.Counts();
  EXPECT_EQ(counts.weights, 6);
  EXPECT_EQ(counts.away_from_nearest, 0);
  // 0.625 sits on a level (h = 0); 2.05's lower level is far beyond the
  // grid, but its h is still strictly inside (0, 1).
  EXPECT_EQ(counts.undecided, 5);
}

TEST_F(LearnedRoundingTest, LogitsChooseUpOrDownAndTheGridClampsBoth) {
  LearnedRounding rounding(weight, grid, QuantMax(4));
  {
    torch::NoGradGuard no_grad;
    rounding.logits().fill_(10.0);  // h = 1: every weight rounds up.
  }
  EXPECT_TRUE(torch::allclose(rounding.Quantized(/*soft=*/false),
                              torch::tensor({{0.375f, -0.5f, 0.125f}, {0.75f, 0.875f, -0.625f}}), 0,
                              1e-6));
  // Soft and decided agree once h is 0 or 1.
  EXPECT_TRUE(torch::allclose(rounding.Quantized(true), rounding.Quantized(false), 0, 1e-6));
  RoundingCounts counts = rounding.Counts();
  EXPECT_EQ(counts.undecided, 0);
  // Away from nearest: the fractions under 0.5 (10.32 -> 11, 3.4 -> 4) and
  // the weight on a level (13 -> 14); 8.7, 2.9 and the clamped one agree.
  EXPECT_EQ(counts.away_from_nearest, 3);
  {
    torch::NoGradGuard no_grad;
    rounding.logits().fill_(-10.0);  // h = 0: every weight rounds down.
  }
  EXPECT_TRUE(torch::allclose(rounding.Quantized(/*soft=*/false),
                              torch::tensor({{0.25f, -0.625f, 0.0f}, {0.625f, 0.875f, -0.75f}}), 0,
                              1e-6));
  counts = rounding.Counts();
  EXPECT_EQ(counts.away_from_nearest, 2);  // 8.7 -> 8 and 2.9 -> 2.
}

TEST_F(LearnedRoundingTest, RegularizerVanishesWhenDecidedAndPushesTowardsTheNearerEnd) {
  LearnedRounding rounding(weight, grid, QuantMax(4));
  const torch::Tensor undecided = rounding.Regularizer(2.0);
  EXPECT_GT(undecided.item<double>(), 0.0);
  undecided.backward();
  const torch::Tensor gradient = rounding.logits().grad();
  // Descent raises h where it is above 0.5 (8.7, 2.9) and lowers it below
  // (10.32, 3.4).
  EXPECT_LT(gradient[0][2].item<double>(), 0.0);
  EXPECT_LT(gradient[1][2].item<double>(), 0.0);
  EXPECT_GT(gradient[0][0].item<double>(), 0.0);
  EXPECT_GT(gradient[0][1].item<double>(), 0.0);
  {
    torch::NoGradGuard no_grad;
    rounding.logits().fill_(10.0);
  }
  EXPECT_DOUBLE_EQ(rounding.Regularizer(2.0).item<double>(), 0.0);
}

TEST_F(LearnedRoundingTest, SoftWeightsPassGradientToTheLogitsOnly) {
  const torch::Tensor latent = weight.clone().set_requires_grad(true);
  const LearnedRounding rounding(latent, grid, QuantMax(4));
  rounding.Quantized(/*soft=*/true).sum().backward();
  EXPECT_FALSE(latent.grad().defined());
  const torch::Tensor gradient = rounding.logits().grad();
  ASSERT_TRUE(gradient.defined());
  EXPECT_GT(gradient[0][0].item<double>(), 0.0);
  EXPECT_EQ(gradient[1][1].item<double>(), 0.0);  // Clamped at the grid's end.
}

}  // namespace
}  // namespace qf::quant
