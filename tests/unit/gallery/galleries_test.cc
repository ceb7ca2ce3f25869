#include "core/gallery/galleries.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include "tests/unit/gallery/random_vectors.h"
#include "tests/unit/gallery/temp_db.h"

namespace qf::gallery {
namespace {

using testing::RandomUnitRows;
using testing::Row;

constexpr int kDim = 16;

GalleryRecord Gallery(const std::string& id) {
  GalleryRecord gallery;
  gallery.gallery_id = id;
  gallery.model = "models/dlib-resnet";
  gallery.dimension = kDim;
  return gallery;
}

EnrollItem Item(const std::string& id, std::vector<std::vector<float>> embeddings,
                Metadata metadata = {}) {
  EnrollItem item;
  item.identity_id = id;
  item.metadata = std::move(metadata);
  item.embeddings = std::move(embeddings);
  return item;
}

class GalleriesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GalleriesTest, IdentifyReturnsDistinctIdentitiesBestFirst) {
  testing::TempDb db;
  auto galleries = Galleries::Open(db.path(), GetParam());
  ASSERT_TRUE(galleries.ok()) << galleries.status();
  ASSERT_TRUE((*galleries)->Create(Gallery("g")).ok());
  const auto rows = RandomUnitRows(30, kDim, 21);
  // Identity i has templates rows 3i, 3i+1, 3i+2.
  std::vector<EnrollItem> items;
  for (int i = 0; i < 10; ++i) {
    items.push_back(
        Item("id" + std::to_string(i),
             {Row(rows, 3 * i, kDim), Row(rows, 3 * i + 1, kDim), Row(rows, 3 * i + 2, kDim)},
             {{"parity", i % 2 == 0 ? "even" : "odd"}}));
  }
  ASSERT_TRUE((*galleries)->Enroll("g", items).ok());
  auto index = (*galleries)->Index("g");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->identity_count(), 10);
  EXPECT_EQ((*index)->template_count(), 30);

  auto results = (*index)->Identify({Row(rows, 13, kDim)}, 5, {});
  ASSERT_TRUE(results.ok());
  const auto& candidates = (*results)[0];
  ASSERT_EQ(candidates.size(), 5u);
  EXPECT_EQ(candidates[0].identity_id, "id4");  // row 13 belongs to identity 4
  EXPECT_NEAR(candidates[0].score, 1.0, 1e-4);
  for (size_t i = 1; i < candidates.size(); ++i) {
    EXPECT_LE(candidates[i].score, candidates[i - 1].score);
    for (size_t j = 0; j < i; ++j) EXPECT_NE(candidates[i].identity_id, candidates[j].identity_id);
  }

  auto filtered = (*index)->Identify({Row(rows, 13, kDim)}, 10, {{"parity", "odd"}});
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ((*filtered)[0].size(), 5u);
  for (const auto& candidate : (*filtered)[0]) EXPECT_EQ(candidate.metadata.at("parity"), "odd");
  EXPECT_NE((*filtered)[0][0].identity_id, "id4");

  EXPECT_EQ((*index)->Identify({std::vector<float>(kDim + 1, 0.1f)}, 5, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(GalleriesTest, RemoveAndReopenRebuildTheIndexFromTheStore) {
  testing::TempDb db;
  const auto rows = RandomUnitRows(4, kDim, 22);
  {
    auto galleries = *Galleries::Open(db.path(), GetParam());
    ASSERT_TRUE(galleries->Create(Gallery("g")).ok());
    ASSERT_TRUE(galleries
                    ->Enroll("g", {Item("a", {Row(rows, 0, kDim)}), Item("b", {Row(rows, 1, kDim)}),
                                   Item("c", {Row(rows, 2, kDim), Row(rows, 3, kDim)})})
                    .ok());
    ASSERT_TRUE(galleries->RemoveIdentity("g", "b").ok());
    EXPECT_EQ(galleries->RemoveIdentity("g", "b").code(), absl::StatusCode::kNotFound);
    auto hits = (*galleries->Index("g"))->Identify({Row(rows, 1, kDim)}, 10, {});
    ASSERT_TRUE(hits.ok());
    for (const auto& candidate : (*hits)[0]) EXPECT_NE(candidate.identity_id, "b");
  }
  auto galleries = *Galleries::Open(db.path(), GetParam());
  auto index = galleries->Index("g");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->identity_count(), 2);
  EXPECT_EQ((*index)->template_count(), 3);
  auto hits = (*index)->Identify({Row(rows, 3, kDim)}, 1, {});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0][0].identity_id, "c");
  ASSERT_EQ(galleries->builds().size(), 1u);
  EXPECT_EQ(galleries->builds()[0].templates, 3);

