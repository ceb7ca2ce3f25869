#include "core/detect/dlib_face_detector.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/detect/five_point.h"

namespace qf::detect {
namespace {

using HogDetector = dlib::frontal_face_detector;

// Converts any supported 8-bit layout to BGR, sharing data when it already is.
absl::StatusOr<cv::Mat> ToBgr(const cv::Mat& image) {
  if (image.empty()) return absl::InvalidArgumentError("face detection: the image is empty");
  if (image.depth() != CV_8U) {
    return absl::InvalidArgumentError(
        absl::StrCat("face detection: expected an 8-bit image, got OpenCV depth ", image.depth()));
  }
  cv::Mat bgr;
  switch (image.channels()) {
    case 3:
      return image;
    case 1:
      cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
      return bgr;
    case 4:
      cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
      return bgr;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("face detection: expected 1, 3 or 4 channels, got ", image.channels()));
  }
}

// Scale from the input image to the image the detector scans: up until the
// shorter side reaches min_detect_side, but never so far that the longer side
// passes max_detect_side (the cap on time wins over small faces).
double WorkingScale(const cv::Size& size, const DlibFaceDetector::Options& options) {
  const int shorter = std::min(size.width, size.height);
  const int longer = std::max(size.width, size.height);
  const double up = std::max(1.0, static_cast<double>(options.min_detect_side) / shorter);
  return std::min(up, static_cast<double>(options.max_detect_side) / longer);
}

// Fits the 68-point model inside `box` (input pixel-edge coordinates) and
// reduces it to five points in input coordinates.
//
// The fit runs on a crop around the box resized so that the box is
// kLandmarkBoxSide pixels wide, whatever the face's size in the input: dlib
// rounds its points to whole pixels, which on a 60 px LFW face would be an
// error of up to 2% of the inter-ocular distance, and the crop keeps that
// resize cheap. The margin holds the pixels the model's features read around
// the box.
std::array<cv::Point2f, 5> FitLandmarks(const dlib::shape_predictor& predictor, const cv::Mat& bgr,
                                        const cv::Rect2f& box, bool mtcnn_convention) {
  constexpr double kLandmarkBoxSide = 256.0;
  constexpr float kMargin = 0.5f;  // Of the box size, on every side.
  const cv::Rect region =
      cv::Rect(cv::Point(static_cast<int>(std::floor(box.x - kMargin * box.width)),
                         static_cast<int>(std::floor(box.y - kMargin * box.height))),
               cv::Point(static_cast<int>(std::ceil(box.br().x + kMargin * box.width)),
                         static_cast<int>(std::ceil(box.br().y + kMargin * box.height)))) &
      cv::Rect(0, 0, bgr.cols, bgr.rows);
  const double scale = kLandmarkBoxSide / std::max(1.f, box.width);
  cv::Mat crop;
  cv::resize(bgr(region), crop, cv::Size(), scale, scale,
             scale > 1.0 ? cv::INTER_LINEAR : cv::INTER_AREA);
  // Pixel-edge coordinates scale without an offset; dlib rectangles include
  // their right and bottom pixel.
  const dlib::rectangle rect(std::lround((box.x - region.x) * scale),
                             std::lround((box.y - region.y) * scale),
                             std::lround((box.br().x - region.x) * scale) - 1,
                             std::lround((box.br().y - region.y) * scale) - 1);
  const dlib::full_object_detection shape = predictor(dlib::cv_image<dlib::bgr_pixel>(crop), rect);
  std::array<cv::Point2f, kIbugPointCount> points;
  for (int i = 0; i < kIbugPointCount; ++i) {
    const dlib::point& p = shape.part(static_cast<unsigned long>(i));
    // Pixel centres sit at integer coordinates, so the resize mapped x to
    // (x + 0.5) * scale - 0.5.
    points[i] = cv::Point2f(static_cast<float>((p.x() + 0.5) / scale - 0.5 + region.x),
                            static_cast<float>((p.y() + 0.5) / scale - 0.5 + region.y));
  }
  const std::array<cv::Point2f, 5> five = FivePointsFromIbug68(points);
  return mtcnn_convention ? ToMtcnnConvention(five) : five;
}

float IntersectionOverUnion(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float intersection = (a & b).area();
  const float union_area = a.area() + b.area() - intersection;
  return union_area > 0.f ? intersection / union_area : 0.f;
}

absl::Status ValidateOptions(const DlibFaceDetector::Options& options) {
  if (options.min_detect_side < 1 || options.max_detect_side < options.min_detect_side) {
    return absl::InvalidArgumentError(
        absl::StrCat("face detection: need 1 <= min_detect_side <= max_detect_side, got ",
                     options.min_detect_side, " and ", options.max_detect_side));
  }
  if (options.fallback_box.has_value()) {
    const cv::Rect2f& box = *options.fallback_box;
    if (!(box.x >= 0.f && box.y >= 0.f && box.width > 0.f && box.height > 0.f &&
          box.x + box.width <= 1.f && box.y + box.height <= 1.f)) {
      return absl::InvalidArgumentError(
          "face detection: fallback_box must be fractions of the image inside [0, 1]");
    }
  }
  return absl::OkStatus();
}

}  // namespace

