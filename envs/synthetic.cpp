#include <stx/envs/synthetic.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace stx::envs {
namespace {

constexpr int64_t kCellsPerSpot = 3;      // a spot's expression mixes a few cells
constexpr int64_t kBackgroundDomains = 4;
const at::TensorOptions kF64 = at::TensorOptions().dtype(at::kDouble);

struct World {
  int64_t common = 0, rare = 0;
  at::Tensor state_centre;  // [T * S, D] expression embedding of each cell state
  at::Tensor feature_map;   // [T, F] how a cell type looks in the image features
  at::Tensor domain_mix;    // [K + rare, T] cell-type mixture of each domain (rows sum to 1)
};

World make_world(const SyntheticOptions& o, at::Generator& gen) {
  World w;
  w.rare = std::max<int64_t>(1, o.num_types / 4);
  w.common = o.num_types - w.rare;
  const int64_t t = o.num_types, s = o.states_per_type;
  auto types = at::randn({t, 1, o.embedding_dim}, gen, kF64);
  auto states = at::randn({t, s, o.embedding_dim}, gen, kF64).mul_(0.45);
  w.state_centre = (types + states).reshape({t * s, o.embedding_dim});
  w.feature_map = at::randn({t, o.feature_dim}, gen, kF64);
  // Background domains mix two or three common types; each rare niche is mostly one rare type.
  w.domain_mix = at::zeros({kBackgroundDomains + w.rare, t}, at::kDouble);
  auto u = at::rand({kBackgroundDomains, w.common}, gen, kF64);
  for (int64_t k = 0; k < kBackgroundDomains; ++k) {
    auto row = u[k].pow(4);  // peaked: a few dominant types per domain
    w.domain_mix[k].slice(0, 0, w.common).copy_(row / row.sum());
  }
  for (int64_t r = 0; r < w.rare; ++r) {
    auto row = w.domain_mix[kBackgroundDomains + r];
    row.slice(0, 0, w.common).fill_(0.3 / static_cast<double>(w.common));
    row[w.common + r] = 0.7;
  }
  return w;
}

}  // namespace

