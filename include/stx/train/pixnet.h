#pragma once
// The PixNet study (docs/pixnet.md), one command for both front ends (`stx-train pixnet`,
// `python -m stx pixnet`): train the dense model (recipe pixnet) on image tiles at config
// train_scales and the spot-patch regressor (SCR2Net without retrieval) on the training sections'
// spot patches, then evaluate both on the held-out sections at every region set they have (their
// spots and, for a synthetic study made with scales, 2/8/16 um bins and 100 um spots):
//   - dense: stitched inference over the whole image (memory bounded by one tile), a region's value
//     = its mean map value x its nominal area in pixels (robust to how many pixel centres a 2 um bin
//     happens to hold);
//   - patch model: a patch of side patch_um x (region size / training spot size) around the region,
//     resized to patch_size, its log1p count prediction rescaled by the area ratio to the training spot;
// both compared as log1p counts with the region's measured counts: PCC per gene over regions, summarised
// as PCC@F/S/M (first quartile, median, mean over genes), MSE and MAE (train/metrics.h).
// Writes out/checkpoint.pt (the dense model), out/metrics.json, out/report.md and, for the 8 um bins
// (or the smallest square bins), out/map_<section>_<set>.csv (x, y, gene, truth, dense, patch for the
// three genes of highest mean) for the report's maps.
#include <stx/macros.h>
#include <stx/train/commands.h>

namespace stx::train {

STX_API void run_pixnet(const RunOptions& options, const Config& config, const Log& log = {});

}  // namespace stx::train
