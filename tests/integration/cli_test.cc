// The quantface CLI against a real server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

TEST_F(CliTest, ServerErrorPrintsCodeAndMessageAndFails) {
  const auto result = Cli({"job", "get", "no-such-job"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("NOT_FOUND: job jobs/no-such-job not found"), std::string::npos)
      << result.err;
}

TEST_F(CliTest, ModelListShowsTheBuiltinModels) {
  const auto result = Cli({"--json", "model", "list"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("\"name\":\"models/dlib-resnet\""), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\"is_default\":true"), std::string::npos) << result.out;
}

TEST_F(CliTest, JobSubmitWatchEndsWithTheReportTable) {
  const auto result = Cli({"job", "submit", "--teacher", "dlib-resnet", "--bits", "w8a8",
                           "--source", "noise", "--steps", "2", "--batch-size", "2",
                           "--warmup-steps", "1", "--device", "cpu", "--watch"});
  EXPECT_EQ(result.exit_status, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("RUNNING training"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("succeeded: models/dlib-resnet-w8a8-"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("smaller than float32"), std::string::npos) << result.out;
  const auto listed = Cli({"job", "list", "--state", "succeeded"});
  EXPECT_EQ(listed.exit_status, 0) << listed.err;
  EXPECT_NE(listed.out.find("STATE_SUCCEEDED"), std::string::npos) << listed.out;
}

TEST_F(CliTest, JobSubmitSendsTheRangeEstimators) {
  const auto result = Cli({"--json",
                           "job",
                           "submit",
                           "--teacher",
                           "dlib-resnet",
                           "--bits",
                           "w4a4",
                           "--method",
                           "ptq",
                           "--source",
                           "noise",
                           "--steps",
                           "1",
                           "--batch-size",
                           "2",
                           "--device",
                           "cpu",
                           "--activation-ranges",
                           "mse",
                           "--weight-ranges",
                           "mse",
                           "--weight-scheme",
                           "asymmetric",
                           "--keep-8bit-layers",
                           "conv32_down,conv32_1_conv1"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("ALGORITHM_SGD"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\"conv32_down\""), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\"conv32_1_conv1\""), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("WEIGHT_SCHEME_ASYMMETRIC"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("ACTIVATION_RANGES_MSE"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("WEIGHT_RANGES_MSE"), std::string::npos) << result.out;
}

// The CLI always sends an optimizer message (its --lr and --schedule), so
// the server must fill the paper's defaults by each field's presence, not
// by whether the message came: Nesterov momentum and weight decay 5e-4
// unless asked otherwise, and --weight-decay 0 turns the decay off.
TEST_F(CliTest, JobSubmitGetsThePapersOptimizerAndCanTurnWeightDecayOff) {
  const std::vector<std::string> submit = {
      "--json", "job",          "submit", "--teacher", "dlib-resnet", "--bits",
      "w8a8",   "--method",     "ptq",    "--source",  "noise",       "--steps",
      "1",      "--batch-size", "2",      "--device",  "cpu"};
  auto result = Cli(submit);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  nlohmann::json optimizer = nlohmann::json::parse(result.out)["config"]["optimizer"];
  EXPECT_EQ(optimizer.value("nesterov", false), true) << result.out;
  EXPECT_DOUBLE_EQ(optimizer.value("weight_decay", -1.0), 5e-4) << result.out;
  EXPECT_DOUBLE_EQ(optimizer.value("momentum", -1.0), 0.9) << result.out;

  std::vector<std::string> no_decay = submit;
  no_decay.insert(no_decay.end(), {"--weight-decay", "0"});
  result = Cli(no_decay);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  optimizer = nlohmann::json::parse(result.out)["config"]["optimizer"];
  EXPECT_DOUBLE_EQ(optimizer.value("weight_decay", -1.0), 0.0) << result.out;
  EXPECT_EQ(optimizer.value("nesterov", false), true) << result.out;

  std::vector<std::string> negative = submit;
  negative.insert(negative.end(), {"--weight-decay", "-1"});
  result = Cli(negative);
  EXPECT_EQ(result.exit_status, 2) << result.out;
  EXPECT_NE(result.err.find("--weight-decay"), std::string::npos) << result.err;
}

TEST_F(CliTest, BadArgumentsAreUsageErrors) {
  auto result = Cli({"job", "submit", "--bits", "eight"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--bits must look like w8a8"), std::string::npos) << result.err;
  result = Cli({"job", "submit", "--activation-ranges", "percentile"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--activation-ranges must be minmax or mse"), std::string::npos)
      << result.err;
  result = Cli({"job", "submit", "--teacher", "dlib-resnet", "--keep-8bit-layers", "conv_dw_1"});
  EXPECT_NE(result.exit_status, 0);
  EXPECT_NE(result.err.find("has no conv/linear layer 'conv_dw_1'; its layers are conv32_down"),
            std::string::npos)
      << result.err;
  result = Cli({"job", "submit", "--bits", "w4a4", "--init-student", "nobody-w4a8"});
  EXPECT_NE(result.exit_status, 0);
  EXPECT_NE(result.err.find("config.initial_student_model models/nobody-w4a8 not found"),
            std::string::npos)
      << result.err;
  result = Cli({"job", "submit", "--weight-scheme", "sym"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--weight-scheme: weight scheme 'sym': expected auto, asymmetric or "
                            "symmetric"),
            std::string::npos)
      << result.err;
  result = Cli({"job", "submit", "--optimizer", "rmsprop"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--optimizer must be sgd or adam, got 'rmsprop'"), std::string::npos)
      << result.err;
  result = Cli({"job", "submit", "--weight-ranges", "percentile"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--weight-ranges must be minmax or mse"), std::string::npos)
      << result.err;
  const std::string lfw = std::string(QF_SHARED_DIR) + "/data/lfw";
  result = Cli({"bench", "lfw", "--data", lfw, "--protocol", "all-pairs", "--landmarks", "detect"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--landmarks detect applies to view2 only"), std::string::npos)
      << result.err;
  result = Cli({"bench", "lfw", "--data", lfw, "--far", "1e-4"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("apply to --protocol all-pairs only"), std::string::npos) << result.err;
  result = Cli({"bench", "lfw", "--data", lfw, "--protocol", "every-pair"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--protocol"), std::string::npos) << result.err;
  result = Cli({"match", "/nonexistent/a.jpg", "/nonexistent/b.jpg"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("cannot read /nonexistent/a.jpg"), std::string::npos) << result.err;
}

// `bench lfw --model-file` scores a packed student on the forward the server
// would serve (integer kernels), or on its simulation with --fake-quant.
TEST_F(CliTest, BenchLfwScoresAPackedStudentAsServed) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("qf_cli_student_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string student = dir + "/s.qfp";
  auto result = testing::RunCommand(
      {QF_CLI_BINARY, "quantize",    "--asset-dir",    QF_ASSET_DIR, "--cache-dir", dir,
       "--teacher",   "dlib-resnet", "--bits",         "w8a8",       "--method",    "ptq",
       "--source",    "noise",       "--calib-images", "4",          "--threads",   "2",
       "--cpu",       "--out",       student});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  const std::string lfw = std::string(QF_SHARED_DIR) + "/data/lfw";
  const std::vector<std::string> bench = {"bench",        "lfw",          "--data",     lfw,
                                          "--model-file", student,        "--protocol", "all-pairs",
                                          "--max-people", "40",           "--threads",  "2",
                                          "--report",     dir + "/r.json"};
  result = Cli(bench);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("s.qfp, integer (onednn)  "), std::string::npos) << result.out;
  std::vector<std::string> simulated = bench;
  simulated.push_back("--fake-quant");
  result = Cli(simulated);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("s.qfp, fake-quant  "), std::string::npos) << result.out;
  std::ifstream in(dir + "/r.json");
  const nlohmann::json report = nlohmann::json::parse(in, nullptr, false);
  EXPECT_EQ(report.value("forward", ""), "fake-quant") << report.dump();

  // Next to its teacher, and across the two models, on the same pairs.
  std::vector<std::string> compared = bench;
  compared.insert(compared.end(), {"--teacher", "dlib-resnet", "--asset-dir", QF_ASSET_DIR});
  result = Cli(compared);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("\nteacher dlib-resnet  "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\ncross (teacher vs student)  "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("mean teacher-student cosine: 0.99"), std::string::npos) << result.out;
  std::ifstream compared_in(dir + "/r.json");
  const nlohmann::json compared_report = nlohmann::json::parse(compared_in, nullptr, false);
  ASSERT_TRUE(compared_report.contains("cross_teacher_student")) << compared_report.dump();
  EXPECT_EQ(compared_report["teacher"]["model"], "dlib-resnet");
  // The student's and the teacher's thresholds are their own.
  EXPECT_EQ(compared_report["teacher"]["all_pairs"]["pairs"],
            compared_report["all_pairs"]["pairs"]);
  EXPECT_NE(compared_report["teacher"]["all_pairs"]["tar_at_far"][0]["threshold"],
            compared_report["all_pairs"]["tar_at_far"][0]["threshold"]);
  result = Cli({"bench", "lfw", "--data", lfw, "--teacher", "dlib-resnet"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("--model-file"), std::string::npos) << result.err;
  result =
      Cli({"bench", "lfw", "--data", lfw, "--model-file", student, "--teacher", "dlib-resnet"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("apply to --protocol all-pairs only"), std::string::npos) << result.err;

  result = Cli({"bench", "lfw", "--data", lfw, "--model", "faceres", "--model-file", student});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_NE(result.err.find("excludes"), std::string::npos) << result.err;
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
