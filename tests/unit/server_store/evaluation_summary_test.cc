#include "server/registry/evaluation_summary.h"

#include <gtest/gtest.h>

namespace qf::server {
namespace {

// The shape of eval::VerificationMetricsToJson (without "roc").
nlohmann::json Metrics(double accuracy, double std, double threshold) {
  return {{"accuracy", {{"mean", accuracy}, {"std", std}}},
          {"tar_at_far",
           {{{"far_target", 1e-3},
             {"tar", 0.95},
             {"far", 9e-4},
             {"threshold", threshold},
             {"measurable", true}},
            {{"far_target", 1e-6},
             {"tar", 0.0},
             {"far", 0.0},
             {"threshold", 1.0},
             {"measurable", false}}}}};
}

const quantface::v1::EvaluationSummary* AddEvaluation(quantface::v1::Model& model,
                                                      const std::string& protocol,
                                                      const std::string& inference) {
  quantface::v1::EvaluationSummary* e = model.add_evaluations();
  e->set_protocol(protocol);
  e->set_inference(inference);
  return e;
}

TEST(EvaluationSummaryTest, BenchReportKeepsMeasurablePointsOnly) {
  const nlohmann::json report = {{"metrics", Metrics(0.99, 0.004, 0.93)}};
  auto summary = SummaryFromMetrics(report, "lfw");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->protocol(), "lfw");
  EXPECT_DOUBLE_EQ(summary->accuracy(), 0.99);
  EXPECT_DOUBLE_EQ(summary->accuracy_std(), 0.004);
  ASSERT_EQ(summary->operating_points_size(), 1);
  EXPECT_DOUBLE_EQ(summary->operating_points(0).false_accept_rate(), 1e-3);
  EXPECT_FLOAT_EQ(summary->operating_points(0).threshold(), 0.93f);
  EXPECT_DOUBLE_EQ(summary->operating_points(0).true_accept_rate(), 0.95);
}

TEST(EvaluationSummaryTest, StudentReportHasTeacherDropAndCrossModel) {
  const nlohmann::json lfw = {{"teacher", Metrics(0.99, 0.004, 0.92)},
                              {"student", Metrics(0.9633, 0.01, 0.9)},
                              {"cross_teacher_student", Metrics(0.896, 0.02, 0.8)}};
  auto summary = SummaryFromStudentReport(lfw, "lfw");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_DOUBLE_EQ(summary->accuracy(), 0.9633);
  EXPECT_DOUBLE_EQ(summary->teacher_accuracy(), 0.99);
  EXPECT_NEAR(summary->accuracy_drop_points(), 2.67, 1e-9);
  EXPECT_DOUBLE_EQ(summary->cross_model_accuracy(), 0.896);
  EXPECT_FLOAT_EQ(summary->operating_points(0).threshold(), 0.9f);
  // The teacher's and the cross-model points, measurable ones only.
  ASSERT_EQ(summary->teacher_operating_points_size(), 1);
  EXPECT_FLOAT_EQ(summary->teacher_operating_points(0).threshold(), 0.92f);
  ASSERT_EQ(summary->cross_model_operating_points_size(), 1);
  EXPECT_FLOAT_EQ(summary->cross_model_operating_points(0).threshold(), 0.8f);
}

// A quantized model carries the integer forward's evaluation and the
// fake-quant one; thresholds must come from the forward that serves it.
TEST(EvaluationSummaryTest, ServedEvaluationFollowsTheServingForward) {
  quantface::v1::Model model;
  auto add = [&](const std::string& protocol, const std::string& inference) {
    return AddEvaluation(model, protocol, inference);
  };
  EXPECT_EQ(ServedEvaluation(model, "lfw", true), nullptr);
  const auto* other_protocol = add("cfp", "integer-onednn");
  const auto* fake = add("lfw", "fake-quant");
  const auto* integer = add("lfw", "integer-onednn");
  EXPECT_EQ(ServedEvaluation(model, "lfw", true), integer);
  EXPECT_EQ(ServedEvaluation(model, "lfw", false), fake);
  EXPECT_EQ(ServedEvaluation(model, "cfp", false), other_protocol);  // The only one.
  EXPECT_EQ(ServedEvaluation(model, "agedb", true), nullptr);

  quantface::v1::Model float_model;  // Full precision: no inference named.
  float_model.add_evaluations()->set_protocol("lfw");
  EXPECT_EQ(ServedEvaluation(float_model, "lfw", true), &float_model.evaluations(0));
}

TEST(EvaluationSummaryTest, AllPairsReportHasOperatingPointsAndItsForward) {
  // The shape of the job report's "lfw_all_pairs" section
  // (eval::LfwAllPairsResultToJson plus the forward and its engine).
  nlohmann::json section = {{"benchmark", "lfw-all-pairs"},
                            {"all_pairs", {{"tar_at_far", Metrics(0, 0, 0.94)["tar_at_far"]}}},
                            {"forward", "integer (onednn)"},
                            {"engine", "onednn"}};
  auto summary = SummaryFromAllPairsReport(section);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->protocol(), "lfw-all-pairs");
  EXPECT_EQ(summary->inference(), "integer-onednn");
  EXPECT_DOUBLE_EQ(summary->accuracy(), 0);
  ASSERT_EQ(summary->operating_points_size(), 1);  // 1e-6 was not measurable.
  EXPECT_FLOAT_EQ(summary->operating_points(0).threshold(), 0.94f);
  EXPECT_DOUBLE_EQ(summary->operating_points(0).true_accept_rate(), 0.95);

