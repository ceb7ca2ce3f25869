#include "core/eval/lfw_all_pairs.h"

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
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
