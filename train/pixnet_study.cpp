#include <stx/train/pixnet.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <stx/data/patch.h>
#include <stx/data/slide.h>
#include <stx/stx.h>
#include <stx/train/checkpoint.h>
#include <stx/train/metrics.h>
#include <stx/train/stitch.h>
#include <stx/train/tiles.h>

namespace stx::train {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::json;

void say(const Log& log, const std::string& msg) {
  if (log) log(msg);
}

// A seeded subset of at most `cap` rows (all rows, in order, when there are fewer).
at::Tensor subset(int64_t n, int64_t cap, uint64_t seed) {
  if (n <= cap) return at::arange(n, at::kLong);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return std::get<0>(at::randperm(n, gen).slice(0, 0, cap).sort());
}

// The dense model's log1p counts of every region: stitched inference, mean map value x nominal area.
at::Tensor dense_values(DenseTrainableModel& model, const at::Tensor& image, const Section& s, const RegionSet& set,
                        const at::Tensor& rows, double um_per_px, const Config& config) {
  const auto device = config.string("device");
  const auto centers = to_image_pixels(s, set.coords.index_select(0, rows), um_per_px);
  const auto radii = at::full({rows.numel()}, set.size_um / um_per_px / 2.0, at::kDouble);
  StitchOptions o;
  o.tile = std::max<int64_t>(config.integer("tile_px"), 256);
  o.margin = config.integer("stitch_margin");
  o.shape = set.shape;
  const auto forward = [&](const at::Tensor& crop) { return model.dense(crop.to(at::Device(device))); };
  const auto out = stitched_predict(forward, image, centers, radii, o);
  const auto cov = out.coverage.to(at::kDouble).unsqueeze(1);
  const auto mean = out.spots.to(at::kDouble) / cov.clamp_min(1.0);
  return at::log1p((mean * region_area_px(set, um_per_px)).clamp_min(0.0)).to(at::kFloat);
}

// The patch model's log1p counts: a patch scaled with the region, the prediction rescaled by area.
at::Tensor patch_values(TrainableModel& model, const Section& s, const RegionSet& set, const at::Tensor& rows,
                        double train_spot_area_um2, double train_spot_um, const Config& config) {
  const int64_t size = config.integer("patch_size");
  const double side_um = config.number("patch_um") * set.size_um / train_spot_um;
  stx::data::SlideReader slide(s.image_path, s.mpp / s.image_scale);
  const auto patches =
      stx::data::extract_patches(slide, set.coords.index_select(0, rows) * s.image_scale, side_um / size, size);
  const auto pred = predict(model, patches, config.string("device")).to(at::kDouble);
  const double ratio = region_area_px(set, 1.0) / train_spot_area_um2;  // um^2 at 1 um per "pixel"
  return at::log1p((at::expm1(pred).clamp_min(0.0) * ratio)).to(at::kFloat);
}

json headline(const json& m) {
  json out;
  for (const char* k : {"pcc_f", "pcc_s", "pcc_m", "mse", "mae", "n_spots", "genes_pcc_ge_0_3", "pcc_per_gene"}) {
    out[k] = m.at(k);
  }
  return out;
}

void write_map_csv(const fs::path& path, const RegionSet& set, const at::Tensor& rows, const at::Tensor& truth,
                   const at::Tensor& dense, const at::Tensor& patch, const std::vector<std::string>& genes,
                   double mpp) {
  const auto top = std::get<1>(truth.mean(0).topk(std::min<int64_t>(3, truth.size(1))));
  std::ostringstream csv;
  csv << "x_um,y_um,gene,truth,dense,patch\n";
  const auto xy = set.coords.index_select(0, rows).to(at::kDouble) * mpp;
  for (int64_t t = 0; t < top.numel(); ++t) {
    const int64_t g = top[t].item<int64_t>();
    const auto tc = truth.select(1, g).contiguous(), dc = dense.select(1, g).contiguous(),
               pc = patch.select(1, g).contiguous();
    for (int64_t i = 0; i < truth.size(0); ++i) {
      csv << xy[i][0].item<double>() << "," << xy[i][1].item<double>() << "," << genes[g] << ","
          << tc[i].item<float>() << "," << dc[i].item<float>() << "," << pc[i].item<float>() << "\n";
    }
  }
  write_file_atomic(path.string(), csv.str());
}

std::string fixed(double v) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(3);
  s << v;
  return s.str();
}

}  // namespace

