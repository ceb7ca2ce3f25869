// Test helpers for the built-in model assets and the tfjs reference runner.
//
// The assets (scripts/fetch_assets.sh) and tools/tfjs-reference/node_modules
// (`npm ci`) come from the setup step, never from the network at test time.
// A test that needs them FAILS when they are absent, naming the command to
// run; QF_ALLOW_MISSING_ASSETS=1 turns that into a skip for machines that
// deliberately build without them.
#ifndef QUANTFACE_TESTS_UNIT_NN_TEST_ASSETS_H_
#define QUANTFACE_TESTS_UNIT_NN_TEST_ASSETS_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace qf::nn::testing {

inline std::string AssetDir() {
  const char* env = std::getenv("QF_ASSET_DIR");
  return env != nullptr && *env != '\0' ? std::string(env)
                                        : std::string(QF_SOURCE_DIR) + "/.cache/assets";
}

inline std::string ReferenceDir() { return std::string(QF_SOURCE_DIR) + "/tools/tfjs-reference"; }

inline bool AllowMissingAssets() {
  const char* env = std::getenv("QF_ALLOW_MISSING_ASSETS");
  return env != nullptr && std::string(env) == "1";
}

// Empty when every file exists; else a message naming the missing files and
// the setup command that provides them.
inline std::string MissingFiles(const std::vector<std::string>& asset_paths, bool need_reference) {
  std::string missing;
  for (const std::string& rel : asset_paths) {
    const std::string path = AssetDir() + "/" + rel;
    if (!std::filesystem::exists(path)) missing += " " + path;
  }
  if (!missing.empty())
    missing = "missing model assets:" + missing + " (run scripts/fetch_assets.sh)";
  if (need_reference &&
      !std::filesystem::exists(ReferenceDir() + "/node_modules/@tensorflow/tfjs-core")) {
    missing +=
        " missing " + ReferenceDir() + "/node_modules (run: cd tools/tfjs-reference && npm ci)";
  }
  return missing;
}

}  // namespace qf::nn::testing

// Fails (or, with QF_ALLOW_MISSING_ASSETS=1, skips) the current test unless
// the listed asset files (relative to the asset dir) are present.
#define QF_REQUIRE_ASSETS(need_reference, ...)                                  \
  do {                                                                          \
    const std::string qf_missing_ =                                             \
        ::qf::nn::testing::MissingFiles({__VA_ARGS__}, (need_reference));       \
    if (!qf_missing_.empty()) {                                                 \
      if (::qf::nn::testing::AllowMissingAssets()) GTEST_SKIP() << qf_missing_; \
      FAIL() << qf_missing_;                                                    \
    }                                                                           \
  } while (false)

#endif  // QUANTFACE_TESTS_UNIT_NN_TEST_ASSETS_H_
