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
// With a teacher (TeacherAllPairsInput), the same images are also embedded by
// the full-precision teacher, so the report puts the student's rates next to
// the teacher's, and scores the pairs across the two models: the teacher
// enrolls image i, the student probes with image j (i < j), as a gallery
// built before the student replaced the teacher would be searched. The
// teacher's rows can come from a cache (lfw_student_eval.h keeps them by
// image path): the teacher does not change between jobs, and embedding its
// 10,489 images is most of the cost (52 s for dlib-resnet on 2 threads).
//
// Contract: the student and its hooks are only read; the teacher is put in
// eval mode on the CPU. Errors of the packing, the dataset (people and
// landmarks are needed), the teacher's forward and the protocol are returned
// as status values.
#ifndef QUANTFACE_CORE_QUANT_STUDENT_ALL_PAIRS_EVAL_H_
#define QUANTFACE_CORE_QUANT_STUDENT_ALL_PAIRS_EVAL_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/lfw_dataset.h"
#include "core/nn/backbone.h"
#include "core/quant/fake_quant_hooks.h"

namespace qf::quant {

struct TeacherAllPairsInput {
  std::shared_ptr<nn::Backbone> teacher;  // Full precision.
  // Unit rows by image path (LfwDataset::ImagePath): used where present,
  // added where not. Optional.
  std::unordered_map<std::string, torch::Tensor>* cached_rows = nullptr;
};

struct StudentAllPairsReport {
  eval::LfwAllPairsResult result;  // The student.
  std::string forward;             // "integer (onednn)", "integer (qnnpack)" or "fake-quant".
  std::string engine;  // "onednn" or "qnnpack" on the integer forward; empty: fake quant.
  // With a teacher: the student (again), the teacher alone, and the teacher
  // enrolling with the student probing.
  std::optional<eval::LfwAllPairsComparison> with_teacher;
  std::int64_t teacher_images_embedded = 0;  // The teacher's rows not found in the cache.
};

// options.progress counts the student's images, then (with a teacher) the
// teacher's, cached ones included.
absl::StatusOr<StudentAllPairsReport> EvaluateServedStudentOnLfwAllPairs(
    const eval::LfwDataset& dataset, nn::Backbone& student, const FakeQuantHooks& hooks,
    const eval::LfwAllPairsOptions& options = {}, const TeacherAllPairsInput* teacher = nullptr);

// The report's "lfw_all_pairs" section: the student's LfwAllPairsResultToJson
// plus "forward" and "engine", and with a teacher LfwAllPairsComparisonToJson
// (verification_report.h) and "teacher_images_embedded".
nlohmann::json StudentAllPairsReportToJson(const StudentAllPairsReport& report);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_STUDENT_ALL_PAIRS_EVAL_H_
