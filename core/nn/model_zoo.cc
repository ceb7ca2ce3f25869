#include "core/nn/model_zoo.h"

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/nn/mobileface.h"

namespace qf::nn {
namespace {

struct Entry {
  const char* name;
  ModelSpec (*spec)();
  std::function<absl::StatusOr<std::shared_ptr<Backbone>>(const std::string&)> load;
};

// Upcasts a model-specific loader's result to the Backbone interface.
template <typename Model>
absl::StatusOr<std::shared_ptr<Backbone>> Load(const std::string& asset_dir) {
  absl::StatusOr<std::shared_ptr<Model>> model = Model::FromAssets(asset_dir);
  if (!model.ok()) return model.status();
  return std::shared_ptr<Backbone>(*std::move(model));
}

const std::vector<Entry>& Entries() {
  static const std::vector<Entry> entries = {
      {DlibResnet::kName, &DlibResnet::Spec, &Load<DlibResnet>},
      {FaceRes::kName, &FaceRes::Spec, &Load<FaceRes>},
      {MobileFace::kName, &MobileFace::Spec, &Load<MobileFace>},
  };
  return entries;
}

absl::StatusOr<const Entry*> Find(const std::string& name) {
  for (const Entry& entry : Entries()) {
    if (name == entry.name) return &entry;
  }
  return absl::NotFoundError(absl::StrCat("unknown built-in model '", name,
                                          "'; known: ", absl::StrJoin(BuiltinModelNames(), ", ")));
}

}  // namespace

std::vector<std::string> BuiltinModelNames() {
  std::vector<std::string> names;
  for (const Entry& entry : Entries()) names.emplace_back(entry.name);
  return names;
}

std::string DefaultBuiltinModelName() { return DlibResnet::kName; }

absl::StatusOr<ModelSpec> BuiltinModelSpec(const std::string& name) {
  absl::StatusOr<const Entry*> entry = Find(name);
  if (!entry.ok()) return entry.status();
  return (*entry)->spec();
}

absl::StatusOr<std::shared_ptr<Backbone>> LoadBuiltinModel(const std::string& name,
                                                           const std::string& asset_dir) {
  absl::StatusOr<const Entry*> entry = Find(name);
  if (!entry.ok()) return entry.status();
  absl::StatusOr<std::shared_ptr<Backbone>> model = (*entry)->load(asset_dir);
  if (!model.ok() && absl::IsNotFound(model.status())) {
    return absl::NotFoundError(absl::StrCat("built-in model '", name,
                                            "': ", model.status().message(),
                                            " (run scripts/fetch_assets.sh, or set the asset "
                                            "dir)"));
  }
  return model;
}

}  // namespace qf::nn
