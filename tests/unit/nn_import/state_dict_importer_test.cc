// The state_dict reader and loader: every kind of wrong input ends in a
// clear status naming what is wrong, never in a crash or a partial load.
#include "core/nn/state_dict_importer.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/nn_import/reference_files.h"

namespace qf::nn {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMobileFaceNetTensors = 333;  // Entries of its state_dict.

std::string Message(const absl::Status& status) { return std::string(status.message()); }

std::string ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/nn_import_" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

StateDict ReadReference(const std::string& name) {
  absl::StatusOr<StateDict> state_dict = ReadStateDict(testing::ReferencePath(name));
  EXPECT_TRUE(state_dict.ok()) << state_dict.status();
  return state_dict.ok() ? *std::move(state_dict) : StateDict();
}

// ---------------------------------------------------------------------------
// Files.

TEST(ReadStateDictTest, ReadsEveryTensorOfATorchSaveFile) {
  QF_ASSERT_REFERENCE("mobilefacenet.pt");
  const StateDict state_dict = ReadReference("mobilefacenet.pt");
  EXPECT_EQ(static_cast<int64_t>(state_dict.size()), kMobileFaceNetTensors);
  // File order, as Module.state_dict() wrote it.
  EXPECT_EQ(state_dict.keys().front(), "layers.0.layers.0.weight");
  EXPECT_EQ(state_dict.keys().back(), "features.layers.3.num_batches_tracked");
  EXPECT_EQ(state_dict["layers.0.layers.0.weight"].sizes(), (std::vector<int64_t>{128, 3, 3, 3}));
  EXPECT_EQ(state_dict["conv_sep.layers.1.num_batches_tracked"].scalar_type(), torch::kLong);
}

TEST(ReadStateDictTest, InMemoryBytesReadLikeTheFile) {
  QF_ASSERT_REFERENCE("mobilefacenet.pt");
  const absl::StatusOr<StateDict> parsed =
      ParseStateDict(ReadBytes(testing::ReferencePath("mobilefacenet.pt")));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const StateDict read = ReadReference("mobilefacenet.pt");
  ASSERT_EQ(parsed->size(), read.size());
  for (const auto& item : read) {
    EXPECT_TRUE(torch::equal(item.value(), (*parsed)[item.key()])) << item.key();
  }
}

TEST(ReadStateDictTest, MissingFileIsNotFound) {
  const absl::StatusOr<StateDict> result = ReadStateDict("/nonexistent/weights.pt");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(result.status()), HasSubstr("/nonexistent/weights.pt"));
}

TEST(ReadStateDictTest, NonZipAndEmptyFilesAreRejected) {
  const absl::StatusOr<StateDict> text = ReadStateDict(WriteTemp("text.pt", "hello, weights"));
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(text.status()), HasSubstr("not a torch.save zip file"));

  const absl::StatusOr<StateDict> empty = ReadStateDict(WriteTemp("empty.pt", ""));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(empty.status()), HasSubstr("empty"));

  // A zip signature and nothing else.
  const absl::StatusOr<StateDict> stub = ParseStateDict(std::string("PK\x03\x04", 4));
  EXPECT_EQ(stub.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadStateDictTest, TruncatedFilesAreRejectedWithoutCrashing) {
  QF_ASSERT_REFERENCE("mobilefacenet.pt");
  const std::string bytes = ReadBytes(testing::ReferencePath("mobilefacenet.pt"));
  ASSERT_GT(bytes.size(), 10000u);
  std::vector<size_t> lengths = {1,
                                 3,
                                 4,
                                 5,
                                 8,
                                 30,
                                 64,
                                 100,
                                 1000,
                                 5000,
                                 bytes.size() / 2,
                                 bytes.size() - 4096,
                                 bytes.size() - 100,
                                 bytes.size() - 22,
                                 bytes.size() - 1};
  for (const size_t length : lengths) {
    const absl::StatusOr<StateDict> result = ParseStateDict(bytes.substr(0, length));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << "length " << length;
  }
  const std::string path = WriteTemp("truncated.pt", bytes.substr(0, bytes.size() / 2));
  const absl::StatusOr<StateDict> from_file = ReadStateDict(path);
  EXPECT_EQ(from_file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(from_file.status()), AllOf(HasSubstr(path), HasSubstr("truncated")));
}

