// stx-train: the native SCR2Net trainer (no Python). Same config keys as `python -m stx`.
//   stx-train demo     [--data STUDY_OR_VISIUM] --out DIR [--config FILE.json] [--force]
//   stx-train train    --data DIR --sections A,B --out DIR [--config FILE.json] [--no-retrieval] [--force]
//   stx-train evaluate --checkpoint DIR/checkpoint.pt --data DIR --sections C --out DIR [--config FILE.json] [--force]
// Every run writes DIR/metrics.json; existing results are kept unless --force.
#include <torch/serialize.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <stx/modules/spot_labels.h>
#include <stx/modules/trainer.h>
#include <stx/stx.h>

namespace fs = std::filesystem;
using namespace stx::modules;

namespace {

struct Args {
  std::string command, data, out, config, checkpoint, sections;
  bool force = false, no_retrieval = false;
};

[[noreturn]] void usage(const std::string& error) {
  std::cerr << "stx-train: " << error << "\n"
            << "usage: stx-train demo [--data DIR] --out DIR [--config FILE] [--force]\n"
            << "       stx-train train --data DIR --sections A,B --out DIR [--config FILE] [--no-retrieval] [--force]\n"
            << "       stx-train evaluate --checkpoint FILE --data DIR --sections C --out DIR [--config FILE] [--force]\n";
  std::exit(2);
}

Args parse(int argc, char** argv) {
  if (argc < 2) usage("missing command");
  Args a;
  a.command = argv[1];
  if (a.command != "demo" && a.command != "train" && a.command != "evaluate") usage("unknown command '" + a.command + "'");
  std::map<std::string, std::string*> values = {{"--data", &a.data},         {"--out", &a.out},
                                                {"--config", &a.config},     {"--checkpoint", &a.checkpoint},
                                                {"--sections", &a.sections}};
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--force") {
      a.force = true;
    } else if (flag == "--no-retrieval") {
      a.no_retrieval = true;
    } else if (values.count(flag) && i + 1 < argc) {
      *values[flag] = argv[++i];
    } else {
      usage("unknown or incomplete argument '" + flag + "'");
    }
  }
  if (a.out.empty()) usage("--out is required");
  if (a.command != "demo" && (a.data.empty() || a.sections.empty())) usage("--data and --sections are required");
  if (a.command == "evaluate" && a.checkpoint.empty()) usage("--checkpoint is required");
  return a;
}

void prepare_out(const Args& a) {
  for (const char* name : {"metrics.json", "checkpoint.pt", "report.md"}) {
    if (fs::exists(fs::path(a.out) / name) && !a.force) {
      throw std::runtime_error("--out " + a.out + " already holds " + name + "; choose another folder or pass --force");
    }
  }
  fs::create_directories(a.out);
}

std::vector<TrainerSection> pick(std::vector<TrainerSection> all, const std::string& names) {
  std::vector<TrainerSection> chosen;
  std::stringstream ss(names);
  for (std::string name; std::getline(ss, name, ',');) {
    auto it = std::find_if(all.begin(), all.end(), [&](const TrainerSection& s) { return s.name == name; });
    if (it == all.end()) throw std::runtime_error("--sections: '" + name + "' is not in the data");
    chosen.push_back(*it);
  }
  return chosen;
}

// Concatenated patches and panel targets of sections.
std::pair<at::Tensor, at::Tensor> pool(const std::vector<TrainerSection>& sections, const std::vector<std::string>& genes) {
  std::vector<at::Tensor> patches, targets;
  for (const auto& s : sections) {
    patches.push_back(s.patches);
    targets.push_back(panel_targets(s, genes));
  }
  return {at::cat(patches), at::cat(targets)};
}

void write_metrics(const fs::path& path, const std::map<std::string, double>& metrics, const std::string& split) {
  std::ofstream out(path);
  out << "{\n  \"split\": \"" << split << "\",\n  \"trainer\": \"stx-train " << stx::library_version() << "\"";
  for (const auto& [key, value] : metrics) out << ",\n  \"" << key << "\": " << value;
  out << "\n}\n";
}

void save_model(SCR2Net& model, const std::vector<std::string>& genes, const fs::path& out) {
  torch::save(model, (out / "checkpoint.pt").string());
  std::ofstream g(out / "genes.txt");
  for (const auto& gene : genes) g << gene << "\n";
}

int run(const Args& a) {
  const auto t0 = std::chrono::steady_clock::now();
  auto config = load_trainer_config(a.config);
  if (config.num_threads > 0) at::set_num_threads(static_cast<int>(config.num_threads));
  prepare_out(a);
  auto sections = load_trainer_sections(a.data, config, a.out);
  std::vector<TrainerSection> train, test;
  if (a.command == "demo") {
    if (sections.size() < 2) throw std::runtime_error("demo needs at least two sections (train and held-out)");
    train.assign(sections.begin(), sections.end() - 1);
    test.push_back(sections.back());
  } else if (a.command == "train") {
    train = pick(sections, a.sections);
  } else {
    test = pick(sections, a.sections);
  }
  fs::path out(a.out);
  if (!train.empty()) {
    auto genes = choose_genes(train, config);
    auto [patches, targets] = pool(train, genes);
    auto labels = spot_labels(targets, 8, 16, static_cast<uint64_t>(config.seed));
    std::cout << "[stx-train] training SCR2Net on " << patches.size(0) << " spots, " << genes.size() << " genes, "
              << config.steps << " steps" << std::endl;
    auto model = train_scr2net(patches, targets, labels, config, static_cast<uint64_t>(config.seed), !a.no_retrieval);
    save_model(model, genes, out);
    if (a.command == "train") {
      write_metrics(out / "metrics.json", regression_metrics(predict(model, patches), targets), "train");
    } else {
      auto [test_patches, test_targets] = pool(test, genes);
      write_metrics(out / "metrics.json", regression_metrics(predict(model, test_patches), test_targets), "held-out");
    }
  } else {
    std::ifstream g(fs::path(a.checkpoint).parent_path() / "genes.txt");
    if (!g.good()) throw std::runtime_error("--checkpoint: no genes.txt next to " + a.checkpoint);
    std::vector<std::string> genes;
    for (std::string line; std::getline(g, line);) genes.push_back(line);
    for (const auto& s : test) {
      for (const auto& gene : genes) {
        if (std::find(s.gene_names.begin(), s.gene_names.end(), gene) == s.gene_names.end()) {
          throw std::runtime_error("--checkpoint was trained on another gene set: section " + s.name + " lacks '" +
                                   gene + "'");
        }
      }
    }
    auto model = make_scr2net(config, static_cast<int64_t>(genes.size()));
    torch::load(model, a.checkpoint);
    auto [patches, targets] = pool(test, genes);
    write_metrics(out / "metrics.json", regression_metrics(predict(model, patches), targets), "evaluate");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[stx-train] metrics -> " << (out / "metrics.json").string() << " (" << seconds << " s)" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  try {
    return run(args);
  } catch (const c10::Error& e) {
    std::cerr << "stx-train " << args.command << ": error: " << e.what_without_backtrace() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "stx-train " << args.command << ": error: " << e.what() << "\n";
  }
  return 2;
}
