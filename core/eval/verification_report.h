// Reporting of VerificationMetrics: a JSON document (nlohmann::json) for
// machines and files, and fixed-width text tables for people.
//
// JSON layout (all rates as fractions in [0, 1], not percent):
//   {"pairs": {"total", "same", "different"},
//    "accuracy": {"mean", "std", "std_kind": "population", "std_sample",
//                 "folds": [{"fold", "pairs", "threshold", "accuracy"}]},
//    "best_threshold": {"threshold", "accuracy"},
//    "tar_at_far": [{"far_target", "tar", "far", "threshold", "measurable",
//                    "interval": {"low", "high", "confidence", "resamples",
//                                 "method"}}],   (interval: measurable TARs of
//                                 metrics with intervals, tar_bootstrap.h)
//    "auc",
//    "threshold_convention": "same iff score >= threshold",
//    "roc": [{"far", "tar", "threshold"}]}   (subsampled, see roc.h)
#ifndef QUANTFACE_CORE_EVAL_VERIFICATION_REPORT_H_
#define QUANTFACE_CORE_EVAL_VERIFICATION_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/eval/all_pairs_tar.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/verification_metrics.h"

namespace qf::eval {

nlohmann::json VerificationMetricsToJson(const VerificationMetrics& metrics,
                                         int max_roc_points = 200);

// Multi-line summary of one result, headed by `title`.
std::string FormatVerificationTable(const VerificationMetrics& metrics, const std::string& title);

// One row per (name, metrics), for comparing models (e.g. teacher vs
// quantized student): accuracy mean ± std, TAR at each FAR target, AUC.
// The FAR columns come from the first entry's targets.
std::string FormatComparisonTable(
    const std::vector<std::pair<std::string, const VerificationMetrics*>>& rows);

// All-pairs TAR (all_pairs_tar.h), rates as fractions:
//   {"images", "identities", "pairs": {"same", "different"},
//    "groups": [{"group", "same"}],
//    "tar_at_far": [{"far_target", "tar", "far", "threshold", "false_accepts",
//                    "true_accepts", "measurable", "standard_error",
//                    "group_sd", "group_tar": [...]}],
//    "at_threshold": [{"threshold", "tar", "far", "true_accepts",
//                      "false_accepts"}],   (only when thresholds were given)
//    "threshold_convention": "same iff score >= threshold"}
nlohmann::json AllPairsTarToJson(const AllPairsTar& result);

// The report of LFW's all-pairs protocol (lfw_all_pairs.h), the part both
// `quantface bench lfw --protocol all-pairs` and `quant_bench all-pairs`
// write (each adds the model and timing):
//   {"benchmark": kLfwAllPairsBenchmark, "max_images_per_person",
//    "skipped_images", "embedding_dim", "all_pairs": AllPairsTarToJson,
//    "top_impostors": [{"score", "first", "second"}]}   (when asked for)
// match::OperatingPoints reads its thresholds, so the server can serve it.
nlohmann::json LfwAllPairsResultToJson(const LfwAllPairsResult& result);

// What both all-pairs tools print: a line on the protocol (images, people,
// skipped images, pairs, folds), FormatAllPairsTable with one row named
// `name`, FormatRatesAtThresholds, the threshold of each measurable FAR
// target, and the highest-scoring impostor pairs when they were asked for.
// `more_rows` (e.g. the teacher's and the cross-model rates on the same
// pairs) join the table under `name`'s row.
std::string FormatLfwAllPairsResult(
    const LfwAllPairsResult& result, const std::string& name,
    const std::vector<std::pair<std::string, const AllPairsTar*>>& more_rows = {});

// A model next to its teacher on every pair (CompareLfwAllPairs, the
// reference being the teacher), as the job's report and `bench lfw
// --teacher` keep it, to merge into LfwAllPairsResultToJson(model):
//   {"teacher": LfwAllPairsResultToJson, "cross_teacher_student": (same),
//    "mean_teacher_student_cosine", "student_minus_teacher": and
//    "cross_minus_teacher": PairedTarDifferencesToJson}
nlohmann::json LfwAllPairsComparisonToJson(const LfwAllPairsComparison& comparison);

// FormatLfwAllPairsResult of the model with the teacher's and the cross
// rows, then the paired differences from the teacher and the mean cosine.
std::string FormatLfwAllPairsComparison(const LfwAllPairsComparison& comparison,
                                        const std::string& model_name,
                                        const std::string& teacher_name);

// One line of PairedTarDifferences(model, reference), e.g.
//   "student - teacher, paired over the folds:  TAR@1e-2 -1.80 +- 0.21  TAR@1e-3 ..."
// in points; "n/a" where a point is not measurable. Empty when the two were
// not scored on the same pairs.
std::string FormatPairedTarDifferences(const std::string& name, const AllPairsTar& model,
                                       const AllPairsTar& reference);

// [{"far_target", "difference", "standard_error", "measurable"}], or null
// when the two were not scored on the same pairs.
nlohmann::json PairedTarDifferencesToJson(const AllPairsTar& model, const AllPairsTar& reference);

// One line per AllPairsTar::at_threshold entry:
//   "at threshold 0.6000: TAR 97.12 %, FAR 2.31e-03 (127003 of 54979320 different pairs)"
// Empty when no threshold was given.
std::string FormatRatesAtThresholds(const AllPairsTar& result);

// One row per (name, result): TAR +- its standard error at each FAR target
// (the first entry's), then the pair counts.
std::string FormatAllPairsTable(
    const std::vector<std::pair<std::string, const AllPairsTar*>>& rows);

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_VERIFICATION_REPORT_H_
