#include "core/eval/all_pairs_tar.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "core/eval/roc.h"
#include "core/eval/scored_pair.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

// Four images, two people in two groups. Scores (the zeros are exact: every
// product is of a zero; 0.8 and 0.6 up to rounding):
//   same:      A1-A2 0.8 (group 1), B1-B2 0 (group 2)
//   different: A2-B2 0.6, A1-B1 0, A1-B2 0, A2-B1 0
torch::Tensor FourImages() {
  return torch::tensor({{1.0, 0.0, 0.0}, {0.8, 0.6, 0.0}, {0.0, 0.0, 1.0}, {0.0, 1.0, 0.0}},
                       torch::kFloat64);
}
const std::vector<int> kFourIdentities = {0, 0, 1, 1};
const std::vector<int> kFourGroups = {1, 1, 2, 2};

// `images` noisy copies (float64) of a random centre per person; person p
// is in group p % groups.
struct Clustered {
  torch::Tensor embeddings;
  std::vector<int> identity, group;
};
Clustered ClusteredEmbeddings(int seed, int people, int images, int dim, double noise, int groups) {
  torch::manual_seed(seed);
  const torch::Tensor centres = torch::randn({people, dim}, torch::kFloat64);
  Clustered set;
  std::vector<torch::Tensor> rows;
  for (int p = 0; p < people; ++p) {
    for (int i = 0; i < images; ++i) {
      rows.push_back(centres[p] + noise * torch::randn({dim}, torch::kFloat64));
      set.identity.push_back(p);
      set.group.push_back(p % groups);
    }
  }
  set.embeddings = torch::stack(rows);
  return set;
}

TEST(AllPairsTarTest, CountsPairsAndRejectsTiesWithTheCutTogether) {
  const std::vector<double> targets = {1.0, 0.5, 0.25, 0.2};
  const auto result = ComputeAllPairsTar(FourImages(), kFourIdentities, kFourGroups, targets);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_images, 4);
  EXPECT_EQ(result->num_identities, 2);
  EXPECT_EQ(result->num_same, 2);
  EXPECT_EQ(result->num_different, 4);
  EXPECT_EQ(result->groups, (std::vector<int>{1, 2}));
  EXPECT_EQ(result->group_same, (std::vector<std::int64_t>{1, 1}));
  ASSERT_EQ(result->tar_at_far.size(), 4u);

  const AllPairsTarAtFar& all = result->tar_at_far[0];  // FAR 1: everything accepted.
  EXPECT_DOUBLE_EQ(all.tar, 1.0);
  EXPECT_EQ(all.false_accepts, 4);
  EXPECT_DOUBLE_EQ(all.threshold, 0.0);
  EXPECT_EQ(all.group_tar, (std::vector<double>{1.0, 1.0}));
  EXPECT_DOUBLE_EQ(all.standard_error, 0.0);

  // FAR 0.5 allows two false accepts, but the second and third highest
  // different scores tie at 0 with B's same pair: all three are rejected.
  for (const int t : {1, 2}) {
    const AllPairsTarAtFar& point = result->tar_at_far[static_cast<std::size_t>(t)];
    EXPECT_DOUBLE_EQ(point.tar, 0.5) << point.far_target;
    EXPECT_EQ(point.false_accepts, 1) << point.far_target;
    EXPECT_DOUBLE_EQ(point.far, 0.25) << point.far_target;
    EXPECT_NEAR(point.threshold, 0.6, 1e-6) << point.far_target;  // Lowest accepted: A2-B2.
    EXPECT_TRUE(point.measurable);
    EXPECT_EQ(point.group_tar, (std::vector<double>{1.0, 0.0}));
    EXPECT_NEAR(point.group_tar_sd, std::sqrt(0.5), 1e-12);
    EXPECT_NEAR(point.standard_error, 0.5, 1e-12);
  }
  const AllPairsTarAtFar& none = result->tar_at_far[3];  // 0.2 x 4 < 1 false accept.
  EXPECT_FALSE(none.measurable);
  EXPECT_EQ(none.false_accepts, 0);
  EXPECT_DOUBLE_EQ(none.tar, 0.5);
  EXPECT_NEAR(none.threshold, 0.8, 1e-6);
}

