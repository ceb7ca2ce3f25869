#include "core/eval/cached_embed_fn.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace qf::eval {

EmbedFn CachedEmbedFn(EmbedFn embed, std::unordered_map<std::string, torch::Tensor>& rows,
                      std::int64_t& embedded) {
  return [embed = std::move(embed), &rows, &embedded](absl::Span<const EmbedItem> items,
                                                      bool flip) -> absl::StatusOr<torch::Tensor> {
    std::vector<EmbedItem> missing;
    for (const EmbedItem& item : items) {
      if (rows.count(item.image_path) == 0) missing.push_back(item);
    }
    if (!missing.empty()) {
      QF_ASSIGN_OR_RETURN(const torch::Tensor fresh, embed(missing, flip));
      const auto count = static_cast<std::int64_t>(missing.size());
      if (!fresh.defined() || fresh.dim() != 2 || fresh.size(0) != count) {
        return absl::InvalidArgumentError(absl::StrCat("cached embedder: ", count,
                                                       " images to embed, but the embedder did not "
                                                       "return one row per image"));
      }
      for (std::int64_t i = 0; i < count; ++i) {
        rows[missing[static_cast<std::size_t>(i)].image_path] = fresh[i].to(torch::kFloat32);
      }
      embedded += count;
    }
    std::vector<torch::Tensor> answer;
    answer.reserve(items.size());
    for (const EmbedItem& item : items) answer.push_back(rows.at(item.image_path));
    return torch::stack(answer);
  };
}

}  // namespace qf::eval
