// stx._C.slides: images, SlideReader, patch extraction and SpotDataset. Pixel work releases
// the GIL; bad input surfaces as ValueError (c10 errors otherwise map to RuntimeError).
#include <pybind11/stl.h>

#include <ATen/CPUGeneratorImpl.h>

#include <stx/data/augment.h>
#include <stx/data/image.h>
#include <stx/data/patch.h>
#include <stx/data/slide.h>
#include <stx/data/spot_dataset.h>

#include "torch_ext/csrc/bindings.h"

namespace py = pybind11;
using stx::python::as_value_error;
using namespace stx::data;

namespace {

OutsidePolicy parse_outside(const std::string& s) {
  if (s == "error") return OutsidePolicy::Error;
  if (s == "fill") return OutsidePolicy::Fill;
  throw py::value_error("outside must be 'error' or 'fill', got '" + s + "'");
}

uint8_t check_fill(int64_t fill) {
  if (fill < 0 || fill > 255) throw py::value_error("fill must be in [0, 255], got " + std::to_string(fill));
  return static_cast<uint8_t>(fill);
}

}  // namespace

STX_PYTHON_BINDING(slides) {
  auto s = m.def_submodule("slides", "Images, slides, spot patches and the spot dataset (C++ core)");

  s.def("read_image", [](const std::string& path) { py::gil_scoped_release nogil; return read_image(path); },
        py::arg("path"));
  s.def("read_label_mask", [](const std::string& path) {
          py::gil_scoped_release nogil;
          return as_value_error([&] { return read_label_mask(path); });
        },
        py::arg("path"));
  s.def("read_image_planes",
        [](const std::string& path, std::optional<int64_t> page,
           std::optional<std::tuple<int64_t, int64_t, int64_t, int64_t>> region) {
          std::optional<PixelRegion> r;
          if (region) r = PixelRegion{std::get<0>(*region), std::get<1>(*region), std::get<2>(*region), std::get<3>(*region)};
          py::gil_scoped_release nogil;
          return as_value_error([&] { return read_image_planes(path, page, r); });
        },
        py::arg("path"), py::arg("page") = py::none(), py::arg("region") = py::none());
  s.def("max_image_pixels", [] { return max_image_pixels(); });
  s.def("set_max_image_pixels", [](int64_t pixels) { as_value_error([&] { set_max_image_pixels(pixels); }); },
        py::arg("pixels"));
  s.def("write_png", [](const std::string& path, const at::Tensor& image) {
          py::gil_scoped_release nogil;
          write_png(path, image);
        },
        py::arg("path"), py::arg("image"));

  py::class_<SlideReader>(s, "SlideReader")
      .def(py::init([](const std::string& path, std::optional<double> mpp) {
             return as_value_error([&] { return std::make_unique<SlideReader>(path, mpp); });
           }),
           py::arg("path"), py::arg("mpp") = py::none())
      .def_property_readonly("path", &SlideReader::path)
      .def_property_readonly("backend", &SlideReader::backend)
      .def_property_readonly("level_count", &SlideReader::level_count)
      .def_property_readonly("level_dimensions",
                             [](const SlideReader& r) {
                               std::vector<std::pair<int64_t, int64_t>> out;
                               for (int64_t l = 0; l < r.level_count(); ++l) {
                                 const auto d = r.level_dimensions(l);
                                 out.emplace_back(d[0], d[1]);
                               }
                               return out;
                             })
      .def_property_readonly("level_downsamples",
                             [](const SlideReader& r) {
                               std::vector<double> out;
                               for (int64_t l = 0; l < r.level_count(); ++l) out.push_back(r.level_downsample(l));
                               return out;
                             })
      .def_property_readonly("properties", &SlideReader::properties)
      .def_property_readonly("direct_tile_levels",
                             [](const SlideReader& r) {
                               std::vector<int64_t> out;
                               for (int64_t l = 0; l < r.level_count(); ++l)
                                 if (r.direct_tiles(l)) out.push_back(l);
                               return out;
                             })
      .def_property_readonly("has_mpp", &SlideReader::has_mpp)
      .def_property_readonly("mpp", [](const SlideReader& r) { return as_value_error([&] { return r.mpp(); }); })
      .def("level_mpp", [](const SlideReader& r, int64_t level) { return as_value_error([&] { return r.level_mpp(level); }); },
           py::arg("level"))
      .def("best_level_for_mpp",
           [](const SlideReader& r, double t) { return as_value_error([&] { return r.best_level_for_mpp(t); }); },
           py::arg("target_mpp"))
      .def("best_level_for_downsample",
           [](const SlideReader& r, double d) { return as_value_error([&] { return r.best_level_for_downsample(d); }); },
           py::arg("downsample"))
      .def("read_region",
           [](const SlideReader& r, int64_t level, int64_t x, int64_t y, int64_t w, int64_t h, const std::string& outside,
              int64_t fill) {
             const OutsidePolicy policy = parse_outside(outside);
             const uint8_t f = check_fill(fill);
             py::gil_scoped_release nogil;
             return as_value_error([&] { return r.read_region(level, x, y, w, h, policy, f); });
           },
           py::arg("level"), py::arg("x"), py::arg("y"), py::arg("w"), py::arg("h"), py::arg("outside") = "error",
           py::arg("fill") = 255);

  s.def("extract_patches",
        [](const SlideReader& r, const at::Tensor& centers, double target_mpp, int64_t size, int64_t num_threads,
           const std::string& outside, int64_t fill, double snap_tolerance, std::optional<std::string> cache_path) {
          PatchOptions o;
          o.num_threads = num_threads;
          o.outside = parse_outside(outside);
          o.fill = check_fill(fill);
          o.snap_tolerance = snap_tolerance;
          py::gil_scoped_release nogil;
          return as_value_error([&] {
            return cache_path ? extract_patches_cached(r, centers, target_mpp, size, *cache_path, o)
                              : extract_patches(r, centers, target_mpp, size, o);
          });
        },
        py::arg("slide"), py::arg("centers_xy"), py::arg("target_mpp"), py::arg("size"), py::arg("num_threads") = 0,
        py::arg("outside") = "fill", py::arg("fill") = 255, py::arg("snap_tolerance") = 0.01,
        py::arg("cache_path") = py::none());

  s.def("dihedral_transform",
        [](const at::Tensor& images, int64_t k) { return as_value_error([&] { return dihedral_transform(images, k); }); },
        py::arg("images"), py::arg("k"));

  s.def("augment_presets", &augment_presets);
  s.def(
      "augment",
      [](const at::Tensor& images, const std::string& preset, uint64_t seed) {
        return as_value_error([&] {
          auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
          return augment(images, preset, gen);
        });
      },
      py::arg("images"), py::arg("preset"), py::arg("seed"));
  s.def("shift_scale_rotate",
        [](const at::Tensor& images, const at::Tensor& degrees, const at::Tensor& scale, const at::Tensor& shift_x,
           const at::Tensor& shift_y) {
          return as_value_error([&] { return shift_scale_rotate(images, degrees, scale, shift_x, shift_y); });
        },
        py::arg("images"), py::arg("degrees"), py::arg("scale"), py::arg("shift_x"), py::arg("shift_y"));
  s.def("colour_jitter",
        [](const at::Tensor& images, const at::Tensor& brightness, const at::Tensor& contrast,
           const at::Tensor& saturation) {
          return as_value_error([&] { return colour_jitter(images, brightness, contrast, saturation); });
        },
        py::arg("images"), py::arg("brightness"), py::arg("contrast"), py::arg("saturation"));
  s.def("gaussian_blur",
        [](const at::Tensor& images, double sigma) { return as_value_error([&] { return gaussian_blur(images, sigma); }); },
        py::arg("images"), py::arg("sigma"));

  py::class_<SpotDataset>(s, "SpotDataset")
      .def(py::init([](at::Tensor patches, at::Tensor expression, at::Tensor coords, at::Tensor sections, bool augment,
                       uint64_t seed) {
             return as_value_error([&] {
               return std::make_unique<SpotDataset>(patches, expression, coords, sections, augment, seed);
             });
           }),
           py::arg("patches"), py::arg("expression"), py::arg("coords"), py::arg("section_ids"),
           py::arg("augment") = false, py::arg("seed") = 0)
      .def("__len__", [](const SpotDataset& d) { return *d.size(); })
      .def("get",
           [](SpotDataset& d, int64_t index) {
             if (index < 0) index += static_cast<int64_t>(*d.size());
             if (index < 0 || index >= static_cast<int64_t>(*d.size())) throw py::index_error("SpotDataset index out of range");
             const SpotExample ex = d.get(static_cast<size_t>(index));
             return py::make_tuple(ex.patch, ex.expression, ex.coords, ex.section);
           },
           py::arg("index"))
      .def("symmetry", [](const SpotDataset& d, size_t i) { return d.symmetry(i); }, py::arg("index"))
      .def("set_epoch", &SpotDataset::set_epoch, py::arg("epoch"))
      .def_property_readonly("epoch", &SpotDataset::epoch)
      .def_property_readonly("num_genes", &SpotDataset::num_genes);
}
