// Reading faces named on the command line into FaceInput messages.
//
// A face argument is one of:
//   PATH                     an encoded image; the server detects the face
//   PATH@x1,y1,...,x5,y5     an image plus its five landmarks
//   aligned:PATH             a crop already aligned to the model's template
//   embedding:PATH           a JSON file {"model": "models/..", "values": [..]}
#ifndef QUANTFACE_CLIENT_FACE_INPUT_H_
#define QUANTFACE_CLIENT_FACE_INPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "quantface/v1/common.pb.h"

namespace qf::cli {

absl::StatusOr<quantface::v1::FaceInput> ParseFaceArgument(const std::string& argument);

// The whole file as bytes; NOT_FOUND when it cannot be read.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace qf::cli

#endif  // QUANTFACE_CLIENT_FACE_INPUT_H_
