// Cell-level ST from C++: polygon rasterisation, Xenium/CosMx readers and the per-cell readout
// through label_pool (the Python tests compare values against pandas/PIL/numpy references).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>

#include <stx/data/cosmx.h>
#include <stx/data/image.h>
#include <stx/data/polygons.h>
#include <stx/data/xenium.h>
#include <stx/ops/label_pool.h>

#include "test_data.h"

namespace fs = std::filesystem;
using namespace stx::data;

TEST(Rasterize, PixelCentreRuleAndLastPolygonWins) {
  // Square [1, 4] x [1, 3] and a triangle drawn over its right part, on 1-unit pixels.
  const at::Tensor vertices = at::tensor({1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0, 3.0, 0.0, 5.0, 0.0, 5.0, 4.0},
                                         at::kDouble).view({7, 2});
  const at::Tensor offsets = at::tensor({0, 4, 7}, at::kLong);
  const at::Tensor mask = rasterize_polygons(vertices, offsets, 4, 6);
  // Centres (x, y) = (c + .5, r + .5): the square covers c = 1..3, r = 1..2; the triangle
  // (x >= 3 + y / 2, x <= 5) takes the centres (3.5, 0.5) and (4.5, 0.5..2.5).
  const at::Tensor expected = at::tensor({0, 0, 0, 2, 2, 0,  //
                                          0, 1, 1, 1, 2, 0,  //
                                          0, 1, 1, 1, 2, 0,  //
                                          0, 0, 0, 0, 0, 0},
                                         at::kLong)
                                  .view({4, 6});
  EXPECT_TRUE(at::equal(mask, expected)) << mask;
  // Custom labels on a 0.5-unit grid: the 3 x 2 square alone covers 6 x 4 pixel centres.
  const at::Tensor square = rasterize_polygons(vertices.slice(0, 0, 4), at::tensor({0, 4}, at::kLong), 8, 12, 0.5,
                                               0.0, 0.0, at::tensor({7}));
  EXPECT_EQ(square.eq(7).sum().item<int64_t>(), 24);
  EXPECT_EQ(square.gt(0).sum().item<int64_t>(), 24);
  try {
    rasterize_polygons(vertices, at::tensor({0, 4, 6}, at::kLong), 4, 6);
    ADD_FAILURE() << "bad offsets accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("offsets must start at 0 and end at V=7"), std::string::npos) << e.what();
  }
}

TEST(CellLevel, XeniumNucleiThroughLabelPool) {
  const fs::path root = stx::testing::data_root() / "xenium-sfe-toy";
  if (!fs::exists(root)) GTEST_SKIP() << "real data missing: " << root;
  const CellTable cells = read_xenium_cells((root / "cells.csv.gz").string());
  const Polygons nuclei = read_xenium_polygons((root / "nucleus_boundaries.csv.gz").string());
  ASSERT_EQ(cells.cell_ids.size(), 526u);
  ASSERT_EQ(nuclei.offsets.size(0), static_cast<int64_t>(nuclei.ids.size()) + 1);
  const at::Tensor lo = std::get<0>(nuclei.vertices.min(0)).floor() - 1;
  const double x0 = lo[0].item<double>(), y0 = lo[1].item<double>();
  const at::Tensor mask = rasterize_polygons(nuclei.vertices, nuclei.offsets, 440, 440, 1.0, x0, y0);
  const int64_t K = static_cast<int64_t>(nuclei.ids.size()) + 1;
  // A map whose value is the pixel's label: the per-cell mean must give back each label exactly.
  const at::Tensor dense = mask.to(at::kDouble).view({1, 1, 440, 440}).requires_grad_(true);
  const auto [mean, count] = stx::ops::label_pool(dense, mask.unsqueeze(0), K, "mean");
  const at::Tensor present = count[0].gt(0);
  EXPECT_GT(present.sum().item<int64_t>(), static_cast<int64_t>(nuclei.ids.size()) * 9 / 10);
  EXPECT_TRUE(at::allclose(mean[0].select(1, 0).masked_select(present), at::arange(K, at::kDouble).masked_select(present)));
  mean.sum().backward();  // C++ autograd through the dispatched op: d(sum of means)/d pixel = 1/count
  const at::Tensor g = dense.grad().view({440, 440});
  const at::Tensor inside = mask.gt(0);
  EXPECT_TRUE(at::allclose(g.masked_select(inside), count[0].to(at::kDouble).reciprocal().index({mask}).masked_select(inside)));
}

