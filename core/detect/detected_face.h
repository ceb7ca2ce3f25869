// One face found in an image: its box, the detector's confidence and the five
// landmarks the aligner maps onto a model's template.
//
// Coordinates are pixels of the image passed to FaceDetector::Detect (x right,
// y down, pixel centres at integer coordinates). The five points are, in this
// order: left eye centre, right eye centre, nose tip, left mouth corner, right
// mouth corner, where "left" is the side with the smaller x in an upright
// face (the subject's right). This is the convention of MTCNN and of
// ../shared/data/lfw/landmarks5.tsv, and of qf::nn::LandmarkTemplate.
#ifndef QUANTFACE_CORE_DETECT_DETECTED_FACE_H_
#define QUANTFACE_CORE_DETECT_DETECTED_FACE_H_

#include <array>

#include <opencv2/core/types.hpp>

namespace qf::detect {

enum class LandmarkIndex { kLeftEye = 0, kRightEye, kNose, kLeftMouth, kRightMouth };

struct DetectedFace {
  cv::Rect2f box;
  // Detector-specific confidence, larger is more certain; only comparable
  // between faces from the same detector. Meaningless when `from_fallback`.
  float score = 0.f;
  std::array<cv::Point2f, 5> landmarks{};
  // True when the subject's face was not detected and the landmarks were
  // fitted inside a configured fallback box instead (see
  // DlibFaceDetector::Options::fallback_box).
  bool from_fallback = false;
};

}  // namespace qf::detect

#endif  // QUANTFACE_CORE_DETECT_DETECTED_FACE_H_
