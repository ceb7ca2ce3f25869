#include "core/quant/qat_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace qf::quant {
namespace {

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, " to fsync"));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync of ", path, " failed"));
  return absl::OkStatus();
}

std::string ActivationKey(const std::string& layer, const char* end) {
  return absl::StrCat("act/", layer, "/", end);
}

std::string AddKey(const std::string& site, const char* end) {
  return absl::StrCat("add/", site, "/", end);
}

std::string WeightClipKey(const std::string& layer) { return absl::StrCat("clip/", layer); }

std::string LearnedWeightKey(const std::string& layer, const char* end) {
  return absl::StrCat("wgrid/", layer, "/", end);
}

}  // namespace

absl::Status SaveQatCheckpoint(const std::string& path, int64_t steps_done,
                               const nn::Backbone& student, const FakeQuantHooks& hooks,
                               const torch::optim::Optimizer& optimizer) {
  const std::string temp = path + ".tmp";
  try {
    torch::NoGradGuard no_grad;
    torch::serialize::OutputArchive archive;
    archive.write("steps_done", torch::tensor(steps_done, torch::kLong));
    for (const auto& item : student.named_parameters()) {
      archive.write(absl::StrCat("param/", item.key()), item.value().detach().to(torch::kCPU));
    }
    for (const auto& item : student.named_buffers()) {
      archive.write(absl::StrCat("buffer/", item.key()), item.value().to(torch::kCPU));
    }
    // Each layer's state is optional: ranges exist once observed, clips and
    // learned scales only when their options are on.
    for (const FakeQuantHooks::Layer* layer : hooks.layers()) {
      if (layer->input->initialized()) {
        archive.write(ActivationKey(layer->name, "lo"), layer->input->lo().to(torch::kCPU));
        archive.write(ActivationKey(layer->name, "hi"), layer->input->hi().to(torch::kCPU));
      }
      if (layer->weight_clip.defined()) {
        archive.write(WeightClipKey(layer->name), layer->weight_clip.to(torch::kCPU));
      }
      if (layer->learned_weight_log_scale.defined()) {
        archive.write(LearnedWeightKey(layer->name, "log_scale"),
                      layer->learned_weight_log_scale.detach().to(torch::kCPU));
        archive.write(LearnedWeightKey(layer->name, "zero_point"),
                      layer->learned_weight_zero_point.to(torch::kCPU));
      }
    }
    for (const auto& [site, quantizer] : hooks.add_operands()) {
      if (!quantizer->initialized()) continue;
      archive.write(AddKey(site, "lo"), quantizer->lo().to(torch::kCPU));
      archive.write(AddKey(site, "hi"), quantizer->hi().to(torch::kCPU));
    }
    torch::serialize::OutputArchive optimizer_archive;
    optimizer.save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    archive.save_to(temp);
  } catch (const std::exception& e) {
    std::filesystem::remove(temp);
    return absl::InternalError(absl::StrCat("writing checkpoint ", temp, ": ", e.what()));
  }
  if (absl::Status s = FsyncPath(temp, O_RDONLY); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("renaming ", temp, ": ", ec.message()));
  return FsyncPath(std::filesystem::path(path).parent_path().string(), O_RDONLY | O_DIRECTORY);
}

absl::StatusOr<int64_t> LoadQatCheckpoint(const std::string& path, nn::Backbone& student,
                                          FakeQuantHooks& hooks, torch::optim::Optimizer& optimizer,
                                          torch::Device device) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  }
  try {
    torch::NoGradGuard no_grad;
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    torch::Tensor steps;
    archive.read("steps_done", steps);
    for (auto& item : student.named_parameters()) {
      torch::Tensor value;
      archive.read(absl::StrCat("param/", item.key()), value);
      item.value().copy_(value);
    }
    for (auto& item : student.named_buffers()) {
      torch::Tensor value;
      archive.read(absl::StrCat("buffer/", item.key()), value);
      item.value().copy_(value);
    }
    for (const FakeQuantHooks::Layer* const_layer : hooks.layers()) {
      FakeQuantHooks::Layer* layer = hooks.mutable_layer(const_layer->name);
      torch::Tensor lo, hi;
      if (archive.try_read(ActivationKey(layer->name, "lo"), lo) &&
          archive.try_read(ActivationKey(layer->name, "hi"), hi)) {
        layer->input->SetRange(lo, hi);
      }
      torch::Tensor clip;
      if (archive.try_read(WeightClipKey(layer->name), clip)) layer->weight_clip = clip;
      // Under its own key: an older checkpoint's plain "scale" is not read
      // as a log, and that run's grid restarts from its weights.
      torch::Tensor log_scale, zero_point;
      if (archive.try_read(LearnedWeightKey(layer->name, "log_scale"), log_scale) &&
          archive.try_read(LearnedWeightKey(layer->name, "zero_point"), zero_point)) {
        // Learning goes on from here (StartLearningWeightRanges keeps it).
        layer->learned_weight_log_scale = log_scale.clone().set_requires_grad(true);
        layer->learned_weight_zero_point = zero_point;
      }
    }
    // Add-operand sites are created on first use, so the checkpoint names them.
    for (const std::string& key : archive.keys()) {
      if (key.rfind("add/", 0) != 0 || key.size() < 8 || key.substr(key.size() - 3) != "/lo") {
        continue;
      }
      const std::string site = key.substr(4, key.size() - 7);
      torch::Tensor lo, hi;
      archive.read(AddKey(site, "lo"), lo);
      archive.read(AddKey(site, "hi"), hi);
      hooks.add_operand(site).SetRange(lo, hi);
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    return steps.item<int64_t>();
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("checkpoint ", path, " unusable: ", e.what()));
  }
}

}  // namespace qf::quant
