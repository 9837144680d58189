#include <stx/train/checkpoint.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <stx/stx.h>

namespace stx::train {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::json;
using c10::IValue;

constexpr int64_t kFormatVersion = 1;

// Containers of element type Any pickle as plain lists and dicts; typed ones would be written with
// TorchScript type tags (torch.jit._pickle.*) that torch.load(weights_only=True) refuses.
c10::impl::GenericList any_list() { return c10::impl::GenericList(c10::AnyType::get()); }
c10::impl::GenericDict any_dict() { return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get()); }

IValue to_ivalue(const json& v) {
  if (v.is_null()) return IValue();
  if (v.is_boolean()) return IValue(v.get<bool>());
  if (v.is_number_integer()) return IValue(v.get<int64_t>());
  if (v.is_number()) return IValue(v.get<double>());
  if (v.is_string()) return IValue(v.get<std::string>());
  if (v.is_array()) {
    auto list = any_list();
    for (const auto& x : v) list.push_back(to_ivalue(x));
    return IValue(list);
  }
  TORCH_CHECK(false, "checkpoint: config values must be scalars or lists, got ", v.dump());
}

json to_json(const IValue& v, const std::string& where) {
  if (v.isNone()) return nullptr;
  if (v.isBool()) return v.toBool();
  if (v.isInt()) return v.toInt();
  if (v.isDouble()) return v.toDouble();
  if (v.isString()) return v.toStringRef();
  if (v.isList()) {
    json out = json::array();
    for (const auto& x : v.toListRef()) out.push_back(to_json(x, where));
    return out;
  }
  TORCH_CHECK(false, where, ": a config value of type ", v.tagKind(), " is not a scalar or list");
}

template <typename T>
c10::impl::GenericList plain_list(const std::vector<T>& values) {
  auto list = any_list();
  for (const auto& v : values) list.push_back(IValue(v));
  return list;
}

// The zip archive torch.save writes (data.pkl + one record per storage), pickled without type tags.
std::vector<char> pickle_plain(const IValue& value) {
  std::vector<char> pickled;
  torch::jit::Pickler pickler([&](const char* buf, size_t size) { pickled.insert(pickled.end(), buf, buf + size); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> archive;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* bytes, size_t len) {
    archive.insert(archive.end(), static_cast<const char*>(bytes), static_cast<const char*>(bytes) + len);
    return len;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return archive;
}

c10::impl::GenericDict tensor_dict(const std::map<std::string, at::Tensor>& m) {
  auto d = any_dict();
  for (const auto& [k, t] : m) d.insert(k, t.detach().cpu().contiguous());
  return d;
}

struct Reader {
  std::string path;
  c10::impl::GenericDict dict;

  IValue get(const std::string& key, bool required = true) const {
    auto it = dict.find(IValue(key));
    if (it == dict.end()) {
      TORCH_CHECK(!required, "--checkpoint ", path, " is not an stx checkpoint (no '", key, "')");
      return IValue();
    }
    return it->value();
  }
  std::string where(const std::string& key) const { return "--checkpoint " + path + ": '" + key + "'"; }
  at::Tensor tensor(const IValue& v, const std::string& key) const {
    TORCH_CHECK(v.isTensor(), where(key), " must be a tensor, got ", v.tagKind());
    return v.toTensor();
  }
  std::map<std::string, at::Tensor> tensors(const IValue& v, const std::string& key) const {
    TORCH_CHECK(v.isGenericDict(), where(key), " must be a dict of tensors, got ", v.tagKind());
    std::map<std::string, at::Tensor> out;
    for (const auto& item : v.toGenericDict()) {
      TORCH_CHECK(item.key().isString() && item.value().isTensor(), where(key), " must map names to tensors");
      out.emplace(item.key().toStringRef(), item.value().toTensor());
    }
    return out;
  }
  std::string string(const IValue& v, const std::string& key) const {
    TORCH_CHECK(v.isString(), where(key), " must be a string, got ", v.tagKind());
    return v.toStringRef();
  }
  int64_t integer(const IValue& v, const std::string& key) const {
    TORCH_CHECK(v.isInt(), where(key), " must be an integer, got ", v.tagKind());
    return v.toInt();
  }
};

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const fs::path target(path);
  std::random_device rd;
  const fs::path tmp = target.parent_path() / ("." + target.filename().string() + "." + std::to_string(rd()) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    TORCH_CHECK(out.good(), "cannot write ", tmp.string(), " (is the folder writable?)");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      TORCH_CHECK(false, "writing ", path, " failed (disk full?); nothing was replaced");
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    TORCH_CHECK(false, "cannot replace ", path, ": ", ec.message());
  }
}

std::map<std::string, at::Tensor> module_state(torch::nn::Module& module) {
  std::map<std::string, at::Tensor> state;
  for (const auto& p : module.named_parameters()) state.emplace(p.key(), p.value().detach().cpu().clone());
  for (const auto& b : module.named_buffers()) state.emplace(b.key(), b.value().detach().cpu().clone());
  return state;
}

void load_module_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& state,
                       const std::string& source) {
  torch::NoGradGuard no_grad;
  size_t used = 0;
  const auto copy = [&](const std::string& name, at::Tensor& into) {
    auto it = state.find(name);
    TORCH_CHECK(it != state.end(), source, ": no tensor for '", name, "' (a checkpoint of another model or config?)");
    TORCH_CHECK(it->second.sizes() == into.sizes(), source, ": '", name, "' has shape ", it->second.sizes(),
                ", the model expects ", into.sizes(), " (a checkpoint of another model or config?)");
    into.copy_(it->second);
    ++used;
  };
  for (auto& p : module.named_parameters()) copy(p.key(), p.value());
  for (auto& b : module.named_buffers()) copy(b.key(), b.value());
  TORCH_CHECK(used == state.size(), source, ": ", state.size() - used, " tensors the model does not have");
}

