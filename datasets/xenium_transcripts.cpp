// Xenium transcript table reader and per-cell counts.
#include <stx/data/text.h>
#include <stx/data/xenium.h>

#include <ATen/ATen.h>

#include "datasets/string_intern.h"
#include "datasets/vector_tensor.h"

#include <cmath>
#include <limits>
#include <unordered_map>

namespace stx::data {
namespace {

bool is_unassigned(const std::string& cell_id) { return cell_id == "UNASSIGNED" || cell_id == "-1"; }

// Position of each value of `names` in `order` (-1 where absent); `order` must not repeat a value.
std::vector<int64_t> positions_in(const std::vector<std::string>& names, const std::vector<std::string>& order,
                                  const char* what) {
  std::unordered_map<std::string, int64_t> where;
  for (size_t i = 0; i < order.size(); ++i) {
    TORCH_CHECK(where.emplace(order[i], static_cast<int64_t>(i)).second, "xenium_cell_counts: ", what, " repeats '",
                order[i], "' (at position ", i, ")");
  }
  std::vector<int64_t> pos(names.size(), -1);
  for (size_t i = 0; i < names.size(); ++i) {
    const auto it = where.find(names[i]);
    if (it != where.end()) pos[i] = it->second;
  }
  return pos;
}

}  // namespace

XeniumTranscripts read_xenium_transcripts(const std::string& path) {
  int64_t c_tid = 0, c_cell = 0, c_nuc = 0, c_gene = 0, c_x = 0, c_y = 0, c_z = 0, c_qv = 0, c_dist = -1;
  std::vector<int64_t> tid, cell, gene;
  std::vector<uint8_t> overlaps;
  std::vector<double> xyz, qv, dist;
  XeniumTranscripts tx;
  std::unordered_map<std::string, int64_t> gene_ids, cell_ids;
  for_each_record_in_file(
      path, ',',
      [&](const std::vector<std::string>& header) {
        c_tid = find_column(header, "transcript_id", path);
        c_cell = find_column(header, "cell_id", path);
        c_nuc = find_column(header, "overlaps_nucleus", path);
        c_gene = find_column(header, "feature_name", path);
        c_x = find_column(header, "x_location", path);
        c_y = find_column(header, "y_location", path);
        c_z = find_column(header, "z_location", path);
        c_qv = find_column(header, "qv", path);
        c_dist = find_column(header, "nucleus_distance", path, /*required=*/false);
      },
      [&](const std::vector<std::string>& row, size_t line) {
        tid.push_back(parse_int(row[c_tid], path, line, "transcript_id"));
        const std::string& id = row[c_cell];
        TORCH_CHECK(!id.empty(), path, " line ", line, ": empty cell_id (use UNASSIGNED for no cell)");
        cell.push_back(is_unassigned(id) ? -1 : detail::intern(id, tx.cell_ids, cell_ids));
        const int64_t nuc = parse_int(row[c_nuc], path, line, "overlaps_nucleus");
        TORCH_CHECK(nuc == 0 || nuc == 1, path, " line ", line, ": overlaps_nucleus must be 0 or 1, got ", nuc);
        overlaps.push_back(static_cast<uint8_t>(nuc));
        TORCH_CHECK(!row[c_gene].empty(), path, " line ", line, ": empty feature_name");
        gene.push_back(detail::intern(row[c_gene], tx.genes, gene_ids));
        const double p[3] = {parse_double(row[c_x], path, line, "x_location"),
                             parse_double(row[c_y], path, line, "y_location"),
                             parse_double(row[c_z], path, line, "z_location")};
        for (const double v : p) TORCH_CHECK(std::isfinite(v), path, " line ", line, ": location must be finite");
        xyz.insert(xyz.end(), p, p + 3);
        qv.push_back(parse_double(row[c_qv], path, line, "qv"));
        TORCH_CHECK(!std::isnan(qv.back()), path, " line ", line, ": qv is NaN");
        dist.push_back(c_dist >= 0 ? parse_double(row[c_dist], path, line, "nucleus_distance")
                                   : std::numeric_limits<double>::quiet_NaN());
      });
  const auto n = static_cast<int64_t>(tid.size());
  tx.transcript_id = detail::vector_tensor(std::move(tid));
  tx.cell = detail::vector_tensor(std::move(cell));
  tx.overlaps_nucleus = detail::vector_tensor(std::move(overlaps)).view(at::kBool);
  tx.gene = detail::vector_tensor(std::move(gene));
  tx.xyz_um = detail::vector_tensor(std::move(xyz)).view({n, 3});
  tx.qv = detail::vector_tensor(std::move(qv));
  tx.nucleus_distance = detail::vector_tensor(std::move(dist));
  return tx;
}

at::Tensor xenium_cell_counts(const XeniumTranscripts& tx, const std::vector<std::string>& cell_ids,
                              const std::optional<std::vector<std::string>>& genes, double min_qv, bool nucleus_only) {
  TORCH_CHECK(!std::isnan(min_qv), "xenium_cell_counts: min_qv is NaN");
  TORCH_CHECK(tx.cell.defined() && tx.gene.defined() && tx.qv.defined() && tx.overlaps_nucleus.defined() &&
                  tx.cell.dim() == 1 && tx.cell.sizes() == tx.gene.sizes() && tx.cell.sizes() == tx.qv.sizes() &&
                  tx.cell.sizes() == tx.overlaps_nucleus.sizes(),
              "xenium_cell_counts: cell, gene, qv and overlaps_nucleus must be 1-D tensors of one length");
  const std::vector<std::string>& columns = genes.has_value() ? *genes : tx.genes;
  const std::vector<int64_t> row_of = positions_in(tx.cell_ids, cell_ids, "cell_ids");
  const std::vector<int64_t> col_of = positions_in(tx.genes, columns, "genes");
  const auto C = static_cast<int64_t>(cell_ids.size()), G = static_cast<int64_t>(columns.size());
  at::Tensor counts = at::zeros({C, G}, at::kLong);
  const at::Tensor cell = tx.cell.to(at::kLong).contiguous(), gene = tx.gene.to(at::kLong).contiguous();
  const at::Tensor qv = tx.qv.to(at::kDouble).contiguous(), nuc = tx.overlaps_nucleus.to(at::kBool).contiguous();
  const int64_t* cp = cell.const_data_ptr<int64_t>();
  const int64_t* gp = gene.const_data_ptr<int64_t>();
  const double* qp = qv.const_data_ptr<double>();
  const bool* np = nuc.const_data_ptr<bool>();
  int64_t* out = counts.mutable_data_ptr<int64_t>();
  const auto n_cells = static_cast<int64_t>(row_of.size()), n_genes = static_cast<int64_t>(col_of.size());
  for (int64_t t = 0; t < cell.numel(); ++t) {
    TORCH_CHECK(cp[t] >= -1 && cp[t] < n_cells, "xenium_cell_counts: transcript ", t, " has cell index ", cp[t],
                " outside [-1, ", n_cells, ")");
    TORCH_CHECK(gp[t] >= 0 && gp[t] < n_genes, "xenium_cell_counts: transcript ", t, " has gene index ", gp[t],
                " outside [0, ", n_genes, ")");
    if (cp[t] < 0 || !(qp[t] >= min_qv) || (nucleus_only && !np[t])) continue;
    const int64_t r = row_of[cp[t]], c = col_of[gp[t]];
    if (r >= 0 && c >= 0) ++out[r * G + c];
  }
  return counts;
}

}  // namespace stx::data
