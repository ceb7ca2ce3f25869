// QFT1: the tiny tensor file format shared with tools/tfjs-reference/reference.js.
//
// "QFT1", uint32 rank, uint32 dims[rank], then float32 values in row-major
// order, all little-endian. Only float32 tensors.
#ifndef QUANTFACE_TESTS_UNIT_NN_QFT_IO_H_
#define QUANTFACE_TESTS_UNIT_NN_QFT_IO_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qf::nn::testing {

absl::Status WriteQft(const std::string& path, const torch::Tensor& tensor);
absl::StatusOr<torch::Tensor> ReadQft(const std::string& path);

}  // namespace qf::nn::testing

#endif  // QUANTFACE_TESTS_UNIT_NN_QFT_IO_H_
