#pragma once
// Training-time augmentation presets, applied per batch by the training loop, so both trainers
// (stx-train and python -m stx) have them. Images are float RGB in [0, 1], [B, 3, S, S] (square:
// the quarter turns swap the sides), before the ImageNet normalisation.
//
//   "dihedral"   one random symmetry of the square for the batch (dihedral_transform): the default.
//   "morphology" the single-patch baseline's morphology-preserving set: a random symmetry (flips,
//                transpose, quarter turns) then, per image, shift-scale-rotate (shift <= 6.25% of
//                the side, scale 0.9-1.1, rotation +-45 degrees, reflected border). No colour change.
//   "stnet"      ST-Net's set: a random symmetry (90 degree rotations and flips), per-image colour
//                jitter (brightness, contrast, saturation +-10%) and, for half of the batches, a
//                Gaussian blur (sigma 0.1-1 px).
//   "none"       the images unchanged.
//
// Every random draw comes from `gen`, so a seeded run is reproducible; "dihedral" draws exactly
// what the loop drew before presets existed.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

STX_API const std::vector<std::string>& augment_presets();
STX_API at::Tensor augment(const at::Tensor& images, const std::string& preset, at::Generator& gen);

// The pieces, one parameter per image ([B] tensors), so tests can drive them directly.
// Rotation (degrees, counter-clockwise on screen), scale and shift (fractions of the side, +x right,
// +y down) about the patch centre, bilinear, reflected border: the spot stays at the centre when the
// shift is 0.
STX_API at::Tensor shift_scale_rotate(const at::Tensor& images, const at::Tensor& degrees, const at::Tensor& scale,
                                      const at::Tensor& shift_x, const at::Tensor& shift_y);
// Brightness (multiply), contrast (blend with the image mean grey), saturation (blend with the
// grey image) factors; 1 leaves the image as it is. Clamped to [0, 1].
STX_API at::Tensor colour_jitter(const at::Tensor& images, const at::Tensor& brightness, const at::Tensor& contrast,
                                 const at::Tensor& saturation);
// Separable Gaussian blur, kernel radius ceil(3 sigma), reflected border.
STX_API at::Tensor gaussian_blur(const at::Tensor& images, double sigma);

}  // namespace stx::data