  // Written before jobs scored the teacher on every pair: no teacher points.
  EXPECT_EQ(summary->teacher_operating_points_size(), 0);
  EXPECT_EQ(summary->cross_model_operating_points_size(), 0);

  section["teacher"] = {{"all_pairs", {{"tar_at_far", Metrics(0, 0, 0.95)["tar_at_far"]}}}};
  section["cross_teacher_student"] = {
      {"all_pairs", {{"tar_at_far", Metrics(0, 0, 0.93)["tar_at_far"]}}}};
  summary = SummaryFromAllPairsReport(section);
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->teacher_operating_points_size(), 1);
  EXPECT_FLOAT_EQ(summary->teacher_operating_points(0).threshold(), 0.95f);
  ASSERT_EQ(summary->cross_model_operating_points_size(), 1);
  EXPECT_FLOAT_EQ(summary->cross_model_operating_points(0).threshold(), 0.93f);
  EXPECT_FLOAT_EQ(summary->operating_points(0).threshold(), 0.94f);  // Still the student's.
  section.erase("cross_teacher_student");  // A teacher without the cross-model pairs.
  EXPECT_EQ(SummaryFromAllPairsReport(section).status().code(), absl::StatusCode::kInvalidArgument);
  section.erase("teacher");

  section["forward"] = "fake-quant";
  section["engine"] = "";
  EXPECT_EQ(SummaryFromAllPairsReport(section)->inference(), kFakeQuantInference);
  section.erase("engine");
  EXPECT_EQ(SummaryFromAllPairsReport(section).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EvaluationSummaryTest, ThresholdsComeFromEveryPairOfTheServingForwardFirst) {
  quantface::v1::Model model;
  auto add = [&](const std::string& protocol, const std::string& inference) {
    return AddEvaluation(model, protocol, inference);
  };
  EXPECT_EQ(ThresholdEvaluation(model, true), nullptr);
  const auto* integer = add("lfw", "integer-onednn");
  const auto* fake = add("lfw", "fake-quant");
  EXPECT_EQ(ThresholdEvaluation(model, true), integer);  // No every-pair evaluation yet.
  const auto* every_pair = add("lfw-all-pairs", "integer-onednn");
  EXPECT_EQ(ThresholdEvaluation(model, true), every_pair);
  // Served by the simulation: every pair was scored on the integer forward,
  // so View 2's fake-quant thresholds are the ones that describe it.
  EXPECT_EQ(ThresholdEvaluation(model, false), fake);
}

// Evaluations of mirror-averaged embeddings give thresholds only to Match
// calls that average mirrored embeddings too.
TEST(EvaluationSummaryTest, MirrorAveragedEvaluationsServeOnlyMirrorAveragedMatches) {
  nlohmann::json lfw = {{"teacher", Metrics(0.99, 0.004, 0.92)},
                        {"student", Metrics(0.98, 0.01, 0.9)},
                        {"cross_teacher_student", Metrics(0.985, 0.02, 0.8)}};
  EXPECT_FALSE(SummaryFromStudentReport(lfw, "lfw")->flip_average());
  lfw["flip"] = true;
  EXPECT_TRUE(SummaryFromStudentReport(lfw, "lfw")->flip_average());
  nlohmann::json bench = {{"metrics", Metrics(0.99, 0.004, 0.93)}, {"flip", true}};
  EXPECT_TRUE(SummaryFromMetrics(bench, "lfw")->flip_average());
  nlohmann::json all_pairs = {{"all_pairs", {{"tar_at_far", Metrics(0, 0, 0.94)["tar_at_far"]}}},
                              {"engine", "onednn"},
                              {"flip", true}};
  EXPECT_TRUE(SummaryFromAllPairsReport(all_pairs)->flip_average());

  quantface::v1::Model model;
  AddEvaluation(model, "lfw-all-pairs", "integer-onednn");
  model.mutable_evaluations(0)->set_flip_average(true);
  AddEvaluation(model, "lfw", "integer-onednn");
  model.mutable_evaluations(1)->set_flip_average(true);
  EXPECT_EQ(ThresholdEvaluation(model, true), nullptr);
  EXPECT_EQ(ServedEvaluation(model, "lfw", true), nullptr);
  const auto* plain = AddEvaluation(model, "lfw", "fake-quant");
  EXPECT_EQ(ThresholdEvaluation(model, true), plain);  // The only plain one.
  EXPECT_EQ(ThresholdEvaluation(model, true, /*flip_average=*/true), &model.evaluations(0));
  EXPECT_EQ(ServedEvaluation(model, "lfw", true, /*flip_average=*/true), &model.evaluations(1));
}

TEST(EvaluationSummaryTest, MalformedReportsAreInvalidArgument) {
  EXPECT_EQ(SummaryFromMetrics({{"accuracy", 3}}, "lfw").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SummaryFromStudentReport({{"student", Metrics(0.9, 0, 0.5)}}, "lfw").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::server
