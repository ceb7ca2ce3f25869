// Landmarks5: five facial points in image pixel coordinates (pixel centers at
// integer coordinates, as OpenCV uses), in the order of
// qf::nn::LandmarkTemplate: left eye, right eye, nose tip, left mouth corner,
// right mouth corner ("left" = smaller x in the image).
#ifndef QUANTFACE_CORE_IMAGE_LANDMARKS_H_
#define QUANTFACE_CORE_IMAGE_LANDMARKS_H_

#include <array>

#include <opencv2/core/types.hpp>

namespace qf::image {

using Landmarks5 = std::array<cv::Point2f, 5>;

}  // namespace qf::image

#endif  // QUANTFACE_CORE_IMAGE_LANDMARKS_H_
