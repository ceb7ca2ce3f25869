// `quantface embed|match|identify` and their batch forms: VerificationService.
#include <fstream>
#include <iostream>

#include "absl/strings/str_split.h"
#include "client/commands/commands.h"
#include "client/commands/unary_call.h"
#include "client/face_input.h"
#include "quantface/v1/verification.grpc.pb.h"

namespace qf::cli {
namespace {

namespace v1 = ::quantface::v1;

struct DecisionOptions {
  double far = 0;
  double threshold = 0;
  bool has_threshold = false;
};

void AddDecisionOptions(CLI::App& command, DecisionOptions& options) {
  command.add_option("--far", options.far,
                     "Decide at the threshold for this false-accept rate (default 1e-3)");
  command.add_option("--threshold", options.threshold, "Decide at this cosine threshold")
      ->each([&options](const std::string&) { options.has_threshold = true; });
}

void FillDecision(const DecisionOptions& options, v1::DecisionPolicy& policy) {
  if (options.has_threshold) {
    policy.set_threshold(static_cast<float>(options.threshold));
  } else if (options.far > 0) {
    policy.set_false_accept_rate(options.far);
  }
}

// Parses every face argument; on failure stores the exit status and returns false.
bool ParseFaces(CliContext& context, const std::vector<std::string>& arguments,
                google::protobuf::RepeatedPtrField<v1::FaceInput>& faces, int& exit_status) {
  for (const std::string& argument : arguments) {
    auto face = ParseFaceArgument(argument);
    if (!face.ok()) {
      exit_status = context.Fail(std::string(face.status().message()));
      return false;
    }
    *faces.Add() = *std::move(face);
  }
  return true;
}

std::map<std::string, std::string> ParseFilters(const std::vector<std::string>& filters) {
  std::map<std::string, std::string> result;
  for (const std::string& filter : filters) {
    std::pair<std::string, std::string> kv = absl::StrSplit(filter, absl::MaxSplits('=', 1));
    result[kv.first] = kv.second;
  }
  return result;
}

struct Options {
  std::string model;
  std::vector<std::string> faces;
  bool flip = false;
  DecisionOptions decision;
  std::string gallery;
  std::string identity;
  int top_k = 0;
  std::vector<std::string> filters;
  std::string pairs_file;
};

}  // namespace

void AddVerificationCommands(CLI::App& app, CliContext& context, int& exit_status) {
  const std::string face_help =
      "Faces: PATH (image), PATH@x1,y1,...,x5,y5 (image + landmarks), aligned:PATH, "
      "embedding:PATH.json";

  auto embed_options = std::make_shared<Options>();
  auto* embed = app.add_subcommand("embed", "Embedding of one or more faces (Embed/BatchEmbed)");
  embed->add_option("faces", embed_options->faces, face_help)->required();
  embed->add_option("--model", embed_options->model, "Model (default: the server's default)");
  embed->add_flag("--flip", embed_options->flip, "Average with the mirrored face");
  embed->callback([&context, &exit_status, embed_options] {
    auto stub = v1::VerificationService::NewStub(context.Channel());
    const std::string model = ResourceName("models", embed_options->model);
    if (embed_options->faces.size() == 1) {
      v1::EmbedRequest request;
      request.set_model(model);
      request.set_flip_average(embed_options->flip);
      google::protobuf::RepeatedPtrField<v1::FaceInput> faces;
      if (!ParseFaces(context, embed_options->faces, faces, exit_status)) return;
      *request.mutable_face() = faces[0];
      exit_status = CallAndPrint(context, *stub, &v1::VerificationService::Stub::Embed, request);
      return;
    }
    v1::BatchEmbedRequest request;
    request.set_model(model);
    request.set_flip_average(embed_options->flip);
    if (!ParseFaces(context, embed_options->faces, *request.mutable_faces(), exit_status)) return;
    exit_status = CallAndPrint(context, *stub, &v1::VerificationService::Stub::BatchEmbed, request);
  });

  auto match_options = std::make_shared<Options>();
  auto* match = app.add_subcommand(
      "match", "1:1 verification of two faces, or of one against an enrolled identity (Match)");
  match->add_option("faces", match_options->faces, face_help)->expected(1, 2)->required();
  match->add_option("--model", match_options->model, "Model (default: the server's default)");
  match->add_option("--gallery", match_options->gallery, "With --identity: its gallery");
  match->add_option("--identity", match_options->identity,
                    "Match the one face against this identity's templates in --gallery");
  match->add_flag("--flip", match_options->flip,
                  "Average each face with its mirror; a --far threshold then comes from an "
                  "evaluation of mirror-averaged embeddings");
  AddDecisionOptions(*match, match_options->decision);
  match->callback([&context, &exit_status, match_options] {
    const bool against_identity = !match_options->identity.empty();
    const size_t wanted = against_identity ? 1 : 2;
    if (match_options->faces.size() != wanted) {
      exit_status =
          context.Fail(against_identity ? "--identity takes one face, the probe"
                                        : "match takes two faces (or one and --identity)");
      return;
    }
    if (against_identity == match_options->gallery.empty()) {
      exit_status = context.Fail("--gallery and --identity go together");
      return;
    }
    v1::MatchRequest request;
    request.set_model(ResourceName("models", match_options->model));
    google::protobuf::RepeatedPtrField<v1::FaceInput> faces;
    if (!ParseFaces(context, match_options->faces, faces, exit_status)) return;
    *request.mutable_probe() = faces[0];
    if (against_identity) {
      v1::IdentityReference& reference = *request.mutable_reference_identity();
      reference.set_gallery(ResourceName("galleries", match_options->gallery));
      reference.set_identity_id(match_options->identity);
    } else {
      *request.mutable_reference_face() = faces[1];
    }
    request.set_flip_average(match_options->flip);
    FillDecision(match_options->decision, *request.mutable_decision());
    auto stub = v1::VerificationService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::VerificationService::Stub::Match, request);
  });

