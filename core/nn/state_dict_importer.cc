#include "core/nn/state_dict_importer.h"

#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/nn/iresnet.h"
#include "core/nn/mobilefacenet.h"
#include "core/util/status_macros.h"

namespace qf::nn {
namespace {

// ---------------------------------------------------------------------------
// Python values, as far as a torch.save'd dict of tensors needs them.

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

struct PyTuple {
  std::vector<PyRef> items;
};
struct PyList {
  std::vector<PyRef> items;
};
struct PyDict {
  std::vector<std::pair<PyRef, PyRef>> items;
};
// A module-level Python name (class or function) the pickle refers to.
struct PyGlobal {
  std::string module;
  std::string name;
};
// A tensor storage: all its elements as a 1-D tensor of the storage's dtype.
struct PyStorage {
  torch::Tensor elements;
};

struct PyValue {
  std::variant<std::monostate, bool, int64_t, double, std::string, PyTuple, PyList, PyDict,
               PyGlobal, PyStorage, torch::Tensor>
      v;
};

template <typename T>
PyRef MakeValue(T value) {
  auto ref = std::make_shared<PyValue>();
  ref->v = std::move(value);
  return ref;
}

std::string TypeName(const PyValue& value) {
  struct Namer {
    std::string operator()(const std::monostate&) const { return "None"; }
    std::string operator()(bool) const { return "bool"; }
    std::string operator()(int64_t) const { return "int"; }
    std::string operator()(double) const { return "float"; }
    std::string operator()(const std::string&) const { return "str"; }
    std::string operator()(const PyTuple&) const { return "tuple"; }
    std::string operator()(const PyList&) const { return "list"; }
    std::string operator()(const PyDict&) const { return "dict"; }
    std::string operator()(const PyGlobal& g) const {
      return absl::StrCat("global ", g.module, ".", g.name);
    }
    std::string operator()(const PyStorage&) const { return "storage"; }
    std::string operator()(const torch::Tensor&) const { return "tensor"; }
  };
  return std::visit(Namer{}, value.v);
}

std::string ShapeString(torch::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

// The dtype of a legacy typed-storage class name, as torch.save writes it in
// every tensor's persistent id (e.g. torch.FloatStorage).
absl::StatusOr<torch::ScalarType> StorageDtype(const PyGlobal& g) {
  static const std::map<std::string, torch::ScalarType> kByName = {
      {"FloatStorage", torch::kFloat}, {"DoubleStorage", torch::kDouble},
      {"HalfStorage", torch::kHalf},   {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kLong},   {"IntStorage", torch::kInt},
      {"ShortStorage", torch::kShort}, {"CharStorage", torch::kChar},
      {"ByteStorage", torch::kByte},   {"BoolStorage", torch::kBool},
  };
  const auto it = kByName.find(g.name);
  if (g.module != "torch" || it == kByName.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported tensor storage type ", g.module, ".", g.name));
  }
  return it->second;
}

// ---------------------------------------------------------------------------
// A pickle virtual machine for the opcodes torch.save (pickle protocol 2, or
// up to 5 when asked for) emits for a dict of tensors. Each opcode checks the
// bytes and the stack it needs, so malformed input ends in an error status.
class PickleMachine {
 public:
  PickleMachine(std::string_view bytes, const internal::StorageLoader& load_storage)
      : bytes_(bytes), load_storage_(load_storage) {}

  absl::StatusOr<PyRef> Run() {
    while (true) {
      const size_t at = pos_;
      QF_ASSIGN_OR_RETURN(const uint8_t opcode, ReadInt<uint8_t>());
      if (opcode == '.') {  // STOP
        if (stack_.size() != 1 || !marks_.empty()) {
          return Error(at, "pickle ends with an unbalanced stack");
        }
        return stack_.back();
      }
      const absl::Status status = Step(opcode);
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("pickle opcode 0x%02x at byte %d: %s", opcode, at, status.message()));
      }
    }
  }

 private:
  static absl::Status Error(size_t at, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("pickle at byte ", at, ": ", what));
  }

