// HDF5 cache for extract_patches: a cache is reused only when it was made from the same slide
// file name, target µm/px, patch size and exactly the same centres; otherwise it is rebuilt.
// The file is written under a temporary name and renamed, so a crash never leaves a
// half-written cache that later looks valid.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <stx/data/patch.h>

#include "datasets/hdf5_io.h"

namespace stx::data {
namespace {

std::string format_mpp(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

// The cached patches, or an undefined tensor when the cache is for other inputs.
at::Tensor read_matching_cache(const std::string& cache_path, const std::string& slide_name,
                               const at::Tensor& centres, double target_mpp, int64_t size) {
  auto guard = h5::lock();
  const h5::Node f = h5::open_file(cache_path);
  if (h5::attr_string(f, "slide").value_or("") != slide_name) return {};
  if (h5::attr_string(f, "target_mpp").value_or("") != format_mpp(target_mpp)) return {};
  const auto sizes = h5::attr_ints(f, "size");
  if (!sizes || sizes->size() != 1 || (*sizes)[0] != size) return {};
  if (!h5::has(f, "centers_xy") || !h5::has(f, "patches")) return {};
  const at::Tensor cached_centres = h5::read_array(h5::open(f, "centers_xy"));
  if (cached_centres.scalar_type() != at::kDouble || !cached_centres.sizes().equals(centres.sizes()) ||
      !at::equal(cached_centres, centres))
    return {};
  const h5::Node ds = h5::open(f, "patches", "uint8 [N, 3, size, size]");
  const std::vector<int64_t> want{centres.size(0), 3, size, size};
  TORCH_CHECK(h5::shape(ds) == want, cache_path, ": '/patches' has shape ", at::IntArrayRef(h5::shape(ds)),
              ", expected ", at::IntArrayRef(want));
  at::Tensor patches = h5::read_array(ds);
  TORCH_CHECK(patches.scalar_type() == at::kByte, cache_path, ": '/patches' must be uint8, got ", patches.scalar_type());
  return patches;
}

void write_cache(const std::string& cache_path, const std::string& slide_name, const at::Tensor& centres,
                 double target_mpp, int64_t size, const at::Tensor& patches) {
  const std::string tmp = cache_path + ".tmp";
  {
    auto guard = h5::lock();
    const h5::Node f = h5::create_file(tmp);
    h5::set_attr(f, "slide", slide_name);
    h5::set_attr(f, "target_mpp", format_mpp(target_mpp));
    h5::set_attr(f, "size", std::vector<int64_t>{size});
    h5::write_array(f, "centers_xy", centres);
    h5::write_array(f, "patches", patches);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, cache_path, ec);
  TORCH_CHECK(!ec, "extract_patches_cached: cannot move the cache into place at '", cache_path, "': ", ec.message());
}

}  // namespace

at::Tensor extract_patches_cached(const SlideReader& slide, const at::Tensor& centers_xy, double target_mpp,
                                  int64_t size, const std::string& cache_path, const PatchOptions& options) {
  TORCH_CHECK(!cache_path.empty(), "extract_patches_cached: cache_path must not be empty");
  TORCH_CHECK(centers_xy.defined() && centers_xy.dim() == 2 && centers_xy.size(1) == 2,
              "extract_patches_cached: centers_xy must be [N, 2] (x, y)");
  const at::Tensor centres = centers_xy.to(at::kDouble).contiguous();
  const std::string slide_name = std::filesystem::path(slide.path()).filename().string();
  std::error_code ec;
  if (std::filesystem::exists(cache_path, ec)) {
    at::Tensor cached = read_matching_cache(cache_path, slide_name, centres, target_mpp, size);
    if (cached.defined()) return cached;
  }
  at::Tensor patches = extract_patches(slide, centers_xy, target_mpp, size, options);
  write_cache(cache_path, slide_name, centres, target_mpp, size, patches);
  return patches;
}

}  // namespace stx::data
