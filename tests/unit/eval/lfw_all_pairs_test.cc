#include "core/eval/lfw_all_pairs.h"

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "core/eval/verification_report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

// Ann: 3 images (the third has no landmarks), Bob: 1, Cid: 12; Ann and Bob
// in fold 1, Cid in fold 2. No file is opened: the embedder below derives
// each embedding from the path.
LfwDataset TinyDataset() {
  LfwDataset d;
  d.root = "/lfw";
  d.people = {{"Ann", 3, 1}, {"Bob", 1, 1}, {"Cid", 12, 2}};
  for (const LfwPerson& person : d.people) {
    for (int number = 1; number <= person.num_images; ++number) {
      if (person.name == "Ann" && number == 3) continue;
      image::Landmarks5 points;
      for (int k = 0; k < 5; ++k) points[k] = cv::Point2f(number + k, 2.f * k);
      d.landmarks[LfwImageKey(person.name, number)] = points;
    }
  }
  return d;
}

// Designated initializers would leave `progress` to -Wmissing-field-initializers.
LfwAllPairsOptions Options(int max_images_per_person, int max_people = 0) {
  LfwAllPairsOptions options;
  options.max_images_per_person = max_images_per_person;
  options.max_people = max_people;
  return options;
}

TEST(LfwAllPairsTest, SelectsTheFirstImagesOfEveryPersonWithLandmarks) {
  const auto selection = SelectLfwAllPairsImages(TinyDataset(), Options(10));
  ASSERT_TRUE(selection.ok()) << selection.status();
  EXPECT_EQ(selection->skipped, 1);  // Ann_0003.
  std::vector<std::string> keys;
  for (const LfwAllPairsImage& image : selection->images) keys.push_back(image.key);
  ASSERT_EQ(keys.size(), 13u);
  EXPECT_EQ(keys[0], "Ann/Ann_0001.jpg");
  EXPECT_EQ(keys[2], "Bob/Bob_0001.jpg");
  EXPECT_EQ(keys[12], "Cid/Cid_0010.jpg");  // Cid's 11th and 12th are over the cap.
  EXPECT_EQ(selection->images[12].person, 2);
  EXPECT_EQ(selection->images[12].fold, 2);

  const auto first_two = SelectLfwAllPairsImages(TinyDataset(), Options(10, 2));
  ASSERT_TRUE(first_two.ok());
  EXPECT_EQ(first_two->images.size(), 3u);
}

