// Reduction of the 68-point iBUG 300-W markup (dlib's shape predictor) to the
// five points of the MTCNN convention used throughout QuantFace.
//
// iBUG indices (0-based): 36..41 are the contour of the eye with the smaller
// x in an upright face, 42..47 the other eye, 30 the nose tip, 48 and 54 the
// outer mouth corners (smaller x first). Eye centres are the mean of the six
// contour points: MTCNN marks the eye centre, which the contour mean
// approximates without needing a pupil detector.
#ifndef QUANTFACE_CORE_DETECT_FIVE_POINT_H_
#define QUANTFACE_CORE_DETECT_FIVE_POINT_H_

#include <array>

#include <opencv2/core/types.hpp>

namespace qf::detect {

inline constexpr int kIbugPointCount = 68;

std::array<cv::Point2f, 5> FivePointsFromIbug68(
    const std::array<cv::Point2f, kIbugPointCount>& points);

// Moves five points derived from iBUG markup onto where MTCNN-style
// annotators put them, by fixed offsets in the face's own frame (x along the
// eye line, y perpendicular, units of the inter-ocular distance): the contour
// mean sits below the pupil, iBUG's nose tip above MTCNN's, and its mouth
// corners lower and wider. The offsets are the mirror-symmetric part of the
// mean difference on half of LFW (lfw_detect_eval --half even); they cut the
// landmark error on the other half (see the detector's report). Rotation and
// mirror equivariant, so no pose or handedness bias is introduced.
std::array<cv::Point2f, 5> ToMtcnnConvention(const std::array<cv::Point2f, 5>& points);

}  // namespace qf::detect

#endif  // QUANTFACE_CORE_DETECT_FIVE_POINT_H_
