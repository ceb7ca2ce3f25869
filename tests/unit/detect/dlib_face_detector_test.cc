#include "core/detect/dlib_face_detector.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace qf::detect {
namespace {

using Points = std::array<cv::Point2f, 5>;

// One raw 150x150 LFW image and its reference points. LFW is not committed to
// the repository (its license is research-only); tests read it where the
// project's evaluation data lives, as CI does.
constexpr char kLfwImage[] = "Aaron_Eckhart/Aaron_Eckhart_0001.jpg";
const std::string kLfwDir = std::string(QF_SHARED_DIR) + "/data/lfw";

Points ReferencePoints() {
  std::ifstream in(kLfwDir + "/landmarks5.tsv");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string path;
    fields >> path;
    if (path != kLfwImage) continue;
    Points points;
    for (cv::Point2f& p : points) fields >> p.x >> p.y;
    return points;
  }
  ADD_FAILURE() << "no reference points for " << kLfwImage << " in " << kLfwDir;
  return {};
}

cv::Mat LfwImage() {
  cv::Mat image = cv::imread(kLfwDir + "/images/" + kLfwImage, cv::IMREAD_COLOR);
  EXPECT_FALSE(image.empty()) << "cannot read " << kLfwDir << "/images/" << kLfwImage;
  return image;
}

// Largest distance from a detected point to its reference, in units of the
// reference inter-ocular distance.
double MaxNormalizedError(const Points& detected, const Points& reference) {
  const double iod = cv::norm(reference[1] - reference[0]);
  double worst = 0.0;
  for (size_t i = 0; i < detected.size(); ++i) {
    worst = std::max(worst, cv::norm(detected[i] - reference[i]) / iod);
  }
  return worst;
}

Points Transformed(const Points& points, float scale, cv::Point2f offset) {
  Points result;
  for (size_t i = 0; i < points.size(); ++i) {
    // Pixel centres are at integers: a resize maps x to (x + 0.5) s - 0.5.
    result[i] = (points[i] + cv::Point2f(0.5f, 0.5f)) * scale - cv::Point2f(0.5f, 0.5f) + offset;
  }
  return result;
}

// Loading the ~100 MB model takes seconds, so the tests share one load and
// derive detectors with other options from it.
const DlibFaceDetector* SharedDetector() {
  static const std::unique_ptr<DlibFaceDetector> detector = [] {
    auto created = DlibFaceDetector::Create();
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? std::move(*created) : nullptr;
  }();
  return detector.get();
}

std::unique_ptr<DlibFaceDetector> MakeDetector(const DlibFaceDetector::Options& options = {}) {
  const DlibFaceDetector* shared = SharedDetector();
  if (shared == nullptr) return nullptr;
  auto detector = shared->WithOptions(options);
  EXPECT_TRUE(detector.ok()) << detector.status();
  return detector.ok() ? std::move(*detector) : nullptr;
}

// A scene without faces: gradient sky, a few blocks and a disc.
cv::Mat NoFaceScene() {
  cv::Mat scene(240, 320, CV_8UC3);
  for (int y = 0; y < scene.rows; ++y) {
    scene.row(y).setTo(cv::Scalar(200 - y / 2, 150, 60 + y / 3));
  }
  cv::rectangle(scene, cv::Rect(20, 140, 90, 80), cv::Scalar(40, 90, 40), cv::FILLED);
  cv::rectangle(scene, cv::Rect(200, 60, 60, 160), cv::Scalar(90, 90, 90), cv::FILLED);
  cv::circle(scene, cv::Point(150, 70), 30, cv::Scalar(20, 220, 250), cv::FILLED);
  return scene;
}

