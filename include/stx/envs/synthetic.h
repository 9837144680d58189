#pragma once
// A seeded in-memory tissue section for the env (no files needed): spatial domains with their
// own cell-type mixtures (including small rare niches that random sampling tends to miss),
// noisy image-like observation features of each spot's cell mix, expression-like reward
// embeddings, and a single-cell reference of cells from the same types.
#include <cstdint>

#include <stx/envs/types.h>

namespace stx::envs {

struct SyntheticOptions {
  int64_t num_spots = 400;      // per section (a jittered grid)
  int64_t num_sections = 1;
  int64_t feature_dim = 16;     // observation features F
  int64_t embedding_dim = 32;   // reward / single-cell embedding D
  int64_t num_types = 12;       // cell types (the last few only live in rare niches)
  int64_t states_per_type = 4;  // cell states per type (what the clusters resolve)
  int64_t num_cells = 3000;     // single-cell reference size
  double feature_noise = 0.3;
  uint64_t seed = 0;            // the "world": cell types, states, reference, feature map
  uint64_t section_seed = 0;    // the layout of the sections (held-out sections: another value)
};

struct SyntheticData {
  Section section;
  SingleCellReference reference;
  at::Tensor spot_domain;  // [N] int64: tissue domain of each spot
};

STX_API SyntheticData make_synthetic(const SyntheticOptions& options = {});

}  // namespace stx::envs
