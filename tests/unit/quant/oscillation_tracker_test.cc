#include "core/quant/oscillation_tracker.h"

#include <gtest/gtest.h>

#include <vector>

namespace qf::quant {
namespace {

torch::Tensor Integers(const std::vector<float>& values) {
  return torch::tensor(values, torch::kFloat);
}

// Weight 0 goes 0, 1, 0, 1 (two reversals), weight 1 climbs 0, 1, 2, 3 (steps
// but no reversal), weight 2 stays.
void ObserveThreeWeights(OscillationTracker& tracker, double freeze_threshold = 0.0) {
  tracker.Observe(Integers({0, 0, 5}), freeze_threshold);
  tracker.Observe(Integers({1, 1, 5}), freeze_threshold);
  tracker.Observe(Integers({0, 2, 5}), freeze_threshold);
  tracker.Observe(Integers({1, 3, 5}), freeze_threshold);
}

TEST(OscillationTrackerTest, CountsReversalsNotSteps) {
  OscillationTracker tracker(/*momentum=*/0.5);
  ObserveThreeWeights(tracker);
  // Reversals at the third and fourth steps: 0.5, then 0.5 + 0.5 * 0.5.
  EXPECT_TRUE(torch::allclose(tracker.frequency(), Integers({0.75f, 0, 0}))) << tracker.frequency();
  const OscillationCounts counts = tracker.Counts();
  EXPECT_EQ(counts.weights, 3);
  EXPECT_EQ(counts.oscillating, 1);
  EXPECT_EQ(counts.reversals, 2);
  EXPECT_EQ(counts.frozen, 0);
  EXPECT_FALSE(tracker.has_frozen());
  EXPECT_EQ(tracker.steps(), 4);
}

// Weight 0 passes 0.6 at the fourth step; its integer EMA is then
// 0.5 * 1 + 0.5 * (0.5 * 0 + 0.5 * (0.5 * 1 + 0.5 * 0)) = 0.625, so it
// freezes at 1. It stays frozen while its frequency decays.
TEST(OscillationTrackerTest, FreezesAboveTheThresholdAtTheRoundedMean) {
  OscillationTracker tracker(/*momentum=*/0.5);
  ObserveThreeWeights(tracker, /*freeze_threshold=*/0.6);
  ASSERT_TRUE(tracker.has_frozen());
  EXPECT_TRUE(torch::equal(tracker.frozen(), torch::tensor({true, false, false})));
  EXPECT_EQ(tracker.frozen_integers()[0].item<float>(), 1.f);
  for (int i = 0; i < 5; ++i) tracker.Observe(Integers({1, 3, 5}), 0.6);
  EXPECT_LT(tracker.frequency()[0].item<float>(), 0.6f);
  EXPECT_TRUE(tracker.frozen()[0].item<bool>());
  EXPECT_EQ(tracker.Counts().frozen, 1);
}

TEST(OscillationTrackerTest, RefusesBadMomentumAndShapeChanges) {
  EXPECT_THROW(OscillationTracker(0.0), c10::Error);
  EXPECT_THROW(OscillationTracker(1.5), c10::Error);
  OscillationTracker tracker;
  tracker.Observe(Integers({0, 1}));
  EXPECT_THROW(tracker.Observe(Integers({0, 1, 2})), c10::Error);
}

}  // namespace
}  // namespace qf::quant
