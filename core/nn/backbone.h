// Backbone: the common contract of every face-embedding network.
//
// Each architecture (dlib-resnet, faceres, mobileface, MobileFaceNet,
// iResNet-*) is our own torch::nn::Module deriving from Backbone, so that the
// quantization engine can walk and wrap its layers. forward() takes a float32
// N x 3 x S x S tensor already normalized as spec().input says, and returns the
// raw (not yet L2-normalized) N x D embeddings.
#ifndef QUANTFACE_CORE_NN_BACKBONE_H_
#define QUANTFACE_CORE_NN_BACKBONE_H_

#include <torch/torch.h>

#include <string>

#include "core/nn/input_spec.h"

namespace qf::nn {

struct ModelSpec {
  std::string architecture;  // e.g. "dlib-resnet".
  int embedding_dim = 0;
  InputSpec input;
};

class Backbone : public torch::nn::Module {
 public:
  ~Backbone() override = default;
  virtual torch::Tensor forward(torch::Tensor input) = 0;
  virtual const ModelSpec& spec() const = 0;
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_BACKBONE_H_