void run_pixnet(const RunOptions& o, const Config& config_in, const Log& log) {
  prepare_out(o.out, o.force);
  json values = config_in.values;
  values["model"] = "pixnet";
  const Config config = resolve_config(values, "pixnet");
  std::vector<Section> train, test;
  split_sections(load_sections(o.data, config, o.out), o.test_sections, &train, &test);
  const auto genes = choose_genes(train, config);
  const double um_per_px = config.number("patch_um") / static_cast<double>(config.integer("patch_size"));
  const auto scales = config.strings("train_scales");
  const uint64_t seed = static_cast<uint64_t>(config.integer("seed"));

  // The dense model, on tiles of the training sections at the training scales.
  TileRequest request;
  request.seed = seed;
  request.genes = genes;
  double train_spot_um = 0, train_spot_area = 0;
  for (const auto& s : train) {
    const auto sets = region_sets(s);
    std::vector<const RegionSet*> chosen;
    for (const auto& name : scales) chosen.push_back(&find_region_set(sets, name, s.name));
    request.sections.push_back(tile_section(s, chosen, genes, um_per_px));
    const auto& spots = find_region_set(sets, "spots", s.name);
    train_spot_um = spots.size_um;
    train_spot_area = region_area_px(spots, 1.0);
  }
  say(log, "training pixnet on " + std::to_string(train.size()) + " sections at scales " + json(scales).dump() +
               ", " + std::to_string(genes.size()) + " genes, " + std::to_string(config.integer("steps")) + " steps");
  const auto dense = train_tiles(request, config);
  auto& dense_model = dynamic_cast<DenseTrainableModel&>(*dense.model);
  Checkpoint c;
  c.recipe = "pixnet";
  c.model = module_state(dense.model->module());
  c.genes = genes;
  c.config = config;
  c.stx_version = stx::library_version();
  c.retrieval = false;
  c.train_mean = mean_density(request.sections);
  save_checkpoint(c, (fs::path(o.out) / "checkpoint.pt").string());

  // The spot-patch regressor (SCR2Net without retrieval) on the training spots, same targets.
  json pvalues = config.values;
  pvalues["model"] = "scr2net";
  const Config patch_config = resolve_config(pvalues, "pixnet baseline");
  TrainRequest pr;
  std::vector<at::Tensor> patches, targets;
  for (const auto& s : train) {
    patches.push_back(s.patches);
    targets.push_back(count_targets(s.counts, s.gene_names, genes, "section " + s.name));
  }
  pr.patches = at::cat(patches);
  pr.targets = at::cat(targets);
  pr.labels = at::zeros({pr.patches.size(0)}, at::kLong);
  pr.seed = seed;
  pr.retrieval = false;
  pr.genes = genes;
  say(log, "training the spot-patch regressor (scr2net, no retrieval) on " + std::to_string(pr.patches.size(0)) +
               " spots");
  const auto patch = train_model(pr, patch_config);

  torch::NoGradGuard no_grad;
  json per_scale = json::object();
  std::string table;
  for (const auto& s : test) {
    const auto image = normalise(section_image(s, um_per_px).to(at::kFloat).div(255.0).unsqueeze(0))[0];
    for (const auto& set : region_sets(s)) {
      const auto rows = subset(set.coords.size(0), config.integer("eval_max_regions"), seed + 17);
      TORCH_CHECK(rows.numel() >= 2, "section ", s.name, " ", set.name, ": fewer than 2 regions to evaluate");
      const auto truth = count_targets(set.counts.index_select(0, rows), set.gene_names, genes,
                                       "section " + s.name + " " + set.name);
      const auto d = dense_values(dense_model, image, s, set, rows, um_per_px, config);
      const auto p = patch_values(*patch.model, s, set, rows, train_spot_area, train_spot_um, patch_config);
      const auto md = regression_metrics(d, truth, {}, genes), mp = regression_metrics(p, truth, {}, genes);
      const auto key = s.name + "/" + set.name;
      per_scale[key] = {{"section", s.name}, {"set", set.name},      {"shape", set.shape},
                        {"size_um", set.size_um}, {"n_regions", rows.numel()}, {"n_total", set.coords.size(0)},
                        {"dense", headline(md)}, {"patch", headline(mp)}};
      table += "| " + s.name + " | " + set.name + " | " + std::to_string(rows.numel()) + " | " +
               fixed(md["pcc_m"].get<double>()) + " | " + fixed(mp["pcc_m"].get<double>()) + " | " +
               fixed(md["pcc_s"].get<double>()) + " | " + fixed(mp["pcc_s"].get<double>()) + " | " +
               fixed(md["mse"].get<double>()) + " | " + fixed(mp["mse"].get<double>()) + " |\n";
      say(log, key + ": PCC@M dense " + fixed(md["pcc_m"].get<double>()) + ", patch " +
                   fixed(mp["pcc_m"].get<double>()));
      if (set.name == "square_008um") {
        write_map_csv(fs::path(o.out) / ("map_" + s.name + "_" + set.name + ".csv"), set, rows, truth, d, p, genes,
                      s.mpp);
      }
    }
  }
  json metrics = {{"model", "pixnet"},
                  {"baseline", "scr2net without retrieval (spot patches)"},
                  {"train_scales", scales},
                  {"sections", [&] {
                     json n = json::array();
                     for (const auto& s : test) n.push_back(s.name);
                     return n;
                   }()},
                  {"train_sections", [&] {
                     json n = json::array();
                     for (const auto& s : train) n.push_back(s.name);
                     return n;
                   }()},
                  {"genes", genes},
                  {"um_per_px", um_per_px},
                  {"seed", seed},
                  {"final_loss", {{"dense", dense.losses.back()}, {"patch", patch.losses.back()}}},
                  {"scales", per_scale},
                  {"split", "held-out"},
                  {"stx_version", stx::library_version()}};
  write_json((fs::path(o.out) / "metrics.json").string(), metrics);
  std::string report = "# PixNet: dense model vs spot-patch model, held-out sections\n\n";
  report += "Trained at " + json(scales).dump() + " on " + std::to_string(train.size()) + " sections; seed " +
            std::to_string(seed) + "; " + std::to_string(genes.size()) + " genes; " + fixed(um_per_px) +
            " um/px. Values are log1p counts; PCC per gene over the regions.\n\n";
  report += "| section | regions | n | PCC@M dense | PCC@M patch | PCC@S dense | PCC@S patch | MSE dense | MSE patch |\n";
  report += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n" + table;
  write_file_atomic((fs::path(o.out) / "report.md").string(), report);
  say(log, "metrics -> " + (fs::path(o.out) / "metrics.json").string());
}

}  // namespace stx::train