// A damaged zip directory is caught. (Damaged tensor bytes are not: LibTorch
// 1.13's zip reader skips the CRC-32 check, so file integrity is for a
// digest of the whole file, as the model registry keeps, to establish.)
TEST(ReadStateDictTest, CorruptZipDirectoryIsRejected) {
  QF_ASSERT_REFERENCE("mobilefacenet.pt");
  std::string bytes = ReadBytes(testing::ReferencePath("mobilefacenet.pt"));
  const size_t end_of_directory = bytes.rfind(std::string("PK\x05\x06", 4));
  ASSERT_NE(end_of_directory, std::string::npos);
  bytes[end_of_directory + 1] = 'X';
  const absl::StatusOr<StateDict> result = ParseStateDict(bytes);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(result.status()), HasSubstr("corrupt or truncated"));
}

TEST(ReadStateDictTest, OtherTorchFormatsAreNamed) {
  QF_ASSERT_REFERENCE("legacy.pt");
  const absl::StatusOr<StateDict> legacy = ReadStateDict(testing::ReferencePath("legacy.pt"));
  EXPECT_EQ(legacy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(legacy.status()), HasSubstr("legacy"));

  const absl::StatusOr<StateDict> model = ReadStateDict(testing::ReferencePath("whole_model.pt"));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(model.status()),
              AllOf(HasSubstr("MobileFaceNet"), HasSubstr("save model.state_dict()")));

  const absl::StatusOr<StateDict> script = ReadStateDict(testing::ReferencePath("torchscript.pt"));
  EXPECT_EQ(script.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(script.status()), HasSubstr("TorchScript"));
}

// ---------------------------------------------------------------------------
// Loading into a module.

class LoadStateDictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QF_ASSERT_REFERENCE("mobilefacenet.pt");
    reference_ = ReadReference("mobilefacenet.pt");
    absl::StatusOr<std::shared_ptr<Backbone>> model = MakeArchitecture("mobilefacenet");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
  }

  StateDict reference_;
  std::shared_ptr<Backbone> model_;
};

TEST_F(LoadStateDictTest, CopiesEveryTensor) {
  ASSERT_TRUE(LoadStateDict(reference_, *model_).ok());
  const auto params = model_->named_parameters();
  const auto buffers = model_->named_buffers();
  for (const auto& item : reference_) {
    const torch::Tensor* ours = params.find(item.key());
    if (ours == nullptr) ours = buffers.find(item.key());
    ASSERT_NE(ours, nullptr) << item.key();
    EXPECT_TRUE(torch::equal(*ours, item.value())) << item.key();
  }
}

TEST_F(LoadStateDictTest, NamesEveryMissingTensor) {
  StateDict state_dict = reference_;
  for (const char* name : {"layers.0.layers.0.weight", "layers.3.layers.2.layers.1.layers.2.weight",
                           "features.layers.3.running_var"}) {
    state_dict.erase(name);
  }
  const absl::Status status = LoadStateDict(state_dict, *model_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status),
              AllOf(HasSubstr("3 missing"), HasSubstr("layers.0.layers.0.weight"),
                    HasSubstr("layers.3.layers.2.layers.1.layers.2.weight"),
                    HasSubstr("features.layers.3.running_var"), Not(HasSubstr("unexpected"))));
}

TEST_F(LoadStateDictTest, NamesEveryUnexpectedTensor) {
  StateDict state_dict = reference_;
  state_dict.insert("fc.weight", torch::zeros({512, 512}));
  state_dict.insert("layers.9.layers.0.weight", torch::zeros({1}));
  const absl::Status status = LoadStateDict(state_dict, *model_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), AllOf(HasSubstr("2 unexpected: fc.weight, layers.9.layers.0.weight"),
                                     Not(HasSubstr("missing"))));
}

TEST_F(LoadStateDictTest, NamesEveryMisShapedTensorWithBothShapes) {
  StateDict state_dict = reference_;
  state_dict["conv_sep.layers.0.weight"] = torch::zeros({512, 256, 3, 3});
  state_dict["features.layers.3.bias"] = torch::zeros({128});
  const absl::Status status = LoadStateDict(state_dict, *model_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      Message(status),
      AllOf(HasSubstr("2 mis-shaped"),
            HasSubstr("conv_sep.layers.0.weight (file [512, 256, 3, 3], model [512, 256, 1, 1])"),
            HasSubstr("features.layers.3.bias (file [128], model [512])")));
}

TEST_F(LoadStateDictTest, NamesTensorsOfTheWrongDtype) {
  StateDict state_dict = reference_;
  state_dict["layers.0.layers.2.weight"] = torch::ones({128}, torch::kInt);
  const absl::Status status = LoadStateDict(state_dict, *model_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("layers.0.layers.2.weight (file Int, model Float)"));
}

