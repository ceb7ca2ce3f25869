#include "core/eval/verification_report.h"

#include <cstdio>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

// 10 folds x (300 same + 300 different), overlapping score ranges.
VerificationMetrics Metrics() {
  std::vector<ScoredPair> pairs;
  for (int fold = 1; fold <= 10; ++fold) {
    for (int i = 0; i < 300; ++i) {
      pairs.push_back({0.3 + i / 300.0 + fold * 1e-4, true, fold});
      pairs.push_back({-0.6 + i / 300.0 + fold * 1e-4, false, fold});
    }
  }
  return *ComputeVerificationMetrics(pairs);
}

TEST(VerificationReportTest, JsonHoldsTheMetrics) {
  const VerificationMetrics m = Metrics();
  const nlohmann::json j = VerificationMetricsToJson(m, 50);
  EXPECT_EQ(j["pairs"]["total"], 6000);
  EXPECT_EQ(j["pairs"]["same"], 3000);
  EXPECT_DOUBLE_EQ(j["accuracy"]["mean"].get<double>(), m.accuracy_mean);
  EXPECT_DOUBLE_EQ(j["accuracy"]["std"].get<double>(), m.accuracy_std);
  EXPECT_EQ(j["accuracy"]["std_kind"], "population");
  ASSERT_EQ(j["accuracy"]["folds"].size(), 10u);
  EXPECT_EQ(j["accuracy"]["folds"][3]["fold"], 4);
  EXPECT_DOUBLE_EQ(j["accuracy"]["folds"][3]["accuracy"].get<double>(), m.folds[3].accuracy);
  ASSERT_EQ(j["tar_at_far"].size(), 3u);
  EXPECT_DOUBLE_EQ(j["tar_at_far"][1]["far_target"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(j["tar_at_far"][1]["tar"].get<double>(), m.tar_at_far[1].tar);
  EXPECT_EQ(j["tar_at_far"][2]["measurable"], false);
  // The interval of each measurable TAR, as in the metrics; none where the
  // TAR itself cannot be measured.
  ASSERT_EQ(m.tar_intervals.size(), 3u);
  const nlohmann::json& interval = j["tar_at_far"][1]["interval"];
  EXPECT_DOUBLE_EQ(interval["low"].get<double>(), m.tar_intervals[1].low);
  EXPECT_DOUBLE_EQ(interval["high"].get<double>(), m.tar_intervals[1].high);
  EXPECT_DOUBLE_EQ(interval["confidence"].get<double>(), 0.95);
  EXPECT_EQ(interval["resamples"], 1000);
  EXPECT_FALSE(j["tar_at_far"][2].contains("interval"));
  EXPECT_DOUBLE_EQ(j["best_threshold"]["threshold"].get<double>(), m.best.threshold);
  EXPECT_LE(j["roc"].size(), 53u);
  EXPECT_GE(j["roc"].size(), 10u);
  EXPECT_EQ(j["roc"].back()["far"], 1.0);
  // Round trip through text stays valid JSON.
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

TEST(VerificationReportTest, TableShowsTheNumbers) {
  const VerificationMetrics m = Metrics();
  const std::string table = FormatVerificationTable(m, "LFW test-model");
  EXPECT_THAT(table, HasSubstr("LFW test-model (6000 pairs: 3000 same, 3000 different)"));
  EXPECT_THAT(table, HasSubstr("10-fold accuracy"));
  EXPECT_THAT(table, HasSubstr("population std"));
  char tar_line[160];
  std::snprintf(tar_line, sizeof(tar_line),
                "TAR @ FAR=1e-2      91.00 %%  (threshold 0.3901, FAR 1.00e-02, 95 %% CI "
                "%.2f-%.2f %%)",
                100 * m.tar_intervals[0].low, 100 * m.tar_intervals[0].high);
  EXPECT_THAT(table, HasSubstr(tar_line));
  EXPECT_THAT(
      table, HasSubstr("TAR @ FAR=1e-4          n/a  (needs >= 10000 different pairs, have 3000)"));
  EXPECT_THAT(table, HasSubstr("fold 10:"));
  char accuracy[32];
  std::snprintf(accuracy, sizeof(accuracy), "%6.2f %%", 100 * m.accuracy_mean);
  EXPECT_THAT(table, HasSubstr(accuracy));
}

TEST(VerificationReportTest, ComparisonTableHasOneRowPerModel) {
  const VerificationMetrics m = Metrics();
  const std::string table = FormatComparisonTable({{"teacher", &m}, {"student-w4a8", &m}});
  EXPECT_THAT(table, HasSubstr("TAR@1e-3"));
  EXPECT_THAT(table, HasSubstr("teacher"));
  EXPECT_THAT(table, HasSubstr("student-w4a8"));
  char tar_cell[64];
  std::snprintf(tar_cell, sizeof(tar_cell), "%.2f %% (%.2f-%.2f)", 100 * m.tar_at_far[1].tar,
                100 * m.tar_intervals[1].low, 100 * m.tar_intervals[1].high);
  EXPECT_THAT(table, HasSubstr(tar_cell));
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3);
  EXPECT_EQ(FormatComparisonTable({}), "");
}

}  // namespace
}  // namespace qf::eval
