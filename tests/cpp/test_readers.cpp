// Readers, preprocessing and the synthetic study from C++ (the Python tests compare values
// against h5py/anndata/pandas; these check the C++ API, errors and determinism).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <stx/data/h5ad.h>
#include <stx/data/legacy_st.h>
#include <stx/data/matrix.h>
#include <stx/data/preprocess.h>
#include <stx/data/synthetic.h>
#include <stx/data/text.h>
#include <stx/data/visium.h>

#include "test_data.h"

namespace fs = std::filesystem;
using namespace stx::data;

namespace {

using stx::testing::data_root;

#define REQUIRE_DATA(rel)                                                    \
  const fs::path data_path = data_root() / (rel);                            \
  if (!fs::exists(data_path)) GTEST_SKIP() << "real data missing: " << data_path

// A fresh scratch folder. (Removal goes through `rm -rf`: std::filesystem::remove_all resolves
// to a broken copy exported by libtorch and crashes.)
void remove_tree(const fs::path& p) { ASSERT_EQ(std::system(("rm -rf '" + p.string() + "'").c_str()), 0); }

fs::path temp_dir(const std::string& name) {
  char tmpl[] = "/tmp/stx_readers_XXXXXX";
  const char* made = ::mkdtemp(tmpl);
  EXPECT_NE(made, nullptr);
  const fs::path p = fs::path(made ? made : "/tmp") / name;
  ::mkdir(p.c_str(), 0755);
  return p;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "";
}

}  // namespace

TEST(ReadersTenx, CellRanger3Layout) {
  REQUIRE_DATA("10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5");
  const FeatureMatrix m = read_10x_h5(data_path.string());
  EXPECT_EQ(m.counts.layout(), at::kSparseCsr);
  EXPECT_EQ(m.counts.sizes(), (std::vector<int64_t>{1107, 507}));
  EXPECT_EQ(m.counts.values().numel(), 23866);
  EXPECT_EQ(m.barcodes.size(), 1107u);
  EXPECT_EQ(m.features.names.size(), 507u);
  EXPECT_EQ(m.features.types.front(), "Gene Expression");
}

TEST(ReadersTenx, CellRanger2LayoutDense) {
  REQUIRE_DATA("10x-h5-scanpy/1.2.0/filtered_gene_bc_matrices_h5.h5");
  const FeatureMatrix m = read_10x_h5(data_path.string(), MatrixOptions{true, at::kDouble});
  EXPECT_EQ(m.counts.layout(), at::kStrided);
  EXPECT_EQ(m.counts.sizes(), (std::vector<int64_t>{12, 343}));
  EXPECT_EQ(m.counts.ne(0).sum().item<int64_t>(), 12);
  EXPECT_EQ(m.features.genomes.front(), "hg19_chr21");
}

TEST(ReadersVisium, SpaceRanger1And2) {
  REQUIRE_DATA("visium-scanpy");
  const SpatialSample v1 = read_visium(data_path.string());
  EXPECT_EQ(v1.counts.sizes(), (std::vector<int64_t>{100, 100}));
  EXPECT_EQ(v1.coords_px.sizes(), (std::vector<int64_t>{100, 2}));
  EXPECT_NEAR(v1.microns_per_pixel, 55.0 / 89.43, 1e-3);
  const SpatialSample v2 = read_visium((data_root() / "visium-sfe-sample01").string());
  EXPECT_EQ(v2.counts.sizes(), (std::vector<int64_t>{12, 5}));
  // First row of tissue_positions.csv: GTGGCGTGCACCAGAG-1,1,1,101,3932,19828 -> (x, y) = (19828, 3932).
  const auto it = std::find(v2.barcodes.begin(), v2.barcodes.end(), "GTGGCGTGCACCAGAG-1");
  ASSERT_NE(it, v2.barcodes.end());
  const int64_t i = it - v2.barcodes.begin();
  EXPECT_FLOAT_EQ(v2.coords_px[i][0].item<float>(), 19828.f);
  EXPECT_FLOAT_EQ(v2.coords_px[i][1].item<float>(), 3932.f);
  EXPECT_EQ(v2.array_coords[i][1].item<int64_t>(), 101);
}

