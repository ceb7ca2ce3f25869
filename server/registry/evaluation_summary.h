// Evaluation reports (JSON, as core/eval and core/quant write them) ->
// v1::EvaluationSummary, the registry's per-protocol accuracy record.
//
// Contract: SummaryFromMetrics() reads a VerificationMetricsToJson() document
// (or one holding it under "metrics", as `quantface bench lfw --report`
// writes): accuracy mean/std and every measurable TAR@FAR point.
// SummaryFromStudentReport() reads the "lfw" section of a quantization job's
// report (core/quant/lfw_student_eval.h): the student's metrics plus the
// teacher's accuracy, the drop in points and the cross-model accuracy.
// Malformed documents are INVALID_ARGUMENT.
#ifndef QUANTFACE_SERVER_REGISTRY_EVALUATION_SUMMARY_H_
#define QUANTFACE_SERVER_REGISTRY_EVALUATION_SUMMARY_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "quantface/v1/common.pb.h"

namespace qf::server {

absl::StatusOr<quantface::v1::EvaluationSummary> SummaryFromMetrics(const nlohmann::json& report,
                                                                    const std::string& protocol);

absl::StatusOr<quantface::v1::EvaluationSummary> SummaryFromStudentReport(
    const nlohmann::json& lfw_section, const std::string& protocol);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_REGISTRY_EVALUATION_SUMMARY_H_
