// CachedEmbedFn: an EmbedFn (embed_items.h) in front of a cache of rows by
// image path, for a model whose embeddings do not change between runs (a
// full-precision teacher scored next to each of its students).
//
// Contract: each call embeds, through `embed` and in one call, only the
// items whose image_path is not in `rows`, adds their rows (float32) to
// `rows` and counts them in `embedded`; then it answers every item from
// `rows`, in order. A cached row answers regardless of `flip`: the caller
// keys the cache by everything that changes a row. An error of `embed`, or
// an answer without one row per missing item, is returned and nothing is
// added. `rows` and `embedded` must outlive the returned function.
#ifndef QUANTFACE_CORE_EVAL_CACHED_EMBED_FN_H_
#define QUANTFACE_CORE_EVAL_CACHED_EMBED_FN_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "core/eval/embed_items.h"

namespace qf::eval {

EmbedFn CachedEmbedFn(EmbedFn embed, std::unordered_map<std::string, torch::Tensor>& rows,
                      std::int64_t& embedded);

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_CACHED_EMBED_FN_H_
