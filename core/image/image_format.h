// Image container sniffing: which format a byte string holds, its pixel
// dimensions, and whether the container is complete, all read from the bytes
// alone without decoding any pixels.
//
// Why our own parser: OpenCV 4.6 has no public "read header only" call, and
// its decoders silently return a partially decoded picture for a truncated
// JPEG (libjpeg only prints "Premature end of JPEG file"). Walking the
// container structure lets the decoder refuse oversized images before
// allocating them and name truncation as the cause instead of returning a
// half-grey face.
//
// Contract: InspectImage() never reads outside `bytes` and never throws. It
// returns InvalidArgumentError when the format is not one of JPEG, PNG, WebP
// or BMP, when the header is malformed, or when the bytes end before the
// dimensions could be read. A container that ends after its header but before
// its end marker is reported through ImageInfo::truncated, so that a caller
// can still see how large the image claims to be.
#ifndef QUANTFACE_CORE_IMAGE_IMAGE_FORMAT_H_
#define QUANTFACE_CORE_IMAGE_IMAGE_FORMAT_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

// Note: Debian's Abseil is built with its own absl::string_view (not an alias
// of std::string_view), so messages convert explicitly where needed.

namespace qf::image {

enum class ImageFormat { kJpeg, kPng, kWebp, kBmp };

// "jpeg", "png", "webp" or "bmp".
const char* ImageFormatName(ImageFormat format);

struct ImageInfo {
  ImageFormat format = ImageFormat::kJpeg;
  std::int64_t width = 0;  // As stored in the header, before any EXIF rotation.
  std::int64_t height = 0;
  // True when the bytes end before the container's end (JPEG: EOI marker
  // after the last scan; PNG: IEND chunk; WebP: the RIFF size; BMP: the pixel
  // array). Bytes after the end are allowed: some cameras append data after a
  // JPEG's EOI.
  bool truncated = false;
};

// Identifies the format from its magic bytes; InvalidArgumentError when the
// bytes match none of the supported formats.
absl::StatusOr<ImageFormat> SniffImageFormat(std::string_view bytes);

// Format, dimensions and completeness, see the contract above.
absl::StatusOr<ImageInfo> InspectImage(std::string_view bytes);

}  // namespace qf::image

#endif  // QUANTFACE_CORE_IMAGE_IMAGE_FORMAT_H_
