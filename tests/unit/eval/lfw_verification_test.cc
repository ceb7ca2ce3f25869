#include "core/eval/lfw_verification.h"

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

// Two folds; each fold has two same and two different pairs. Image paths are
// never opened: the fake embedder derives embeddings from the path.
LfwDataset TinyDataset() {
  LfwDataset d;
  d.root = "/lfw";
  const auto add = [&d](const char* a, int i, const char* b, int j, int fold) {
    d.pairs.push_back({a, i, b, j, std::string(a) == b, fold});
  };
  add("Ann", 1, "Ann", 2, 1);
  add("Bob", 1, "Bob", 2, 1);
  add("Ann", 1, "Bob", 1, 1);
  add("Cid", 1, "Ann", 2, 1);
  add("Cid", 1, "Cid", 2, 2);
  add("Dan", 1, "Dan", 2, 2);
  add("Dan", 1, "Ann", 1, 2);
  add("Bob", 2, "Cid", 2, 2);
  for (const LfwPair& pair : d.pairs) {
    for (const auto& [name, number] :
         {std::pair(pair.name_a, pair.number_a), std::pair(pair.name_b, pair.number_b)}) {
      image::Landmarks5 points;
      for (int k = 0; k < 5; ++k) points[k] = cv::Point2f(number * 10.f + k, 1.f * k);
      d.landmarks[LfwImageKey(name, number)] = points;
    }
  }
  return d;
}

// Person p (by first letter) points along axis p; image 2 is tilted a bit
// towards the next axis: same-person cosine ~0.98, different ~0 or ~0.2.
torch::Tensor FakeEmbedding(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const int person = path[slash + 1] - 'A';
  const bool second = path.find("_0002") != std::string::npos;
  torch::Tensor e = torch::zeros({8});
  e[person] = 1.0;
  if (second) e[(person + 1) % 8] = 0.2;
  return e / e.norm();
}

struct Recorder {
  std::map<std::string, int> calls_per_path;
  std::vector<std::size_t> batch_sizes;
  std::vector<bool> flips;
  int items_with_landmarks = 0;
};

EmbedFn FakeEmbedder(Recorder* recorder) {
  return [recorder](absl::Span<const EmbedItem> items, bool flip) -> absl::StatusOr<torch::Tensor> {
    recorder->batch_sizes.push_back(items.size());
    recorder->flips.push_back(flip);
    std::vector<torch::Tensor> rows;
    for (const EmbedItem& item : items) {
      ++recorder->calls_per_path[item.image_path];
      if (item.landmarks.has_value()) ++recorder->items_with_landmarks;
      rows.push_back(FakeEmbedding(item.image_path));
    }
    return torch::stack(rows);
  };
}

TEST(LfwVerificationTest, EmbedsEachImageOnceInBatchesAndScoresByCosine) {
  Recorder recorder;
  LfwVerificationOptions options;
  options.batch_size = 3;
  options.flip = true;
  std::vector<std::size_t> progress;
  options.progress = [&progress](std::size_t done, std::size_t) { progress.push_back(done); };
  const absl::StatusOr<LfwVerificationResult> result =
      RunLfwVerification(TinyDataset(), FakeEmbedder(&recorder), options);
  ASSERT_TRUE(result.ok()) << result.status();

  // 8 distinct images: Ann 1-2, Bob 1-2, Cid 1-2, Dan 1-2.
  EXPECT_EQ(result->num_images, 8u);
  EXPECT_EQ(result->embedding_dim, 8);
  EXPECT_EQ(recorder.calls_per_path.size(), 8u);
  for (const auto& [path, calls] : recorder.calls_per_path) {
    EXPECT_EQ(calls, 1) << path;
    EXPECT_EQ(path.rfind("/lfw/images/", 0), 0u) << path;
  }
  EXPECT_EQ(recorder.batch_sizes, (std::vector<std::size_t>{3, 3, 2}));
  EXPECT_EQ(progress, (std::vector<std::size_t>{3, 6, 8}));
  for (const bool flip : recorder.flips) EXPECT_TRUE(flip);
  EXPECT_EQ(recorder.items_with_landmarks, 8);

  ASSERT_EQ(result->scores.size(), 8u);
  const double same = 1 / std::sqrt(1.04);  // Cosine of (1, 0) and (1, 0.2).
  EXPECT_NEAR(result->scores[0].score, same, 1e-6);
  EXPECT_TRUE(result->scores[0].is_same);
  EXPECT_NEAR(result->scores[2].score, 0.0, 1e-6);  // Ann_1 . Bob_1
  EXPECT_FALSE(result->scores[2].is_same);
  EXPECT_EQ(result->scores[4].fold, 2);
  EXPECT_DOUBLE_EQ(result->metrics.accuracy_mean, 1.0);
  EXPECT_EQ(result->metrics.folds.size(), 2u);
}

