// FaceDetector: finds faces and their five landmarks in a decoded image.
//
// Contract for every implementation:
//  - Input is an 8-bit image: BGR (CV_8UC3, OpenCV's decode order), BGRA
//    (CV_8UC4) or grayscale (CV_8UC1). Anything else, or an empty image, is
//    INVALID_ARGUMENT.
//  - The result lists every face found, largest box first (ties: higher
//    score first). Callers take front() for "the" face, or all of them.
//  - No face is not an error: the list is empty and the caller decides what
//    that means for its request (typically NOT_FOUND with a clear message).
//  - Detect() is const and safe to call from several threads at once.
#ifndef QUANTFACE_CORE_DETECT_FACE_DETECTOR_H_
#define QUANTFACE_CORE_DETECT_FACE_DETECTOR_H_

#include <vector>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "core/detect/detected_face.h"

namespace qf::detect {

class FaceDetector {
 public:
  virtual ~FaceDetector() = default;

  virtual absl::StatusOr<std::vector<DetectedFace>> Detect(const cv::Mat& image) const = 0;
};

}  // namespace qf::detect

#endif  // QUANTFACE_CORE_DETECT_FACE_DETECTOR_H_
