#include "server/lazy_face_detector.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "core/detect/dlib_face_detector.h"

namespace qf::server {

LazyFaceDetector::LazyFaceDetector(std::string shape_predictor_path)
    : path_(std::move(shape_predictor_path)) {}

absl::StatusOr<std::vector<detect::DetectedFace>> LazyFaceDetector::Detect(
    const cv::Mat& image) const {
  std::call_once(once_, [this] {
    auto created = detect::DlibFaceDetector::Create(path_);
    if (created.ok()) {
      detector_ = *std::move(created);
      spdlog::info("face detector loaded from {}", path_);
    } else {
      load_status_ = absl::FailedPreconditionError(
          absl::StrCat("face detection is unavailable: ", created.status().message()));
      spdlog::error("{}", std::string(load_status_.message()));
    }
  });
  if (detector_ == nullptr) return load_status_;
  return detector_->Detect(image);
}

}  // namespace qf::server