TEST(ReadersLegacyST, Her2C2) {
  REQUIRE_DATA("her2st/ST-cnts/C2.tsv.gz");
  const SpatialSample s = read_legacy_st(data_path.string(), (data_root() / "her2st/ST-spotfiles/C2_selection.tsv").string());
  EXPECT_EQ(s.counts.size(0), 187);
  EXPECT_EQ(s.counts.size(1), 15706);
  EXPECT_EQ(s.barcodes.front(), "10x21");
  EXPECT_EQ(s.gene_names[1], "SAMD11");
}

TEST(ReadersH5ad, Pbmc68kCategoriesRawObsm) {
  REQUIRE_DATA("pbmc68k-reduced/10x_pbmc68k_reduced.h5ad");
  const AnnData a = read_h5ad(data_path.string());
  EXPECT_EQ(a.X.sizes(), (std::vector<int64_t>{700, 765}));
  const Column& labels = a.obs.columns.at("bulk_labels");
  EXPECT_EQ(labels.kind, Column::Kind::Categorical);
  EXPECT_EQ(labels.strings.size(), 10u);
  ASSERT_TRUE(a.raw_X.has_value());
  EXPECT_EQ(a.raw_X->layout(), at::kSparseCsr);
  EXPECT_EQ(a.obsm.at("X_pca").sizes(), (std::vector<int64_t>{700, 50}));
}

TEST(ReadersBadInput, ClearErrors) {
  const fs::path dir = temp_dir("bad");
  EXPECT_NE(error_of([&] { read_10x_h5((dir / "nope.h5").string()); }).find("not found"), std::string::npos);
  { std::ofstream(dir / "text.h5") << "not hdf5 at all"; }
  EXPECT_NE(error_of([&] { read_10x_h5((dir / "text.h5").string()); }).find("not an HDF5 file"), std::string::npos);
  EXPECT_NE(error_of([&] { read_visium(dir.string()); }).find("not a Visium folder"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_json_scalars("{\"a\": ", "x.json"); }).find("x.json: not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_delimited("a,b\n1,2,3\n", ',', true, "t.csv"); }).find("t.csv: line 2 has 3 fields"),
            std::string::npos);
  remove_tree(dir.parent_path());
}

TEST(ReadersText, QuotedFieldsAndCrlf) {
  const Table t = parse_delimited("x,\"a,b\"\r\n1,\"say \"\"hi\"\"\"\r\n\r\n", ',', true, "q.csv");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.header[1], "a,b");
  EXPECT_EQ(t.rows[0][1], "say \"hi\"");
}

TEST(ReadersSynthetic, DeterministicRoundTrip) {
  const fs::path a = temp_dir("syn_a"), b = temp_dir("syn_b");
  SyntheticOptions o;
  o.seed = 7;
  o.n_sections = 1;
  o.image_size_px = 400;
  o.spot_pitch_um = 60;
  o.spot_diameter_um = 40;
  o.n_reference_cells = 60;
  o.n_genes = 40;
  const SyntheticStudy sa = make_synthetic(a.string(), o), sb = make_synthetic(b.string(), o);
  const SpatialSample ra = read_visium(sa.sections[0].folder), rb = read_visium(sb.sections[0].folder);
  EXPECT_GT(ra.counts.size(0), 10);
  EXPECT_EQ(ra.counts.size(1), 40);
  EXPECT_TRUE(at::equal(ra.counts.to_dense(), rb.counts.to_dense()));
  EXPECT_TRUE(at::equal(ra.coords_px, rb.coords_px));
  EXPECT_EQ(ra.barcodes, rb.barcodes);
  EXPECT_DOUBLE_EQ(ra.microns_per_pixel, o.microns_per_pixel);
  o.seed = 8;
  const SyntheticStudy sc = make_synthetic(b.string(), o);
  const SpatialSample rc = read_visium(sc.sections[0].folder);
  EXPECT_NE(ra.barcodes, rc.barcodes);
  const AnnData ref = read_h5ad(sa.reference_path);
  EXPECT_EQ(ref.X.size(0), 60);
  EXPECT_EQ(ref.obs.columns.at("cell_type").strings, sa.cell_types);
  remove_tree(a.parent_path());
  remove_tree(b.parent_path());
}

