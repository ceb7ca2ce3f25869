#include "core/gallery/flat_search_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/unit/gallery/random_vectors.h"

namespace qf::gallery {
namespace {

using testing::RandomUnitRows;
using testing::Row;

// Brute force over the same rows: the reference the index must equal.
std::vector<SearchHit> BruteForce(const std::vector<float>& rows, const std::vector<int64_t>& ids,
                                  const std::vector<float>& query, int dim, int k) {
  std::vector<SearchHit> hits;
  for (size_t i = 0; i < ids.size(); ++i) {
    float dot = 0;
    for (int j = 0; j < dim; ++j) dot += rows[i * dim + j] * query[j];
    hits.push_back({ids[i], dot});
  }
  std::sort(hits.begin(), hits.end(),
            [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
  hits.resize(std::min<size_t>(k, hits.size()));
  return hits;
}

TEST(FlatSearchIndexTest, TopKEqualsBruteForce) {
  constexpr int kDim = 32;
  const auto rows = RandomUnitRows(500, kDim, 1);
  std::vector<int64_t> ids(500);
  for (int i = 0; i < 500; ++i) ids[i] = 1000 + 3 * i;
  FlatSearchIndex index(kDim);
  ASSERT_TRUE(index.Add(ids, rows).ok());
  EXPECT_EQ(index.size(), 500);
  const auto queries = RandomUnitRows(20, kDim, 2);
  auto results = index.Search(queries, 10);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 20u);
  for (int q = 0; q < 20; ++q) {
    const auto expected = BruteForce(rows, ids, Row(queries, q, kDim), kDim, 10);
    ASSERT_EQ((*results)[q].size(), 10u);
    for (int j = 0; j < 10; ++j) {
      EXPECT_EQ((*results)[q][j].id, expected[j].id) << "query " << q << " rank " << j;
      EXPECT_NEAR((*results)[q][j].score, expected[j].score, 1e-5);
    }
  }
}

// Large enough for the sharded parallel scan of single queries (2 shards on a
// 2-core machine): still exactly the brute-force answer, filter included.
TEST(FlatSearchIndexTest, ShardedScanEqualsBruteForce) {
  constexpr int kDim = 8;
  constexpr int kCount = 3 << 16;
  const auto rows = RandomUnitRows(kCount, kDim, 6);
  std::vector<int64_t> ids(kCount);
  for (int i = 0; i < kCount; ++i) ids[i] = i;
  FlatSearchIndex index(kDim);
  ASSERT_TRUE(index.Add(ids, rows).ok());
  const auto queries = RandomUnitRows(3, kDim, 7);
  auto results = index.Search(queries, 10);
  ASSERT_TRUE(results.ok());
  for (int q = 0; q < 3; ++q) {
    const auto expected = BruteForce(rows, ids, Row(queries, q, kDim), kDim, 10);
    for (int j = 0; j < 10; ++j) EXPECT_EQ((*results)[q][j].id, expected[j].id) << q << " " << j;
  }
  auto filtered = index.Search(Row(queries, 0, kDim), 5, [](int64_t id) { return id % 3 == 0; });
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ((*filtered)[0].size(), 5u);
  std::vector<float> kept_rows;
  std::vector<int64_t> kept_ids;
  for (int i = 0; i < kCount; i += 3) {
    kept_ids.push_back(i);
    kept_rows.insert(kept_rows.end(), rows.begin() + i * kDim, rows.begin() + (i + 1) * kDim);
  }
  const auto expected = BruteForce(kept_rows, kept_ids, Row(queries, 0, kDim), kDim, 5);
  for (int j = 0; j < 5; ++j) EXPECT_EQ((*filtered)[0][j].id, expected[j].id);
}

TEST(FlatSearchIndexTest, RemovedIdsAreNeverFoundAndOthersStay) {
  constexpr int kDim = 16;
  const auto rows = RandomUnitRows(50, kDim, 3);
  std::vector<int64_t> ids(50);
  for (int i = 0; i < 50; ++i) ids[i] = i;
  FlatSearchIndex index(kDim);
  ASSERT_TRUE(index.Add(ids, rows).ok());
  index.Remove({7, 8, 49, 12345});  // 12345 is absent: ignored
  EXPECT_EQ(index.size(), 47);
  // Row 7 itself is the best match for query = row 7 until removed.
  auto hits = index.Search(Row(rows, 7, kDim), 50);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].size(), 47u);
  for (const SearchHit& hit : (*hits)[0]) {
    EXPECT_NE(hit.id, 7);
    EXPECT_NE(hit.id, 8);
    EXPECT_NE(hit.id, 49);
  }
  // Survivors keep their ids after the compaction.
  auto self = index.Search(Row(rows, 9, kDim), 1);
  ASSERT_TRUE(self.ok());
  EXPECT_EQ((*self)[0][0].id, 9);
  EXPECT_NEAR((*self)[0][0].score, 1.0, 1e-5);
}

TEST(FlatSearchIndexTest, FilterRestrictsTheIds) {
  constexpr int kDim = 8;
  const auto rows = RandomUnitRows(40, kDim, 4);
  std::vector<int64_t> ids(40);
  for (int i = 0; i < 40; ++i) ids[i] = i;
  FlatSearchIndex index(kDim);
  ASSERT_TRUE(index.Add(ids, rows).ok());
  auto hits = index.Search(Row(rows, 4, kDim), 40, [](int64_t id) { return id % 2 == 1; });
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].size(), 20u);
  for (const SearchHit& hit : (*hits)[0]) EXPECT_EQ(hit.id % 2, 1);
}

TEST(FlatSearchIndexTest, RejectsBadInput) {
  FlatSearchIndex index(4);
  EXPECT_EQ(index.Add({1}, {1, 0, 0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Add({1, 1}, std::vector<float>(8, 0.5f)).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(index.Add({1}, {1, 0, 0, 0}).ok());
  EXPECT_EQ(index.Add({1}, {0, 1, 0, 0}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(index.Search({1, 0, 0}, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index.Search({1, 0, 0, 0}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  auto empty = FlatSearchIndex(4).Search({1, 0, 0, 0}, 3);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE((*empty)[0].empty());
}

TEST(FlatSearchIndexTest, ConcurrentAddAndSearchSeeWholeAdds) {
  constexpr int kDim = 16;
  FlatSearchIndex index(kDim);
  const auto rows = RandomUnitRows(400, kDim, 5);
  std::thread writer([&] {
    for (int i = 0; i < 400; i += 4) {
      ASSERT_TRUE(
          index
              .Add({i, i + 1, i + 2, i + 3},
                   std::vector<float>(rows.begin() + i * kDim, rows.begin() + (i + 4) * kDim))
              .ok());
    }
  });
  for (int round = 0; round < 200; ++round) {
    auto hits = index.Search(Row(rows, 0, kDim), 400);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0].size() % 4, 0u) << "a search saw half an Add";
  }
  writer.join();
  EXPECT_EQ(index.size(), 400);
}

}  // namespace
}  // namespace qf::gallery
