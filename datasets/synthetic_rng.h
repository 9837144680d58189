#pragma once
// Internal: a small counter-free RNG with its own samplers, so a synthetic study is the same
// for a seed on every platform (std:: distributions differ between standard libraries).
#include <cmath>
#include <cstdint>

namespace stx::data::detail {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform in [0, 1) from a hash of a few integers: for noise that is evaluated in parallel.
inline double hash_uniform(uint64_t a, uint64_t b, uint64_t c) {
  return static_cast<double>(splitmix64(a ^ splitmix64(b ^ splitmix64(c))) >> 11) * 0x1.0p-53;
}

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = seed = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t below(int64_t n) { return static_cast<int64_t>(uniform() * static_cast<double>(n)); }
  double normal() {  // Box-Muller, one value per call
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  double gamma(double shape) {  // Marsaglia-Tsang; shape < 1 through the u^(1/shape) boost
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(1.0 - uniform(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    while (true) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = 1.0 - uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }
  int64_t poisson(double lam) {
    if (lam <= 0) return 0;
    if (lam < 10) {  // multiplication method
      const double limit = std::exp(-lam);
      double p = uniform();
      int64_t k = 0;
      while (p > limit) {
        p *= uniform();
        ++k;
      }
      return k;
    }
    // Transformed rejection with squeeze (Hormann 1993, "PTRS").
    const double slam = std::sqrt(lam), loglam = std::log(lam), b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b, inv_alpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    while (true) {
      const double u = uniform() - 0.5, v = uniform(), us = 0.5 - std::fabs(u);
      const double k = std::floor((2 * a / us + b) * u + lam + 0.43);
      if (us >= 0.07 && v <= vr) return static_cast<int64_t>(k);
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <= -lam + k * loglam - std::lgamma(k + 1)) {
        return static_cast<int64_t>(k);
      }
    }
  }
  // Negative binomial with mean mu and dispersion theta (var = mu + mu^2/theta), as Gamma-Poisson.
  int64_t neg_binomial(double mu, double theta) { return mu <= 0 ? 0 : poisson(gamma(theta) * mu / theta); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace stx::data::detail
