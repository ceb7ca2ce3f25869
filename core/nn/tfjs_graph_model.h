// TfjsGraphModel: a TensorFlow.js graph model (`model.json` with format
// "graph-model") read for import: its decoded weights plus read-only queries on
// its node graph.
//
// We do not execute the graph. Each port in core/nn is our own module, and it
// asks the graph to confirm what the port assumes (which op consumes a
// kernel, with which strides and padding) so that a different or changed
// asset fails loudly at load time instead of computing a different function.
#ifndef QUANTFACE_CORE_NN_TFJS_GRAPH_MODEL_H_
#define QUANTFACE_CORE_NN_TFJS_GRAPH_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/tfjs_weights.h"

namespace qf::nn {

class TfjsGraphModel {
 public:
  // Reads `model_json_path` and the weight shards its `weightsManifest` names
  // (relative to the file's directory).
  static absl::StatusOr<TfjsGraphModel> Load(const std::string& model_json_path);

  // Builds a model from an already-parsed model.json; shards from `base_dir`.
  static absl::StatusOr<TfjsGraphModel> FromJson(const nlohmann::json& model_json,
                                                 const std::string& base_dir,
                                                 const std::string& origin);

  const TensorMap& weights() const { return weights_; }
  const std::string& origin() const { return origin_; }

  // The weight `name`, which must have exactly `shape`.
  absl::StatusOr<torch::Tensor> Weight(const std::string& name, c10::IntArrayRef shape) const;

  // A float scalar (or one-element) weight, e.g. a ReLU6 clip bound.
  absl::StatusOr<float> Scalar(const std::string& name) const;

  bool HasNode(const std::string& name) const { return nodes_.count(name) != 0; }

  // The op of node `name` (e.g. "Conv2D").
  absl::StatusOr<std::string> NodeOp(const std::string& name) const;

  // An integer-list attribute, e.g. "strides" -> {1, 2, 2, 1}.
  absl::StatusOr<std::vector<int64_t>> IntListAttr(const std::string& node,
                                                   const std::string& attr) const;

  // A string attribute, base64-decoded as graph JSON stores bytes.
  absl::StatusOr<std::string> StringAttr(const std::string& node, const std::string& attr) const;

  // Checks that exactly one node of op `op` takes weight `kernel` as an
  // input, with strides {1, stride, stride, 1} and padding `padding`
  // ("SAME" or "VALID"); FAILED_PRECONDITION naming the mismatch otherwise.
  absl::Status ExpectConv(const std::string& kernel, const std::string& op, int64_t stride,
                          const std::string& padding) const;

 private:
  TfjsGraphModel() = default;
  absl::StatusOr<const nlohmann::json*> Attr(const std::string& node,
                                             const std::string& attr) const;

  std::string origin_;
  std::map<std::string, nlohmann::json> nodes_;
  TensorMap weights_;
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_TFJS_GRAPH_MODEL_H_
