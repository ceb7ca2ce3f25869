#include "core/quant/served_student.h"

#include <utility>

#include "core/quant/int8_backbone.h"
#include "core/quant/int8_model.h"
#include "core/quant/packed_model.h"

namespace qf::quant {

absl::StatusOr<ServedStudent> LoadServedStudent(const std::string& path, bool integer) {
  absl::StatusOr<PackedModel> packed = LoadPackedModel(path);
  if (!packed.ok()) return packed.status();
  ServedStudent student;
  if (integer) {
    absl::StatusOr<std::unique_ptr<Int8Model>> int8 = Int8Model::Create(*packed);
    if (int8.ok()) {
      student.engine = (*int8)->engine();
      student.forward = "integer (" + student.engine + ")";
      student.backbone = std::make_shared<Int8Backbone>(*std::move(int8), packed->model->spec());
      return student;
    }
    student.fallback_reason = std::string(int8.status().message());
  }
  student.forward = "fake-quant";
  student.backbone = packed->model;
  return student;
}

}  // namespace qf::quant
