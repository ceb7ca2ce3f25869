#include "core/eval/tar_bootstrap.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/eval/roc.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

// Gaussian scores: same pairs N(separation, 1), different pairs N(0, 1).
std::vector<ScoredPair> GaussianPairs(int num_same, int num_different, double separation,
                                      std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<ScoredPair> pairs;
  for (int i = 0; i < num_same; ++i) pairs.push_back({separation + noise(random), true, 1});
  for (int i = 0; i < num_different; ++i) pairs.push_back({noise(random), false, 1});
  return pairs;
}

double PointTar(const std::vector<ScoredPair>& pairs, double far) {
  return ComputeTarAtFar(*ComputeRoc(pairs), far).tar;
}

TEST(TarBootstrapTest, SeparatedClassesHaveNoUncertainty) {
  std::vector<ScoredPair> pairs;
  for (int i = 0; i < 100; ++i) {
    pairs.push_back({0.9 + i * 1e-3, true, 1});
    pairs.push_back({0.1 + i * 1e-3, false, 1});
  }
  const auto intervals = BootstrapTarAtFar(pairs, std::vector<double>{0.01}, {200, 0.95, 7});
  ASSERT_TRUE(intervals.ok()) << intervals.status();
  ASSERT_EQ(intervals->size(), 1u);
  EXPECT_DOUBLE_EQ((*intervals)[0].low, 1.0);
  EXPECT_DOUBLE_EQ((*intervals)[0].high, 1.0);
  EXPECT_EQ((*intervals)[0].resamples, 200);
}

// LFW's shape: 3,000 pairs of each class, where TAR@1e-3 rests on the three
// highest impostor scores. The interval holds the point estimate, is several
// points wide, and narrows with ten times the pairs.
TEST(TarBootstrapTest, IntervalHoldsThePointEstimateAndNarrowsWithMorePairs) {
  const std::vector<double> targets = {1e-2, 1e-3};
  const std::vector<ScoredPair> lfw_sized = GaussianPairs(3000, 3000, 4.0, 11);
  const auto small = BootstrapTarAtFar(lfw_sized, targets);
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_EQ(small->size(), 2u);
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const double tar = PointTar(lfw_sized, targets[k]);
    EXPECT_LE((*small)[k].low, tar) << targets[k];
    EXPECT_GE((*small)[k].high, tar) << targets[k];
    EXPECT_GE((*small)[k].low, 0.0);
    EXPECT_LE((*small)[k].high, 1.0);
    EXPECT_DOUBLE_EQ((*small)[k].far_target, targets[k]);
    EXPECT_DOUBLE_EQ((*small)[k].confidence, 0.95);
  }
  const double small_width = (*small)[1].high - (*small)[1].low;
  EXPECT_GT(small_width, 0.03);  // TAR is about 0.83 here; a few points either way.
  EXPECT_GT(small_width, (*small)[0].high - (*small)[0].low);  // 1e-2 rests on 30 scores.

  const auto large = BootstrapTarAtFar(GaussianPairs(30000, 30000, 4.0, 12), targets);
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_LT((*large)[1].high - (*large)[1].low, small_width / 2);
}

TEST(TarBootstrapTest, SameSeedSameIntervalOtherSeedOther) {
  const std::vector<ScoredPair> pairs = GaussianPairs(500, 500, 2.5, 3);
  const std::vector<double> targets = {1e-2};
  const auto a = BootstrapTarAtFar(pairs, targets, {300, 0.9, 5});
  const auto b = BootstrapTarAtFar(pairs, targets, {300, 0.9, 5});
  const auto c = BootstrapTarAtFar(pairs, targets, {300, 0.9, 6});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ((*a)[0].low, (*b)[0].low);
  EXPECT_EQ((*a)[0].high, (*b)[0].high);
  EXPECT_TRUE((*a)[0].low != (*c)[0].low || (*a)[0].high != (*c)[0].high);
}

TEST(TarBootstrapTest, BadInputIsInvalidArgument) {
  const std::vector<ScoredPair> pairs = GaussianPairs(50, 50, 2.0, 1);
  const std::vector<double> targets = {1e-2};
  EXPECT_EQ(BootstrapTarAtFar(pairs, targets, {0, 0.95, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BootstrapTarAtFar(pairs, targets, {10, 1.0, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BootstrapTarAtFar(pairs, std::vector<double>{0.0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<ScoredPair> one_class = GaussianPairs(50, 0, 2.0, 1);
  EXPECT_EQ(BootstrapTarAtFar(one_class, targets).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<ScoredPair> nan_score = pairs;
  nan_score[3].score = std::nan("");
  EXPECT_EQ(BootstrapTarAtFar(nan_score, targets).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::eval
