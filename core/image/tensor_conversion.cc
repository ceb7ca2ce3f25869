#include "core/image/tensor_conversion.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qf::image {

absl::StatusOr<torch::Tensor> CropsToTensor(absl::Span<const cv::Mat> crops,
                                            const nn::InputSpec& spec) {
  if (crops.empty()) return absl::InvalidArgumentError("crops to tensor: empty batch");
  const int size = spec.size;
  for (std::size_t i = 0; i < crops.size(); ++i) {
    const cv::Mat& crop = crops[i];
    if (crop.type() != CV_8UC3 || crop.rows != size || crop.cols != size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "crops to tensor: crop ", i, " is ", crop.cols, "x", crop.rows, " of OpenCV type ",
          crop.type(), ", expected ", size, "x", size, " CV_8UC3"));
    }
  }
  try {
    const auto n = static_cast<std::int64_t>(crops.size());
    torch::Tensor hwc = torch::empty({n, size, size, 3}, torch::kUInt8);
    for (std::size_t i = 0; i < crops.size(); ++i) {
      // Wrap the tensor's storage as a Mat so copyTo handles non-contiguous
      // (ROI) crops; the storage outlives the header.
      cv::Mat dst(size, size, CV_8UC3, hwc[static_cast<std::int64_t>(i)].data_ptr<std::uint8_t>());
      crops[i].copyTo(dst);
    }
    torch::Tensor nchw = hwc.permute({0, 3, 1, 2}).to(torch::kFloat32);
    if (spec.channel_order == nn::ChannelOrder::kRgb) nchw = nchw.flip({1});  // BGR -> RGB.
    const torch::Tensor mean = torch::tensor({spec.mean[0], spec.mean[1], spec.mean[2]});
    const torch::Tensor scale = torch::tensor({spec.scale[0], spec.scale[1], spec.scale[2]});
    return ((nchw - mean.view({1, 3, 1, 1})) * scale.view({1, 3, 1, 1})).contiguous();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("crops to tensor: ", e.what_without_backtrace()));
  }
}

torch::Tensor MirrorBatch(const torch::Tensor& batch) { return batch.flip({3}); }

torch::Tensor WithMirrored(const torch::Tensor& batch) {
  return torch::cat({batch, MirrorBatch(batch)}, 0);
}

}  // namespace qf::image
