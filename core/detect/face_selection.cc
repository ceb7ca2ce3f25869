#include "core/detect/face_selection.h"

namespace qf::detect {

std::optional<std::size_t> MostCentralFace(const std::vector<DetectedFace>& faces,
                                           cv::Size image_size) {
  const cv::Point2f centre(static_cast<float>(image_size.width) / 2.f,
                           static_cast<float>(image_size.height) / 2.f);
  std::optional<std::size_t> best;
  float best_distance = 0.f;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const cv::Rect2f& box = faces[i].box;
    const cv::Point2f offset = box.tl() + cv::Point2f(box.width / 2.f, box.height / 2.f) - centre;
    const float distance = offset.dot(offset);
    if (!best.has_value() || distance < best_distance) {
      best = i;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace qf::detect