class DlibFaceDetector::Impl {
 public:
  struct LoadedModel {
    const HogDetector detector;  // Only ever copied: see Lease.
    const dlib::shape_predictor predictor;
  };

  explicit Impl(std::shared_ptr<const LoadedModel> model) : model_(std::move(model)) {}

  // dlib's object_detector::operator() is non-const (it caches feature
  // pyramids), so each concurrent Detect() borrows its own copy. Copies are
  // kept for reuse: building one costs more than scanning a small image.
  class Lease {
   public:
    explicit Lease(const Impl& impl) : impl_(impl), detector_(impl.Acquire()) {}
    ~Lease() { impl_.Release(std::move(detector_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    HogDetector& operator*() const { return *detector_; }

   private:
    const Impl& impl_;
    std::unique_ptr<HogDetector> detector_;
  };

  const std::shared_ptr<const LoadedModel>& model() const { return model_; }
  const dlib::shape_predictor& predictor() const { return model_->predictor; }

 private:
  std::unique_ptr<HogDetector> Acquire() const {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<HogDetector> detector = std::move(idle_.back());
        idle_.pop_back();
        return detector;
      }
    }
    return std::make_unique<HogDetector>(model_->detector);
  }

  void Release(std::unique_ptr<HogDetector> detector) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(detector));
  }

  const std::shared_ptr<const LoadedModel> model_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<HogDetector>> idle_;
};

cv::Rect2f DlibFaceDetector::LfwCentreBox() {
  // Mean box of the face nearest the centre over the 13,171 LFW images where
  // one was detected with the default options (lfw_detect_eval --central).
  return cv::Rect2f(0.285f, 0.321f, 0.424f, 0.422f);
}

absl::StatusOr<std::unique_ptr<DlibFaceDetector>> DlibFaceDetector::Create() {
  return Create(kDefaultShapePredictorPath, Options());
}

absl::StatusOr<std::unique_ptr<DlibFaceDetector>> DlibFaceDetector::Create(
    const std::string& shape_predictor_path) {
  return Create(shape_predictor_path, Options());
}

