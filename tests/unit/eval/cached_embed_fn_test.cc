#include "core/eval/cached_embed_fn.h"

#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

std::vector<EmbedItem> Items(const std::vector<std::string>& paths) {
  std::vector<EmbedItem> items;
  for (const std::string& path : paths) items.push_back({path, std::nullopt});
  return items;
}

// Row of "/img/N": (N, 1), so answers can be told apart.
EmbedFn NumberedEmbedFn(std::vector<std::vector<std::string>>& calls) {
  return [&calls](absl::Span<const EmbedItem> items, bool) -> absl::StatusOr<torch::Tensor> {
    std::vector<std::string> paths;
    torch::Tensor rows = torch::ones({static_cast<int64_t>(items.size()), 2});
    for (std::size_t i = 0; i < items.size(); ++i) {
      paths.push_back(items[i].image_path);
      rows[static_cast<int64_t>(i)][0] = std::stoi(items[i].image_path.substr(5));
    }
    calls.push_back(paths);
    return rows;
  };
}

TEST(CachedEmbedFnTest, EmbedsOnlyWhatIsMissingAndAnswersInOrder) {
  std::vector<std::vector<std::string>> calls;
  std::unordered_map<std::string, torch::Tensor> rows;
  rows["/img/2"] = torch::tensor({20.0f, 2.0f});  // Cached: not the embedder's (2, 1).
  std::int64_t embedded = 0;
  const EmbedFn embed = CachedEmbedFn(NumberedEmbedFn(calls), rows, embedded);

  const auto first = embed(Items({"/img/1", "/img/2", "/img/3"}), false);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (std::vector<std::string>{"/img/1", "/img/3"}));
  EXPECT_EQ(embedded, 2);
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_TRUE(torch::equal(*first, torch::tensor({{1.0f, 1.0f}, {20.0f, 2.0f}, {3.0f, 1.0f}})));

  // Everything cached now: the embedder is not called.
  const auto second = embed(Items({"/img/3", "/img/1"}), false);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(calls.size(), 1u);
  EXPECT_EQ(embedded, 2);
  EXPECT_TRUE(torch::equal(*second, torch::tensor({{3.0f, 1.0f}, {1.0f, 1.0f}})));
}

TEST(CachedEmbedFnTest, AFailedEmbeddingAddsNothing) {
  std::unordered_map<std::string, torch::Tensor> rows;
  std::int64_t embedded = 0;
  const EmbedFn failing = [](absl::Span<const EmbedItem>, bool) -> absl::StatusOr<torch::Tensor> {
    return absl::NotFoundError("no such file");
  };
  const auto failed = CachedEmbedFn(failing, rows, embedded)(Items({"/img/1"}), false);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(rows.empty());

  const EmbedFn short_answer = [](absl::Span<const EmbedItem>,
                                  bool) -> absl::StatusOr<torch::Tensor> {
    return torch::ones({1, 2});
  };
  const auto wrong = CachedEmbedFn(short_answer, rows, embedded)(Items({"/img/1", "/img/2"}), true);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("one row per image"));
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(embedded, 0);
}

}  // namespace
}  // namespace qf::eval
