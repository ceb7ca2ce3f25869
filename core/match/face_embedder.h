// FaceEmbedder: faces in whatever form a client has them -> L2-normalized
// embeddings of one model.
//
// Contract:
//  - Prepare() turns one face into the model's aligned crop. A decoded image
//    with landmarks is aligned to them; a decoded image without landmarks goes
//    through the face detector first (the largest face is used, or the one
//    nearest the image centre for centred crops such as LFW); an aligned
//    crop must already be size x size for the model. Errors are
//    INVALID_ARGUMENT with the reason (no face found, wrong crop size, bad
//    landmarks), or FAILED_PRECONDITION when detection is needed and the
//    embedder has no detector.
//  - EmbedCrops() runs the model over crops in batches of at most
//    max_batch_size under torch::InferenceMode and returns an N x D float
//    tensor on the CPU, each row L2-normalized; with `flip`, each row is the
//    normalized sum of the crop's and its mirror's embeddings.
//  - ForwardCrops() is the same forward without flip and without the
//    normalization: the model's raw output rows, for callers that combine
//    rows themselves (the server's micro-batcher mixes plain and
//    mirror-averaged requests in one forward and sums a crop's row with its
//    mirror's before normalizing).
//  - Thread-safe: the model is only read (eval mode, no autograd).
#ifndef QUANTFACE_CORE_MATCH_FACE_EMBEDDER_H_
#define QUANTFACE_CORE_MATCH_FACE_EMBEDDER_H_

#include <torch/torch.h>

#include <memory>
#include <opencv2/core.hpp>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/detect/face_detector.h"
#include "core/image/face_aligner.h"
#include "core/image/landmarks.h"
#include "core/nn/backbone.h"

namespace qf::match {

struct FaceSource {
  enum class Kind { kImage, kImageWithLandmarks, kAlignedCrop };
  Kind kind = Kind::kImage;
  cv::Mat image;                               // Decoded BGR, 8-bit.
  std::optional<image::Landmarks5> landmarks;  // For kImageWithLandmarks.
};

struct PreparedFace {
  cv::Mat crop;                                  // size x size BGR.
  std::optional<detect::DetectedFace> detected;  // When the detector ran.
};

enum class FaceChoice { kLargest, kMostCentral };

struct EmbedderOptions {
  int max_batch_size = 32;
  FaceChoice face_choice = FaceChoice::kLargest;
};

class FaceEmbedder {
 public:
  // `detector` may be null: then raw images without landmarks are refused.
  FaceEmbedder(std::shared_ptr<nn::Backbone> model,
               std::shared_ptr<const detect::FaceDetector> detector, EmbedderOptions options = {});

  const nn::ModelSpec& spec() const { return model_->spec(); }

  absl::StatusOr<PreparedFace> Prepare(const FaceSource& face) const;

  absl::StatusOr<torch::Tensor> EmbedCrops(absl::Span<const cv::Mat> crops, bool flip) const;

  absl::StatusOr<torch::Tensor> ForwardCrops(absl::Span<const cv::Mat> crops) const;

 private:
  absl::StatusOr<torch::Tensor> Run(absl::Span<const cv::Mat> crops, bool flip,
                                    bool normalize) const;

  std::shared_ptr<nn::Backbone> model_;
  std::shared_ptr<const detect::FaceDetector> detector_;
  image::FaceAligner aligner_;
  const EmbedderOptions options_;
};

}  // namespace qf::match

#endif  // QUANTFACE_CORE_MATCH_FACE_EMBEDDER_H_