TEST(AllPairsTarTest, RatesAtGivenThresholdsCountScoresAtOrAboveThem) {
  // 0.6 (A2-B2, float32 rounding either side of it) is avoided as a cut.
  const std::vector<double> thresholds = {0.0, 0.5, 0.7, 0.9, -1.0};
  const auto result =
      ComputeAllPairsTar(FourImages(), kFourIdentities, kFourGroups, {1e-3}, thresholds);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->at_threshold.size(), thresholds.size());
  struct Expected {
    std::int64_t true_accepts, false_accepts;
  };
  // At 0 every score is accepted (a tie at the threshold is accepted); above
  // 0 only A1-A2 (0.8) and A2-B2 (0.6) remain; above 0.8 nothing.
  const std::vector<Expected> expected = {{2, 4}, {1, 1}, {1, 0}, {0, 0}, {2, 4}};
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    const AllPairsRatesAtThreshold& rates = result->at_threshold[i];
    EXPECT_DOUBLE_EQ(rates.threshold, thresholds[i]);
    EXPECT_EQ(rates.true_accepts, expected[i].true_accepts) << thresholds[i];
    EXPECT_EQ(rates.false_accepts, expected[i].false_accepts) << thresholds[i];
    EXPECT_DOUBLE_EQ(rates.tar, expected[i].true_accepts / 2.0) << thresholds[i];
    EXPECT_DOUBLE_EQ(rates.far, expected[i].false_accepts / 4.0) << thresholds[i];
  }
  // None asked, none computed.
  const auto plain = ComputeAllPairsTar(FourImages(), kFourIdentities, kFourGroups, {1e-3});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->at_threshold.empty());
}

// A threshold taken from a FAR target's operating point gives back that
// point's rates: the two directions agree.
TEST(AllPairsTarTest, RatesAtAnOperatingPointsThresholdAreThatPointsRates) {
  const Clustered set = ClusteredEmbeddings(/*seed=*/3, /*people=*/12, /*images=*/4, /*dim=*/6,
                                            /*noise=*/0.8, /*groups=*/2);
  const torch::Tensor& embeddings = set.embeddings;
  const std::vector<int>& identity = set.identity;
  const std::vector<int>& group = set.group;
  const std::vector<double> targets = {0.1, 0.01};
  const auto first = ComputeAllPairsTar(embeddings, identity, group, targets);
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<double> thresholds;
  for (const AllPairsTarAtFar& point : first->tar_at_far) thresholds.push_back(point.threshold);
  const auto second = ComputeAllPairsTar(embeddings, identity, group, targets, thresholds);
  ASSERT_TRUE(second.ok()) << second.status();
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const AllPairsTarAtFar& point = first->tar_at_far[t];
    const AllPairsRatesAtThreshold& rates = second->at_threshold[t];
    EXPECT_EQ(rates.true_accepts, point.true_accepts) << targets[t];
    EXPECT_EQ(rates.false_accepts, point.false_accepts) << targets[t];
    EXPECT_GT(rates.false_accepts, 0) << targets[t];  // Not a trivial point.
  }
}

// The same numbers as roc.h's TAR@FAR over the same pairs, on random
// embeddings with some structure (people are noisy copies of a centre).
TEST(AllPairsTarTest, AgreesWithTheRocOverEveryPair) {
  const Clustered set = ClusteredEmbeddings(/*seed=*/7, /*people=*/15, /*images=*/5, /*dim=*/8,
                                            /*noise=*/0.9, /*groups=*/3);
  const torch::Tensor& embeddings = set.embeddings;
  const std::vector<int>& identity = set.identity;
  const std::vector<int>& group = set.group;
  const std::vector<double> targets = {1.0, 0.1, 0.02, 0.005, 0.001};
  const auto result = ComputeAllPairsTar(embeddings, identity, group, targets);
  ASSERT_TRUE(result.ok()) << result.status();

  const torch::Tensor unit =
      embeddings / embeddings.norm(2, 1, /*keepdim=*/true);  // Reference scores in float64.
  const torch::Tensor scores = unit.matmul(unit.t());
  std::vector<ScoredPair> pairs;
  const int n = static_cast<int>(identity.size());
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      pairs.push_back({scores[i][j].item<double>(), identity[i] == identity[j], group[i]});
    }
  }
  const auto roc = ComputeRoc(pairs);
  ASSERT_TRUE(roc.ok());
  EXPECT_EQ(result->num_same, roc->num_same);
  EXPECT_EQ(result->num_different, roc->num_different);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const TarAtFar expected = ComputeTarAtFar(*roc, targets[t]);
    const AllPairsTarAtFar& got = result->tar_at_far[t];
    EXPECT_DOUBLE_EQ(got.tar, expected.tar) << targets[t];
    EXPECT_DOUBLE_EQ(got.far, expected.far) << targets[t];
    EXPECT_NEAR(got.threshold, expected.threshold, 1e-5) << targets[t];
    EXPECT_EQ(got.measurable, expected.measurable) << targets[t];
    // Each group's TAR at the pooled threshold.
    for (std::size_t g = 0; g < result->groups.size(); ++g) {
      int same = 0, accepted = 0;
      for (const ScoredPair& pair : pairs) {
        if (!pair.is_same || pair.fold != result->groups[g]) continue;
        ++same;
        accepted += pair.score >= expected.threshold - 1e-6 ? 1 : 0;
      }
      EXPECT_DOUBLE_EQ(got.group_tar[g], static_cast<double>(accepted) / same)
          << targets[t] << " group " << result->groups[g];
    }
  }
  // A TAR that the structure makes neither 0 nor 1, so the check has teeth.
  EXPECT_GT(result->tar_at_far[2].tar, 0.05);
  EXPECT_LT(result->tar_at_far[2].tar, 0.95);
}

