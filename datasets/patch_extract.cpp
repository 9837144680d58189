// Parallel spot-centred patch extraction (see include/stx/data/patch.h for the sampling and
// border policies). Each worker owns its region and filter buffers; slide reads are
// thread-safe, so patches are independent tasks pulled from an atomic counter.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <stx/data/patch.h>

#include "datasets/patch_resample.h"

namespace stx::data {
namespace {

struct Plan {
  int64_t level = 0;
  double ds = 1;     // level downsample
  double step = 1;   // level pixels per output pixel
  bool crop = true;  // step within tolerance of 1: copy, no resampling
};

void check_centres(const at::Tensor& c) {
  TORCH_CHECK(c.defined() && c.dim() == 2 && c.size(1) == 2, "extract_patches: centers_xy must be [N, 2] (x, y), got ",
              c.defined() ? c.sizes() : at::IntArrayRef{});
  TORCH_CHECK(c.device().is_cpu(), "extract_patches: centers_xy must be on the CPU, got ", c.device());
  TORCH_CHECK(at::isFloatingType(c.scalar_type()) || at::isIntegralType(c.scalar_type(), false),
              "extract_patches: centers_xy must be a real or integer tensor, got ", c.scalar_type());
  if (c.numel() && at::isFloatingType(c.scalar_type()))
    TORCH_CHECK(at::isfinite(c).all().item<bool>(), "extract_patches: centers_xy has NaN or infinite values");
}

void copy_hwc_to_chw(const uint8_t* src, int64_t S, uint8_t* dst) {
  const int64_t plane = S * S;
  for (int64_t p = 0; p < plane; ++p) {
    dst[p] = src[p * 3];
    dst[plane + p] = src[p * 3 + 1];
    dst[2 * plane + p] = src[p * 3 + 2];
  }
}

// One patch: read the footprint at the plan's level and crop or resample it into dst (CHW).
void cut_patch(const SlideReader& slide, const Plan& plan, double cx, double cy, int64_t S, const PatchOptions& opt,
               std::vector<uint8_t>& region, std::vector<float>& scratch, uint8_t* dst) {
  const double lcx = cx / plan.ds, lcy = cy / plan.ds;  // centre in level pixels
  if (plan.crop) {
    const int64_t lx = std::llround(lcx - 0.5 * static_cast<double>(S));
    const int64_t ly = std::llround(lcy - 0.5 * static_cast<double>(S));
    region.resize(static_cast<size_t>(S * S * 3));
    slide.read_region_into(region.data(), plan.level, std::llround(static_cast<double>(lx) * plan.ds),
                           std::llround(static_cast<double>(ly) * plan.ds), S, S, opt.outside, opt.fill);
    copy_hwc_to_chw(region.data(), S, dst);
    return;
  }
  const double span = plan.step * static_cast<double>(S), support = std::max(plan.step, 1.0);
  const double left = lcx - 0.5 * span, top = lcy - 0.5 * span;  // patch edges in level pixels
  const int64_t x0 = std::llround((std::floor(left - support) - 1) * plan.ds);
  const int64_t y0 = std::llround((std::floor(top - support) - 1) * plan.ds);
  const int64_t R = static_cast<int64_t>(std::ceil(span + 2 * support)) + 3;
  region.resize(static_cast<size_t>(R * R * 3));
  slide.read_region_into(region.data(), plan.level, x0, y0, R, R, opt.outside, opt.fill);
  // The region's origin in level pixels is x0 / ds (what the slide reader uses).
  const auto tx = detail::triangle_taps(left - static_cast<double>(x0) / plan.ds, plan.step, S, R);
  const auto ty = detail::triangle_taps(top - static_cast<double>(y0) / plan.ds, plan.step, S, R);
  detail::resample_hwc_to_chw(region.data(), R, R, ty, tx, dst, scratch);
}

}  // namespace

at::Tensor extract_patches(const SlideReader& slide, const at::Tensor& centers_xy, double target_mpp, int64_t size,
                           const PatchOptions& options) {
  check_centres(centers_xy);
  TORCH_CHECK(size >= 1 && size <= 8192, "extract_patches: size must be in [1, 8192] pixels, got ", size);
  TORCH_CHECK(std::isfinite(target_mpp) && target_mpp > 0,
              "extract_patches: target_mpp must be a positive number of µm per pixel, got ", target_mpp);
  TORCH_CHECK(options.num_threads >= 0, "extract_patches: num_threads must be >= 0 (0 = torch's thread count), got ",
              options.num_threads);
  TORCH_CHECK(options.snap_tolerance >= 0 && options.snap_tolerance < 0.5,
              "extract_patches: snap_tolerance must be in [0, 0.5), got ", options.snap_tolerance);
  const double scale = target_mpp / slide.mpp();  // level-0 pixels per output pixel (errors if no mpp)
  Plan plan;
  plan.level = slide.best_level_for_downsample(scale);
  plan.ds = slide.level_downsample(plan.level);
  plan.step = scale / plan.ds;
  plan.crop = std::abs(plan.step - 1.0) <= options.snap_tolerance;
  TORCH_CHECK(plan.step * static_cast<double>(size) <= 65536,
              "extract_patches: a patch of ", size, " px at ", target_mpp, " µm/px covers ", plan.step * size,
              " px of the slide's finest suitable level; that is too large (at most 65536)");

  const at::Tensor centres = centers_xy.to(at::kDouble).contiguous();
  const int64_t N = centres.size(0);
  auto out = at::empty({N, 3, size, size}, at::kByte);
  if (N == 0) return out;
  const double* c = centres.data_ptr<double>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t patch_bytes = 3 * size * size;

  const int64_t threads = std::min<int64_t>(N, options.num_threads > 0 ? options.num_threads : at::get_num_threads());
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;  // non-c10 exceptions, rethrown as they are
  std::string message;       // c10 errors, rethrown with the spot that failed
  std::mutex error_mutex;
  auto work = [&] {
    std::vector<uint8_t> region;
    std::vector<float> scratch;
    for (int64_t i = next++; i < N && !failed.load(); i = next++) {
      try {
        cut_patch(slide, plan, c[2 * i], c[2 * i + 1], size, options, region, scratch, dst + i * patch_bytes);
      } catch (const c10::Error& e) {
        std::lock_guard<std::mutex> g(error_mutex);
        if (!failed.exchange(true))
          message = "spot " + std::to_string(i) + " at (" + std::to_string(c[2 * i]) + ", " +
                    std::to_string(c[2 * i + 1]) + "): " + e.what_without_backtrace();
      } catch (...) {
        std::lock_guard<std::mutex> g(error_mutex);
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  TORCH_CHECK(message.empty(), "extract_patches: ", message);
  return out;
}

}  // namespace stx::data