  auto batch_match_options = std::make_shared<Options>();
  auto* batch_match =
      app.add_subcommand("batch-match", "Many 1:1 verifications in one call (BatchMatch)");
  batch_match
      ->add_option("pairs", batch_match_options->pairs_file,
                   "File with one pair of face arguments per line, tab separated")
      ->required()
      ->check(CLI::ExistingFile);
  batch_match->add_option("--model", batch_match_options->model, "Model");
  AddDecisionOptions(*batch_match, batch_match_options->decision);
  batch_match->callback([&context, &exit_status, batch_match_options] {
    v1::BatchMatchRequest batch;
    std::ifstream in(batch_match_options->pairs_file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const std::vector<std::string> pair = absl::StrSplit(line, '\t');
      if (pair.size() != 2) {
        exit_status = context.Fail("each line needs two tab-separated faces: " + line);
        return;
      }
      google::protobuf::RepeatedPtrField<v1::FaceInput> faces;
      if (!ParseFaces(context, pair, faces, exit_status)) return;
      v1::MatchRequest& request = *batch.add_requests();
      request.set_model(ResourceName("models", batch_match_options->model));
      *request.mutable_probe() = faces[0];
      *request.mutable_reference_face() = faces[1];
      FillDecision(batch_match_options->decision, *request.mutable_decision());
    }
    auto stub = v1::VerificationService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::VerificationService::Stub::BatchMatch, batch);
  });

  auto identify_options = std::make_shared<Options>();
  auto* identify =
      app.add_subcommand("identify", "1:N identification against a gallery (Identify)");
  identify->add_option("faces", identify_options->faces, face_help)->required();
  identify->add_option("--gallery", identify_options->gallery, "Gallery name or id")->required();
  identify->add_option("--top-k", identify_options->top_k, "Candidates to return (default 10)");
  identify->add_option("--filter", identify_options->filters, "Metadata filter key=value");
  AddDecisionOptions(*identify, identify_options->decision);
  identify->callback([&context, &exit_status, identify_options] {
    const Options& o = *identify_options;
    auto stub = v1::VerificationService::NewStub(context.Channel());
    const auto filters = ParseFilters(o.filters);
    if (o.faces.size() == 1) {
      v1::IdentifyRequest request;
      request.set_gallery(ResourceName("galleries", o.gallery));
      google::protobuf::RepeatedPtrField<v1::FaceInput> faces;
      if (!ParseFaces(context, o.faces, faces, exit_status)) return;
      *request.mutable_probe() = faces[0];
      request.set_top_k(o.top_k);
      FillDecision(o.decision, *request.mutable_decision());
      request.mutable_metadata_filter()->insert(filters.begin(), filters.end());
      exit_status = CallAndPrint(context, *stub, &v1::VerificationService::Stub::Identify, request);
      return;
    }
    v1::BatchIdentifyRequest request;
    request.set_gallery(ResourceName("galleries", o.gallery));
    if (!ParseFaces(context, o.faces, *request.mutable_probes(), exit_status)) return;
    request.set_top_k(o.top_k);
    FillDecision(o.decision, *request.mutable_decision());
    request.mutable_metadata_filter()->insert(filters.begin(), filters.end());
    exit_status =
        CallAndPrint(context, *stub, &v1::VerificationService::Stub::BatchIdentify, request);
  });
}

}  // namespace qf::cli