TEST(DlibFaceDetectorTest, MissingModelFileIsNotFound) {
  auto detector = DlibFaceDetector::Create("/nonexistent/quantface/shape_predictor.dat");
  ASSERT_FALSE(detector.ok());
  EXPECT_EQ(detector.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(detector.status().message().find("/nonexistent/quantface"), std::string::npos);
}

TEST(DlibFaceDetectorTest, GarbageModelFileIsInvalidArgument) {
  const std::string path = ::testing::TempDir() + "/garbage_predictor.dat";
  std::ofstream(path, std::ios::binary) << "this is not a dlib shape predictor\n";
  auto detector = DlibFaceDetector::Create(path);
  std::remove(path.c_str());
  ASSERT_FALSE(detector.ok());
  EXPECT_EQ(detector.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DlibFaceDetectorTest, TruncatedModelFileIsInvalidArgument) {
  std::ifstream in(DlibFaceDetector::kDefaultShapePredictorPath, std::ios::binary);
  ASSERT_TRUE(in) << "libdlib-data is not installed";
  std::string head(100000, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const std::string path = ::testing::TempDir() + "/truncated_predictor.dat";
  std::ofstream(path, std::ios::binary) << head;
  auto detector = DlibFaceDetector::Create(path);
  std::remove(path.c_str());
  ASSERT_FALSE(detector.ok());
  EXPECT_EQ(detector.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DlibFaceDetectorTest, OutOfRangeOptionsAreInvalidArgument) {
  DlibFaceDetector::Options sides;
  sides.min_detect_side = 0;
  EXPECT_EQ(
      DlibFaceDetector::Create(DlibFaceDetector::kDefaultShapePredictorPath, sides).status().code(),
      absl::StatusCode::kInvalidArgument);
  const DlibFaceDetector* shared = SharedDetector();
  ASSERT_NE(shared, nullptr);
  sides.min_detect_side = 500;
  sides.max_detect_side = 400;
  EXPECT_EQ(shared->WithOptions(sides).status().code(), absl::StatusCode::kInvalidArgument);
  DlibFaceDetector::Options box;
  box.fallback_box = cv::Rect2f(0.5f, 0.5f, 0.6f, 0.2f);  // Past the right edge.
  EXPECT_EQ(shared->WithOptions(box).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DlibFaceDetectorTest, UnsupportedImagesAreInvalidArgument) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  EXPECT_EQ(detector->Detect(cv::Mat()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detector->Detect(cv::Mat(100, 100, CV_32FC3, cv::Scalar::all(0.5))).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detector->Detect(cv::Mat(100, 100, CV_8UC2, cv::Scalar::all(9))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DlibFaceDetectorTest, SceneWithoutFacesGivesEmptyList) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  auto faces = detector->Detect(NoFaceScene());
  ASSERT_TRUE(faces.ok()) << faces.status();
  EXPECT_TRUE(faces->empty());
  auto flat = detector->Detect(cv::Mat(150, 150, CV_8UC3, cv::Scalar(128, 128, 128)));
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_TRUE(flat->empty());
}

// The raw 150x150 LFW image is upscaled for detection; points must come back
// in the input's coordinates, within 10% of the inter-ocular distance of the
// MTCNN-style reference.
TEST(DlibFaceDetectorTest, SmallLfwImageMatchesReferencePoints) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  auto faces = detector->Detect(LfwImage());
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 1u);
  const DetectedFace& face = faces->front();
  EXPECT_FALSE(face.from_fallback);
  EXPECT_GT(face.score, 0.f);
  EXPECT_LT(MaxNormalizedError(face.landmarks, ReferencePoints()), 0.10);
  // The box holds the points.
  for (const cv::Point2f& p : face.landmarks) EXPECT_TRUE(face.box.contains(p)) << p;
}

// A large photo is downscaled for detection (max_detect_side); points must
// still map back onto the full-resolution reference.
TEST(DlibFaceDetectorTest, LargeImageIsMappedBack) {
  DlibFaceDetector::Options options;
  options.max_detect_side = 400;
  auto detector = MakeDetector(options);
  ASSERT_NE(detector, nullptr);
  cv::Mat large;
  cv::resize(LfwImage(), large, cv::Size(), 6.0, 6.0, cv::INTER_CUBIC);
  auto faces = detector->Detect(large);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 1u);
  EXPECT_LT(MaxNormalizedError(faces->front().landmarks,
                               Transformed(ReferencePoints(), 6.f, cv::Point2f(0.f, 0.f))),
            0.10);
}

// Two copies of the face at different sizes on one canvas: both found,
// largest first, each with its own points.
TEST(DlibFaceDetectorTest, SeveralFacesLargestFirst) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  const cv::Mat face = LfwImage();
  cv::Mat small_copy, large_copy;
  cv::resize(face, small_copy, cv::Size(), 1.5, 1.5, cv::INTER_CUBIC);  // 225x225.
  cv::resize(face, large_copy, cv::Size(), 2.0, 2.0, cv::INTER_CUBIC);  // 300x300.
  cv::Mat canvas(320, 560, CV_8UC3, cv::Scalar(90, 110, 120));
  small_copy.copyTo(canvas(cv::Rect(10, 40, 225, 225)));
  large_copy.copyTo(canvas(cv::Rect(250, 10, 300, 300)));

  auto faces = detector->Detect(canvas);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 2u);
  EXPECT_GT((*faces)[0].box.area(), (*faces)[1].box.area());
  const Points reference = ReferencePoints();
  EXPECT_LT(MaxNormalizedError((*faces)[0].landmarks,
                               Transformed(reference, 2.f, cv::Point2f(250.f, 10.f))),
            0.10);
  EXPECT_LT(MaxNormalizedError((*faces)[1].landmarks,
                               Transformed(reference, 1.5f, cv::Point2f(10.f, 40.f))),
            0.10);
}

// "Left" means smaller x: a mirrored face keeps the order of its points.
TEST(DlibFaceDetectorTest, MirroredFaceKeepsLeftRightOrder) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  cv::Mat mirrored;
  cv::flip(LfwImage(), mirrored, 1);
  auto faces = detector->Detect(mirrored);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_FALSE(faces->empty());
  const Points& p = faces->front().landmarks;
  EXPECT_LT(p[0].x, p[1].x);
  EXPECT_LT(p[3].x, p[4].x);
  // Eyes above the nose above the mouth.
  EXPECT_LT(std::max(p[0].y, p[1].y), p[2].y);
  EXPECT_LT(p[2].y, std::min(p[3].y, p[4].y));
}

