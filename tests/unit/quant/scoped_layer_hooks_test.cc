#include "core/nn/scoped_layer_hooks.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "tests/unit/quant/tiny_backbone.h"

namespace qf::nn {
namespace {

// Hooks that compute nothing new; only their identity matters here.
class PassThroughHooks : public LayerHooks {
 public:
  torch::Tensor Conv2d(torch::nn::Conv2dImpl& conv, const torch::Tensor& input) override {
    return conv.forward(input);
  }
  torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& input) override {
    return linear.forward(input);
  }
  torch::Tensor AddOperand(const std::string&, const torch::Tensor& x) override { return x; }
};

TEST(ScopedLayerHooksTest, InstallsForItsScopeAndRestoresThePreviousHooks) {
  qf::testing::TinyBackbone model;
  const auto outer = std::make_shared<PassThroughHooks>();
  const auto inner = std::make_shared<PassThroughHooks>();
  {
    const ScopedLayerHooks first(model, outer);
    EXPECT_EQ(model.layer_hooks(), outer);
    {
      const ScopedLayerHooks second(model, inner);
      EXPECT_EQ(model.layer_hooks(), inner);
    }
    EXPECT_EQ(model.layer_hooks(), outer);
    // An exception leaving the scope restores them too.
    EXPECT_THROW(
        {
          const ScopedLayerHooks third(model, inner);
          throw std::runtime_error("forward failed");
        },
        std::runtime_error);
    EXPECT_EQ(model.layer_hooks(), outer);
  }
  EXPECT_EQ(model.layer_hooks(), nullptr);
}

}  // namespace
}  // namespace qf::nn
