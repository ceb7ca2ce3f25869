// BlobStore: immutable files on local disk named by the sha256 of their
// content (<root>/<first two hex digits>/<digest>), so identical files are
// stored once and a name always means the same bytes.
//
// Writing goes through a BlobWriter: bytes are appended to a private temporary
// file under <root>/tmp while they are hashed; Commit() fsyncs it, renames it
// to its digest name (atomic on POSIX) and fsyncs the directory, so a crash
// leaves either no blob or the whole one, never a partial file under a
// digest name. An abandoned writer deletes its temporary file. Temporary files
// left by a crash are removed when the store is opened.
//
// Thread-safe: concurrent writers use distinct temporary files; committing
// the same content twice is harmless (the rename replaces equal bytes).
#ifndef QUANTFACE_SERVER_STORE_BLOB_STORE_H_
#define QUANTFACE_SERVER_STORE_BLOB_STORE_H_

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/util/sha256.h"

namespace qf::server {

class BlobStore;

class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  absl::Status Append(std::string_view bytes);
  int64_t size() const { return size_; }
  // The temporary file, readable before Commit() (e.g. for validation)
  // once Flush() returned OK.
  const std::string& temp_path() const { return temp_path_; }
  absl::Status Flush();
  // Finishes the hash, flushes, fsyncs and renames; returns the digest.
  absl::StatusOr<std::string> Commit();

 private:
  friend class BlobStore;
  BlobWriter(const BlobStore& store, std::string temp_path);

  const BlobStore& store_;
  std::string temp_path_;
  std::ofstream out_;
  Sha256Hasher hasher_;
  int64_t size_ = 0;
  bool committed_ = false;
};

class BlobStore {
 public:
  static absl::StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& root);

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter();
  // Copies an existing file into the store; returns its digest.
  absl::StatusOr<std::string> PutFile(const std::string& path);

  std::string PathOf(const std::string& digest) const;
  bool Contains(const std::string& digest) const;
  absl::StatusOr<int64_t> SizeOf(const std::string& digest) const;
  // Deleting an absent blob is not an error.
  absl::Status Remove(const std::string& digest);

  const std::string& root() const { return root_; }

 private:
  friend class BlobWriter;
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  const std::string root_;
  std::atomic<uint64_t> next_temp_{0};
};

// Flushes a file's or directory's data to disk.
absl::Status FsyncPath(const std::string& path, bool directory);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_STORE_BLOB_STORE_H_
