#include "core/gallery/hnsw_search_index.h"

#include <gtest/gtest.h>

#include <set>

#include "core/gallery/flat_search_index.h"
#include "core/gallery/search_index_factory.h"
#include "tests/unit/gallery/random_vectors.h"

namespace qf::gallery {
namespace {

using testing::RandomUnitRows;
using testing::Row;

TEST(HnswSearchIndexTest, RecallAtTenAgainstExactIsHigh) {
  constexpr int kDim = 32;
  constexpr int kCount = 3000;
  const auto rows = RandomUnitRows(kCount, kDim, 11);
  std::vector<int64_t> ids(kCount);
  for (int i = 0; i < kCount; ++i) ids[i] = i;
  HnswSearchIndex approximate(kDim, HnswOptions{});
  FlatSearchIndex exact(kDim);
  ASSERT_TRUE(approximate.Add(ids, rows).ok());
  ASSERT_TRUE(exact.Add(ids, rows).ok());
  const auto queries = RandomUnitRows(50, kDim, 12);
  auto a = approximate.Search(queries, 10);
  auto e = exact.Search(queries, 10);
  ASSERT_TRUE(a.ok() && e.ok());
  int found = 0;
  for (int q = 0; q < 50; ++q) {
    std::set<int64_t> truth;
    for (const auto& hit : (*e)[q]) truth.insert(hit.id);
    for (const auto& hit : (*a)[q]) found += truth.count(hit.id);
  }
  // Random 32-d data is the hard case for graph indexes; real embeddings do
  // better. bench/gallery_search measures recall at scale.
  EXPECT_GT(found / 500.0, 0.9);
}

TEST(HnswSearchIndexTest, RemovedIdsAreNeverReturned) {
  constexpr int kDim = 16;
  const auto rows = RandomUnitRows(100, kDim, 13);
  std::vector<int64_t> ids(100);
  for (int i = 0; i < 100; ++i) ids[i] = 500 + i;
  HnswSearchIndex index(kDim, HnswOptions{});
  ASSERT_TRUE(index.Add(ids, rows).ok());
  index.Remove({500, 501});
  EXPECT_EQ(index.size(), 98);
  auto hits = index.Search(Row(rows, 0, kDim), 5);
  ASSERT_TRUE(hits.ok());
  ASSERT_FALSE((*hits)[0].empty());
  for (const auto& hit : (*hits)[0]) {
    EXPECT_NE(hit.id, 500);
    EXPECT_NE(hit.id, 501);
  }
  // A removed id may be added again (as a new vector).
  EXPECT_TRUE(index.Add({500}, Row(rows, 0, kDim)).ok());
  auto again = index.Search(Row(rows, 0, kDim), 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0][0].id, 500);
}

TEST(SearchIndexFactoryTest, NamesTheKinds) {
  EXPECT_EQ((*MakeSearchIndex("flat", 8))->kind(), "flat");
  EXPECT_EQ((*MakeSearchIndex("hnsw", 8))->kind(), "hnsw");
  EXPECT_EQ(MakeSearchIndex("ivf", 8).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeSearchIndex("flat", 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::gallery
