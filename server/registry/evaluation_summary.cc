#include "server/registry/evaluation_summary.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/eval/protocol_names.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

namespace {

// The measurable entries of a "tar_at_far" array (View 2's metrics and every
// pair's "all_pairs" share the form); json exceptions for malformed ones.
void AddOperatingPoints(const nlohmann::json& tar_at_far,
                        google::protobuf::RepeatedPtrField<v1::OperatingPoint>* points) {
  for (const auto& entry : tar_at_far) {
    if (!entry.value("measurable", false)) continue;
    v1::OperatingPoint* point = points->Add();
    point->set_false_accept_rate(entry.at("far_target").get<double>());
    point->set_threshold(entry.at("threshold").get<float>());
    point->set_true_accept_rate(entry.at("tar").get<double>());
  }
}

}  // namespace

absl::StatusOr<v1::EvaluationSummary> SummaryFromMetrics(const nlohmann::json& report,
                                                         const std::string& protocol) {
  try {
    const nlohmann::json& metrics = report.contains("metrics") ? report.at("metrics") : report;
    v1::EvaluationSummary summary;
    summary.set_protocol(protocol);
    summary.set_accuracy(metrics.at("accuracy").at("mean").get<double>());
    summary.set_accuracy_std(metrics.at("accuracy").value("std", 0.0));
    AddOperatingPoints(metrics.at("tar_at_far"), summary.mutable_operating_points());
    summary.set_flip_average(report.value("flip", false));
    return summary;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed evaluation report: ", e.what()));
  }
}

absl::StatusOr<v1::EvaluationSummary> SummaryFromStudentReport(const nlohmann::json& lfw_section,
                                                               const std::string& protocol) {
  try {
    auto summary = SummaryFromMetrics(lfw_section.at("student"), protocol);
    if (!summary.ok()) return summary;
    const double teacher = lfw_section.at("teacher").at("accuracy").at("mean").get<double>();
    summary->set_teacher_accuracy(teacher);
    summary->set_accuracy_drop_points(100.0 * (teacher - summary->accuracy()));
    summary->set_cross_model_accuracy(
        lfw_section.at("cross_teacher_student").at("accuracy").at("mean").get<double>());
    summary->set_flip_average(lfw_section.value("flip", false));
    AddOperatingPoints(lfw_section.at("teacher").at("tar_at_far"),
                       summary->mutable_teacher_operating_points());
    AddOperatingPoints(lfw_section.at("cross_teacher_student").at("tar_at_far"),
                       summary->mutable_cross_model_operating_points());
    return summary;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed student evaluation: ", e.what()));
  }
}

absl::StatusOr<v1::EvaluationSummary> SummaryFromAllPairsReport(
    const nlohmann::json& all_pairs_section) {
  try {
    v1::EvaluationSummary summary;
    summary.set_protocol(eval::kLfwAllPairsBenchmark);
    AddOperatingPoints(all_pairs_section.at("all_pairs").at("tar_at_far"),
                       summary.mutable_operating_points());
    summary.set_flip_average(all_pairs_section.value("flip", false));
    // Reports written before jobs scored the teacher on every pair lack both.
    if (all_pairs_section.contains("teacher")) {
      AddOperatingPoints(all_pairs_section.at("teacher").at("all_pairs").at("tar_at_far"),
                         summary.mutable_teacher_operating_points());
      AddOperatingPoints(
          all_pairs_section.at("cross_teacher_student").at("all_pairs").at("tar_at_far"),
          summary.mutable_cross_model_operating_points());
    }
    // The engine of the integer forward, empty for the fake-quant one.
    const std::string engine = all_pairs_section.at("engine").get<std::string>();
    summary.set_inference(engine.empty() ? std::string(kFakeQuantInference)
                                         : absl::StrCat(kIntegerInferencePrefix, engine));
    return summary;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed all-pairs evaluation: ", e.what()));
  }
}

const v1::EvaluationSummary* ServedEvaluation(const v1::Model& model, const std::string& protocol,
                                              bool integer_served, bool flip_average) {
  const v1::EvaluationSummary* first = nullptr;
  for (const v1::EvaluationSummary& summary : model.evaluations()) {
    if (summary.protocol() != protocol || summary.flip_average() != flip_average) continue;
    if (absl::StartsWith(summary.inference(), kIntegerInferencePrefix) == integer_served)
      return &summary;
    if (first == nullptr) first = &summary;
  }
  return first;
}

const v1::EvaluationSummary* ThresholdEvaluation(const v1::Model& model, bool integer_served,
                                                 bool flip_average) {
  for (const v1::EvaluationSummary& summary : model.evaluations()) {
    if (summary.protocol() == eval::kLfwAllPairsBenchmark &&
        summary.flip_average() == flip_average &&
        absl::StartsWith(summary.inference(), kIntegerInferencePrefix) == integer_served) {
      return &summary;
    }
  }
  return ServedEvaluation(model, eval::kLfwView2Protocol, integer_served, flip_average);
}

}  // namespace qf::server
