// Test hook torch.ops.stx._int8_gemm_avx2(a, b): the AVX2 u8 x s8 kernel on its own, so tests can
// check it against an exact integer product on hostile values whatever the screen's dispatch.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include "ops/cpu/cpu_features.h"
#include "ops/cpu/int8_gemm_avx2.h"

namespace stx::ops {
namespace {

// a: int8 [M, D] with |a| <= 63 (the 7-bit query operand before its offset); b: int8 [N, D] with
// |b| <= 127. Returns int32 a @ b.T computed by the kernel (offset removed through the bias).
at::Tensor int8_gemm_avx2_op(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(cpu::hardware_features().avx2, "_int8_gemm_avx2: this CPU has no AVX2");
  TORCH_CHECK(a.device().is_cpu() && b.device().is_cpu(), "_int8_gemm_avx2: CPU tensors only");
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1), "_int8_gemm_avx2: a [M, D], b [N, D]");
  TORCH_CHECK(a.scalar_type() == at::kChar && b.scalar_type() == at::kChar, "_int8_gemm_avx2: int8 inputs");
  TORCH_CHECK(a.numel() == 0 || a.abs().max().item<int>() <= cpu::kAvx2QueryLevels, "_int8_gemm_avx2: |a| > 63");
  TORCH_CHECK(b.numel() == 0 || b.abs().max().item<int>() <= 127, "_int8_gemm_avx2: |b| > 127");
  const int64_t M = a.size(0), N = b.size(0), D = a.size(1), kp = cpu::avx2_padded_depth(D);
  at::Tensor au = at::zeros({M, kp}, a.options().dtype(at::kByte));
  au.narrow(1, 0, D).copy_((a.to(at::kShort) + cpu::kAvx2QueryOffset).to(at::kByte));
  const at::Tensor bc = b.contiguous();
  at::Tensor packed = at::empty({cpu::avx2_packed_bytes(N, D)}, b.options());
  at::Tensor bias = at::empty({N}, b.options().dtype(at::kInt));
  at::Tensor out = at::empty({M, N}, b.options().dtype(at::kInt));
  cpu::avx2_pack_s8(bc.const_data_ptr<int8_t>(), N, D, cpu::kAvx2QueryOffset, packed.mutable_data_ptr<int8_t>(),
                    bias.mutable_data_ptr<int32_t>());
  cpu::avx2_gemm_u8s8(au.const_data_ptr<uint8_t>(), M, packed.const_data_ptr<int8_t>(), N, D,
                      bias.const_data_ptr<int32_t>(), out.mutable_data_ptr<int32_t>(), N);
  return out;
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) { m.def("_int8_gemm_avx2(Tensor a, Tensor b) -> Tensor", &stx::ops::int8_gemm_avx2_op); }