  absl::StatusOr<std::string_view> ReadBytes(uint64_t n) {
    if (n > bytes_.size() - pos_) {
      return absl::InvalidArgumentError(absl::StrCat("needs ", n, " more bytes but only ",
                                                     bytes_.size() - pos_, " remain (truncated?)"));
    }
    const std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  // Little-endian fixed-width integer, as pickle stores them.
  template <typename T>
  absl::StatusOr<T> ReadInt() {
    QF_ASSIGN_OR_RETURN(const std::string_view raw, ReadBytes(sizeof(T)));
    uint64_t value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      value |= uint64_t{static_cast<uint8_t>(raw[i])} << (8 * i);
    }
    return static_cast<T>(value);
  }

  absl::StatusOr<std::string_view> ReadLine() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) return absl::InvalidArgumentError("unterminated line");
    const std::string_view line = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  absl::Status Push(PyRef value) {
    stack_.push_back(std::move(value));
    return absl::OkStatus();
  }

  absl::StatusOr<PyRef> Pop() {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return absl::InvalidArgumentError("pops an empty stack");
    PyRef top = std::move(stack_.back());
    stack_.pop_back();
    return top;
  }

  absl::StatusOr<PyRef> Top() const {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return absl::InvalidArgumentError("reads an empty stack");
    return stack_.back();
  }

  // The values pushed since the last MARK, which is consumed.
  absl::StatusOr<std::vector<PyRef>> PopToMark() {
    if (marks_.empty()) return absl::InvalidArgumentError("no MARK on the stack");
    const size_t start = marks_.back();
    marks_.pop_back();
    std::vector<PyRef> items(std::make_move_iterator(stack_.begin() + start),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(start);
    return items;
  }

  absl::Status Memoize(uint64_t index) {
    QF_ASSIGN_OR_RETURN(PyRef top, Top());
    memo_[index] = std::move(top);
    return absl::OkStatus();
  }

  absl::Status Recall(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("memo entry ", index, " was never stored"));
    }
    return Push(it->second);
  }

  static absl::StatusOr<PyDict*> AsDict(const PyRef& ref) {
    if (auto* dict = std::get_if<PyDict>(&ref->v)) return dict;
    return absl::InvalidArgumentError(absl::StrCat("expected a dict, found ", TypeName(*ref)));
  }

  static absl::StatusOr<PyList*> AsList(const PyRef& ref) {
    if (auto* list = std::get_if<PyList>(&ref->v)) return list;
    return absl::InvalidArgumentError(absl::StrCat("expected a list, found ", TypeName(*ref)));
  }

  absl::Status SetItems(std::vector<PyRef> items) {
    if (items.size() % 2 != 0) return absl::InvalidArgumentError("odd number of key/value items");
    QF_ASSIGN_OR_RETURN(const PyRef target, Top());
    QF_ASSIGN_OR_RETURN(PyDict* const dict, AsDict(target));
    for (size_t i = 0; i < items.size(); i += 2) {
      dict->items.emplace_back(std::move(items[i]), std::move(items[i + 1]));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PyRef> PopTupleOf(size_t n) {
    if (stack_.size() < n + (marks_.empty() ? 0 : marks_.back())) {
      return absl::InvalidArgumentError("tuple needs more stack items than there are");
    }
    PyTuple tuple;
    tuple.items.assign(std::make_move_iterator(stack_.end() - n),
                       std::make_move_iterator(stack_.end()));
    stack_.resize(stack_.size() - n);
    return MakeValue(std::move(tuple));
  }

  absl::Status PushString(uint64_t length) {
    QF_ASSIGN_OR_RETURN(const std::string_view raw, ReadBytes(length));
    return Push(MakeValue(std::string(raw)));
  }

  absl::Status PushLong(uint64_t length) {
    // Two's complement little-endian; a state_dict only has small ones.
    if (length > 8) return absl::InvalidArgumentError("integer wider than 64 bits");
    QF_ASSIGN_OR_RETURN(const std::string_view raw, ReadBytes(length));
    uint64_t value = 0;
    for (size_t i = 0; i < length; ++i) {
      value |= uint64_t{static_cast<uint8_t>(raw[i])} << (8 * i);
    }
    if (length > 0 && length < 8 && (static_cast<uint8_t>(raw[length - 1]) & 0x80) != 0) {
      value |= ~uint64_t{0} << (8 * length);  // Sign-extend.
    }
    return Push(MakeValue(static_cast<int64_t>(value)));
  }

  absl::Status Step(uint8_t opcode) {
    switch (opcode) {
      case 0x80: {  // PROTO
        QF_ASSIGN_OR_RETURN(const uint8_t version, ReadInt<uint8_t>());
        if (version < 2 || version > 5) {
          return absl::InvalidArgumentError(absl::StrCat("unsupported protocol ", version));
        }
        return absl::OkStatus();
      }
      case 0x95:  // FRAME: only a read-ahead hint.
        return ReadInt<uint64_t>().status();
      case '(':  // MARK
        marks_.push_back(stack_.size());
        return absl::OkStatus();
      case '0':  // POP
        return Pop().status();
      case '1':  // POP_MARK
        return PopToMark().status();
      case '2': {  // DUP
        QF_ASSIGN_OR_RETURN(PyRef top, Top());
        return Push(std::move(top));
      }
      case 'N':  // NONE
        return Push(MakeValue(std::monostate{}));
      case 0x88:  // NEWTRUE
        return Push(MakeValue(true));
      case 0x89:  // NEWFALSE
        return Push(MakeValue(false));
      case 'J': {  // BININT
        QF_ASSIGN_OR_RETURN(const int32_t value, ReadInt<int32_t>());
        return Push(MakeValue(int64_t{value}));
      }
      case 'K': {  // BININT1
        QF_ASSIGN_OR_RETURN(const uint8_t value, ReadInt<uint8_t>());
        return Push(MakeValue(int64_t{value}));
      }
      case 'M': {  // BININT2
        QF_ASSIGN_OR_RETURN(const uint16_t value, ReadInt<uint16_t>());
        return Push(MakeValue(int64_t{value}));
      }
      case 0x8a: {  // LONG1
        QF_ASSIGN_OR_RETURN(const uint8_t length, ReadInt<uint8_t>());
        return PushLong(length);
      }
      case 0x8b: {  // LONG4
        QF_ASSIGN_OR_RETURN(const uint32_t length, ReadInt<uint32_t>());
        return PushLong(length);
      }
      case 'G': {  // BINFLOAT, big-endian IEEE 754 double.
        QF_ASSIGN_OR_RETURN(const std::string_view raw, ReadBytes(8));
        uint64_t bits = 0;
        for (const char c : raw) bits = (bits << 8) | static_cast<uint8_t>(c);
        double value = 0;
        std::memcpy(&value, &bits, sizeof(value));
        return Push(MakeValue(value));
      }
      case 'X': {  // BINUNICODE
        QF_ASSIGN_OR_RETURN(const uint32_t length, ReadInt<uint32_t>());
        return PushString(length);
      }
      case 0x8c: {  // SHORT_BINUNICODE
        QF_ASSIGN_OR_RETURN(const uint8_t length, ReadInt<uint8_t>());
        return PushString(length);
      }
      case 0x8d: {  // BINUNICODE8
        QF_ASSIGN_OR_RETURN(const uint64_t length, ReadInt<uint64_t>());
        return PushString(length);
      }
      case 'U':    // SHORT_BINSTRING
      case 'C': {  // SHORT_BINBYTES
        QF_ASSIGN_OR_RETURN(const uint8_t length, ReadInt<uint8_t>());
        return PushString(length);
      }
      case 'T':    // BINSTRING
      case 'B': {  // BINBYTES
        QF_ASSIGN_OR_RETURN(const uint32_t length, ReadInt<uint32_t>());
        return PushString(length);
      }
      case ')':  // EMPTY_TUPLE
        return Push(MakeValue(PyTuple{}));
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        QF_ASSIGN_OR_RETURN(PyRef tuple, PopTupleOf(opcode - 0x85 + 1));
        return Push(std::move(tuple));
      }
      case 't': {  // TUPLE
        QF_ASSIGN_OR_RETURN(std::vector<PyRef> items, PopToMark());
        return Push(MakeValue(PyTuple{std::move(items)}));
      }
      case ']':  // EMPTY_LIST
        return Push(MakeValue(PyList{}));
      case 'l': {  // LIST
        QF_ASSIGN_OR_RETURN(std::vector<PyRef> items, PopToMark());
        return Push(MakeValue(PyList{std::move(items)}));
      }
      case 'a': {  // APPEND
        QF_ASSIGN_OR_RETURN(PyRef item, Pop());
        QF_ASSIGN_OR_RETURN(const PyRef target, Top());
        QF_ASSIGN_OR_RETURN(PyList* const list, AsList(target));
        list->items.push_back(std::move(item));
        return absl::OkStatus();
      }
      case 'e': {  // APPENDS
        QF_ASSIGN_OR_RETURN(std::vector<PyRef> items, PopToMark());
        QF_ASSIGN_OR_RETURN(const PyRef target, Top());
        QF_ASSIGN_OR_RETURN(PyList* const list, AsList(target));
        for (PyRef& item : items) list->items.push_back(std::move(item));
        return absl::OkStatus();
      }
      case '}':  // EMPTY_DICT
        return Push(MakeValue(PyDict{}));
      case 'd': {  // DICT
        QF_ASSIGN_OR_RETURN(std::vector<PyRef> items, PopToMark());
        QF_RETURN_IF_ERROR(Push(MakeValue(PyDict{})));
        return SetItems(std::move(items));
      }
      case 's': {  // SETITEM
        QF_ASSIGN_OR_RETURN(PyRef value, Pop());
        QF_ASSIGN_OR_RETURN(PyRef key, Pop());
        std::vector<PyRef> items;
        items.push_back(std::move(key));
        items.push_back(std::move(value));
        return SetItems(std::move(items));
      }
      case 'u': {  // SETITEMS
        QF_ASSIGN_OR_RETURN(std::vector<PyRef> items, PopToMark());
        return SetItems(std::move(items));
      }
      case 'q': {  // BINPUT
        QF_ASSIGN_OR_RETURN(const uint8_t index, ReadInt<uint8_t>());
        return Memoize(index);
      }
      case 'r': {  // LONG_BINPUT
        QF_ASSIGN_OR_RETURN(const uint32_t index, ReadInt<uint32_t>());
        return Memoize(index);
      }
      case 0x94:  // MEMOIZE
        return Memoize(memo_.size());
      case 'h': {  // BINGET
        QF_ASSIGN_OR_RETURN(const uint8_t index, ReadInt<uint8_t>());
        return Recall(index);
      }
      case 'j': {  // LONG_BINGET
        QF_ASSIGN_OR_RETURN(const uint32_t index, ReadInt<uint32_t>());
        return Recall(index);
      }
      case 'c': {  // GLOBAL
        QF_ASSIGN_OR_RETURN(const std::string_view module, ReadLine());
        QF_ASSIGN_OR_RETURN(const std::string_view name, ReadLine());
        return Push(MakeValue(PyGlobal{std::string(module), std::string(name)}));
      }
      case 0x93: {  // STACK_GLOBAL
        QF_ASSIGN_OR_RETURN(const PyRef name, Pop());
        QF_ASSIGN_OR_RETURN(const PyRef module, Pop());
        const auto* name_str = std::get_if<std::string>(&name->v);
        const auto* module_str = std::get_if<std::string>(&module->v);
        if (name_str == nullptr || module_str == nullptr) {
          return absl::InvalidArgumentError("STACK_GLOBAL needs two strings");
        }
        return Push(MakeValue(PyGlobal{*module_str, *name_str}));
      }
      case 'R':     // REDUCE: callable(*args)
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args), the same for our classes.
        QF_ASSIGN_OR_RETURN(const PyRef args, Pop());
        QF_ASSIGN_OR_RETURN(const PyRef callable, Pop());
        const auto* global = std::get_if<PyGlobal>(&callable->v);
        const auto* tuple = std::get_if<PyTuple>(&args->v);
        if (global == nullptr || tuple == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat("cannot call ", TypeName(*callable),
                                                         " with ", TypeName(*args), " arguments"));
        }
        QF_ASSIGN_OR_RETURN(PyRef result, Call(*global, tuple->items));
        return Push(std::move(result));
      }
      case 'b': {  // BUILD: obj.__setstate__(state)
        QF_ASSIGN_OR_RETURN(const PyRef state, Pop());
        QF_ASSIGN_OR_RETURN(const PyRef target, Top());
        // Only state_dict's OrderedDict has state: its `_metadata` (module
        // versions, which only Python's own loaders consult).
        if (!std::holds_alternative<PyDict>(target->v)) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot set the state of a ", TypeName(*target)));
        }
        return absl::OkStatus();
      }
      case 'Q': {  // BINPERSID: a tensor storage, by reference to a zip record.
        QF_ASSIGN_OR_RETURN(const PyRef pid, Pop());
        QF_ASSIGN_OR_RETURN(PyRef storage, LoadStorage(*pid));
        return Push(std::move(storage));
      }
      default:
        return absl::InvalidArgumentError(
            "opcode not used by torch.save for a dict of tensors (is this a torch.save file?)");
    }
  }

  // The few callables a state_dict pickle uses. Anything else means the file
  // holds some other Python object; we never execute or emulate those.
  absl::StatusOr<PyRef> Call(const PyGlobal& callable, const std::vector<PyRef>& args) {
    if (callable.module == "collections" && callable.name == "OrderedDict") {
      if (!args.empty()) return absl::InvalidArgumentError("OrderedDict(...) with arguments");
      return MakeValue(PyDict{});
    }
    if (callable.module == "torch._utils" &&
        (callable.name == "_rebuild_tensor_v2" || callable.name == "_rebuild_tensor")) {
      return RebuildTensor(args);
    }
    if (callable.module == "torch._utils" && (callable.name == "_rebuild_parameter" ||
                                              callable.name == "_rebuild_parameter_with_state")) {
      // (data, requires_grad, backward_hooks[, state]): the data is all we need.
      if (args.empty() || !std::holds_alternative<torch::Tensor>(args[0]->v)) {
        return absl::InvalidArgumentError("_rebuild_parameter without a tensor");
      }
      return args[0];
    }
    std::string hint;
    if (absl::StartsWith(callable.module, "__torch__")) {
      hint = " (a TorchScript archive, not a state_dict)";
    } else if (!absl::StartsWith(callable.module, "torch")) {
      hint = " (a pickled Python object: save model.state_dict() instead of the model)";
    }
    return absl::InvalidArgumentError(absl::StrCat("the pickle builds ", callable.module, ".",
                                                   callable.name,
                                                   ", which is not part of a "
                                                   "state_dict",
                                                   hint));
  }

  // pid = ('storage', torch.<Type>Storage, key, location, numel).
  absl::StatusOr<PyRef> LoadStorage(const PyValue& pid) {
    const auto* tuple = std::get_if<PyTuple>(&pid.v);
    if (tuple == nullptr || tuple->items.size() != 5) {
      return absl::InvalidArgumentError("persistent id is not a 5-tuple");
    }
    const auto& items = tuple->items;
    const auto* kind = std::get_if<std::string>(&items[0]->v);
    const auto* type = std::get_if<PyGlobal>(&items[1]->v);
    const auto* key = std::get_if<std::string>(&items[2]->v);
    const auto* numel = std::get_if<int64_t>(&items[4]->v);
    if (kind == nullptr || *kind != "storage" || type == nullptr || key == nullptr ||
        numel == nullptr || *numel < 0) {
      return absl::InvalidArgumentError("malformed storage persistent id");
    }
    QF_ASSIGN_OR_RETURN(const torch::ScalarType dtype, StorageDtype(*type));
    // Tensors that share a storage (views, tied weights) name the same key.
    if (const auto it = storages_.find(*key); it != storages_.end()) {
      if (it->second.scalar_type() != dtype || it->second.numel() != *numel) {
        return absl::InvalidArgumentError(
            absl::StrCat("storage ", *key, " is referenced with two different types or sizes"));
      }
      return MakeValue(PyStorage{it->second});
    }
    const int64_t item_size = static_cast<int64_t>(c10::elementSize(dtype));
    if (*numel > std::numeric_limits<int64_t>::max() / item_size) {
      return absl::InvalidArgumentError(absl::StrCat("storage ", *key, " is impossibly large"));
    }
    torch::Tensor elements;
    if (*numel == 0) {
      elements = torch::empty({0}, torch::TensorOptions().dtype(dtype));
    } else {
      QF_ASSIGN_OR_RETURN(const torch::Tensor bytes, load_storage_(*key, *numel * item_size));
      if (bytes.scalar_type() != torch::kByte || bytes.dim() != 1 || !bytes.is_contiguous() ||
          bytes.numel() != *numel * item_size) {
        return absl::InvalidArgumentError(absl::StrCat("storage record ", *key, " holds ",
                                                       bytes.numel(), " bytes, expected ", *numel,
                                                       " x ", item_size));
      }
      elements = bytes.view(dtype);
    }
    storages_.emplace(*key, elements);
    return MakeValue(PyStorage{elements});
  }

  static absl::StatusOr<std::vector<int64_t>> IntTuple(const PyValue& value, const char* what) {
    const auto* tuple = std::get_if<PyTuple>(&value.v);
    if (tuple == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", what, " is not a tuple"));
    }
    std::vector<int64_t> out;
    for (const PyRef& item : tuple->items) {
      const auto* n = std::get_if<int64_t>(&item->v);
      if (n == nullptr || *n < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor ", what, " holds something other than a non-negative int"));
      }
      out.push_back(*n);
    }
    return out;
  }

  // (storage, storage_offset, size, stride, ...): a strided view of the
  // storage, checked against its bounds before LibTorch sees it.
  static absl::StatusOr<PyRef> RebuildTensor(const std::vector<PyRef>& args) {
    if (args.size() < 4) return absl::InvalidArgumentError("tensor rebuilt from < 4 arguments");
    const auto* storage = std::get_if<PyStorage>(&args[0]->v);
    const auto* offset = std::get_if<int64_t>(&args[1]->v);
    if (storage == nullptr || offset == nullptr || *offset < 0) {
      return absl::InvalidArgumentError("tensor without a storage and offset");
    }
    QF_ASSIGN_OR_RETURN(const std::vector<int64_t> size, IntTuple(*args[2], "size"));
    QF_ASSIGN_OR_RETURN(const std::vector<int64_t> stride, IntTuple(*args[3], "stride"));
    if (size.size() != stride.size()) {
      return absl::InvalidArgumentError("tensor size and stride differ in length");
    }
    // The last element a view touches is offset + sum((size - 1) * stride).
    const int64_t available = storage->elements.numel();
    const bool empty = std::any_of(size.begin(), size.end(), [](int64_t s) { return s == 0; });
    if (!empty) {
      int64_t last = *offset;
      for (size_t d = 0; d < size.size(); ++d) {
        int64_t span = 0;
        if (__builtin_mul_overflow(size[d] - 1, stride[d], &span) ||
            __builtin_add_overflow(last, span, &last)) {
          return absl::InvalidArgumentError("tensor view overflows");
        }
      }
      if (last >= available) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", ShapeString(size), " at offset ",
                                                       *offset, " reaches past its storage of ",
                                                       available, " elements"));
      }
    } else if (*offset > available) {
      return absl::InvalidArgumentError("empty tensor offset past its storage");
    }
    return MakeValue(storage->elements.as_strided(size, stride, *offset));
  }

  std::string_view bytes_;
  size_t pos_ = 0;
  const internal::StorageLoader& load_storage_;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyRef> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

