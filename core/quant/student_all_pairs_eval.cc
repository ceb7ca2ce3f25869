#include "core/quant/student_all_pairs_eval.h"

#include <utility>

#include <nlohmann/json.hpp>

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
    const eval::LfwAllPairsOptions& options) {
  ServedStudent served;
  {
    const TemporaryModelFile file;
    QF_RETURN_IF_ERROR(WritePackedModel(file.path(), student, hooks, nlohmann::json::object()));
    QF_ASSIGN_OR_RETURN(served, LoadServedStudent(file.path(), /*integer=*/true));
  }
  const match::FaceEmbedder embedder(served.backbone, nullptr,
                                     {.max_batch_size = options.batch_size});
  const image::Decoder decoder;
  StudentAllPairsReport report;
  QF_ASSIGN_OR_RETURN(
      report.result,
      eval::RunLfwAllPairs(dataset, match::MakeFileEmbedFn(embedder, decoder), options));
  report.forward = served.forward;
  report.engine = served.engine;
  return report;
}

}  // namespace qf::quant