TEST(ReadersPreprocess, NormalizeAndAlign) {
  const at::Tensor x = at::tensor({1.0, 3.0, 0.0, 0.0, 0.0, 0.0}, at::kDouble).view({3, 2});
  const at::Tensor n = normalize_total(x, 4.0, false);
  EXPECT_TRUE(at::allclose(n, at::tensor({1.0, 3.0, 0.0, 0.0, 0.0, 0.0}, at::kDouble).view({3, 2})));
  const at::Tensor csr = normalize_total(x.to_sparse_csr(), 4.0, true);
  EXPECT_TRUE(at::allclose(csr.to_dense(), n.log1p()));
  EXPECT_EQ(match_genes({"ENSG1.5", "b", "B", "zz"}, {"ENSG1", "ENSG2"}, {"a", "b"}), (std::vector<int64_t>{0, 1, 1, -1}));
  const at::Tensor aligned = align_genes(x, {"ENSG1", "ENSG2"}, {"a", "b"}, {"b", "a"});
  EXPECT_TRUE(at::equal(aligned, x.flip(1)));
  EXPECT_NE(error_of([&] { align_genes(x, {"ENSG1", "ENSG2"}, {"a", "b"}, {"c"}); }).find("not in the matrix (c)"),
            std::string::npos);
}

// Bounded random mutation of the text parsers' inputs: every outcome is a parse or a c10::Error,
// never another exception or a crash (the libFuzzer target runs the same parsers unbounded).
TEST(ReadersText, MutatedInputsFailCleanly) {
  const std::string csv = "barcode,in_tissue,array_row\n\"AAAC-1\",1,3\r\nGGGT-1,0,4\n";
  const std::string json = "{\"tissue_hires_scalef\": 0.15, \"name\": \"x\", \"nested\": {\"a\": [1, 2]}, \"b\": true}";
  const std::string mtx = "%%MatrixMarket matrix coordinate integer general\n%\n3 2 3\n1 1 5\n2 1 1\n3 2 7\n";
  const fs::path dir = temp_dir("mut");
  { std::ofstream(dir / "barcodes.tsv") << "A-1\nB-1\n"; }
  { std::ofstream(dir / "features.tsv") << "E1\tG1\tGene Expression\nE2\tG2\tGene Expression\nE3\tG3\tGene Expression\n"; }
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull; };
  const char alphabet[] = "\"\\,\t\n\r{}[]:0123456789-.eE xA%";
  auto mutate = [&](std::string s) {
    const int edits = 1 + static_cast<int>(next() >> 61);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = (next() >> 33) % s.size();
      switch ((next() >> 40) % 3) {
        case 0: s[pos] = alphabet[(next() >> 35) % (sizeof(alphabet) - 1)]; break;
        case 1: s.erase(pos, 1 + (next() >> 60)); break;
        default: s.insert(pos, 1, alphabet[(next() >> 35) % (sizeof(alphabet) - 1)]); break;
      }
    }
    return s;
  };
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    try {
      parse_delimited(mutate(csv), ',', true, "m.csv");
      parse_json_scalars(mutate(json), "m.json");
      ++parsed;
    } catch (const c10::Error&) {
      ++rejected;
    }
  }
  for (int i = 0; i < 200; ++i) {
    { std::ofstream(dir / "matrix.mtx", std::ios::trunc) << mutate(mtx); }
    try {
      read_10x_mtx(dir.string());
      ++parsed;
    } catch (const c10::Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
  remove_tree(dir.parent_path());
}
