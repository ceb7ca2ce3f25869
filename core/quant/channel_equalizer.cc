#include "core/quant/channel_equalizer.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/nn/layer_hooks.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/feature_recorder.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

// The weight of layer `name` if it is a Conv2d with groups == 1 or a
// Linear; its bias (possibly undefined) through `bias`.
absl::StatusOr<torch::Tensor> LayerWeight(const torch::nn::Module& model, const std::string& name,
                                          torch::Tensor* bias = nullptr) {
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (item.key() != name) continue;
    if (const auto* conv = item.value()->as<torch::nn::Conv2d>()) {
      if (conv->options.groups() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("channel group layer '", name, "' is a grouped conv"));
      }
      if (bias != nullptr) *bias = conv->bias;
      return conv->weight;
    }
    if (const auto* linear = item.value()->as<torch::nn::Linear>()) {
      if (bias != nullptr) *bias = linear->bias;
      return linear->weight;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("channel group layer '", name, "' is not a conv or linear layer"));
  }
  return absl::InvalidArgumentError(absl::StrCat("channel group layer '", name, "' not found"));
}

// Channel c's range relative to the widest channel at each site, -1 where
// the site has no channel c or the channel is zero, as a
// [sites, group.channels] tensor.
absl::StatusOr<torch::Tensor> RelativeRanges(const nn::ChannelGroup& group,
                                             const SiteChannelRanges& ranges) {
  torch::Tensor relative = torch::full({static_cast<int64_t>(group.sites.size()), group.channels},
                                       -1.0, torch::kFloat64);
  for (std::size_t i = 0; i < group.sites.size(); ++i) {
    const auto it = ranges.find(group.sites[i]);
    if (it == ranges.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("no activation ranges recorded at site '", group.sites[i], "'"));
    }
    const torch::Tensor range = it->second.to(torch::kFloat64).flatten();
    if (range.numel() > group.channels) {
      return absl::InvalidArgumentError(absl::StrCat("site '", group.sites[i], "' has ",
                                                     range.numel(), " channels, group '",
                                                     group.name, "' ", group.channels));
    }
    const double widest = range.max().item<double>();
    if (widest <= 0) continue;
    torch::Tensor row = relative[static_cast<int64_t>(i)].narrow(0, 0, range.numel());
    row.copy_(torch::where(range > 0, range / widest, torch::full_like(range, -1.0)));
  }
  return relative;
}

// Median over (site, channel) of the relative ranges that exist.
double MedianRelativeRange(const torch::Tensor& relative) {
  const torch::Tensor present = relative.masked_select(relative > 0);
  if (present.numel() == 0) return 0;
  return present.median().item<double>();
}

}  // namespace

bool HasChannelGroups(const nn::Backbone& model) {
  const auto* hookable = dynamic_cast<const nn::Hookable*>(&model);
  return hookable != nullptr && !hookable->channel_groups().empty();
}

