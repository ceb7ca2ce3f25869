#include "core/eval/lfw_dataset.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

using ::testing::HasSubstr;

// Two folds of two same + two different pairs.
constexpr char kPairs[] =
    "2\t2\n"
    "Ann_A\t1\t2\n"
    "Bob_B\t1\t3\n"
    "Ann_A\t1\tBob_B\t2\n"
    "Cid_C\t1\tAnn_A\t2\n"
    "Cid_C\t1\t2\n"
    "Bob_B\t2\t3\n"
    "Bob_B\t3\tCid_C\t2\n"
    "Ann_A\t2\tCid_C\t1\n";

constexpr char kPeople[] =
    "2\n"
    "2\n"
    "Ann_A\t2\n"
    "Bob_B\t3\n"
    "1\n"
    "Cid_C\t2\n";

std::string LandmarkLine(const std::string& key, float shift) {
  std::string line = key;
  for (int i = 0; i < 10; ++i) line += "\t" + std::to_string(40 + i * 5 + shift);
  return line + "\n";
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A complete tiny dataset in a fresh directory (images are empty files: the
// reader only checks that they exist).
std::filesystem::path WriteTinyDataset(const std::string& name) {
  const std::filesystem::path root = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(root);
  WriteFile(root / "pairs.txt", kPairs);
  WriteFile(root / "people.txt", kPeople);
  std::string landmarks;
  const std::map<std::string, int> people = {{"Ann_A", 2}, {"Bob_B", 3}, {"Cid_C", 2}};
  for (const auto& [person, count] : people) {
    for (int i = 1; i <= count; ++i) {
      const std::string key = LfwImageKey(person, i);
      WriteFile(root / "images" / key, "");
      landmarks += LandmarkLine(key, static_cast<float>(i));
    }
  }
  WriteFile(root / "landmarks5.tsv", landmarks);
  return root;
}

TEST(LfwDatasetTest, ImageKeyIsZeroPadded) {
  EXPECT_EQ(LfwImageKey("Ann_A", 7), "Ann_A/Ann_A_0007.jpg");
  LfwDataset dataset;
  dataset.root = "/data/lfw";
  EXPECT_EQ(dataset.ImagePath("Ann_A", 12), "/data/lfw/images/Ann_A/Ann_A_0012.jpg");
}

TEST(LfwDatasetTest, ParsesPairsWithFoldsAndClasses) {
  const absl::StatusOr<std::vector<LfwPair>> pairs = ParseLfwPairs(kPairs);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  ASSERT_EQ(pairs->size(), 8u);
  const LfwPair& first = (*pairs)[0];
  EXPECT_EQ(first.name_a, "Ann_A");
  EXPECT_EQ(first.name_b, "Ann_A");
  EXPECT_EQ(first.number_a, 1);
  EXPECT_EQ(first.number_b, 2);
  EXPECT_TRUE(first.is_same);
  EXPECT_EQ(first.fold, 1);
  const LfwPair& different = (*pairs)[3];
  EXPECT_FALSE(different.is_same);
  EXPECT_EQ(different.name_a, "Cid_C");
  EXPECT_EQ(different.name_b, "Ann_A");
  EXPECT_EQ(different.fold, 1);
  EXPECT_TRUE((*pairs)[4].is_same);
  EXPECT_EQ((*pairs)[4].fold, 2);
  EXPECT_FALSE((*pairs)[7].is_same);
  EXPECT_EQ((*pairs)[7].fold, 2);
}

TEST(LfwDatasetTest, AcceptsSpacesAndCrLf) {
  const absl::StatusOr<std::vector<LfwPair>> pairs =
      ParseLfwPairs("1 1\r\nAnn_A 1 2\r\nAnn_A 1 Bob_B 1\r\n\r\n");
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_EQ(pairs->size(), 2u);
}

TEST(LfwDatasetTest, RejectsMalformedPairs) {
  EXPECT_THAT(ParseLfwPairs("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(ParseLfwPairs("ten 300\n").status().message(),
              HasSubstr("line 1: expected the header"));
  EXPECT_THAT(ParseLfwPairs("1 1\nAnn_A 1 2\n").status().message(),
              HasSubstr("= 2 pair lines, found 1"));
  // A different-person line where a same-person line belongs.
  EXPECT_THAT(ParseLfwPairs("1 1\nAnn_A 1 Bob_B 2\nAnn_A 1 Bob_B 1\n").status().message(),
              HasSubstr("line 2: fold 1 expects a same-person line"));
  EXPECT_THAT(ParseLfwPairs("1 1\nAnn_A 1 2\nAnn_A 1 2\n").status().message(),
              HasSubstr("line 3: fold 1 expects a different-person line"));
  EXPECT_THAT(ParseLfwPairs("1 1\nAnn_A one 2\nAnn_A 1 Bob_B 1\n").status().message(),
              HasSubstr("line 2: image number 'one'"));
  EXPECT_THAT(ParseLfwPairs("1 1\nAnn_A 0 2\nAnn_A 1 Bob_B 1\n").status().message(),
              HasSubstr("not an integer in 1..9999"));
  EXPECT_THAT(ParseLfwPairs("1 1\nAnn_A 1 2\nAnn_A 1 Ann_A 3\n").status().message(),
              HasSubstr("line 3: different-person line names Ann_A twice"));
  EXPECT_THAT(ParseLfwPairs("1 1\n../etc 1 2\nAnn_A 1 Bob_B 1\n").status().message(),
              HasSubstr("invalid name '../etc'"));
  EXPECT_EQ(ParseLfwPairs("1 1\nAnn_A 1 2\nAnn_A 1 Bob_B 1\n", "my.txt").status().code(),
            absl::StatusCode::kOk);
  EXPECT_THAT(ParseLfwPairs("x", "my.txt").status().message(), HasSubstr("my.txt line 1"));
}

TEST(LfwDatasetTest, ParsesLandmarks) {
  const auto landmarks = ParseLandmarks5(LandmarkLine("A/A_0001.jpg", 0.5f));
  ASSERT_TRUE(landmarks.ok()) << landmarks.status();
  ASSERT_EQ(landmarks->count("A/A_0001.jpg"), 1u);
  const image::Landmarks5& p = landmarks->at("A/A_0001.jpg");
  EXPECT_FLOAT_EQ(p[0].x, 40.5f);
  EXPECT_FLOAT_EQ(p[0].y, 45.5f);
  EXPECT_FLOAT_EQ(p[4].x, 80.5f);
  EXPECT_FLOAT_EQ(p[4].y, 85.5f);
}

TEST(LfwDatasetTest, RejectsMalformedLandmarks) {
  EXPECT_THAT(ParseLandmarks5("A/A_0001.jpg\t1\t2\n").status().message(),
              HasSubstr("line 1: expected 'path x1 y1 ... x5 y5' (11 fields), found 3"));
  EXPECT_THAT(ParseLandmarks5("A/A_0001.jpg 1 2 3 4 5 6 7 x 9 10\n").status().message(),
              HasSubstr("coordinate 8 'x' is not a finite number"));
  EXPECT_THAT(ParseLandmarks5("A/A_0001.jpg 1 2 3 4 5 6 7 nan 9 10\n").status().message(),
              HasSubstr("not a finite number"));
  const std::string line = LandmarkLine("A/A_0001.jpg", 0);
  EXPECT_THAT(ParseLandmarks5(line + line).status().message(),
              HasSubstr("line 2: duplicate path A/A_0001.jpg"));
}

TEST(LfwDatasetTest, ParsesPeople) {
  const absl::StatusOr<std::vector<LfwPerson>> people = ParseLfwPeople(kPeople);
  ASSERT_TRUE(people.ok()) << people.status();
  ASSERT_EQ(people->size(), 3u);
  EXPECT_EQ((*people)[1].name, "Bob_B");
  EXPECT_EQ((*people)[1].num_images, 3);
  EXPECT_EQ((*people)[1].fold, 1);
  EXPECT_EQ((*people)[2].fold, 2);
  EXPECT_THAT(ParseLfwPeople("2\n1\nAnn_A\t2\n").status().message(), HasSubstr("before fold 2"));
  EXPECT_THAT(ParseLfwPeople("1\n2\nAnn_A\t2\n").status().message(),
              HasSubstr("promises 2 people"));
  EXPECT_THAT(ParseLfwPeople("1\n1\nAnn_A\tmany\n").status().message(),
              HasSubstr("line 3: expected 'NAME count'"));
  EXPECT_THAT(ParseLfwPeople("1\n1\nAnn_A\t2\nBob_B\t1\n").status().message(),
              HasSubstr("line 4: unexpected line"));
}

TEST(LfwDatasetTest, LoadsTinyDataset) {
  const std::filesystem::path root = WriteTinyDataset("lfw_tiny_ok");
  const absl::StatusOr<LfwDataset> dataset = LoadLfwDataset(root.string());
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->pairs.size(), 8u);
  EXPECT_EQ(dataset->people.size(), 3u);
  EXPECT_EQ(dataset->landmarks.size(), 7u);
  EXPECT_FLOAT_EQ(dataset->landmarks.at("Bob_B/Bob_B_0003.jpg")[0].x, 43.f);
}

TEST(LfwDatasetTest, ReportsMissingFiles) {
  const std::filesystem::path root = WriteTinyDataset("lfw_tiny_missing");
  std::filesystem::remove(root / "images" / "Cid_C" / "Cid_C_0002.jpg");
  absl::StatusOr<LfwDataset> dataset = LoadLfwDataset(root.string());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dataset.status().message(), HasSubstr("1 of 7 pair images are missing"));
  EXPECT_THAT(dataset.status().message(), HasSubstr("Cid_C/Cid_C_0002.jpg"));

  LfwLoadOptions options;
  options.check_images = false;
  EXPECT_TRUE(LoadLfwDataset(root.string(), options).ok());

  std::filesystem::remove(root / "people.txt");
  dataset = LoadLfwDataset(root.string(), options);
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dataset.status().message(), HasSubstr("people.txt"));

  EXPECT_EQ(LoadLfwDataset((root / "nowhere").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LfwDatasetTest, ReportsImagesWithoutLandmarks) {
  const std::filesystem::path root = WriteTinyDataset("lfw_tiny_no_landmarks");
  WriteFile(root / "landmarks5.tsv", LandmarkLine("Ann_A/Ann_A_0001.jpg", 0));
  absl::StatusOr<LfwDataset> dataset = LoadLfwDataset(root.string());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), HasSubstr("6 of 7 pair images have no line"));
  LfwLoadOptions options;
  options.load_landmarks = false;
  EXPECT_TRUE(LoadLfwDataset(root.string(), options).ok());
}

