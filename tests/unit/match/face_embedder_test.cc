// FaceEmbedder's forwards on a randomly initialized MobileFaceNet (no
// weights needed): the raw rows that the server's micro-batcher combines,
// the mirror averaging it must reproduce from mirrored crops, and chunking.
#include "core/match/face_embedder.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <vector>

#include "core/nn/state_dict_importer.h"

namespace qf::match {
namespace {

class FaceEmbedderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(3);
    auto model = nn::MakeArchitecture("mobilefacenet");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    model_->eval();
    cv::RNG rng(11);
    const int size = model_->spec().input.size;
    for (int i = 0; i < 5; ++i) {
      cv::Mat crop(size, size, CV_8UC3);
      rng.fill(crop, cv::RNG::UNIFORM, 0, 256);
      crops_.push_back(crop);
    }
  }

  // Row `row` of `t` as a float vector.
  static std::vector<float> Row(const torch::Tensor& t, int64_t row) {
    const torch::Tensor r = t[row].contiguous();
    return {r.data_ptr<float>(), r.data_ptr<float>() + r.numel()};
  }

  std::shared_ptr<nn::Backbone> model_;
  std::vector<cv::Mat> crops_;
};

TEST_F(FaceEmbedderTest, ForwardCropsAreTheRawRowsThatEmbedCropsNormalizes) {
  const FaceEmbedder embedder(model_, nullptr);
  auto raw = embedder.ForwardCrops(crops_);
  auto embedded = embedder.EmbedCrops(crops_, /*flip=*/false);
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  ASSERT_EQ(raw->sizes(), embedded->sizes());
  EXPECT_EQ(raw->size(1), 512);
  const torch::Tensor norms = raw->norm(2, 1);
  // Raw: not unit length (a random MobileFaceNet's rows are far from it).
  EXPECT_GT((norms - 1).abs().max().item<float>(), 0.01f);
  EXPECT_TRUE(torch::allclose(*raw / norms.unsqueeze(1), *embedded, 1e-5, 1e-6));
}

// The micro-batcher mirrors crops with cv::flip and sums rows; EmbedCrops
// mirrors the input tensor. Both must give the same embedding.
TEST_F(FaceEmbedderTest, MirroredCropsGiveTheMirrorAveragedEmbedding) {
  const FaceEmbedder embedder(model_, nullptr);
  std::vector<cv::Mat> with_mirrors = crops_;
  for (const cv::Mat& crop : crops_) {
    cv::Mat mirrored;
    cv::flip(crop, mirrored, 1);
    with_mirrors.push_back(mirrored);
  }
  auto raw = embedder.ForwardCrops(with_mirrors);
  auto averaged = embedder.EmbedCrops(crops_, /*flip=*/true);
  auto plain = embedder.EmbedCrops(crops_, /*flip=*/false);
  ASSERT_TRUE(raw.ok() && averaged.ok() && plain.ok());
  const auto n = static_cast<int64_t>(crops_.size());
  const torch::Tensor sum = raw->narrow(0, 0, n) + raw->narrow(0, n, n);
  const torch::Tensor expected = sum / sum.norm(2, 1).unsqueeze(1);
  EXPECT_TRUE(torch::allclose(expected, *averaged, 1e-5, 1e-6));
  // And mirror averaging does change the embedding (random crops are not
  // symmetric).
  EXPECT_GT((*averaged - *plain).abs().max().item<float>(), 1e-3f);
}

TEST_F(FaceEmbedderTest, ChunkedForwardsGiveTheSameRowsAndEmptyInputIsRefused) {
  const FaceEmbedder whole(model_, nullptr);
  EmbedderOptions small;
  small.max_batch_size = 2;
  const FaceEmbedder chunked(model_, nullptr, small);
  auto a = whole.EmbedCrops(crops_, /*flip=*/true);
  auto b = chunked.EmbedCrops(crops_, /*flip=*/true);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int64_t i = 0; i < a->size(0); ++i) {
    const std::vector<float> x = Row(*a, i), y = Row(*b, i);
    for (size_t d = 0; d < x.size(); ++d) ASSERT_NEAR(x[d], y[d], 1e-5) << i << "," << d;
  }
  EXPECT_EQ(whole.ForwardCrops({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(whole.EmbedCrops({}, false).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::match