// Across two models: pair {i, j}, i < j, scores row i of the enrolling
// model against row j of the probing one, and the rest is ComputeAllPairsTar.
TEST(AllPairsTarTest, CrossModelScoresTheEnrolledRowAgainstTheLaterProbeRow) {
  const Clustered set = ClusteredEmbeddings(/*seed=*/11, /*people=*/12, /*images=*/4, /*dim=*/6,
                                            /*noise=*/0.9, /*groups=*/3);
  torch::manual_seed(3);
  // A second model: the same images, each embedding moved a little.
  const torch::Tensor probes =
      set.embeddings + 0.3 * torch::randn(set.embeddings.sizes(), torch::kFloat64);
  const std::vector<double> targets = {0.1, 0.02, 0.005};
  const auto result =
      ComputeCrossModelAllPairsTar(set.embeddings, probes, set.identity, set.group, targets);
  ASSERT_TRUE(result.ok()) << result.status();

  const torch::Tensor enrolled_unit = set.embeddings / set.embeddings.norm(2, 1, true);
  const torch::Tensor probe_unit = probes / probes.norm(2, 1, true);
  const torch::Tensor scores = enrolled_unit.matmul(probe_unit.t());  // [enrolled, probe].
  std::vector<ScoredPair> pairs;
  std::vector<ScoredPair> reversed;  // Probe first: must give other numbers.
  const int n = static_cast<int>(set.identity.size());
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      const bool same = set.identity[i] == set.identity[j];
      pairs.push_back({scores[i][j].item<double>(), same, set.group[i]});
      reversed.push_back({scores[j][i].item<double>(), same, set.group[i]});
    }
  }
  const auto roc = ComputeRoc(pairs);
  const auto reversed_roc = ComputeRoc(reversed);
  ASSERT_TRUE(roc.ok() && reversed_roc.ok());
  bool differs_from_reversed = false;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const TarAtFar expected = ComputeTarAtFar(*roc, targets[t]);
    EXPECT_DOUBLE_EQ(result->tar_at_far[t].tar, expected.tar) << targets[t];
    EXPECT_NEAR(result->tar_at_far[t].threshold, expected.threshold, 1e-5) << targets[t];
    const TarAtFar other = ComputeTarAtFar(*reversed_roc, targets[t]);
    differs_from_reversed |= std::abs(other.threshold - expected.threshold) > 1e-4;
  }
  EXPECT_TRUE(differs_from_reversed);

  // One model given twice is ComputeAllPairsTar.
  const auto one = ComputeCrossModelAllPairsTar(set.embeddings, set.embeddings.clone(),
                                                set.identity, set.group, targets);
  const auto plain = ComputeAllPairsTar(set.embeddings, set.identity, set.group, targets);
  ASSERT_TRUE(one.ok() && plain.ok());
  for (std::size_t t = 0; t < targets.size(); ++t) {
    EXPECT_DOUBLE_EQ(one->tar_at_far[t].tar, plain->tar_at_far[t].tar);
    EXPECT_DOUBLE_EQ(one->tar_at_far[t].threshold, plain->tar_at_far[t].threshold);
  }

  const auto wrong = ComputeCrossModelAllPairsTar(FourImages(), FourImages().slice(1, 0, 2),
                                                  kFourIdentities, kFourGroups, targets);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("enrolled embeddings' shape"));
}

