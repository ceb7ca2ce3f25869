#include "core/match/lfw_embed_fn.h"

#include "absl/strings/str_cat.h"

namespace qf::match {

eval::EmbedFn MakeFileEmbedFn(const FaceEmbedder& embedder, const image::Decoder& decoder) {
  return [&embedder, &decoder](absl::Span<const eval::EmbedItem> items,
                               bool flip) -> absl::StatusOr<torch::Tensor> {
    std::vector<cv::Mat> crops;
    crops.reserve(items.size());
    for (const eval::EmbedItem& item : items) {
      auto image = decoder.DecodeFile(item.image_path);
      if (!image.ok()) return image.status();
      FaceSource source;
      source.image = *std::move(image);
      source.landmarks = item.landmarks;
      source.kind = item.landmarks.has_value() ? FaceSource::Kind::kImageWithLandmarks
                                               : FaceSource::Kind::kImage;
      auto prepared = embedder.Prepare(source);
      if (!prepared.ok()) {
        return absl::Status(prepared.status().code(),
                            absl::StrCat(item.image_path, ": ", prepared.status().message()));
      }
      crops.push_back(std::move(prepared->crop));
    }
    return embedder.EmbedCrops(crops, flip);
  };
}

}  // namespace qf::match
