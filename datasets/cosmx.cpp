// CosMx transcript table reader and per-FOV cell counts.
#include <stx/data/cosmx.h>
#include <stx/data/text.h>

#include <ATen/ATen.h>

#include "datasets/string_intern.h"
#include "datasets/vector_tensor.h"

#include <cmath>

namespace stx::data {
using detail::intern;

Transcripts read_cosmx_transcripts(const std::string& path) {
  int64_t c_fov = 0, c_cell = 0, c_xg = 0, c_yg = 0, c_xl = 0, c_yl = 0, c_z = 0, c_gene = 0, c_comp = -1;
  std::vector<int64_t> fov, cell, z, gene, comp;
  std::vector<double> xg, xl;
  Transcripts tx;
  std::unordered_map<std::string, int64_t> gene_ids, comp_ids;
  for_each_record_in_file(
      path, ',',
      [&](const std::vector<std::string>& header) {
        c_fov = find_column(header, "fov", path);
        c_cell = find_column(header, "cell_ID", path);
        c_xg = find_column(header, "x_global_px", path);
        c_yg = find_column(header, "y_global_px", path);
        c_xl = find_column(header, "x_local_px", path);
        c_yl = find_column(header, "y_local_px", path);
        c_z = find_column(header, "z", path);
        c_gene = find_column(header, "target", path);
        c_comp = find_column(header, "CellComp", path, /*required=*/false);
      },
      [&](const std::vector<std::string>& row, size_t line) {
        fov.push_back(parse_int(row[c_fov], path, line, "fov"));
        cell.push_back(parse_int(row[c_cell], path, line, "cell_ID"));
        TORCH_CHECK(cell.back() >= 0, path, " line ", line, ": cell_ID must be >= 0 (0 = unassigned), got ", cell.back());
        const double coords[4] = {parse_double(row[c_xg], path, line, "x_global_px"),
                                  parse_double(row[c_yg], path, line, "y_global_px"),
                                  parse_double(row[c_xl], path, line, "x_local_px"),
                                  parse_double(row[c_yl], path, line, "y_local_px")};
        for (const double c : coords) TORCH_CHECK(std::isfinite(c), path, " line ", line, ": coordinates must be finite");
        xg.insert(xg.end(), coords, coords + 2);
        xl.insert(xl.end(), coords + 2, coords + 4);
        z.push_back(parse_int(row[c_z], path, line, "z"));
        TORCH_CHECK(!row[c_gene].empty(), path, " line ", line, ": empty target");
        gene.push_back(intern(row[c_gene], tx.genes, gene_ids));
        comp.push_back(c_comp >= 0 ? intern(row[c_comp], tx.compartments, comp_ids) : -1);
      });
  const auto n = static_cast<int64_t>(fov.size());
  tx.fov = detail::vector_tensor(std::move(fov));
  tx.cell_id = detail::vector_tensor(std::move(cell));
  tx.xy_global_px = detail::vector_tensor(std::move(xg)).view({n, 2});
  tx.xy_local_px = detail::vector_tensor(std::move(xl)).view({n, 2});
  tx.z = detail::vector_tensor(std::move(z));
  tx.gene = detail::vector_tensor(std::move(gene));
  tx.compartment = detail::vector_tensor(std::move(comp));
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
