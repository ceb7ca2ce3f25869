// Choosing "the" face among several detections.
//
// FaceDetector lists faces largest first, which is the right default for a
// photo of someone. Inputs known to be centred crops (LFW, passport-style
// captures) are better served by the face nearest the centre: on LFW the
// largest face is another person in about 1% of images (12 of 1,018 sampled).
#ifndef QUANTFACE_CORE_DETECT_FACE_SELECTION_H_
#define QUANTFACE_CORE_DETECT_FACE_SELECTION_H_

#include <cstddef>
#include <optional>
#include <vector>

#include <opencv2/core/types.hpp>

#include "core/detect/detected_face.h"

namespace qf::detect {

// Index of the face whose box centre is nearest the image centre (the first
// such on ties); nullopt for an empty list.
std::optional<std::size_t> MostCentralFace(const std::vector<DetectedFace>& faces,
                                           cv::Size image_size);

}  // namespace qf::detect

#endif  // QUANTFACE_CORE_DETECT_FACE_SELECTION_H_
