#include "core/image/image_format.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace qf::image {
namespace {

std::uint32_t Byte(std::string_view b, std::size_t i) { return static_cast<std::uint8_t>(b[i]); }
std::uint32_t Be16(std::string_view b, std::size_t i) { return Byte(b, i) << 8 | Byte(b, i + 1); }
std::uint32_t Be32(std::string_view b, std::size_t i) { return Be16(b, i) << 16 | Be16(b, i + 2); }
std::uint32_t Le16(std::string_view b, std::size_t i) { return Byte(b, i) | Byte(b, i + 1) << 8; }
std::uint32_t Le24(std::string_view b, std::size_t i) { return Le16(b, i) | Byte(b, i + 2) << 16; }
std::uint32_t Le32(std::string_view b, std::size_t i) { return Le16(b, i) | Le16(b, i + 2) << 16; }

absl::Status Malformed(ImageFormat format, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed ", ImageFormatName(format), " image: ", what));
}

absl::Status TruncatedHeader(ImageFormat format, std::size_t size) {
  return absl::InvalidArgumentError(absl::StrCat("truncated ", ImageFormatName(format),
                                                 " image: ", size, " bytes end inside the header"));
}

bool IsJpegSof(std::uint32_t marker) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the JPEG marker segments; inside each scan, skips entropy-coded data
// (where 0xFF is always followed by a stuffed 0x00 or a restart marker) to the
// next marker. Complete when the EOI marker is reached.
absl::StatusOr<ImageInfo> InspectJpeg(std::string_view b) {
  ImageInfo info;
  info.format = ImageFormat::kJpeg;
  bool have_size = false;
  std::size_t pos = 2;  // After SOI.
  while (true) {
    if (pos >= b.size()) break;
    if (Byte(b, pos) != 0xFF) {
      return Malformed(info.format, absl::StrCat("expected a marker at offset ", pos));
    }
    while (pos < b.size() && Byte(b, pos) == 0xFF) ++pos;  // Fill bytes.
    if (pos >= b.size()) break;
    const std::uint32_t marker = Byte(b, pos++);
    if (marker == 0xD9) {  // EOI.
      if (!have_size) return Malformed(info.format, "end of image before any frame header");
      return info;
    }
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // No payload.
    if (pos + 2 > b.size()) break;
    const std::size_t length = Be16(b, pos);
    if (length < 2) return Malformed(info.format, absl::StrCat("segment length ", length));
    if (IsJpegSof(marker) && !have_size) {
      if (length < 8 || pos + 7 > b.size()) break;
      info.height = Be16(b, pos + 3);
      info.width = Be16(b, pos + 5);
      if (info.width == 0 || info.height == 0) {
        return Malformed(info.format, "zero width or height in the frame header");
      }
      have_size = true;
    }
    pos += length;
    if (marker != 0xDA) continue;  // Not SOS: the next marker follows directly.
    // Entropy-coded data of this scan, up to the next real marker.
    while (pos + 1 < b.size()) {
      if (Byte(b, pos) != 0xFF) {
        ++pos;
        continue;
      }
      const std::uint32_t next = Byte(b, pos + 1);
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        pos += 2;
      } else if (next == 0xFF) {
        ++pos;  // Fill byte before a marker.
      } else {
        break;  // A marker: handled by the outer loop.
      }
    }
    if (pos + 1 >= b.size()) {
      pos = b.size();
      break;
    }
  }
  if (!have_size) return TruncatedHeader(info.format, b.size());
  info.truncated = true;
  return info;
}

absl::StatusOr<ImageInfo> InspectPng(std::string_view b) {
  ImageInfo info;
  info.format = ImageFormat::kPng;
  // Signature (8), then IHDR: length (4), "IHDR" (4), width (4), height (4).
  if (b.size() < 24) return TruncatedHeader(info.format, b.size());
  if (b.substr(12, 4) != "IHDR" || Be32(b, 8) != 13) {
    return Malformed(info.format, "the first chunk is not a 13-byte IHDR");
  }
  info.width = Be32(b, 16);
  info.height = Be32(b, 20);
  if (info.width == 0 || info.height == 0) {
    return Malformed(info.format, "zero width or height in IHDR");
  }
  std::size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const std::uint64_t length = Be32(b, pos);
    if (length > 0x7FFFFFFFu) return Malformed(info.format, "chunk length over 2^31-1");
    const std::uint64_t end = pos + 12 + length;  // Length, type, data, CRC.
    if (end > b.size()) break;
    if (b.substr(pos + 4, 4) == "IEND") return info;
    pos = static_cast<std::size_t>(end);
  }
  info.truncated = true;
  return info;
}

