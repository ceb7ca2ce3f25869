#include "core/gallery/gallery_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "core/gallery/counting_search_index.h"
#include "core/gallery/flat_search_index.h"

namespace qf::gallery {
namespace {

constexpr int kDim = 64;

// A unit row whose cosine with the probe e0 is `cosine` (the rest along e_axis).
std::vector<float> AtCosine(float cosine, int axis) {
  std::vector<float> row(kDim, 0.0f);
  row[0] = cosine;
  row[axis] = std::sqrt(1.0f - cosine * cosine);
  return row;
}

// Twenty one-template identities of the teacher ("t0" scores `teacher_top`,
// each next one `step` lower) and one student identity "s" scoring 0.80.
class TwoModelGalleryTest : public ::testing::Test {
 protected:
  void Build(float teacher_top, float step) {
    GalleryRecord record;
    record.gallery_id = "g";
    record.model = "models/student";
    record.dimension = kDim;
    index_ = std::make_unique<GalleryIndex>(
        record,
        std::make_unique<CountingSearchIndex>(std::make_unique<FlatSearchIndex>(kDim), &searches_));
    for (int i = 0; i < 20; ++i) {
      IdentityRecord identity;
      identity.identity_key = i;
      identity.identity_id = "t" + std::to_string(i);
      ASSERT_TRUE(
          index_->Put(identity, "models/teacher", {i}, {AtCosine(teacher_top - step * i, 1 + i)})
              .ok());
    }
    IdentityRecord student;
    student.identity_key = 20;
    student.identity_id = "s";
    ASSERT_TRUE(index_->Put(student, "models/student", {20}, {AtCosine(0.80f, 21)}).ok());
  }

  // Top-k identity ids, counting the searches it took.
  std::vector<std::string> Identify(int k, const ThresholdByModel& thresholds, int64_t* searches) {
    std::vector<float> probe(kDim, 0.0f);
    probe[0] = 1.0f;
    const int64_t before = searches_.load();
    auto found = index_->Identify({probe}, k, {}, thresholds);
    EXPECT_TRUE(found.ok()) << found.status();
    *searches = searches_.load() - before;
    std::vector<std::string> ids;
    if (found.ok()) {
      for (const Candidate& candidate : (*found)[0]) ids.push_back(candidate.identity_id);
    }
    return ids;
  }

  std::atomic<int64_t> searches_{0};
  std::unique_ptr<GalleryIndex> index_;
};

TEST_F(TwoModelGalleryTest, OneThresholdForAllIsSettledByTheFirstSearch) {
  Build(0.95f, 0.001f);
  int64_t searches = 0;
  EXPECT_EQ(Identify(2, {{"models/teacher", 0.9f}, {"models/student", 0.9f}}, &searches),
            (std::vector<std::string>{"t0", "t1"}));
  EXPECT_EQ(searches, 1);
}

// Teacher templates decided 0.10 above the student's threshold: after the
// first 2k hits an unseen student template could still have the better
// margin, but the wider first request reaches below that gap at once.
TEST_F(TwoModelGalleryTest, SpreadThresholdsAreSettledByTheWiderFirstSearch) {
  Build(0.95f, 0.01f);  // The 16th score is 0.80: 0.10 under the 2nd.
  const ThresholdByModel thresholds = {{"models/teacher", 0.90f}, {"models/student", 0.80f}};
  int64_t searches = 0;
  EXPECT_EQ(Identify(2, thresholds, &searches), (std::vector<std::string>{"t0", "t1"}));
  EXPECT_EQ(searches, 1);
}

// When the scores fall too slowly for the first request, the search widens
// until no unseen template could change the first k, and stays exact.
TEST_F(TwoModelGalleryTest, SearchWidensUntilTheBestMarginIsSettled) {
  Build(0.95f, 0.001f);  // Every teacher template above the student's 0.80.
  const ThresholdByModel thresholds = {{"models/teacher", 0.94f}, {"models/student", 0.70f}};
  int64_t searches = 0;
  // "s" has margin 0.10 (0.80 - 0.70) under twenty higher raw scores.
  EXPECT_EQ(Identify(1, thresholds, &searches), (std::vector<std::string>{"s"}));
  EXPECT_EQ(searches, 2);
}

}  // namespace
}  // namespace qf::gallery
