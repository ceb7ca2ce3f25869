#include "server/config/server_config.h"

#include <gtest/gtest.h>

#include <map>

namespace qf::server {
namespace {

TEST(ServerConfigTest, DefaultsAreValid) { EXPECT_TRUE(Validate(ServerConfig()).ok()); }

TEST(ServerConfigTest, YamlSetsEveryKind) {
  ServerConfig config;
  ASSERT_TRUE(ApplyYamlText("grpc_address: 127.0.0.1:7000\nmax_rpc_threads: 8\n"
                            "shutdown_grace_seconds: 2.5\n",
                            config)
                  .ok());
  EXPECT_EQ(config.grpc_address, "127.0.0.1:7000");
  EXPECT_EQ(config.max_rpc_threads, 8);
  EXPECT_DOUBLE_EQ(config.shutdown_grace_seconds, 2.5);
}

TEST(ServerConfigTest, YamlRejectsUnknownKeysAndBadTypes) {
  ServerConfig config;
  EXPECT_EQ(ApplyYamlText("grpc_adress: x\n", config).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyYamlText("max_rpc_threads: many\n", config).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyYamlText("data_dir: [a, b]\n", config).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyYamlText("- a list\n", config).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyYamlText("key: [unclosed\n", config).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerConfigTest, EmptyYamlChangesNothing) {
  ServerConfig config;
  ASSERT_TRUE(ApplyYamlText("", config).ok());
  EXPECT_EQ(ToYaml(config), ToYaml(ServerConfig()));
}

TEST(ServerConfigTest, MissingFileIsNotFound) {
  ServerConfig config;
  EXPECT_EQ(ApplyYamlFile("/nonexistent/quantface.yaml", config).code(),
            absl::StatusCode::kNotFound);
}

TEST(ServerConfigTest, EnvironmentUsesUpperCasePrefixedNames) {
  const std::map<std::string, std::string> env = {{"QUANTFACE_DATA_DIR", "/srv/qf"},
                                                  {"QUANTFACE_TORCH_THREADS", "3"}};
  ServerConfig config;
  ASSERT_TRUE(ApplyEnvironment(
                  [&env](const char* name) -> const char* {
                    auto it = env.find(name);
                    return it == env.end() ? nullptr : it->second.c_str();
                  },
                  config)
                  .ok());
  EXPECT_EQ(config.data_dir, "/srv/qf");
  EXPECT_EQ(config.torch_threads, 3);
}

TEST(ServerConfigTest, EnvironmentErrorNamesTheVariable) {
  ServerConfig config;
  const absl::Status status = ApplyEnvironment(
      [](const char* name) -> const char* {
        return std::string(name) == "QUANTFACE_MAX_RPC_THREADS" ? "lots" : nullptr;
      },
      config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("QUANTFACE_MAX_RPC_THREADS"), std::string::npos);
}

TEST(ServerConfigTest, ValidateRejectsNonsense) {
  ServerConfig config;
  config.max_rpc_threads = 1;
  EXPECT_FALSE(Validate(config).ok());
  config = ServerConfig();
  config.log_level = "loud";
  EXPECT_FALSE(Validate(config).ok());
  config = ServerConfig();
  config.shutdown_grace_seconds = -1;
  EXPECT_FALSE(Validate(config).ok());
  config = ServerConfig();
  config.max_receive_message_bytes = 10;
  EXPECT_FALSE(Validate(config).ok());
}

TEST(ServerConfigTest, GalleryIndexMustBeFlatOrHnsw) {
  ServerConfig config;
  ASSERT_TRUE(ApplyYamlText("gallery_index: hnsw\ngallery_db: /tmp/g.db", config).ok());
  EXPECT_TRUE(Validate(config).ok());
  EXPECT_EQ(config.gallery_db, "/tmp/g.db");
  config.gallery_index = "ivf";
  const absl::Status status = Validate(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("gallery_index"), absl::string_view::npos);
}

TEST(ServerConfigTest, NamesDeriveFromTheKey) {
  const ConfigField& field = ConfigFields().front();
  EXPECT_EQ(field.key, "grpc_address");
  EXPECT_EQ(field.EnvironmentVariable(), "QUANTFACE_GRPC_ADDRESS");
  EXPECT_EQ(field.Flag(), "--grpc-address");
}

}  // namespace
}  // namespace qf::server
