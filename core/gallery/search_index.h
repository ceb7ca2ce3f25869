// SearchIndex: top-k inner-product search over L2-normalized vectors, each
// known by a caller-chosen 64-bit id (FAISS style: Add / Remove / Search).
//
// Contract: vectors have dimension dim(); Add() rejects a wrong length and
// ids already present; Remove() ignores ids that are absent. Search() returns,
// per query, up to k hits sorted by decreasing score (inner product = cosine
// for normalized vectors), only over ids the optional filter accepts.
// Implementations are thread-safe: searches run concurrently with each other
// and are serialized with Add/Remove, so a search sees each Add whole or not
// at all.
#ifndef QUANTFACE_CORE_GALLERY_SEARCH_INDEX_H_
#define QUANTFACE_CORE_GALLERY_SEARCH_INDEX_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qf::gallery {

struct SearchHit {
  int64_t id = -1;
  float score = 0;
};

// Accepts or rejects an id during a search (e.g. a metadata filter).
using IdFilter = std::function<bool(int64_t id)>;

class SearchIndex {
 public:
  virtual ~SearchIndex() = default;

  virtual int dim() const = 0;
  // Number of searchable vectors.
  virtual int64_t size() const = 0;
  // Short name of the implementation ("flat", "hnsw"), for logs and metrics.
  virtual std::string kind() const = 0;

  // `vectors` holds ids.size() rows of dim() floats, row-major.
  virtual absl::Status Add(const std::vector<int64_t>& ids, const std::vector<float>& vectors) = 0;
  virtual void Remove(const std::vector<int64_t>& ids) = 0;
  // `queries` holds n rows of dim() floats; the result has n lists.
  virtual absl::StatusOr<std::vector<std::vector<SearchHit>>> Search(
      const std::vector<float>& queries, int k, const IdFilter& filter = nullptr) const = 0;
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_SEARCH_INDEX_H_