absl::StatusOr<std::unique_ptr<DlibFaceDetector>> DlibFaceDetector::Create(
    const std::string& shape_predictor_path, const Options& options) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  const std::string& path = shape_predictor_path;
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat("face detection: no shape predictor file at '", path,
                                            "' (Debian package libdlib-data installs it at ",
                                            kDefaultShapePredictorPath, ")"));
  }
  dlib::shape_predictor predictor;
  try {
    dlib::deserialize(path) >> predictor;
  } catch (const std::exception& e) {
    // dlib throws serialization_error for malformed input, and a random file
    // can also make it attempt an absurd allocation (bad_alloc).
    return absl::InvalidArgumentError(absl::StrCat(
        "face detection: '", path, "' is not a readable dlib shape predictor: ", e.what()));
  }
  if (predictor.num_parts() != static_cast<unsigned long>(kIbugPointCount)) {
    return absl::InvalidArgumentError(absl::StrCat("face detection: '", path, "' predicts ",
                                                   predictor.num_parts(), " points, expected ",
                                                   kIbugPointCount, " (iBUG 300-W markup)"));
  }
  auto model = std::make_shared<const Impl::LoadedModel>(
      Impl::LoadedModel{dlib::get_frontal_face_detector(), std::move(predictor)});
  return std::unique_ptr<DlibFaceDetector>(
      new DlibFaceDetector(options, std::make_unique<Impl>(std::move(model))));
}

absl::StatusOr<std::unique_ptr<DlibFaceDetector>> DlibFaceDetector::WithOptions(
    const Options& options) const {
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  return std::unique_ptr<DlibFaceDetector>(
      new DlibFaceDetector(options, std::make_unique<Impl>(impl_->model())));
}

DlibFaceDetector::DlibFaceDetector(Options options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

DlibFaceDetector::~DlibFaceDetector() = default;

absl::StatusOr<std::vector<DetectedFace>> DlibFaceDetector::Detect(const cv::Mat& image) const {
  absl::StatusOr<cv::Mat> bgr = ToBgr(image);
  if (!bgr.ok()) return bgr.status();
  const double scale = WorkingScale(bgr->size(), options_);
  cv::Mat working = *bgr;
  if (scale != 1.0) {
    cv::resize(*bgr, working, cv::Size(), scale, scale,
               scale > 1.0 ? cv::INTER_LINEAR : cv::INTER_AREA);
  }
  if (!working.isContinuous()) working = working.clone();

  std::vector<DetectedFace> faces;
  try {
    std::vector<dlib::rect_detection> detections;
    {
      const Impl::Lease detector(*impl_);
      (*detector)(dlib::cv_image<dlib::bgr_pixel>(working), detections, options_.adjust_threshold);
    }
    faces.reserve(detections.size() + 1);
    for (const dlib::rect_detection& detection : detections) {
      const dlib::rectangle& r = detection.rect;
      DetectedFace face;
      // Inclusive dlib rectangle to pixel-edge coordinates of the input.
      face.box =
          cv::Rect2f(static_cast<float>(r.left() / scale), static_cast<float>(r.top() / scale),
                     static_cast<float>(r.width() / scale), static_cast<float>(r.height() / scale));
      face.score = static_cast<float>(detection.detection_confidence);
      faces.push_back(face);
    }
    if (options_.fallback_box.has_value()) {
      const cv::Rect2f& fraction = *options_.fallback_box;
      const cv::Rect2f expected(fraction.x * bgr->cols, fraction.y * bgr->rows,
                                fraction.width * bgr->cols, fraction.height * bgr->rows);
      const bool subject_found =
          std::any_of(faces.begin(), faces.end(), [&expected](const DetectedFace& face) {
            return IntersectionOverUnion(face.box, expected) >= kFallbackMinOverlap;
          });
      if (!subject_found) {
        DetectedFace face;
        face.box = expected;
        face.from_fallback = true;
        faces.push_back(face);
      }
    }
    for (DetectedFace& face : faces) {
      face.landmarks = FitLandmarks(impl_->predictor(), *bgr, face.box, options_.mtcnn_convention);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("face detection failed: ", e.what()));
  }

  std::stable_sort(faces.begin(), faces.end(), [](const DetectedFace& a, const DetectedFace& b) {
    const float area_a = a.box.area();
    const float area_b = b.box.area();
    if (area_a != area_b) return area_a > area_b;
    return a.score > b.score;
  });
  return faces;
}

}  // namespace qf::detect
