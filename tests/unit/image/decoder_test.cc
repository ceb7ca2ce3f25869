#include "core/image/decoder.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "core/image/image_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::image {
namespace {

using ::testing::HasSubstr;

// A small image with distinct pixel values, so that lossless round trips can
// be compared exactly.
cv::Mat TestImage(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<std::uint8_t>(x * 20), static_cast<std::uint8_t>(y * 30),
                    static_cast<std::uint8_t>(100 + x + y));
    }
  }
  return image;
}

std::string Encode(const cv::Mat& image, const std::string& extension) {
  std::vector<std::uint8_t> buffer;
  EXPECT_TRUE(cv::imencode(extension, image, buffer)) << extension;
  return std::string(buffer.begin(), buffer.end());
}

bool SameImage(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(DecoderTest, DecodesEveryFormat) {
  const cv::Mat image = TestImage(9, 7);
  const Decoder decoder;
  for (const std::string extension : {".jpg", ".png", ".webp", ".bmp"}) {
    SCOPED_TRACE(extension);
    const absl::StatusOr<cv::Mat> decoded = decoder.Decode(Encode(image, extension));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->type(), CV_8UC3);
    EXPECT_EQ(decoded->cols, 9);
    EXPECT_EQ(decoded->rows, 7);
    if (extension == ".png" || extension == ".bmp") {
      EXPECT_TRUE(SameImage(*decoded, image));
    }
  }
}

TEST(DecoderTest, InspectReadsFormatAndSize) {
  const cv::Mat image = TestImage(13, 5);
  const std::vector<std::pair<std::string, ImageFormat>> cases = {{".jpg", ImageFormat::kJpeg},
                                                                  {".png", ImageFormat::kPng},
                                                                  {".webp", ImageFormat::kWebp},
                                                                  {".bmp", ImageFormat::kBmp}};
  for (const auto& [extension, format] : cases) {
    SCOPED_TRACE(extension);
    const absl::StatusOr<ImageInfo> info = InspectImage(Encode(image, extension));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->format, format);
    EXPECT_EQ(info->width, 13);
    EXPECT_EQ(info->height, 5);
    EXPECT_FALSE(info->truncated);
  }
}

TEST(DecoderTest, LosslessWebpReadsVp8lHeader) {
  std::vector<std::uint8_t> buffer;
  ASSERT_TRUE(cv::imencode(".webp", TestImage(300, 2), buffer, {cv::IMWRITE_WEBP_QUALITY, 101}));
  const std::string bytes(buffer.begin(), buffer.end());
  ASSERT_EQ(bytes.substr(12, 4), "VP8L");
  const absl::StatusOr<ImageInfo> info = InspectImage(bytes);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 300);
  EXPECT_EQ(info->height, 2);
}

TEST(DecoderTest, GreyImageBecomesBgr) {
  const cv::Mat grey(4, 6, CV_8UC1, cv::Scalar(77));
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(Encode(grey, ".png"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->type(), CV_8UC3);
  EXPECT_EQ(decoded->at<cv::Vec3b>(2, 3), cv::Vec3b(77, 77, 77));
}

TEST(DecoderTest, RejectsEmptyInput) {
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode("");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("empty"));
}

TEST(DecoderTest, RejectsGarbage) {
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode("this is not an image at all");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("unknown image format"));
}

TEST(DecoderTest, RejectsTruncatedFilesOfEveryFormat) {
  const cv::Mat image = TestImage(40, 30);
  for (const std::string extension : {".jpg", ".png", ".webp", ".bmp"}) {
    const std::string bytes = Encode(image, extension);
    // Cut inside the pixel data, and just before the last byte.
    for (const std::size_t keep : {bytes.size() * 2 / 3, bytes.size() - 1}) {
      SCOPED_TRACE(extension + " keeping " + std::to_string(keep) + " of " +
                   std::to_string(bytes.size()));
      const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(bytes.substr(0, keep));
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(decoded.status().message(), HasSubstr("truncated"));
    }
  }
}

TEST(DecoderTest, TruncatedJpegIsCaughtEvenThoughOpenCvWouldDecodeIt) {
  const std::string bytes = Encode(TestImage(64, 64), ".jpg");
  const std::string cut = bytes.substr(0, bytes.size() / 2);
  // The premise of the check: OpenCV returns a (partly grey) image here.
  const cv::Mat raw(1, static_cast<int>(cut.size()), CV_8UC1, const_cast<char*>(cut.data()));
  ASSERT_FALSE(cv::imdecode(raw, cv::IMREAD_COLOR).empty());
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(cut);
  EXPECT_THAT(decoded.status().message(), HasSubstr("truncated"));
}

