// Issue 5's remaining parts over real gRPC against the real server:
//  - CancelJob stops a job in every phase (synthetic generation, PTQ
//    calibration, LFW evaluation), not only during QAT;
//  - TorchScript generators: validated uploads (built here in C++ with
//    torch::jit, no Python), never served by Embed, and jobs that train on
//    them;
//  - a finished job's ROC plot and log stored with its model and fetched with
//    DownloadModel's artifact selector (and the CLI).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "absl/strings/str_split.h"
#include "core/quant/packed_model.h"
#include "core/util/sha256.h"
#include "quantface/v1/gallery.grpc.pb.h"
#include "quantface/v1/quantization.grpc.pb.h"
#include "quantface/v1/registry.grpc.pb.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/job_polling.h"
#include "tests/integration/lfw_faces.h"
#include "tests/integration/server_process.h"
#include "tests/integration/tiny_job_config.h"

namespace qf {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::quantface::v1;
using std::chrono::seconds;

const std::string kLfw = std::string(QF_SHARED_DIR) + "/data/lfw";

std::unique_ptr<grpc::ClientContext> Context(int timeout_seconds = 60) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + seconds(timeout_seconds));
  return context;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A small LFW-like protocol: 2 folds of 3 same + 3 different pairs taken from
// the real LFW (evaluation data), with its images and side files linked.
std::string MakeTinyLfw(const std::string& dir) {
  fs::create_directories(dir);
  const std::vector<std::string> lines = absl::StrSplit(ReadFile(kLfw + "/pairs.txt"), '\n');
  std::ofstream pairs(dir + "/pairs.txt");
  pairs << "2\t3\n";
  for (int fold = 0; fold < 2; ++fold) {
    for (int kind = 0; kind < 2; ++kind) {
      for (int i = 0; i < 3; ++i) pairs << lines[1 + fold * 600 + kind * 300 + i] << "\n";
    }
  }
  for (const char* name : {"images", "landmarks5.tsv", "people.txt"}) {
    fs::create_symlink(kLfw + "/" + name, dir + "/" + name);
  }
  return dir;
}

// Tiny TorchScript generators: latents [N, 8] -> images.
void SaveGenerator(const std::string& path, const std::string& body, bool with_latent_dim = true) {
  torch::jit::Module module("Gen");
  if (with_latent_dim) module.register_attribute("latent_dim", c10::IntType::get(), int64_t{8});
  module.register_parameter("weight", torch::randn({8, 3 * 16 * 16}) * 0.5, false);
  module.define(body);
  module.save(path);
}

constexpr char kGoodGenerator[] = R"(
def forward(self, z):
    return torch.tanh(torch.matmul(z, self.weight)).reshape([z.size(0), 3, 16, 16])
)";
constexpr char kNoChannelsGenerator[] = R"(
def forward(self, z):
    return torch.tanh(torch.matmul(z, self.weight)).reshape([z.size(0), 48, 16])
)";
constexpr char kNanGenerator[] = R"(
def forward(self, z):
    return (torch.matmul(z, self.weight) * float('nan')).reshape([z.size(0), 3, 16, 16])
)";

class JobOutputsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    server_ = std::make_unique<testing::ServerProcess>(std::move(args));
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    channel_ = grpc::CreateChannel(server_->grpc_target(), grpc::InsecureChannelCredentials());
    jobs_ = v1::QuantizationService::NewStub(channel_);
    models_ = v1::ModelRegistry::NewStub(channel_);
  }

  grpc::Status Submit(const v1::JobConfig& config, v1::Job* job) {
    v1::SubmitJobRequest request;
    *request.mutable_config() = config;
    return jobs_->SubmitJob(Context().get(), request, job);
  }

  v1::Job Get(const std::string& name) { return testing::GetJob(*jobs_, name); }

  template <typename Done>
  v1::Job WaitFor(const std::string& name, Done done, int timeout_seconds = 300) {
    return testing::WaitForJob(*jobs_, name, done, timeout_seconds);
  }

  v1::Job WaitUntilEnded(const std::string& name) {
    return WaitFor(name, [](const v1::Job& j) {
      return j.state() == v1::Job::STATE_SUCCEEDED || j.state() == v1::Job::STATE_FAILED ||
             j.state() == v1::Job::STATE_CANCELLED;
    });
  }

  // Submits `config`, waits until the job reports `phase`, cancels it and
  // checks that it ends CANCELLED within 10 s of the request.
  void CancelDuring(const v1::JobConfig& config, v1::JobProgress::Phase phase) {
    v1::Job job;
    const grpc::Status submitted = Submit(config, &job);
    ASSERT_TRUE(submitted.ok()) << submitted.error_message();
    const v1::Job running = WaitFor(
        job.name(), [&](const v1::Job& j) { return j.progress().phase() == phase; }, 600);
    ASSERT_EQ(running.progress().phase(), phase);
    const auto start = std::chrono::steady_clock::now();
    v1::CancelJobRequest cancel;
    cancel.set_name(job.name());
    v1::Job cancelled;
    ASSERT_TRUE(jobs_->CancelJob(Context().get(), cancel, &cancelled).ok());
    const v1::Job ended = WaitUntilEnded(job.name());
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "cancel during " << v1::JobProgress::Phase_Name(phase) << ": " << waited
              << " s from CancelJob to CANCELLED\n";
    EXPECT_EQ(ended.state(), v1::Job::STATE_CANCELLED) << ended.error_message();
    EXPECT_LT(waited, 10.0) << "cancel during " << v1::JobProgress::Phase_Name(phase);
    EXPECT_TRUE(ended.output_model().empty());
  }

  // Runs a tiny job (TinyJobConfig(2)) evaluated on `protocol` to success;
  // `done` gets the job and `model` the model it stored. Call it under
  // ASSERT_NO_FATAL_FAILURE.
  void RunEvaluatedJob(const std::string& protocol, v1::Job* done, v1::Model* model) {
    v1::JobConfig config = testing::TinyJobConfig(2);
    config.set_evaluation_protocol(protocol);
    v1::Job job;
    const grpc::Status submitted = Submit(config, &job);
    ASSERT_TRUE(submitted.ok()) << submitted.error_message();
    *done = WaitUntilEnded(job.name());
    ASSERT_EQ(done->state(), v1::Job::STATE_SUCCEEDED) << done->error_message();
    v1::GetModelRequest get;
    get.set_name(done->output_model());
    ASSERT_TRUE(models_->GetModel(Context().get(), get, model).ok());
  }

  grpc::Status Upload(const std::string& id, const std::string& bytes, v1::ModelFormat format,
                      bool declared_synthetic, v1::Model* model) {
    auto context = Context();
    auto writer = models_->UploadModel(context.get(), model);
    v1::UploadModelRequest request;
    request.mutable_metadata()->set_model_id(id);
    request.mutable_metadata()->set_format(format);
    request.mutable_metadata()->set_declared_synthetic(declared_synthetic);
    writer->Write(request);
    request.set_chunk(bytes);
    writer->Write(request);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Download(const std::string& name, const std::string& artifact, std::string* bytes,
                        std::string* sha256) {
    v1::DownloadModelRequest request;
    request.set_name(name);
    request.set_artifact(artifact);
    auto context = Context();
    auto reader = models_->DownloadModel(context.get(), request);
    v1::DownloadModelResponse chunk;
    while (reader->Read(&chunk)) {
      *bytes += chunk.chunk();
      if (!chunk.sha256().empty()) *sha256 = chunk.sha256();
    }
    return reader->Finish();
  }

  size_t CountModels() {
    v1::ListModelsResponse response;
    EXPECT_TRUE(models_->ListModels(Context().get(), v1::ListModelsRequest(), &response).ok());
    return static_cast<size_t>(response.models_size());
  }

  std::unique_ptr<testing::ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QuantizationService::Stub> jobs_;
  std::unique_ptr<v1::ModelRegistry::Stub> models_;
};

TEST_F(JobOutputsTest, CancelDuringLfwEvaluationEndsCancelledQuickly) {
  Start({"--lfw-dir=" + kLfw});  // The full LFW: minutes of evaluation on a CPU.
  v1::JobConfig config = testing::TinyJobConfig(1);
  config.set_evaluation_protocol("lfw");
  CancelDuring(config, v1::JobProgress::PHASE_EVALUATING);
}

TEST_F(JobOutputsTest, CancelDuringPtqCalibrationEndsCancelledQuickly) {
  Start({});
  v1::JobConfig config = testing::TinyJobConfig(100000);  // 200,000 calibration images.
  config.set_method(v1::JobConfig::METHOD_PTQ);
  CancelDuring(config, v1::JobProgress::PHASE_TRAINING);
}

TEST_F(JobOutputsTest, CancelDuringSyntheticGenerationEndsCancelledQuickly) {
  Start({});
  v1::JobConfig config = testing::TinyJobConfig(1);
  config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_BUILTIN);
  config.mutable_synthetic_data()->set_num_images(4096);  // Minutes of model inversion.
  CancelDuring(config, v1::JobProgress::PHASE_GENERATING_DATA);
}