// ---------------------------------------------------------------------------
// The zip container.

// A bounds-checked view of in-memory file bytes for PyTorchStreamReader.
// (LibTorch's MemoryReadAdapter copies without checking the range, and the
// reader asks for its 8-byte magic number even from shorter input.)
class BytesAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesAdapter(std::string_view bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    const size_t count = std::min<uint64_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, count);
    return count;
  }

 private:
  std::string_view bytes_;
};

absl::Status CheckMagic(absl::string_view head) {
  if (absl::StartsWith(head, "PK\x03\x04")) return absl::OkStatus();
  if (!head.empty() && static_cast<uint8_t>(head[0]) == 0x80) {
    return absl::InvalidArgumentError(
        "legacy (pre-1.6, non-zip) torch.save format; re-save it with a current PyTorch "
        "(torch.save(torch.load(f), f2)) to get the zip format");
  }
  return absl::InvalidArgumentError(absl::StrCat("not a torch.save zip file (",
                                                 head.empty() ? "empty" : "no zip signature", ")"));
}

torch::Tensor RecordBytes(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  auto [data, size] = reader.getRecord(name);
  const at::Storage storage(c10::Storage::use_byte_size_t(), static_cast<int64_t>(size),
                            std::move(data), /*allocator=*/nullptr, /*resizable=*/false);
  return torch::empty({0}, torch::kByte).set_(storage);
}

