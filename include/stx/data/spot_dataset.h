#pragma once
// SpotDataset: one example per spot (patch, expression, coordinates, section id) as a
// torch::data Dataset, with the augmentations that keep tissue morphology: the eight
// symmetries of the square (90° rotations and flips). The symmetry applied to spot i is a
// hash of (seed, epoch, i), so it does not depend on worker order or on which process reads.
#include <ATen/core/Tensor.h>
#include <torch/data/datasets/base.h>

#include <cstdint>
#include <optional>

#include <stx/macros.h>

namespace stx::data {

struct SpotExample {
  at::Tensor patch;       // uint8 [3, S, S]
  at::Tensor expression;  // [G], dtype of the expression matrix (dense even if it was sparse)
  at::Tensor coords;      // [2] (x, y), dtype of the coordinates
  int64_t section = 0;
  int64_t index = 0;      // row in the dataset
};

// Symmetry k (0..7) of the square on the last two dims of `images` ([..., H, W]): rotate by
// (k % 4) * 90° counter-clockwise (torch.rot90 on dims (-2, -1)), then, for k >= 4, flip left-
// right. k = 0 is the identity; odd rotations swap H and W.
STX_API at::Tensor dihedral_transform(const at::Tensor& images, int64_t k);

class STX_API SpotDataset : public torch::data::datasets::Dataset<SpotDataset, SpotExample> {
 public:
  // patches uint8 [N, 3, S, S]; expression [N, G] dense, sparse COO or sparse CSR; coords [N, 2];
  // section_ids int64 [N]. Shapes must agree on N (errors name the argument).
  SpotDataset(at::Tensor patches, at::Tensor expression, at::Tensor coords, at::Tensor section_ids,
              bool augment = false, uint64_t seed = 0);

  SpotExample get(size_t index) override;
  std::optional<size_t> size() const override;

  // Selects a fresh set of symmetries for the next pass (same epoch -> same augmentation).
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  // The symmetry (0..7) get(index) applies in the current epoch; 0 without augmentation.
  int64_t symmetry(size_t index) const;

  const at::Tensor& patches() const { return patches_; }
  int64_t num_genes() const { return num_genes_; }

 private:
  at::Tensor expression_row(int64_t i) const;

  at::Tensor patches_, dense_, crow_, col_, values_, coords_, sections_;
  int64_t num_genes_ = 0;
  bool augment_ = false;
  uint64_t seed_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace stx::data
