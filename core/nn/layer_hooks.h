// LayerHooks: the point where a backbone lets another component (the
// quantization engine) take over its conv/linear layers and the operands of
// its residual adds, without the backbone knowing what that component does.
//
// Why: LibTorch C++ forward() calls the member module holders directly, so
// swapping registered submodules does not change what forward() runs. Each
// backbone that supports quantization derives from Hookable and routes every
// conv, linear and add operand through RunConv/RunLinear/AddOperand. With no
// hooks installed (the default) these call the layer exactly as before, so
// full precision stays bit-identical.
//
// Contract for implementations: Conv2d()/Linear() must compute the layer's
// function of `input` (possibly on quantized weights/inputs) with the layer's
// own options (stride, padding, groups, bias); AddOperand() returns a tensor of
// the same shape as `x`. `site` names are unique within one backbone and
// stable across runs (they key saved quantization parameters); an add
// operand's site is "<block>/residual" for the output of the block's conv
// branch and "<block>/shortcut" for the other operand.
#ifndef QUANTFACE_CORE_NN_LAYER_HOOKS_H_
#define QUANTFACE_CORE_NN_LAYER_HOOKS_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

namespace qf::nn {

// True for a residual-add site that carries a conv branch's output.
inline bool IsResidualOperandSite(const std::string& site) {
  constexpr char kSuffix[] = "/residual";
  constexpr std::size_t kLength = sizeof(kSuffix) - 1;
  return site.size() >= kLength && site.compare(site.size() - kLength, kLength, kSuffix) == 0;
}

class LayerHooks {
 public:
  virtual ~LayerHooks() = default;
  virtual torch::Tensor Conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& input) = 0;
  virtual torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& input) = 0;
  virtual torch::Tensor AddOperand(const std::string& site, const torch::Tensor& x) = 0;
};

// Mixin of backbones whose layers LayerHooks can take over. Not thread-safe
// against concurrent set_layer_hooks() and forward().
class Hookable {
 public:
  virtual ~Hookable() = default;

  // Null restores full precision.
  void set_layer_hooks(std::shared_ptr<LayerHooks> hooks) { hooks_ = std::move(hooks); }
  const std::shared_ptr<LayerHooks>& layer_hooks() const { return hooks_; }
  // Whether forward() routes residual-add operands through AddOperand().
  virtual bool has_add_operands() const { return false; }

 protected:
  torch::Tensor RunConv(torch::nn::Conv2d& conv, const torch::Tensor& input) {
    return hooks_ ? hooks_->Conv2d(*conv, input) : conv(input);
  }
  torch::Tensor RunLinear(torch::nn::Linear& linear, const torch::Tensor& input) {
    return hooks_ ? hooks_->Linear(*linear, input) : linear(input);
  }
  torch::Tensor AddOperand(const std::string& site, const torch::Tensor& x) {
    return hooks_ ? hooks_->AddOperand(site, x) : x;
  }

 private:
  std::shared_ptr<LayerHooks> hooks_;
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_LAYER_HOOKS_H_
