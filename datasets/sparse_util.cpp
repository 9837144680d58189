#include "datasets/sparse_util.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

namespace stx::data::detail {

at::Tensor checked_csr(const at::Tensor& indptr, const at::Tensor& indices, const at::Tensor& data, int64_t rows,
                       int64_t cols, const std::string& where) {
  TORCH_CHECK(rows >= 0 && cols >= 0, where, ": negative matrix shape [", rows, ", ", cols, "]");
  TORCH_CHECK(indptr.dim() == 1 && indices.dim() == 1 && data.dim() == 1, where,
              ": expected 1-D indptr, indices and data");
  TORCH_CHECK(indptr.numel() == rows + 1, where, ": indptr has ", indptr.numel(), " entries, expected ", rows + 1,
              " (shape says ", rows, " compressed rows)");
  TORCH_CHECK(indices.numel() == data.numel(), where, ": indices has ", indices.numel(), " entries but data has ",
              data.numel());
  TORCH_CHECK(!at::isFloatingType(indptr.scalar_type()) && !at::isFloatingType(indices.scalar_type()), where,
              ": indptr and indices must be integers");
  at::Tensor ptr = indptr.to(at::kLong).contiguous();
  at::Tensor idx = indices.to(at::kLong).contiguous();
  const int64_t* p = ptr.data_ptr<int64_t>();
  TORCH_CHECK(p[0] == 0 && p[rows] == data.numel(), where, ": indptr must start at 0 and end at nnz=", data.numel(),
              ", got ", p[0], " .. ", p[rows]);
  for (int64_t r = 0; r < rows; ++r) {
    TORCH_CHECK(p[r] <= p[r + 1], where, ": indptr decreases at position ", r);
  }
  // One serial, vectorisable pass: cheaper than waking a thread pool for a memory-bound scan.
  const int64_t* ix = idx.data_ptr<int64_t>();
  int64_t lo = 0, hi = -1;
  if (idx.numel() > 0) lo = hi = ix[0];
  for (int64_t k = 1; k < idx.numel(); ++k) {
    lo = std::min(lo, ix[k]);
    hi = std::max(hi, ix[k]);
  }
  TORCH_CHECK(idx.numel() == 0 || (lo >= 0 && hi < cols), where, ": indices must lie in [0, ", cols, "), found [", lo,
              ", ", hi, "]");
  // torch's CSR needs strictly increasing indices within a row. Files may store a row's entries
  // in any order (Cell Ranger 3 does): those rows are sorted. A repeated (row, index) pair is an
  // error rather than summed, since no writer of these formats stores one on purpose.
  std::vector<int64_t> perm;  // empty while every row seen so far is already in order
  for (int64_t r = 0; r < rows; ++r) {
    int64_t k = p[r] + 1;
    while (k < p[r + 1] && ix[k] > ix[k - 1]) ++k;
    if (k >= p[r + 1]) continue;
    if (perm.empty()) {
      perm.resize(static_cast<size_t>(idx.numel()));
      for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
    }
    std::sort(perm.begin() + p[r], perm.begin() + p[r + 1], [ix](int64_t a, int64_t b) { return ix[a] < ix[b]; });
    for (int64_t j = p[r] + 1; j < p[r + 1]; ++j) {
      TORCH_CHECK(ix[perm[j]] != ix[perm[j - 1]], where, ": duplicate entry in compressed row ", r, " at index ",
                  ix[perm[j]], " (the matrix stores it twice; duplicates are not summed)");
    }
  }
  at::Tensor values = data.contiguous();
  if (!perm.empty()) {
    const at::Tensor order = at::tensor(perm, at::kLong);
    idx = idx.index_select(0, order);
    values = values.index_select(0, order);
  }
  // Checked above; the checked factory would re-validate everything (a second full pass).
  return at::_sparse_csr_tensor_unsafe(ptr, idx, values, {rows, cols}, values.options().layout(at::kSparseCsr));
}

at::Tensor finish_matrix(at::Tensor m, bool dense, std::optional<c10::ScalarType> dtype) {
  if (dtype && m.scalar_type() != *dtype) {
    if (m.layout() == at::kSparseCsr) {  // convert the values only; Tensor::to would copy the indices too
      const at::Tensor v = m.values().to(*dtype);
      m = at::_sparse_csr_tensor_unsafe(m.crow_indices(), m.col_indices(), v, m.sizes(), v.options().layout(at::kSparseCsr));
    } else {
      m = m.to(*dtype);
    }
  }
  if (dense && m.layout() != at::kStrided) m = m.to_dense();
  return m;
}

at::Tensor select_rows(const at::Tensor& m, const at::Tensor& rows) {
  if (m.layout() == at::kStrided) return m.index_select(0, rows);
  TORCH_CHECK(m.layout() == at::kSparseCsr, "select_rows: expected a dense or CSR matrix");
  const at::Tensor ptr = m.crow_indices();
  const at::Tensor starts = ptr.index_select(0, rows);
  const at::Tensor lengths = ptr.index_select(0, rows + 1) - starts;
  at::Tensor new_ptr = at::zeros({rows.numel() + 1}, ptr.options());
  new_ptr.slice(0, 1).copy_(lengths.cumsum(0));
  // Gather positions: for each selected row, starts[r] + 0..len-1.
  const int64_t nnz = new_ptr[-1].item<int64_t>();
  const at::Tensor row_of = at::repeat_interleave(at::arange(rows.numel(), ptr.options()), lengths, /*dim=*/std::nullopt, nnz);
  const at::Tensor pos = starts.index_select(0, row_of) + (at::arange(nnz, ptr.options()) - new_ptr.index_select(0, row_of));
  return at::sparse_csr_tensor(new_ptr, m.col_indices().index_select(0, pos), m.values().index_select(0, pos),
                               {rows.numel(), m.size(1)}, m.values().options().layout(at::kSparseCsr));
}

}  // namespace stx::data::detail
