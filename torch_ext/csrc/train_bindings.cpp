// stx._C.train: the training layer (stx/train/*.h) for the Python front end. Config, metrics and
// schema cross as JSON text (the Python side json.loads them), so no value is restated here.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <torch/python.h>

#include <cmath>

#include <stx/train/checkpoint.h>
#include <stx/train/commands.h>
#include <stx/train/config.h>
#include <stx/train/data.h>
#include <stx/train/loop.h>
#include <stx/train/metrics.h>
#include <stx/train/pixnet.h>
#include <stx/train/recipe.h>
#include <stx/train/stitch.h>
#include <stx/train/tile_loss.h>

#include "torch_ext/csrc/bindings.h"

namespace py = pybind11;
using json = nlohmann::json;
using namespace stx::train;

namespace {

// A Python value (None, bool, int, float, str, list/tuple, dict with str keys, anything with
// __index__ or __float__) as JSON; `where` names it in errors.
json to_json(py::handle h, const std::string& where) {
  if (h.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) {
    try {
      return h.cast<int64_t>();
    } catch (const py::cast_error&) {
      throw py::value_error(where + " is out of the 64-bit integer range, got " + py::str(h).cast<std::string>());
    }
  }
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    json out = json::array();
    for (auto item : h) out.push_back(to_json(item, where));
    return out;
  }
  if (py::isinstance<py::dict>(h)) {
    json out = json::object();
    for (auto item : h.cast<py::dict>()) {
      const auto key = py::str(item.first).cast<std::string>();
      out[key] = to_json(item.second, where == "config" ? "config '" + key + "'" : where);
    }
    return out;
  }
  if (py::hasattr(h, "__index__")) return to_json(h.attr("__index__")(), where);
  if (py::hasattr(h, "__float__")) return to_json(h.attr("__float__")(), where);
  throw py::value_error(where + ": a " + py::str(py::type::of(h).attr("__name__")).cast<std::string>() +
                        " is not a JSON value");
}

py::object from_json(const json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

Config config_of(const py::dict& values, const std::string& source) {
  json j = json::object();
  for (auto item : values) {
    const auto key = py::str(item.first).cast<std::string>();
    j[key] = to_json(item.second, source + ": config '" + key + "'");
  }
  return stx::python::as_value_error([&] { return resolve_config(j, source); });
}

TrainHooks hooks_of(int64_t rank, int64_t world, const py::object& average, const py::object& sharded,
                    const py::object& progress) {
  TrainHooks h;
  h.rank = rank;
  h.world = world;
  if (!average.is_none()) {
    auto fn = average.cast<std::function<void(at::Tensor)>>();
    h.average_gradients = [fn](at::Tensor& flat) { fn(flat); };
  }
  if (!sharded.is_none()) h.sharded_retrieve = sharded.cast<ShardedRetrieveFn>();
  if (!progress.is_none()) h.progress = progress.cast<std::function<void(int64_t, double)>>();
  return h;
}

Log log_of(const py::object& log) {
  if (log.is_none()) return {};
  auto fn = log.cast<std::function<void(std::string)>>();
  return [fn](const std::string& msg) { fn(msg); };
}

RunOptions options_of(const std::string& data, const std::string& sections, const std::string& test_sections,
                      const std::string& out, const std::string& checkpoint, const std::string& selection, bool force,
                      bool resume, bool retrieval) {
  return RunOptions{data, sections, test_sections, out, checkpoint, selection, force, resume, retrieval};
}

}  // namespace