SyntheticData make_synthetic(const SyntheticOptions& o) {
  TORCH_CHECK(o.num_spots >= 1, "num_spots must be >= 1, got ", o.num_spots);
  TORCH_CHECK(o.num_sections >= 1, "num_sections must be >= 1, got ", o.num_sections);
  TORCH_CHECK(o.feature_dim >= 1 && o.embedding_dim >= 1, "feature_dim and embedding_dim must be >= 1");
  TORCH_CHECK(o.num_types >= 2, "num_types must be >= 2, got ", o.num_types);
  TORCH_CHECK(o.states_per_type >= 1, "states_per_type must be >= 1, got ", o.states_per_type);
  TORCH_CHECK(o.num_cells >= 1, "num_cells must be >= 1, got ", o.num_cells);
  TORCH_CHECK(o.feature_noise >= 0 && std::isfinite(o.feature_noise), "feature_noise must be >= 0");
  TORCH_CHECK(o.num_types <= kMaxCellTypes, "num_types must be <= ", kMaxCellTypes, ", got ", o.num_types);
  // The generated tables ([spots, F], [spots, D], [cells, D], [types * states, D]) are bounded
  // before anything is allocated: a synthetic world is a test fixture, not a big-data source.
  constexpr int64_t kMaxElements = int64_t{1} << 28;
  const auto fits = [](int64_t rows, int64_t cols) { return rows <= kMaxElements / cols; };
  TORCH_CHECK(o.num_sections <= kMaxElements / o.num_spots &&
                  fits(o.num_spots * o.num_sections, std::max(o.feature_dim, o.embedding_dim)) &&
                  fits(o.num_cells, o.embedding_dim) && o.states_per_type <= kMaxElements / o.num_types &&
                  fits(o.num_types * o.states_per_type, o.embedding_dim),
              "make_synthetic: num_spots x num_sections x max(feature_dim, embedding_dim), num_cells x ",
              "embedding_dim and num_types x states_per_type x embedding_dim must each be <= 2^28 elements");
  auto world_gen = at::detail::createCPUGenerator(o.seed);
  const World w = make_world(o, world_gen);
  const int64_t t = o.num_types, s = o.states_per_type, d = o.embedding_dim;

  SyntheticData out;
  // Single-cell reference: rare types are under-represented but present.
  auto type_weight = at::ones({t}, at::kDouble);
  type_weight.slice(0, w.common).fill_(0.3);
  auto cell_type = at::multinomial(type_weight, o.num_cells, true, world_gen);
  auto cell_state = at::randint(s, {o.num_cells}, world_gen, at::TensorOptions().dtype(at::kLong));
  auto cells = w.state_centre.index_select(0, cell_type * s + cell_state) +
               at::randn({o.num_cells, d}, world_gen, kF64).mul_(0.15);
  out.reference.embeddings = cells.to(at::kFloat);
  out.reference.cell_types = cell_type;
  out.reference.num_types = t;

  const int64_t n = o.num_spots, total = n * o.num_sections;
  auto features = at::empty({total, o.feature_dim}, at::kFloat);
  auto reward = at::empty({total, d}, at::kFloat);
  auto coords = at::empty({total, 2}, at::kFloat);
  auto section_id = at::empty({total}, at::kLong);
  auto domain = at::empty({total}, at::kLong);
  const auto grid = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  for (int64_t sec = 0; sec < o.num_sections; ++sec) {
    auto gen = at::detail::createCPUGenerator(o.section_seed * 1000003ULL + static_cast<uint64_t>(sec) + 17);
    auto idx = at::arange(n, at::kLong);
    auto pos = at::stack({idx.remainder(grid), idx.div(grid, "floor")}, 1).to(at::kDouble) +
               at::rand({n, 2}, gen, kF64).sub_(0.5).mul_(0.3);
    // Background: Voronoi cells of random centres; rare niches: small discs on top.
    auto centres = at::rand({kBackgroundDomains, 2}, gen, kF64).mul_(grid);
    auto dom = at::cdist(pos, centres).argmin(1);
    auto niche_centres = at::rand({w.rare, 2}, gen, kF64).mul_(grid * 0.8).add_(grid * 0.1);
    const double radius = 0.08 * static_cast<double>(grid);
    auto niche_dist = at::cdist(pos, niche_centres);
    auto [nd, nk] = niche_dist.min(1);
    dom = at::where(nd.lt(radius), nk + kBackgroundDomains, dom);
    // Each spot: a few cells drawn from its domain's mixture, each in a random state.
    auto mix = w.domain_mix.index_select(0, dom);
    auto spot_cells = at::multinomial(mix, kCellsPerSpot, true, gen);              // [n, c]
    auto spot_states = at::randint(s, {n, kCellsPerSpot}, gen, at::TensorOptions().dtype(at::kLong));
    auto expr = w.state_centre.index_select(0, (spot_cells * s + spot_states).flatten())
                    .reshape({n, kCellsPerSpot, d})
                    .mean(1) +
                at::randn({n, d}, gen, kF64).mul_(0.1);
    auto composition = at::zeros({n, t}, at::kDouble)
                           .scatter_add_(1, spot_cells, at::ones({n, kCellsPerSpot}, at::kDouble))
                           .div_(kCellsPerSpot);
    auto feats = at::mm(composition, w.feature_map) +
                 at::randn({n, o.feature_dim}, gen, kF64).mul_(o.feature_noise);
    auto rows = at::arange(sec * n, (sec + 1) * n, at::kLong);
    features.index_copy_(0, rows, feats.to(at::kFloat));
    reward.index_copy_(0, rows, expr.to(at::kFloat));
    coords.index_copy_(0, rows, pos.mul(100.0).to(at::kFloat));  // ~100 um spot pitch
    section_id.index_fill_(0, rows, sec);
    domain.index_copy_(0, rows, dom);
  }
  out.section = {features, coords, section_id, reward};
  out.spot_domain = domain;
  return out;
}

}  // namespace stx::envs