TEST_F(JobOutputsTest, GeneratorUploadsAreValidatedAndJobsTrainOnThem) {
  Start({});
  const std::string dir = server_->data_dir() + "/../generators";
  fs::create_directories(dir);
  SaveGenerator(dir + "/good.pt", kGoodGenerator);
  SaveGenerator(dir + "/no-latent-dim.pt", kGoodGenerator, false);
  SaveGenerator(dir + "/no-channels.pt", kNoChannelsGenerator);
  SaveGenerator(dir + "/nan.pt", kNanGenerator);
  const size_t before = CountModels();

  struct Bad {
    std::string file;
    bool declared;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {"", true, "not a TorchScript module"},  // Corrupt bytes.
      {"no-channels.pt", true, "[N, 3, H, W]"}, {"nan.pt", true, "non-finite"},
      {"no-latent-dim.pt", true, "latent_dim"}, {"good.pt", false, "metadata.declared_synthetic"},
  };
  for (const Bad& b : bad) {
    const std::string bytes =
        b.file.empty() ? std::string(4000, 'x') : ReadFile(dir + "/" + b.file);
    v1::Model model;
    const grpc::Status status =
        Upload("gen", bytes, v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR, b.declared, &model);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << b.file;
    EXPECT_NE(status.error_message().find(b.says), std::string::npos)
        << b.file << ": " << status.error_message();
  }
  EXPECT_EQ(CountModels(), before);  // Nothing stored.

  v1::Model generator;
  const grpc::Status uploaded = Upload("gen", ReadFile(dir + "/good.pt"),
                                       v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR, true, &generator);
  ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
  EXPECT_EQ(generator.name(), "models/gen");
  EXPECT_EQ(generator.format(), v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR);
  EXPECT_EQ(generator.architecture(), "generator");
  EXPECT_EQ(generator.generator().latent_dim(), 8);  // From the module's attribute.
  EXPECT_EQ(generator.generator().image_height(), 16);
  EXPECT_EQ(generator.generator().image_width(), 16);
  EXPECT_TRUE(generator.generator().declared_synthetic());

  // Never an embedding model.
  auto verification = v1::VerificationService::NewStub(channel_);
  v1::EmbedRequest embed;
  embed.set_model(generator.name());
  auto* face = embed.mutable_face()->mutable_landmarked_image();
  face->set_image(ReadFile(kLfw + "/images/Abel_Pacheco/Abel_Pacheco_0001.jpg"));
  const std::vector<float> points = {58.2, 64.8, 84.0, 63.0, 68.4, 80.4, 64.8, 92.4, 87.0, 91.8};
  for (size_t i = 0; i < points.size(); i += 2) {
    v1::Point* point = face->add_landmarks();
    point->set_x(points[i]);
    point->set_y(points[i + 1]);
  }
  v1::EmbedResponse embedding;
  const grpc::Status refused = verification->Embed(Context().get(), embed, &embedding);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();

  // Jobs: the generator must exist and be a generator.
  v1::JobConfig config = testing::TinyJobConfig(3);
  config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_GENERATOR_MODEL);
  v1::Job job;
  config.mutable_synthetic_data()->set_generator_model("models/no-such-generator");
  EXPECT_EQ(Submit(config, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  config.mutable_synthetic_data()->set_generator_model("models/faceres");
  const grpc::Status not_generator = Submit(config, &job);
  EXPECT_EQ(not_generator.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(not_generator.error_message().find("config.synthetic_data.generator_model"),
            std::string::npos);

  config.mutable_synthetic_data()->set_generator_model(generator.name());
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status submitted = Submit(config, &job);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  // In use by a queued or running job: not deletable.
  v1::DeleteModelRequest remove;
  remove.set_name(generator.name());
  google::protobuf::Empty empty;
  const grpc::Status in_use = models_->DeleteModel(Context().get(), remove, &empty);
  const v1::Job done = WaitUntilEnded(job.name());
  std::cout << "tiny generator job: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s from SubmitJob to SUCCEEDED\n";
  ASSERT_EQ(done.state(), v1::Job::STATE_SUCCEEDED) << done.error_message();
  if (in_use.ok()) {
    ADD_FAILURE() << "the generator was deleted while its job was "
                  << v1::Job::State_Name(Get(job.name()).state());
  } else {
    EXPECT_EQ(in_use.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }

  v1::GetModelRequest get;
  get.set_name(done.output_model());
  v1::Model student;
  ASSERT_TRUE(models_->GetModel(Context().get(), get, &student).ok());
  EXPECT_EQ(student.synthetic_data().source(), v1::SyntheticDataConfig::SOURCE_GENERATOR_MODEL);
  EXPECT_EQ(student.synthetic_data().generator_model(), generator.name());
  std::string log, sha256;
  ASSERT_TRUE(Download(student.name(), "log", &log, &sha256).ok());
  EXPECT_NE(log.find("phase training"), std::string::npos) << log;
  EXPECT_NE(log.find("qat 3/3"), std::string::npos) << log;

  // The same through the CLI: upload (refused without the declaration) and
  // a job on the generator, watched to its end.
  const auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {QF_CLI_BINARY, "--server", server_->grpc_target()});
    return testing::RunCommand(args);
  };
  const std::string good = dir + "/good.pt";
  EXPECT_NE(cli({"model", "upload", good, "--id", "gen-cli", "--format", "generator"}).exit_status,
            0);
  const testing::CommandResult uploaded_cli =
      cli({"model", "upload", good, "--id", "gen-cli", "--format", "generator",
           "--declared-synthetic"});
  ASSERT_EQ(uploaded_cli.exit_status, 0) << uploaded_cli.err;
  const testing::CommandResult job_cli =
      cli({"job", "submit", "--teacher", "dlib-resnet", "--bits", "w8a8", "--source", "generator",
           "--generator", "gen-cli", "--steps", "2", "--batch-size", "2", "--device", "cpu",
           "--watch"});
  EXPECT_EQ(job_cli.exit_status, 0) << job_cli.out << job_cli.err;
  EXPECT_NE(job_cli.out.find("succeeded"), std::string::npos) << job_cli.out << job_cli.err;
}

// The offline CLI (`quantface quantize`, no server) takes the same generator
// file, and refuses it without the synthetic declaration.
TEST(OfflineQuantizeTest, CalibratesOnADeclaredGeneratorOnly) {
  const std::string dir =
      (fs::temp_directory_path() / ("qf_offline_gen_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  SaveGenerator(dir + "/gen.pt", kGoodGenerator);
  const std::vector<std::string> base = {
      QF_CLI_BINARY,  "quantize",    "--asset-dir", QF_ASSET_DIR,    "--cache-dir",    dir,
      "--teacher",    "dlib-resnet", "--bits",      "w8a8",          "--method",       "ptq",
      "--source",     "generator",   "--generator", dir + "/gen.pt", "--calib-images", "4",
      "--threads",    "2",           "--cpu",       "--out",         dir + "/s.qfp",   "--report",
      dir + "/r.json"};

  const testing::CommandResult refused = testing::RunCommand(base);
  EXPECT_NE(refused.exit_status, 0);
  EXPECT_NE(refused.err.find("declared synthetic"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir + "/s.qfp"));

  std::vector<std::string> declared = base;
  declared.push_back("--declare-synthetic");
  const testing::CommandResult done = testing::RunCommand(declared);
  ASSERT_EQ(done.exit_status, 0) << done.err;
  EXPECT_GT(fs::file_size(dir + "/s.qfp"), 1000u);
  const nlohmann::json report = nlohmann::json::parse(ReadFile(dir + "/r.json"));
  EXPECT_EQ(report["synthetic"]["spec"]["kind"], "generator") << report["synthetic"].dump();
  fs::remove_all(dir);
}

// --activation-ranges and --weight-ranges pick the range estimators, land in
// the report and the packed file, and an unknown name is a usage error
// before any work starts.
TEST(OfflineQuantizeTest, RangeEstimatorsAreChosenAndReported) {
  const std::string dir =
      (fs::temp_directory_path() / ("qf_offline_mse_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  std::vector<std::string> args = {QF_CLI_BINARY,
                                   "quantize",
                                   "--asset-dir",
                                   QF_ASSET_DIR,
                                   "--cache-dir",
                                   dir,
                                   "--teacher",
                                   "dlib-resnet",
                                   "--bits",
                                   "w4a4",
                                   "--method",
                                   "ptq",
                                   "--source",
                                   "noise",
                                   "--threads",
                                   "2",
                                   "--calib-images",
                                   "4",
                                   "--cpu",
                                   "--out",
                                   dir + "/s.qfp",
                                   "--report",
                                   dir + "/r.json",
                                   "--weight-ranges",
                                   "mse",
                                   "--activation-ranges"};

  args.push_back("percentile");
  const testing::CommandResult refused = testing::RunCommand(args);
  EXPECT_EQ(refused.exit_status, 2);
  EXPECT_NE(
      refused.err.find("--activation-ranges: range estimator 'percentile': expected minmax or mse"),
      std::string::npos)
      << refused.err;
  EXPECT_FALSE(fs::exists(dir + "/s.qfp"));

  args.back() = "mse";
  args[args.size() - 3] = "clipped";
  const testing::CommandResult refused_weights = testing::RunCommand(args);
  EXPECT_EQ(refused_weights.exit_status, 2);
  EXPECT_NE(refused_weights.err.find("--weight-ranges: range estimator 'clipped'"),
            std::string::npos)
      << refused_weights.err;
  EXPECT_FALSE(fs::exists(dir + "/s.qfp"));

  args[args.size() - 3] = "mse";
  const testing::CommandResult done = testing::RunCommand(args);
  ASSERT_EQ(done.exit_status, 0) << done.err;
  const nlohmann::json report = nlohmann::json::parse(ReadFile(dir + "/r.json"));
  EXPECT_EQ(report["activation_ranges"], "mse") << report.dump();
  EXPECT_EQ(report["weight_ranges"], "mse") << report.dump();
  const auto packed = quant::LoadPackedModel(dir + "/s.qfp");
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(packed->header["weight_ranges"], "mse");
  fs::remove_all(dir);
}

// --weight-decay reaches the optimizer: the report echoes it, the paper's
// 5e-4 when it is not given, and a negative value is a usage error before
// any work starts.
TEST(OfflineQuantizeTest, WeightDecayIsTakenAndReported) {
  const std::string dir =
      (fs::temp_directory_path() / ("qf_offline_wd_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::vector<std::string> base = {
      QF_CLI_BINARY,  "quantize",    "--asset-dir", QF_ASSET_DIR, "--cache-dir",  dir,
      "--teacher",    "dlib-resnet", "--bits",      "w8a8",       "--method",     "qat",
      "--source",     "noise",       "--steps",     "1",          "--batch-size", "2",
      "--threads",    "2",           "--cpu",       "--out",      dir + "/s.qfp", "--report",
      dir + "/r.json"};
  const auto run_with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCommand(args);
  };

  const testing::CommandResult refused = run_with({"--weight-decay", "-1"});
  EXPECT_EQ(refused.exit_status, 2);
  EXPECT_NE(refused.err.find("--weight-decay"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir + "/s.qfp"));

  for (const auto& [extra, expected] : std::vector<std::pair<std::vector<std::string>, double>>{
           {{}, 5e-4}, {{"--weight-decay", "0"}, 0.0}, {{"--weight-decay", "1e-3"}, 1e-3}}) {
    const testing::CommandResult done = run_with(extra);
    ASSERT_EQ(done.exit_status, 0) << done.err;
    const nlohmann::json report = nlohmann::json::parse(ReadFile(dir + "/r.json"));
    EXPECT_DOUBLE_EQ(report["training"]["weight_decay"].get<double>(), expected)
        << report["training"].dump();
  }
  fs::remove_all(dir);
}

// --source inverted-faces inverts rendered faces (spread apart) once, names
// that in the report's synthetic spec, and reuses the cached set next time;
// the registry reads the source back from the uploaded file.
TEST_F(JobOutputsTest, OfflineInvertedFacesAreGeneratedOnceAndNamedInReportAndRegistry) {
  Start({});
  const std::string dir =
      (fs::temp_directory_path() / ("qf_offline_inv_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::vector<std::string> args = {QF_CLI_BINARY,    "quantize",
                                         "--asset-dir",    QF_ASSET_DIR,
                                         "--cache-dir",    dir,
                                         "--teacher",      "dlib-resnet",
                                         "--bits",         "w8a8",
                                         "--method",       "ptq",
                                         "--source",       "inverted-faces",
                                         "--synth-images", "4",
                                         "--synth-steps",  "2",
                                         "--synth-spread", "1.5",
                                         "--calib-images", "4",
                                         "--threads",      "2",
                                         "--cpu",          "--out",
                                         dir + "/s.qfp",   "--report",
                                         dir + "/r.json"};
  for (const bool cached : {false, true}) {
    const testing::CommandResult done = testing::RunCommand(args);
    ASSERT_EQ(done.exit_status, 0) << done.err;
    const nlohmann::json report = nlohmann::json::parse(ReadFile(dir + "/r.json"));
    const nlohmann::json& spec = report["synthetic"]["spec"];
    EXPECT_EQ(spec["kind"], "builtin-inversion") << spec.dump();
    EXPECT_EQ(spec["start"]["kind"], "procedural-faces") << spec.dump();
    EXPECT_EQ(spec["spread"], 1.5) << spec.dump();
    EXPECT_EQ(report["synthetic"]["cache_hit"], cached) << report["synthetic"].dump();
  }
  v1::Model model;
  const grpc::Status uploaded = Upload("inverted", ReadFile(dir + "/s.qfp"),
                                       v1::MODEL_FORMAT_PACKED_QUANTIZED, false, &model);
  ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
  EXPECT_EQ(model.synthetic_data().source(), v1::SyntheticDataConfig::SOURCE_INVERTED_FACES);
  EXPECT_EQ(model.synthetic_data().num_images(), 4);
  EXPECT_DOUBLE_EQ(model.synthetic_data().spread(), 1.5);
  fs::remove_all(dir);
}

// A student without a stored evaluation gets Match's thresholds from an
// operator's report at <data_dir>/evaluations/<id>.json (View 2's format or
// every pair's, as `quantface bench lfw --model-file` writes), and the error
// without one says how to make it.
TEST_F(JobOutputsTest, AnOperatorsReportGivesAStudentItsThresholds) {
  Start({});
  const std::string dir =
      (fs::temp_directory_path() / ("qf_student_thr_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const testing::CommandResult quantized = testing::RunCommand(
      {QF_CLI_BINARY, "quantize",    "--asset-dir",    QF_ASSET_DIR, "--cache-dir", dir,
       "--teacher",   "dlib-resnet", "--bits",         "w8a8",       "--method",    "ptq",
       "--source",    "noise",       "--calib-images", "4",          "--threads",   "2",
       "--cpu",       "--out",       dir + "/s.qfp"});
  ASSERT_EQ(quantized.exit_status, 0) << quantized.err;
  v1::Model model;
  const grpc::Status uploaded = Upload("thr-student", ReadFile(dir + "/s.qfp"),
                                       v1::MODEL_FORMAT_PACKED_QUANTIZED, false, &model);
  fs::remove_all(dir);
  ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();

  const auto verification = v1::VerificationService::NewStub(channel_);
  v1::MatchRequest request;
  request.set_model("models/thr-student");
  *request.mutable_probe() = testing::PachecoA();
  *request.mutable_reference_face() = testing::PachecoB();
  request.mutable_decision()->set_false_accept_rate(1e-4);
  v1::MatchResponse response;
  grpc::Status status = verification->Match(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("quantface bench lfw --data <lfw> --protocol all-pairs "
                                        "--model-file <file.qfp> --report "),
            std::string::npos)
      << status.error_message();

  const std::string evaluations = server_->data_dir() + "/evaluations";
  fs::create_directories(evaluations);
  std::ofstream(evaluations + "/thr-student.json") << R"({"benchmark": "lfw-all-pairs",
      "all_pairs": {"tar_at_far": [
          {"far_target": 0.0001, "far": 0.0001, "tar": 0.76, "threshold": 0.9418, "measurable": true}
      ]}})";
  status = verification->Match(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(response.threshold(), 0.9418f);
  EXPECT_DOUBLE_EQ(response.false_accept_rate(), 1e-4);
  EXPECT_EQ(response.is_match(), response.score() >= 0.9418f);
}

// `quantface synth-export` writes the set an inverted-faces job trained on
// (read from the same cache) as PNG files, which a later job can take as a
// declared-synthetic folder; a source that is not generated is a usage error.
TEST(OfflineQuantizeTest, SynthExportWritesTheJobsGeneratedSetAsImages) {
  const std::string dir =
      (fs::temp_directory_path() / ("qf_synth_export_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::vector<std::string> common = {"--asset-dir",   QF_ASSET_DIR,  "--cache-dir",    dir,
                                           "--teacher",     "dlib-resnet", "--synth-images", "4",
                                           "--synth-steps", "2",           "--seed",         "3",
                                           "--threads",     "2",           "--cpu"};
  const auto command = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.begin(), QF_CLI_BINARY);
    head.insert(head.end(), common.begin(), common.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  const testing::CommandResult trained =
      testing::RunCommand(command({"quantize", "--source", "inverted-faces"},
                                  {"--bits", "w8a8", "--method", "ptq", "--calib-images", "4"}));
  ASSERT_EQ(trained.exit_status, 0) << trained.err;

  const std::string png_dir = dir + "/png";
  const testing::CommandResult exported = testing::RunCommand(
      command({"synth-export", "--source", "inverted-faces"}, {"--out", png_dir}));
  ASSERT_EQ(exported.exit_status, 0) << exported.err;
  EXPECT_NE(exported.out.find("4 images of inverted-faces, seed 3 (from the cache"),
            std::string::npos)
      << exported.out;
  for (int i = 0; i < 4; ++i) {
    const std::string path =
        png_dir + "/dlib-resnet-inverted-faces-s3-0000" + std::to_string(i) + ".png";
    const cv::Mat image = cv::imread(path);
    ASSERT_FALSE(image.empty()) << path;
    EXPECT_EQ(image.cols, 150);
    EXPECT_EQ(image.rows, 150);
  }
  EXPECT_FALSE(fs::exists(png_dir + "/dlib-resnet-inverted-faces-s3-00004.png"));

  const testing::CommandResult from_folder = testing::RunCommand(command(
      {"quantize", "--source", "folder", "--folder", png_dir, "--declare-synthetic"},
      {"--bits", "w8a8", "--method", "ptq", "--calib-images", "4", "--report", dir + "/r.json"}));
  ASSERT_EQ(from_folder.exit_status, 0) << from_folder.err;
  const nlohmann::json report = nlohmann::json::parse(ReadFile(dir + "/r.json"));
  EXPECT_EQ(report["synthetic"]["spec"]["kind"], "folder") << report["synthetic"].dump();

  const testing::CommandResult noise =
      testing::RunCommand(command({"synth-export", "--source", "noise"}, {"--out", png_dir}));
  EXPECT_EQ(noise.exit_status, 2);
  EXPECT_NE(noise.err.find("source 'noise' is not generated"), std::string::npos) << noise.err;
  fs::remove_all(dir);
}

// evaluation_protocol "lfw-all-pairs": View 2 as with "lfw", then every pair
// of the first 40 people's images on the student as served; that
// evaluation's thresholds are the ones Match uses, down to the FARs View 2
// cannot measure.
TEST_F(JobOutputsTest, AllPairsEvaluationGivesTheStudentItsThresholds) {
  const std::string lfw =
      MakeTinyLfw(::testing::TempDir() + "/tiny-lfw-all-" + std::to_string(::getpid()));
  Start({"--lfw-dir=" + lfw, "--lfw-all-pairs-max-people=40"});
  v1::Job done;
  v1::Model model;
  ASSERT_NO_FATAL_FAILURE(RunEvaluatedJob("lfw-all-pairs", &done, &model));
  ASSERT_EQ(model.evaluations_size(), 3);
  EXPECT_EQ(model.evaluations(0).protocol(), "lfw");
  EXPECT_EQ(model.evaluations(1).protocol(), "lfw");
  const v1::EvaluationSummary& all_pairs = model.evaluations(2);
  EXPECT_EQ(all_pairs.protocol(), "lfw-all-pairs");
  EXPECT_EQ(all_pairs.inference(), "integer-onednn");
  EXPECT_DOUBLE_EQ(all_pairs.accuracy(), 0);  // No folds, no accuracy.
  // 70 images of 40 people: 2,329 different pairs measure 1e-2 and 1e-3.
  ASSERT_EQ(all_pairs.operating_points_size(), 2);
  EXPECT_DOUBLE_EQ(all_pairs.operating_points(1).false_accept_rate(), 1e-3);
  // The teacher's points and the cross-model ones, on the same pairs.
  ASSERT_EQ(all_pairs.teacher_operating_points_size(), 2);
  ASSERT_EQ(all_pairs.cross_model_operating_points_size(), 2);
  for (int k = 0; k < 2; ++k) {
    EXPECT_DOUBLE_EQ(all_pairs.teacher_operating_points(k).false_accept_rate(),
                     all_pairs.operating_points(k).false_accept_rate());
    EXPECT_DOUBLE_EQ(all_pairs.cross_model_operating_points(k).false_accept_rate(),
                     all_pairs.operating_points(k).false_accept_rate());
    // A w8a8 student of the same teacher: far above chance on the same pairs.
    EXPECT_GT(all_pairs.teacher_operating_points(k).true_accept_rate(), 0.5) << k;
    EXPECT_GT(all_pairs.cross_model_operating_points(k).true_accept_rate(), 0.5) << k;
  }
  EXPECT_EQ(model.evaluations(0).teacher_operating_points_size(),
            model.evaluations(0).operating_points_size());

  const auto verification = v1::VerificationService::NewStub(channel_);
  v1::MatchRequest request;
  request.set_model(model.name());
  *request.mutable_probe() = testing::PachecoA();
  *request.mutable_reference_face() = testing::PachecoB();
  request.mutable_decision()->set_false_accept_rate(1e-3);
  v1::MatchResponse response;
  const grpc::Status matched = verification->Match(Context().get(), request, &response);
  ASSERT_TRUE(matched.ok()) << matched.error_message();
  EXPECT_FLOAT_EQ(response.threshold(), all_pairs.operating_points(1).threshold());

  // A gallery enrolled by the teacher and switched to the student decides
  // the teacher's templates at the cross-model points of the same evaluation.
  const auto galleries = v1::GalleryService::NewStub(channel_);
  v1::CreateGalleryRequest create;
  create.set_gallery_id("switched");
  create.mutable_gallery()->set_model("models/dlib-resnet");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries->CreateGallery(Context().get(), create, &gallery).ok());
  v1::EnrollRequest enroll;
  enroll.set_gallery(gallery.name());
  enroll.set_identity_id("pacheco");
  *enroll.add_faces() = testing::PachecoB();
  v1::EnrollResponse enrolled;
  ASSERT_TRUE(galleries->Enroll(Context().get(), enroll, &enrolled).ok());
  v1::SwitchGalleryModelRequest to_student;
  to_student.set_name(gallery.name());
  to_student.set_model(model.name());
  const grpc::Status switched =
      galleries->SwitchGalleryModel(Context().get(), to_student, &gallery);
  ASSERT_TRUE(switched.ok()) << switched.error_message();
  request.clear_reference_face();
  request.clear_model();
  request.mutable_reference_identity()->set_gallery(gallery.name());
  request.mutable_reference_identity()->set_identity_id("pacheco");
  const grpc::Status against_teacher = verification->Match(Context().get(), request, &response);
  ASSERT_TRUE(against_teacher.ok()) << against_teacher.error_message();
  EXPECT_FLOAT_EQ(response.threshold(), all_pairs.cross_model_operating_points(1).threshold());
  EXPECT_EQ(response.reference_model(), "models/dlib-resnet");

  const testing::CommandResult watched = testing::RunCommand(
      {QF_CLI_BINARY, "--server", server_->grpc_target(), "job", "watch", done.name()});
  ASSERT_EQ(watched.exit_status, 0) << watched.err;
  EXPECT_NE(watched.out.find("lfw-all-pairs (integer-onednn)\n  FAR        threshold  TAR     "
                             "teacher TAR  cross-model TAR\n  0.01       "),
            std::string::npos)
      << watched.out;
}

TEST_F(JobOutputsTest, FinishedJobStoresRocPlotAndLogWithItsModel) {
  const std::string lfw =
      MakeTinyLfw(::testing::TempDir() + "/tiny-lfw-" + std::to_string(::getpid()));
  Start({"--lfw-dir=" + lfw});
  v1::Job done;
  v1::Model model;
  ASSERT_NO_FATAL_FAILURE(RunEvaluatedJob("lfw", &done, &model));
  // Two evaluations: the student as served (packed, integer kernels; w8a8
  // with the default weight scheme has symmetric weights and runs on
  // oneDNN) first, then the fake-quant simulation the job trained.
  ASSERT_EQ(model.evaluations_size(), 2);
  EXPECT_EQ(model.evaluations(0).protocol(), "lfw");
  EXPECT_EQ(model.evaluations(0).inference(), "integer-onednn");
  EXPECT_EQ(model.evaluations(1).protocol(), "lfw");
  EXPECT_EQ(model.evaluations(1).inference(), "fake-quant");
  for (const v1::EvaluationSummary& e : model.evaluations()) {
    EXPECT_GT(e.teacher_accuracy(), 0) << e.inference();
  }
  ASSERT_EQ(model.artifacts_size(), 2);
  EXPECT_EQ(model.artifacts(0).name(), "roc");
  EXPECT_EQ(model.artifacts(0).media_type(), "image/png");
  EXPECT_EQ(model.artifacts(1).name(), "log");
  EXPECT_EQ(model.artifacts(1).media_type(), "text/plain");

  std::string png, png_sha256;
  ASSERT_TRUE(Download(model.name(), "roc", &png, &png_sha256).ok());
  EXPECT_EQ(static_cast<int64_t>(png.size()), model.artifacts(0).size_bytes());
  EXPECT_EQ(Sha256Hex(png), model.artifacts(0).sha256());
  EXPECT_EQ(png_sha256, model.artifacts(0).sha256());
  const cv::Mat image =
      cv::imdecode(cv::Mat(1, static_cast<int>(png.size()), CV_8UC1, png.data()), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 800);
  EXPECT_EQ(image.rows, 600);

  std::string log, log_sha256;
  ASSERT_TRUE(Download(model.name(), "log", &log, &log_sha256).ok());
  for (const char* phase : {"phase training", "phase evaluating", "phase exporting"}) {
    EXPECT_NE(log.find(phase), std::string::npos) << phase << " not in:\n" << log;
  }
  EXPECT_NE(log.find("lfw accuracy teacher"), std::string::npos) << log;
  EXPECT_NE(log.find("lfw accuracy integer (onednn, as served)"), std::string::npos) << log;

  std::string bytes, sha256;
  EXPECT_EQ(Download(model.name(), "weights", &bytes, &sha256).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // The CLI's report table names the forward of each evaluation.
  const testing::CommandResult watched = testing::RunCommand(
      {QF_CLI_BINARY, "--server", server_->grpc_target(), "job", "watch", done.name()});
  ASSERT_EQ(watched.exit_status, 0) << watched.err;
  EXPECT_NE(watched.out.find("lfw (integer-onednn) accuracy"), std::string::npos) << watched.out;
  EXPECT_NE(watched.out.find("lfw (fake-quant) accuracy"), std::string::npos) << watched.out;

  // The CLI fetches the same bytes.
  const std::string out = server_->data_dir() + "/../roc.png";
  const testing::CommandResult cli =
      testing::RunCommand({QF_CLI_BINARY, "--server", server_->grpc_target(), "model", "download",
                           model.name(), "--artifact", "roc", "-o", out});
  ASSERT_EQ(cli.exit_status, 0) << cli.err;
  EXPECT_EQ(ReadFile(out), png);
}

TEST_F(JobOutputsTest, PtqJobKilledWhileEvaluatingResumesWithoutRedoingFinishedPhases) {
  // First run: the full LFW, so that the job is surely still evaluating when
  // it is killed; the restarted server points the protocol at a tiny LFW so
  // the resumed evaluation takes seconds.
  Start({"--lfw-dir=" + kLfw});
  v1::JobConfig config = testing::TinyJobConfig(4);
  config.set_method(v1::JobConfig::METHOD_PTQ);
  config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_BUILTIN);
  config.mutable_synthetic_data()->set_num_images(8);
  config.set_evaluation_protocol("lfw");
  // The paper's grid at 8 bits, asked for explicitly: the resumed job keeps
  // it, and its student runs on QNNPACK (checked at the end).
  config.set_weight_scheme(v1::JobConfig::WEIGHT_SCHEME_ASYMMETRIC);
  v1::Job job;
  const grpc::Status submitted = Submit(config, &job);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  const v1::Job evaluating = WaitFor(
      job.name(),
      [](const v1::Job& j) { return j.progress().phase() == v1::JobProgress::PHASE_EVALUATING; },
      600);
  ASSERT_EQ(evaluating.progress().phase(), v1::JobProgress::PHASE_EVALUATING);
  server_->Stop(SIGKILL);

  const std::string data_dir = server_->data_dir();
  const std::string lfw =
      MakeTinyLfw(::testing::TempDir() + "/tiny-lfw-resume-" + std::to_string(::getpid()));
  auto restarted =
      std::make_unique<testing::ServerProcess>(std::vector<std::string>{"--lfw-dir=" + lfw});
  restarted->set_data_dir(data_dir);
  const absl::Status started = restarted->Start();
  ASSERT_TRUE(started.ok()) << started;
  channel_ = grpc::CreateChannel(restarted->grpc_target(), grpc::InsecureChannelCredentials());
  jobs_ = v1::QuantizationService::NewStub(channel_);
  models_ = v1::ModelRegistry::NewStub(channel_);
  const v1::Job done = WaitUntilEnded(job.name());
  ASSERT_EQ(done.state(), v1::Job::STATE_SUCCEEDED) << done.error_message();

  // The resumed run's log: the synthetic set came from the cache and the
  // calibration from the checkpoint; neither ran again.
  std::string log, sha256;
  ASSERT_TRUE(Download(done.output_model(), "log", &log, &sha256).ok());
  EXPECT_NE(log.find("synthetic set reused from the cache"), std::string::npos) << log;
  EXPECT_NE(log.find("calibration restored from this job's checkpoint"), std::string::npos) << log;
  EXPECT_EQ(log.find("synth 8/8"), std::string::npos) << log;
  EXPECT_EQ(log.find("phase training"), std::string::npos) << log;
  EXPECT_NE(log.find("phase evaluating"), std::string::npos) << log;
  EXPECT_EQ(done.config().weight_scheme(), v1::JobConfig::WEIGHT_SCHEME_ASYMMETRIC);
  v1::GetModelRequest get;
  get.set_name(done.output_model());
  v1::Model model;
  ASSERT_TRUE(models_->GetModel(Context().get(), get, &model).ok());
  ASSERT_GE(model.evaluations_size(), 1);
  EXPECT_EQ(model.evaluations(0).inference(), "integer-qnnpack");
  v1::ListJobsResponse listed;
  ASSERT_TRUE(jobs_->ListJobs(Context().get(), v1::ListJobsRequest(), &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 1);
}

}  // namespace
}  // namespace qf
