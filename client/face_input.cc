#include "client/face_input.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace qf::cli {

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

absl::StatusOr<quantface::v1::FaceInput> ParseFaceArgument(const std::string& argument) {
  quantface::v1::FaceInput face;
  if (absl::StartsWith(argument, "aligned:")) {
    auto bytes = ReadFileBytes(argument.substr(8));
    if (!bytes.ok()) return bytes.status();
    face.set_aligned_crop(*std::move(bytes));
    return face;
  }
  if (absl::StartsWith(argument, "embedding:")) {
    auto text = ReadFileBytes(argument.substr(10));
    if (!text.ok()) return text.status();
    auto parsed = google::protobuf::util::JsonStringToMessage(*text, face.mutable_embedding());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, ": not an Embedding JSON: ", parsed.ToString()));
    }
    return face;
  }
  const auto at = argument.rfind('@');
  if (at == std::string::npos) {
    auto bytes = ReadFileBytes(argument);
    if (!bytes.ok()) return bytes.status();
    face.set_image(*std::move(bytes));
    return face;
  }
  const std::vector<std::string> numbers = absl::StrSplit(argument.substr(at + 1), ',');
  if (numbers.size() != 10) {
    return absl::InvalidArgumentError(absl::StrCat(
        argument, ": landmarks need 10 numbers x1,y1,...,x5,y5, got ", numbers.size()));
  }
  auto bytes = ReadFileBytes(argument.substr(0, at));
  if (!bytes.ok()) return bytes.status();
  auto* landmarked = face.mutable_landmarked_image();
  landmarked->set_image(*std::move(bytes));
  for (size_t i = 0; i < numbers.size(); i += 2) {
    float x = 0, y = 0;
    if (!absl::SimpleAtof(numbers[i], &x) || !absl::SimpleAtof(numbers[i + 1], &y)) {
      return absl::InvalidArgumentError(absl::StrCat(argument, ": bad landmark number"));
    }
    auto* point = landmarked->add_landmarks();
    point->set_x(x);
    point->set_y(y);
  }
  return face;
}

}  // namespace qf::cli