  ASSERT_TRUE(galleries->Delete("g").ok());
  EXPECT_EQ(galleries->Index("g").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(galleries->Enroll("g", {Item("a", {Row(rows, 0, kDim)})}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(GalleriesTest, ConcurrentEnrollAndIdentifyStayConsistent) {
  testing::TempDb db;
  auto galleries = *Galleries::Open(db.path(), GetParam());
  ASSERT_TRUE(galleries->Create(Gallery("g")).ok());
  const auto rows = RandomUnitRows(60, kDim, 23);
  auto index = *galleries->Index("g");
  std::atomic<bool> done{false};
  std::thread searcher([&] {
    while (!done) {
      // Every identity found must be whole: its own template scores ~1.
      for (int i = 0; i < 60; i += 7) {
        auto hits = index->Identify({Row(rows, i, kDim)}, 1, {});
        ASSERT_TRUE(hits.ok());
        if (!(*hits)[0].empty() && (*hits)[0][0].identity_id == "id" + std::to_string(i)) {
          EXPECT_NEAR((*hits)[0][0].score, 1.0, 1e-4);
        }
      }
    }
  });
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(
        galleries->Enroll("g", {Item("id" + std::to_string(i), {Row(rows, i, kDim)})}).ok());
  }
  done = true;
  searcher.join();
  EXPECT_EQ(index->identity_count(), 60);
  EXPECT_EQ(galleries->Get("g")->template_count, 60);
  for (int i = 0; i < 60; ++i) {
    auto hits = index->Identify({Row(rows, i, kDim)}, 1, {});
    EXPECT_EQ((*hits)[0][0].identity_id, "id" + std::to_string(i));
  }
}

TEST_P(GalleriesTest, SwitchModelKeepsTemplatesAcrossReopen) {
  testing::TempDb db;
  const auto rows = RandomUnitRows(3, kDim, 24);
  {
    auto galleries = *Galleries::Open(db.path(), GetParam());
    ASSERT_TRUE(galleries->Create(Gallery("g")).ok());
    ASSERT_TRUE(galleries->Create(Gallery("other")).ok());
    ASSERT_TRUE(
        galleries->Enroll("g", {Item("a", {Row(rows, 0, kDim)}), Item("b", {Row(rows, 1, kDim)})})
            .ok());
    auto switched = galleries->SwitchModel("g", "models/student");
    ASSERT_TRUE(switched.ok()) << switched.status();
    EXPECT_EQ(switched->model, "models/student");
    EXPECT_EQ(switched->template_count, 2);
    auto index = *galleries->Index("g");
    EXPECT_EQ(index->gallery().model, "models/student");
    EXPECT_EQ(index->template_count(), 2);
    EXPECT_EQ((*index->Identify({Row(rows, 1, kDim)}, 1, {}))[0][0].identity_id, "b");
    EXPECT_EQ(*galleries->GalleriesUsingModel("models/student"), std::vector<std::string>{"g"});
    // "g" still holds dlib-resnet's templates.
    EXPECT_EQ(*galleries->GalleriesUsingModel("models/dlib-resnet"),
              (std::vector<std::string>{"g", "other"}));
    EXPECT_EQ(galleries->SwitchModel("missing", "models/student").status().code(),
              absl::StatusCode::kNotFound);
  }
  auto galleries = *Galleries::Open(db.path(), GetParam());
  EXPECT_EQ(galleries->Get("g")->model, "models/student");
  auto index = *galleries->Index("g");
  EXPECT_EQ(index->gallery().model, "models/student");
  EXPECT_EQ((*index->Identify({Row(rows, 0, kDim)}, 1, {}))[0][0].identity_id, "a");
}

// A unit row whose cosine with the probe e0 is `cosine` (the rest along e_axis).
std::vector<float> AtCosine(float cosine, int axis) {
  std::vector<float> row(kDim, 0.0f);
  row[0] = cosine;
  row[axis] = std::sqrt(1.0f - cosine * cosine);
  return row;
}

// A gallery switched from a teacher to a student holds templates of both;
// each score counts by its margin over its own model's threshold.
TEST_P(GalleriesTest, IdentifyRanksByTheMarginOverEachTemplateModelsThreshold) {
  testing::TempDb db;
  std::vector<float> probe(kDim, 0.0f);
  probe[0] = 1.0f;
  const ThresholdByModel thresholds = {{"models/dlib-resnet", 0.80f}, {"models/student", 0.70f}};
  {
    auto galleries = *Galleries::Open(db.path(), GetParam());
    ASSERT_TRUE(galleries->Create(Gallery("g")).ok());
    // Teacher templates, margins 0.10 down to 0.03 at the teacher's 0.80.
    std::vector<EnrollItem> by_teacher;
    for (int i = 0; i < 8; ++i) {
      by_teacher.push_back(Item("t" + std::to_string(i), {AtCosine(0.90f - 0.01f * i, 1 + i)}));
    }
    by_teacher.push_back(Item("mixed", {AtCosine(0.86f, 9)}));
    ASSERT_TRUE(galleries->Enroll("g", by_teacher).ok());
    ASSERT_TRUE(galleries->SwitchModel("g", "models/student").ok());
    // Student templates: the lowest raw score of all has the best margin
    // (0.84 - 0.70 = 0.14); "mixed" decides by its student template (0.12).
    ASSERT_TRUE(
        galleries
            ->Enroll("g", {Item("s", {AtCosine(0.84f, 10)}), Item("mixed", {AtCosine(0.82f, 11)})})
            .ok());
  }
  auto galleries = *Galleries::Open(db.path(), GetParam());  // built from the store
  auto index = *galleries->Index("g");
  EXPECT_EQ(index->template_models(),
            (std::map<std::string, int64_t>{{"models/dlib-resnet", 9}, {"models/student", 2}}));

  auto ranked = index->Identify({probe}, 3, {}, thresholds);
  ASSERT_TRUE(ranked.ok()) << ranked.status();
  ASSERT_EQ((*ranked)[0].size(), 3u);
  EXPECT_EQ((*ranked)[0][0].identity_id, "s");
  EXPECT_NEAR((*ranked)[0][0].score, 0.84f, 1e-5);
  EXPECT_FLOAT_EQ((*ranked)[0][0].threshold, 0.70f);
  EXPECT_EQ((*ranked)[0][0].template_model, "models/student");
  EXPECT_EQ((*ranked)[0][1].identity_id, "mixed");
  EXPECT_NEAR((*ranked)[0][1].score, 0.82f, 1e-5);
  EXPECT_EQ((*ranked)[0][1].template_model, "models/student");
  EXPECT_EQ((*ranked)[0][2].identity_id, "t0");
  EXPECT_FLOAT_EQ((*ranked)[0][2].threshold, 0.80f);
  EXPECT_EQ((*ranked)[0][2].template_model, "models/dlib-resnet");

  // k = 1: the best margin lies below seven higher raw scores (how many
  // searches that takes: TwoModelGalleryTest).
  auto best = index->Identify({probe}, 1, {}, thresholds);
  ASSERT_TRUE(best.ok());
  ASSERT_EQ((*best)[0].size(), 1u);
  EXPECT_EQ((*best)[0][0].identity_id, "s");

  // Without thresholds: by raw score, as before any switch.
  auto raw = index->Identify({probe}, 2, {});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ((*raw)[0][0].identity_id, "t0");
  EXPECT_EQ((*raw)[0][1].identity_id, "t1");
  EXPECT_FLOAT_EQ((*raw)[0][0].threshold, 0.0f);

  // Every model holding templates needs its threshold.
  EXPECT_EQ(index->Identify({probe}, 1, {}, {{"models/student", 0.7f}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(galleries->RemoveIdentity("g", "s").ok());
  ASSERT_TRUE(galleries->RemoveIdentity("g", "mixed").ok());
  EXPECT_EQ(index->template_models(), (std::map<std::string, int64_t>{{"models/dlib-resnet", 8}}));
  auto teacher_only = index->Identify({probe}, 1, {}, {{"models/dlib-resnet", 0.8f}});
  ASSERT_TRUE(teacher_only.ok()) << teacher_only.status();
  EXPECT_EQ((*teacher_only)[0][0].identity_id, "t0");
}

INSTANTIATE_TEST_SUITE_P(IndexKinds, GalleriesTest, ::testing::Values("flat", "hnsw"));

TEST(GalleriesOpenTest, UnknownIndexKindIsInvalidArgument) {
  testing::TempDb db;
  EXPECT_EQ(Galleries::Open(db.path(), "ivf").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::gallery
