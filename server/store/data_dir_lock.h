// DataDirLock: an exclusive flock(2) on <data_dir>/LOCK for the life of the
// server, so two server processes never share one registry and job store
// (and never run the same job at once). The kernel drops the lock when the
// process dies, kill -9 included, so no stale lock survives a crash.
#ifndef QUANTFACE_SERVER_STORE_DATA_DIR_LOCK_H_
#define QUANTFACE_SERVER_STORE_DATA_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace qf::server {

class DataDirLock {
 public:
  // FAILED_PRECONDITION when another process holds it.
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::string& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_STORE_DATA_DIR_LOCK_H_
