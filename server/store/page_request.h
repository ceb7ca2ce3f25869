// Paging of the List RPCs (jobs, models, galleries, identities): one policy,
// so that every listing meets the same limits the protos document ("0 means
// 50, at most 1000").
//
// PageLimit turns a request's page_size into the number of rows to return.
// PageOffset reads the offset tokens that the job store and the registry
// issue as next_page_token; listings with keyset tokens (galleries,
// identities) use only PageLimit.
#ifndef QUANTFACE_SERVER_STORE_PAGE_REQUEST_H_
#define QUANTFACE_SERVER_STORE_PAGE_REQUEST_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace qf::server {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// page_size 0 means kDefaultPageSize; larger than kMaxPageSize is capped;
// negative is INVALID_ARGUMENT.
absl::StatusOr<int> PageLimit(int page_size);

// "" means the first row (0); anything but a non-negative decimal integer is
// INVALID_ARGUMENT with the token in the message.
absl::StatusOr<int64_t> PageOffset(const std::string& page_token);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_STORE_PAGE_REQUEST_H_
