// Spot grid, cell buckets, NB counts and text helpers shared by the synthetic writers.
#include "datasets/synthetic_shared.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

namespace stx::data::detail {
namespace {

std::string random_barcode(Rng& rng) {
  static const char kBases[] = "ACGT";
  std::string b(16, 'A');
  for (auto& ch : b) ch = kBases[rng.below(4)];
  return b + "-1";
}

}  // namespace

std::vector<Spot> make_grid(const SyntheticOptions& o, const Tissue& t, double diameter_um, double pitch_um, Rng& rng) {
  const double w = static_cast<double>(o.image_size_px) * o.microns_per_pixel, r = diameter_um / 2;
  const bool hex = o.grid == "hex";
  const double dy = hex ? pitch_um * std::sqrt(3.0) / 2 : pitch_um;
  std::vector<Spot> spots;
  std::set<std::string> used;
  for (int64_t row = 0;; ++row) {
    const double y = r + static_cast<double>(row) * dy;
    if (y + r > w) break;
    for (int64_t c = 0;; ++c) {
      const double x = r + static_cast<double>(c) * pitch_um + (hex && row % 2 ? pitch_um / 2 : 0.0);
      if (x + r > w) break;
      Spot s;
      do s.barcode = random_barcode(rng);
      while (!used.insert(s.barcode).second);
      s.row = row;
      s.col = hex ? 2 * c + row % 2 : c;  // Visium numbers hex columns in steps of 2
      s.x_px = x / o.microns_per_pixel;
      s.y_px = y / o.microns_per_pixel;
      s.in_tissue = t.inside(x, y);
      spots.push_back(std::move(s));
    }
  }
  return spots;
}

CellBuckets::CellBuckets(const std::vector<Cell>& cells, double bucket_px, int64_t image_size_px)
    : bucket_px_(bucket_px), n_(static_cast<int64_t>(static_cast<double>(image_size_px) / bucket_px) + 1) {
  bucket_.resize(static_cast<size_t>(n_ * n_));
  for (size_t c = 0; c < cells.size(); ++c) {
    const auto bx = static_cast<int64_t>(cells[c].x_px / bucket_px_), by = static_cast<int64_t>(cells[c].y_px / bucket_px_);
    bucket_[static_cast<size_t>(std::min(by, n_ - 1) * n_ + std::min(bx, n_ - 1))].push_back(static_cast<int64_t>(c));
  }
}

void NbCountsBuilder::add_row(const std::vector<double>& mean, Rng& rng) {
  for (size_t g = 0; g < mean.size(); ++g) {
    const int64_t k = rng.neg_binomial(mean[g], theta_);
    if (k > 0) {
      idx_.push_back(static_cast<int64_t>(g));
      val_.push_back(static_cast<int32_t>(k));
    }
  }
  ptr_.push_back(static_cast<int64_t>(idx_.size()));
}

at::Tensor NbCountsBuilder::finish() const {
  const int64_t rows = static_cast<int64_t>(ptr_.size()) - 1;
  return at::sparse_csr_tensor(at::tensor(ptr_, at::kLong), at::tensor(idx_, at::kLong), at::tensor(val_, at::kInt),
                               {rows, cols_}, at::TensorOptions().dtype(at::kInt).layout(at::kSparseCsr));
}

at::Tensor sample_counts(const std::vector<std::vector<double>>& means, int64_t cols, double theta, Rng& rng) {
  NbCountsBuilder counts(cols, theta);
  for (const auto& mu : means) counts.add_row(mu, rng);
  return counts.finish();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  TORCH_CHECK(f.good(), "make_synthetic: cannot write ", path.string());
  f << text;
  TORCH_CHECK(f.good(), "make_synthetic: failed writing ", path.string());
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", v);
  return buf;
}

}  // namespace stx::data::detail