TEST_F(LoadStateDictTest, FailureLeavesTheModuleUntouched) {
  const torch::Tensor before = model_->named_parameters()["layers.0.layers.0.weight"].clone();
  StateDict state_dict = reference_;
  state_dict.erase("features.layers.2.weight");
  ASSERT_FALSE(LoadStateDict(state_dict, *model_).ok());
  EXPECT_TRUE(torch::equal(model_->named_parameters()["layers.0.layers.0.weight"], before));
}

TEST_F(LoadStateDictTest, StripsTheDataParallelPrefixOnlyWhenEveryNameHasIt) {
  StateDict prefixed;
  for (const auto& item : reference_) prefixed.insert("module." + item.key(), item.value());
  EXPECT_TRUE(LoadStateDict(prefixed, *model_).ok());

  // Mixed names are not a DataParallel save: the prefixed ones are unexpected.
  StateDict mixed = reference_;
  mixed.erase("conv_sep.layers.2.weight");
  mixed.insert("module.conv_sep.layers.2.weight", reference_["conv_sep.layers.2.weight"]);
  const absl::Status status = LoadStateDict(mixed, *model_);
  EXPECT_THAT(Message(status), AllOf(HasSubstr("1 missing: conv_sep.layers.2.weight"),
                                     HasSubstr("1 unexpected: module.conv_sep.layers.2.weight")));
}

TEST_F(LoadStateDictTest, ToleratesMissingNumBatchesTracked) {
  StateDict old_style;  // As saved by PyTorch < 0.4.1.
  for (const auto& item : reference_) {
    if (item.key().find("num_batches_tracked") == std::string::npos) {
      old_style.insert(item.key(), item.value());
    }
  }
  ASSERT_LT(old_style.size(), reference_.size());
  EXPECT_TRUE(LoadStateDict(old_style, *model_).ok());
}

TEST(ImportStateDictTest, BrokenFileNamesAllProblemsAndTheFile) {
  QF_ASSERT_REFERENCE("mobilefacenet_broken.pt");
  const std::string path = testing::ReferencePath("mobilefacenet_broken.pt");
  const absl::StatusOr<std::shared_ptr<Backbone>> model = ImportStateDict("mobilefacenet", path);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(model.status()),
              AllOf(HasSubstr(path), HasSubstr("mobilefacenet"),
                    HasSubstr("1 missing: conv_sep.layers.0.weight"),
                    HasSubstr("1 unexpected: head.weight"),
                    HasSubstr("1 mis-shaped: features.layers.2.weight (file [256, 512], model "
                              "[512, 512])")));
}

TEST(ImportStateDictTest, WrongArchitectureIsReportedNotCrashed) {
  QF_ASSERT_REFERENCE("mobilefacenet.pt");
  const absl::StatusOr<std::shared_ptr<Backbone>> model =
      ImportStateDict("iresnet18", testing::ReferencePath("mobilefacenet.pt"));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(model.status()), AllOf(HasSubstr("missing: conv1.weight"),
                                             HasSubstr("unexpected: layers.0.layers.0.weight")));
  EXPECT_EQ(
      ImportStateDict("resnet9000", testing::ReferencePath("mobilefacenet.pt")).status().code(),
      absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// The pickle interpreter, on hand-built and damaged pickles.

std::string Le32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}
std::string Str(const std::string& s) { return "X" + Le32(static_cast<uint32_t>(s.size())) + s; }
std::string Int(uint8_t v) { return std::string("K") + static_cast<char>(v); }
std::string Global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
std::string IntTuple(const std::vector<uint8_t>& values) {
  std::string out = "(";
  for (const uint8_t v : values) out += Int(v);
  return out + "t";
}
// A float tensor on storage `key` of `numel` elements, as torch.save writes it.
std::string Tensor(const std::string& key, uint8_t numel, uint8_t offset,
                   const std::vector<uint8_t>& size, const std::vector<uint8_t>& stride,
                   const std::string& location = "cpu") {
  return Global("torch._utils", "_rebuild_tensor_v2") + "((" + Str("storage") +
         Global("torch", "FloatStorage") + Str(key) + Str(location) + Int(numel) + "tQ" +
         Int(offset) + IntTuple(size) + IntTuple(stride) + "\x89" +
         Global("collections", "OrderedDict") + ")RtR";
}
constexpr char kProto2[] = "\x80\x02";

// Storage `key` holds the floats 0, 1, 2, ...; counts the loads.
struct CountingLoader {
  int loads = 0;
  absl::StatusOr<torch::Tensor> operator()(const std::string& /*key*/, int64_t num_bytes) {
    ++loads;
    const torch::Tensor values = torch::arange(num_bytes / 4, torch::kFloat);
    return values.view(torch::kByte).clone();
  }
};

