// ScopedLayerHooks: installs LayerHooks on a Hookable backbone for the
// object's lifetime and puts back whatever was installed before (null: full
// precision), on every exit path, early returns and exceptions included.
//
// For components that borrow a model's hook point for a while (recording a
// teacher's activations, measuring ranges, routing sites between two sets of
// hooks) and must leave the model as they found it. Not thread-safe, like
// Hookable itself.
#ifndef QUANTFACE_CORE_NN_SCOPED_LAYER_HOOKS_H_
#define QUANTFACE_CORE_NN_SCOPED_LAYER_HOOKS_H_

#include <memory>
#include <utility>

#include "core/nn/layer_hooks.h"

namespace qf::nn {

class ScopedLayerHooks {
 public:
  ScopedLayerHooks(Hookable& model, std::shared_ptr<LayerHooks> hooks)
      : model_(model), previous_(model.layer_hooks()) {
    model_.set_layer_hooks(std::move(hooks));
  }
  ~ScopedLayerHooks() { model_.set_layer_hooks(previous_); }
  ScopedLayerHooks(const ScopedLayerHooks&) = delete;
  ScopedLayerHooks& operator=(const ScopedLayerHooks&) = delete;

 private:
  Hookable& model_;
  const std::shared_ptr<LayerHooks> previous_;
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_SCOPED_LAYER_HOOKS_H_
