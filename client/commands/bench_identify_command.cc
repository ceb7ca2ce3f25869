// `quantface bench identify`: open-set 1:N identification on LFW through a
// running server (gRPC: BatchEmbed, Enroll, BatchIdentify), so it measures
// what clients get.
//
// Protocol (issue 6): the gallery holds the first image of every person with
// two or more images, plus the only image of every single-image person as a
// distractor; the probes are all other images of the 2+ people. Faces are
// given with the dataset's five landmarks. Reported:
// - rank-1 accuracy (closed set): the best candidate is the probe's person;
// - DIR at FAR (open set): the fraction of probes whose best candidate is
//   their person with a score at or above the threshold at which that FAR of
//   non-mated searches would raise an alarm. A probe's non-mated search is the
//   same search with its own identity left out: the best other candidate.
//   The threshold is chosen here on these searches, not taken from the
//   model's 1:1 operating points.
//
// Cross-model mode (--gallery-model TEACHER --model STUDENT): the gallery is
// created with and enrolled by the teacher, then rebound to the student with
// SwitchGalleryModel (templates kept), so the probes are embedded by the
// student: what a client gets after switching a gallery without
// re-enrolment.
//
// --flip: the gallery is created with flip_average, so templates (embedded
// here by BatchEmbed with flip_average) and probes are mirror-averaged.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "client/commands/commands.h"
#include "core/eval/lfw_dataset.h"
#include "quantface/v1/gallery.grpc.pb.h"
#include "quantface/v1/verification.grpc.pb.h"

namespace qf::cli {
namespace {

namespace v1 = ::quantface::v1;

struct IdentifyBenchOptions {
  std::string data;
  std::string model = "dlib-resnet";
  std::string gallery_model;  // Empty: --model.
  std::string gallery;
  int batch = 64;
  bool keep = false;
  std::vector<double> fars = {1e-2, 1e-3};
  int limit_people = 0;
  bool flip = false;
};

struct Image {
  std::string person;
  std::string key;
};

absl::StatusOr<v1::FaceInput> FaceOf(const eval::LfwDataset& dataset, const Image& image) {
  std::ifstream in(dataset.root + "/images/" + image.key, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + image.key);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  auto landmarks = dataset.landmarks.find(image.key);
  if (landmarks == dataset.landmarks.end()) {
    return absl::NotFoundError("no landmarks for " + image.key);
  }
  v1::FaceInput face;
  face.mutable_landmarked_image()->set_image(bytes.str());
  for (const auto& point : landmarks->second) {
    auto* out = face.mutable_landmarked_image()->add_landmarks();
    out->set_x(point.x);
    out->set_y(point.y);
  }
  return face;
}

// Threshold at which at most `far` of the non-mated best scores are >= it.
float ThresholdAtFar(std::vector<float> non_mated, double far) {
  std::sort(non_mated.begin(), non_mated.end(), std::greater<float>());
  const size_t allowed = static_cast<size_t>(std::floor(far * non_mated.size()));
  if (allowed >= non_mated.size()) return -1.0f;
  return std::nextafter(non_mated[allowed], 2.0f);
}

int RunIdentifyBench(CliContext& context, const IdentifyBenchOptions& o) {
  auto dataset = eval::LoadLfwDataset(o.data, {.load_landmarks = true, .load_people = true});
  if (!dataset.ok()) return context.Fail(std::string(dataset.status().message()), kExitRpcError);
  std::vector<Image> gallery_images;
  std::vector<Image> probes;
  int people = 0;
  for (const auto& person : dataset->people) {
    if (o.limit_people > 0 && people >= o.limit_people) break;
    ++people;
    gallery_images.push_back({person.name, eval::LfwImageKey(person.name, 1)});
    for (int i = 2; i <= person.num_images; ++i) {
      probes.push_back({person.name, eval::LfwImageKey(person.name, i)});
    }
  }
  const std::string model = ResourceName("models", o.model);
  const std::string gallery_model =
      o.gallery_model.empty() ? model : ResourceName("models", o.gallery_model);
  const std::string gallery_id = o.gallery.empty() ? "lfw-identify-" + o.model : o.gallery;
  const std::string gallery_name = "galleries/" + gallery_id;
  auto galleries = v1::GalleryService::NewStub(context.Channel());
  auto verification = v1::VerificationService::NewStub(context.Channel());

  {
    v1::DeleteGalleryRequest request;
    request.set_name(gallery_name);
    google::protobuf::Empty empty;
    const grpc::Status status =
        galleries->DeleteGallery(context.NewCallContext().get(), request, &empty);
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
      return context.Fail(status);
    }
    v1::CreateGalleryRequest create;
    create.set_gallery_id(gallery_id);
    create.mutable_gallery()->set_model(gallery_model);
    create.mutable_gallery()->set_display_name("LFW identification benchmark");
    create.mutable_gallery()->set_flip_average(o.flip);
    v1::Gallery gallery;
    const grpc::Status created =
        galleries->CreateGallery(context.NewCallContext().get(), create, &gallery);
    if (!created.ok()) return context.Fail(created);
  }

