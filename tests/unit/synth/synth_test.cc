#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "core/synth/folder_source.h"
#include "core/synth/inversion_generator.h"
#include "core/synth/mixed_source.h"
#include "core/synth/noise_source.h"
#include "core/synth/procedural_face_source.h"
#include "core/synth/synthetic_cache.h"
#include "core/synth/tensor_set_source.h"
#include "tests/unit/quant/tiny_backbone.h"

namespace qf::synth {
namespace {
namespace fs = std::filesystem;

// A fresh, empty directory under the test's temp dir.
fs::path TempDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("qf_synth_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteImage(const fs::path& path, int value) {
  cv::Mat image(20, 24, CV_8UC3, cv::Scalar(value, value, value));
  ASSERT_TRUE(cv::imwrite(path.string(), image));
}

nn::InputSpec SmallSpec() {
  nn::InputSpec spec;
  spec.size = 16;
  spec.mean = {128.f, 128.f, 128.f};
  spec.scale = {1.f / 64.f, 1.f / 64.f, 1.f / 64.f};
  return spec;
}

TEST(FolderSourceTest, RefusesFolderNotDeclaredSynthetic) {
  const fs::path dir = TempDir("undeclared");
  WriteImage(dir / "a.png", 10);
  const auto images = LoadSyntheticFolder(dir.string(), SmallSpec(), {});
  EXPECT_EQ(images.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(images.status().message().find("not declared synthetic"), std::string::npos);
  fs::remove_all(dir);
}

TEST(FolderSourceTest, RefusesEvaluationSetEvenWhenDeclared) {
  const fs::path dir = TempDir("lfw_like");
  fs::create_directories(dir / "images");
  std::ofstream(dir / "pairs.txt") << "10 300\n";
  WriteImage(dir / "images" / "a.png", 10);
  FolderOptions options;
  options.declared_synthetic = true;
  EXPECT_EQ(LoadSyntheticFolder((dir / "images").string(), SmallSpec(), options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  fs::remove_all(dir);
}

TEST(FolderSourceTest, LoadsDeclaredFolderResizedAndNormalized) {
  const fs::path dir = TempDir("declared");
  WriteImage(dir / "b.png", 192);
  fs::create_directories(dir / "sub");
  WriteImage(dir / "sub" / "c.png", 64);
  std::ofstream(dir / "notes.txt") << "not an image";
  FolderOptions options;
  options.declared_synthetic = true;
  const auto images = LoadSyntheticFolder(dir.string(), SmallSpec(), options);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  // Sorted order: b.png (192 -> +1), sub/c.png (64 -> -1).
  EXPECT_NEAR((*images)[0].mean().item<double>(), 1.0, 1e-5);
  EXPECT_NEAR((*images)[1].mean().item<double>(), -1.0, 1e-5);
  fs::remove_all(dir);
}

TEST(FolderSourceTest, EmptyFolderIsAnError) {
  const fs::path dir = TempDir("empty");
  FolderOptions options;
  options.declared_synthetic = true;
  EXPECT_EQ(LoadSyntheticFolder(dir.string(), SmallSpec(), options).status().code(),
            absl::StatusCode::kNotFound);
  fs::remove_all(dir);
}

TEST(SyntheticCacheTest, GeneratesOnceThenReuses) {
  const fs::path dir = TempDir("cache");
  const SyntheticCache cache(dir.string());
  const nlohmann::json spec = {{"kind", "test"}, {"seed", 1}};
  int calls = 0;
  const auto generate = [&]() -> absl::StatusOr<torch::Tensor> {
    ++calls;
    return torch::randn({3, 3, 4, 4});
  };
  bool hit = true;
  const auto first = cache.GetOrCreate(spec, generate, &hit);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(hit);
  EXPECT_TRUE(fs::exists(cache.PathFor(spec)));
  EXPECT_NE(cache.PathFor(spec).find(SyntheticCache::Key(spec)), std::string::npos);
  const auto second = cache.GetOrCreate(spec, generate, &hit);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(hit);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(torch::equal(*first, *second));

  // A different spec is a different entry.
  const nlohmann::json other = {{"kind", "test"}, {"seed", 2}};
  EXPECT_NE(SyntheticCache::Key(spec), SyntheticCache::Key(other));
  ASSERT_TRUE(cache.GetOrCreate(other, generate, &hit).ok());
  EXPECT_FALSE(hit);
  EXPECT_EQ(calls, 2);
  fs::remove_all(dir);
}

TEST(SyntheticCacheTest, CorruptEntryIsRegenerated) {
  const fs::path dir = TempDir("corrupt");
  const SyntheticCache cache(dir.string());
  const nlohmann::json spec = {{"kind", "test"}};
  const auto generate = []() -> absl::StatusOr<torch::Tensor> { return torch::ones({2}); };
  ASSERT_TRUE(cache.GetOrCreate(spec, generate).ok());
  std::ofstream(cache.PathFor(spec), std::ios::trunc) << "garbage";
  bool hit = true;
  const auto again = cache.GetOrCreate(spec, generate, &hit);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(hit);
  EXPECT_TRUE(torch::equal(*again, torch::ones({2})));
  fs::remove_all(dir);
}

TEST(NoiseSourceTest, DeterministicAndPixelScaled) {
  NoiseSource a(SmallSpec(), 5);
  NoiseSource b(SmallSpec(), 5);
  const torch::Tensor x = a.NextBatch(64);
  EXPECT_TRUE(torch::equal(x, b.NextBatch(64)));
  EXPECT_FALSE(torch::equal(x, a.NextBatch(64)));
  // Pixels ~ N(128, 64^2) normalized by (p - 128) / 64: about N(0, 1), clipped to [-2, 2].
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(x.std().item<double>(), 0.93, 0.05);
  EXPECT_LE(x.max().item<double>(), 127.0 / 64.0 + 1e-6);
  EXPECT_EQ(a.spec()["kind"], "noise");
}

TEST(MixedSourceTest, SplitsEachBatchBetweenItsPartsInOrder) {
  std::vector<std::unique_ptr<ImageSource>> parts;
  parts.push_back(std::make_unique<NoiseSource>(SmallSpec(), 1));
  parts.push_back(std::make_unique<NoiseSource>(SmallSpec(), 2));
  MixedSource mixed(std::move(parts));
  NoiseSource first(SmallSpec(), 1);
  NoiseSource second(SmallSpec(), 2);
  const torch::Tensor batch = mixed.NextBatch(5);  // 3 + 2.
  ASSERT_EQ(batch.size(0), 5);
  EXPECT_TRUE(torch::equal(batch.narrow(0, 0, 3), first.NextBatch(3)));
  EXPECT_TRUE(torch::equal(batch.narrow(0, 3, 2), second.NextBatch(2)));
  EXPECT_EQ(mixed.NextBatch(1).size(0), 1);  // All from the first part.
  EXPECT_EQ(mixed.spec()["kind"], "mixed");
  EXPECT_EQ(mixed.spec()["parts"][1]["seed"], 2);
}

TEST(TensorSetSourceTest, VisitsEveryImageEachEpoch) {
  const torch::Tensor images =
      torch::arange(5).to(torch::kFloat).view({5, 1, 1, 1}).expand({5, 3, 2, 2}).contiguous();
  TensorSetSource source(images, {{"kind", "test"}}, 3, /*mirror=*/false);
  const torch::Tensor batch = source.NextBatch(5);
  const torch::Tensor ids = std::get<0>(batch.select(1, 0).select(1, 0).select(1, 0).sort());
  EXPECT_TRUE(torch::equal(ids, torch::arange(5).to(torch::kFloat)));
  EXPECT_EQ(source.NextBatch(7).size(0), 7);  // Crosses an epoch boundary.
}

TEST(TensorSetSourceTest, AugmentationGivesEachImageANearbyView) {
  // A smooth image (a diagonal ramp), so resampling changes it a little,
  // not a lot.
  const torch::Tensor ramp = torch::linspace(-1, 1, 32);
  const torch::Tensor image = (ramp.view({1, 32}) + ramp.view({32, 1})).expand({3, 32, 32});
  const torch::Tensor images = image.unsqueeze(0).expand({4, 3, 32, 32}).contiguous();
  const SetAugmentation augmentation = FaceViewAugmentation();
  TensorSetSource source(images, {{"kind", "test"}}, 5, /*mirror=*/false, augmentation);
  const torch::Tensor batch = source.NextBatch(4);
  ASSERT_EQ(batch.sizes(), images.sizes());
  for (int64_t i = 0; i < 4; ++i) {
    const double change = (batch[i] - image).abs().mean().item<double>();
    EXPECT_GT(change, 1e-3) << i;  // A new view ...
    EXPECT_LT(change, 0.25) << i;  // ... of the same image (values span [-2, 2]).
  }
  // Each image its own view.
  EXPECT_FALSE(torch::allclose(batch[0], batch[1]));
  // Deterministic for a seed.
  TensorSetSource same(images, {{"kind", "test"}}, 5, /*mirror=*/false, augmentation);
  EXPECT_TRUE(torch::equal(same.NextBatch(4), batch));
  EXPECT_EQ(source.spec()["augmentation"]["max_zoom"], augmentation.max_zoom);
  // Without bounds the images are served as stored, and the spec says nothing.
  TensorSetSource plain(images, {{"kind", "test"}}, 5, /*mirror=*/false);
  EXPECT_TRUE(torch::equal(plain.NextBatch(4), images));
  EXPECT_FALSE(plain.spec().contains("augmentation"));
}

TEST(TensorSetSourceTest, ShiftAloneMovesTheImage) {
  // A bright column in the middle of a dark image: a pure shift moves it
  // sideways by at most max_shift of the side, rows unchanged.
  torch::Tensor image = torch::zeros({1, 3, 32, 32});
  image.select(3, 16).fill_(1);
  SetAugmentation shift_only;
  shift_only.max_shift = 0.1;  // At most 3.2 pixels.
  TensorSetSource source(image, {{"kind", "test"}}, 9, /*mirror=*/false, shift_only);
  for (int round = 0; round < 5; ++round) {
    const torch::Tensor view = source.NextBatch(1)[0][0];
    const torch::Tensor column_mass = view.sum(0);  // Per column.
    const torch::Tensor columns = torch::arange(32).to(torch::kFloat);
    const double centre = ((column_mass * columns).sum() / column_mass.sum()).item<double>();
    EXPECT_NEAR(centre, 16, 3.3) << round;
    EXPECT_NEAR(column_mass.sum().item<double>(), 32, 1e-3) << round;  // Nothing lost.
    EXPECT_TRUE(torch::allclose(view[0], view[31])) << round;          // Rows alike: no rotation.
  }
}

TEST(TensorSetSourceTest, BlendingMixesEachImageWithAnotherOfItsBatch) {
  // Image i is one-hot in channel i, so a served image's channels are the
  // blend's weights: its own image's is the largest, its partner's the next.
  constexpr int64_t kImages = 8;
  const torch::Tensor images = torch::eye(kImages)
                                   .view({kImages, kImages, 1, 1})
                                   .expand({kImages, kImages, 2, 2})
                                   .contiguous();
  SetAugmentation blend_only;
  blend_only.max_blend = 0.4;
  TensorSetSource source(images, {{"kind", "test"}}, 11, /*mirror=*/false, blend_only);
  const torch::Tensor batch = source.NextBatch(kImages);  // One epoch: every image once.
  ASSERT_EQ(batch.sizes(), images.sizes());
  const torch::Tensor weights = batch.select(3, 0).select(2, 0);         // kImages x kImages.
  EXPECT_TRUE(torch::equal(batch.select(3, 0), batch.select(3, 1)));     // Pixels alike.
  EXPECT_TRUE(torch::allclose(weights.sum(1), torch::ones({kImages})));  // A convex blend.
  const auto [sorted, channel] = weights.sort(/*dim=*/1, /*descending=*/true);
  // Each image's own weight is at least 1 - max_blend, and each image is
  // served once as itself and once as a partner.
  EXPECT_GE(sorted.select(1, 0).min().item<double>(), 1 - 0.4 - 1e-6);
  EXPECT_TRUE(torch::equal(std::get<0>(channel.select(1, 0).sort()), torch::arange(kImages)));
  const torch::Tensor partner_weight = sorted.select(1, 1);
  EXPECT_GT(partner_weight.max().item<double>(), 0.1);            // Blended, not served as stored.
  EXPECT_EQ(sorted.slice(1, 2).abs().max().item<double>(), 0.0);  // Two images per blend.
  // Deterministic for a seed; recorded in the spec.
  TensorSetSource same(images, {{"kind", "test"}}, 11, /*mirror=*/false, blend_only);
  EXPECT_TRUE(torch::equal(same.NextBatch(kImages), batch));
  EXPECT_EQ(source.spec()["augmentation"]["max_blend"], 0.4);
  // The views alone do not write the bound, so earlier sets' specs stay as they were.
  TensorSetSource views(images, {{"kind", "test"}}, 11, /*mirror=*/false, FaceViewAugmentation());
  EXPECT_FALSE(views.spec()["augmentation"].contains("max_blend"));
}

TEST(TensorSetSourceTest, RecoloringScalesAndMovesEachChannelWithinItsBounds) {
  torch::manual_seed(3);
  constexpr int64_t kImages = 16;
  constexpr double kJitter = 0.4;
  const torch::Tensor images = torch::randn({kImages, 3, 8, 8}) * 0.7 + 0.2;
  SetAugmentation recolor_only;
  recolor_only.max_color_jitter = kJitter;
  TensorSetSource source(images, {{"kind", "test"}}, 5, /*mirror=*/false, recolor_only);
  const torch::Tensor batch = source.NextBatch(kImages);  // One epoch: every image once.
  ASSERT_EQ(batch.sizes(), images.sizes());
  // The served images are the stored ones in some order: match them by
  // their pixels' correlation, which recolouring (a positive affine map
  // per channel) leaves at 1.
  const auto standardized = [](const torch::Tensor& x) {
    const torch::Tensor mean = x.mean({2, 3}, true);
    const torch::Tensor sd = x.std({2, 3}, false, true);
    return ((x - mean) / sd).flatten(1);
  };
  const torch::Tensor correlation =
      torch::matmul(standardized(batch), standardized(images).t()) / (3 * 8 * 8);
  const torch::Tensor stored = correlation.argmax(1);
  EXPECT_GT(std::get<0>(correlation.max(1)).min().item<double>(), 0.999);
  EXPECT_TRUE(torch::equal(std::get<0>(stored.sort()), torch::arange(kImages)));
  const torch::Tensor original = images.index_select(0, stored);
  const torch::Tensor sd = original.std({2, 3}, false);
  const torch::Tensor contrast = batch.std({2, 3}, false) / sd;
  const torch::Tensor shift = (batch.mean({2, 3}) - original.mean({2, 3})) / sd;
  EXPECT_GE(contrast.min().item<double>(), 1 - kJitter - 1e-4);
  EXPECT_LE(contrast.max().item<double>(), 1 + kJitter + 1e-4);
  EXPECT_LE(shift.abs().max().item<double>(), kJitter + 1e-4);
  // Each channel of each image drawn apart: far from the identity somewhere.
  EXPECT_GT((contrast - 1).abs().max().item<double>(), kJitter / 2);
  EXPECT_GT(shift.abs().max().item<double>(), kJitter / 2);
  EXPECT_GT((contrast.select(1, 0) - contrast.select(1, 1)).abs().max().item<double>(), 0.05);
  EXPECT_EQ(source.spec()["augmentation"]["max_color_jitter"], kJitter);
  TensorSetSource views(images, {{"kind", "test"}}, 5, /*mirror=*/false, FaceViewAugmentation());
  EXPECT_FALSE(views.spec()["augmentation"].contains("max_color_jitter"));
}

TEST(TensorSetSourceTest, DownscalingRemovesFineDetailAndKeepsWhatIsCoarse) {
  // Each image: vertical stripes with a period of 4 pixels (half the finest
  // detail a grid holds) on top of a smooth vertical ramp, in the three
  // channels. Shrinking by 2 or more leaves no grid fine enough for the
  // stripes; the ramp survives at any size.
  constexpr int64_t kImages = 32;
  constexpr int64_t kSide = 32;
  const torch::Tensor column = torch::arange(kSide).to(torch::kFloat);
  const torch::Tensor stripes =
      torch::cos(column * (M_PI / 2)).view({1, kSide}).expand({kSide, kSide});
  const torch::Tensor ramp = torch::linspace(-1, 1, kSide).view({kSide, 1}).expand({kSide, kSide});
  const torch::Tensor image = (0.5 * stripes + ramp).expand({3, kSide, kSide});
  const torch::Tensor images = image.unsqueeze(0).expand({kImages, 3, kSide, kSide}).contiguous();
  SetAugmentation downscale_only;
  downscale_only.max_downscale = 4;
  TensorSetSource source(images, {{"kind", "test"}}, 7, /*mirror=*/false, downscale_only);
  const torch::Tensor batch = source.NextBatch(kImages);
  ASSERT_EQ(batch.sizes(), images.sizes());
  // The share of the stripes left in each served image: 1 as stored.
  const torch::Tensor kept = (batch * stripes).mean({1, 2, 3}) / (image * stripes).mean();
  // Factors uniform in [1, 4]: every image is resampled and loses some;
  // about two thirds are shrunk by 2 or more and lose nearly all; the few
  // shrunk by little keep much of it.
  EXPECT_LT(kept.max().item<double>(), 1 - 1e-3);
  EXPECT_GT((kept.abs() < 0.1).sum().item<int64_t>(), kImages / 2);
  EXPECT_GT(kept.max().item<double>(), 0.3);
  // The coarse content stays: each row's mean follows the ramp (within
  // two rows' steps of it: the edge rows are resampled from one side).
  const torch::Tensor row_means = batch.mean({1, 3});  // Per image and row.
  EXPECT_LT((row_means - ramp.select(1, 0)).abs().max().item<double>(), 2 * 2.0 / (kSide - 1));
  // Deterministic for a seed; recorded in the spec, and only when on.
  TensorSetSource same(images, {{"kind", "test"}}, 7, /*mirror=*/false, downscale_only);
  EXPECT_TRUE(torch::equal(same.NextBatch(kImages), batch));
  EXPECT_EQ(source.spec()["augmentation"]["max_downscale"], 4);
  TensorSetSource views(images, {{"kind", "test"}}, 7, /*mirror=*/false, FaceViewAugmentation());
  EXPECT_FALSE(views.spec()["augmentation"].contains("max_downscale"));
  SetAugmentation off;
  off.max_downscale = 1;
  EXPECT_FALSE(off.enabled());
}

TEST(InversionGeneratorTest, PullsImagesTowardsTheirIdentities) {
  torch::manual_seed(0);
  testing::TinyBackbone teacher;
  InversionOptions options;
  options.num_images = 8;
  options.views_per_identity = 2;
  options.batch_size = 8;
  options.jitter = 1;
  // The reported cosine is the last step's, before its update: with one
  // step, the cosine of the initial noise.
  const auto cosine_after = [&](int64_t steps) {
    options.steps = steps;
    double cosine = -2;
    const auto images = GenerateByInversion(teacher, options, torch::kCPU,
                                            [&](int64_t, int64_t, double cos) { cosine = cos; });
    EXPECT_TRUE(images.ok()) << images.status();
    if (images.ok()) {
      EXPECT_EQ(images->sizes(), (std::vector<int64_t>{8, 3, 16, 16}));
      // Pixels stay in 0..255: normalized (p - 128) / 64.
      EXPECT_GE(images->min().item<double>(), -2.0 - 1e-5);
      EXPECT_LE(images->max().item<double>(), 127.0 / 64.0 + 1e-5);
    }
    return cosine;
  };
  const double initial = cosine_after(1);
  const double optimized = cosine_after(40);
  EXPECT_GT(optimized, initial + 0.1) << initial << " -> " << optimized;
  for (const auto& p : teacher.parameters()) EXPECT_TRUE(p.requires_grad());

  options.batch_size = 3;  // Not a multiple of the views.
  EXPECT_FALSE(GenerateByInversion(teacher, options, torch::kCPU).ok());
}

TEST(InversionGeneratorTest, RenderedStartKeepsTheFacesAndSpreadsTheirIdentities) {
  torch::manual_seed(0);
  testing::TinyBackbone teacher;
  InversionOptions options;
  options.start = InversionStart::kRenderedFaces;
  options.num_images = 6;
  options.batch_size = 6;
  options.learning_rate = 2.0;
  options.jitter = 1;
  const auto run = [&](int64_t steps, double* cosine) {
    options.steps = steps;
    auto images = GenerateByInversion(teacher, options, torch::kCPU,
                                      [&](int64_t, int64_t, double cos) { *cosine = cos; });
    EXPECT_TRUE(images.ok()) << images.status();
    return images.ok() ? *images : torch::Tensor();
  };
  // One Adam step moves each pixel by at most about its step size (2 levels,
  // 2 / 64 normalized) from the rendered face it started as.
  double initial = 0, optimized = 0;
  const torch::Tensor one_step = run(1, &initial);
  auto source = ProceduralFaceSource::Create(teacher.spec().input, options.seed);
  ASSERT_TRUE(source.ok()) << source.status();
  const torch::Tensor faces = (*source)->NextBatch(options.num_images);
  ASSERT_TRUE(one_step.defined());
  EXPECT_LE((one_step - faces).abs().max().item<double>(), 2.0 / 64.0 + 1e-4);
  // The targets lie away from the faces' own embeddings (spread 2), and the
  // optimization pulls the images towards them.
  EXPECT_LT(initial, 0.999);
  run(40, &optimized);
  EXPECT_GT(optimized, initial) << initial << " -> " << optimized;

  options.spread = 0;
  EXPECT_FALSE(GenerateByInversion(teacher, options, torch::kCPU).ok());
}

TEST(InversionGeneratorTest, RenderedStartNeedsALandmarkTemplate) {
  testing::TinyBackbone teacher(/*landmark_template=*/false);
  InversionOptions options;
  options.start = InversionStart::kRenderedFaces;
  options.num_images = 2;
  options.batch_size = 2;
  options.steps = 1;
  const auto images = GenerateByInversion(teacher, options, torch::kCPU);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(images.status().message().find("landmark template"), std::string::npos);
}

TEST(InversionGeneratorTest, SpecNamesTeacherAndSettings) {
  InversionOptions options;
  const nlohmann::json spec = InversionSpec("tiny@sha256:abc", SmallSpec(), options);
  EXPECT_EQ(spec["kind"], "builtin-inversion");
  EXPECT_EQ(spec["teacher"], "tiny@sha256:abc");
  // Sets from noise name no start, so their cache keys predate the option,
  // and record the step that was the only one then.
  EXPECT_FALSE(spec.contains("start"));
  EXPECT_DOUBLE_EQ(spec["learning_rate"].get<double>(), 0.05 * 255.0);
  options.seed = 2;
  EXPECT_NE(SyntheticCache::Key(spec),
            SyntheticCache::Key(InversionSpec("tiny@sha256:abc", SmallSpec(), options)));

  options.start = InversionStart::kRenderedFaces;
  const nlohmann::json rendered = InversionSpec("tiny@sha256:abc", SmallSpec(), options);
  EXPECT_EQ(rendered["start"]["kind"], "procedural-faces");
  EXPECT_EQ(rendered["spread"], 2.0);
  // The default step is keyed exactly as an explicit --synth-lr 2.55.
  EXPECT_EQ(rendered["learning_rate"].get<double>(), 2.55);
  options.learning_rate = 2.55;
  EXPECT_EQ(SyntheticCache::Key(rendered),
            SyntheticCache::Key(InversionSpec("tiny@sha256:abc", SmallSpec(), options)));
  options.spread = 3.0;
  EXPECT_NE(SyntheticCache::Key(rendered),
            SyntheticCache::Key(InversionSpec("tiny@sha256:abc", SmallSpec(), options)));
}

}  // namespace
}  // namespace qf::synth