TEST(LfwAllPairsTest, EmbedsEveryImageOnceWithItsLandmarksAndScoresEveryPair) {
  std::map<std::string, int> calls;
  const EmbedFn embed = [&](absl::Span<const EmbedItem> items,
                            bool flip) -> absl::StatusOr<torch::Tensor> {
    EXPECT_FALSE(flip);
    torch::Tensor rows = torch::zeros({static_cast<int64_t>(items.size()), 4});
    for (std::size_t i = 0; i < items.size(); ++i) {
      ++calls[items[i].image_path];
      EXPECT_TRUE(items[i].landmarks.has_value()) << items[i].image_path;
      // One axis per person: same pairs score 1, different pairs 0.
      const char person = items[i].image_path[std::string("/lfw/images/").size()];
      rows[static_cast<int64_t>(i)][person - 'A'] = 1.0;
    }
    return rows;
  };
  LfwAllPairsOptions options = Options(10);
  options.far_targets = {1e-2};
  options.batch_size = 4;
  const auto result = RunLfwAllPairs(TinyDataset(), embed, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(calls.size(), 13u);
  for (const auto& [path, count] : calls) EXPECT_EQ(count, 1) << path;
  EXPECT_TRUE(calls.count("/lfw/images/Cid/Cid_0010.jpg"));
  EXPECT_EQ(result->skipped_images, 1);
  EXPECT_EQ(result->embedding_dim, 4);
  EXPECT_EQ(result->tar.num_same, 1 + 45);  // Ann's pair and Cid's 10 choose 2.
  EXPECT_EQ(result->tar.num_different, 13 * 12 / 2 - 46);
  EXPECT_EQ(result->tar.groups, (std::vector<int>{1, 2}));
  ASSERT_EQ(result->tar.tar_at_far.size(), 1u);
  EXPECT_DOUBLE_EQ(result->tar.tar_at_far[0].tar, 1.0);
  EXPECT_EQ(result->tar.tar_at_far[0].false_accepts, 0);
}

// Rates at given thresholds reach the result, the report and the text both
// all-pairs tools print.
TEST(LfwAllPairsTest, ReportsRatesAtGivenThresholdsInItsJsonAndText) {
  const EmbedFn embed = [](absl::Span<const EmbedItem> items,
                           bool) -> absl::StatusOr<torch::Tensor> {
    torch::Tensor rows = torch::zeros({static_cast<int64_t>(items.size()), 4});
    for (std::size_t i = 0; i < items.size(); ++i) {
      const char person = items[i].image_path[std::string("/lfw/images/").size()];
      rows[static_cast<int64_t>(i)][person - 'A'] = 1.0;  // Same pairs 1, different 0.
    }
    return rows;
  };
  LfwAllPairsOptions options = Options(10);
  options.far_targets = {0.1, 1e-2};  // 32 different pairs: 1e-2 is not measurable.
  options.thresholds = {0.5, -0.5};
  options.top_impostors = 1;
  const auto result = RunLfwAllPairs(TinyDataset(), embed, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->tar.at_threshold.size(), 2u);
  EXPECT_EQ(result->tar.at_threshold[0].true_accepts, 46);
  EXPECT_EQ(result->tar.at_threshold[0].false_accepts, 0);
  EXPECT_EQ(result->tar.at_threshold[1].false_accepts, 32);

  const nlohmann::json report = LfwAllPairsResultToJson(*result);
  EXPECT_EQ(report["benchmark"], kLfwAllPairsBenchmark);
  EXPECT_EQ(report["skipped_images"], 1);
  EXPECT_EQ(report["all_pairs"]["at_threshold"][1]["far"], 1.0);
  EXPECT_EQ(report["all_pairs"]["tar_at_far"][0]["threshold"], 1.0);

  const std::string text = FormatLfwAllPairsResult(*result, "fake");
  EXPECT_THAT(text, HasSubstr("LFW all pairs: 13 images of 3 people (at most 10 each; 1 skipped, "
                              "no landmarks), 46 same and 32 different pairs"));
  EXPECT_THAT(text,
              HasSubstr("at threshold 0.5000: TAR 100.00 %, FAR 0.00e+00 (0 of 32 "
                        "different pairs)\nat threshold -0.5000: TAR 100.00 %, FAR 1.00e+00"));
  EXPECT_THAT(text, HasSubstr("thresholds (same iff score >= threshold):  FAR 1e-1: 1.0000\n"));
  // Every different pair scores 0 here: the first in row order is Ann's
  // first image with Bob's.
  ASSERT_EQ(result->top_impostors.size(), 1u);
  EXPECT_EQ(result->top_impostors[0].first, "Ann/Ann_0001.jpg");
  EXPECT_EQ(result->top_impostors[0].second, "Bob/Bob_0001.jpg");
  EXPECT_EQ(report["top_impostors"][0]["second"], "Bob/Bob_0001.jpg");
  EXPECT_THAT(text, HasSubstr("highest-scoring impostor pairs:\n  0.0000  Ann/Ann_0001.jpg  "
                              "Bob/Bob_0001.jpg\n"));
}

// Two models' embeddings of the same images, scored across them: the
// enrolling model's row of the earlier image against the probing model's
// row of the later one.
TEST(LfwAllPairsTest, ScoresAcrossTwoModelsWithTheEarlierImageEnrolled) {
  LfwAllPairsOptions options = Options(10);
  options.far_targets = {0.1};
  options.thresholds = {0.5};
  options.top_impostors = 3;  // Ignored across models.
  const auto trials = PrepareLfwAllPairs(TinyDataset(), options);
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->items.size(), 13u);  // Ann 1-2, Bob 1, Cid 1-10.
  EXPECT_EQ(trials->items[2].image_path, "/lfw/images/Bob/Bob_0001.jpg");
  EXPECT_EQ(trials->identity, (std::vector<int>{0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}));
  EXPECT_EQ(trials->group[12], 2);
  // The enrolling model: one axis per person. The probing one puts Cid on
  // Ann's axis.
  torch::Tensor enrolled = torch::zeros({13, 3}, torch::kFloat64);
  torch::Tensor probes = torch::zeros({13, 3}, torch::kFloat64);
  for (int64_t i = 0; i < 13; ++i) {
    const int person = trials->identity[static_cast<std::size_t>(i)];
    enrolled[i][person] = 1.0;
    probes[i][person == 2 ? 0 : person] = 1.0;
  }
  const auto cross = ScoreLfwAllPairs(*trials, enrolled, options, probes);
  ASSERT_TRUE(cross.ok()) << cross.status();
  // Ann (earlier) enrolled vs Cid probing: 20 different pairs at 1; Cid's
  // own 45 pairs at 0; Ann's one pair at 1.
  ASSERT_EQ(cross->tar.at_threshold.size(), 1u);
  EXPECT_EQ(cross->tar.at_threshold[0].false_accepts, 20);
  EXPECT_EQ(cross->tar.at_threshold[0].true_accepts, 1);
  EXPECT_TRUE(cross->top_impostors.empty());
  const auto one_model = ScoreLfwAllPairs(*trials, enrolled, options);
  ASSERT_TRUE(one_model.ok());
  EXPECT_EQ(one_model->tar.at_threshold[0].true_accepts, 46);
  EXPECT_EQ(one_model->tar.at_threshold[0].false_accepts, 0);
  EXPECT_EQ(one_model->top_impostors.size(), 3u);
}