TEST(DecoderTest, ProgressiveAndRestartMarkerJpegs) {
  // Several scans (progressive) and RST markers inside the entropy-coded
  // data: the walker must pass both and still find truncation.
  const cv::Mat image = TestImage(48, 40);
  const std::vector<std::vector<int>> variants = {{cv::IMWRITE_JPEG_PROGRESSIVE, 1},
                                                  {cv::IMWRITE_JPEG_RST_INTERVAL, 1}};
  for (const std::vector<int>& params : variants) {
    std::vector<std::uint8_t> buffer;
    ASSERT_TRUE(cv::imencode(".jpg", image, buffer, params));
    const std::string bytes(buffer.begin(), buffer.end());
    if (params[0] == cv::IMWRITE_JPEG_RST_INTERVAL) {
      ASSERT_NE(bytes.find("\xFF\xD1"), std::string::npos) << "no RST1 marker written";
    } else {
      ASSERT_NE(bytes.find("\xFF\xDA", bytes.find("\xFF\xDA") + 2), std::string::npos)
          << "one scan only";
    }
    const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(bytes);
    ASSERT_TRUE(decoded.ok()) << params[0] << ": " << decoded.status();
    EXPECT_EQ(decoded->cols, 48);
    const absl::StatusOr<cv::Mat> cut = Decoder().Decode(bytes.substr(0, bytes.size() * 3 / 4));
    EXPECT_THAT(cut.status().message(), HasSubstr("truncated")) << params[0];
  }
}

TEST(DecoderTest, RejectsJpegCutInsideHeader) {
  const std::string bytes = Encode(TestImage(8, 8), ".jpg");
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(bytes.substr(0, 10));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("truncated"));
}

TEST(DecoderTest, AcceptsBytesAfterJpegEnd) {
  const std::string bytes = Encode(TestImage(8, 8), ".jpg") + std::string("trailing\xFF\xD8", 10);
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->cols, 8);
}

TEST(DecoderTest, RejectsImageOverPixelLimit) {
  DecodeOptions options;
  options.max_pixels = 99 * 100;
  const absl::StatusOr<cv::Mat> decoded =
      Decoder(options).Decode(Encode(TestImage(100, 100), ".png"));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("100x100 = 10000 pixels"));
  options.max_pixels = 100 * 100;
  EXPECT_TRUE(Decoder(options).Decode(Encode(TestImage(100, 100), ".png")).ok());
}

TEST(DecoderTest, PixelLimitIsCheckedFromTheHeaderBeforeDecoding) {
  // A PNG whose IHDR claims 100000 x 100000 pixels but which holds no pixel
  // data: rejected as too large (the header is read before anything else).
  std::string bytes = Encode(TestImage(2, 2), ".png").substr(0, 33);
  const auto put32 = [&bytes](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(v >> (24 - 8 * i));
  };
  put32(16, 100000);
  put32(20, 100000);
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("too large"));
  EXPECT_THAT(decoded.status().message(), HasSubstr("100000x100000"));
}

TEST(DecoderTest, RejectsInputOverByteLimit) {
  DecodeOptions options;
  options.max_bytes = 16;
  const absl::StatusOr<cv::Mat> decoded = Decoder(options).Decode(Encode(TestImage(8, 8), ".bmp"));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("bytes, over the limit of 16 bytes"));
}

TEST(DecoderTest, RejectsCorruptPixelData) {
  // Complete container, damaged compressed data: libpng's CRC check fails.
  std::string bytes = Encode(TestImage(16, 16), ".png");
  const std::size_t idat = bytes.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  for (std::size_t i = idat + 4; i < idat + 20; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  const absl::StatusOr<cv::Mat> decoded = Decoder().Decode(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("undecodable png"));
}

TEST(DecoderTest, DecodeFileReportsMissingFile) {
  const absl::StatusOr<cv::Mat> decoded = Decoder().DecodeFile("/nonexistent/face.jpg");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(decoded.status().message(), HasSubstr("/nonexistent/face.jpg"));
}

TEST(DecoderTest, DecodeFileReadsImage) {
  const std::string path = ::testing::TempDir() + "/decoder_test_image.png";
  ASSERT_TRUE(cv::imwrite(path, TestImage(5, 3)));
  const absl::StatusOr<cv::Mat> decoded = Decoder().DecodeFile(path);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(SameImage(*decoded, TestImage(5, 3)));
}

// Real-world check of the container walker: every LFW JPEG is complete and
// its header size matches what OpenCV decodes (150x150).
TEST(DecoderTest, EveryLfwImageInspectsAsComplete) {
  const std::filesystem::path root = std::filesystem::path(QF_SHARED_DIR) / "data/lfw/images";
  if (!std::filesystem::is_directory(root)) GTEST_SKIP() << "no LFW images at " << root;
  int checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".jpg") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const absl::StatusOr<ImageInfo> info = InspectImage(bytes);
    ASSERT_TRUE(info.ok()) << entry.path() << ": " << info.status();
    ASSERT_FALSE(info->truncated) << entry.path();
    ASSERT_EQ(info->width, 150) << entry.path();
    ASSERT_EQ(info->height, 150) << entry.path();
    ++checked;
  }
  EXPECT_EQ(checked, 13232);
}

}  // namespace
}  // namespace qf::image