  const auto start = std::chrono::steady_clock::now();
  // Enrol: embed in batches (BatchEmbed), then one Enroll per person with
  // the embedding, so the model runs batched as in the probes.
  int enrolled = 0;
  int missing = 0;  // images listed in people.txt but absent from images/
  for (size_t first = 0; first < gallery_images.size(); first += o.batch) {
    const size_t last = std::min(gallery_images.size(), first + o.batch);
    v1::BatchEmbedRequest request;
    request.set_model(gallery_model);
    request.set_flip_average(o.flip);
    std::vector<size_t> sent;
    for (size_t i = first; i < last; ++i) {
      auto face = FaceOf(*dataset, gallery_images[i]);
      if (!face.ok()) {
        std::cerr << "skipped: " << face.status().message() << "\n";
        ++missing;
        continue;
      }
      *request.add_faces() = *std::move(face);
      sent.push_back(i);
    }
    v1::BatchEmbedResponse response;
    const grpc::Status status =
        verification->BatchEmbed(context.NewCallContext().get(), request, &response);
    if (!status.ok()) return context.Fail(status);
    for (size_t r = 0; r < sent.size(); ++r) {
      const size_t i = sent[r];
      const auto& result = response.results(static_cast<int>(r));
      if (result.status().code() != 0) {
        std::cerr << "skipped gallery image " << gallery_images[i].key << ": "
                  << result.status().message() << "\n";
        continue;
      }
      v1::EnrollRequest enroll;
      enroll.set_gallery(gallery_name);
      enroll.set_identity_id(gallery_images[i].person);
      *enroll.add_faces()->mutable_embedding() = result.response().embedding();
      v1::EnrollResponse enrolled_response;
      const grpc::Status enroll_status =
          galleries->Enroll(context.NewCallContext().get(), enroll, &enrolled_response);
      if (!enroll_status.ok()) return context.Fail(enroll_status);
      ++enrolled;
    }
    context.Note(absl::StrCat("enrolled ", enrolled, "/", gallery_images.size()));
  }
  const std::chrono::duration<double> enroll_seconds = std::chrono::steady_clock::now() - start;
  if (gallery_model != model) {
    v1::SwitchGalleryModelRequest request;
    request.set_name(gallery_name);
    request.set_model(model);
    v1::Gallery switched;
    const grpc::Status status =
        galleries->SwitchGalleryModel(context.NewCallContext().get(), request, &switched);
    if (!status.ok()) return context.Fail(status);
  }

  // Search: top 2, no rejection, so both the best and the best other
  // candidate are known for every probe.
  std::vector<float> mated_rank1_scores;  // score of the best candidate when it is correct
  std::vector<bool> correct;
  std::vector<float> non_mated;
  int failed = 0;
  const auto search_start = std::chrono::steady_clock::now();
  for (size_t first = 0; first < probes.size(); first += o.batch) {
    const size_t last = std::min(probes.size(), first + o.batch);
    v1::BatchIdentifyRequest request;
    request.set_gallery(gallery_name);
    request.set_top_k(2);
    request.mutable_decision()->set_threshold(-2.0f);
    std::vector<size_t> sent;
    for (size_t i = first; i < last; ++i) {
      auto face = FaceOf(*dataset, probes[i]);
      if (!face.ok()) {
        std::cerr << "skipped: " << face.status().message() << "\n";
        ++missing;
        continue;
      }
      *request.add_probes() = *std::move(face);
      sent.push_back(i);
    }
    v1::BatchIdentifyResponse response;
    const grpc::Status status =
        verification->BatchIdentify(context.NewCallContext().get(), request, &response);
    if (!status.ok()) return context.Fail(status);
    for (size_t r = 0; r < sent.size(); ++r) {
      const size_t i = sent[r];
      const auto& result = response.results(static_cast<int>(r));
      if (result.status().code() != 0 || result.response().candidates_size() < 2) {
        ++failed;
        correct.push_back(false);
        mated_rank1_scores.push_back(-2.0f);
        continue;
      }
      const auto& candidates = result.response().candidates();
      const bool hit = candidates[0].identity_id() == probes[i].person;
      correct.push_back(hit);
      mated_rank1_scores.push_back(hit ? candidates[0].score() : -2.0f);
      non_mated.push_back(hit ? candidates[1].score() : candidates[0].score());
    }
    context.Note(absl::StrCat("searched ", last, "/", probes.size()));
  }
  const std::chrono::duration<double> search_seconds =
      std::chrono::steady_clock::now() - search_start;

