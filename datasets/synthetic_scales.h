#pragma once
// Internal: a synthetic section's ground truth at other scales (square bins, other spot sizes),
// written as Visium folders under section_<i>/scales/ (see docs/data.md, "Other scales").
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <stx/data/synthetic.h>

#include "datasets/synthetic_tissue.h"

namespace stx::data::detail {

// Rejects bad bin_sizes_um / extra_spot_diameters_um with an error naming the option; called
// before anything is generated.
void check_scale_options(const SyntheticOptions& o);

// Writes every scale the options ask for under `section_folder`/scales/. Draws come from
// streams derived from `section_seed` and the scale, never from the section's own RNG, so the
// section's other files do not depend on which scales are written.
std::vector<SyntheticScale> write_scales(const SyntheticOptions& o, uint64_t section_seed,
                                         const std::filesystem::path& section_folder, const Tissue& tissue,
                                         const std::vector<std::vector<double>>& profiles,
                                         const std::vector<std::string>& gene_names,
                                         const std::vector<std::string>& gene_ids);

}  // namespace stx::data::detail