TEST(CellLevel, CosmxMaskAndCounts) {
  const fs::path root = stx::testing::data_root() / "cosmx-giotto-mini";
  if (!fs::exists(root)) GTEST_SKIP() << "real data missing: " << root;
  const at::Tensor mask = read_label_mask((root / "CellLabels" / "CellLabels_F002.tif").string());
  EXPECT_EQ(mask.sizes(), at::IntArrayRef({648, 672}));
  EXPECT_EQ(std::get<0>(at::_unique(mask)).size(0), 68);  // 67 cells + background
  const Transcripts tx = read_cosmx_transcripts((root / "Lung12_tx_file.csv").string());
  const at::Tensor counts = cosmx_cell_counts(tx, 2, mask.max().item<int64_t>() + 1);
  EXPECT_EQ(counts.sum().item<int64_t>(), tx.fov.eq(2).sum().item<int64_t>());
  EXPECT_EQ(counts.size(1), static_cast<int64_t>(tx.genes.size()));
}

TEST(CellLevel, XeniumTranscriptCountsPerCell) {
  const fs::path root = stx::testing::data_root() / "xenium-sfe-toy";
  if (!fs::exists(root)) GTEST_SKIP() << "real data missing: " << root;
  const CellTable cells = read_xenium_cells((root / "cells.csv.gz").string());
  const XeniumTranscripts tx = read_xenium_transcripts((root / "transcripts.csv.gz").string());
  ASSERT_EQ(tx.xyz_um.sizes(), at::IntArrayRef({5260, 3}));
  const at::Tensor all = xenium_cell_counts(tx, cells.cell_ids, std::nullopt, -INFINITY);
  const at::Tensor nuclear = xenium_cell_counts(tx, cells.cell_ids, std::nullopt, -INFINITY, /*nucleus_only=*/true);
  EXPECT_EQ(all.sizes(), at::IntArrayRef({526, static_cast<int64_t>(tx.genes.size())}));
  EXPECT_TRUE(nuclear.le(all).all().item<bool>());
  // Every counted transcript is assigned; the nuclear ones are exactly those flagged overlapping.
  const at::Tensor assigned = tx.cell.ge(0);
  EXPECT_LE(all.sum().item<int64_t>(), assigned.sum().item<int64_t>());
  EXPECT_GT(all.sum().item<int64_t>(), assigned.sum().item<int64_t>() - 100);  // 3 cropped-away cells
  EXPECT_LE(nuclear.sum().item<int64_t>(), assigned.logical_and(tx.overlaps_nucleus).sum().item<int64_t>());
  EXPECT_GT(nuclear.sum().item<int64_t>(), 2000);
}

TEST(CellLevel, XeniumDapiPlanesKeepTheirValues) {
  const fs::path root = stx::testing::data_root() / "xenium-sfe-toy";
  if (!fs::exists(root)) GTEST_SKIP() << "real data missing: " << root;
  const std::string path = (root / "morphology_focus.ome.tif").string();
  const at::Tensor planes = read_image_planes(path);
  ASSERT_EQ(planes.sizes(), at::IntArrayRef({1, 237, 237}));
  EXPECT_EQ(planes.scalar_type(), at::kInt);  // uint16 samples, widened
  // The label-mask decoder reads the same 16-bit samples through its own path, as int64.
  EXPECT_TRUE(at::equal(planes[0].to(at::kLong), read_label_mask(path)));
  EXPECT_GT(planes.max().item<int64_t>(), 200);
  // One page, one region: the same pixels as slicing the whole image.
  const at::Tensor crop = read_image_planes(path, 0, PixelRegion{30, 40, 100, 50});
  EXPECT_TRUE(at::equal(crop, planes.slice(1, 40, 90).slice(2, 30, 130)));
}