absl::StatusOr<StateDict> Parse(const std::string& pickle, CountingLoader& loader) {
  return internal::ParseStateDictPickle(pickle, std::ref(loader));
}

TEST(PickleTest, StridedViewsOfOneSharedStorage) {
  const std::string pickle = std::string(kProto2) + "}(" + Str("a") +
                             Tensor("0", 6, 0, {2, 3}, {3, 1}) + Str("b") +
                             Tensor("0", 6, 1, {2, 2}, {1, 3}) + "u.";
  CountingLoader loader;
  const absl::StatusOr<StateDict> result = Parse(pickle, loader);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(loader.loads, 1);  // Shared storage, loaded once.
  EXPECT_TRUE(torch::equal((*result)["a"], torch::tensor({{0.f, 1.f, 2.f}, {3.f, 4.f, 5.f}})));
  EXPECT_TRUE(torch::equal((*result)["b"], torch::tensor({{1.f, 4.f}, {2.f, 5.f}})));
}

// Weights saved from a GPU load onto the CPU; the caller moves the module.
TEST(PickleTest, TensorsSavedOnCudaLoadOnTheCpu) {
  const std::string pickle =
      std::string(kProto2) + "}(" + Str("w") + Tensor("0", 2, 0, {2}, {1}, "cuda:0") + "u.";
  CountingLoader loader;
  const absl::StatusOr<StateDict> result = Parse(pickle, loader);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE((*result)["w"].device().is_cpu());
  EXPECT_TRUE(torch::equal((*result)["w"], torch::tensor({0.f, 1.f})));
}

TEST(PickleTest, ViewPastTheStorageIsRejected) {
  const std::string pickle =
      std::string(kProto2) + "}(" + Str("c") + Tensor("0", 6, 4, {3}, {1}) + "u.";
  CountingLoader loader;
  EXPECT_THAT(Message(Parse(pickle, loader).status()),
              HasSubstr("[3] at offset 4 reaches past its storage of 6 elements"));
}

TEST(PickleTest, MalformedPicklesGiveErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "truncated"},
      {std::string(kProto2) + "}", "truncated"},
      {std::string(kProto2) + "K\x05.", "holds a int, not a state_dict"},
      {std::string(kProto2) + "}" + Str("epoch") + Int(3) + "s.",
       "entries are not named tensors: epoch (int)"},
      {std::string(kProto2) + "s.", "empty stack"},
      {std::string(kProto2) + "h\x07.", "memo entry 7 was never stored"},
      {std::string(kProto2) + "\xff.", "opcode 0xff"},
      {"\x80\x01}.", "unsupported protocol 1"},
      {std::string(kProto2) + "(K\x01.", "unbalanced stack"},
      {std::string(kProto2) + Global("os", "system") + Str("true") + "\x85R.",
       "builds os.system, which is not part of a state_dict"},
      {std::string(kProto2) + Global("torch", "NotAStorage") + ".", "holds a global"},
      {std::string(kProto2) + "}(" + Str("t") + Global("torch._utils", "_rebuild_tensor_v2") + "(" +
           Str("storage") + "tQ.",
       "persistent id"},
  };
  for (const auto& [pickle, expected] : cases) {
    CountingLoader loader;
    const absl::StatusOr<StateDict> result = Parse(pickle, loader);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_THAT(Message(result.status()), HasSubstr(expected));
  }
}

TEST(PickleTest, EveryTruncationOfARealPickleIsAnError) {
  QF_ASSERT_REFERENCE("mobilefacenet_data.pkl");
  const std::string pickle = ReadBytes(testing::ReferencePath("mobilefacenet_data.pkl"));
  CountingLoader loader;
  const absl::StatusOr<StateDict> full = Parse(pickle, loader);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(static_cast<int64_t>(full->size()), kMobileFaceNetTensors);
  for (size_t length = 0; length < pickle.size(); length += (length < 2000 ? 1 : 211)) {
    EXPECT_FALSE(Parse(pickle.substr(0, length), loader).ok()) << "length " << length;
  }
}

TEST(PickleTest, RandomlyDamagedPicklesNeverCrash) {
  QF_ASSERT_REFERENCE("mobilefacenet_data.pkl");
  const std::string pickle = ReadBytes(testing::ReferencePath("mobilefacenet_data.pkl"));
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> position(0, pickle.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int failures = 0;
  for (int i = 0; i < 200; ++i) {
    std::string damaged = pickle;
    for (int j = 0; j < 1 + i % 4; ++j) damaged[position(rng)] = static_cast<char>(byte(rng));
    CountingLoader loader;
    const absl::StatusOr<StateDict> result = Parse(damaged, loader);
    if (!result.ok()) {
      ++failures;
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace qf::nn
