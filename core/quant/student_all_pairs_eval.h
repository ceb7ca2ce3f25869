// EvaluateServedStudentOnLfwAllPairs: TAR and thresholds over every pair of
// LFW images (core/eval/lfw_all_pairs.h) of a trained student as the server
// serves it: packed, loaded back (served_student.h), and run on the integer
// kernels when its architecture has them, else on its fake-quant
// simulation, on the CPU.
//
// Why: Match turns a false-accept rate into the threshold its model's
// evaluation measured. View 2's 3,000 impostor pairs set the threshold at
// FAR 1e-3 from three scores and have none below 1e-3; every pair sets it
// from tens of thousands and goes down to 1e-6 (docs/BENCHMARKS.md,
// "Operating thresholds from every pair"). The thresholds must be those of
// the forward that answers requests.
//
// Contract: the student and its hooks are only read. Errors of the packing,
// the dataset (people and landmarks are needed) and the protocol are
// returned as status values.
#ifndef QUANTFACE_CORE_QUANT_STUDENT_ALL_PAIRS_EVAL_H_
#define QUANTFACE_CORE_QUANT_STUDENT_ALL_PAIRS_EVAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/lfw_dataset.h"
#include "core/nn/backbone.h"
#include "core/quant/fake_quant_hooks.h"

namespace qf::quant {

struct StudentAllPairsReport {
  eval::LfwAllPairsResult result;
  std::string forward;  // "integer (onednn)", "integer (qnnpack)" or "fake-quant".
  std::string engine;   // "onednn" or "qnnpack" on the integer forward; empty: fake quant.
};

absl::StatusOr<StudentAllPairsReport> EvaluateServedStudentOnLfwAllPairs(
    const eval::LfwDataset& dataset, nn::Backbone& student, const FakeQuantHooks& hooks,
    const eval::LfwAllPairsOptions& options = {});

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_STUDENT_ALL_PAIRS_EVAL_H_
