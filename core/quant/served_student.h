// LoadServedStudent: a packed student (packed_model.h) loaded the way the
// server serves it, so that every tool that scores "the student as served"
// runs the same forward as Match and Identify.
//
// Contract: with `integer` set, the student runs on the integer kernels
// (Int8Backbone) when Int8Model::Create accepts it; when it does not (an
// architecture without an integer forward), on its fake-quant simulation,
// with the reason kept in `fallback_reason`. Without `integer`, always the
// fake-quant simulation. Errors of LoadPackedModel are returned as they
// are.
#ifndef QUANTFACE_CORE_QUANT_SERVED_STUDENT_H_
#define QUANTFACE_CORE_QUANT_SERVED_STUDENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::quant {

struct ServedStudent {
  std::shared_ptr<nn::Backbone> backbone;  // Eval mode, CPU.
  std::string forward;  // For people: "integer (onednn)", "integer (qnnpack)" or "fake-quant".
  std::string engine;   // The integer forward's quantized engine ("onednn"); empty: fake quant.
  std::string fallback_reason;  // Why not integer, when it was asked and refused.
};

absl::StatusOr<ServedStudent> LoadServedStudent(const std::string& path, bool integer);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_SERVED_STUDENT_H_