void save_checkpoint(const Checkpoint& c, const std::string& path) {
  auto d = any_dict();
  d.insert("format", std::string("stx-checkpoint"));
  d.insert("format_version", kFormatVersion);
  d.insert("recipe", c.recipe);
  d.insert("model", tensor_dict(c.model));
  d.insert("genes", plain_list(c.genes));
  auto config = any_dict();
  for (const auto& item : c.config.values.items()) config.insert(item.key(), to_ivalue(item.value()));
  d.insert("config", config);
  d.insert("stx_version", c.stx_version);
  d.insert("retrieval", c.retrieval);
  d.insert("train_mean", c.train_mean.detach().cpu().contiguous());
  if (c.has_train_state) {
    const auto& s = c.train_state;
    auto t = any_dict();
    t.insert("step", s.step);
    t.insert("optimizer", tensor_dict(s.optimizer));
    t.insert("generator", s.generator);
    t.insert("global_generator", s.global_generator);
    t.insert("order", s.order);
    t.insert("cursor", s.cursor);
    t.insert("losses", plain_list(s.losses));
    if (!s.validation.empty()) {
      std::vector<int64_t> steps;
      std::vector<double> values;
      for (const auto& [step, v] : s.validation) {
        steps.push_back(step);
        values.push_back(v);
      }
      t.insert("validation_steps", plain_list(steps));
      t.insert("validation_losses", plain_list(values));
      t.insert("best_step", s.best_step);
      t.insert("best_model", tensor_dict(s.best_model));
    }
    d.insert("train_state", t);
  }
  const auto bytes = pickle_plain(IValue(d));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

Checkpoint load_checkpoint(const std::string& path) {
  TORCH_CHECK(fs::is_regular_file(path), "--checkpoint ", path, " does not exist");
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  IValue root;
  try {
    root = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (auto* ce = dynamic_cast<const c10::Error*>(&e)) why = ce->what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    TORCH_CHECK(false, "--checkpoint ", path, " cannot be read as an stx checkpoint (only tensors, lists, dicts, ",
                "strings and numbers are loaded): ", why);
  }
  TORCH_CHECK(root.isGenericDict(), "--checkpoint ", path, " is not an stx checkpoint (a ", root.tagKind(),
              ", not a dict)");
  Reader r{path, root.toGenericDict()};
  Checkpoint c;
  const auto recipe = r.get("recipe", false);
  c.recipe = recipe.isNone() ? "scr2net" : r.string(recipe, "recipe");
  c.model = r.tensors(r.get("model"), "model");
  const auto genes = r.get("genes");
  TORCH_CHECK(genes.isList(), r.where("genes"), " must be a list of strings");
  for (const auto& g : genes.toListRef()) {
    TORCH_CHECK(g.isString(), r.where("genes"), " must be a list of strings");
    c.genes.push_back(g.toStringRef());
  }
  TORCH_CHECK(!c.genes.empty(), r.where("genes"), " is empty");
  const auto config = r.get("config");
  TORCH_CHECK(config.isGenericDict(), r.where("config"), " must be a dict");
  json values = json::object();
  for (const auto& item : config.toGenericDict()) {
    TORCH_CHECK(item.key().isString(), r.where("config"), " keys must be strings");
    values[item.key().toStringRef()] = to_json(item.value(), r.where("config"));
  }
  c.config = resolve_config(values, "--checkpoint " + path + " config");
  TORCH_CHECK(c.config.string("model") == c.recipe, r.where("recipe"), " '", c.recipe, "' differs from its config's model");
  const auto version = r.get("stx_version", false);
  c.stx_version = version.isString() ? version.toStringRef() : "";
  const auto retrieval = r.get("retrieval", false);
  c.retrieval = retrieval.isBool() ? retrieval.toBool() : true;
  const auto mean = r.get("train_mean", false);
  if (!mean.isNone()) {
    c.train_mean = r.tensor(mean, "train_mean");
    TORCH_CHECK(c.train_mean.dim() == 1 && c.train_mean.size(0) == static_cast<int64_t>(c.genes.size()),
                r.where("train_mean"), " must have one value per gene (", c.genes.size(), "), got ",
                c.train_mean.sizes());
  }
  const auto state = r.get("train_state", false);
  if (!state.isNone()) {
    TORCH_CHECK(state.isGenericDict(), r.where("train_state"), " must be a dict");
    Reader t{path, state.toGenericDict()};
    c.has_train_state = true;
    auto& s = c.train_state;
    s.step = t.integer(t.get("step"), "train_state.step");
    s.optimizer = t.tensors(t.get("optimizer"), "train_state.optimizer");
    s.generator = t.tensor(t.get("generator"), "train_state.generator");
    s.global_generator = t.tensor(t.get("global_generator"), "train_state.global_generator");
    s.order = t.tensor(t.get("order"), "train_state.order");
    s.cursor = t.integer(t.get("cursor"), "train_state.cursor");
    const auto losses = t.get("losses");
    TORCH_CHECK(losses.isList(), r.where("train_state.losses"), " must be a list");
    for (const auto& l : losses.toListRef()) {
      TORCH_CHECK(l.isDouble(), r.where("train_state.losses"), " must be a list of floats");
      s.losses.push_back(l.toDouble());
    }
    const auto val_steps = t.get("validation_steps", false);
    if (!val_steps.isNone()) {  // written with config val_fraction > 0
      const auto val_losses = t.get("validation_losses");
      TORCH_CHECK(val_steps.isList() && val_losses.isList() &&
                      val_steps.toListRef().size() == val_losses.toListRef().size(),
                  r.where("train_state.validation_steps"), " and validation_losses must be lists of one length");
      for (size_t i = 0; i < val_steps.toListRef().size(); ++i) {
        const auto& st = val_steps.toListRef()[i];
        const auto& v = val_losses.toListRef()[i];
        TORCH_CHECK(st.isInt() && v.isDouble(), r.where("train_state.validation_steps"),
                    " must hold integers and validation_losses floats");
        s.validation.emplace_back(st.toInt(), v.to<double>());
      }
      s.best_step = t.integer(t.get("best_step"), "train_state.best_step");
      s.best_model = t.tensors(t.get("best_model"), "train_state.best_model");
    }
  }
  return c;
}

}  // namespace stx::train