absl::StatusOr<ImageInfo> InspectWebp(std::string_view b) {
  ImageInfo info;
  info.format = ImageFormat::kWebp;
  if (b.size() < 30) return TruncatedHeader(info.format, b.size());
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    // Frame tag (3 bytes), start code 9D 01 2A, 14-bit width and height.
    if (Byte(b, 23) != 0x9D || Byte(b, 24) != 0x01 || Byte(b, 25) != 0x2A) {
      return Malformed(info.format, "missing VP8 start code");
    }
    info.width = Le16(b, 26) & 0x3FFF;
    info.height = Le16(b, 28) & 0x3FFF;
  } else if (chunk == "VP8L") {
    // Signature 0x2F, then (width - 1) and (height - 1) as 14-bit fields.
    if (Byte(b, 20) != 0x2F) return Malformed(info.format, "missing VP8L signature");
    const std::uint32_t bits = Le32(b, 21);
    info.width = (bits & 0x3FFF) + 1;
    info.height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk == "VP8X") {
    // Flags (4 bytes), then 24-bit (canvas width - 1) and (canvas height - 1).
    info.width = static_cast<std::int64_t>(Le24(b, 24)) + 1;
    info.height = static_cast<std::int64_t>(Le24(b, 27)) + 1;
  } else {
    return Malformed(
        info.format,
        absl::StrCat("unknown first chunk '",
                     absl::CHexEscape(absl::string_view(chunk.data(), chunk.size())), "'"));
  }
  if (info.width == 0 || info.height == 0) {
    return Malformed(info.format, "zero width or height");
  }
  const std::uint64_t riff_end = static_cast<std::uint64_t>(Le32(b, 4)) + 8;
  info.truncated = b.size() < riff_end;
  return info;
}

absl::StatusOr<ImageInfo> InspectBmp(std::string_view b) {
  ImageInfo info;
  info.format = ImageFormat::kBmp;
  if (b.size() < 26) return TruncatedHeader(info.format, b.size());
  const std::uint64_t pixel_offset = Le32(b, 10);
  const std::uint32_t dib_size = Le32(b, 14);
  std::uint32_t bits_per_pixel = 0;
  std::uint32_t compression = 0;
  std::uint64_t image_size = 0;
  if (dib_size == 12) {  // BITMAPCOREHEADER: 16-bit unsigned dimensions.
    info.width = Le16(b, 18);
    info.height = Le16(b, 20);
    bits_per_pixel = Le16(b, 24);
  } else if (dib_size >= 40) {  // BITMAPINFOHEADER and its successors.
    if (b.size() < 38) return TruncatedHeader(info.format, b.size());
    info.width = static_cast<std::int32_t>(Le32(b, 18));
    // Negative height means rows stored top-down.
    const std::int64_t height = static_cast<std::int32_t>(Le32(b, 22));
    info.height = height < 0 ? -height : height;
    bits_per_pixel = Le16(b, 28);
    compression = Le32(b, 30);
    image_size = Le32(b, 34);
  } else {
    return Malformed(info.format, absl::StrCat("unsupported DIB header size ", dib_size));
  }
  if (info.width <= 0 || info.height <= 0) {
    return Malformed(info.format, "non-positive width or height");
  }
  if (bits_per_pixel == 0 || bits_per_pixel > 32) {
    return Malformed(info.format, absl::StrCat(bits_per_pixel, " bits per pixel"));
  }
  // Uncompressed rows are padded to 4 bytes; compressed (RLE) data declares
  // its size in the header.
  std::uint64_t needed = pixel_offset;
  const bool uncompressed = compression == 0 || compression == 3 || compression == 6;
  if (uncompressed) {
    const std::uint64_t stride =
        (static_cast<std::uint64_t>(info.width) * bits_per_pixel + 31) / 32 * 4;
    const std::uint64_t rows = static_cast<std::uint64_t>(info.height);
    const std::uint64_t room = std::numeric_limits<std::uint64_t>::max() - pixel_offset;
    needed = rows > room / stride ? std::numeric_limits<std::uint64_t>::max()
                                  : pixel_offset + stride * rows;
  } else {
    needed += image_size;
  }
  info.truncated = b.size() < needed;
  return info;
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kBmp:
      return "bmp";
  }
  return "unknown";
}

absl::StatusOr<ImageFormat> SniffImageFormat(std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty image: 0 bytes");
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xFF\xD8\xFF") return ImageFormat::kJpeg;
  if (bytes.size() >= 8 && bytes.substr(0, 8) == "\x89PNG\r\n\x1A\n") return ImageFormat::kPng;
  if (bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WEBP") {
    return ImageFormat::kWebp;
  }
  if (bytes.size() >= 2 && bytes.substr(0, 2) == "BM") return ImageFormat::kBmp;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown image format (expected JPEG, PNG, WebP or BMP); first bytes: \"",
      absl::CHexEscape(absl::string_view(bytes.data(), std::min<std::size_t>(bytes.size(), 8))),
      "\""));
}

absl::StatusOr<ImageInfo> InspectImage(std::string_view bytes) {
  const absl::StatusOr<ImageFormat> format = SniffImageFormat(bytes);
  if (!format.ok()) return format.status();
  switch (*format) {
    case ImageFormat::kJpeg:
      return InspectJpeg(bytes);
    case ImageFormat::kPng:
      return InspectPng(bytes);
    case ImageFormat::kWebp:
      return InspectWebp(bytes);
    case ImageFormat::kBmp:
      return InspectBmp(bytes);
  }
  return absl::InternalError("unhandled image format");
}

}  // namespace qf::image