// The real protocol file: 6000 pairs, 10 folds of 300 same + 300 different.
TEST(LfwDatasetTest, RealLfwView2) {
  const std::filesystem::path root = std::filesystem::path(QF_SHARED_DIR) / "data/lfw";
  if (!std::filesystem::exists(root / "pairs.txt")) GTEST_SKIP() << "no LFW at " << root;
  const absl::StatusOr<LfwDataset> dataset = LoadLfwDataset(root.string());
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->pairs.size(), 6000u);
  std::map<int, std::pair<int, int>> per_fold;  // fold -> (same, different)
  std::set<std::string> images;
  for (const LfwPair& pair : dataset->pairs) {
    ++(pair.is_same ? per_fold[pair.fold].first : per_fold[pair.fold].second);
    images.insert(LfwImageKey(pair.name_a, pair.number_a));
    images.insert(LfwImageKey(pair.name_b, pair.number_b));
  }
  ASSERT_EQ(per_fold.size(), 10u);
  for (const auto& [fold, counts] : per_fold) {
    EXPECT_EQ(counts.first, 300) << "fold " << fold;
    EXPECT_EQ(counts.second, 300) << "fold " << fold;
  }
  EXPECT_EQ(per_fold.begin()->first, 1);
  EXPECT_EQ(per_fold.rbegin()->first, 10);
  EXPECT_EQ(dataset->pairs.front().name_a, "Abel_Pacheco");
  EXPECT_EQ(dataset->landmarks.size(), 13232u);
  EXPECT_EQ(dataset->people.size(), 5749u);
  EXPECT_EQ(dataset->people.back().fold, 10);
  EXPECT_EQ(images.size(), 7701u);
}

}  // namespace
}  // namespace qf::eval
