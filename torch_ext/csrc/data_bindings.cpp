// stx._C.data: the readers, preprocessing and the synthetic study (C++ in datasets/). Reading
// releases the GIL; bad input surfaces as ValueError with the C++ message.
#include <pybind11/stl.h>

#include <stx/data/cosmx.h>
#include <stx/data/h5ad.h>
#include <stx/data/hest.h>
#include <stx/data/legacy_st.h>
#include <stx/data/matrix.h>
#include <stx/data/preprocess.h>
#include <stx/data/synthetic.h>
#include <stx/data/visium.h>
#include <stx/data/xenium.h>

#include "torch_ext/csrc/bindings.h"

namespace py = pybind11;
using stx::python::as_value_error;
using namespace stx::data;

namespace {

std::optional<c10::ScalarType> parse_dtype(const std::string& name) {
  static const std::map<std::string, c10::ScalarType> kTypes = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf},
      {"int32", at::kInt},     {"int64", at::kLong},     {"uint8", at::kByte}};
  if (name == "keep") return std::nullopt;
  const auto it = kTypes.find(name);
  if (it == kTypes.end()) throw py::value_error("dtype must be float32/float64/float16/int32/int64/uint8 or keep, got '" + name + "'");
  return it->second;
}

MatrixOptions matrix_options(bool dense, const std::string& dtype) { return MatrixOptions{dense, parse_dtype(dtype)}; }

// A SpatialSample built from Python (e.g. from an anndata.AnnData): the tensors are kept as given
// (no copy); shapes and dtypes are checked so a consumer never sees an inconsistent sample.
SpatialSample make_sample(std::string sample_id, at::Tensor counts, std::vector<std::string> barcodes,
                          std::vector<std::string> gene_names, std::vector<std::string> gene_ids, at::Tensor coords_px,
                          std::optional<at::Tensor> array_coords, std::string image_path, double image_scale,
                          std::map<std::string, std::string> images, std::map<std::string, double> scalefactors,
                          double microns_per_pixel) {
  const auto n = static_cast<int64_t>(barcodes.size());
  const auto g = static_cast<int64_t>(gene_names.size());
  if (gene_ids.empty()) gene_ids = gene_names;
  auto fail = [](const std::string& what) { throw py::value_error("SpatialSample: " + what); };
  if (counts.dim() != 2 || counts.size(0) != n || counts.size(1) != g) {
    fail("counts must be [len(barcodes), len(gene_names)] = [" + std::to_string(n) + ", " + std::to_string(g) +
         "], got " + c10::str(counts.sizes()));
  }
  if (static_cast<int64_t>(gene_ids.size()) != g) fail("gene_ids must have one entry per gene name");
  if (coords_px.dim() != 2 || coords_px.size(0) != n || coords_px.size(1) != 2 ||
      coords_px.scalar_type() != at::kFloat) {
    fail("coords_px must be float32 [" + std::to_string(n) + ", 2], got " + c10::str(coords_px.scalar_type()) + " " +
         c10::str(coords_px.sizes()));
  }
  at::Tensor array = array_coords ? *array_coords : at::full({n, 2}, -1, coords_px.options().dtype(at::kLong));
  if (array.dim() != 2 || array.size(0) != n || array.size(1) != 2 || array.scalar_type() != at::kLong) {
    fail("array_coords must be int64 [" + std::to_string(n) + ", 2], got " + c10::str(array.scalar_type()) + " " +
         c10::str(array.sizes()));
  }
  if (!(image_scale > 0.0)) fail("image_scale must be positive, got " + std::to_string(image_scale));
  return SpatialSample{std::move(sample_id), std::move(counts), std::move(barcodes), std::move(gene_names),
                       std::move(gene_ids), std::move(coords_px), std::move(array), std::move(image_path),
                       image_scale, std::move(images), std::move(scalefactors), microns_per_pixel};
}

const char* kind_name(Column::Kind k) {
  switch (k) {
    case Column::Kind::Numeric: return "numeric";
    case Column::Kind::String: return "string";
    case Column::Kind::Categorical: return "categorical";
  }
  return "numeric";
}

}  // namespace

