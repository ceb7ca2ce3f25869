#include "core/nn/tfjs_graph_model.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"

namespace qf::nn {

using nlohmann::json;

absl::StatusOr<TfjsGraphModel> TfjsGraphModel::Load(const std::string& model_json_path) {
  std::ifstream in(model_json_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", model_json_path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const json model_json = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (model_json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(model_json_path, ": not valid JSON"));
  }
  return FromJson(model_json, std::filesystem::path(model_json_path).parent_path().string(),
                  model_json_path);
}

absl::StatusOr<TfjsGraphModel> TfjsGraphModel::FromJson(const json& model_json,
                                                        const std::string& base_dir,
                                                        const std::string& origin) {
  if (!model_json.is_object() || !model_json.contains("modelTopology") ||
      !model_json["modelTopology"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": no modelTopology object"));
  }
  if (!model_json.contains("weightsManifest")) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": no weightsManifest"));
  }
  if (model_json.contains("format") && model_json["format"] != "graph-model") {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": format is ", model_json["format"].dump(), ", expected \"graph-model\""));
  }
  const json& topology = model_json["modelTopology"];
  if (!topology.contains("node") || !topology["node"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": modelTopology has no node array"));
  }
  TfjsGraphModel model;
  model.origin_ = origin;
  for (const json& node : topology["node"]) {
    if (!node.is_object() || !node.contains("name") || !node["name"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": graph node without a name"));
    }
    model.nodes_[node["name"].get<std::string>()] = node;
  }
  QF_ASSIGN_OR_RETURN(model.weights_,
                      DecodeTfjsWeights(model_json["weightsManifest"], base_dir, origin));
  return model;
}

absl::StatusOr<torch::Tensor> TfjsGraphModel::Weight(const std::string& name,
                                                     c10::IntArrayRef shape) const {
  absl::StatusOr<torch::Tensor> weight = GetTfjsWeight(weights_, name, shape);
  if (!weight.ok()) {
    return absl::Status(weight.status().code(),
                        absl::StrCat(origin_, ": ", weight.status().message()));
  }
  return weight;
}

absl::StatusOr<float> TfjsGraphModel::Scalar(const std::string& name) const {
  const auto it = weights_.find(name);
  if (it == weights_.end() || it->second.numel() != 1 || !it->second.is_floating_point()) {
    return absl::NotFoundError(absl::StrCat(origin_, ": no float scalar weight '", name, "'"));
  }
  return it->second.item<float>();
}

absl::StatusOr<std::string> TfjsGraphModel::NodeOp(const std::string& name) const {
  const auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat(origin_, ": no graph node '", name, "'"));
  }
  if (!it->second.contains("op") || !it->second["op"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": node '", name, "' has no op"));
  }
  return it->second["op"].get<std::string>();
}

absl::StatusOr<const json*> TfjsGraphModel::Attr(const std::string& node,
                                                 const std::string& attr) const {
  const auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    return absl::NotFoundError(absl::StrCat(origin_, ": no graph node '", node, "'"));
  }
  const json& n = it->second;
  if (!n.contains("attr") || !n["attr"].contains(attr)) {
    return absl::NotFoundError(
        absl::StrCat(origin_, ": node '", node, "' has no attribute '", attr, "'"));
  }
  return &n["attr"][attr];
}

absl::StatusOr<std::vector<int64_t>> TfjsGraphModel::IntListAttr(const std::string& node,
                                                                 const std::string& attr) const {
  QF_ASSIGN_OR_RETURN(const json* value, Attr(node, attr));
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": attribute '", attr, "' of node '",
                                                   node, "' is not an int list: ", value->dump()));
  };
  if (!value->contains("list") || !(*value)["list"].is_object()) return bad();
  std::vector<int64_t> result;
  const json& list = (*value)["list"];
  if (!list.contains("i")) return result;  // An empty proto list has no "i".
  // Graph JSON writes int64 values as strings (proto3 JSON); accept numbers too.
  for (const json& item : list["i"]) {
    int64_t v = 0;
    if (item.is_number_integer()) {
      v = item.get<int64_t>();
    } else if (!item.is_string() || !absl::SimpleAtoi(item.get<std::string>(), &v)) {
      return bad();
    }
    result.push_back(v);
  }
  return result;
}

absl::StatusOr<std::string> TfjsGraphModel::StringAttr(const std::string& node,
                                                       const std::string& attr) const {
  QF_ASSIGN_OR_RETURN(const json* value, Attr(node, attr));
  std::string decoded;
  if (!value->contains("s") || !(*value)["s"].is_string() ||
      !absl::Base64Unescape((*value)["s"].get<std::string>(), &decoded)) {
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": attribute '", attr, "' of node '",
                                                   node, "' is not a base64 string"));
  }
  return decoded;
}

absl::Status TfjsGraphModel::ExpectConv(const std::string& kernel, const std::string& op,
                                        int64_t stride, const std::string& padding) const {
  std::vector<std::string> users;
  for (const auto& [name, node] : nodes_) {
    if (!node.contains("input") || !node["input"].is_array()) continue;
    for (const json& input : node["input"]) {
      if (input == kernel) users.push_back(name);
    }
  }
  if (users.size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(origin_, ": expected one node using kernel '", kernel, "', found ",
                     users.size(), users.empty() ? "" : ": ", absl::StrJoin(users, ", ")));
  }
  const std::string& node = users.front();
  QF_ASSIGN_OR_RETURN(const std::string node_op, NodeOp(node));
  QF_ASSIGN_OR_RETURN(const std::vector<int64_t> strides, IntListAttr(node, "strides"));
  QF_ASSIGN_OR_RETURN(const std::string node_padding, StringAttr(node, "padding"));
  const std::vector<int64_t> want_strides = {1, stride, stride, 1};
  if (node_op != op || strides != want_strides || node_padding != padding) {
    return absl::FailedPreconditionError(
        absl::StrCat(origin_, ": node '", node, "' is ", node_op, " strides [",
                     absl::StrJoin(strides, ","), "] padding ", node_padding, "; the port expects ",
                     op, " strides [", absl::StrJoin(want_strides, ","), "] padding ", padding));
  }
  return absl::OkStatus();
}

}  // namespace qf::nn
