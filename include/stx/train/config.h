#pragma once
// The training layer's config: one schema (every key, its type, default, range and doc) that both
// front ends (`stx-train` and `python -m stx`) read, the docs table is checked against, and the
// Python package exposes as data (stx._C.train.config_schema()). Unknown keys are errors.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::train {

// Types of a config value: an integer, a finite float, a bool, a string, a string or null
// ("path?"), a list of finite floats or a list of strings.
struct ConfigKey {
  std::string name;
  std::string type;            // "int", "float", "bool", "string", "path?", "float_list", "string_list"
  nlohmann::json default_value;
  std::string doc;
  double min = -1e308;         // numeric bounds (for lists: of every element)
  double max = 1e308;
  bool min_exclusive = false;  // (min, max] instead of [min, max]
  std::vector<std::string> choices;  // allowed strings (or list elements); empty: any
  std::string used_by;         // "all", or "python" (sampling, demo, torch.distributed)
  std::string flag;            // the command-line flag both front ends offer for it ("" = none)
};

// Every key, in documentation order. The SCR2Net widths default to stx::modules::SCR2NetOptions{}.
STX_API const std::vector<ConfigKey>& config_schema();
// The schema as JSON (a list of objects with the ConfigKey fields).
STX_API nlohmann::json config_schema_json();

// A validated config: every key of the schema present with a value of its type and range.
struct STX_API Config {
  nlohmann::json values;  // the full resolved object

  int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool flag(const std::string& key) const;
  std::string string(const std::string& key) const;  // "" for a null path
  std::vector<double> numbers(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;
};

// Defaults, overlaid with `values` (a JSON object). Unknown keys, nulls (except for "path?" keys),
// wrong types, non-integers for integer keys, NaN/Inf and out-of-range values are errors that name
// the key and the `source` (e.g. the config file).
STX_API Config resolve_config(const nlohmann::json& values, const std::string& source = "config");
// Reads a JSON config file (UTF-8); errors name the file.
STX_API nlohmann::json read_config_file(const std::string& path);

}  // namespace stx::train
