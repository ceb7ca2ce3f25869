#include "core/util/sha256.h"

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace qf {
namespace {

// Known-answer vectors from FIPS 180-2.
TEST(Sha256Test, EmptyInput) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, Abc) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  Sha256Hasher hasher;
  hasher.Update("a");
  hasher.Update("bc");
  EXPECT_EQ(hasher.HexDigest(), Sha256Hex("abc"));
}

TEST(Sha256Test, FileDigestMatchesBuffer) {
  const std::string path = ::testing::TempDir() + "/sha256_test.bin";
  std::string content(200000, 'x');
  content[12345] = 'y';
  std::ofstream(path, std::ios::binary) << content;
  auto digest = Sha256HexOfFile(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex(content));
  std::remove(path.c_str());
}

TEST(Sha256Test, MissingFileIsNotFound) {
  auto digest = Sha256HexOfFile("/nonexistent/quantface/file");
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace qf
