// stx._C.envs: the spot-sampling environment (C++ core in envs/). Stepping releases the GIL;
// observation arrays are views of the C++ buffers (they keep their owner alive).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stx/envs/envs.h>

#include "torch_ext/csrc/bindings.h"

namespace py = pybind11;
using stx::python::as_value_error;
using namespace stx::envs;

namespace {

// EnvConfig's keys as Python sees them; every default comes from the C++ struct.
const std::vector<std::string> kConfigKeys = {"budget_ratio",    "mode",           "weights",        "picks_per_step",
                                              "max_steps",       "exclude_initial", "invalid_action", "invalid_penalty"};

py::tuple weights_tuple(const RewardWeights& w) { return py::make_tuple(w.sc, w.type, w.spatial); }

void set_weights(EnvConfig& c, const py::handle& value) {
  const auto w = value.cast<std::vector<double>>();
  if (w.size() != 3) throw py::value_error("weights must be (w_sc, w_type, w_spatial), got " + std::to_string(w.size()) +
                                           " values");
  c.weights = {w[0], w[1], w[2]};
}

void set_key(EnvConfig& c, const std::string& key, const py::handle& value) try {
  as_value_error([&] {
    if (key == "budget_ratio") c.budget_ratio = value.cast<double>();
    else if (key == "mode") c.mode = parse_reward_mode(value.cast<std::string>());
    else if (key == "weights") set_weights(c, value);
    else if (key == "picks_per_step") c.picks_per_step = value.cast<int64_t>();
    else if (key == "max_steps") c.max_steps = value.cast<int64_t>();
    else if (key == "exclude_initial") c.exclude_initial = value.cast<bool>();
    else if (key == "invalid_action") c.invalid_action = parse_invalid_action(value.cast<std::string>());
    else if (key == "invalid_penalty") c.invalid_penalty = value.cast<double>();
    else throw py::value_error("unknown env config key '" + key + "' (keys: " + c10::Join(", ", kConfigKeys) + ")");
    return 0;
  });
} catch (const py::cast_error&) {
  throw py::value_error("env config key '" + key + "' got a value of the wrong type: " +
                        py::repr(value).cast<std::string>());
}

py::dict config_dict(const EnvConfig& c) {
  py::dict d;
  d["budget_ratio"] = c.budget_ratio;
  d["mode"] = reward_mode_name(c.mode);
  d["weights"] = weights_tuple(c.weights);
  d["picks_per_step"] = c.picks_per_step;
  d["max_steps"] = c.max_steps;
  d["exclude_initial"] = c.exclude_initial;
  d["invalid_action"] = invalid_action_name(c.invalid_action);
  d["invalid_penalty"] = c.invalid_penalty;
  return d;
}

// A config from an optional base config and keyword overrides (the native envs' constructors).
EnvConfig make_config(const std::optional<EnvConfig>& base, const py::kwargs& overrides) {
  EnvConfig c = base.value_or(EnvConfig{});
  for (const auto& [key, value] : overrides) set_key(c, key.cast<std::string>(), value);
  return c;
}

py::tuple terms_tuple(const RewardTerms& t) { return py::make_tuple(t.sc, t.type, t.spatial); }

template <typename T>
py::array view(const T* data, int64_t n, py::handle owner) {
  return py::array_t<T>({n}, {static_cast<py::ssize_t>(sizeof(T))}, data, owner);
}

}  // namespace