// The same through CompareLfwAllPairs, which embeds with both models: the
// student first, then the teacher, with progress over both passes.
TEST(LfwAllPairsTest, ComparesAStudentWithItsTeacherOnTheSameImages) {
  const auto one_axis_per_person = [](bool cid_on_ann) {
    return [cid_on_ann](absl::Span<const EmbedItem> items, bool) -> absl::StatusOr<torch::Tensor> {
      torch::Tensor rows = torch::zeros({static_cast<int64_t>(items.size()), 3});
      for (std::size_t i = 0; i < items.size(); ++i) {
        const char person = items[i].image_path[std::string("/lfw/images/").size()];
        rows[static_cast<int64_t>(i)][cid_on_ann && person == 'C' ? 0 : person - 'A'] = 1.0;
      }
      return rows;
    };
  };
  LfwAllPairsOptions options = Options(10);
  options.far_targets = {0.1};
  options.thresholds = {0.5};
  options.batch_size = 8;
  std::vector<std::size_t> progress;
  options.progress = [&](std::size_t done, std::size_t total) {
    EXPECT_EQ(total, 26u);
    progress.push_back(done);
  };
  const auto comparison = CompareLfwAllPairs(TinyDataset(), one_axis_per_person(true),
                                             one_axis_per_person(false), options);
  ASSERT_TRUE(comparison.ok()) << comparison.status();
  EXPECT_EQ(progress, (std::vector<std::size_t>{8, 13, 21, 26}));
  // The student puts Cid on Ann's axis: 20 Ann-Cid impostors at 1.
  EXPECT_EQ(comparison->model.tar.at_threshold[0].false_accepts, 20);
  EXPECT_EQ(comparison->reference.tar.at_threshold[0].false_accepts, 0);
  EXPECT_EQ(comparison->reference.tar.at_threshold[0].true_accepts, 46);
  // Across: the teacher enrolls Ann (earlier), the student probes with Cid.
  EXPECT_EQ(comparison->cross.tar.at_threshold[0].false_accepts, 20);
  EXPECT_EQ(comparison->cross.tar.at_threshold[0].true_accepts, 1);
  EXPECT_NEAR(comparison->mean_cosine, 3.0 / 13.0, 1e-12);  // Ann's 2 and Bob's 1 agree.

  const nlohmann::json json = LfwAllPairsComparisonToJson(*comparison);
  EXPECT_EQ(json["cross_teacher_student"]["all_pairs"]["at_threshold"][0]["tar"], 1.0 / 46);
  EXPECT_EQ(json["student_minus_teacher"][0]["far_target"], 0.1);
  const std::string text = FormatLfwAllPairsComparison(*comparison, "student", "teacher");
  EXPECT_THAT(text, HasSubstr("\nstudent "));
  EXPECT_THAT(text, HasSubstr("\nteacher "));
  EXPECT_THAT(text, HasSubstr("\ncross (teacher vs student) "));
  EXPECT_THAT(text, HasSubstr("\nstudent - teacher, paired over the folds (points):  TAR@1e-1 "));
  EXPECT_THAT(text, HasSubstr("\ncross - teacher, paired over the folds (points):  TAR@1e-1 "));
  EXPECT_THAT(text, HasSubstr("mean teacher-student cosine: 0.2308\n"));
}

// A cancelled job stops between batches, not after every image.
TEST(LfwAllPairsTest, StopsBetweenBatchesWhenAsked) {
  int batches = 0;
  const EmbedFn embed = [&](absl::Span<const EmbedItem> items,
                            bool) -> absl::StatusOr<torch::Tensor> {
    ++batches;
    return torch::ones({static_cast<int64_t>(items.size()), 4});
  };
  int polls = 0;
  LfwAllPairsOptions options = Options(10);
  options.batch_size = 4;
  options.should_stop = [&] { return ++polls > 1; };  // Stop before the second batch.
  const auto result = RunLfwAllPairs(TinyDataset(), embed, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("after 4 of 13 images"));
  EXPECT_EQ(batches, 1);
}

TEST(LfwAllPairsTest, APersonListedInTwoFoldsIsRefusedNotScoredAsTwo) {
  LfwDataset twice = TinyDataset();
  twice.people.push_back({"Ann", 2, 2});
  const EmbedFn embed = [](absl::Span<const EmbedItem> items,
                           bool) -> absl::StatusOr<torch::Tensor> {
    return torch::ones({static_cast<int64_t>(items.size()), 2});
  };
  const auto result = RunLfwAllPairs(twice, embed);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("is in groups 1 and 2"));
}

TEST(LfwAllPairsTest, RefusesWhatCannotMakeTheProtocol) {
  LfwDataset no_people = TinyDataset();
  no_people.people.clear();
  const EmbedFn unused = [](absl::Span<const EmbedItem>, bool) -> absl::StatusOr<torch::Tensor> {
    return absl::InternalError("not called");
  };
  const auto missing = RunLfwAllPairs(no_people, unused);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("people.txt"));

  const auto one_each = RunLfwAllPairs(TinyDataset(), unused, Options(1));
  ASSERT_FALSE(one_each.ok());
  EXPECT_EQ(one_each.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(one_each.status().message()), HasSubstr("no same pairs"));

  const auto failing = RunLfwAllPairs(TinyDataset(), unused);
  ASSERT_FALSE(failing.ok());
  EXPECT_EQ(failing.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failing.status().message()),
              HasSubstr("/lfw/images/Ann/Ann_0001.jpg: not called"));
}

}  // namespace
}  // namespace qf::eval
