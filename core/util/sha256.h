// SHA-256 digests, hex-encoded, for content addressing and asset checks.
//
// Sha256Hasher is an incremental hasher over OpenSSL's EVP interface: feed
// bytes with Update(), read the lowercase hex digest once with HexDigest().
#ifndef QUANTFACE_CORE_UTIL_SHA256_H_
#define QUANTFACE_CORE_UTIL_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct evp_md_ctx_st;

namespace qf {

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view bytes);
  // Finishes the digest; the hasher must not be updated afterwards.
  std::string HexDigest();

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// Digest of an in-memory buffer.
std::string Sha256Hex(std::string_view bytes);

// Digest of a file, streamed; NOT_FOUND when it cannot be opened.
absl::StatusOr<std::string> Sha256HexOfFile(const std::string& path);

}  // namespace qf

#endif  // QUANTFACE_CORE_UTIL_SHA256_H_
