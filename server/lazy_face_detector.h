// LazyFaceDetector: a FaceDetector that loads dlib's detector on the first
// Detect() call, so that server start-up does not pay for a 100 MB model that
// requests with landmarks or aligned crops never need. A load failure is
// returned by every call (FAILED_PRECONDITION naming the file) rather than
// stopping the server.
#ifndef QUANTFACE_SERVER_LAZY_FACE_DETECTOR_H_
#define QUANTFACE_SERVER_LAZY_FACE_DETECTOR_H_

#include <memory>
#include <mutex>
#include <string>

#include "core/detect/face_detector.h"

namespace qf::server {

class LazyFaceDetector final : public detect::FaceDetector {
 public:
  explicit LazyFaceDetector(std::string shape_predictor_path);

  absl::StatusOr<std::vector<detect::DetectedFace>> Detect(const cv::Mat& image) const override;

 private:
  const std::string path_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<detect::FaceDetector> detector_;
  mutable absl::Status load_status_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_LAZY_FACE_DETECTOR_H_
