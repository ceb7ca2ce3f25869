#include "server/store/page_request.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace qf::server {

absl::StatusOr<int> PageLimit(int page_size) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (page_size == 0) return kDefaultPageSize;
  return std::min(page_size, kMaxPageSize);
}

absl::StatusOr<int64_t> PageOffset(const std::string& page_token) {
  if (page_token.empty()) return 0;
  int64_t offset = 0;
  if (!absl::SimpleAtoi(page_token, &offset) || offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page_token '", page_token, "' is invalid"));
  }
  return offset;
}

}  // namespace qf::server
