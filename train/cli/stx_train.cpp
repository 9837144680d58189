// stx-train: the native front end of the training layer (stx/train/commands.h); `python -m stx`
// is the other. Same config file (JSON), same checkpoint, same metrics.json.
//   stx-train demo     [--data DIR] --out DIR [--test-sections C] [options]
//   stx-train train    --data DIR --sections A,B --out DIR [--selection FILE] [--no-retrieval] [--resume] [options]
//   stx-train evaluate --checkpoint FILE --data DIR --sections C --out DIR [options]
//   stx-train config   [--config FILE] [options]      (prints the resolved config as JSON)
//   stx-train schema                                   (prints the config schema as JSON)
// options: --config FILE --force and one flag per config key that has one (see `schema`).
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include <stx/stx.h>
#include <stx/train/commands.h>
#include <stx/train/config.h>
#include <stx/train/pixnet.h>

namespace {

using json = nlohmann::json;
using namespace stx::train;

struct Args {
  std::string command, config;
  RunOptions run;
  json overrides = json::object();
};

std::string usage() {
  std::string flags;
  for (const auto& k : config_schema()) {
    if (!k.flag.empty()) flags += " [" + k.flag + " " + k.type + "]";
  }
  return "usage: stx-train demo [--data DIR] --out DIR [--test-sections C] [--config FILE] [--force]" + flags +
         "\n       stx-train train --data DIR --sections A,B --out DIR [--selection FILE] [--no-retrieval] "
         "[--resume] [--config FILE] [--force]" +
         flags +
         "\n       stx-train pixnet [--data DIR] --out DIR [--test-sections C] [--config FILE] [--force]" + flags +
         "\n       stx-train evaluate --checkpoint FILE --data DIR --sections C --out DIR [--config FILE] [--force]" +
         flags + "\n       stx-train config [--config FILE]" + flags + "\n       stx-train schema\n";
}

[[noreturn]] void fail(const std::string& command, const std::string& error, bool show_usage = false) {
  std::cerr << "stx-train" << (command.empty() ? "" : " " + command) << ": error: " << error << "\n";
  if (show_usage) std::cerr << usage();
  std::exit(2);
}

Args parse(int argc, char** argv) {
  if (argc < 2) fail("", "missing command", true);
  Args a;
  a.command = argv[1];
  if (a.command == "--help" || a.command == "-h") {
    std::cout << usage();
    std::exit(0);
  }
  static const char* commands[] = {"demo", "train", "evaluate", "pixnet", "config", "schema"};
  if (std::find(std::begin(commands), std::end(commands), a.command) == std::end(commands)) {
    fail("", "unknown command '" + a.command + "'", true);
  }
  std::map<std::string, std::string*> values = {
      {"--data", &a.run.data},         {"--out", &a.run.out},           {"--config", &a.config},
      {"--checkpoint", &a.run.checkpoint}, {"--sections", &a.run.sections}, {"--test-sections", &a.run.test_sections},
      {"--selection", &a.run.selection}};
  std::map<std::string, const ConfigKey*> config_flags;
  for (const auto& k : config_schema()) {
    if (!k.flag.empty()) config_flags[k.flag] = &k;
  }
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage();
      std::exit(0);
    } else if (flag == "--force") {
      a.run.force = true;
    } else if (flag == "--no-retrieval") {
      a.run.retrieval = false;
    } else if (flag == "--resume") {
      a.run.resume = true;
    } else if (values.count(flag) && i + 1 < argc) {
      *values[flag] = argv[++i];
    } else if (config_flags.count(flag) && i + 1 < argc) {
      const auto& key = *config_flags[flag];
      const std::string value = argv[++i];
      if (key.type == "int" || key.type == "float" || key.type == "bool") {
        try {
          a.overrides[key.name] = json::parse(value);
        } catch (const json::exception&) {
          fail(a.command, "argument " + flag + ": '" + value + "' is not a " + key.type);
        }
      } else {
        a.overrides[key.name] = value;
      }
    } else {
      fail(a.command, "unknown or incomplete argument '" + flag + "'", true);
    }
  }
  return a;
}

int run(const Args& a) {
  if (a.command == "schema") {
    std::cout << config_schema_json().dump(2) << "\n";
    return 0;
  }
  json values = a.config.empty() ? json::object() : read_config_file(a.config);
  TORCH_CHECK(values.is_object(), "config file ", a.config, ": the config must be a mapping of keys to values");
  for (const auto& item : a.overrides.items()) values[item.key()] = item.value();
  const auto config = resolve_config(values, a.config.empty() ? "config" : a.config);
  if (a.command == "config") {
    std::cout << config.values.dump(2) << "\n";
    return 0;
  }
  TORCH_CHECK(config.string("device") == "cpu" || stx::cuda_version() >= 0,
              "config 'device' is cuda but this libstx was built without CUDA");
  if (config.integer("num_threads") > 0) at::set_num_threads(static_cast<int>(config.integer("num_threads")));
  const Log log = [](const std::string& msg) { std::cout << "[stx-train] " << msg << std::endl; };
  if (a.command == "demo") {
    run_holdout(a.run, config, log);
  } else if (a.command == "train") {
    run_train(a.run, config, {}, log);
  } else if (a.command == "pixnet") {
    run_pixnet(a.run, config, log);
  } else {
    run_evaluate(a.run, config, log);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  try {
    return run(args);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    fail(args.command, msg.substr(0, msg.find('\n')));
  } catch (const std::exception& e) {
    fail(args.command, e.what());
  }
}
