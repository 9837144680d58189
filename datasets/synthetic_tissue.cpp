// Synthetic tissue layout and its H&E-like rendering (see include/stx/data/synthetic.h).
#include "datasets/synthetic_tissue.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace stx::data::detail {
namespace {
constexpr double kPi = 3.141592653589793;
}

bool Tissue::inside(double x, double y) const {
  const double dx = x - centre_um, dy = y - centre_um, th = std::atan2(dy, dx);
  const double r = radius_um * (1.0 + 0.08 * std::sin(3 * th + harmonics[0]) + 0.05 * std::sin(5 * th + harmonics[1]) +
                                0.03 * std::sin(7 * th + harmonics[2]));
  return dx * dx + dy * dy < r * r;
}

int64_t Tissue::domain_at(double x, double y) const {
  // Voronoi cells of the seed points, in a warped frame so boundaries curve.
  const double scale = 2 * kPi / (2 * centre_um);
  const double wx = x + warp[0] * std::sin(scale * 1.5 * y + warp[2]) + warp[4] * std::sin(scale * 3.1 * y);
  const double wy = y + warp[1] * std::sin(scale * 1.3 * x + warp[3]) + warp[5] * std::sin(scale * 2.7 * x);
  int64_t best = 0;
  double best_d = 1e300;
  for (size_t k = 0; k < domain_x.size(); ++k) {
    const double d = (wx - domain_x[k]) * (wx - domain_x[k]) + (wy - domain_y[k]) * (wy - domain_y[k]);
    if (d < best_d) {
      best_d = d;
      best = static_cast<int64_t>(k);
    }
  }
  return best;
}

std::vector<Morphology> make_morphologies(int64_t n_types, Rng& rng) {
  std::vector<Morphology> out(static_cast<size_t>(n_types));
  for (int64_t t = 0; t < n_types; ++t) {
    Morphology& m = out[t];
    // Spread the types over the size/darkness range so that they are told apart by eye.
    const double f = n_types > 1 ? static_cast<double>(t) / static_cast<double>(n_types - 1) : 0.5;
    m.nucleus_um = 2.6 + 2.6 * std::fmod(f * 2.3 + rng.uniform(0, 0.2), 1.0);
    m.elongation = 1.0 + 0.9 * rng.uniform();
    m.darkness = 0.55 + 0.45 * std::fmod(f * 1.7 + rng.uniform(0, 0.2), 1.0);
    m.cytoplasm_um = m.nucleus_um * rng.uniform(1.4, 2.4);
    const double hue = rng.uniform(-1, 1);
    m.nucleus_rgb[0] = 70 + 25 * hue, m.nucleus_rgb[1] = 40 + 10 * rng.uniform(), m.nucleus_rgb[2] = 120 - 15 * hue;
    m.cytoplasm_rgb[0] = 215 + 30 * rng.uniform(), m.cytoplasm_rgb[1] = 120 + 70 * rng.uniform();
    m.cytoplasm_rgb[2] = 170 + 50 * rng.uniform();
  }
  return out;
}

Tissue make_tissue(const SyntheticOptions& o, const std::vector<std::vector<double>>& mixture, Rng& rng) {
  Tissue t;
  t.size_px = o.image_size_px;
  t.um_per_px = o.microns_per_pixel;
  const double w = static_cast<double>(o.image_size_px) * o.microns_per_pixel;
  t.centre_um = w / 2;
  t.radius_um = w * rng.uniform(0.40, 0.45);
  for (double& h : t.harmonics) h = rng.uniform(0, 2 * kPi);
  for (int64_t k = 0; k < o.n_domains; ++k) {
    t.domain_x.push_back(rng.uniform(0.1, 0.9) * w);
    t.domain_y.push_back(rng.uniform(0.1, 0.9) * w);
  }
  for (int i = 0; i < 6; ++i) t.warp[i] = i < 2 || i >= 4 ? rng.uniform(0.02, 0.06) * w : rng.uniform(0, 2 * kPi);

  const double a = o.cell_spacing_um;
  const int64_t n = static_cast<int64_t>(w / a);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double x = (static_cast<double>(j) + 0.5 + rng.uniform(-0.35, 0.35)) * a;
      const double y = (static_cast<double>(i) + 0.5 + rng.uniform(-0.35, 0.35)) * a;
      const double u = rng.uniform(), lib = std::exp(0.3 * rng.normal()), angle = rng.uniform(0, kPi);
      if (!t.inside(x, y)) continue;
      Cell c;
      c.x_px = static_cast<float>(x / o.microns_per_pixel);
      c.y_px = static_cast<float>(y / o.microns_per_pixel);
      c.domain = t.domain_at(x, y);
      const auto& mix = mixture[c.domain];
      double acc = 0;
      c.type = static_cast<int64_t>(mix.size()) - 1;
      for (size_t k = 0; k < mix.size(); ++k) {
        acc += mix[k];
        if (u < acc) {
          c.type = static_cast<int64_t>(k);
          break;
        }
      }
      c.library = o.umis_per_cell * lib;
      c.angle = angle;
      t.cells.push_back(c);
    }
  }
  return t;
}

