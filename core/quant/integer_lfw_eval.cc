#include "core/quant/integer_lfw_eval.h"

#include <memory>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/quant/int8_backbone.h"
#include "core/quant/int8_model.h"
#include "core/quant/packed_model.h"
#include "core/quant/temporary_model_file.h"
#include "core/util/status_macros.h"

namespace qf::quant {

absl::StatusOr<IntegerLfwReport> EvaluateIntegerStudentOnLfw(const eval::LfwDataset& dataset,
                                                             nn::Backbone& teacher,
                                                             nn::Backbone& student,
                                                             const FakeQuantHooks& hooks,
                                                             const StudentLfwOptions& options) {
  const std::string& architecture = student.spec().architecture;
  if (!Int8Model::HasForward(architecture)) {
    return absl::UnimplementedError(absl::StrCat("no integer forward for '", architecture, "'"));
  }
  std::unique_ptr<Int8Model> int8;
  {
    const TemporaryModelFile file;
    QF_RETURN_IF_ERROR(WritePackedModel(file.path(), student, hooks, nlohmann::json::object()));
    QF_ASSIGN_OR_RETURN(const PackedModel packed, LoadPackedModel(file.path()));
    QF_ASSIGN_OR_RETURN(int8, Int8Model::Create(packed));
  }
  IntegerLfwReport report;
  report.engine = int8->engine();
  Int8Backbone integer(std::move(int8), student.spec());
  // The integer engine runs on the CPU, so the teacher's rows must be there
  // too (they were computed on the job's device).
  std::unordered_map<std::string, torch::Tensor> teacher_rows;
  if (options.teacher_embeddings != nullptr) {
    for (const auto& [path, row] : *options.teacher_embeddings)
      teacher_rows[path] = row.to(torch::kCPU);
  }
  StudentLfwOptions cpu_options = options;
  cpu_options.teacher_embeddings = &teacher_rows;
  // EvaluateStudentOnLfw moves the teacher to the evaluation's device; put
  // it back where the caller keeps it, whatever the outcome.
  const torch::Device teacher_device = teacher.parameters().empty()
                                           ? torch::Device(torch::kCPU)
                                           : teacher.parameters().front().device();
  absl::StatusOr<StudentLfwReport> lfw =
      EvaluateStudentOnLfw(dataset, teacher, integer, torch::Device(torch::kCPU), cpu_options);
  teacher.to(teacher_device);
  if (!lfw.ok()) return lfw.status();
  report.lfw = *std::move(lfw);
  return report;
}

}  // namespace qf::quant