STX_PYTHON_BINDING(envs) {
  auto e = m.def_submodule("envs", "Spot-sampling environment (C++ core)");

  py::class_<EnvConfig>(e, "EnvConfig",
                        "Configuration of the spot-sampling env (C++ stx::envs::EnvConfig; every default lives there). "
                        "EnvConfig(**overrides); as_dict(); keys().")
      .def(py::init([](const py::kwargs& overrides) { return make_config(std::nullopt, overrides); }))
      .def_readwrite("budget_ratio", &EnvConfig::budget_ratio)
      .def_property(
          "mode", [](const EnvConfig& c) { return reward_mode_name(c.mode); },
          [](EnvConfig& c, const py::object& v) { set_key(c, "mode", v); })
      .def_property(
          "weights", [](const EnvConfig& c) { return weights_tuple(c.weights); },
          [](EnvConfig& c, const py::object& v) { set_weights(c, v); })
      .def_readwrite("picks_per_step", &EnvConfig::picks_per_step)
      .def_readwrite("max_steps", &EnvConfig::max_steps)
      .def_readwrite("exclude_initial", &EnvConfig::exclude_initial)
      .def_property(
          "invalid_action", [](const EnvConfig& c) { return invalid_action_name(c.invalid_action); },
          [](EnvConfig& c, const py::object& v) { set_key(c, "invalid_action", v); })
      .def_readwrite("invalid_penalty", &EnvConfig::invalid_penalty)
      .def("as_dict", &config_dict)
      .def_static("keys", [] { return kConfigKeys; })
      .def("__repr__", [](const EnvConfig& c) { return "EnvConfig(" + py::str(config_dict(c)).cast<std::string>() + ")"; });
  e.attr("MAX_CELL_TYPES") = kMaxCellTypes;
  py::register_exception<ConcurrentUseError>(e, "ConcurrentUseError", PyExc_RuntimeError);

  py::class_<SingleCellPrior, std::shared_ptr<SingleCellPrior>>(e, "SingleCellPrior")
      .def_static(
          "build",
          [](const at::Tensor& embeddings, const at::Tensor& cell_types, int64_t num_types,
             std::optional<at::Tensor> cluster_labels, int64_t pca_components, int64_t num_clusters,
             int64_t kmeans_iterations, int64_t kmeans_max_points, uint64_t seed) {
            SingleCellReference ref{embeddings, cell_types, num_types, cluster_labels.value_or(at::Tensor())};
            PriorOptions opt{pca_components, num_clusters, kmeans_iterations, kmeans_max_points, seed};
            py::gil_scoped_release release;
            return std::const_pointer_cast<SingleCellPrior>(SingleCellPrior::build(ref, opt));
          },
          py::arg("embeddings"), py::arg("cell_types"), py::arg("num_types") = 0, py::arg("cluster_labels") = py::none(),
          py::arg("pca_components") = 50, py::arg("num_clusters") = 1000, py::arg("kmeans_iterations") = 50,
          py::arg("kmeans_max_points") = 20000, py::arg("seed") = 0)
      .def("project", &SingleCellPrior::project)
      .def("nearest_cluster", &SingleCellPrior::nearest_cluster)
      .def("nearest_cell", &SingleCellPrior::nearest_cell)
      .def_property_readonly("mean", &SingleCellPrior::mean)
      .def_property_readonly("components", &SingleCellPrior::components)
      .def_property_readonly("centroids", &SingleCellPrior::centroids)
      .def_property_readonly("cell_types", &SingleCellPrior::cell_types)
      .def_property_readonly("num_clusters", &SingleCellPrior::num_clusters)
      .def_property_readonly("num_types", &SingleCellPrior::num_types);

  py::class_<SpotSamplingTask, std::shared_ptr<SpotSamplingTask>>(e, "SpotSamplingTask")
      .def_static(
          "create",
          [](const at::Tensor& features, const at::Tensor& coords, const at::Tensor& reward_embedding,
             std::shared_ptr<SingleCellPrior> prior, std::optional<at::Tensor> section_id) {
            Section s{features, coords, section_id.value_or(at::Tensor()), reward_embedding};
            py::gil_scoped_release release;
            return std::const_pointer_cast<SpotSamplingTask>(SpotSamplingTask::create(s, prior));
          },
          py::arg("features"), py::arg("coords"), py::arg("reward_embedding"), py::arg("prior"),
          py::arg("section_id") = py::none())
      .def_property_readonly("num_spots", &SpotSamplingTask::num_spots)
      .def_property_readonly("feature_dim", &SpotSamplingTask::feature_dim)
      .def_property_readonly("num_sections", &SpotSamplingTask::num_sections)
      .def_property_readonly("num_clusters", &SpotSamplingTask::num_clusters)
      .def_property_readonly("num_types", &SpotSamplingTask::num_types)
      .def_property_readonly("features", &SpotSamplingTask::features)
      .def_property_readonly("unit_coords", &SpotSamplingTask::unit_coords)
      .def_property_readonly("spot_cluster", &SpotSamplingTask::spot_cluster)
      .def_property_readonly("spot_type", &SpotSamplingTask::spot_type)
      .def_property_readonly("feature_min", &SpotSamplingTask::feature_min)
      .def_property_readonly("feature_max", &SpotSamplingTask::feature_max)
      .def_property_readonly("section_diameter", &SpotSamplingTask::section_diameter)
      .def_property_readonly("section_index", &SpotSamplingTask::section_of);

  py::class_<SpotSamplingEnv>(e, "SpotSamplingEnv")
      .def(py::init([](std::shared_ptr<SpotSamplingTask> task, uint64_t seed, std::optional<EnvConfig> config,
                       const py::kwargs& overrides) {
             auto cfg = make_config(config, overrides);
             return std::make_unique<SpotSamplingEnv>(task, cfg, seed);
           }),
           py::arg("task"), py::arg("seed") = 0, py::arg("config") = py::none())
      .def(
          "reset", [](SpotSamplingEnv& env, std::optional<uint64_t> seed) { env.reset(seed); },
          py::arg("seed") = py::none(), py::call_guard<py::gil_scoped_release>())
      .def(
          "step",
          [](SpotSamplingEnv& env, std::vector<int64_t> actions) {
            StepResult r;
            {
              py::gil_scoped_release release;
              r = as_value_error([&] { return env.step(actions); });
            }
            return py::make_tuple(r.reward, r.terminated, r.truncated, terms_tuple(r.terms), r.round_complete,
                                  r.invalid_action);
          },
          py::arg("actions"))
      .def("sampled", [](py::object self) {
        auto& env = self.cast<SpotSamplingEnv&>();
        return view(env.sampled(), env.num_spots(), self);
      })
      .def("action_mask", [](py::object self) {
        auto& env = self.cast<SpotSamplingEnv&>();
        return view(env.action_mask(), env.num_spots(), self);
      })
      .def_property_readonly("task", [](const SpotSamplingEnv& env) {
        return std::const_pointer_cast<SpotSamplingTask>(env.task_ptr());
      })
      .def_property_readonly("num_spots", &SpotSamplingEnv::num_spots)
      .def_property_readonly("budget_left_fraction", &SpotSamplingEnv::budget_left_fraction)
      .def_property_readonly("picks_this_step", &SpotSamplingEnv::picks_this_step)
      .def_property_readonly("spots_left", &SpotSamplingEnv::spots_left)
      .def_property_readonly("elapsed_steps", &SpotSamplingEnv::elapsed_steps)
      .def_property_readonly("done", &SpotSamplingEnv::done)
      .def_property_readonly("history", &SpotSamplingEnv::history)
      .def_property_readonly("initial_terms", [](const SpotSamplingEnv& env) { return terms_tuple(env.initial_terms()); })
      .def_property_readonly("budget_total", [](const SpotSamplingEnv& env) { return env.budget().total; })
      .def_property_readonly("round_size", [](const SpotSamplingEnv& env) { return env.budget().round_size; })
      .def_property_readonly("mode", [](const SpotSamplingEnv& env) { return reward_mode_name(env.config().mode); })
      .def_property_readonly("config", &SpotSamplingEnv::config);

  py::class_<SpotSamplingVecEnv>(e, "SpotSamplingVecEnv")
      .def(py::init([](std::vector<std::shared_ptr<SpotSamplingTask>> tasks, int64_t num_envs, uint64_t seed,
                       int64_t num_threads, std::optional<EnvConfig> config, const py::kwargs& overrides) {
             auto cfg = make_config(config, overrides);
             std::vector<SpotSamplingTaskPtr> t(tasks.begin(), tasks.end());
             return std::make_unique<SpotSamplingVecEnv>(t, cfg, num_envs, seed, num_threads);
           }),
           py::arg("tasks"), py::arg("num_envs"), py::arg("seed") = 0, py::arg("num_threads") = 0,
           py::arg("config") = py::none())
      .def("reset", &SpotSamplingVecEnv::reset, py::arg("seed") = py::none(),
           py::arg("env_ids") = std::vector<int64_t>{}, py::call_guard<py::gil_scoped_release>())
      .def(
          "step",
          [](SpotSamplingVecEnv& v, const at::Tensor& actions) {
            py::gil_scoped_release release;
            as_value_error([&] {
              v.step(actions);
              return 0;
            });
          },
          py::arg("actions"))
      .def("env", &SpotSamplingVecEnv::env, py::return_value_policy::reference_internal)
      .def_property_readonly("num_envs", &SpotSamplingVecEnv::num_envs)
      .def_property_readonly("num_spots", &SpotSamplingVecEnv::num_spots)
      .def_property_readonly("num_threads", &SpotSamplingVecEnv::num_threads)
      .def_property_readonly("sampled", &SpotSamplingVecEnv::sampled)
      .def_property_readonly("action_mask", &SpotSamplingVecEnv::action_mask)
      .def_property_readonly("budget_left", &SpotSamplingVecEnv::budget_left)
      .def_property_readonly("reward", &SpotSamplingVecEnv::reward)
      .def_property_readonly("terminated", &SpotSamplingVecEnv::terminated)
      .def_property_readonly("truncated", &SpotSamplingVecEnv::truncated)
      .def_property_readonly("invalid_action", &SpotSamplingVecEnv::invalid_action)
      .def_property_readonly("terms", &SpotSamplingVecEnv::terms)
      .def_property_readonly("elapsed_steps", &SpotSamplingVecEnv::elapsed_steps)
      .def_property_readonly("task_index", &SpotSamplingVecEnv::task_index);

  e.def("faithful_round_size", &faithful_round_size, py::arg("num_spots"), py::arg("budget_ratio"));
  e.def("baseline_policy_names", &baseline_policy_names);
  e.def("baseline_select", &baseline_select, py::arg("env"), py::arg("policy"), py::arg("count"),
        py::arg("seed") = 0, py::call_guard<py::gil_scoped_release>());
  e.def("run_baseline_episode", &run_baseline_episode, py::arg("env"), py::arg("policy"), py::arg("seed") = 0,
        py::call_guard<py::gil_scoped_release>());
  e.def("gumbel_topk", &gumbel_topk, py::arg("logits"), py::arg("mask"), py::arg("k"), py::arg("seed") = 0);
  e.def(
      "make_synthetic",
      [](int64_t num_spots, int64_t num_sections, int64_t feature_dim, int64_t embedding_dim, int64_t num_types,
         int64_t states_per_type, int64_t num_cells, double feature_noise, uint64_t seed, uint64_t section_seed) {
        SyntheticOptions o{num_spots, num_sections, feature_dim, embedding_dim, num_types,
                           states_per_type, num_cells, feature_noise, seed, section_seed};
        SyntheticData d;
        {
          py::gil_scoped_release release;
          d = make_synthetic(o);
        }
        py::dict out;
        out["features"] = d.section.features;
        out["coords"] = d.section.coords;
        out["section_id"] = d.section.section_id;
        out["reward_embedding"] = d.section.reward_embedding;
        out["cell_embeddings"] = d.reference.embeddings;
        out["cell_types"] = d.reference.cell_types;
        out["num_types"] = d.reference.num_types;
        out["spot_domain"] = d.spot_domain;
        return out;
      },
      py::arg("num_spots") = 400, py::arg("num_sections") = 1, py::arg("feature_dim") = 16,
      py::arg("embedding_dim") = 32, py::arg("num_types") = 12, py::arg("states_per_type") = 4,
      py::arg("num_cells") = 3000, py::arg("feature_noise") = 0.3, py::arg("seed") = 0, py::arg("section_seed") = 0);
}
