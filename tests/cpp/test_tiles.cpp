// The tile data mode (stx/train/tiles.h): tiles are crops of the section image at the drawn origin,
// they carry exactly the regions whole inside them (border "drop") or centred in them ("weight"), and
// the dihedral symmetry moves centres with the pixels. The image encodes each pixel's (y, x) and marks
// the region centres, so every check reads the answer from the pixels themselves.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include <stx/train/tiles.h>

using namespace stx::train;

namespace {

constexpr int64_t kH = 120, kW = 100, kTile = 40;
constexpr double kRadius = 4.0;

TileSection coded_section() {
  TileSection s;
  s.name = "coded";
  s.um_per_px = 1;
  auto ys = at::arange(kH, at::kLong).view({kH, 1}).expand({kH, kW});
  auto xs = at::arange(kW, at::kLong).view({1, kW}).expand({kH, kW});
  s.image = at::stack({ys, xs, at::zeros({kH, kW}, at::kLong)}).to(at::kByte).contiguous();
  RegionGroup g;
  g.name = "spots";
  g.shape = "disk";
  g.radius_px = kRadius;
  std::vector<double> yx;
  for (int64_t y = 5; y < kH - 4; y += 9) {
    for (int64_t x = 6; x < kW - 4; x += 11) {
      yx.push_back(static_cast<double>(y));
      yx.push_back(static_cast<double>(x));
      s.image[2][y][x] = 255;  // the region's centre pixel
    }
  }
  const int64_t n = static_cast<int64_t>(yx.size() / 2);
  g.centers = at::tensor(yx, at::kDouble).view({n, 2});
  g.targets = at::arange(n, at::kFloat).view({n, 1}).repeat({1, 3});  // row i's target is i
  s.groups.push_back(g);
  return s;
}

}  // namespace

TEST(Tiles, CropsCarryExactlyTheWholeRegionsAtTheDrawnOrigin) {
  const auto section = coded_section();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  for (const std::string border : {"drop", "weight"}) {
    const auto b = sample_tiles({section}, kTile, 6, border, "none", gen);
    ASSERT_EQ(b.images.sizes(), at::IntArrayRef({6, 3, kTile, kTile}));
    for (int64_t t = 0; t < 6; ++t) {
      const int64_t y0 = b.images[t][0][0][0].item<int64_t>(), x0 = b.images[t][1][0][0].item<int64_t>();
      EXPECT_TRUE(at::equal(b.images[t], section.image.slice(1, y0, y0 + kTile).slice(2, x0, x0 + kTile)));
      // brute force: the regions this origin holds
      std::vector<int64_t> want;
      const auto c = section.groups[0].centers;
      for (int64_t i = 0; i < c.size(0); ++i) {
        const double y = c[i][0].item<double>() - y0, x = c[i][1].item<double>() - x0;
        const bool whole = y - kRadius >= 0 && y + kRadius <= kTile - 1 && x - kRadius >= 0 && x + kRadius <= kTile - 1;
        const bool centred = y >= -0.5 && y < kTile - 0.5 && x >= -0.5 && x < kTile - 0.5;
        if (border == "drop" ? whole : centred) want.push_back(i);
      }
      const auto rows = b.centers[0].select(1, 0).eq(static_cast<double>(t)).nonzero().squeeze(1);
      ASSERT_EQ(rows.numel(), static_cast<int64_t>(want.size())) << border << " tile " << t;
      if (border == "drop") {
        EXPECT_GE(rows.numel(), 1);  // the anchor is whole
      }
      for (int64_t k = 0; k < rows.numel(); ++k) {
        const int64_t r = rows[k].item<int64_t>();
        EXPECT_EQ(b.targets[0][r][0].item<float>(), static_cast<float>(want[k]));
        const auto y = std::llround(b.centers[0][r][1].item<double>()), x = std::llround(b.centers[0][r][2].item<double>());
        EXPECT_EQ(b.images[t][2][y][x].item<int64_t>(), 255);
      }
    }
  }
}

TEST(Tiles, TheDihedralSymmetryMovesCentresWithThePixels) {
  const auto section = coded_section();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  int64_t transformed = 0;
  for (int rep = 0; rep < 12; ++rep) {
    const auto b = sample_tiles({section}, kTile, 3, "drop", "dihedral", gen);
    const auto plain = b.images.select(1, 0);
    const auto first_row = plain.select(1, 0);  // [B, T]: constant unless the tile was transposed
    transformed += first_row.select(1, 0).ne(first_row.select(1, 1)).any().item<bool>();
    for (int64_t r = 0; r < b.centers[0].size(0); ++r) {
      const int64_t t = std::llround(b.centers[0][r][0].item<double>());
      const auto y = std::llround(b.centers[0][r][1].item<double>()), x = std::llround(b.centers[0][r][2].item<double>());
      EXPECT_EQ(b.images[t][2][y][x].item<int64_t>(), 255) << "rep " << rep << " row " << r;
    }
  }
  EXPECT_GT(transformed, 0);  // some draws transposed the tile (rows then run along x)
}

TEST(Tiles, BadRequestsAreClearErrors) {
  const auto section = coded_section();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  EXPECT_THROW(sample_tiles({section}, kH + 1, 1, "drop", "none", gen), c10::Error);  // tile beyond the image
  EXPECT_THROW(sample_tiles({section}, kTile, 1, "drop", "stnet", gen), c10::Error);  // a patch-only preset
  EXPECT_THROW(sample_tiles({section}, kTile, 1, "cut", "none", gen), c10::Error);
  EXPECT_THROW(sample_tiles({}, kTile, 1, "drop", "none", gen), c10::Error);
  EXPECT_THROW(count_targets(at::ones({2, 2}), {"A", "B"}, {"A", "C"}, "section s"), c10::Error);  // panel mismatch
}