absl::StatusOr<StateDict> ParseArchive(caffe2::serialize::PyTorchStreamReader& reader) {
  if (!reader.hasRecord("data.pkl")) {
    if (reader.hasRecord("constants.pkl")) {
      return absl::InvalidArgumentError(
          "a TorchScript archive (torch.jit.save), not a torch.save state_dict");
    }
    return absl::InvalidArgumentError("zip file without data.pkl: not a torch.save file");
  }
  if (reader.hasRecord("byteorder")) {
    const torch::Tensor order = RecordBytes(reader, "byteorder");
    const absl::string_view text(static_cast<const char*>(order.data_ptr()),
                                 static_cast<size_t>(order.numel()));
    if (text != "little") {
      return absl::InvalidArgumentError(
          absl::StrCat("tensors saved in '", text, "' byte order; only little-endian is read"));
    }
  }
  const torch::Tensor pickle = RecordBytes(reader, "data.pkl");
  const internal::StorageLoader load_storage =
      [&reader](const std::string& key, int64_t /*num_bytes*/) -> absl::StatusOr<torch::Tensor> {
    const std::string name = absl::StrCat("data/", key);
    try {
      if (!reader.hasRecord(name)) {
        return absl::InvalidArgumentError(absl::StrCat("storage record ", name, " is missing"));
      }
      return RecordBytes(reader, name);
    } catch (const c10::Error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("storage record ", name, ": ", e.what_without_backtrace()));
    }
  };
  return internal::ParseStateDictPickle(
      std::string_view(static_cast<const char*>(pickle.data_ptr()), pickle.numel()), load_storage);
}

