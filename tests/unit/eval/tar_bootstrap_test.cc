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

// LFW's shape: 3,000 pairs of each class. The interval holds the point
// estimate; TAR@1e-3, which rests on the three highest impostor scores, has
// a wider one than TAR@1e-2 (thirty scores); and ten times the pairs narrow
// TAR@1e-2's interval by about sqrt(10).
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
  const double width_1e2 = (*small)[0].high - (*small)[0].low;
  EXPECT_GT((*small)[1].high - (*small)[1].low, width_1e2);

  const auto large =
      BootstrapTarAtFar(GaussianPairs(30000, 30000, 4.0, 12), targets, {200, 0.95, 1});
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_LT((*large)[0].high - (*large)[0].low, 0.6 * width_1e2);
}

// What a 90 % interval means: over independent samples of the same score
// distributions it holds the true TAR (known in closed form for Gaussian
// scores) about 90 % of the time. At FAR 1e-2 with 1,000 different pairs
// (ten impostors above the threshold) the percentile bootstrap does.
TEST(TarBootstrapTest, IntervalCoversTheTrueTar) {
  const double separation = 3.0;
  const double far = 1e-2;
  const double z = 2.3263478740408408;  // The standard normal's 99th percentile.
  const double true_tar = 0.5 * std::erfc(-(separation - z) / std::sqrt(2.0));
  int covered = 0;
  const int samples = 40;
  for (int s = 0; s < samples; ++s) {
    const auto interval = BootstrapTarAtFar(GaussianPairs(1000, 1000, separation, 100 + s),
                                            std::vector<double>{far}, {200, 0.9, 1});
    ASSERT_TRUE(interval.ok()) << interval.status();
    if ((*interval)[0].low <= true_tar && true_tar <= (*interval)[0].high) ++covered;
  }
  EXPECT_GE(covered, 30) << "of " << samples;  // 36 expected; 30 is about 3 sd below.
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
