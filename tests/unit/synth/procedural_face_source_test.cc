#include "core/synth/procedural_face_source.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/synth/pixel_normalization.h"

namespace qf::synth {
namespace {

nn::InputSpec ArcFaceSpec(nn::ChannelOrder order = nn::ChannelOrder::kRgb) {
  nn::InputSpec spec;
  spec.size = 112;
  spec.landmark_template = nn::ArcFaceTemplate(112);
  spec.channel_order = order;
  spec.mean = {127.5f, 127.5f, 127.5f};
  spec.scale = {1 / 128.f, 1 / 128.f, 1 / 128.f};
  return spec;
}

std::unique_ptr<ProceduralFaceSource> Faces(const nn::InputSpec& spec, uint64_t seed) {
  auto source = ProceduralFaceSource::Create(spec, seed);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

// Mean grey level of a 5 x 5 patch around (x, y), per image: [N].
torch::Tensor PatchMean(const torch::Tensor& pixels, float x, float y) {
  const int64_t col = static_cast<int64_t>(x) - 2, row = static_cast<int64_t>(y) - 2;
  return pixels.narrow(2, row, 5).narrow(3, col, 5).mean({1, 2, 3});
}

TEST(ProceduralFaceSourceTest, DeterministicNewFacesInPixelRange) {
  const auto a = Faces(ArcFaceSpec(), 7);
  const auto b = Faces(ArcFaceSpec(), 7);
  ASSERT_TRUE(a && b);
  const torch::Tensor first = a->RenderPixels(8);
  EXPECT_EQ(first.sizes(), (std::vector<int64_t>{8, 3, 112, 112}));
  EXPECT_TRUE(torch::equal(first, b->RenderPixels(8)));
  EXPECT_FALSE(torch::allclose(first, a->RenderPixels(8)));
  EXPECT_GE(first.min().item<float>(), 0.f);
  EXPECT_LE(first.max().item<float>(), 255.f);
  EXPECT_TRUE(torch::isfinite(first).all().item<bool>());
  EXPECT_EQ(a->spec()["kind"], "procedural-faces");
  EXPECT_EQ(a->spec()["seed"], 7);
  EXPECT_EQ(a->spec(), ProceduralFaceSource::SpecFor(ArcFaceSpec(), 7));
}

// The renderer places features on the landmark template; without one it
// used to return all-NaN images silently.
TEST(ProceduralFaceSourceTest, RefusesAModelWithoutALandmarkTemplate) {
  nn::InputSpec no_template = ArcFaceSpec();
  no_template.landmark_template = nn::LandmarkTemplate();
  const auto source = ProceduralFaceSource::Create(no_template, 1);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(source.status().message().find("landmark template"), std::string::npos);
}

TEST(ProceduralFaceSourceTest, FeaturesSitOnTheModelsLandmarkTemplate) {
  const auto source = Faces(ArcFaceSpec(), 3);
  ASSERT_TRUE(source);
  const torch::Tensor pixels = source->RenderPixels(64);
  const auto& t = nn::ArcFaceTemplate(112).points;
  // Irises, pupils and brows around the eye points, lips between the
  // mouth corners: on the average face (pose and alignment jitter blur
  // single faces) both are darker than the cheeks below the eyes. A face
  // painted anywhere else would not show this.
  const torch::Tensor mean_face = pixels.mean(0, /*keepdim=*/true);
  const float eyes =
      ((PatchMean(mean_face, t[0][0], t[0][1]) + PatchMean(mean_face, t[1][0], t[1][1])) / 2)
          .item<float>();
  const float cheek_y = (t[0][1] + t[3][1]) / 2;
  const torch::Tensor cheeks =
      (PatchMean(pixels, t[0][0] - 2, cheek_y) + PatchMean(pixels, t[1][0] + 2, cheek_y)) / 2;
  const float mean_cheeks = cheeks.mean().item<float>();
  const float mouth =
      PatchMean(mean_face, (t[3][0] + t[4][0]) / 2, (t[3][1] + t[4][1]) / 2 + 1).item<float>();
  EXPECT_LT(eyes, mean_cheeks - 10);
  EXPECT_LT(mouth, mean_cheeks - 10);
  // Different people: skin tones (the cheeks) vary widely between faces.
  EXPECT_GT(cheeks.std().item<float>(), 20.f);
}

TEST(ProceduralFaceSourceTest, BatchesAreNormalizedInTheModelsChannelOrder) {
  const auto rgb_pixels = Faces(ArcFaceSpec(), 11);
  const auto bgr = Faces(ArcFaceSpec(nn::ChannelOrder::kBgr), 11);
  ASSERT_TRUE(rgb_pixels && bgr);
  const torch::Tensor pixels = rgb_pixels->RenderPixels(4);
  const torch::Tensor expected = NormalizePixels(pixels.flip({1}), ArcFaceSpec());
  EXPECT_TRUE(torch::allclose(bgr->NextBatch(4), expected));
}

}  // namespace
}  // namespace qf::synth