at::Tensor render_he(const Tissue& t, const std::vector<Morphology>& morph, uint64_t seed, at::Tensor* nucleus_mask) {
  const int64_t s = t.size_px;
  const double u = t.um_per_px;
  at::Tensor img = at::empty({s, s, 3}, at::kFloat);
  float* p = img.data_ptr<float>();
  // Tissue outline and domains on a 4-px lattice (5 um at the default scale): 16x fewer
  // evaluations than per pixel, finer than any structure drawn.
  constexpr int64_t kStep = 4;
  const int64_t cs = (s + kStep - 1) / kStep;
  std::vector<int8_t> coarse(static_cast<size_t>(cs * cs));  // -1 outside, else the domain
  at::parallel_for(0, cs, 8, [&](int64_t y0, int64_t y1) {
    for (int64_t cy = y0; cy < y1; ++cy) {
      for (int64_t cx = 0; cx < cs; ++cx) {
        const double xu = (static_cast<double>(cx * kStep) + kStep / 2.0) * u;
        const double yu = (static_cast<double>(cy * kStep) + kStep / 2.0) * u;
        coarse[cy * cs + cx] = t.inside(xu, yu) ? static_cast<int8_t>(t.domain_at(xu, yu)) : int8_t{-1};
      }
    }
  });
  // Background: white glass outside the tissue, eosin-pink stroma inside with a domain tint
  // and low-frequency fibre-like streaks.
  at::parallel_for(0, s, 16, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      for (int64_t x = 0; x < s; ++x) {
        float* px = p + (y * s + x) * 3;
        const double n = hash_uniform(seed, static_cast<uint64_t>(y), static_cast<uint64_t>(x)) - 0.5;
        const int8_t region = coarse[(y / kStep) * cs + x / kStep];
        if (region < 0) {
          px[0] = static_cast<float>(242 + 6 * n), px[1] = static_cast<float>(240 + 6 * n), px[2] = static_cast<float>(240 + 6 * n);
          continue;
        }
        const double xu = static_cast<double>(x) * u, yu = static_cast<double>(y) * u, d = region;
        const double streak = 8 * std::sin(0.35 * xu + 0.2 * yu + d) * std::sin(0.05 * yu - 0.11 * xu);
        px[0] = static_cast<float>(232 - 4 * d + streak + 10 * n);
        px[1] = static_cast<float>(190 - 9 * d + streak + 10 * n);
        px[2] = static_cast<float>(212 - 3 * d + streak + 10 * n);
      }
    }
  });
  int32_t* mask = nullptr;
  if (nucleus_mask) {
    *nucleus_mask = at::zeros({s, s}, at::kInt);
    mask = nucleus_mask->data_ptr<int32_t>();
  }
  // Cells in a fixed order so overlaps resolve the same way on every run.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t ci = 0; ci < t.cells.size(); ++ci) {
      const Cell& c = t.cells[ci];
      const Morphology& m = morph[c.type];
      const double r = (pass == 0 ? m.cytoplasm_um : m.nucleus_um) / u;
      const double ra = pass == 0 ? r : r * std::sqrt(m.elongation), rb = pass == 0 ? r : r / std::sqrt(m.elongation);
      const double ca = std::cos(c.angle), sa = std::sin(c.angle);
      const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(c.x_px - ra - 1));
      const int64_t x1 = std::min<int64_t>(s - 1, static_cast<int64_t>(c.x_px + ra + 1));
      const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(c.y_px - ra - 1));
      const int64_t y1 = std::min<int64_t>(s - 1, static_cast<int64_t>(c.y_px + ra + 1));
      for (int64_t y = y0; y <= y1; ++y) {
        for (int64_t x = x0; x <= x1; ++x) {
          const double dx = static_cast<double>(x) + 0.5 - c.x_px, dy = static_cast<double>(y) + 0.5 - c.y_px;
          const double qa = (dx * ca + dy * sa) / ra, qb = (-dx * sa + dy * ca) / rb;
          const double q = qa * qa + qb * qb;
          if (q > 1.0) continue;
          float* px = p + (y * s + x) * 3;
          if (pass == 0) {
            const double alpha = 0.55 * (1.0 - 0.5 * q);
            for (int k = 0; k < 3; ++k) px[k] = static_cast<float>((1 - alpha) * px[k] + alpha * m.cytoplasm_rgb[k]);
          } else {
            // Chromatin texture: speckled darkness inside the nucleus, darker rim.
            const double grain = hash_uniform(seed ^ 0x5bd1e995ull, static_cast<uint64_t>(y), static_cast<uint64_t>(x));
            const double dark = m.darkness * (0.8 + 0.25 * grain + 0.15 * q);
            for (int k = 0; k < 3; ++k) {
              px[k] = static_cast<float>((1 - dark) * 235.0 + dark * m.nucleus_rgb[k]);
            }
            if (mask) mask[y * s + x] = static_cast<int32_t>(ci + 1);
          }
        }
      }
    }
  }
  return img.round_().clamp_(0, 255).to(at::kByte);
}

}  // namespace stx::data::detail