absl::Status CheckChannelEqualizationOptions(const ChannelEqualizationOptions& options) {
  if (!(options.strength >= 0 && options.strength <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel equalization strength must be in [0, 1], got ", options.strength));
  }
  if (!(options.max_factor >= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "channel equalization max_factor must be at least 1, got ", options.max_factor));
  }
  if (options.images <= 0 || options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        "channel equalization needs a positive number of images and batch size");
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> EqualizationFactors(const torch::nn::Module& model,
                                                  const nn::ChannelGroup& group,
                                                  const SiteChannelRanges& ranges,
                                                  const ChannelEqualizationOptions& options) {
  QF_RETURN_IF_ERROR(CheckChannelEqualizationOptions(options));
  const int64_t channels = group.channels;
  QF_ASSIGN_OR_RETURN(const torch::Tensor relative, RelativeRanges(group, ranges));
  // Geometric mean over the sites where the channel exists.
  const torch::Tensor present = relative > 0;
  const torch::Tensor log_sum =
      torch::where(present, relative.clamp_min(1e-30).log(), torch::zeros_like(relative)).sum(0);
  const torch::Tensor count = present.sum(0).to(torch::kFloat64);
  const torch::Tensor activation = torch::where(count > 0, (log_sum / count.clamp_min(1)).exp(),
                                                torch::zeros({channels}, torch::kFloat64));

  // Largest weight reading each channel, relative to its output channel's
  // largest (max over outputs and consumers).
  torch::Tensor weight = torch::zeros({channels}, torch::kFloat64);
  for (const std::string& consumer : group.consumers) {
    QF_ASSIGN_OR_RETURN(const torch::Tensor w, LayerWeight(model, consumer));
    if (w.size(1) > channels) {
      return absl::InvalidArgumentError(absl::StrCat("consumer '", consumer, "' reads ", w.size(1),
                                                     " channels, group '", group.name, "' has ",
                                                     channels));
    }
    // [out, in]: a conv's largest magnitude over its kernel window.
    torch::Tensor magnitude = w.detach().to(torch::kCPU, torch::kFloat64).abs();
    if (magnitude.dim() > 2) magnitude = magnitude.flatten(2).amax(2);
    const torch::Tensor per_output = magnitude.amax(1, /*keepdim=*/true).clamp_min(1e-30);
    const torch::Tensor column = (magnitude / per_output).amax(0);
    weight.narrow(0, 0, column.numel())
        .copy_(torch::maximum(weight.narrow(0, 0, column.numel()), column));
  }

  const torch::Tensor usable = (activation > 0) & (weight > 0);
  torch::Tensor factors = torch::ones({channels}, torch::kFloat64);
  if (usable.any().item<bool>()) {
    const double alpha = options.strength;
    const torch::Tensor raw =
        weight.clamp_min(1e-30).pow(1 - alpha) / activation.clamp_min(1e-30).pow(alpha);
    const double log_mean = raw.masked_select(usable).log().mean().item<double>();
    const torch::Tensor normalized =
        (raw / std::exp(log_mean)).clamp(1 / options.max_factor, options.max_factor);
    factors = torch::where(usable, normalized, factors);
  }
  return factors.to(torch::kFloat32);
}

absl::Status ScaleChannelGroup(torch::nn::Module& model, const nn::ChannelGroup& group,
                               const torch::Tensor& factors) {
  if (factors.dim() != 1 || factors.size(0) != group.channels ||
      !(factors > 0).all().item<bool>()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group '", group.name, "' needs ", group.channels, " positive factors"));
  }
  struct Change {
    torch::Tensor tensor;
    torch::Tensor scale;  // Broadcast against `tensor`.
  };
  std::vector<Change> changes;
  const torch::Tensor s = factors.to(torch::kFloat32);
  for (const std::string& producer : group.producers) {
    torch::Tensor bias;
    QF_ASSIGN_OR_RETURN(torch::Tensor w, LayerWeight(model, producer, &bias));
    const int64_t out = w.size(0);
    if (out > group.channels) {
      return absl::InvalidArgumentError(absl::StrCat("producer '", producer, "' writes ", out,
                                                     " channels, group '", group.name, "' has ",
                                                     group.channels));
    }
    std::vector<int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
    shape[0] = out;
    const torch::Tensor row_scale = s.narrow(0, 0, out).to(w.device());
    changes.push_back({w, row_scale.view(shape)});
    if (bias.defined()) changes.push_back({bias, row_scale});
  }
  for (const std::string& consumer : group.consumers) {
    QF_ASSIGN_OR_RETURN(torch::Tensor w, LayerWeight(model, consumer));
    const int64_t in = w.size(1);
    if (in > group.channels) {
      return absl::InvalidArgumentError(absl::StrCat("consumer '", consumer, "' reads ", in,
                                                     " channels, group '", group.name, "' has ",
                                                     group.channels));
    }
    std::vector<int64_t> shape(static_cast<std::size_t>(w.dim()), 1);
    shape[1] = in;
    changes.push_back({w, s.narrow(0, 0, in).reciprocal().to(w.device()).view(shape)});
  }
  torch::NoGradGuard no_grad;
  for (Change& change : changes) change.tensor.mul_(change.scale);
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> EqualizeChannels(nn::Backbone& model, synth::ImageSource& source,
                                                const ChannelEqualizationOptions& options) {
  QF_RETURN_IF_ERROR(CheckChannelEqualizationOptions(options));
  auto* hookable = dynamic_cast<nn::Hookable*>(&model);
  if (hookable == nullptr || hookable->layer_hooks() != nullptr) {
    return absl::FailedPreconditionError(
        "channel equalization needs a Hookable backbone without hooks installed");
  }
  const std::vector<nn::ChannelGroup> groups = hookable->channel_groups();
  if (groups.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "channel equalization: '", model.spec().architecture, "' describes no channel groups"));
  }

  const std::vector<torch::Tensor> parameters = model.parameters();
  const torch::Device device =
      parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
  // Ranges at every site, over all batches.
  auto recorder = std::make_shared<FeatureRecorder>(QuantizedLayerNames(model));
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> extremes;  // max(x,0), min(x,0)
  hookable->set_layer_hooks(recorder);
  try {
    torch::NoGradGuard no_grad;
    for (int64_t seen = 0; seen < options.images; seen += options.batch_size) {
      const int64_t n = std::min(options.batch_size, options.images - seen);
      recorder->Clear();
      model.forward(source.NextBatch(n).to(device));
      for (const auto& [site, x] : recorder->features()) {
        std::vector<int64_t> dims = {0};
        for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
        const torch::Tensor high = x.amax(dims).clamp_min(0).to(torch::kCPU);
        const torch::Tensor low = x.amin(dims).clamp_max(0).to(torch::kCPU);
        auto [it, inserted] = extremes.emplace(site, std::make_pair(high, low));
        if (!inserted) {
          it->second.first = torch::maximum(it->second.first, high);
          it->second.second = torch::minimum(it->second.second, low);
        }
      }
    }
  } catch (const c10::Error& e) {
    hookable->set_layer_hooks(nullptr);
    return absl::InternalError(
        absl::StrCat("channel equalization forward: ", e.what_without_backtrace()));
  }
  hookable->set_layer_hooks(nullptr);
  SiteChannelRanges ranges;
  for (const auto& [site, high_low] : extremes) ranges[site] = high_low.first - high_low.second;

  // Every factor is computed before any layer changes: the groups' statistics
  // do not depend on each other's scaling, and their weight terms are
  // relative per output channel, which the other groups' row scaling keeps.
  std::vector<torch::Tensor> factors;
  for (const nn::ChannelGroup& group : groups) {
    QF_ASSIGN_OR_RETURN(torch::Tensor f, EqualizationFactors(model, group, ranges, options));
    factors.push_back(std::move(f));
  }
  nlohmann::json summary = nlohmann::json::array();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const nn::ChannelGroup& group = groups[i];
    QF_RETURN_IF_ERROR(ScaleChannelGroup(model, group, factors[i]));
    SiteChannelRanges scaled;
    for (const std::string& site : group.sites) {
      const torch::Tensor& range = ranges.at(site);
      scaled[site] = range * factors[i].narrow(0, 0, range.numel());
    }
    QF_ASSIGN_OR_RETURN(const torch::Tensor before, RelativeRanges(group, ranges));
    QF_ASSIGN_OR_RETURN(const torch::Tensor after, RelativeRanges(group, scaled));
    summary.push_back({{"group", group.name},
                       {"channels", group.channels},
                       {"min_factor", factors[i].min().item<double>()},
                       {"max_factor", factors[i].max().item<double>()},
                       {"median_relative_range_before", MedianRelativeRange(before)},
                       {"median_relative_range_after", MedianRelativeRange(after)}});
  }
  return summary;
}

}  // namespace qf::quant
