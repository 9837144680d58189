// The one TORCH_LIBRARY(stx) block: library-wide introspection ops. Every op family adds its
// schemas with TORCH_LIBRARY_FRAGMENT in its own ops/<family>.cpp.
#include <torch/library.h>

#include <stx/stx.h>

#ifdef STX_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace stx {

std::string library_version() { return STX_VERSION; }

int64_t cuda_version() noexcept {
#ifdef STX_WITH_CUDA
  return CUDART_VERSION;
#else
  return -1;
#endif
}

namespace {
std::string version_op() { return library_version(); }
int64_t cuda_version_op() { return cuda_version(); }
}  // namespace

}  // namespace stx

TORCH_LIBRARY(stx, m) {
  m.def("_version() -> str", &stx::version_op);
  m.def("_cuda_version() -> int", &stx::cuda_version_op);
}
