// DlibFaceDetector: dlib's HOG frontal face detector (compiled into dlib, no
// data file) plus dlib's 68-point shape predictor, reduced to five points.
//
// Chosen over porting a CNN detector because it ships as Debian packages
// (libdlib-dev, libdlib-data) and measures well on the 13,232 raw 150x150 LFW
// images (tests/unit/detect/lfw_detect_eval.cc, default options): a face in
// 99.5% of them, mean landmark error 3.3% of the inter-ocular distance
// against landmarks5.tsv (median 2.7%), ~10 ms CPU per image on one thread.
//
// HOG scans an 80x80 window over an image pyramid, so faces smaller than about
// 70 px are missed. Images whose shorter side is below
// Options::min_detect_side are therefore upscaled before detection (a raw
// 150x150 LFW image with ~62 px faces becomes 200x200), and very large images
// are downscaled to Options::max_detect_side for speed. Landmarks are fitted
// on a crop of the input around each box, resized to a fixed face size.
//
// For inputs known to be centred face crops, such as LFW's images,
// Options::fallback_box names where the subject's face should be. When no
// detected face overlaps it (IoU < kFallbackMinOverlap: nothing found, or only
// bystanders), the shape predictor is also run inside that fixed box and the
// result added, flagged from_fallback; pick it with MostCentralFace().
//
// dlib's headers stay out of this header (pimpl): they are heavy to compile.
// Thread-safe: the detector object dlib mutates during a scan is taken from a
// small pool per call; the shape predictor is read-only.
#ifndef QUANTFACE_CORE_DETECT_DLIB_FACE_DETECTOR_H_
#define QUANTFACE_CORE_DETECT_DLIB_FACE_DETECTOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

#include "absl/status/statusor.h"
#include "core/detect/face_detector.h"

namespace qf::detect {

class DlibFaceDetector final : public FaceDetector {
 public:
  // Where Debian's libdlib-data installs the 68-point model.
  static constexpr char kDefaultShapePredictorPath[] =
      "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

  struct Options {
    // Images with a shorter side below this are upscaled to reach it.
    int min_detect_side = 200;
    // Images with a longer side above this are downscaled to it. HOG time
    // grows with the pixel count (one thread: ~40 ms at 640x480, ~100 ms at
    // 1024x768, ~230 ms at 1600x1200); faces smaller than about
    // 80 * longer_side / max_detect_side px are then missed.
    int max_detect_side = 1024;
    // Added to dlib's detection threshold: negative finds more (and more
    // false) faces, positive fewer.
    double adjust_threshold = 0.0;
    // Where the subject's face is expected, as fractions of the image
    // width/height (x, y, width, height in [0, 1]); see the class comment and
    // LfwCentreBox(). Unset: no fallback.
    std::optional<cv::Rect2f> fallback_box;
    // Shift the points from dlib's markup conventions to MTCNN's, which the
    // alignment templates and landmarks5.tsv follow (see ToMtcnnConvention).
    bool mtcnn_convention = true;
  };

  // A detection overlapping fallback_box by at least this IoU is taken to be
  // the subject's face, so no fallback face is added.
  static constexpr float kFallbackMinOverlap = 0.3f;

  // Where dlib's detector puts the face in a raw LFW image on average, as
  // fractions of the image size (measured on all of LFW by lfw_detect_eval).
  // A fallback_box for centred face crops.
  static cv::Rect2f LfwCentreBox();

  // Loads the 68-point shape predictor (dlib serialization, iBUG 300-W
  // markup; about 100 MB, so loading takes seconds). NOT_FOUND when the file
  // does not exist, INVALID_ARGUMENT when it is not a 68-point dlib shape
  // predictor or an option is out of range.
  static absl::StatusOr<std::unique_ptr<DlibFaceDetector>> Create(
      const std::string& shape_predictor_path, const Options& options);
  static absl::StatusOr<std::unique_ptr<DlibFaceDetector>> Create(
      const std::string& shape_predictor_path);
  static absl::StatusOr<std::unique_ptr<DlibFaceDetector>> Create();  // Default path.

  // A detector with other options sharing this one's loaded model (cheap).
  absl::StatusOr<std::unique_ptr<DlibFaceDetector>> WithOptions(const Options& options) const;

  ~DlibFaceDetector() override;
  DlibFaceDetector(const DlibFaceDetector&) = delete;
  DlibFaceDetector& operator=(const DlibFaceDetector&) = delete;

  absl::StatusOr<std::vector<DetectedFace>> Detect(const cv::Mat& image) const override;

  const Options& options() const { return options_; }

 private:
  class Impl;
  DlibFaceDetector(Options options, std::unique_ptr<Impl> impl);

  const Options options_;
  const std::unique_ptr<Impl> impl_;
};

}  // namespace qf::detect

#endif  // QUANTFACE_CORE_DETECT_DLIB_FACE_DETECTOR_H_
