// The quantface CLI against a real server.
#include <gtest/gtest.h>

#include "tests/integration/server_process.h"

namespace qf {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  testing::CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {QF_CLI_BINARY, "--server", server_.grpc_target()});
    return testing::RunCommand(args);
  }

  testing::ServerProcess server_;
};

TEST_F(CliTest, HealthSaysServing) {
  const auto result = Cli({"health"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out, "SERVING\n");
}

TEST_F(CliTest, HealthOfEachServiceAsJson) {
  for (const char* service : {"quantface.v1.QuantizationService", "quantface.v1.ModelRegistry",
                              "quantface.v1.VerificationService", "quantface.v1.GalleryService"}) {
    const auto result = Cli({"--json", "health", "--service", service});
    EXPECT_EQ(result.exit_status, 0) << service << result.err;
    EXPECT_EQ(result.out, "{\"status\":\"SERVING\"}\n") << service;
  }
}

TEST_F(CliTest, UnknownServiceHealthFails) {
  const auto result = Cli({"health", "--service", "no.such.Service"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("NOT_FOUND"), std::string::npos) << result.err;
}

TEST_F(CliTest, UnimplementedRpcPrintsServerMessageAndFails) {
  const auto result = Cli({"job", "list"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("UNIMPLEMENTED: quantface.v1.QuantizationService/ListJobs"),
            std::string::npos)
      << result.err;
}

TEST_F(CliTest, BadArgumentsAreUsageErrors) {
  auto result = Cli({"job", "submit", "--bits", "eight"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--bits must look like w8a8"), std::string::npos) << result.err;
  result = Cli({"match", "/nonexistent/a.jpg", "/nonexistent/b.jpg"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("cannot read /nonexistent/a.jpg"), std::string::npos) << result.err;
}

TEST(CliNoServerTest, UnreachableServerIsUnavailable) {
  const auto result =
      testing::RunCommand({QF_CLI_BINARY, "--server", "127.0.0.1:1", "--timeout", "2", "health"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_TRUE(result.err.find("UNAVAILABLE") != std::string::npos ||
              result.err.find("DEADLINE_EXCEEDED") != std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace qf
