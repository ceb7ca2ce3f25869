// LfwDataset: the LFW View 2 verification protocol and its side files, read
// from a directory laid out as ../shared/data/lfw:
//   pairs.txt       first line "<folds> <n>", then per fold n same-person lines
//                   "NAME i j" followed by n different-person lines
//                   "NAME1 i NAME2 j" (tab or space separated, 1-based numbers)
//   landmarks5.tsv  "NAME/NAME_NNNN.jpg x1 y1 ... x5 y5" per image (five
//                   points in the order of image::Landmarks5)
//   people.txt      first line "<folds>", then per fold a count line and that
//                   many "NAME count" lines
//   images/NAME/NAME_NNNN.jpg
//
// Contract: the parsers reject malformed input with InvalidArgumentError
// naming the file and 1-based line; LoadLfwDataset reports missing files
// with NotFoundError (for images: how many are missing and the first few).
// Folds are numbered 1..folds in file order.
#ifndef QUANTFACE_CORE_EVAL_LFW_DATASET_H_
#define QUANTFACE_CORE_EVAL_LFW_DATASET_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "core/image/landmarks.h"

namespace qf::eval {

struct LfwPair {
  std::string name_a;
  int number_a = 0;  // 1-based image number of name_a.
  std::string name_b;
  int number_b = 0;
  bool is_same = false;
  int fold = 0;  // 1-based.
};

struct LfwPerson {
  std::string name;
  int num_images = 0;
  int fold = 0;  // 1-based.
};

// "NAME/NAME_0004.jpg": an image's path relative to the images/ directory,
// also the key of the landmarks map.
std::string LfwImageKey(const std::string& name, int number);

struct LfwDataset {
  std::string root;  // The directory holding pairs.txt.
  std::vector<LfwPair> pairs;
  // Keyed by LfwImageKey; empty when landmarks were not loaded.
  std::unordered_map<std::string, image::Landmarks5> landmarks;
  std::vector<LfwPerson> people;  // Empty when people.txt was not loaded.

  // root + "/images/" + LfwImageKey(name, number).
  std::string ImagePath(const std::string& name, int number) const;
};

// `source` names the text in error messages (e.g. "pairs.txt").
absl::StatusOr<std::vector<LfwPair>> ParseLfwPairs(std::string_view text,
                                                   std::string_view source = "pairs.txt");
absl::StatusOr<std::unordered_map<std::string, image::Landmarks5>> ParseLandmarks5(
    std::string_view text, std::string_view source = "landmarks5.tsv");
absl::StatusOr<std::vector<LfwPerson>> ParseLfwPeople(std::string_view text,
                                                      std::string_view source = "people.txt");

struct LfwLoadOptions {
  bool load_landmarks = true;  // Also require landmarks for every pair image.
  bool load_people = true;
  bool check_images = true;  // Every image of every pair must exist.
};

absl::StatusOr<LfwDataset> LoadLfwDataset(const std::string& root,
                                          const LfwLoadOptions& options = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_LFW_DATASET_H_
