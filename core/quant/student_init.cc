#include "core/quant/student_init.h"

#include "absl/strings/str_cat.h"
#include "core/quant/packed_model.h"
#include "core/util/sha256.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

// Copies `from` into `to` when both exist with one shape.
absl::Status CopyParameter(const std::string& name, const torch::Tensor* from, torch::Tensor* to) {
  if (from == nullptr && to == nullptr) return absl::OkStatus();
  if (from == nullptr || to == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("initial student: '", name, "' exists in only one of the two models"));
  }
  if (from->sizes() != to->sizes()) {
    return absl::FailedPreconditionError(
        absl::StrCat("initial student: '", name, "' has another shape than the teacher's"));
  }
  to->copy_(from->to(to->device(), to->scalar_type()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nlohmann::json> InitializeFromStudent(const std::string& path,
                                                     const std::string& teacher_id,
                                                     nn::Backbone& student) {
  QF_ASSIGN_OR_RETURN(const PackedModel packed, LoadPackedModel(path));
  const nlohmann::json metadata = packed.header.value("metadata", nlohmann::json::object());
  const nlohmann::json teacher = metadata.is_object()
                                     ? metadata.value("teacher", nlohmann::json::object())
                                     : nlohmann::json::object();
  if (!teacher.is_object() || !teacher.contains("id") || !teacher["id"].is_string()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " records no teacher (metadata.teacher.id): it cannot start a job of ", teacher_id));
  }
  const std::string recorded = teacher["id"].get<std::string>();
  if (recorded != teacher_id) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is a student of ", recorded,
                                                      ", not of this job's teacher ", teacher_id));
  }
  QF_ASSIGN_OR_RETURN(const std::string digest, Sha256HexOfFile(path));
  auto from = packed.model->named_parameters();
  auto to = student.named_parameters();
  int64_t layers = 0;
  torch::NoGradGuard no_grad;
  try {
    for (const FakeQuantHooks::Layer* layer : packed.hooks->layers()) {
      for (const char* suffix : {".weight", ".bias"}) {
        const std::string name = layer->name + suffix;
        QF_RETURN_IF_ERROR(CopyParameter(name, from.find(name), to.find(name)));
      }
      ++layers;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("initial student: copying weights: ", e.what_without_backtrace()));
  }
  return nlohmann::json{{"path", path},
                        {"sha256", digest},
                        {"bits", packed.header.value("bits", "")},
                        {"layers", layers}};
}

}  // namespace qf::quant
