#include "server/store/page_request.h"

#include <gtest/gtest.h>

namespace qf::server {
namespace {

TEST(PageRequestTest, PageSizeZeroMeansTheDefaultAndLargeOnesAreCapped) {
  EXPECT_EQ(PageLimit(0).value(), kDefaultPageSize);
  EXPECT_EQ(PageLimit(7).value(), 7);
  EXPECT_EQ(PageLimit(kMaxPageSize).value(), kMaxPageSize);
  EXPECT_EQ(PageLimit(kMaxPageSize + 1).value(), kMaxPageSize);
}

TEST(PageRequestTest, NegativePageSizeIsInvalid) {
  const absl::StatusOr<int> limit = PageLimit(-1);
  ASSERT_FALSE(limit.ok());
  EXPECT_EQ(limit.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(limit.status().message().find("page_size"), std::string::npos);
}

TEST(PageRequestTest, AnEmptyTokenStartsAtTheFirstRow) {
  EXPECT_EQ(PageOffset("").value(), 0);
  EXPECT_EQ(PageOffset("150").value(), 150);
}

TEST(PageRequestTest, MalformedTokensAreInvalidAndNamed) {
  for (const std::string token : {"-1", "abc", "12x", "1.5", "99999999999999999999"}) {
    const absl::StatusOr<int64_t> offset = PageOffset(token);
    ASSERT_FALSE(offset.ok()) << token;
    EXPECT_EQ(offset.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_NE(offset.status().message().find("'" + token + "'"), std::string::npos) << token;
  }
}

}  // namespace
}  // namespace qf::server
