// InitializeFromStudent: start a quantization job from the weights of an
// earlier student of the same teacher instead of the teacher's own
// (progressive quantization: e.g. a w4a4 job that starts where a w4a8 job
// ended, so that it only has to learn what the coarser activations cost).
//
// Contract: reads the packed model at `path` (packed_model.h: its checksum
// and format are verified there) and copies the weight and bias of every
// quantized conv/linear layer into `student`, which must be the freshly
// loaded teacher, before fake quantization is attached. The stored weights
// are the earlier student's dequantized ones, so they start on that
// student's weight grid; activation ranges are not copied: the job observes
// its own at its own bit widths. FailedPrecondition when the file records no
// teacher, records another teacher (TeacherId differs: other weights or
// another architecture), or a layer is missing or has another shape;
// NotFound / DataLoss from the loader. On success returns what the job's
// report records: {path, sha256 of the file, bits, layers copied}.
#ifndef QUANTFACE_CORE_QUANT_STUDENT_INIT_H_
#define QUANTFACE_CORE_QUANT_STUDENT_INIT_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::quant {

absl::StatusOr<nlohmann::json> InitializeFromStudent(const std::string& path,
                                                     const std::string& teacher_id,
                                                     nn::Backbone& student);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_STUDENT_INIT_H_
