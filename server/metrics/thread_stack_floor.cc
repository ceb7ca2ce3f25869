// A floor under thread stack sizes, for the /metrics endpoint's sake.
//
// civetweb, the HTTP server under prometheus-cpp's Exposer, starts its threads
// with a fixed 100 KiB stack (Debian builds it with USE_STACK_SIZE=102400).
// glibc counts the static TLS of every loaded library against a new thread's
// stack, and LibTorch's dependencies alone take more than that (OpenBLAS
// ~60 KiB, glog ~30 KiB), so pthread_create() fails with EINVAL and the
// exposer throws "null context when constructing CivetServer".
//
// This definition interposes libc's for the whole process (qf_server's link
// options export it and force it in) and raises any requested size below
// kMinimumStackBytes to it; larger requests pass through unchanged.
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstddef>

namespace {

constexpr std::size_t kMinimumStackBytes = std::size_t{1} << 20;

using SetStackSizeFn = int (*)(pthread_attr_t*, std::size_t);

SetStackSizeFn LibcSetStackSize() {
  static const auto libc_function =
      reinterpret_cast<SetStackSizeFn>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  return libc_function;
}

}  // namespace

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, std::size_t size) {
  return LibcSetStackSize()(attr, std::max(size, kMinimumStackBytes));
}
