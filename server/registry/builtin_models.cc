#include "server/registry/builtin_models.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/nn/model_zoo.h"
#include "server/registry/evaluation_summary.h"

namespace qf::server {

absl::Status RegisterBuiltinModels(ModelRegistry& registry, const std::string& asset_dir,
                                   const std::string& evaluations_dir) {
  namespace fs = std::filesystem;
  for (const std::string& id : nn::BuiltinModelNames()) {
    auto spec = nn::BuiltinModelSpec(id);
    if (!spec.ok()) return spec.status();
    v1::Model model;
    model.set_name(absl::StrCat("models/", id));
    model.set_display_name(absl::StrCat(id, " (built-in)"));
    model.set_architecture(spec->architecture);
    model.set_embedding_dim(spec->embedding_dim);
    model.set_input_size(spec->input.size);
    model.set_weight_bits(32);
    model.set_activation_bits(32);
    model.set_compression_ratio(1.0);
    std::error_code ec;
    int64_t bytes = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(asset_dir) / id, ec)) {
      if (entry.is_regular_file(ec)) bytes += static_cast<int64_t>(entry.file_size(ec));
    }
    model.set_size_bytes(bytes);
    std::ifstream report_file(fs::path(evaluations_dir) / (id + ".json"));
    if (report_file) {
      const nlohmann::json report = nlohmann::json::parse(report_file, nullptr, false);
      if (!report.is_discarded()) {
        if (auto summary = SummaryFromMetrics(report, "lfw"); summary.ok()) {
          *model.add_evaluations() = *std::move(summary);
        }
      }
    }
    if (absl::Status s = registry.RegisterBuiltin(model); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace qf::server