TEST(AllPairsTarTest, PairedDifferencesComeFromThePerGroupDifferences) {
  AllPairsTar model;
  model.groups = {1, 2, 3};
  model.group_same = {10, 10, 10};
  AllPairsTarAtFar point;
  point.far_target = 1e-3;
  point.measurable = true;
  point.tar = 0.80;
  point.group_tar = {0.90, 0.80, 0.70};
  model.tar_at_far = {point};
  AllPairsTar reference = model;
  reference.tar_at_far[0].tar = 0.85;
  reference.tar_at_far[0].group_tar = {0.95, 0.90, 0.70};

  const auto differences = PairedTarDifferences(model, reference);
  ASSERT_TRUE(differences.ok()) << differences.status();
  ASSERT_EQ(differences->size(), 1u);
  const PairedTarDifference& d = (*differences)[0];
  EXPECT_DOUBLE_EQ(d.far_target, 1e-3);
  EXPECT_NEAR(d.difference, -0.05, 1e-12);
  // Per-group differences -0.05, -0.10, 0: sd 0.05, over sqrt(3).
  EXPECT_NEAR(d.standard_error, 0.05 / std::sqrt(3.0), 1e-12);
  EXPECT_TRUE(d.measurable);

  reference.tar_at_far[0].measurable = false;
  EXPECT_FALSE((*PairedTarDifferences(model, reference))[0].measurable);
  reference.groups = {1, 2, 4};  // Other people: not paired.
  EXPECT_EQ(PairedTarDifferences(model, reference).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AllPairsTarTest, TopDifferentPairsAreTheHighestImpostorScores) {
  // FourImages' different pairs: A2-B2 (rows 1, 3) 0.6, then three at 0.
  const auto top = TopDifferentPairs(FourImages(), kFourIdentities, 2);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->size(), 2u);
  EXPECT_NEAR((*top)[0].score, 0.6, 1e-6);
  EXPECT_EQ((*top)[0].first, 1);
  EXPECT_EQ((*top)[0].second, 3);
  EXPECT_NEAR((*top)[1].score, 0.0, 1e-6);
  EXPECT_EQ((*top)[1].first, 0);  // A1-B1, the first of the ties at 0.
  EXPECT_EQ((*top)[1].second, 2);
  const auto all = TopDifferentPairs(FourImages(), kFourIdentities, 10);  // More than there are.
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);

  // On random embeddings: the same as sorting every different pair.
  const Clustered set = ClusteredEmbeddings(/*seed=*/5, /*people=*/10, /*images=*/3, /*dim=*/5,
                                            /*noise=*/0.8, /*groups=*/2);
  const torch::Tensor unit = set.embeddings / set.embeddings.norm(2, 1, /*keepdim=*/true);
  const torch::Tensor scores = unit.matmul(unit.t());
  std::vector<double> different;
  const int n = static_cast<int>(set.identity.size());
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      if (set.identity[i] != set.identity[j]) different.push_back(scores[i][j].item<double>());
    }
  }
  std::sort(different.rbegin(), different.rend());
  const auto top7 = TopDifferentPairs(set.embeddings, set.identity, 7);
  ASSERT_TRUE(top7.ok());
  ASSERT_EQ(top7->size(), 7u);
  for (std::size_t k = 0; k < 7; ++k) {
    EXPECT_NEAR((*top7)[k].score, different[k], 1e-5) << k;
    EXPECT_NE(set.identity[static_cast<std::size_t>((*top7)[k].first)],
              set.identity[static_cast<std::size_t>((*top7)[k].second)]);
  }
  EXPECT_EQ(TopDifferentPairs(FourImages(), kFourIdentities, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AllPairsTarTest, RefusesBadInput) {
  const std::vector<double> targets = {1e-3};
  const auto expect_invalid = [&](const torch::Tensor& e, const std::vector<int>& ids,
                                  const std::vector<int>& groups, const std::vector<double>& fars,
                                  const char* message) {
    const auto result = ComputeAllPairsTar(e, ids, groups, fars);
    ASSERT_FALSE(result.ok()) << message;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(message));
  };
  expect_invalid(torch::ones({1, 3}), {0}, {0}, targets, "N x D with N >= 2");
  expect_invalid(FourImages(), {0, 0, 1}, kFourGroups, targets, "4 rows but 3 identities");
  expect_invalid(FourImages(), kFourIdentities, {1, 1, 2, 1}, targets,
                 "identity 1 is in groups 2 and 1");
  expect_invalid(FourImages(), {0, 1, 2, 3}, kFourGroups, targets, "0 same and 6 different");
  expect_invalid(FourImages(), {0, 0, 0, 0}, {1, 1, 1, 1}, targets, "6 same and 0 different");
  expect_invalid(FourImages() * torch::tensor({1.0, 0.0, 1.0, 1.0}, torch::kFloat64).view({4, 1}),
                 kFourIdentities, kFourGroups, targets, "row 1 has norm zero");
  expect_invalid(FourImages(), kFourIdentities, kFourGroups, {0.0}, "outside (0, 1]");
  expect_invalid(FourImages(), kFourIdentities, kFourGroups, {1.5}, "outside (0, 1]");
  torch::Tensor bad = FourImages();
  bad[0][0] = std::nan("");
  expect_invalid(bad, kFourIdentities, kFourGroups, targets, "non-finite");
  const auto nan_threshold =
      ComputeAllPairsTar(FourImages(), kFourIdentities, kFourGroups, targets, {std::nan("")});
  ASSERT_FALSE(nan_threshold.ok());
  EXPECT_EQ(nan_threshold.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(nan_threshold.status().message()), HasSubstr("not a finite number"));
}

}  // namespace
}  // namespace qf::eval
