// LFW evaluation of a trained student as the server runs it: packed into the
// model file format, loaded back, and embedded by the integer engine
// (Int8Model), on the CPU.
//
// Why not only the fake-quant simulation: at 4 bits the two forwards part
// on float near-ties (a value within ~1e-7 of a rounding midpoint lands on
// either side), and each one-step flip spreads through the following layers;
// on a 29-conv ResNet that moves LFW accuracy by a few tenths of a point
// (docs/BENCHMARKS.md). The accuracy and the thresholds a registry hands out
// must be those of the forward that serves requests.
//
// Contract: UnimplementedError when the student's architecture has no
// integer forward (the caller keeps the fake-quant numbers only); any other
// failure is returned as a status. The student and its hooks are only read;
// the teacher ends on the device it started on.
// Cached teacher embeddings (options.teacher_embeddings) are used, never
// modified. Sets LibTorch's process-wide quantized engine (Int8Model::Create).
#ifndef QUANTFACE_CORE_QUANT_INTEGER_LFW_EVAL_H_
#define QUANTFACE_CORE_QUANT_INTEGER_LFW_EVAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/eval/lfw_dataset.h"
#include "core/nn/backbone.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/lfw_student_eval.h"

namespace qf::quant {

struct IntegerLfwReport {
  StudentLfwReport lfw;  // "student" is the integer model.
  std::string engine;    // The quantized engine chosen: "onednn", "qnnpack", ...
};

absl::StatusOr<IntegerLfwReport> EvaluateIntegerStudentOnLfw(const eval::LfwDataset& dataset,
                                                             nn::Backbone& teacher,
                                                             nn::Backbone& student,
                                                             const FakeQuantHooks& hooks,
                                                             const StudentLfwOptions& options = {});

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_INTEGER_LFW_EVAL_H_