// Runs `body` with LibTorch's exceptions turned into a status: the zip reader
// throws on corrupt or truncated archives.
template <typename Body>
absl::StatusOr<StateDict> CatchingTorchErrors(Body body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt or truncated torch.save zip: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt or truncated torch.save zip: ", e.what()));
  }
}

std::string JoinedProblem(const std::vector<std::string>& names, absl::string_view what) {
  return absl::StrCat(names.size(), " ", what, ": ", absl::StrJoin(names, ", "));
}

bool CompatibleDtypes(torch::ScalarType file, torch::ScalarType model) {
  if (file == model) return true;
  if (c10::isFloatingType(file) && c10::isFloatingType(model)) return true;
  return c10::isIntegralType(file, /*includeBool=*/false) &&
         c10::isIntegralType(model, /*includeBool=*/false);
}

}  // namespace

namespace internal {

absl::StatusOr<StateDict> ParseStateDictPickle(std::string_view pickle,
                                               const StorageLoader& load_storage) {
  absl::StatusOr<PyRef> root;
  try {
    root = PickleMachine(pickle, load_storage).Run();
  } catch (const c10::Error& e) {  // Defensive: the checks above precede LibTorch's.
    return absl::InvalidArgumentError(
        absl::StrCat("unreadable state_dict pickle: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("unreadable state_dict pickle: ", e.what()));
  }
  if (!root.ok()) return root.status();
  const auto* dict = std::get_if<PyDict>(&(*root)->v);
  if (dict == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the file holds a ", TypeName(**root), ", not a state_dict (a dict of name -> tensor)"));
  }
  StateDict state_dict;
  std::vector<std::string> not_tensors;
  for (const auto& [key, value] : dict->items) {
    const auto* name = std::get_if<std::string>(&key->v);
    const auto* tensor = std::get_if<torch::Tensor>(&value->v);
    if (name == nullptr || tensor == nullptr) {
      not_tensors.push_back(
          absl::StrCat(name != nullptr ? *name : TypeName(*key), " (", TypeName(*value), ")"));
      continue;
    }
    if (torch::Tensor* existing = state_dict.find(*name)) {
      *existing = *tensor;  // Python dict semantics: the last one wins.
    } else {
      state_dict.insert(*name, *tensor);
    }
  }
  if (!not_tensors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a state_dict (a dict of name -> tensor; a training checkpoint may hold one under "
        "some key): ",
        JoinedProblem(not_tensors, "entries are not named tensors")));
  }
  return state_dict;
}

}  // namespace internal

absl::StatusOr<StateDict> ReadStateDict(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open state_dict file ", path));
  std::string head(4, '\0');
  file.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(file.gcount()));
  absl::StatusOr<StateDict> result = [&]() -> absl::StatusOr<StateDict> {
    QF_RETURN_IF_ERROR(CheckMagic(head));
    return CatchingTorchErrors([&] {
      caffe2::serialize::PyTorchStreamReader reader(
          std::make_shared<caffe2::serialize::FileAdapter>(path));
      return ParseArchive(reader);
    });
  }();
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(path, ": ", result.status().message()));
  }
  return result;
}

