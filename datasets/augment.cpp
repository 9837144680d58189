// Augmentation presets (see include/stx/data/augment.h); the symmetry itself is dihedral_transform.
#include <stx/data/augment.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include <stx/data/spot_dataset.h>

namespace stx::data {
namespace {

void check_images(const at::Tensor& images, const char* who) {
  TORCH_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3 && images.is_floating_point(), who,
              ": images must be float [B, 3, S, S], got ", images.defined() ? images.sizes() : at::IntArrayRef{});
  TORCH_CHECK(images.size(2) == images.size(3), who, ": images must be square (quarter turns swap the sides), got ",
              images.size(2), "x", images.size(3));
}

at::Tensor per_image(const at::Tensor& v, const at::Tensor& images, const char* what) {
  TORCH_CHECK(v.dim() == 1 && v.size(0) == images.size(0), what, " must be a [B] tensor with B = ", images.size(0));
  return v.to(images.options()).view({-1, 1, 1, 1});
}

// B values uniform in [low, high) from `gen` (drawn on the CPU so every device sees the same stream).
at::Tensor uniform(int64_t n, double low, double high, at::Generator& gen) {
  return at::rand({n}, gen, at::TensorOptions().dtype(at::kDouble)) * (high - low) + low;
}

}  // namespace

const std::vector<std::string>& augment_presets() {
  static const std::vector<std::string> presets{"dihedral", "morphology", "stnet", "none"};
  return presets;
}

at::Tensor shift_scale_rotate(const at::Tensor& images, const at::Tensor& degrees, const at::Tensor& scale,
                              const at::Tensor& shift_x, const at::Tensor& shift_y) {
  check_images(images, "shift_scale_rotate");
  const int64_t b = images.size(0);
  for (const auto* v : {&degrees, &scale, &shift_x, &shift_y}) {
    TORCH_CHECK(v->dim() == 1 && v->size(0) == b, "shift_scale_rotate: parameters must be [B] tensors with B = ", b);
  }
  TORCH_CHECK((scale > 0).all().item<bool>(), "shift_scale_rotate: scale must be positive");
  // The grid maps output to input coordinates (normalised to [-1, 1], y down): the inverse of
  // "scale, rotate counter-clockwise on screen, then shift", i.e. R(-angle) (p - 2 shift) / scale.
  const auto opts = images.options().dtype(at::kDouble);
  const auto rad = degrees.to(opts) * (M_PI / 180.0);
  const auto s = scale.to(opts), dx = shift_x.to(opts) * 2.0, dy = shift_y.to(opts) * 2.0;
  const auto c = at::cos(rad) / s, n = at::sin(rad) / s;
  auto theta = at::stack({at::stack({c, -n, -(c * dx - n * dy)}, 1), at::stack({n, c, -(n * dx + c * dy)}, 1)}, 1);
  auto grid = at::affine_grid_generator(theta.to(images.scalar_type()), images.sizes(), /*align_corners=*/false);
  return at::grid_sampler(images, grid, /*bilinear*/ 0, /*reflection*/ 2, /*align_corners=*/false);
}

at::Tensor colour_jitter(const at::Tensor& images, const at::Tensor& brightness, const at::Tensor& contrast,
                         const at::Tensor& saturation) {
  check_images(images, "colour_jitter");
  const auto weights = at::tensor({0.299, 0.587, 0.114}, images.options()).view({1, 3, 1, 1});
  auto x = images * per_image(brightness, images, "colour_jitter: brightness");
  const auto mean = (x * weights).sum(1, true).mean({2, 3}, true);
  x = (x - mean) * per_image(contrast, images, "colour_jitter: contrast") + mean;
  const auto grey = (x * weights).sum(1, true);
  x = (x - grey) * per_image(saturation, images, "colour_jitter: saturation") + grey;
  return x.clamp(0.0, 1.0);
}

at::Tensor gaussian_blur(const at::Tensor& images, double sigma) {
  check_images(images, "gaussian_blur");
  TORCH_CHECK(sigma > 0 && std::isfinite(sigma), "gaussian_blur: sigma must be positive, got ", sigma);
  const int64_t r = static_cast<int64_t>(std::ceil(3.0 * sigma));
  TORCH_CHECK(r < images.size(2), "gaussian_blur: sigma ", sigma, " is too wide for ", images.size(2), " px patches");
  auto t = at::arange(-r, r + 1, images.options());
  auto k = at::exp(-(t * t) / (2.0 * sigma * sigma));
  k = k / k.sum();
  const auto padded = at::reflection_pad2d(images, {r, r, r, r});
  const auto row = k.view({1, 1, 1, -1}).expand({3, 1, 1, 2 * r + 1}).contiguous();
  const auto column = k.view({1, 1, -1, 1}).expand({3, 1, 2 * r + 1, 1}).contiguous();
  const std::vector<int64_t> ones{1, 1}, zeros{0, 0};
  const at::IntArrayRef stride(ones), padding(zeros), dilation(ones);
  auto x = at::conv2d(padded, row, std::nullopt, stride, padding, dilation, /*groups=*/3);
  return at::conv2d(x, column, std::nullopt, stride, padding, dilation, /*groups=*/3);
}

at::Tensor augment(const at::Tensor& images, const std::string& preset, at::Generator& gen) {
  const auto& presets = augment_presets();
  TORCH_CHECK(std::find(presets.begin(), presets.end(), preset) != presets.end(), "augment: unknown preset '", preset,
              "'; choose from dihedral, morphology, stnet, none");
  if (preset == "none") return images;
  check_images(images, "augment");
  const int64_t b = images.size(0);
  const int64_t k = at::randint(0, 8, {1}, gen).item<int64_t>();  // the same draw as before presets existed
  auto x = dihedral_transform(images, k);
  if (preset == "morphology") {
    auto degrees = uniform(b, -45, 45, gen), scale = uniform(b, 0.9, 1.1, gen);
    auto sx = uniform(b, -0.0625, 0.0625, gen), sy = uniform(b, -0.0625, 0.0625, gen);
    x = shift_scale_rotate(x, degrees, scale, sx, sy);
  } else if (preset == "stnet") {
    x = colour_jitter(x, uniform(b, 0.9, 1.1, gen), uniform(b, 0.9, 1.1, gen), uniform(b, 0.9, 1.1, gen));
    const auto blur = uniform(2, 0, 1, gen);  // [whether, sigma]
    if (blur[0].item<double>() < 0.5) x = gaussian_blur(x, 0.1 + 0.9 * blur[1].item<double>());
  }
  return x;
}

}  // namespace stx::data