TEST(DlibFaceDetectorTest, GrayAndBgraInputsAreAccepted) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  const cv::Mat bgr = LfwImage();
  cv::Mat gray, bgra;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  for (const cv::Mat& image : {gray, bgra}) {
    auto faces = detector->Detect(image);
    ASSERT_TRUE(faces.ok()) << faces.status();
    ASSERT_EQ(faces->size(), 1u) << "channels " << image.channels();
    EXPECT_LT(MaxNormalizedError(faces->front().landmarks, ReferencePoints()), 0.10);
  }
}

// When nothing is detected, the fallback box still yields points, flagged.
TEST(DlibFaceDetectorTest, FallbackBoxWhenNothingIsDetected) {
  DlibFaceDetector::Options options;
  options.adjust_threshold = 100.0;  // No detection can pass this.
  options.fallback_box = DlibFaceDetector::LfwCentreBox();
  auto detector = MakeDetector(options);
  ASSERT_NE(detector, nullptr);
  auto faces = detector->Detect(LfwImage());
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 1u);
  EXPECT_TRUE(faces->front().from_fallback);
  EXPECT_LT(MaxNormalizedError(faces->front().landmarks, ReferencePoints()), 0.15);

  options.fallback_box.reset();
  auto strict = MakeDetector(options);
  ASSERT_NE(strict, nullptr);
  auto none = strict->Detect(LfwImage());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

// A detected face elsewhere (a bystander) does not stand in for the subject
// expected in the fallback box; one that overlaps it does.
TEST(DlibFaceDetectorTest, FallbackBoxWhenOnlyAnOffCentreFaceIsDetected) {
  DlibFaceDetector::Options options;
  options.fallback_box = DlibFaceDetector::LfwCentreBox();
  auto detector = MakeDetector(options);
  ASSERT_NE(detector, nullptr);

  auto centred = detector->Detect(LfwImage());
  ASSERT_TRUE(centred.ok()) << centred.status();
  ASSERT_EQ(centred->size(), 1u);
  EXPECT_FALSE(centred->front().from_fallback);

  cv::Mat large_copy;
  cv::resize(LfwImage(), large_copy, cv::Size(), 2.0, 2.0, cv::INTER_CUBIC);
  cv::Mat canvas(300, 900, CV_8UC3, cv::Scalar(90, 110, 120));
  large_copy.copyTo(canvas(cv::Rect(0, 0, 300, 300)));
  auto off_centre = detector->Detect(canvas);
  ASSERT_TRUE(off_centre.ok()) << off_centre.status();
  ASSERT_EQ(off_centre->size(), 2u);
  EXPECT_NE((*off_centre)[0].from_fallback, (*off_centre)[1].from_fallback);
}

// Detect() is const and used from many server threads at once.
TEST(DlibFaceDetectorTest, ConcurrentCallsAgree) {
  auto detector = MakeDetector();
  ASSERT_NE(detector, nullptr);
  const cv::Mat image = LfwImage();
  auto expected = detector->Detect(image);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->size(), 1u);
  std::vector<std::future<absl::StatusOr<std::vector<DetectedFace>>>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&] { return detector->Detect(image); }));
  }
  for (auto& run : runs) {
    auto faces = run.get();
    ASSERT_TRUE(faces.ok()) << faces.status();
    ASSERT_EQ(faces->size(), 1u);
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(faces->front().landmarks[k], expected->front().landmarks[k]);
    }
  }
}

}  // namespace
}  // namespace qf::detect
