#include "core/eval/lfw_dataset.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qf::eval {
namespace {

// A non-blank line of a text file and its 1-based number.
struct Line {
  int number = 0;
  std::vector<std::string_view> fields;  // Split on tabs and spaces.
};

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    Line parsed{number, {}};
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
      const std::size_t begin = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
      if (i > begin) parsed.fields.push_back(line.substr(begin, i - begin));
    }
    if (!parsed.fields.empty()) lines.push_back(std::move(parsed));
  }
  return lines;
}

absl::Status LineError(std::string_view source, int line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(source), " line ", line, ": ", what));
}

std::string Quoted(std::string_view field) { return absl::StrCat("'", std::string(field), "'"); }

bool ParseInt(std::string_view field, int* value) {
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), *value);
  return error == std::errc() && end == field.data() + field.size();
}

bool ParseFloat(std::string_view field, float* value) {
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), *value);
  return error == std::errc() && end == field.data() + field.size() && std::isfinite(*value);
}

// LFW names are "First_Last" style; a name becomes a directory, so it must
// not be able to leave images/.
bool ValidName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of("/\\") == std::string_view::npos;
}

absl::Status ParseNameAndNumber(std::string_view source, const Line& line, std::size_t at,
                                std::string* name, int* number) {
  if (!ValidName(line.fields[at])) {
    return LineError(source, line.number, absl::StrCat("invalid name ", Quoted(line.fields[at])));
  }
  if (!ParseInt(line.fields[at + 1], number) || *number < 1 || *number > 9999) {
    return LineError(source, line.number,
                     absl::StrCat("image number ", Quoted(line.fields[at + 1]),
                                  " is not an integer in 1..9999"));
  }
  *name = std::string(line.fields[at]);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTextFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path.string()));
  return text;
}

}  // namespace

std::string LfwImageKey(const std::string& name, int number) {
  char digits[8];
  std::snprintf(digits, sizeof(digits), "%04d", number);
  return absl::StrCat(name, "/", name, "_", digits, ".jpg");
}

std::string LfwDataset::ImagePath(const std::string& name, int number) const {
  return (std::filesystem::path(root) / "images" / LfwImageKey(name, number)).string();
}

absl::StatusOr<std::vector<LfwPair>> ParseLfwPairs(std::string_view text, std::string_view source) {
  const std::vector<Line> lines = SplitLines(text);
  if (lines.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": empty file"));
  }
  const Line& header = lines.front();
  int folds = 0;
  int per_fold = 0;
  if (header.fields.size() != 2 || !ParseInt(header.fields[0], &folds) ||
      !ParseInt(header.fields[1], &per_fold) || folds < 1 || per_fold < 1) {
    return LineError(source, header.number,
                     "expected the header '<folds> <pairs per class per fold>', e.g. '10 300'");
  }
  const std::size_t expected = static_cast<std::size_t>(folds) * 2 * per_fold;
  if (lines.size() - 1 != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(source), ": the header promises ", folds, " folds x (", per_fold, " same + ",
        per_fold, " different) = ", expected, " pair lines, found ", lines.size() - 1));
  }
  std::vector<LfwPair> pairs;
  pairs.reserve(expected);
  for (std::size_t k = 0; k < expected; ++k) {
    const Line& line = lines[k + 1];
    LfwPair pair;
    pair.fold = static_cast<int>(k / (2 * per_fold)) + 1;
    pair.is_same = static_cast<int>(k % (2 * per_fold)) < per_fold;
    if (pair.is_same) {
      if (line.fields.size() != 3) {
        return LineError(source, line.number,
                         absl::StrCat("fold ", pair.fold,
                                      " expects a same-person line 'NAME i j', "
                                      "found ",
                                      line.fields.size(), " fields"));
      }
      const absl::Status status = ParseNameAndNumber(source, line, 0, &pair.name_a, &pair.number_a);
      if (!status.ok()) return status;
      pair.name_b = pair.name_a;
      if (!ParseInt(line.fields[2], &pair.number_b) || pair.number_b < 1 || pair.number_b > 9999) {
        return LineError(
            source, line.number,
            absl::StrCat("image number ", Quoted(line.fields[2]), " is not an integer in 1..9999"));
      }
    } else {
      if (line.fields.size() != 4) {
        return LineError(source, line.number,
                         absl::StrCat("fold ", pair.fold,
                                      " expects a different-person line 'NAME1 i NAME2 j', found ",
                                      line.fields.size(), " fields"));
      }
      absl::Status status = ParseNameAndNumber(source, line, 0, &pair.name_a, &pair.number_a);
      if (!status.ok()) return status;
      status = ParseNameAndNumber(source, line, 2, &pair.name_b, &pair.number_b);
      if (!status.ok()) return status;
      if (pair.name_a == pair.name_b) {
        return LineError(source, line.number,
                         absl::StrCat("different-person line names ", pair.name_a, " twice"));
      }
    }
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

absl::StatusOr<std::unordered_map<std::string, image::Landmarks5>> ParseLandmarks5(
    std::string_view text, std::string_view source) {
  std::unordered_map<std::string, image::Landmarks5> landmarks;
  for (const Line& line : SplitLines(text)) {
    if (line.fields.size() != 11) {
      return LineError(
          source, line.number,
          absl::StrCat("expected 'path x1 y1 ... x5 y5' (11 fields), found ", line.fields.size()));
    }
    image::Landmarks5 points;
    for (std::size_t i = 0; i < 10; ++i) {
      float value = 0;
      if (!ParseFloat(line.fields[1 + i], &value)) {
        return LineError(source, line.number,
                         absl::StrCat("coordinate ", i + 1, " ", Quoted(line.fields[1 + i]),
                                      " is not a finite number"));
      }
      (i % 2 == 0 ? points[i / 2].x : points[i / 2].y) = value;
    }
    const auto [it, inserted] = landmarks.emplace(std::string(line.fields[0]), points);
    if (!inserted) {
      return LineError(source, line.number, absl::StrCat("duplicate path ", it->first));
    }
  }
  return landmarks;
}

absl::StatusOr<std::vector<LfwPerson>> ParseLfwPeople(std::string_view text,
                                                      std::string_view source) {
  const std::vector<Line> lines = SplitLines(text);
  int folds = 0;
  if (lines.empty() || lines[0].fields.size() != 1 || !ParseInt(lines[0].fields[0], &folds) ||
      folds < 1) {
    return LineError(source, lines.empty() ? 1 : lines[0].number,
                     "expected the header '<folds>', e.g. '10'");
  }
  std::vector<LfwPerson> people;
  std::size_t at = 1;
  for (int fold = 1; fold <= folds; ++fold) {
    int count = 0;
    if (at >= lines.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(source), ": ends before fold ", fold, " of ", folds));
    }
    if (lines[at].fields.size() != 1 || !ParseInt(lines[at].fields[0], &count) || count < 0) {
      return LineError(source, lines[at].number,
                       absl::StrCat("expected the number of people in fold ", fold));
    }
    ++at;
    for (int i = 0; i < count; ++i, ++at) {
      if (at >= lines.size()) {
        return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": fold ", fold,
                                                       " promises ", count,
                                                       " people, file ends after ", i));
      }
      const Line& line = lines[at];
      LfwPerson person;
      person.fold = fold;
      if (line.fields.size() != 2 || !ValidName(line.fields[0]) ||
          !ParseInt(line.fields[1], &person.num_images) || person.num_images < 1) {
        return LineError(
            source, line.number,
            absl::StrCat("expected 'NAME count' (person ", i + 1, " of fold ", fold, ")"));
      }
      person.name = std::string(line.fields[0]);
      people.push_back(std::move(person));
    }
  }
  if (at != lines.size()) {
    return LineError(source, lines[at].number,
                     absl::StrCat("unexpected line after the last of ", folds, " folds"));
  }
  return people;
}

