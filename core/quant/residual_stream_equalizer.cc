#include "core/quant/residual_stream_equalizer.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/nn/dlib_resnet.h"
#include "core/nn/scoped_layer_hooks.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/feature_recorder.h"

namespace qf::quant {
namespace {

absl::StatusOr<nn::DlibResnet*> StreamModel(nn::Backbone& model) {
  auto* resnet = dynamic_cast<nn::DlibResnet*>(&model);
  if (resnet == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(model.spec().architecture,
                                                      " has no residual stream to equalize (",
                                                      nn::DlibResnet::kName, " only)"));
  }
  return resnet;
}

absl::StatusOr<nn::DlibResnet*> StreamModel(nn::Backbone& model, double strength) {
  auto resnet = StreamModel(model);
  if (!resnet.ok()) return resnet.status();
  if (!(strength >= 0.0 && strength <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("residual stream equalization strength must be in [0, 1], got ", strength));
  }
  return resnet;
}

}  // namespace

torch::Tensor ChannelSpans(const torch::Tensor& x) {
  const torch::Tensor rows = x.transpose(0, 1).reshape({x.size(1), -1});
  return std::get<0>(rows.max(1)) - std::get<0>(rows.min(1));
}

absl::StatusOr<torch::Tensor> ResidualStreamFactors(nn::Backbone& model, const torch::Tensor& batch,
                                                    double strength) {
  auto resnet = StreamModel(model, strength);
  if (!resnet.ok()) return resnet.status();
  constexpr int64_t kChannels = nn::DlibResnet::kStreamChannels;
  auto recorder = std::make_shared<FeatureRecorder>(QuantizedLayerNames(model));
  torch::Tensor log_sum = torch::zeros({kChannels}, torch::kFloat64);
  torch::Tensor count = torch::zeros({kChannels}, torch::kFloat64);
  try {
    torch::NoGradGuard no_grad;
    {
      const nn::ScopedLayerHooks installed(**resnet, recorder);
      model.forward(batch);
    }
    for (const std::string& site : (*resnet)->ResidualStreamReaders()) {
      const auto it = recorder->features().find(site);
      if (it == recorder->features().end()) {
        return absl::InternalError(absl::StrCat("residual stream: no input recorded at ", site));
      }
      const torch::Tensor spans = ChannelSpans(it->second).to(torch::kCPU, torch::kFloat64);
      const torch::Tensor relative = (spans / spans.max().clamp_min(1e-12)).clamp_min(1e-3);
      const int64_t width = relative.size(0);
      log_sum.slice(0, 0, width).add_(relative.log());
      count.slice(0, 0, width).add_(1.0);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("residual stream equalization: ", e.what_without_backtrace()));
  }
  return torch::exp(-strength * log_sum / count.clamp_min(1.0)).to(torch::kFloat32);
}

absl::Status ScaleResidualStream(nn::Backbone& model, const torch::Tensor& factors) {
  auto resnet = StreamModel(model);
  if (!resnet.ok()) return resnet.status();
  return (*resnet)->ScaleResidualStream(factors);
}

absl::Status EqualizeResidualStream(nn::Backbone& model, const torch::Tensor& batch,
                                    double strength) {
  auto factors = ResidualStreamFactors(model, batch, strength);
  if (!factors.ok()) return factors.status();
  return ScaleResidualStream(model, *factors);
}

}  // namespace qf::quant
