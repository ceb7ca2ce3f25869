#include "core/match/face_embedder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/detect/face_selection.h"
#include "core/image/tensor_conversion.h"

namespace qf::match {

FaceEmbedder::FaceEmbedder(std::shared_ptr<nn::Backbone> model,
                           std::shared_ptr<const detect::FaceDetector> detector,
                           EmbedderOptions options)
    : model_(std::move(model)),
      detector_(std::move(detector)),
      aligner_(model_->spec().input),
      options_(options) {}

absl::StatusOr<PreparedFace> FaceEmbedder::Prepare(const FaceSource& face) const {
  if (face.image.empty()) return absl::InvalidArgumentError("empty image");
  PreparedFace prepared;
  const int size = spec().input.size;
  switch (face.kind) {
    case FaceSource::Kind::kAlignedCrop:
      if (face.image.cols != size || face.image.rows != size) {
        return absl::InvalidArgumentError(
            absl::StrCat("an aligned crop for ", spec().architecture, " must be ", size, "x", size,
                         " pixels, got ", face.image.cols, "x", face.image.rows));
      }
      prepared.crop = face.image;
      return prepared;
    case FaceSource::Kind::kImageWithLandmarks: {
      if (!face.landmarks.has_value()) {
        return absl::InvalidArgumentError("five landmarks are required");
      }
      auto crop = aligner_.Align(face.image, *face.landmarks);
      if (!crop.ok()) return crop.status();
      prepared.crop = *std::move(crop);
      return prepared;
    }
    case FaceSource::Kind::kImage: {
      if (detector_ == nullptr) {
        return absl::FailedPreconditionError(
            "this server has no face detector: send landmarks or an aligned crop");
      }
      auto faces = detector_->Detect(face.image);
      if (!faces.ok()) return faces.status();
      if (faces->empty()) return absl::InvalidArgumentError("no face found in the image");
      size_t chosen = 0;
      if (options_.face_choice == FaceChoice::kMostCentral) {
        chosen = detect::MostCentralFace(*faces, face.image.size()).value_or(0);
      }
      prepared.detected = (*faces)[chosen];
      auto crop = aligner_.Align(face.image, prepared.detected->landmarks);
      if (!crop.ok()) return crop.status();
      prepared.crop = *std::move(crop);
      return prepared;
    }
  }
  return absl::InternalError("unknown face source kind");
}

absl::StatusOr<torch::Tensor> FaceEmbedder::EmbedCrops(absl::Span<const cv::Mat> crops,
                                                       bool flip) const {
  return Run(crops, flip, /*normalize=*/true);
}

absl::StatusOr<torch::Tensor> FaceEmbedder::ForwardCrops(absl::Span<const cv::Mat> crops) const {
  return Run(crops, /*flip=*/false, /*normalize=*/false);
}

absl::StatusOr<torch::Tensor> FaceEmbedder::Run(absl::Span<const cv::Mat> crops, bool flip,
                                                bool normalize) const {
  if (crops.empty()) return absl::InvalidArgumentError("no faces to embed");
  std::vector<torch::Tensor> parts;
  torch::InferenceMode inference;
  const size_t batch_size = static_cast<size_t>(std::max(1, options_.max_batch_size));
  for (size_t start = 0; start < crops.size(); start += batch_size) {
    const size_t count = std::min(crops.size() - start, batch_size);
    auto batch = image::CropsToTensor(crops.subspan(start, count), spec().input);
    if (!batch.ok()) return batch.status();
    torch::Tensor embeddings;
    try {
      if (flip) {
        const torch::Tensor both = model_->forward(image::WithMirrored(*batch));
        const auto n = static_cast<int64_t>(count);
        embeddings = both.narrow(0, 0, n) + both.narrow(0, n, n);
      } else {
        embeddings = model_->forward(*batch);
      }
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("model forward failed: ", e.what_without_backtrace()));
    }
    embeddings = embeddings.to(torch::kFloat32);
    parts.push_back(normalize
                        ? torch::nn::functional::normalize(
                              embeddings, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1))
                        : embeddings);
  }
  return torch::cat(parts, 0).contiguous();
}

}  // namespace qf::match
