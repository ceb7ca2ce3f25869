// Paths of the reference data that make_reference.py (the CTest fixture
// nn_import_make_reference) writes into the build dir.
#ifndef QUANTFACE_TESTS_UNIT_NN_IMPORT_REFERENCE_FILES_H_
#define QUANTFACE_TESTS_UNIT_NN_IMPORT_REFERENCE_FILES_H_

#include <filesystem>
#include <string>

namespace qf::nn::testing {

inline std::string ReferencePath(const std::string& name) {
  return std::string(QF_NN_IMPORT_REFERENCE_DIR) + "/" + name;
}

// True when the fixture has run; tests assert on it so that running the
// binary without ctest fails with a hint instead of a confusing error.
inline bool HaveReference(const std::string& name) {
  return std::filesystem::exists(ReferencePath(name));
}

#define QF_ASSERT_REFERENCE(name)                                                            \
  ASSERT_TRUE(::qf::nn::testing::HaveReference(name))                                        \
      << ::qf::nn::testing::ReferencePath(name)                                              \
      << " is missing: run the tests through ctest, whose fixture nn_import_make_reference " \
         "writes it"

}  // namespace qf::nn::testing

#endif  // QUANTFACE_TESTS_UNIT_NN_IMPORT_REFERENCE_FILES_H_