absl::StatusOr<StateDict> ParseStateDict(std::string_view file_bytes) {
  QF_RETURN_IF_ERROR(
      CheckMagic(absl::string_view(file_bytes.data(), std::min<size_t>(4, file_bytes.size()))));
  return CatchingTorchErrors([&] {
    caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BytesAdapter>(file_bytes));
    return ParseArchive(reader);
  });
}

absl::Status LoadStateDict(const StateDict& state_dict, torch::nn::Module& module) {
  static constexpr absl::string_view kParallelPrefix = "module.";
  const bool strip_prefix = !state_dict.is_empty() &&
                            std::all_of(state_dict.begin(), state_dict.end(), [](const auto& item) {
                              return absl::StartsWith(item.key(), kParallelPrefix);
                            });
  std::unordered_map<std::string, const StateDict::Item*> source;
  for (const auto& item : state_dict) {
    source.emplace(strip_prefix ? item.key().substr(kParallelPrefix.size()) : item.key(), &item);
  }

  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    targets.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    targets.emplace_back(item.key(), item.value());
  }

  std::vector<std::string> missing;
  std::vector<std::string> misshaped;
  std::vector<std::string> mistyped;
  std::set<const StateDict::Item*> used;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (to, from)
  for (const auto& [name, target] : targets) {
    const auto it = source.find(name);
    if (it == source.end()) {
      if (!absl::EndsWith(name, ".num_batches_tracked")) missing.push_back(name);
      continue;
    }
    const StateDict::Item* item = it->second;
    used.insert(item);
    const torch::Tensor& from = item->value();
    if (from.sizes() != target.sizes()) {
      misshaped.push_back(absl::StrCat(item->key(), " (file ", ShapeString(from.sizes()),
                                       ", model ", ShapeString(target.sizes()), ")"));
    } else if (!CompatibleDtypes(from.scalar_type(), target.scalar_type())) {
      mistyped.push_back(absl::StrCat(item->key(), " (file ", c10::toString(from.scalar_type()),
                                      ", model ", c10::toString(target.scalar_type()), ")"));
    } else {
      copies.emplace_back(target, from);
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& item : state_dict) {
    if (used.count(&item) == 0) unexpected.push_back(item.key());
  }

  std::vector<std::string> problems;
  if (!missing.empty()) problems.push_back(JoinedProblem(missing, "missing"));
  if (!unexpected.empty()) problems.push_back(JoinedProblem(unexpected, "unexpected"));
  if (!misshaped.empty()) problems.push_back(JoinedProblem(misshaped, "mis-shaped"));
  if (!mistyped.empty()) problems.push_back(JoinedProblem(mistyped, "of the wrong dtype"));
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state_dict does not fit the model: ", absl::StrJoin(problems, "; ")));
  }
  try {
    torch::NoGradGuard no_grad;
    for (auto& [to, from] : copies) to.copy_(from);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("copying the state_dict failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

std::vector<std::string> StateDictArchitectures() {
  return {"mobilefacenet", "iresnet18", "iresnet34", "iresnet50", "iresnet100"};
}

absl::StatusOr<std::shared_ptr<Backbone>> MakeArchitecture(const std::string& name) {
  try {
    if (name == "mobilefacenet") {
      QF_ASSIGN_OR_RETURN(std::shared_ptr<MobileFaceNet> model, MobileFaceNet::Create());
      return std::shared_ptr<Backbone>(std::move(model));
    }
    for (const int depth : {18, 34, 50, 100}) {
      if (name == absl::StrCat("iresnet", depth)) {
        QF_ASSIGN_OR_RETURN(const IResNetOptions options, IResNetOptions::ForDepth(depth));
        QF_ASSIGN_OR_RETURN(std::shared_ptr<IResNet> model, IResNet::Create(options));
        return std::shared_ptr<Backbone>(std::move(model));
      }
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("building ", name, " failed: ", e.what_without_backtrace()));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown architecture '", name, "'; known: ", absl::StrJoin(StateDictArchitectures(), ", ")));
}

absl::StatusOr<std::shared_ptr<Backbone>> ImportStateDict(const std::string& architecture,
                                                          const std::string& path) {
  QF_ASSIGN_OR_RETURN(std::shared_ptr<Backbone> model, MakeArchitecture(architecture));
  QF_ASSIGN_OR_RETURN(const StateDict state_dict, ReadStateDict(path));
  const absl::Status loaded = LoadStateDict(state_dict, *model);
  if (!loaded.ok()) {
    return absl::Status(loaded.code(), absl::StrCat("importing ", path, " as ", architecture, ": ",
                                                    loaded.message()));
  }
  model->eval();
  return model;
}

}  // namespace qf::nn