STX_PYTHON_BINDING(train) {
  auto t = m.def_submodule("train", "The training layer (stx::train): config, data, recipes, loop, metrics");
  using stx::python::as_value_error;

  t.def("config_schema", [] { return config_schema_json().dump(); }, "The config schema as JSON text");
  t.def("recipe_names", &recipe_names);
  t.def("metric_keys", &metric_keys);

  py::class_<Config>(t, "Config")
      .def(py::init([](const py::dict& values, const std::string& source) { return config_of(values, source); }),
           py::arg("values"), py::arg("source") = "config")
      .def_property_readonly("json", [](const Config& c) { return c.values.dump(); });

  py::class_<Section>(t, "Section")
      .def_readonly("name", &Section::name)
      .def_readonly("patches", &Section::patches)
      .def_readonly("counts", &Section::counts)
      .def_readonly("coords", &Section::coords)
      .def_readonly("gene_names", &Section::gene_names)
      .def_readonly("image_path", &Section::image_path)
      .def_readonly("mpp", &Section::mpp)
      .def_readonly("image_scale", &Section::image_scale);

  t.def("load_sections", [](const std::string& data, const Config& c, const std::string& work_dir) {
    return as_value_error([&] {
      DataInfo info;
      std::vector<Section> sections;
      {
        py::gil_scoped_release no_gil;
        sections = load_sections(data, c, work_dir, &info);
      }
      py::dict d;
      d["kind"] = info.kind;
      d["path"] = info.path;
      d["reference"] = info.reference.empty() ? py::object(py::none()) : py::object(py::str(info.reference));
      return py::make_tuple(sections, d);
    });
  });
  t.def("pick_sections", [](const std::vector<Section>& s, const std::string& names) {
    return as_value_error([&] { return pick_sections(s, names); });
  });
  t.def("choose_genes", [](const std::vector<Section>& s, const Config& c) {
    return as_value_error([&] {
      std::string rule;
      auto genes = choose_genes(s, c, &rule);
      return py::make_tuple(genes, rule);
    });
  });
  t.def("section_targets", [](const Section& s, const std::vector<std::string>& genes) {
    return as_value_error([&] { return section_targets(s, genes); });
  });
  t.def("make_pool", [](const std::vector<Section>& s, const std::vector<std::string>& genes) {
    return as_value_error([&] {
      auto p = make_pool(s, genes);
      py::dict d;
      d["patches"] = p.patches;
      d["targets"] = p.targets;
      d["coords"] = p.coords;
      d["section_id"] = p.section_id;
      d["names"] = p.names;
      d["genes"] = genes;
      return d;
    });
  });

  py::class_<TrainableModel, std::shared_ptr<TrainableModel>>(t, "Model")
      .def("state_dict", [](TrainableModel& m) { return module_state(m.module()); })
      .def("load_state_dict", [](TrainableModel& m, const std::map<std::string, at::Tensor>& s) {
        as_value_error([&] { load_module_state(m.module(), s, "load_state_dict"); });
      });
  t.def("build_model", [](const Config& c, int64_t genes) {
    return as_value_error([&] { return std::shared_ptr<TrainableModel>(build_model(c, genes)); });
  });
  t.def(
      "train",
      [](const at::Tensor& patches, const at::Tensor& targets, const at::Tensor& labels, const Config& c,
         uint64_t seed, bool retrieval, int64_t rank, int64_t world, const py::object& average,
         const py::object& sharded, const py::object& progress) {
        TrainRequest r;
        r.patches = patches;
        r.targets = targets;
        r.labels = labels;
        r.seed = seed;
        r.retrieval = retrieval;
        auto hooks = hooks_of(rank, world, average, sharded, progress);
        TrainResult result;
        as_value_error([&] {
          py::gil_scoped_release no_gil;  // autograd runs without the GIL; the hooks take it back
          result = train_model(r, c, hooks);
        });
        py::list steps, mse;
        for (const auto& [step, v] : result.validation) {
          steps.append(step);
          mse.append(v);
        }
        py::dict validation;
        validation["indices"] = result.validation_indices;
        validation["steps"] = steps;
        validation["mse"] = mse;
        validation["best_step"] = result.best_step;
        return py::make_tuple(result.model, result.losses, validation);
      },
      py::arg("patches"), py::arg("targets"), py::arg("labels"), py::arg("config"), py::arg("seed"),
      py::arg("retrieval") = true, py::arg("rank") = 0, py::arg("world") = 1, py::arg("average_gradients") = py::none(),
      py::arg("sharded_retrieve") = py::none(), py::arg("progress") = py::none(),
      "The training loop (stx/train/loop.h): returns (model, losses, validation) -- validation: indices "
      "(rows held back), steps, mse and best_step of config val_fraction (empty lists without)");
  t.def(
      "predict",
      [](TrainableModel& m, const at::Tensor& patches, const std::string& device) {
        return as_value_error([&] {
          py::gil_scoped_release no_gil;
          return predict(m, patches, device);
        });
      },
      py::arg("model"), py::arg("patches"), py::arg("device") = "cpu");
  t.def(
      "regression_metrics",
      [](const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& coords,
         const std::vector<std::string>& gene_names, int64_t morans_k) {
        return from_json(as_value_error(
            [&] { return regression_metrics(pred, target, coords.value_or(at::Tensor()), gene_names, morans_k); }));
      },
      py::arg("pred"), py::arg("target"), py::arg("coords") = py::none(),
      py::arg("gene_names") = std::vector<std::string>{}, py::arg("morans_k") = 6);
  t.def("mean_predictor_metrics", [](const at::Tensor& mean, const at::Tensor& target) {
    return from_json(as_value_error([&] { return mean_predictor_metrics(mean, target); }));
  });
  t.def(
      "tile_spot_loss",
      [](const at::Tensor& dense, const at::Tensor& centers, const at::Tensor& radii, const at::Tensor& targets,
         double pcc_weight, const std::string& border, const std::string& shape, bool log1p) {
        return as_value_error([&] {
          const auto r =
              tile_spot_loss(dense, centers, radii, targets, TileLossOptions{pcc_weight, border, shape, log1p});
          return std::make_tuple(r.loss, r.weight, r.predicted);
        });
      },
      py::arg("dense"), py::arg("centers"), py::arg("radii"), py::arg("targets"), py::arg("pcc_weight") = 0.5,
      py::arg("border") = "drop", py::arg("shape") = "disk", py::arg("log1p") = false,
      "PixNet's tile loss (stx/train/tile_loss.h): (loss, weight per spot, predicted disk sums)");
  t.def(
      "stitched_predict",
      [](const py::function& forward, const at::Tensor& image, const at::Tensor& centers, const at::Tensor& radii,
         int64_t tile, int64_t margin, int64_t downsample, const std::string& shape) {
        return as_value_error([&] {
          const auto call = [&](const at::Tensor& x) { return forward(x).cast<at::Tensor>(); };
          const auto r = stitched_predict(call, image, centers, radii, StitchOptions{tile, margin, downsample, shape});
          py::dict d;
          d["spots"] = r.spots;
          d["coverage"] = r.coverage;
          d["map"] = r.map.defined() ? py::cast(r.map) : py::none();
          d["tiles"] = r.tiles;
          return d;
        });
      },
      py::arg("forward"), py::arg("image"), py::arg("centers"), py::arg("radii"), py::arg("tile") = 512,
      py::arg("margin") = 64, py::arg("downsample") = 0, py::arg("shape") = "disk",
      "Whole-image inference of a dense model by overlapping tiles (stx/train/stitch.h): {spots, coverage, map, "
      "tiles}");
  t.def("write_json", [](const std::string& path, const py::object& value) {
    auto j = to_json(value, path);
    as_value_error([&] { write_json(path, j); });
  });
  t.def("prepare_out", [](const std::string& out, bool force) {
    return as_value_error([&] { return prepare_out(out, force); });
  });
  t.def("read_selection", [](const std::string& path, const std::vector<std::string>& names, int64_t n) {
    return as_value_error([&] { return read_selection(path, names, n); });
  });
  t.def("read_gene_list", [](const std::string& path) { return as_value_error([&] { return read_gene_list(path); }); },
        py::arg("path"), "A gene list: .npy of strings or text with one name per line ('#' comments)");
  t.def("split_sections", [](const std::vector<Section>& sections, const std::string& test_names) {
    return as_value_error([&] {
      std::vector<Section> train, test;
      split_sections(sections, test_names, &train, &test);
      return py::make_tuple(train, test);
    });
  });
  t.def("checkpoint_info", [](const std::string& path) {
    return as_value_error([&] {
      auto c = load_checkpoint(path);
      py::dict d;
      d["recipe"] = c.recipe;
      d["genes"] = c.genes;
      d["config"] = from_json(c.config.values);
      d["retrieval"] = c.retrieval;
      d["finished"] = !c.has_train_state;
      d["step"] = c.has_train_state ? c.train_state.step : -1;
      return d;
    });
  });

  t.def(
      "run_train",
      [](const Config& c, const std::string& data, const std::string& sections, const std::string& out,
         const std::string& selection, bool force, bool resume, bool retrieval, int64_t rank, int64_t world,
         const py::object& average, const py::object& sharded, const py::object& progress, const py::object& log) {
        auto o = options_of(data, sections, "", out, "", selection, force, resume, retrieval);
        auto hooks = hooks_of(rank, world, average, sharded, progress);
        auto l = log_of(log);
        as_value_error([&] {
          py::gil_scoped_release no_gil;
          run_train(o, c, hooks, l);
        });
      },
      py::arg("config"), py::arg("data"), py::arg("sections"), py::arg("out"), py::arg("selection") = "",
      py::arg("force") = false, py::arg("resume") = false, py::arg("retrieval") = true, py::arg("rank") = 0,
      py::arg("world") = 1, py::arg("average_gradients") = py::none(), py::arg("sharded_retrieve") = py::none(),
      py::arg("progress") = py::none(), py::arg("log") = py::none());
  t.def(
      "run_evaluate",
      [](const Config& c, const std::string& checkpoint, const std::string& data, const std::string& sections,
         const std::string& out, bool force, const py::object& log) {
        auto o = options_of(data, sections, "", out, checkpoint, "", force, false, true);
        auto l = log_of(log);
        as_value_error([&] {
          py::gil_scoped_release no_gil;
          run_evaluate(o, c, l);
        });
      },
      py::arg("config"), py::arg("checkpoint"), py::arg("data"), py::arg("sections"), py::arg("out"),
      py::arg("force") = false, py::arg("log") = py::none());
  t.def(
      "run_pixnet",
      [](const Config& c, const std::string& data, const std::string& test_sections, const std::string& out,
         bool force, const py::object& log) {
        auto o = options_of(data, "", test_sections, out, "", "", force, false, false);
        auto l = log_of(log);
        as_value_error([&] {
          py::gil_scoped_release no_gil;
          run_pixnet(o, c, l);
        });
      },
      py::arg("config"), py::arg("data"), py::arg("test_sections"), py::arg("out"), py::arg("force") = false,
      py::arg("log") = py::none(),
      "The PixNet study (stx/train/pixnet.h): dense model vs spot-patch model at every region set of the "
      "held-out sections -> out/metrics.json, report.md, checkpoint.pt");
}
