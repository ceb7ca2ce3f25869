#include "server/store/blob_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/sha256.h"
#include "tests/unit/server_store/temp_dir.h"

namespace qf::server {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int CountFiles(const std::string& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    n += entry.is_regular_file() ? 1 : 0;
  }
  return n;
}

TEST(BlobStoreTest, CommitNamesTheFileByItsSha256) {
  testing::TempDir dir;
  auto store = BlobStore::Open(dir.Sub("blobs"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto writer = (*store)->NewWriter();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("hello ").ok());
  ASSERT_TRUE((*writer)->Append("world").ok());
  EXPECT_EQ((*writer)->size(), 11);
  auto digest = (*writer)->Commit();
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex("hello world"));
  EXPECT_TRUE((*store)->Contains(*digest));
  EXPECT_EQ(ReadAll((*store)->PathOf(*digest)), "hello world");
  EXPECT_EQ(*(*store)->SizeOf(*digest), 11);
  EXPECT_EQ(CountFiles(dir.Sub("blobs/tmp")), 0);
  EXPECT_FALSE((*writer)->Commit().ok());  // Only once.
  ASSERT_TRUE((*store)->Remove(*digest).ok());
  EXPECT_FALSE((*store)->Contains(*digest));
}

TEST(BlobStoreTest, AbandonedWriterLeavesNothing) {
  testing::TempDir dir;
  auto store = BlobStore::Open(dir.Sub("blobs"));
  ASSERT_TRUE(store.ok());
  {
    auto writer = (*store)->NewWriter();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("partial").ok());
    EXPECT_TRUE(std::filesystem::exists((*writer)->temp_path()));
  }
  EXPECT_EQ(CountFiles(dir.Sub("blobs")), 0);
}

TEST(BlobStoreTest, OpenRemovesTemporaryFilesOfACrashedWriter) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("blobs/tmp"));
  std::ofstream(dir.Sub("blobs/tmp/123-0.part")) << "torn";
  auto store = BlobStore::Open(dir.Sub("blobs"));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(CountFiles(dir.Sub("blobs")), 0);
}

TEST(BlobStoreTest, PutFileCopiesAnExistingFile) {
  testing::TempDir dir;
  auto store = BlobStore::Open(dir.Sub("blobs"));
  ASSERT_TRUE(store.ok());
  std::ofstream(dir.Sub("f.bin"), std::ios::binary) << std::string(3 << 20, 'x');
  auto digest = (*store)->PutFile(dir.Sub("f.bin"));
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, *Sha256HexOfFile(dir.Sub("f.bin")));
  EXPECT_EQ((*store)->PutFile(dir.Sub("missing")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace qf::server
