// UnitLength: an embedding scaled to length 1, the form every comparison in
// the service assumes (cosine = dot product).
//
// Contract: returns `values` scaled by 1 / |values| (the norm summed in
// double precision); INVALID_ARGUMENT "embedding has a non-finite value" or
// "embedding is all zeros" when it has no direction. One place for embeddings
// that clients send (probes, templates) and rows that a model returns.
#ifndef QUANTFACE_CORE_UTIL_UNIT_VECTOR_H_
#define QUANTFACE_CORE_UTIL_UNIT_VECTOR_H_

#include <vector>

#include "absl/status/statusor.h"

namespace qf {

absl::StatusOr<std::vector<float>> UnitLength(std::vector<float> values);

}  // namespace qf

#endif  // QUANTFACE_CORE_UTIL_UNIT_VECTOR_H_
