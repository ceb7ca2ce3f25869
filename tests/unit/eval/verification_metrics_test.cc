#include "core/eval/verification_metrics.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "core/eval/roc.h"
#include "core/eval/threshold_search.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

std::vector<ScoredPair> Pairs(const std::vector<double>& same, const std::vector<double>& different,
                              int fold = 1) {
  std::vector<ScoredPair> pairs;
  for (const double s : same) pairs.push_back({s, true, fold});
  for (const double s : different) pairs.push_back({s, false, fold});
  return pairs;
}

TEST(ThresholdSearchTest, PerfectSeparationPicksTheMidpoint) {
  const absl::StatusOr<ThresholdChoice> best =
      BestAccuracyThreshold(Pairs({0.9, 0.8, 0.7}, {0.3, 0.2, 0.1}));
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_DOUBLE_EQ(best->accuracy, 1.0);
  EXPECT_DOUBLE_EQ(best->threshold, 0.5);
}

TEST(ThresholdSearchTest, TiesMoveTogetherAndTheHighestBestThresholdWins) {
  // Accepting {0.9} or {0.9, 0.5, 0.5} both give 3 of 4 right; the tied 0.5
  // scores cannot be split.
  const absl::StatusOr<ThresholdChoice> best = BestAccuracyThreshold(Pairs({0.9, 0.5}, {0.5, 0.1}));
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_DOUBLE_EQ(best->accuracy, 0.75);
  EXPECT_DOUBLE_EQ(best->threshold, 0.7);
}

TEST(ThresholdSearchTest, AcceptAllAndAcceptNone) {
  absl::StatusOr<ThresholdChoice> best = BestAccuracyThreshold(Pairs({0.2, 0.4}, {}));
  ASSERT_TRUE(best.ok());
  EXPECT_DOUBLE_EQ(best->accuracy, 1.0);
  EXPECT_DOUBLE_EQ(best->threshold, 0.2);
  best = BestAccuracyThreshold(Pairs({}, {0.2, 0.4}));
  ASSERT_TRUE(best.ok());
  EXPECT_DOUBLE_EQ(best->accuracy, 1.0);
  EXPECT_GT(best->threshold, 0.4);
  EXPECT_DOUBLE_EQ(AccuracyAt(Pairs({}, {0.2, 0.4}), best->threshold), 1.0);
}

TEST(ThresholdSearchTest, ScoreEqualToThresholdIsSame) {
  EXPECT_DOUBLE_EQ(AccuracyAt(Pairs({0.5}, {0.4}), 0.5), 1.0);
  EXPECT_DOUBLE_EQ(AccuracyAt(Pairs({0.5}, {0.5}), 0.5), 0.5);
}

