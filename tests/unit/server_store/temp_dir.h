// TempDir: a fresh directory under $TMPDIR for one test, removed afterwards.
#ifndef QUANTFACE_TESTS_UNIT_SERVER_STORE_TEMP_DIR_H_
#define QUANTFACE_TESTS_UNIT_SERVER_STORE_TEMP_DIR_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace qf::testing {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("qf-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                .string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_UNIT_SERVER_STORE_TEMP_DIR_H_
