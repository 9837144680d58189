// SpotDataset: rows of patches/expression/coords/section with seeded dihedral augmentation.
#include <ATen/ATen.h>

#include <stx/data/spot_dataset.h>

namespace stx::data {

at::Tensor dihedral_transform(const at::Tensor& images, int64_t k) {
  TORCH_CHECK(images.defined() && images.dim() >= 2, "dihedral_transform: images must have at least 2 dims [..., H, W]");
  TORCH_CHECK(k >= 0 && k < 8, "dihedral_transform: k must be in [0, 8), got ", k);
  at::Tensor out = (k % 4) ? at::rot90(images, k % 4, {-2, -1}) : images;
  if (k >= 4) out = at::flip(out, {-1});
  return out.contiguous();
}

namespace {
// splitmix64: a cheap, well-mixed hash so (seed, epoch, index) -> symmetry is reproducible.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

SpotDataset::SpotDataset(at::Tensor patches, at::Tensor expression, at::Tensor coords, at::Tensor section_ids,
                         bool augment, uint64_t seed)
    : augment_(augment), seed_(seed) {
  TORCH_CHECK(patches.defined() && patches.dim() == 4 && patches.size(1) == 3 && patches.scalar_type() == at::kByte,
              "SpotDataset: patches must be uint8 [N, 3, S, S], got ",
              patches.defined() ? patches.sizes() : at::IntArrayRef{}, " ",
              patches.defined() ? patches.scalar_type() : at::kByte);
  TORCH_CHECK(augment == false || patches.size(2) == patches.size(3),
              "SpotDataset: augmentation (rotations) needs square patches, got ", patches.size(2), "x", patches.size(3));
  const int64_t n = patches.size(0);
  TORCH_CHECK(expression.defined() && expression.dim() == 2 && expression.size(0) == n,
              "SpotDataset: expression must be [N, G] with N = ", n, " (the number of patches), got ",
              expression.defined() ? expression.sizes() : at::IntArrayRef{});
  TORCH_CHECK(coords.defined() && coords.dim() == 2 && coords.size(0) == n && coords.size(1) == 2,
              "SpotDataset: coords must be [N, 2] with N = ", n, ", got ", coords.defined() ? coords.sizes() : at::IntArrayRef{});
  TORCH_CHECK(section_ids.defined() && section_ids.dim() == 1 && section_ids.size(0) == n &&
                  !at::isFloatingType(section_ids.scalar_type()),
              "SpotDataset: section_ids must be an integer tensor [N] with N = ", n);
  for (const at::Tensor* t : {&patches, &expression, &coords, &section_ids})
    TORCH_CHECK(t->device().is_cpu(), "SpotDataset: all tensors must be on the CPU (move batches to the GPU after loading)");
  patches_ = patches.contiguous();
  coords_ = coords.contiguous();
  sections_ = section_ids.to(at::kLong).contiguous();
  num_genes_ = expression.size(1);
  if (expression.layout() == at::kStrided) {
    dense_ = expression.contiguous();
  } else {
    // Sparse rows are densified one at a time in get(): keep the CSR arrays.
    const at::Tensor csr = expression.layout() == at::kSparseCsr ? expression : expression.coalesce().to_sparse_csr();
    crow_ = csr.crow_indices().to(at::kLong).contiguous();
    col_ = csr.col_indices().to(at::kLong).contiguous();
    values_ = csr.values().contiguous();
  }
}

std::optional<size_t> SpotDataset::size() const { return static_cast<size_t>(patches_.size(0)); }

int64_t SpotDataset::symmetry(size_t index) const {
  if (!augment_) return 0;
  const uint64_t h = mix(mix(mix(seed_) ^ static_cast<uint64_t>(epoch_)) ^ static_cast<uint64_t>(index));
  return static_cast<int64_t>(h % 8);
}

at::Tensor SpotDataset::expression_row(int64_t i) const {
  if (dense_.defined()) return dense_[i];
  const int64_t* crow = crow_.data_ptr<int64_t>();
  const int64_t lo = crow[i], hi = crow[i + 1];
  at::Tensor row = at::zeros({num_genes_}, values_.options());
  if (hi > lo) row.index_put_({col_.slice(0, lo, hi)}, values_.slice(0, lo, hi));
  return row;
}

SpotExample SpotDataset::get(size_t index) {
  const int64_t n = patches_.size(0);
  TORCH_CHECK(index < static_cast<size_t>(n), "SpotDataset: index ", index, " out of range for ", n, " spots");
  const int64_t i = static_cast<int64_t>(index);
  SpotExample ex;
  ex.patch = dihedral_transform(patches_[i], symmetry(index));
  ex.expression = expression_row(i);
  ex.coords = coords_[i];
  ex.section = sections_.data_ptr<int64_t>()[i];
  ex.index = i;
  return ex;
}

}  // namespace stx::data
