#include "core/synth/folder_source.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/image/decoder.h"
#include "core/image/tensor_conversion.h"

namespace qf::synth {
namespace fs = std::filesystem;
namespace {

bool IsImageFile(const fs::path& path) {
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".webp";
}

}  // namespace

nlohmann::json FolderSpec(const std::string& dir, const nn::InputSpec& input,
                          const FolderOptions& options) {
  return {{"kind", "folder"},
          {"path", fs::absolute(dir).lexically_normal().string()},
          {"declared_synthetic", options.declared_synthetic},
          {"size", input.size},
          {"max_images", options.max_images}};
}

absl::StatusOr<torch::Tensor> LoadSyntheticFolder(const std::string& dir,
                                                  const nn::InputSpec& input,
                                                  const FolderOptions& options) {
  if (!options.declared_synthetic) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing training images from ", dir,
        ": the folder is not declared synthetic. Quantization may only see synthetic faces "
        "(no real person); declare it synthetic only if every image in it is generated"));
  }
  std::error_code ec;
  const fs::path root = fs::absolute(dir, ec);
  if (!fs::is_directory(root, ec))
    return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
  for (const fs::path& p : {root, root.parent_path()}) {
    if (fs::exists(p / "pairs.txt", ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat("refusing training images from ", dir, ": ", (p / "pairs.txt").string(),
                       " marks a real evaluation set (LFW layout), usable for evaluation only"));
    }
  }
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && IsImageFile(it->path())) files.push_back(it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", dir, ": ", ec.message()));
  if (files.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no images"));
  std::sort(files.begin(), files.end());
  if (static_cast<int64_t>(files.size()) > options.max_images) files.resize(options.max_images);

  const image::Decoder decoder;
  std::vector<cv::Mat> crops;
  crops.reserve(files.size());
  for (const fs::path& file : files) {
    absl::StatusOr<cv::Mat> decoded = decoder.DecodeFile(file.string());
    if (!decoded.ok()) {
      return absl::Status(decoded.status().code(),
                          absl::StrCat(file.string(), ": ", decoded.status().message()));
    }
    cv::Mat crop;
    cv::resize(*decoded, crop, cv::Size(input.size, input.size), 0, 0, cv::INTER_AREA);
    crops.push_back(std::move(crop));
  }
  return image::CropsToTensor(crops, input);
}

}  // namespace qf::synth
