#include "envs/nearest.h"

#include <algorithm>

#include <ATen/ATen.h>

#include <stx/ops/retrieval.h>

namespace stx::envs::detail {
namespace {
// Queries go in chunks so the op's [chunk, bank] score block stays small.
constexpr int64_t kChunk = 4096;

at::Tensor top1(const at::Tensor& query, const at::Tensor& bank, const char* metric) {
  auto q = query.to(at::kFloat).contiguous();
  auto b = bank.to(at::kFloat).contiguous();
  auto out = at::empty({q.size(0)}, q.options().dtype(at::kLong));
  for (int64_t s = 0; s < q.size(0); s += kChunk) {
    const int64_t e = std::min(q.size(0), s + kChunk);
    auto index = std::get<1>(stx::ops::cosine_topk(q.slice(0, s, e), b, 1, metric));
    out.slice(0, s, e).copy_(index.select(1, 0));
  }
  return out;
}
}  // namespace

at::Tensor nearest_l2(const at::Tensor& query, const at::Tensor& bank) { return top1(query, bank, "l2"); }

at::Tensor nearest_cosine(const at::Tensor& query, const at::Tensor& bank) { return top1(query, bank, "cosine"); }

}  // namespace stx::envs::detail