  const double total = static_cast<double>(correct.size());
  const double rank1 = std::count(correct.begin(), correct.end(), true) / total;
  nlohmann::json report = {{"model", model},
                           {"gallery_model", gallery_model},
                           {"gallery", gallery_name},
                           {"gallery_size", enrolled},
                           {"flip_average", o.flip},
                           {"probes", correct.size()},
                           {"missing_images", missing},
                           {"failed_probes", failed},
                           {"rank1", rank1},
                           {"enroll_seconds", enroll_seconds.count()},
                           {"search_seconds", search_seconds.count()}};
  for (double far : o.fars) {
    const float threshold = ThresholdAtFar(non_mated, far);
    size_t detected = 0;
    for (size_t i = 0; i < correct.size(); ++i) {
      detected += correct[i] && mated_rank1_scores[i] >= threshold;
    }
    report["dir_at_far"].push_back(
        {{"far", far}, {"threshold", threshold}, {"dir", detected / total}});
  }
  if (context.json) {
    std::cout << report.dump() << "\n";
  } else {
    std::cout << "model " << model;
    if (gallery_model != model) std::cout << " (gallery enrolled by " << gallery_model << ")";
    if (o.flip) std::cout << ", mirror-averaged";
    std::cout << ", gallery " << enrolled << " identities, " << correct.size() << " probes ("
              << failed << " failed, " << missing << " images missing from the data)\n"
              << "rank-1 accuracy: " << 100 * rank1 << " %\n";
    for (const auto& point : report["dir_at_far"]) {
      std::cout << "DIR at FAR " << point["far"].get<double>() << ": "
                << 100 * point["dir"].get<double>() << " % (threshold "
                << point["threshold"].get<float>() << ")\n";
    }
    std::cout << "enrol " << enroll_seconds.count() << " s, search " << search_seconds.count()
              << " s (" << 1e3 * search_seconds.count() / total << " ms per probe)\n";
  }
  if (!o.keep) {
    v1::DeleteGalleryRequest request;
    request.set_name(gallery_name);
    google::protobuf::Empty empty;
    (void)galleries->DeleteGallery(context.NewCallContext().get(), request, &empty);
  }
  return kExitOk;
}

}  // namespace

void AddBenchIdentifyCommand(CLI::App& bench, CliContext& context, int& exit_status) {
  auto o = std::make_shared<IdentifyBenchOptions>();
  auto* identify = bench.add_subcommand(
      "identify", "LFW open-set 1:N identification through a running server (gRPC)");
  identify->add_option("--data", o->data, "LFW folder (people.txt, images/, landmarks5.tsv)")
      ->required()
      ->check(CLI::ExistingDirectory);
  identify->add_option("--model", o->model, "Model the gallery is bound to")->capture_default_str();
  identify->add_option("--gallery-model", o->gallery_model,
                       "Enrol the gallery with this model, then switch it to --model "
                       "(cross-model: teacher gallery, student probes)");
  identify->add_option("--gallery", o->gallery,
                       "Gallery id to (re)create (default lfw-identify-<model>)");
  identify->add_option("--batch", o->batch, "Faces per BatchEmbed/BatchIdentify call")
      ->capture_default_str();
  identify->add_option("--far", o->fars, "False-alarm rates for DIR")->capture_default_str();
  identify->add_option("--limit-people", o->limit_people, "Only the first N people (0 = all)");
  identify->add_flag("--keep", o->keep, "Keep the gallery afterwards");
  identify->add_flag("--flip", o->flip,
                     "Mirror-averaged gallery (Gallery.flip_average): templates and probes");
  identify->callback([&context, &exit_status, o] { exit_status = RunIdentifyBench(context, *o); });
}

}  // namespace qf::cli
