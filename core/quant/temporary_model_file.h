// TemporaryModelFile: a unique path in the system's temporary folder for a
// packed model that lives as long as the object; the file (if written) is
// removed when it goes out of scope.
//
// Why a file: evaluations of a student "as served" round-trip it through
// the packed file format, the one thing the server loads, so that they check
// exactly what will be served.
#ifndef QUANTFACE_CORE_QUANT_TEMPORARY_MODEL_FILE_H_
#define QUANTFACE_CORE_QUANT_TEMPORARY_MODEL_FILE_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace qf::quant {

class TemporaryModelFile {
 public:
  TemporaryModelFile() {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             absl::StrCat("qf-student-", ::getpid(), "-", counter++, ".qfp"))
                .string();
  }
  ~TemporaryModelFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TemporaryModelFile(const TemporaryModelFile&) = delete;
  TemporaryModelFile& operator=(const TemporaryModelFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_TEMPORARY_MODEL_FILE_H_
