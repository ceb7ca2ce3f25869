#include "server/face_batch.h"

#include <numeric>

#include <opencv2/core.hpp>

#include "absl/strings/str_cat.h"
#include "core/util/unit_vector.h"

namespace qf::server {
namespace {

namespace v1 = ::quantface::v1;

absl::StatusOr<match::FaceSource> ToFaceSource(const v1::FaceInput& face,
                                               const image::Decoder& decoder) {
  match::FaceSource source;
  switch (face.source_case()) {
    case v1::FaceInput::kImage: {
      auto image = decoder.Decode(face.image());
      if (!image.ok()) return image.status();
      source.image = *std::move(image);
      source.kind = match::FaceSource::Kind::kImage;
      return source;
    }
    case v1::FaceInput::kLandmarkedImage: {
      const auto& landmarked = face.landmarked_image();
      if (landmarked.landmarks_size() != 5) {
        return absl::InvalidArgumentError(absl::StrCat(
            "landmarked_image needs exactly 5 landmarks, got ", landmarked.landmarks_size()));
      }
      auto image = decoder.Decode(landmarked.image());
      if (!image.ok()) return image.status();
      source.image = *std::move(image);
      image::Landmarks5 points;
      for (int i = 0; i < 5; ++i) {
        points[i] = cv::Point2f(landmarked.landmarks(i).x(), landmarked.landmarks(i).y());
      }
      source.landmarks = points;
      source.kind = match::FaceSource::Kind::kImageWithLandmarks;
      return source;
    }
    case v1::FaceInput::kAlignedCrop: {
      auto image = decoder.Decode(face.aligned_crop());
      if (!image.ok()) return image.status();
      source.image = *std::move(image);
      source.kind = match::FaceSource::Kind::kAlignedCrop;
      return source;
    }
    default:
      return absl::InvalidArgumentError("face has no image, landmarked_image or aligned_crop");
  }
}

absl::StatusOr<std::vector<float>> CheckedEmbedding(const v1::Embedding& embedding,
                                                    const std::string& model_name, int dim) {
  if (embedding.model() != model_name) {
    return absl::FailedPreconditionError(absl::StrCat("embedding from model '", embedding.model(),
                                                      "' cannot be compared with ", model_name,
                                                      " embeddings"));
  }
  if (embedding.values_size() != dim) {
    return absl::InvalidArgumentError(absl::StrCat(model_name, " embeddings have ", dim,
                                                   " values, got ", embedding.values_size()));
  }
  return UnitLength({embedding.values().begin(), embedding.values().end()});
}

}  // namespace

std::vector<FaceResult> EmbedFaces(const std::vector<const v1::FaceInput*>& faces,
                                   const ServedModel& served, const std::string& model_name,
                                   const image::Decoder& decoder, bool flip,
                                   const CallControl& control) {
  const match::FaceEmbedder& embedder = *served.embedder;
  std::vector<FaceResult> results(faces.size());
  std::vector<cv::Mat> crops;
  std::vector<size_t> crop_owner;
  for (size_t i = 0; i < faces.size(); ++i) {
    if (faces[i]->has_embedding()) {
      auto values =
          CheckedEmbedding(faces[i]->embedding(), model_name, embedder.spec().embedding_dim);
      if (values.ok()) {
        results[i].embedding = *std::move(values);
      } else {
        results[i].status = values.status();
      }
      continue;
    }
    auto source = ToFaceSource(*faces[i], decoder);
    if (!source.ok()) {
      results[i].status = source.status();
      continue;
    }
    auto prepared = embedder.Prepare(*source);
    if (!prepared.ok()) {
      results[i].status = prepared.status();
      continue;
    }
    results[i].detected = prepared->detected;
    crops.push_back(std::move(prepared->crop));
    crop_owner.push_back(i);
  }
  if (crops.empty()) return results;
  if (served.batcher != nullptr) {
    const size_t count = crops.size();
    if (flip) {
      // The mirrors go in the same request, right after the crops: one
      // request is never split across batches, so both halves of a face run
      // in one forward, as EmbedCrops(flip) runs them.
      crops.reserve(2 * count);
      for (size_t k = 0; k < count; ++k) {
        cv::Mat mirrored;
        cv::flip(crops[k], mirrored, /*flipCode=*/1);
        crops.push_back(std::move(mirrored));
      }
    }
    auto rows = served.batcher->Submit(std::move(crops), control);
    for (size_t k = 0; k < count; ++k) {
      FaceResult& result = results[crop_owner[k]];
      if (!rows.ok()) {
        result.status = rows.status();
        continue;
      }
      std::vector<float> row = std::move((*rows)[k]);
      if (flip) {
        const std::vector<float>& mirror = (*rows)[count + k];
        for (size_t d = 0; d < row.size(); ++d) row[d] += mirror[d];
      }
      // A model row without direction (non-finite) fails its face only.
      auto unit = UnitLength(std::move(row));
      if (unit.ok()) {
        result.embedding = *std::move(unit);
      } else {
        result.status =
            absl::InternalError(absl::StrCat("model output: ", unit.status().message()));
      }
    }
    return results;
  }
  if (served.batch_sizes != nullptr) {
    served.batch_sizes->Observe(static_cast<double>(flip ? 2 * crops.size() : crops.size()));
  }
  auto embeddings = embedder.EmbedCrops(crops, flip);
  for (size_t k = 0; k < crop_owner.size(); ++k) {
    FaceResult& result = results[crop_owner[k]];
    if (!embeddings.ok()) {
      result.status = embeddings.status();
      continue;
    }
    const torch::Tensor row = (*embeddings)[static_cast<int64_t>(k)].contiguous();
    result.embedding.assign(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
  }
  return results;
}

float Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0f);
}

}  // namespace qf::server