absl::StatusOr<LfwDataset> LoadLfwDataset(const std::string& root, const LfwLoadOptions& options) {
  const std::filesystem::path dir(root);
  LfwDataset dataset;
  dataset.root = root;
  {
    absl::StatusOr<std::string> text = ReadTextFile(dir / "pairs.txt");
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<LfwPair>> pairs = ParseLfwPairs(*text, (dir / "pairs.txt").string());
    if (!pairs.ok()) return pairs.status();
    dataset.pairs = std::move(*pairs);
  }
  if (options.load_people) {
    absl::StatusOr<std::string> text = ReadTextFile(dir / "people.txt");
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<LfwPerson>> people =
        ParseLfwPeople(*text, (dir / "people.txt").string());
    if (!people.ok()) return people.status();
    dataset.people = std::move(*people);
  }
  if (options.load_landmarks) {
    absl::StatusOr<std::string> text = ReadTextFile(dir / "landmarks5.tsv");
    if (!text.ok()) return text.status();
    auto landmarks = ParseLandmarks5(*text, (dir / "landmarks5.tsv").string());
    if (!landmarks.ok()) return landmarks.status();
    dataset.landmarks = std::move(*landmarks);
  }
  // Every image that a pair uses, in a stable order for the messages.
  std::set<std::string> keys;
  for (const LfwPair& pair : dataset.pairs) {
    keys.insert(LfwImageKey(pair.name_a, pair.number_a));
    keys.insert(LfwImageKey(pair.name_b, pair.number_b));
  }
  const auto check = [&keys](const auto& missing_if, absl::StatusCode code,
                             const std::string& what) -> absl::Status {
    std::vector<std::string> missing;
    for (const std::string& key : keys) {
      if (missing_if(key)) missing.push_back(key);
    }
    if (missing.empty()) return absl::OkStatus();
    const std::size_t shown = std::min<std::size_t>(missing.size(), 5);
    return absl::Status(
        code, absl::StrCat(missing.size(), " of ", keys.size(), " pair images ", what, ", e.g. ",
                           absl::StrJoin(missing.begin(), missing.begin() + shown, ", ")));
  };
  if (options.check_images) {
    const absl::Status status = check(
        [&dir](const std::string& key) {
          std::error_code error;
          return !std::filesystem::is_regular_file(dir / "images" / key, error);
        },
        absl::StatusCode::kNotFound, absl::StrCat("are missing under ", (dir / "images").string()));
    if (!status.ok()) return status;
  }
  if (options.load_landmarks) {
    const absl::Status status =
        check([&dataset](const std::string& key) { return dataset.landmarks.count(key) == 0; },
              absl::StatusCode::kInvalidArgument, "have no line in landmarks5.tsv");
    if (!status.ok()) return status;
  }
  return dataset;
}

}  // namespace qf::eval
