// CosMx transcript table reader and per-FOV cell counts.
#include <stx/data/cosmx.h>
#include <stx/data/text.h>

#include <ATen/ATen.h>

#include <cmath>
#include <unordered_map>

namespace stx::data {
namespace {

// Index of `name` in `names`, appending it on first sight.
int64_t intern(const std::string& name, std::vector<std::string>& names, std::unordered_map<std::string, int64_t>& ids) {
  const auto [it, added] = ids.emplace(name, static_cast<int64_t>(names.size()));
  if (added) names.push_back(name);
  return it->second;
}

}  // namespace

Transcripts read_cosmx_transcripts(const std::string& path) {
  const Table t = parse_delimited(read_text_file(path), ',', true, path);
  const int64_t c_fov = t.column("fov", path), c_cell = t.column("cell_ID", path);
  const int64_t c_xg = t.column("x_global_px", path), c_yg = t.column("y_global_px", path);
  const int64_t c_xl = t.column("x_local_px", path), c_yl = t.column("y_local_px", path);
  const int64_t c_z = t.column("z", path), c_gene = t.column("target", path);
  int64_t c_comp = -1;
  for (size_t i = 0; i < t.header.size(); ++i) {
    if (t.header[i] == "CellComp") c_comp = static_cast<int64_t>(i);
  }
  const auto n = static_cast<int64_t>(t.rows.size());
  Transcripts tx;
  tx.fov = at::empty({n}, at::kLong);
  tx.cell_id = at::empty({n}, at::kLong);
  tx.xy_global_px = at::empty({n, 2}, at::kDouble);
  tx.xy_local_px = at::empty({n, 2}, at::kDouble);
  tx.z = at::empty({n}, at::kLong);
  tx.gene = at::empty({n}, at::kLong);
  tx.compartment = at::full({n}, -1, at::kLong);
  int64_t *fov = tx.fov.data_ptr<int64_t>(), *cell = tx.cell_id.data_ptr<int64_t>(), *z = tx.z.data_ptr<int64_t>();
  int64_t *gene = tx.gene.data_ptr<int64_t>(), *comp = tx.compartment.data_ptr<int64_t>();
  double *xg = tx.xy_global_px.data_ptr<double>(), *xl = tx.xy_local_px.data_ptr<double>();
  std::unordered_map<std::string, int64_t> gene_ids, comp_ids;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string at_row = path + " line " + std::to_string(r + 2);
    fov[r] = parse_int(row[c_fov], at_row + " fov");
    cell[r] = parse_int(row[c_cell], at_row + " cell_ID");
    TORCH_CHECK(cell[r] >= 0, at_row, ": cell_ID must be >= 0 (0 = unassigned), got ", cell[r]);
    xg[2 * r] = parse_double(row[c_xg], at_row + " x_global_px");
    xg[2 * r + 1] = parse_double(row[c_yg], at_row + " y_global_px");
    xl[2 * r] = parse_double(row[c_xl], at_row + " x_local_px");
    xl[2 * r + 1] = parse_double(row[c_yl], at_row + " y_local_px");
    TORCH_CHECK(std::isfinite(xg[2 * r]) && std::isfinite(xg[2 * r + 1]) && std::isfinite(xl[2 * r]) &&
                    std::isfinite(xl[2 * r + 1]),
                at_row, ": coordinates must be finite");
    z[r] = parse_int(row[c_z], at_row + " z");
    TORCH_CHECK(!row[c_gene].empty(), at_row, ": empty target");
    gene[r] = intern(row[c_gene], tx.genes, gene_ids);
    if (c_comp >= 0) comp[r] = intern(row[c_comp], tx.compartments, comp_ids);
  }
  return tx;
}

at::Tensor cosmx_cell_counts(const Transcripts& tx, int64_t fov, std::optional<int64_t> num_cells) {
  TORCH_CHECK(tx.fov.defined() && tx.cell_id.defined() && tx.gene.defined() && tx.fov.sizes() == tx.cell_id.sizes() &&
                  tx.fov.sizes() == tx.gene.sizes() && tx.fov.dim() == 1,
              "cosmx_cell_counts: fov, cell_id and gene must be 1-D tensors of one length");
  const auto G = static_cast<int64_t>(tx.genes.size());
  const at::Tensor in_fov = tx.fov.eq(fov);
  const at::Tensor cell = tx.cell_id.masked_select(in_fov), gene = tx.gene.masked_select(in_fov);
  TORCH_CHECK(cell.numel() == 0 || cell.min().item<int64_t>() >= 0, "cosmx_cell_counts: cell_id must be >= 0");
  TORCH_CHECK(gene.numel() == 0 || (gene.min().item<int64_t>() >= 0 && gene.max().item<int64_t>() < G),
              "cosmx_cell_counts: gene indices must be in [0, ", G, ")");
  const int64_t largest = cell.numel() ? cell.max().item<int64_t>() : -1;
  const int64_t K = num_cells.value_or(largest + 1);
  TORCH_CHECK(K >= 0, "cosmx_cell_counts: num_cells must be >= 0, got ", K);
  TORCH_CHECK(largest < K, "cosmx_cell_counts: FOV ", fov, " has cell_ID ", largest, " but num_cells is ", K);
  if (K == 0 || G == 0) return at::zeros({K, G}, at::kLong);
  return at::bincount(cell * G + gene, {}, K * G).view({K, G});
}

}  // namespace stx::data
