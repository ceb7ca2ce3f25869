// A fresh database path per test, removed afterwards (with its -wal/-shm).
#ifndef QUANTFACE_TESTS_UNIT_GALLERY_TEMP_DB_H_
#define QUANTFACE_TESTS_UNIT_GALLERY_TEMP_DB_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace qf::gallery::testing {

class TempDb {
 public:
  TempDb() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("qf_gallery_" + std::to_string(getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDb() { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "galleries.db").string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace qf::gallery::testing

#endif  // QUANTFACE_TESTS_UNIT_GALLERY_TEMP_DB_H_
