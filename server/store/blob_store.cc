#include "server/store/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace qf::server {

namespace fs = std::filesystem;

absl::Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, " to fsync"));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync of ", path, " failed"));
  return absl::OkStatus();
}

BlobWriter::BlobWriter(const BlobStore& store, std::string temp_path)
    : store_(store), temp_path_(std::move(temp_path)) {
  out_.open(temp_path_, std::ios::binary | std::ios::trunc);
}

BlobWriter::~BlobWriter() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

absl::Status BlobWriter::Append(std::string_view bytes) {
  if (committed_) return absl::FailedPreconditionError("blob already committed");
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) return absl::InternalError(absl::StrCat("cannot write ", temp_path_));
  hasher_.Update(bytes);
  size_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::Status BlobWriter::Flush() {
  out_.flush();
  if (!out_) return absl::InternalError(absl::StrCat("cannot write ", temp_path_));
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobWriter::Commit() {
  if (committed_) return absl::FailedPreconditionError("blob already committed");
  out_.flush();
  out_.close();
  if (!out_) return absl::InternalError(absl::StrCat("cannot write ", temp_path_));
  if (absl::Status s = FsyncPath(temp_path_, false); !s.ok()) return s;
  const std::string digest = hasher_.HexDigest();
  const std::string final_path = store_.PathOf(digest);
  std::error_code ec;
  fs::create_directories(fs::path(final_path).parent_path(), ec);
  fs::rename(temp_path_, final_path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot store blob ", digest, ": ", ec.message()));
  committed_ = true;
  if (absl::Status s = FsyncPath(fs::path(final_path).parent_path().string(), true); !s.ok()) {
    return s;
  }
  return digest;
}

absl::StatusOr<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& root) {
  std::error_code ec;
  fs::create_directories(fs::path(root) / "tmp", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", root, ": ", ec.message()));
  // Leftovers of writers that died with the process.
  for (const auto& entry : fs::directory_iterator(fs::path(root) / "tmp", ec)) {
    fs::remove(entry.path(), ec);
  }
  return std::unique_ptr<BlobStore>(new BlobStore(root));  // Private constructor.
}

absl::StatusOr<std::unique_ptr<BlobWriter>> BlobStore::NewWriter() {
  const std::string temp =
      (fs::path(root_) / "tmp" / absl::StrCat(::getpid(), "-", next_temp_.fetch_add(1), ".part"))
          .string();
  std::unique_ptr<BlobWriter> writer(new BlobWriter(*this, temp));  // Private constructor.
  if (!writer->out_) return absl::InternalError(absl::StrCat("cannot create ", temp));
  return writer;
}

absl::StatusOr<std::string> BlobStore::PutFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  auto writer = NewWriter();
  if (!writer.ok()) return writer.status();
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() <= 0) break;
    if (absl::Status s = (*writer)->Append(std::string_view(buffer.data(), in.gcount())); !s.ok()) {
      return s;
    }
  }
  return (*writer)->Commit();
}

std::string BlobStore::PathOf(const std::string& digest) const {
  return (fs::path(root_) / digest.substr(0, 2) / digest).string();
}

bool BlobStore::Contains(const std::string& digest) const {
  std::error_code ec;
  return fs::exists(PathOf(digest), ec);
}

absl::StatusOr<int64_t> BlobStore::SizeOf(const std::string& digest) const {
  std::error_code ec;
  const auto size = fs::file_size(PathOf(digest), ec);
  if (ec) return absl::NotFoundError(absl::StrCat("no blob ", digest));
  return static_cast<int64_t>(size);
}

absl::Status BlobStore::Remove(const std::string& digest) {
  std::error_code ec;
  fs::remove(PathOf(digest), ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot remove blob ", digest, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace qf::server
