#include "tests/integration/lfw_faces.h"

#include <fstream>
#include <sstream>

namespace qf::testing {

std::string ReadLfwImage(const std::string& key) {
  std::ifstream in(std::string(QF_SHARED_DIR) + "/data/lfw/images/" + key, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

::quantface::v1::FaceInput LandmarkedLfwFace(const std::string& key,
                                             const std::vector<float>& points) {
  ::quantface::v1::FaceInput face;
  face.mutable_landmarked_image()->set_image(ReadLfwImage(key));
  for (size_t i = 0; i + 1 < points.size(); i += 2) {
    auto* point = face.mutable_landmarked_image()->add_landmarks();
    point->set_x(points[i]);
    point->set_y(points[i + 1]);
  }
  return face;
}

::quantface::v1::FaceInput PachecoA() {
  return LandmarkedLfwFace("Abel_Pacheco/Abel_Pacheco_0001.jpg",
                           {58.2, 64.8, 84.0, 63.0, 68.4, 80.4, 64.8, 92.4, 87.0, 91.8});
}

::quantface::v1::FaceInput PachecoB() {
  return LandmarkedLfwFace("Abel_Pacheco/Abel_Pacheco_0004.jpg",
                           {61.8, 67.2, 87.0, 66.6, 75.0, 82.2, 64.2, 93.6, 87.6, 96.0});
}

::quantface::v1::FaceInput Zakayev() {
  return LandmarkedLfwFace("Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg",
                           {64.8, 64.8, 87.6, 66.6, 73.2, 83.4, 64.2, 90.6, 79.2, 91.8});
}

}  // namespace qf::testing
