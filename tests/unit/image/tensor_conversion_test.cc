#include "core/image/tensor_conversion.h"

#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::image {
namespace {

using ::testing::HasSubstr;

cv::Mat Crop(int size, int seed) {
  cv::Mat crop(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      crop.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(seed + x), static_cast<uchar>(seed + 10 * y),
                    static_cast<uchar>(seed + 100));
    }
  }
  return crop;
}

TEST(TensorConversionTest, RgbSpecSwapsChannelsAndNormalizes) {
  nn::InputSpec spec;
  spec.size = 4;
  spec.channel_order = nn::ChannelOrder::kRgb;
  spec.mean = {122.782f, 117.001f, 104.298f};  // dlib-resnet's recipe.
  spec.scale = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  const std::vector<cv::Mat> crops = {Crop(4, 0), Crop(4, 5)};
  const absl::StatusOr<torch::Tensor> t = CropsToTensor(crops, spec);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->sizes(), (std::vector<std::int64_t>{2, 3, 4, 4}));
  EXPECT_EQ(t->dtype(), torch::kFloat32);
  EXPECT_TRUE(t->is_contiguous());
  // Crop 1, pixel (y=2, x=3): B = 5+3, G = 5+20, R = 105.
  const auto a = t->accessor<float, 4>();
  EXPECT_FLOAT_EQ(a[1][0][2][3], (105 - 122.782f) / 255.f);  // R first.
  EXPECT_FLOAT_EQ(a[1][1][2][3], (25 - 117.001f) / 255.f);
  EXPECT_FLOAT_EQ(a[1][2][2][3], (8 - 104.298f) / 255.f);
}

TEST(TensorConversionTest, BgrSpecKeepsChannels) {
  nn::InputSpec spec;
  spec.size = 3;
  spec.channel_order = nn::ChannelOrder::kBgr;
  spec.mean = {93.5940f, 104.7624f, 129.1863f};
  spec.scale = {1.f, 2.f, 0.5f};
  const absl::StatusOr<torch::Tensor> t = CropsToTensor({Crop(3, 1)}, spec);
  ASSERT_TRUE(t.ok()) << t.status();
  const auto a = t->accessor<float, 4>();
  // Pixel (y=1, x=2): B = 3, G = 11, R = 101.
  EXPECT_FLOAT_EQ(a[0][0][1][2], (3 - 93.5940f) * 1.f);
  EXPECT_FLOAT_EQ(a[0][1][1][2], (11 - 104.7624f) * 2.f);
  EXPECT_FLOAT_EQ(a[0][2][1][2], (101 - 129.1863f) * 0.5f);
}

TEST(TensorConversionTest, MirrorEqualsConvertingTheFlippedCrop) {
  nn::InputSpec spec;
  spec.size = 5;
  spec.mean = {1, 2, 3};
  spec.scale = {0.5f, 0.25f, 2};
  const cv::Mat crop = Crop(5, 7);
  cv::Mat flipped;
  cv::flip(crop, flipped, 1);
  const absl::StatusOr<torch::Tensor> t = CropsToTensor({crop}, spec);
  const absl::StatusOr<torch::Tensor> f = CropsToTensor({flipped}, spec);
  ASSERT_TRUE(t.ok() && f.ok());
  EXPECT_TRUE(torch::equal(MirrorBatch(*t), *f));
  const torch::Tensor both = WithMirrored(*t);
  EXPECT_EQ(both.size(0), 2);
  EXPECT_TRUE(torch::equal(both[0], (*t)[0]));
  EXPECT_TRUE(torch::equal(both[1], (*f)[0]));
}

