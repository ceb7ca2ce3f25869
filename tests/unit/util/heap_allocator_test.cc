#include "core/util/heap_allocator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace qf {
namespace {

// Guards the link: if a build stops putting tcmalloc ahead of glibc's malloc,
// batched forwards fall back to page-faulting (heap_allocator.h).
TEST(HeapAllocatorTest, TheProcessRunsOnTcmalloc) {
  EXPECT_EQ(CurrentHeapAllocator().name, "tcmalloc");
}

TEST(HeapAllocatorTest, ALargeBlockShowsInTheAllocatedBytesAndLeavesWhenFreed) {
  constexpr int64_t kBlock = 64 << 20;  // above glibc's largest mmap threshold
  const int64_t before = CurrentHeapAllocator().allocated_bytes;
  int64_t during = 0;
  {
    std::vector<char> block(kBlock);
    std::memset(block.data(), 1, block.size());
    during = CurrentHeapAllocator().allocated_bytes;
  }
  const HeapAllocatorInfo after = CurrentHeapAllocator();
  EXPECT_GE(during - before, kBlock);
  EXPECT_LT(after.allocated_bytes - before, kBlock);
  EXPECT_GE(after.heap_bytes, after.allocated_bytes);
}

}  // namespace
}  // namespace qf
