#include "core/eval/embedding_spread.h"

#include "gtest/gtest.h"

#include <cmath>

namespace qf::eval {
namespace {

TEST(MeanPairwiseCosineTest, MatchesTheMeanOfTheOffDiagonalCosines) {
  torch::manual_seed(4);
  const torch::Tensor embeddings = torch::randn({9, 5}) + 0.7;  // Alike, not one direction.
  const torch::Tensor unit = torch::nn::functional::normalize(
      embeddings.to(torch::kDouble), torch::nn::functional::NormalizeFuncOptions().dim(1));
  const torch::Tensor cosines = unit.matmul(unit.t());
  const double expected = ((cosines.sum() - cosines.diagonal().sum()) / (9.0 * 8.0)).item<double>();
  const absl::StatusOr<double> spread = MeanPairwiseCosine(embeddings);
  ASSERT_TRUE(spread.ok()) << spread.status();
  EXPECT_NEAR(*spread, expected, 1e-12);
  EXPECT_GT(*spread, 0.1);
  EXPECT_LT(*spread, 0.99);
}

TEST(MeanPairwiseCosineTest, IsOneForOneDirectionAndLowForOpposites) {
  // Lengths do not matter: one direction at any scale is one identity.
  const torch::Tensor same =
      torch::tensor({1.0, 2.0, 3.0, 0.5}).view({4, 1}) * torch::tensor({0.6, 0.8}).view({1, 2});
  const absl::StatusOr<double> one = MeanPairwiseCosine(same);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_NEAR(*one, 1.0, 1e-12);
  // Two opposite pairs: each row has one partner at +1 and two at -1.
  const torch::Tensor opposite = torch::tensor({{1.0, 0.0}, {2.0, 0.0}, {-1.0, 0.0}, {-3.0, 0.0}});
  const absl::StatusOr<double> low = MeanPairwiseCosine(opposite);
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_NEAR(*low, -1.0 / 3.0, 1e-12);
}

TEST(MeanPairwiseCosineTest, RefusesWhatHasNoPairsOrNoDirection) {
  EXPECT_EQ(MeanPairwiseCosine(torch::ones({1, 4})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeanPairwiseCosine(torch::ones({4})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeanPairwiseCosine(torch::zeros({3, 4})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::eval
