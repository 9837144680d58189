#pragma once
// Internal: building validated count matrices from the compressed-sparse arrays in files.
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace stx::data::detail {

// A [rows, cols] sparse CSR tensor from compressed arrays read from a file, after checking
// them (indptr length, monotonic, ends at nnz; indices in [0, cols)) so that a corrupt file
// gives an error naming `where` instead of an out-of-bounds read. Indices become int64. Rows
// stored out of order are sorted (torch's CSR invariant); a duplicate index in a row is an error.
at::Tensor checked_csr(const at::Tensor& indptr, const at::Tensor& indices, const at::Tensor& data, int64_t rows,
                       int64_t cols, const std::string& where);

// Applies the requested dtype (nullopt: keep) and layout (dense or keep sparse).
at::Tensor finish_matrix(at::Tensor m, bool dense, std::optional<c10::ScalarType> dtype);

// Rows of a CSR or dense matrix, in the given order (int64 index tensor).
at::Tensor select_rows(const at::Tensor& m, const at::Tensor& rows);

}  // namespace stx::data::detail
