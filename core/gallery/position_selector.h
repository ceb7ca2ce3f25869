// PositionSelector: a faiss::IDSelector over the dense positions of an index,
// accepting a position when it is live and its caller id passes the filter.
#ifndef QUANTFACE_CORE_GALLERY_POSITION_SELECTOR_H_
#define QUANTFACE_CORE_GALLERY_POSITION_SELECTOR_H_

#include <faiss/impl/IDSelector.h>

#include <vector>

#include "core/gallery/search_index.h"

namespace qf::gallery {

class PositionSelector final : public faiss::IDSelector {
 public:
  // `alive` may be null (every position live); `filter` may be empty.
  PositionSelector(const std::vector<int64_t>& ids, const std::vector<bool>* alive,
                   const IdFilter& filter)
      : ids_(ids), alive_(alive), filter_(filter) {}

  bool is_member(faiss::Index::idx_t position) const override {
    if (position < 0 || static_cast<size_t>(position) >= ids_.size()) return false;
    if (alive_ != nullptr && !(*alive_)[position]) return false;
    return !filter_ || filter_(ids_[position]);
  }

 private:
  const std::vector<int64_t>& ids_;
  const std::vector<bool>* alive_;
  const IdFilter& filter_;
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_POSITION_SELECTOR_H_
