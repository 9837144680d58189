#include "envs/nearest.h"

#include <ATen/ATen.h>

namespace stx::envs::detail {
namespace {
// Queries are processed in chunks so the [chunk, bank] score matrix stays small.
constexpr int64_t kChunk = 4096;

template <typename ScoreFn>
at::Tensor chunked_argmax(const at::Tensor& query, ScoreFn score) {
  auto out = at::empty({query.size(0)}, query.options().dtype(at::kLong));
  for (int64_t s = 0; s < query.size(0); s += kChunk) {
    const int64_t e = std::min(query.size(0), s + kChunk);
    out.slice(0, s, e).copy_(score(query.slice(0, s, e)).argmax(1));
  }
  return out;
}
}  // namespace

at::Tensor nearest_l2(const at::Tensor& query, const at::Tensor& bank) {
  auto q = query.to(at::kFloat).contiguous();
  auto b = bank.to(at::kFloat).contiguous();
  auto half_norm = b.pow(2).sum(1).mul(0.5);
  // argmin |q - b|^2 == argmax (q.b - |b|^2 / 2)
  return chunked_argmax(q, [&](const at::Tensor& c) { return at::mm(c, b.t()).sub_(half_norm); });
}

at::Tensor nearest_cosine(const at::Tensor& query, const at::Tensor& bank) {
  auto unit = [](const at::Tensor& t) {
    auto f = t.to(at::kFloat);
    return (f / f.norm(2, {1}, true).clamp_min(1e-12)).contiguous();
  };
  auto q = unit(query);
  auto b = unit(bank);
  return chunked_argmax(q, [&](const at::Tensor& c) { return at::mm(c, b.t()); });
}

}  // namespace stx::envs::detail
