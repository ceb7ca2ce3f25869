// HeapAllocator: which malloc this process runs on, and how much it holds.
//
// Every QuantFace binary links gperftools' tcmalloc (libtcmalloc_minimal,
// through qf_util) in place of glibc's malloc. Why: LibTorch allocates every
// activation of a batched forward afresh. glibc serves blocks above its mmap
// threshold (32 MiB at most) with a fresh mmap and unmaps them on free, so
// the kernel zero-fills every page of such a block again on first touch. At
// batch 32 faceres' activations are tens of MiB each, and its float forward
// spent most of its time in page faults (6.8 embeddings/s on 2 threads
// against 146 with tcmalloc; docs/BENCHMARKS.md, "The heap allocator").
// tcmalloc keeps freed pages for reuse.
//
// CurrentHeapAllocator() asks the allocator itself: "tcmalloc" only when
// tcmalloc owns a block that malloc just returned (so a preloaded allocator
// or a link that lost the library shows as "other"). Thread-safe.
#ifndef QUANTFACE_CORE_UTIL_HEAP_ALLOCATOR_H_
#define QUANTFACE_CORE_UTIL_HEAP_ALLOCATOR_H_

#include <cstdint>
#include <string>

namespace qf {

struct HeapAllocatorInfo {
  std::string name;             // "tcmalloc" or "other"
  int64_t allocated_bytes = 0;  // held by the program; -1 when not tcmalloc
  int64_t heap_bytes = 0;       // taken from the OS, free pages included; -1 likewise
};

HeapAllocatorInfo CurrentHeapAllocator();

}  // namespace qf

#endif  // QUANTFACE_CORE_UTIL_HEAP_ALLOCATOR_H_
