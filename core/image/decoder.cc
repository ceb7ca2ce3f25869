#include "core/image/decoder.h"

#include <filesystem>
#include <fstream>
#include <ios>
#include <limits>
#include <system_error>

#include <opencv2/imgcodecs.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/image/image_format.h"

namespace qf::image {

Decoder::Decoder(DecodeOptions options) : options_(options) {}

absl::StatusOr<cv::Mat> Decoder::Decode(std::string_view bytes) const {
  if (bytes.empty()) return absl::InvalidArgumentError("empty image: 0 bytes");
  if (bytes.size() > options_.max_bytes ||
      bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("image too large: ", bytes.size(),
                                                   " bytes, over the limit of ", options_.max_bytes,
                                                   " bytes"));
  }
  const absl::StatusOr<ImageInfo> info = InspectImage(bytes);
  if (!info.ok()) return info.status();
  const char* const format = ImageFormatName(info->format);
  // Both factors are below 2^32, so the product fits in int64.
  const std::int64_t pixels = info->width * info->height;
  if (pixels > options_.max_pixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("image too large: ", format, " header says ", info->width, "x", info->height,
                     " = ", pixels, " pixels, over the limit of ", options_.max_pixels, " pixels"));
  }
  if (info->truncated) {
    return absl::InvalidArgumentError(absl::StrCat("truncated ", format, " image: ", bytes.size(),
                                                   " bytes end before the end of the image"));
  }
  cv::Mat decoded;
  try {
    // imdecode wants a Mat; this one wraps the caller's bytes without a copy
    // and is only read.
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    decoded = cv::imdecode(buffer, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("undecodable ", format, " image: OpenCV: ", e.what()));
  }
  if (decoded.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("undecodable ", format, " image (", info->width,
                                                   "x", info->height, ", ", bytes.size(),
                                                   " bytes)"));
  }
  // EXIF rotation may swap the sides, never the pixel count; this re-check
  // only guards against a header that lied.
  if (static_cast<std::int64_t>(decoded.total()) > options_.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("image too large: decoded ", decoded.cols, "x",
                                                   decoded.rows, " ", format,
                                                   " image is over the pixel limit"));
  }
  if (decoded.type() != CV_8UC3) {
    return absl::InternalError(
        absl::StrCat("OpenCV decoded a ", format, " image to an unexpected type ", decoded.type()));
  }
  return decoded;
}

absl::StatusOr<cv::Mat> Decoder::DecodeFile(const std::string& path) const {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("cannot read image file ", path, ": ", error.message()));
  }
  if (size > options_.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("image file ", path, " too large: ", size,
                                                   " bytes, over the limit of ", options_.max_bytes,
                                                   " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open image file ", path));
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("short read from image file ", path));
  }
  absl::StatusOr<cv::Mat> image = Decode(bytes);
  if (!image.ok()) {
    return absl::Status(image.status().code(), absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

}  // namespace qf::image
