// `quantface job ...`: QuantizationService.
#include <iostream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "client/commands/commands.h"
#include "client/commands/job_progress.h"
#include "client/commands/unary_call.h"
#include "core/quant/affine.h"
#include "core/quant/range_estimator.h"
#include "quantface/v1/quantization.grpc.pb.h"
#include "quantface/v1/registry.grpc.pb.h"

namespace qf::cli {
namespace {

namespace v1 = ::quantface::v1;

// "w8a8" -> {8, 8}; false when the text is not of that form.
bool ParseBits(const std::string& text, int& weight_bits, int& activation_bits) {
  static const std::regex pattern("w([0-9]+)a([0-9]+)");
  std::smatch match;
  if (!std::regex_match(text, match, pattern)) return false;
  weight_bits = std::stoi(match[1]);
  activation_bits = std::stoi(match[2]);
  return true;
}

struct SubmitOptions {
  std::string teacher = "dlib-resnet";
  std::string bits = "w8a8";
  std::string method = "qat";
  std::string source = "builtin";
  std::string image_folder;
  std::string generator;
  bool declared_synthetic = false;
  int num_images = 0;
  double spread = 0;  // inverted-faces; 0: the server's default.
  int steps = 0;
  int batch_size = 0;
  int warmup_steps = 0;
  double learning_rate = 0;
  std::optional<double> weight_decay;  // Unset: the server's default (the paper's 5e-4).
  std::string schedule = "cosine";
  std::string optimizer = "sgd";
  bool keep_first_last_8bit = false;
  bool keep_depthwise_8bit = false;
  std::vector<std::string> keep_8bit_layers;
  bool keep_add_operands_8bit = false;
  bool keep_residual_operands_8bit = false;
  std::string initial_student;
  std::string weight_scheme = "auto";
  bool learn_activation_ranges = false;
  double feature_loss_weight = 0;
  std::string activation_ranges = "minmax";
  std::string weight_ranges = "minmax";
  std::string protocol;
  std::string device = "any";
  int priority = 0;
  std::string request_id;
  std::string display_name;
  uint64_t seed = 0;
  bool watch = false;
};

// Follows a job until it ends. People get a live progress line and, for a
// job that succeeded, its model's report table; --json gets every event.
// Exit status: 0 when the job succeeded, 1 when it failed or was cancelled.
int Watch(CliContext& context, v1::QuantizationService::Stub& stub, const std::string& name) {
  v1::WatchJobRequest request;
  request.set_name(name);
  grpc::ClientContext call;  // No deadline: a watch lasts as long as the job.
  auto reader = stub.WatchJob(&call, request);
  v1::JobEvent event;
  v1::Job last;
  bool line_open = false;
  while (reader->Read(&event)) {
    last = event.job();
    if (context.json) {
      context.Print(event);
      continue;
    }
    if (!event.message().empty()) {
      if (line_open) std::cout << "\n";
      std::cout << event.job().name() << ": " << event.message() << "\n";
      line_open = false;
    }
    if (event.job().state() == v1::Job::STATE_RUNNING) {
      std::cout << "\r" << ProgressLine(event.job()) << "\033[K" << std::flush;
      line_open = true;
    }
  }
  if (line_open) std::cout << "\n";
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return context.Fail(status);
  if (last.state() == v1::Job::STATE_SUCCEEDED) {
    auto registry = v1::ModelRegistry::NewStub(context.Channel());
    v1::GetModelRequest get;
    get.set_name(last.output_model());
    v1::Model model;
    auto model_call = context.NewCallContext();
    const grpc::Status got = registry->GetModel(model_call.get(), get, &model);
    if (!got.ok()) return context.Fail(got);
    if (!context.json) std::cout << ReportTable(model);
    return kExitOk;
  }
  if (!context.json) {
    std::cerr << "job " << last.name() << " ended " << v1::Job::State_Name(last.state())
              << (last.error_message().empty() ? "" : ": " + last.error_message()) << "\n";
  }
  return kExitRpcError;
}

}  // namespace

void AddJobCommands(CLI::App& app, CliContext& context, int& exit_status) {
  auto* job = app.add_subcommand("job", "Quantization jobs (QuantizationService)");
  job->require_subcommand(1);

  auto submit_options = std::make_shared<SubmitOptions>();
  auto* submit = job->add_subcommand("submit", "Submit a quantization job");
  submit->add_option("--teacher", submit_options->teacher, "Teacher model")->capture_default_str();
  submit->add_option("--bits", submit_options->bits, "wXaY, e.g. w8a8, w6a6, w4a4")
      ->capture_default_str();
  submit->add_option("--method", submit_options->method, "qat or ptq")->capture_default_str();
  submit
      ->add_option(
          "--source", submit_options->source,
          "Synthetic data: builtin (teacher inversion), procedural (rendered faces), "
          "inverted-faces (rendered faces refined by inversion), noise, generator or folder")
      ->capture_default_str();
  submit->add_option(
      "--synth-spread", submit_options->spread,
      "inverted-faces: how many times as far apart the identities are pushed (0: 2)");
  submit->add_option("--image-folder", submit_options->image_folder,
                     "Server path of synthetic images (--source folder)");
  submit->add_option("--generator", submit_options->generator,
                     "Generator model (--source generator)");
  submit->add_flag("--declared-synthetic", submit_options->declared_synthetic,
                   "Declare the image folder holds synthetic faces only");
  submit->add_option("--num-images", submit_options->num_images, "Synthetic images");
  submit->add_option("--steps", submit_options->steps, "Training or calibration steps");
  submit->add_option("--batch-size", submit_options->batch_size, "Images per step");
  submit->add_option("--warmup-steps", submit_options->warmup_steps,
                     "Steps tracking activation ranges before freezing them");
  submit->add_option("--lr", submit_options->learning_rate,
                     "Learning rate (0 = 0.1 * batch / 512 for sgd, 1e-4 for adam)");
  submit
      ->add_option("--weight-decay", submit_options->weight_decay,
                   "QAT weight decay (sgd: L2 in the gradient; adam: decoupled); unset: the "
                   "paper's 5e-4, 0 turns it off")
      ->check(CLI::NonNegativeNumber);
  submit
      ->add_option("--optimizer", submit_options->optimizer,
                   "QAT: sgd (the paper's, Nesterov momentum) or adam (AdamW; not the paper's)")
      ->capture_default_str();
  submit->add_option("--schedule", submit_options->schedule, "cosine or step")
      ->capture_default_str();
  submit->add_flag("--keep-first-last-8bit", submit_options->keep_first_last_8bit,
                   "Keep the first and last layer at 8 bits (symmetric weights)");
  submit->add_flag("--keep-depthwise-8bit", submit_options->keep_depthwise_8bit,
                   "Keep depthwise convs' weights at 8 bits (faceres; not the paper's method)");
  submit->add_flag("--keep-adds-8bit", submit_options->keep_add_operands_8bit,
                   "Keep residual-add operands at 8 bits, conv inputs at the activation bits "
                   "(dlib-resnet; not the paper's method)");
  submit->add_flag("--keep-residual-8bit", submit_options->keep_residual_operands_8bit,
                   "Keep each residual add's branch operand at 8 bits, its shortcut at the "
                   "activation bits (the paper's quantization points; dlib-resnet)");
  submit->add_option("--init-student", submit_options->initial_student,
                     "Start from this quantized student of the same teacher instead of the "
                     "teacher, e.g. w4a4 from a w4a8 job's model (not the paper's method)");
  submit
      ->add_option("--keep-8bit-layers", submit_options->keep_8bit_layers,
                   "Comma-separated conv/linear layer names kept at 8 bits, weights and input "
                   "(e.g. conv_dw_1; not the paper's method)")
      ->delimiter(',');
  submit
      ->add_option("--weight-scheme", submit_options->weight_scheme,
                   "auto (asymmetric below 8 bits, symmetric at 8), asymmetric (the paper, "
                   "8-bit weights then run on the slow QNNPACK) or symmetric")
      ->capture_default_str();
  submit->add_flag("--learn-activation-ranges", submit_options->learn_activation_ranges,
                   "QAT: learn activation scales (LSQ) after the warm-up instead of freezing "
                   "them (not the paper's method; helps at 4 bits)");
  submit
      ->add_option("--activation-ranges", submit_options->activation_ranges,
                   "minmax (the paper) or mse (clipped to the least squared error; better at 4 "
                   "bits)")
      ->capture_default_str();
  submit
      ->add_option("--weight-ranges", submit_options->weight_ranges,
                   "minmax (the paper) or mse (each channel clipped to the least squared error; "
                   "better at 4-bit weights)")
      ->capture_default_str();
  submit
      ->add_option("--feature-loss-weight", submit_options->feature_loss_weight,
                   "QAT: weight of the features' relative squared error (every quantized "
                   "activation vs the teacher's) added to the loss; 0 = the paper's loss")
      ->check(CLI::NonNegativeNumber);
  submit->add_option("--protocol", submit_options->protocol, "Evaluation protocol, e.g. lfw");
  submit->add_option("--device", submit_options->device, "any, cpu or gpu")->capture_default_str();
  submit->add_option("--priority", submit_options->priority, "Higher runs first");
  submit->add_option("--request-id", submit_options->request_id, "Idempotency key");
  submit->add_option("--display-name", submit_options->display_name, "Name of the result");
  submit->add_option("--seed", submit_options->seed, "Random seed (0 = pick one)");
  submit->add_flag("--watch", submit_options->watch, "Follow the job until it ends");
  submit->callback([&context, &exit_status, submit_options] {
    const SubmitOptions& o = *submit_options;
    v1::SubmitJobRequest request;
    request.set_request_id(o.request_id);
    v1::JobConfig& config = *request.mutable_config();
    config.set_teacher_model(ResourceName("models", o.teacher));
    int weight_bits = 0, activation_bits = 0;
    if (!ParseBits(o.bits, weight_bits, activation_bits)) {
      exit_status = context.Fail("--bits must look like w8a8, got '" + o.bits + "'");
      return;
    }
    config.set_weight_bits(weight_bits);
    config.set_activation_bits(activation_bits);
    config.set_keep_first_last_8bit(o.keep_first_last_8bit);
    config.set_keep_depthwise_8bit(o.keep_depthwise_8bit);
    for (const std::string& layer : o.keep_8bit_layers) config.add_keep_8bit_layers(layer);
    config.set_keep_add_operands_8bit(o.keep_add_operands_8bit);
    config.set_keep_residual_operands_8bit(o.keep_residual_operands_8bit);
    if (!o.initial_student.empty()) {
      config.set_initial_student_model(ResourceName("models", o.initial_student));
    }
    const absl::StatusOr<quant::WeightScheme> scheme = quant::ParseWeightScheme(o.weight_scheme);
    if (!scheme.ok()) {
      exit_status = context.Fail(absl::StrCat("--weight-scheme: ", scheme.status().message()));
      return;
    }
    switch (*scheme) {
      case quant::WeightScheme::kAuto:
        config.set_weight_scheme(v1::JobConfig::WEIGHT_SCHEME_AUTO);
        break;
      case quant::WeightScheme::kAsymmetric:
        config.set_weight_scheme(v1::JobConfig::WEIGHT_SCHEME_ASYMMETRIC);
        break;
      case quant::WeightScheme::kSymmetric:
        config.set_weight_scheme(v1::JobConfig::WEIGHT_SCHEME_SYMMETRIC);
        break;
    }
    // The engine's parser owns the names, so `job submit` and the offline
    // `quantize` accept the same ones. True when `text` names kMse.
    const auto mse = [](const std::string& text) -> std::optional<bool> {
      const absl::StatusOr<quant::RangeEstimator> parsed = quant::ParseRangeEstimator(text);
      if (!parsed.ok()) return std::nullopt;
      return *parsed == quant::RangeEstimator::kMse;
    };
    const std::optional<bool> activation_mse = mse(o.activation_ranges);
    const std::optional<bool> weight_mse = mse(o.weight_ranges);
    if (!activation_mse.has_value() || !weight_mse.has_value()) {
      exit_status =
          context.Fail(activation_mse.has_value() ? "--weight-ranges must be minmax or mse"
                                                  : "--activation-ranges must be minmax or mse");
      return;
    }
    if (*activation_mse) config.set_activation_ranges(v1::JobConfig::ACTIVATION_RANGES_MSE);
    if (*weight_mse) config.set_weight_ranges(v1::JobConfig::WEIGHT_RANGES_MSE);
    if (o.optimizer == "adam") {
      config.mutable_optimizer()->set_algorithm(v1::OptimizerConfig::ALGORITHM_ADAMW);
    } else if (o.optimizer != "sgd") {
      exit_status = context.Fail("--optimizer must be sgd or adam, got '" + o.optimizer + "'");
      return;
    }
    if (o.method == "qat") {
      config.set_method(v1::JobConfig::METHOD_QAT);
    } else if (o.method == "ptq") {
      config.set_method(v1::JobConfig::METHOD_PTQ);
    } else {
      exit_status = context.Fail("--method must be qat or ptq");
      return;
    }
    auto& data = *config.mutable_synthetic_data();
    if (o.source == "builtin") {
      data.set_source(v1::SyntheticDataConfig::SOURCE_BUILTIN);
    } else if (o.source == "noise") {
      data.set_source(v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE);
    } else if (o.source == "procedural") {
      data.set_source(v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES);
    } else if (o.source == "inverted-faces") {
      data.set_source(v1::SyntheticDataConfig::SOURCE_INVERTED_FACES);
      data.set_spread(o.spread);
    } else if (o.source == "generator") {
      data.set_source(v1::SyntheticDataConfig::SOURCE_GENERATOR_MODEL);
    } else if (o.source == "folder") {
      data.set_source(v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER);
    } else {
      exit_status = context.Fail(
          "--source must be builtin, procedural, inverted-faces, noise, generator or folder");
      return;
    }
    data.set_num_images(o.num_images);
    data.set_image_folder(o.image_folder);
    if (!o.generator.empty()) data.set_generator_model(ResourceName("models", o.generator));
    data.set_declared_synthetic(o.declared_synthetic);
    data.set_seed(o.seed);
    config.set_steps(o.steps);
    config.set_batch_size(o.batch_size);
    config.set_activation_warmup_steps(o.warmup_steps);
    config.set_learn_activation_ranges(o.learn_activation_ranges);
    config.set_feature_loss_weight(o.feature_loss_weight);
    config.mutable_optimizer()->set_learning_rate(o.learning_rate);
    if (o.weight_decay.has_value()) config.mutable_optimizer()->set_weight_decay(*o.weight_decay);
    config.mutable_optimizer()->set_schedule(o.schedule == "step"
                                                 ? v1::OptimizerConfig::SCHEDULE_STEP
                                                 : v1::OptimizerConfig::SCHEDULE_COSINE);
    config.set_evaluation_protocol(o.protocol);
    if (o.device == "cpu") {
      config.set_device(v1::DEVICE_PREFERENCE_CPU);
    } else if (o.device == "gpu") {
      config.set_device(v1::DEVICE_PREFERENCE_GPU);
    } else {
      config.set_device(v1::DEVICE_PREFERENCE_ANY);
    }
    config.set_priority(o.priority);
    config.set_output_display_name(o.display_name);

    auto stub = v1::QuantizationService::NewStub(context.Channel());
    v1::Job job;
    auto call = context.NewCallContext();
    const grpc::Status status = stub->SubmitJob(call.get(), request, &job);
    if (!status.ok()) {
      exit_status = context.Fail(status);
      return;
    }
    context.Print(job);
    exit_status = o.watch ? Watch(context, *stub, job.name()) : kExitOk;
  });

  auto name = std::make_shared<std::string>();
  auto* get = job->add_subcommand("get", "Show one job");
  get->add_option("name", *name, "Job name or id")->required();
  get->callback([&context, &exit_status, name] {
    auto stub = v1::QuantizationService::NewStub(context.Channel());
    v1::GetJobRequest request;
    request.set_name(ResourceName("jobs", *name));
    exit_status = CallAndPrint(context, *stub, &v1::QuantizationService::Stub::GetJob, request);
  });

  auto* cancel = job->add_subcommand("cancel", "Cancel a queued or running job");
  cancel->add_option("name", *name, "Job name or id")->required();
  cancel->callback([&context, &exit_status, name] {
    auto stub = v1::QuantizationService::NewStub(context.Channel());
    v1::CancelJobRequest request;
    request.set_name(ResourceName("jobs", *name));
    exit_status = CallAndPrint(context, *stub, &v1::QuantizationService::Stub::CancelJob, request);
  });

  auto* watch = job->add_subcommand("watch", "Follow a job's progress until it ends");
  watch->add_option("name", *name, "Job name or id")->required();
  watch->callback([&context, &exit_status, name] {
    auto stub = v1::QuantizationService::NewStub(context.Channel());
    exit_status = Watch(context, *stub, ResourceName("jobs", *name));
  });

  auto state = std::make_shared<std::string>();
  auto page_size = std::make_shared<int>(0);
  auto page_token = std::make_shared<std::string>();
  auto* list = job->add_subcommand("list", "List jobs, newest first");
  list->add_option("--state", *state, "queued, running, succeeded, failed or cancelled");
  list->add_option("--page-size", *page_size, "Jobs per page");
  list->add_option("--page-token", *page_token, "Token from the previous page");
  list->callback([&context, &exit_status, state, page_size, page_token] {
    v1::ListJobsRequest request;
    request.set_page_size(*page_size);
    request.set_page_token(*page_token);
    if (!state->empty()) {
      std::string upper = "STATE_";
      for (char c : *state) upper.push_back(static_cast<char>(std::toupper(c)));
      v1::Job::State value;
      if (!v1::Job::State_Parse(upper, &value)) {
        exit_status = context.Fail("unknown --state '" + *state + "'");
        return;
      }
      request.set_state(value);
    }
    auto stub = v1::QuantizationService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::QuantizationService::Stub::ListJobs, request);
  });
}

}  // namespace qf::cli
