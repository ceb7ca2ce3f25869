// LFW faces the integration tests send to the server: image bytes from
// ../shared/data/lfw (evaluation data, read in place, never committed) with
// their five landmarks from ../shared/data/lfw/landmarks5.tsv.
//
// Contract: ReadLfwImage() returns the file's bytes, or "" when it is missing
// (the server then answers INVALID_ARGUMENT, which the test reports).
#ifndef QUANTFACE_TESTS_INTEGRATION_LFW_FACES_H_
#define QUANTFACE_TESTS_INTEGRATION_LFW_FACES_H_

#include <string>
#include <vector>

#include "quantface/v1/common.pb.h"

namespace qf::testing {

// "Person/Person_0001.jpg" under the LFW images folder.
std::string ReadLfwImage(const std::string& key);

// The image with landmarks x0, y0, ..., x4, y4.
::quantface::v1::FaceInput LandmarkedLfwFace(const std::string& key,
                                             const std::vector<float>& points);

// Two images of one person and one of another.
::quantface::v1::FaceInput PachecoA();
::quantface::v1::FaceInput PachecoB();
::quantface::v1::FaceInput Zakayev();

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_INTEGRATION_LFW_FACES_H_