STX_PYTHON_BINDING(data) {
  auto d = m.def_submodule("data", "Readers, preprocessing and the synthetic study (C++ core)");

  py::class_<FeatureMatrix>(d, "FeatureMatrix")
      .def_readonly("counts", &FeatureMatrix::counts)
      .def_readonly("barcodes", &FeatureMatrix::barcodes)
      .def_property_readonly("feature_ids", [](const FeatureMatrix& f) { return f.features.ids; })
      .def_property_readonly("feature_names", [](const FeatureMatrix& f) { return f.features.names; })
      .def_property_readonly("feature_types", [](const FeatureMatrix& f) { return f.features.types; })
      .def_property_readonly("genomes", [](const FeatureMatrix& f) { return f.features.genomes; })
      .def_readonly("attributes", &FeatureMatrix::attributes);

  py::class_<SpatialSample>(d, "SpatialSample")
      .def(py::init(&make_sample), py::arg("sample_id"), py::arg("counts"), py::arg("barcodes"),
           py::arg("gene_names"), py::arg("gene_ids"), py::arg("coords_px"), py::arg("array_coords") = py::none(),
           py::arg("image_path") = "", py::arg("image_scale") = 1.0,
           py::arg("images") = std::map<std::string, std::string>{},
           py::arg("scalefactors") = std::map<std::string, double>{},
           py::arg("microns_per_pixel") = std::nan(""))
      .def_readonly("sample_id", &SpatialSample::sample_id)
      .def_readonly("counts", &SpatialSample::counts)
      .def_readonly("barcodes", &SpatialSample::barcodes)
      .def_readonly("gene_names", &SpatialSample::gene_names)
      .def_readonly("gene_ids", &SpatialSample::gene_ids)
      .def_readonly("coords_px", &SpatialSample::coords_px)
      .def_readonly("array_coords", &SpatialSample::array_coords)
      .def_readonly("image_path", &SpatialSample::image_path)
      .def_readonly("image_scale", &SpatialSample::image_scale)
      .def_readonly("images", &SpatialSample::images)
      .def_readonly("scalefactors", &SpatialSample::scalefactors)
      .def_readwrite("microns_per_pixel", &SpatialSample::microns_per_pixel)
      .def("__repr__", [](const SpatialSample& s) {
        return "SpatialSample('" + s.sample_id + "', spots=" + std::to_string(s.barcodes.size()) +
               ", genes=" + std::to_string(s.gene_names.size()) + ")";
      });

  py::class_<Column>(d, "Column")
      .def_property_readonly("kind", [](const Column& c) { return kind_name(c.kind); })
      .def_readonly("values", &Column::values)
      .def_readonly("mask", &Column::mask)
      .def_readonly("strings", &Column::strings)
      .def_readonly("ordered", &Column::ordered);
  py::class_<DataFrame>(d, "DataFrame")
      .def_readonly("index", &DataFrame::index)
      .def_readonly("column_order", &DataFrame::column_order)
      .def_readonly("columns", &DataFrame::columns);
  py::class_<AnnData>(d, "AnnData")
      .def_readonly("X", &AnnData::X)
      .def_readonly("obs", &AnnData::obs)
      .def_readonly("var", &AnnData::var)
      .def_readonly("layers", &AnnData::layers)
      .def_readonly("obsm", &AnnData::obsm)
      .def_readonly("raw_X", &AnnData::raw_X)
      .def_readonly("raw_var", &AnnData::raw_var);

  d.def("read_10x_h5", [](const std::string& path, bool dense, const std::string& dtype) {
    const MatrixOptions o = matrix_options(dense, dtype);
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_10x_h5(path, o); });
  }, py::arg("path"), py::arg("dense") = false, py::arg("dtype") = "float32");
  d.def("read_10x_mtx", [](const std::string& folder, bool dense, const std::string& dtype) {
    const MatrixOptions o = matrix_options(dense, dtype);
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_10x_mtx(folder, o); });
  }, py::arg("folder"), py::arg("dense") = false, py::arg("dtype") = "float32");
  d.def("write_10x_h5", [](const std::string& path, const at::Tensor& counts, const std::vector<std::string>& barcodes,
                           const std::vector<std::string>& ids, const std::vector<std::string>& names) {
    FeatureMatrix fm{counts, barcodes, Features{ids, names, {}, {}}, {}};
    py::gil_scoped_release nogil;
    as_value_error([&] { write_10x_h5(path, fm); });
  }, py::arg("path"), py::arg("counts"), py::arg("barcodes"), py::arg("feature_ids"), py::arg("feature_names"));
  d.def("read_visium", [](const std::string& folder, bool dense, const std::string& dtype) {
    const MatrixOptions o = matrix_options(dense, dtype);
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_visium(folder, o); });
  }, py::arg("folder"), py::arg("dense") = false, py::arg("dtype") = "float32");
  d.def("read_legacy_st", [](const std::string& counts, const std::string& spots, const std::string& image, bool dense,
                             const std::string& dtype) {
    const MatrixOptions o = matrix_options(dense, dtype);
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_legacy_st(counts, spots, image, o); });
  }, py::arg("counts"), py::arg("spots"), py::arg("image") = "", py::arg("dense") = false, py::arg("dtype") = "float32");
  d.def("read_hest", [](const std::string& folder, const std::string& sample_id, bool dense, const std::string& dtype) {
    const MatrixOptions o = matrix_options(dense, dtype);
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_hest(folder, sample_id, o); });
  }, py::arg("folder"), py::arg("sample_id"), py::arg("dense") = false, py::arg("dtype") = "float32");
  d.def("read_h5ad", [](const std::string& path, bool dense, const std::string& dtype, bool layers, bool raw) {
    H5adOptions o;
    o.dense = dense;
    o.dtype = parse_dtype(dtype);
    o.read_layers = layers;
    o.read_raw = raw;
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_h5ad(path, o); });
  }, py::arg("path"), py::arg("dense") = false, py::arg("dtype") = "keep", py::arg("layers") = true, py::arg("raw") = true);

  d.def("normalize_total", [](const at::Tensor& counts, double target_sum, bool log1p) {
    return as_value_error([&] { return normalize_total(counts, target_sum, log1p); });
  }, py::arg("counts"), py::arg("target_sum") = 1e4, py::arg("log1p") = true);
  d.def("highly_variable_genes", [](const at::Tensor& x, int64_t n_top_genes, int64_t n_bins) {
    const HighlyVariable h = as_value_error([&] { return highly_variable_genes(x, n_top_genes, n_bins); });
    py::dict out;
    out["means"] = h.means;
    out["dispersions"] = h.dispersions;
    out["dispersions_norm"] = h.dispersions_norm;
    out["highly_variable"] = h.highly_variable;
    return out;
  }, py::arg("log_normalized"), py::arg("n_top_genes"), py::arg("n_bins") = 20);
  d.def("highly_expressed_genes", [](const at::Tensor& counts, int64_t n_top) {
    return as_value_error([&] { return highly_expressed_genes(counts, n_top); });
  }, py::arg("counts"), py::arg("n_top"));
  d.def("match_genes", [](const std::vector<std::string>& q, const std::vector<std::string>& ids,
                          const std::vector<std::string>& names) { return as_value_error([&] { return match_genes(q, ids, names); }); },
        py::arg("query"), py::arg("ids"), py::arg("names"));
  d.def("align_genes", [](const at::Tensor& counts, const std::vector<std::string>& ids, const std::vector<std::string>& names,
                          const std::vector<std::string>& target, bool fill_missing) {
    return as_value_error([&] { return align_genes(counts, ids, names, target, fill_missing); });
  }, py::arg("counts"), py::arg("ids"), py::arg("names"), py::arg("target"), py::arg("fill_missing") = false);

  py::class_<SyntheticOptions>(d, "SyntheticOptions")
      .def(py::init<>())
      .def_readwrite("seed", &SyntheticOptions::seed)
      .def_readwrite("n_sections", &SyntheticOptions::n_sections)
      .def_readwrite("n_genes", &SyntheticOptions::n_genes)
      .def_readwrite("n_cell_types", &SyntheticOptions::n_cell_types)
      .def_readwrite("n_domains", &SyntheticOptions::n_domains)
      .def_readwrite("grid", &SyntheticOptions::grid)
      .def_readwrite("spot_diameter_um", &SyntheticOptions::spot_diameter_um)
      .def_readwrite("spot_pitch_um", &SyntheticOptions::spot_pitch_um)
      .def_readwrite("microns_per_pixel", &SyntheticOptions::microns_per_pixel)
      .def_readwrite("image_size_px", &SyntheticOptions::image_size_px)
      .def_readwrite("cell_spacing_um", &SyntheticOptions::cell_spacing_um)
      .def_readwrite("umis_per_cell", &SyntheticOptions::umis_per_cell)
      .def_readwrite("nb_theta", &SyntheticOptions::nb_theta)
      .def_readwrite("n_reference_cells", &SyntheticOptions::n_reference_cells)
      .def_readwrite("nucleus_masks", &SyntheticOptions::nucleus_masks)
      .def_readwrite("bin_sizes_um", &SyntheticOptions::bin_sizes_um)
      .def_readwrite("extra_spot_diameters_um", &SyntheticOptions::extra_spot_diameters_um);
  d.def("make_synthetic", [](const std::string& out_dir, const SyntheticOptions& o) {
    SyntheticStudy s;
    {
      py::gil_scoped_release nogil;
      s = as_value_error([&] { return make_synthetic(out_dir, o); });
    }
    py::list sections;
    for (const auto& sec : s.sections) {
      py::dict e;
      e["name"] = sec.name;
      e["folder"] = sec.folder;
      e["ground_truth"] = sec.ground_truth_path;
      e["n_spots"] = sec.n_spots;
      e["n_cells"] = sec.n_cells;
      py::dict scales;  // name -> its folder and ground truth, bins first then extra spots
      for (const auto& sc : sec.scales) {
        py::dict f;
        f["folder"] = sc.folder;
        f["ground_truth"] = sc.ground_truth_path;
        f["square_bins"] = sc.square_bins;
        f["size_um"] = sc.size_um;
        f["n_regions"] = sc.n_regions;
        scales[py::str(sc.name)] = f;
      }
      e["scales"] = scales;
      sections.append(e);
    }
    py::dict out;
    out["out_dir"] = s.out_dir;
    out["reference"] = s.reference_path;
    out["study_json"] = s.study_json;
    out["sections"] = sections;
    out["cell_types"] = s.cell_types;
    out["gene_names"] = s.gene_names;
    out["gene_ids"] = s.gene_ids;
    return out;
  }, py::arg("out_dir"), py::arg("options"));

  py::class_<CellTable>(d, "CellTable")
      .def_readonly("cell_ids", &CellTable::cell_ids)
      .def_readonly("centroids_um", &CellTable::centroids_um)
      .def_readonly("transcript_counts", &CellTable::transcript_counts)
      .def_readonly("cell_area", &CellTable::cell_area)
      .def_readonly("nucleus_area", &CellTable::nucleus_area);
  py::class_<Polygons>(d, "Polygons")
      .def_readonly("ids", &Polygons::ids)
      .def_readonly("offsets", &Polygons::offsets)
      .def_readonly("vertices", &Polygons::vertices);
  d.def("read_xenium_cells", [](const std::string& path) {
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_xenium_cells(path); });
  }, py::arg("path"));
  d.def("read_xenium_polygons", [](const std::string& path) {
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_xenium_polygons(path); });
  }, py::arg("path"));
  d.def("rasterize_polygons", [](const at::Tensor& vertices, const at::Tensor& offsets, int64_t height, int64_t width,
                                 double pixel_size, double origin_x, double origin_y,
                                 const std::optional<at::Tensor>& labels) {
    py::gil_scoped_release nogil;
    return as_value_error([&] {
      return rasterize_polygons(vertices, offsets, height, width, pixel_size, origin_x, origin_y,
                                labels.value_or(at::Tensor()));
    });
  }, py::arg("vertices"), py::arg("offsets"), py::arg("height"), py::arg("width"), py::arg("pixel_size"),
        py::arg("origin_x"), py::arg("origin_y"), py::arg("labels"));
  py::class_<XeniumTranscripts>(d, "XeniumTranscripts")
      .def_readonly("transcript_id", &XeniumTranscripts::transcript_id)
      .def_readonly("cell", &XeniumTranscripts::cell)
      .def_readonly("cell_ids", &XeniumTranscripts::cell_ids)
      .def_readonly("overlaps_nucleus", &XeniumTranscripts::overlaps_nucleus)
      .def_readonly("gene", &XeniumTranscripts::gene)
      .def_readonly("genes", &XeniumTranscripts::genes)
      .def_readonly("xyz_um", &XeniumTranscripts::xyz_um)
      .def_readonly("qv", &XeniumTranscripts::qv)
      .def_readonly("nucleus_distance", &XeniumTranscripts::nucleus_distance);
  d.def("read_xenium_transcripts", [](const std::string& path) {
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_xenium_transcripts(path); });
  }, py::arg("path"));
  d.def("xenium_cell_counts", [](const XeniumTranscripts& tx, const std::vector<std::string>& cell_ids,
                                 const std::optional<std::vector<std::string>>& genes, double min_qv, bool nucleus_only) {
    py::gil_scoped_release nogil;
    return as_value_error([&] { return xenium_cell_counts(tx, cell_ids, genes, min_qv, nucleus_only); });
  }, py::arg("transcripts"), py::arg("cell_ids"), py::arg("genes"), py::arg("min_qv"), py::arg("nucleus_only"));
  py::class_<Transcripts>(d, "Transcripts")
      .def_readonly("fov", &Transcripts::fov)
      .def_readonly("cell_id", &Transcripts::cell_id)
      .def_readonly("xy_global_px", &Transcripts::xy_global_px)
      .def_readonly("xy_local_px", &Transcripts::xy_local_px)
      .def_readonly("z", &Transcripts::z)
      .def_readonly("gene", &Transcripts::gene)
      .def_readonly("genes", &Transcripts::genes)
      .def_readonly("compartment", &Transcripts::compartment)
      .def_readonly("compartments", &Transcripts::compartments);
  d.def("read_cosmx_transcripts", [](const std::string& path) {
    py::gil_scoped_release nogil;
    return as_value_error([&] { return read_cosmx_transcripts(path); });
  }, py::arg("path"));
  d.def("cosmx_cell_counts", [](const Transcripts& tx, int64_t fov, std::optional<int64_t> num_cells) {
    py::gil_scoped_release nogil;
    return as_value_error([&] { return cosmx_cell_counts(tx, fov, num_cells); });
  }, py::arg("transcripts"), py::arg("fov"), py::arg("num_cells"));
}
