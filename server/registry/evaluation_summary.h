// Evaluation reports (JSON, as core/eval and core/quant write them) ->
// v1::EvaluationSummary, the registry's per-protocol accuracy record.
//
// Contract: SummaryFromMetrics() reads a VerificationMetricsToJson() document
// (or one holding it under "metrics", as `quantface bench lfw --report`
// writes): accuracy mean/std and every measurable TAR@FAR point.
// SummaryFromStudentReport() reads the "lfw" section of a quantization job's
// report (core/quant/lfw_student_eval.h): the student's metrics plus the
// teacher's accuracy, the drop in points and the cross-model accuracy, and
// the teacher's and the cross-model operating points.
// SummaryFromAllPairsReport() reads the "lfw_all_pairs" section (every pair
// of LFW images on the student as served, core/quant/student_all_pairs_eval.h):
// protocol "lfw-all-pairs", its operating points and its forward's engine
// ("engine": "onednn", or empty for fake quant), the teacher's and the
// cross-model operating points when the section has them, no accuracy
// (every pair has no folds to choose thresholds on).
// Each sets flip_average from the document's "flip" (absent: false).
// Malformed documents are INVALID_ARGUMENT. ServedEvaluation() picks, among
// a model's evaluations, the one whose numbers describe how it is served;
// ThresholdEvaluation() the one whose thresholds Match uses. Both pick only
// evaluations whose flip_average is the one asked for: mirror-averaged
// embeddings score differently from plain ones.
#ifndef QUANTFACE_SERVER_REGISTRY_EVALUATION_SUMMARY_H_
#define QUANTFACE_SERVER_REGISTRY_EVALUATION_SUMMARY_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "quantface/v1/common.pb.h"
#include "quantface/v1/registry.pb.h"

namespace qf::server {

absl::StatusOr<quantface::v1::EvaluationSummary> SummaryFromMetrics(const nlohmann::json& report,
                                                                    const std::string& protocol);

absl::StatusOr<quantface::v1::EvaluationSummary> SummaryFromStudentReport(
    const nlohmann::json& lfw_section, const std::string& protocol);

absl::StatusOr<quantface::v1::EvaluationSummary> SummaryFromAllPairsReport(
    const nlohmann::json& all_pairs_section);

// EvaluationSummary.inference of an evaluation on the integer kernels is
// this prefix and the engine ("integer-onednn"); "fake-quant" otherwise.
inline constexpr char kIntegerInferencePrefix[] = "integer-";
inline constexpr char kFakeQuantInference[] = "fake-quant";

// The evaluation of `model` on `protocol` that was measured on the forward
// serving it: an "integer-*" inference when `integer_served`, else any other
// ("fake-quant", or empty for full-precision models). Falls back to the first
// evaluation on `protocol`; null when there is none.
const quantface::v1::EvaluationSummary* ServedEvaluation(const quantface::v1::Model& model,
                                                         const std::string& protocol,
                                                         bool integer_served,
                                                         bool flip_average = false);

// Every pair's evaluation ("lfw-all-pairs") when one was measured on the
// forward serving `model` (its thresholds rest on tens of thousands of
// impostor pairs and go down to FAR 1e-6); else ServedEvaluation(model,
// "lfw", integer_served). Null when there is neither.
const quantface::v1::EvaluationSummary* ThresholdEvaluation(const quantface::v1::Model& model,
                                                            bool integer_served,
                                                            bool flip_average = false);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_REGISTRY_EVALUATION_SUMMARY_H_
