// `quantface gallery ...`: GalleryService.
#include "absl/strings/str_split.h"
#include "client/commands/commands.h"
#include "client/commands/unary_call.h"
#include "client/face_input.h"
#include "quantface/v1/gallery.grpc.pb.h"

namespace qf::cli {
namespace {

namespace v1 = ::quantface::v1;

struct Options {
  std::string name;
  std::string model;
  std::string display_name;
  std::string identity;
  std::vector<std::string> faces;
  std::vector<std::string> metadata;
  int page_size = 0;
  std::string page_token;
  bool flip = false;
};

}  // namespace

void AddGalleryCommands(CLI::App& app, CliContext& context, int& exit_status) {
  auto* gallery = app.add_subcommand("gallery", "Galleries of enrolled identities");
  gallery->require_subcommand(1);
  auto o = std::make_shared<Options>();

  auto* create = gallery->add_subcommand("create", "Create a gallery bound to a model");
  create->add_option("id", o->name, "Gallery id")->required();
  create->add_option("--model", o->model, "Model the gallery's embeddings come from")->required();
  create->add_option("--display-name", o->display_name, "Human-readable name");
  create->add_flag("--flip", o->flip,
                   "Mirror-averaged templates and probes (twice the forwards; thresholds from "
                   "evaluations/flip/)");
  create->callback([&context, &exit_status, o] {
    v1::CreateGalleryRequest request;
    request.set_gallery_id(o->name);
    request.mutable_gallery()->set_model(ResourceName("models", o->model));
    request.mutable_gallery()->set_display_name(o->display_name);
    request.mutable_gallery()->set_flip_average(o->flip);
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::CreateGallery, request);
  });

  auto* switch_model = gallery->add_subcommand(
      "switch-model",
      "Rebind a gallery to a student of its model (or back to the teacher), keeping templates");
  switch_model->add_option("name", o->name, "Gallery name or id")->required();
  switch_model->add_option("--model", o->model, "Model to switch to")->required();
  switch_model->callback([&context, &exit_status, o] {
    v1::SwitchGalleryModelRequest request;
    request.set_name(ResourceName("galleries", o->name));
    request.set_model(ResourceName("models", o->model));
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status =
        CallAndPrint(context, *stub, &v1::GalleryService::Stub::SwitchGalleryModel, request);
  });

  auto* get = gallery->add_subcommand("get", "Show a gallery");
  get->add_option("name", o->name, "Gallery name or id")->required();
  get->callback([&context, &exit_status, o] {
    v1::GetGalleryRequest request;
    request.set_name(ResourceName("galleries", o->name));
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::GetGallery, request);
  });

  auto* list = gallery->add_subcommand("list", "List galleries");
  list->add_option("--page-size", o->page_size, "Galleries per page");
  list->add_option("--page-token", o->page_token, "Token from the previous page");
  list->callback([&context, &exit_status, o] {
    v1::ListGalleriesRequest request;
    request.set_page_size(o->page_size);
    request.set_page_token(o->page_token);
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::ListGalleries, request);
  });

  auto* remove = gallery->add_subcommand("delete", "Delete a gallery and its identities");
  remove->add_option("name", o->name, "Gallery name or id")->required();
  remove->callback([&context, &exit_status, o] {
    v1::DeleteGalleryRequest request;
    request.set_name(ResourceName("galleries", o->name));
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::DeleteGallery, request);
  });

  auto* enroll = gallery->add_subcommand("enroll", "Enroll faces of one identity");
  enroll->add_option("gallery", o->name, "Gallery name or id")->required();
  enroll->add_option("identity", o->identity, "Identity id")->required();
  enroll
      ->add_option("faces", o->faces,
                   "Faces: PATH, PATH@x1,y1,...,x5,y5, aligned:PATH, embedding:PATH.json")
      ->required();
  enroll->add_option("--display-name", o->display_name, "Human-readable name");
  enroll->add_option("--meta", o->metadata, "Metadata key=value");
  enroll->callback([&context, &exit_status, o] {
    v1::EnrollRequest request;
    request.set_gallery(ResourceName("galleries", o->name));
    request.set_identity_id(o->identity);
    request.set_display_name(o->display_name);
    for (const std::string& argument : o->faces) {
      auto face = ParseFaceArgument(argument);
      if (!face.ok()) {
        exit_status = context.Fail(std::string(face.status().message()));
        return;
      }
      *request.add_faces() = *std::move(face);
    }
    for (const std::string& entry : o->metadata) {
      std::pair<std::string, std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
      (*request.mutable_metadata())[kv.first] = kv.second;
    }
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::Enroll, request);
  });

  auto* remove_identity = gallery->add_subcommand("remove", "Remove an identity and its templates");
  remove_identity->alias("remove-identity");
  remove_identity->add_option("gallery", o->name, "Gallery name or id")->required();
  remove_identity->add_option("identity", o->identity, "Identity id")->required();
  remove_identity->callback([&context, &exit_status, o] {
    v1::RemoveIdentityRequest request;
    request.set_name(ResourceName("galleries", o->name) + "/identities/" + o->identity);
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::RemoveIdentity, request);
  });

  auto* identities = gallery->add_subcommand("identities", "List a gallery's identities");
  identities->add_option("gallery", o->name, "Gallery name or id")->required();
  identities->add_option("--page-size", o->page_size, "Identities per page");
  identities->add_option("--page-token", o->page_token, "Token from the previous page");
  identities->callback([&context, &exit_status, o] {
    v1::ListIdentitiesRequest request;
    request.set_gallery(ResourceName("galleries", o->name));
    request.set_page_size(o->page_size);
    request.set_page_token(o->page_token);
    auto stub = v1::GalleryService::NewStub(context.Channel());
    exit_status = CallAndPrint(context, *stub, &v1::GalleryService::Stub::ListIdentities, request);
  });
}

}  // namespace qf::cli
