#include <stx/modules/weights_file.h>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/utils.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <unordered_map>

namespace stx::modules {
namespace {

// One pickle value. Only what torch.save writes for a state_dict is representable.
struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
  enum Kind { kNone, kMark, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kTensor } kind = kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;                                    // string, or "module.name" of a global
  std::vector<ValuePtr> items;                      // tuple / list
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;  // insertion order, as in the file
  at::Tensor tensor;
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

at::ScalarType storage_dtype(const std::string& global) {
  static const std::map<std::string, at::ScalarType> types = {
      {"torch.FloatStorage", at::kFloat},   {"torch.DoubleStorage", at::kDouble}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong}, {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},     {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  auto it = types.find(global);
  return it == types.end() ? at::ScalarType::Undefined : it->second;
}

class Unpickler {
 public:
  Unpickler(const std::string& path, caffe2::serialize::PyTorchStreamReader& archive, const char* data, size_t size)
      : path_(path), archive_(archive), p_(data), end_(data + size) {}

  ValuePtr run() {
    for (;;) {
      const auto op = static_cast<uint8_t>(byte());
      switch (op) {
        case 0x80: byte(); break;                    // PROTO
        case 0x95: take(8); break;                   // FRAME (protocol 4)
        case '.': check(stack_.size() == 1, "ends with a malformed stack"); return stack_.back();  // STOP
        case '(': stack_.push_back(make(Value::kMark)); break;
        case 'N': stack_.push_back(make(Value::kNone)); break;
        case 0x88: case 0x89: { auto v = make(Value::kBool); v->i = op == 0x88; stack_.push_back(v); break; }
        case 'K': push_int(static_cast<uint8_t>(byte())); break;
        case 'M': push_int(uint_le(2)); break;
        case 'J': push_int(static_cast<int32_t>(uint_le(4))); break;
        case 0x8a: push_int(long1()); break;         // LONG1
        case 'G': push_float(); break;               // BINFLOAT (big-endian double)
        case 'X': push_string(uint_le(4)); break;    // BINUNICODE
        case 0x8c: push_string(static_cast<uint8_t>(byte())); break;  // SHORT_BINUNICODE
        case 'c': push_global(); break;
        case ')': stack_.push_back(make(Value::kTuple)); break;
        case ']': stack_.push_back(make(Value::kList)); break;
        case '}': stack_.push_back(make(Value::kDict)); break;
        case 't': { auto v = make(Value::kTuple); v->items = pop_to_mark(); stack_.push_back(v); break; }
        case 0x85: case 0x86: case 0x87: push_small_tuple(op - 0x84); break;
        case 'q': memo_[static_cast<uint8_t>(byte())] = top(); break;   // BINPUT
        case 'r': memo_[uint_le(4)] = top(); break;                     // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;                  // MEMOIZE
        case 'h': push_memo(static_cast<uint8_t>(byte())); break;        // BINGET
        case 'j': push_memo(uint_le(4)); break;                         // LONG_BINGET
        case 'a': { auto v = pop(); expect(top(), Value::kList)->items.push_back(v); break; }
        case 'e': { auto vs = pop_to_mark(); auto& l = expect(top(), Value::kList)->items; l.insert(l.end(), vs.begin(), vs.end()); break; }
        case 's': { auto v = pop(); auto k = pop(); expect(top(), Value::kDict)->dict.emplace_back(k, v); break; }
        case 'u': set_items(); break;
        case 'Q': persistent_load(); break;          // BINPERSID: a tensor storage in the archive
        case 'R': reduce(); break;
        case 'b': build(); break;
        default: fail("uses pickle opcode 0x" + hex(op), " which a state_dict never has");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& why = "") {
    TORCH_CHECK(false, "weights file ", path_, ": ", what, why,
                " (expected a state_dict saved with torch.save(model.state_dict()))");
  }
  void check(bool ok, const std::string& what) {
    if (!ok) fail(what);
  }
  static std::string hex(uint8_t b) {
    const char* d = "0123456789abcdef";
    return {d[b >> 4], d[b & 15]};
  }
  const char* take(size_t n) {
    check(static_cast<size_t>(end_ - p_) >= n, "is truncated");
    const char* at = p_;
    p_ += n;
    return at;
  }
  char byte() { return *take(1); }
  uint64_t uint_le(size_t n) {
    const auto* b = reinterpret_cast<const uint8_t*>(take(n));
    uint64_t x = 0;
    for (size_t k = 0; k < n; ++k) x |= static_cast<uint64_t>(b[k]) << (8 * k);
    return x;
  }
  int64_t long1() {
    const auto n = static_cast<uint8_t>(byte());
    check(n <= 8, "has an integer wider than 64 bits");
    if (n == 0) return 0;
    uint64_t x = uint_le(n);
    if (n < 8 && (x >> (8 * n - 1)) & 1) x |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(x);
  }
  void push_int(int64_t x) {
    auto v = make(Value::kInt);
    v->i = x;
    stack_.push_back(v);
  }
  void push_float() {
    const auto* b = reinterpret_cast<const uint8_t*>(take(8));
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
    auto v = make(Value::kFloat);
    std::memcpy(&v->f, &bits, 8);
    stack_.push_back(v);
  }
  void push_string(size_t n) {
    auto v = make(Value::kString);
    v->s.assign(take(n), n);
    stack_.push_back(v);
  }
  std::string line() {
    std::string s;
    for (char c = byte(); c != '\n'; c = byte()) s.push_back(c);
    return s;
  }
  void push_global() {
    auto v = make(Value::kGlobal);
    const auto module = line();
    v->s = module + "." + line();
    stack_.push_back(v);
  }
  void push_small_tuple(int n) {
    check(static_cast<int>(stack_.size()) >= n, "has a malformed tuple");
    auto v = make(Value::kTuple);
    v->items.assign(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - static_cast<size_t>(n));
    stack_.push_back(v);
  }
  void push_memo(uint64_t key) {
    auto it = memo_.find(key);
    check(it != memo_.end(), "refers to a value it never stored");
    stack_.push_back(it->second);
  }
  ValuePtr top() {
    check(!stack_.empty(), "has a malformed stack");
    return stack_.back();
  }
  ValuePtr pop() {
    auto v = top();
    stack_.pop_back();
    return v;
  }
  ValuePtr expect(const ValuePtr& v, Value::Kind kind) {
    check(v->kind == kind, "has a malformed container");
    return v;
  }
  std::vector<ValuePtr> pop_to_mark() {
    std::vector<ValuePtr> items;
    for (;;) {
      auto v = pop();
      if (v->kind == Value::kMark) break;
      items.insert(items.begin(), v);
    }
    return items;
  }
  void set_items() {
    auto kv = pop_to_mark();
    check(kv.size() % 2 == 0, "has a malformed dict");
    auto d = expect(top(), Value::kDict);
    for (size_t k = 0; k < kv.size(); k += 2) d->dict.emplace_back(kv[k], kv[k + 1]);
  }
  void persistent_load() {
    auto pid = expect(pop(), Value::kTuple);
    const auto& t = pid->items;
    check(t.size() == 5 && t[0]->kind == Value::kString && t[0]->s == "storage" && t[1]->kind == Value::kGlobal &&
              t[2]->kind == Value::kString && t[4]->kind == Value::kInt,
          "has a storage record of an unknown form");
    const auto dtype = storage_dtype(t[1]->s);
    if (dtype == at::ScalarType::Undefined) fail("has a storage of type '" + t[1]->s + "'", ", which is not supported");
    const auto& key = t[2]->s;
    auto cached = storages_.find(key);
    if (cached == storages_.end()) {
      const std::string record = "data/" + key;
      check(archive_.hasRecord(record), "lacks the tensor data '" + record + "'");
      auto [data, bytes] = archive_.getRecord(record);
      const int64_t numel = t[4]->i;
      check(numel >= 0 && static_cast<size_t>(numel) * at::elementSize(dtype) <= bytes,
            "has a tensor record shorter than its size");
      auto storage = at::empty({numel}, at::TensorOptions().dtype(dtype));
      if (numel > 0) std::memcpy(storage.data_ptr(), data.get(), static_cast<size_t>(numel) * at::elementSize(dtype));
      cached = storages_.emplace(key, storage).first;
    }
    auto v = make(Value::kTensor);
    v->tensor = cached->second;
    stack_.push_back(v);
  }
  std::vector<int64_t> ints(const ValuePtr& tuple) {
    expect(tuple, Value::kTuple);
    std::vector<int64_t> out;
    for (const auto& x : tuple->items) out.push_back(expect(x, Value::kInt)->i);
    return out;
  }
  // The only callables a state_dict needs; anything else is refused (and never executed).
  void reduce() {
    auto args = expect(pop(), Value::kTuple);
    auto fn = pop();
    check(fn->kind == Value::kGlobal, "calls something that is not a global");
    if (fn->s == "collections.OrderedDict") {
      stack_.push_back(make(Value::kDict));
    } else if (fn->s == "torch._utils._rebuild_tensor_v2") {
      const auto& a = args->items;
      check(a.size() >= 4 && a[0]->kind == Value::kTensor && a[1]->kind == Value::kInt, "has a malformed tensor");
      const auto& storage = a[0]->tensor;
      const auto size = ints(a[2]);
      const auto stride = ints(a[3]);
      check(size.size() == stride.size(), "has a tensor whose size and stride differ in length");
      int64_t last = a[1]->i;  // the furthest element the view reads must lie inside the storage
      for (size_t d = 0; d < size.size(); ++d) {
        check(size[d] >= 0 && stride[d] >= 0, "has a tensor with a negative size or stride");
        if (size[d] == 0) last = -1;
        if (last >= 0) last += (size[d] - 1) * stride[d];
      }
      check(last < storage.numel(), "has a tensor that reads past its storage");
      auto v = make(Value::kTensor);
      v->tensor = storage.as_strided(size, stride, a[1]->i).clone();
      stack_.push_back(v);
    } else {
      fail("refers to '" + fn->s + "'", "; a weights file may hold only tensors and plain values, so it is refused");
    }
  }
  // OrderedDict's BUILD sets the state_dict's _metadata attribute: not needed, dropped.
  void build() {
    pop();
    check(top()->kind == Value::kDict, "sets the state of an object that is not a dict");
  }

  std::string path_;
  caffe2::serialize::PyTorchStreamReader& archive_;
  const char* p_;
  const char* end_;
  std::vector<ValuePtr> stack_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::map<std::string, at::Tensor> storages_;
};

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> read_state_dict_file(const std::string& path) {
  TORCH_CHECK(std::filesystem::is_regular_file(path), "weights file ", path, ": no such file");
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
  try {
    archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "weights file ", path, ": not a torch.save archive (", e.what_without_backtrace(), ")");
  }
  TORCH_CHECK(archive->hasRecord("data.pkl"), "weights file ", path, ": not a torch.save archive (no data.pkl)");
  auto [data, size] = archive->getRecord("data.pkl");
  auto root = Unpickler(path, *archive, static_cast<const char*>(data.get()), size).run();
  TORCH_CHECK(root->kind == Value::kDict, "weights file ", path,
              ": holds no dict of tensors (expected a state_dict saved with torch.save(model.state_dict()))");
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [k, v] : root->dict) {
    TORCH_CHECK(k->kind == Value::kString && v->kind == Value::kTensor, "weights file ", path,
                ": entry ", out.size(), " is not a name -> tensor pair (is it a full checkpoint, not a state_dict?)");
    out.emplace_back(k->s, v->tensor);
  }
  return out;
}

void load_weights_file(torch::nn::Module& module, const std::string& path, const std::string& skip_prefix,
                       const std::string& who) {
  const auto entries = read_state_dict_file(path);
  std::map<std::string, at::Tensor> own;
  for (const auto& p : module.named_parameters()) own.emplace(p.key(), p.value());
  for (const auto& b : module.named_buffers()) own.emplace(b.key(), b.value());
  torch::NoGradGuard no_grad;
  std::map<std::string, bool> seen;
  for (const auto& [name, tensor] : entries) {
    if (!skip_prefix.empty() && name.rfind(skip_prefix, 0) == 0) continue;
    auto it = own.find(name);
    TORCH_CHECK(it != own.end(), "weights file ", path, ": '", name, "' is not a tensor of ", who,
                " (weights of another architecture?)");
    TORCH_CHECK(tensor.sizes() == it->second.sizes(), "weights file ", path, ": '", name, "' has shape ",
                tensor.sizes(), ", ", who, " expects ", it->second.sizes(), " (weights of another architecture?)");
    it->second.copy_(tensor);
    seen[name] = true;
  }
  for (const auto& table : {module.named_parameters(), module.named_buffers()}) {
    for (const auto& p : table) {
      TORCH_CHECK(seen.count(p.key()), "weights file ", path, ": has no tensor for '", p.key(), "' of ", who,
                  " (weights of another architecture?)");
    }
  }
}

}  // namespace stx::modules
