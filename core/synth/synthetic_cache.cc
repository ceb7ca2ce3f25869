#include "core/synth/synthetic_cache.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/util/sha256.h"

namespace qf::synth {
namespace fs = std::filesystem;

std::string SyntheticCache::Key(const nlohmann::json& spec) { return Sha256Hex(spec.dump()); }

std::string SyntheticCache::PathFor(const nlohmann::json& spec) const {
  return (fs::path(dir_) / (Key(spec) + ".pt")).string();
}

absl::StatusOr<torch::Tensor> SyntheticCache::GetOrCreate(
    const nlohmann::json& spec, const std::function<absl::StatusOr<torch::Tensor>()>& generate,
    bool* hit) const {
  const fs::path data = PathFor(spec);
  const fs::path meta = fs::path(dir_) / (Key(spec) + ".json");
  if (hit != nullptr) *hit = false;
  std::error_code ec;
  if (fs::exists(data, ec) && fs::exists(meta, ec)) {
    std::ifstream in(meta);
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json stored = nlohmann::json::parse(text.str(), nullptr, false);
    if (!stored.is_discarded() && stored == spec) {
      try {
        torch::Tensor images;
        torch::load(images, data.string());
        if (hit != nullptr) *hit = true;
        return images;
      } catch (const c10::Error&) {
        // A corrupt entry is regenerated below, not fatal.
      }
    }
  }
  absl::StatusOr<torch::Tensor> images = generate();
  if (!images.ok()) return images.status();
  fs::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir_, ": ", ec.message()));
  const fs::path tmp_data = data.string() + ".tmp";
  const fs::path tmp_meta = meta.string() + ".tmp";
  try {
    torch::save(*images, tmp_data.string());
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("cannot write ", tmp_data.string(), ": ", e.what_without_backtrace()));
  }
  {
    std::ofstream out(tmp_meta);
    out << spec.dump(2) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp_meta.string()));
  }
  // Data first, then the spec: an entry counts only once its spec is there.
  fs::rename(tmp_data, data, ec);
  if (!ec) fs::rename(tmp_meta, meta, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot store ", data.string(), ": ", ec.message()));
  return images;
}

}  // namespace qf::synth