TEST(LfwVerificationTest, WithoutLandmarksPassesNone) {
  Recorder recorder;
  LfwVerificationOptions options;
  options.use_landmarks = false;
  LfwDataset dataset = TinyDataset();
  dataset.landmarks.clear();
  const absl::StatusOr<LfwVerificationResult> result =
      RunLfwVerification(dataset, FakeEmbedder(&recorder), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(recorder.items_with_landmarks, 0);
  EXPECT_EQ(recorder.batch_sizes, (std::vector<std::size_t>{8}));
  EXPECT_FALSE(recorder.flips[0]);
}

TEST(LfwVerificationTest, MissingLandmarksAreAnError) {
  Recorder recorder;
  LfwDataset dataset = TinyDataset();
  dataset.landmarks.erase("Dan/Dan_0002.jpg");
  const absl::StatusOr<LfwVerificationResult> result =
      RunLfwVerification(dataset, FakeEmbedder(&recorder));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("no landmarks for Dan/Dan_0002.jpg"));
}

TEST(LfwVerificationTest, EmbedderErrorsComeBackWithThePath) {
  const EmbedFn failing = [](absl::Span<const EmbedItem>, bool) -> absl::StatusOr<torch::Tensor> {
    return absl::InvalidArgumentError("no face");
  };
  absl::StatusOr<LfwVerificationResult> result = RunLfwVerification(TinyDataset(), failing);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("/lfw/images/Ann/Ann_0001.jpg: no face"));

  const EmbedFn throwing = [](absl::Span<const EmbedItem>, bool) -> absl::StatusOr<torch::Tensor> {
    throw std::runtime_error("boom");
  };
  result = RunLfwVerification(TinyDataset(), throwing);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(), HasSubstr("boom"));
}

TEST(LfwVerificationTest, RejectsMalformedEmbeddings) {
  const EmbedFn wrong_rows = [](absl::Span<const EmbedItem> items,
                                bool) -> absl::StatusOr<torch::Tensor> {
    return torch::ones({static_cast<std::int64_t>(items.size()) + 1, 4});
  };
  EXPECT_THAT(RunLfwVerification(TinyDataset(), wrong_rows).status().message(),
              HasSubstr("N x D tensor with N = 8"));

  const EmbedFn nan = [](absl::Span<const EmbedItem> items, bool) -> absl::StatusOr<torch::Tensor> {
    return torch::full({static_cast<std::int64_t>(items.size()), 4}, std::nan(""));
  };
  EXPECT_THAT(RunLfwVerification(TinyDataset(), nan).status().message(), HasSubstr("non-finite"));

  const EmbedFn zero = [](absl::Span<const EmbedItem> items,
                          bool) -> absl::StatusOr<torch::Tensor> {
    return torch::zeros({static_cast<std::int64_t>(items.size()), 4});
  };
  EXPECT_THAT(RunLfwVerification(TinyDataset(), zero).status().message(),
              HasSubstr("zero embedding"));

  // Dimension changing between batches.
  int call = 0;
  const EmbedFn changing = [&call](absl::Span<const EmbedItem> items,
                                   bool) -> absl::StatusOr<torch::Tensor> {
    return torch::ones({static_cast<std::int64_t>(items.size()), 4 + call++});
  };
  LfwVerificationOptions options;
  options.batch_size = 4;
  EXPECT_THAT(RunLfwVerification(TinyDataset(), changing, options).status().message(),
              HasSubstr("embedding dimension 5 differs from earlier 4"));
}

}  // namespace
}  // namespace qf::eval