TEST(TensorConversionTest, AcceptsNonContiguousCrops) {
  nn::InputSpec spec;
  spec.size = 4;
  const cv::Mat big = Crop(8, 3);
  const cv::Mat roi = big(cv::Rect(2, 1, 4, 4));
  ASSERT_FALSE(roi.isContinuous());
  const absl::StatusOr<torch::Tensor> t = CropsToTensor({roi}, spec);
  ASSERT_TRUE(t.ok()) << t.status();
  // Tensor pixel (0, 0) = big pixel (y=1, x=2); RGB order, R = 103.
  const auto a = t->accessor<float, 4>();
  EXPECT_FLOAT_EQ(a[0][0][0][0], 103.f);
  EXPECT_FLOAT_EQ(a[0][2][0][0], 5.f);
}

TEST(TensorConversionTest, RejectsWrongCrops) {
  nn::InputSpec spec;
  spec.size = 4;
  EXPECT_EQ(CropsToTensor({}, spec).status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<torch::Tensor> t = CropsToTensor({Crop(4, 0), Crop(5, 0)}, spec);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("crop 1 is 5x5"));
  EXPECT_EQ(CropsToTensor({cv::Mat(4, 4, CV_8UC1)}, spec).status().code(),
            absl::StatusCode::kInvalidArgument);
}

nn::InputSpec DlibLikeSpec(nn::ChannelOrder order) {
  nn::InputSpec spec;
  spec.size = 4;
  spec.channel_order = order;
  spec.mean = {122.782f, 117.001f, 104.298f};
  spec.scale = {1 / 255.f, 1 / 128.f, 1 / 64.f};  // Unequal, so a channel mix-up shows.
  return spec;
}

TEST(TensorConversionTest, CropsSurviveTheRoundTripExactly) {
  for (const nn::ChannelOrder order : {nn::ChannelOrder::kRgb, nn::ChannelOrder::kBgr}) {
    const nn::InputSpec spec = DlibLikeSpec(order);
    const std::vector<cv::Mat> crops = {Crop(4, 0), Crop(4, 7), Crop(4, 140)};
    const absl::StatusOr<torch::Tensor> t = CropsToTensor(crops, spec);
    ASSERT_TRUE(t.ok()) << t.status();
    const absl::StatusOr<std::vector<cv::Mat>> back = TensorToCrops(*t, spec);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), crops.size());
    for (std::size_t i = 0; i < crops.size(); ++i) {
      ASSERT_EQ((*back)[i].type(), CV_8UC3);
      EXPECT_EQ(cv::norm(crops[i], (*back)[i], cv::NORM_INF), 0) << "crop " << i;
    }
  }
}

TEST(TensorConversionTest, TensorsComeBackWithinHalfAPixelLevelAndClamped) {
  const nn::InputSpec spec = DlibLikeSpec(nn::ChannelOrder::kRgb);
  torch::manual_seed(3);
  // Normalized values of pixels in about -40..300: outside 0..255 clamps.
  torch::Tensor pixels = torch::rand({2, 3, 4, 4}) * 340 - 40;
  torch::Tensor t = pixels.clone();
  for (int c = 0; c < 3; ++c) t.select(1, c).sub_(spec.mean[c]).mul_(spec.scale[c]);
  const absl::StatusOr<std::vector<cv::Mat>> crops = TensorToCrops(t, spec);
  ASSERT_TRUE(crops.ok()) << crops.status();
  const absl::StatusOr<torch::Tensor> again = CropsToTensor(*crops, spec);
  ASSERT_TRUE(again.ok()) << again.status();
  torch::Tensor again_pixels = again->clone();
  for (int c = 0; c < 3; ++c) again_pixels.select(1, c).div_(spec.scale[c]).add_(spec.mean[c]);
  const torch::Tensor expected = pixels.clamp(0, 255);
  EXPECT_LE((again_pixels - expected).abs().max().item<float>(), 0.5f + 1e-3f);
}

TEST(TensorConversionTest, TensorToCropsRejectsAnotherShape) {
  const nn::InputSpec spec = DlibLikeSpec(nn::ChannelOrder::kRgb);
  const auto wrong = TensorToCrops(torch::zeros({2, 3, 5, 4}), spec);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("expected N x 3 x 4 x 4"));
  EXPECT_EQ(TensorToCrops(torch::zeros({3, 4, 4}), spec).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::image
