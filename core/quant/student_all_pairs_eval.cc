#include "core/quant/student_all_pairs_eval.h"

#include <unordered_map>
#include <utility>

#include "core/eval/cached_embed_fn.h"
#include "core/eval/verification_report.h"
#include "core/image/decoder.h"
#include "core/match/face_embedder.h"
#include "core/match/lfw_embed_fn.h"
#include "core/quant/packed_model.h"
#include "core/quant/served_student.h"
#include "core/quant/temporary_model_file.h"
#include "core/util/status_macros.h"

namespace qf::quant {
absl::StatusOr<StudentAllPairsReport> EvaluateServedStudentOnLfwAllPairs(
    const eval::LfwDataset& dataset, nn::Backbone& student, const FakeQuantHooks& hooks,
    const eval::LfwAllPairsOptions& options, const TeacherAllPairsInput* teacher) {
  ServedStudent served;
  {
    const TemporaryModelFile file;
    QF_RETURN_IF_ERROR(WritePackedModel(file.path(), student, hooks, nlohmann::json::object()));
    QF_ASSIGN_OR_RETURN(served, LoadServedStudent(file.path(), /*integer=*/true));
  }
  StudentAllPairsReport report;
  report.forward = served.forward;
  report.engine = served.engine;
  const image::Decoder decoder;
  const match::FaceEmbedder embedder(served.backbone, nullptr,
                                     {.max_batch_size = options.batch_size});
  const eval::EmbedFn embed_student = match::MakeFileEmbedFn(embedder, decoder);
  if (teacher == nullptr) {
    QF_ASSIGN_OR_RETURN(report.result, eval::RunLfwAllPairs(dataset, embed_student, options));
    return report;
  }
  teacher->teacher->to(torch::kCPU);
  teacher->teacher->eval();
  const match::FaceEmbedder teacher_embedder(teacher->teacher, nullptr,
                                             {.max_batch_size = options.batch_size});
  std::unordered_map<std::string, torch::Tensor> own_rows;
  const eval::EmbedFn embed_teacher =
      eval::CachedEmbedFn(match::MakeFileEmbedFn(teacher_embedder, decoder),
                          teacher->cached_rows != nullptr ? *teacher->cached_rows : own_rows,
                          report.teacher_images_embedded);
  QF_ASSIGN_OR_RETURN(report.with_teacher,
                      eval::CompareLfwAllPairs(dataset, embed_student, embed_teacher, options));
  report.result = report.with_teacher->model;
  return report;
}

nlohmann::json StudentAllPairsReportToJson(const StudentAllPairsReport& report) {
  nlohmann::json json = eval::LfwAllPairsResultToJson(report.result);
  json["forward"] = report.forward;
  json["engine"] = report.engine;
  if (report.with_teacher.has_value()) {
    json.update(eval::LfwAllPairsComparisonToJson(*report.with_teacher));
    json["teacher_images_embedded"] = report.teacher_images_embedded;
  }
  return json;
}

}  // namespace qf::quant
