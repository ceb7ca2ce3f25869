#include "core/util/heap_allocator.h"

#include <gperftools/malloc_extension.h>

#include <cstdlib>
#include <memory>

namespace qf {
namespace {

int64_t NumericProperty(const char* name) {
  size_t value = 0;
  if (!MallocExtension::instance()->GetNumericProperty(name, &value)) return -1;
  return static_cast<int64_t>(value);
}

}  // namespace

HeapAllocatorInfo CurrentHeapAllocator() {
  const std::unique_ptr<void, decltype(&std::free)> probe(std::malloc(64), &std::free);
  if (probe == nullptr ||
      MallocExtension::instance()->GetOwnership(probe.get()) != MallocExtension::kOwned) {
    return {"other", -1, -1};
  }
  return {"tcmalloc", NumericProperty("generic.current_allocated_bytes"),
          NumericProperty("generic.heap_size")};
}

}  // namespace qf
