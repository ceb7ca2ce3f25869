// Decoder: encoded image bytes (JPEG, PNG, WebP, BMP) -> 8-bit BGR cv::Mat.
//
// Contract: Decode() either returns a non-empty CV_8UC3 image or an
// InvalidArgumentError whose message says what was wrong: empty input, input
// over the byte limit, unknown or undecodable format, a header claiming more
// pixels than the limit (checked from the header, before any pixel memory is
// allocated), or a truncated file. Grey and alpha images are converted to
// BGR; 16-bit images are scaled to 8 bits; the EXIF orientation of a JPEG is
// applied (OpenCV's IMREAD_COLOR default), so faces come out upright.
// Thread-safe: a Decoder holds only its immutable options.
#ifndef QUANTFACE_CORE_IMAGE_DECODER_H_
#define QUANTFACE_CORE_IMAGE_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core.hpp>

#include "absl/status/statusor.h"

namespace qf::image {

struct DecodeOptions {
  // Largest accepted encoded size. 32 MiB holds any sane photo; larger
  // requests are more likely abuse than faces.
  std::size_t max_bytes = std::size_t{32} << 20;
  // Largest accepted width x height. 40 megapixels covers current phone
  // cameras; a decoded 40 MP BGR image is already 120 MB.
  std::int64_t max_pixels = 40'000'000;
};

class Decoder {
 public:
  explicit Decoder(DecodeOptions options = {});

  const DecodeOptions& options() const { return options_; }

  absl::StatusOr<cv::Mat> Decode(std::string_view bytes) const;

  // Reads the file (refusing files over max_bytes before reading them) and
  // decodes it. NotFoundError when the file cannot be opened.
  absl::StatusOr<cv::Mat> DecodeFile(const std::string& path) const;

 private:
  const DecodeOptions options_;
};

}  // namespace qf::image

#endif  // QUANTFACE_CORE_IMAGE_DECODER_H_