TEST(ThresholdSearchTest, RejectsEmptyAndNonFinite) {
  EXPECT_EQ(BestAccuracyThreshold({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BestAccuracyThreshold(Pairs({std::nan("")}, {0.1})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RocTest, TiedScoresShareOnePoint) {
  const absl::StatusOr<RocCurve> roc = ComputeRoc(Pairs({0.9, 0.5}, {0.5, 0.1}));
  ASSERT_TRUE(roc.ok()) << roc.status();
  ASSERT_EQ(roc->points.size(), 4u);
  EXPECT_GT(roc->points[0].threshold, 0.9);
  EXPECT_EQ(roc->points[0].far, 0);
  EXPECT_EQ(roc->points[0].tar, 0);
  EXPECT_DOUBLE_EQ(roc->points[1].threshold, 0.9);
  EXPECT_DOUBLE_EQ(roc->points[1].tar, 0.5);
  EXPECT_DOUBLE_EQ(roc->points[2].threshold, 0.5);
  EXPECT_DOUBLE_EQ(roc->points[2].far, 0.5);
  EXPECT_DOUBLE_EQ(roc->points[2].tar, 1.0);
  EXPECT_DOUBLE_EQ(roc->points[3].far, 1.0);
  // Mann-Whitney with ties as 1/2: (1 + 1 + 0.5 + 1) / 4.
  EXPECT_DOUBLE_EQ(RocAuc(*roc), 0.875);
}

TEST(RocTest, PerfectSeparationHasAucOne) {
  const absl::StatusOr<RocCurve> roc = ComputeRoc(Pairs({0.9, 0.8}, {0.3, 0.1}));
  ASSERT_TRUE(roc.ok());
  EXPECT_DOUBLE_EQ(RocAuc(*roc), 1.0);
}

// 1000 different pairs at 0.000, 0.001, ..., 0.999; 100 same pairs: 50 above
// every different pair, 30 between the 11th and 10th highest, 20 low.
std::vector<ScoredPair> KnownTarSet() {
  std::vector<double> different;
  for (int i = 0; i < 1000; ++i) different.push_back(i / 1000.0);
  std::vector<double> same(50, 0.9995);
  same.insert(same.end(), 30, 0.9895);
  same.insert(same.end(), 20, 0.5);
  return Pairs(same, different);
}

TEST(RocTest, KnownTarAtFar) {
  const absl::StatusOr<RocCurve> roc = ComputeRoc(KnownTarSet());
  ASSERT_TRUE(roc.ok()) << roc.status();
  // FAR <= 1e-2 allows 10 false accepts: down to 0.9895 (d_990..d_999).
  TarAtFar t = ComputeTarAtFar(*roc, 1e-2);
  EXPECT_TRUE(t.measurable);
  EXPECT_DOUBLE_EQ(t.tar, 0.8);
  EXPECT_DOUBLE_EQ(t.far, 0.01);
  EXPECT_DOUBLE_EQ(t.threshold, 0.9895);
  // FAR <= 1e-3 allows one: down to 0.999.
  t = ComputeTarAtFar(*roc, 1e-3);
  EXPECT_TRUE(t.measurable);
  EXPECT_DOUBLE_EQ(t.tar, 0.5);
  EXPECT_DOUBLE_EQ(t.far, 0.001);
  EXPECT_DOUBLE_EQ(t.threshold, 0.999);
  // 1e-4 of 1000 is under one pair: only FAR = 0 qualifies.
  t = ComputeTarAtFar(*roc, 1e-4);
  EXPECT_FALSE(t.measurable);
  EXPECT_DOUBLE_EQ(t.tar, 0.5);
  EXPECT_EQ(t.far, 0);
  EXPECT_DOUBLE_EQ(t.threshold, 0.9995);
}

TEST(RocTest, TieGroupOverTheFarBudgetIsExcludedWhole) {
  // 100 different pairs, two of them tied at 0.99 with ten same pairs. FAR
  // 1e-2 allows one false accept, so the whole 0.99 group stays rejected.
  std::vector<double> different;
  for (int i = 0; i < 98; ++i) different.push_back(i / 100.0);
  different.push_back(0.99);
  different.push_back(0.99);
  std::vector<double> same(10, 0.995);
  same.insert(same.end(), 10, 0.99);
  const absl::StatusOr<RocCurve> roc = ComputeRoc(Pairs(same, different));
  ASSERT_TRUE(roc.ok());
  const TarAtFar t = ComputeTarAtFar(*roc, 1e-2);
  EXPECT_DOUBLE_EQ(t.tar, 0.5);
  EXPECT_EQ(t.far, 0);
  EXPECT_DOUBLE_EQ(t.threshold, 0.995);
}

TEST(RocTest, SubsampleKeepsEndsAndOrder) {
  const absl::StatusOr<RocCurve> roc = ComputeRoc(KnownTarSet());
  ASSERT_TRUE(roc.ok());
  const std::vector<RocPoint> few = SubsampleRoc(*roc, 20);
  ASSERT_GE(few.size(), 3u);
  EXPECT_LE(few.size(), 22u);
  EXPECT_EQ(few.front().far, 0);
  EXPECT_EQ(few.back().far, 1);
  EXPECT_EQ(few.back().tar, 1);
  for (std::size_t i = 1; i < few.size(); ++i) {
    EXPECT_LT(few[i].threshold, few[i - 1].threshold);
    EXPECT_GE(few[i].far, few[i - 1].far);
    EXPECT_GE(few[i].tar, few[i - 1].tar);
  }
  // The TAR@FAR = 0 point (threshold 0.9995) is kept.
  EXPECT_DOUBLE_EQ(few[1].threshold, 0.9995);
}

TEST(RocTest, RejectsMissingClassOrNonFiniteScore) {
  EXPECT_THAT(ComputeRoc(Pairs({0.5}, {})).status().message(), HasSubstr("0 different"));
  EXPECT_EQ(ComputeRoc(Pairs({0.5}, {std::numeric_limits<double>::infinity()})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Folds 1..9: same {0.6, 0.8}, different {0.2, 0.4}. Fold 10 overlaps:
// same {0.45, 0.8}, different {0.2, 0.55}.
std::vector<ScoredPair> TenFoldSet() {
  std::vector<ScoredPair> pairs;
  for (int fold = 1; fold <= 9; ++fold) {
    const std::vector<ScoredPair> f = Pairs({0.6, 0.8}, {0.2, 0.4}, fold);
    pairs.insert(pairs.end(), f.begin(), f.end());
  }
  const std::vector<ScoredPair> f = Pairs({0.45, 0.8}, {0.2, 0.55}, 10);
  pairs.insert(pairs.end(), f.begin(), f.end());
  return pairs;
}

TEST(VerificationMetricsTest, TenFoldUsesThresholdsFromTheOtherFolds) {
  const absl::StatusOr<VerificationMetrics> m = ComputeVerificationMetrics(TenFoldSet());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->folds.size(), 10u);
  for (int k = 0; k < 9; ++k) {
    // Training set = 8 clean folds + fold 10: best split at 0.6 | 0.55.
    EXPECT_EQ(m->folds[k].fold, k + 1);
    EXPECT_EQ(m->folds[k].num_pairs, 4);
    EXPECT_DOUBLE_EQ(m->folds[k].threshold, 0.575);
    EXPECT_DOUBLE_EQ(m->folds[k].accuracy, 1.0);
  }
  // Fold 10 is judged with the clean folds' threshold 0.5: half wrong.
  EXPECT_DOUBLE_EQ(m->folds[9].threshold, 0.5);
  EXPECT_DOUBLE_EQ(m->folds[9].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m->accuracy_mean, 0.95);
  EXPECT_NEAR(m->accuracy_std, 0.15, 1e-12);  // Population: sqrt(0.225 / 10).
  EXPECT_NEAR(m->accuracy_std_sample, std::sqrt(0.225 / 9), 1e-12);
  EXPECT_EQ(m->num_pairs, 40);
  EXPECT_EQ(m->num_same, 20);
  EXPECT_EQ(m->num_different, 20);
  // Over all pairs the 0.6 | 0.55 split errs only on fold 10's 0.45 same pair.
  EXPECT_DOUBLE_EQ(m->best.accuracy, 39.0 / 40.0);
  EXPECT_DOUBLE_EQ(m->best.threshold, 0.575);
  ASSERT_EQ(m->tar_at_far.size(), 3u);
  EXPECT_EQ(m->tar_at_far[0].far_target, 1e-2);
  EXPECT_FALSE(m->tar_at_far[0].measurable);  // 20 different pairs.
}

TEST(VerificationMetricsTest, PerfectSeparationEverywhere) {
  std::vector<ScoredPair> pairs;
  for (int fold = 1; fold <= 10; ++fold) {
    for (int i = 0; i < 300; ++i) {
      pairs.push_back({0.5 + i / 1000.0, true, fold});
      pairs.push_back({-0.5 + i / 1000.0, false, fold});
    }
  }
  const absl::StatusOr<VerificationMetrics> m = ComputeVerificationMetrics(pairs);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->accuracy_mean, 1.0);
  EXPECT_DOUBLE_EQ(m->accuracy_std, 0.0);
  EXPECT_DOUBLE_EQ(m->auc, 1.0);
  EXPECT_TRUE(m->tar_at_far[0].measurable);
  EXPECT_TRUE(m->tar_at_far[1].measurable);
  EXPECT_FALSE(m->tar_at_far[2].measurable);
  for (const TarAtFar& t : m->tar_at_far) EXPECT_DOUBLE_EQ(t.tar, 1.0);
}

TEST(VerificationMetricsTest, RejectsBadInput) {
  EXPECT_THAT(ComputeVerificationMetrics(Pairs({0.9}, {0.1}, 1)).status().message(),
              HasSubstr("at least 2 folds"));
  MetricsOptions options;
  options.far_targets = {0.0};
  EXPECT_EQ(ComputeVerificationMetrics(TenFoldSet(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::eval
