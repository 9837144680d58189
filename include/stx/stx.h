#pragma once
// Umbrella header for the stx C++ API.
#include <cstdint>
#include <string>

#include <stx/macros.h>
#include <stx/version.h>

namespace stx {

// The version of the libstx that is loaded (may differ from STX_VERSION if headers and
// library come from different installs).
STX_API std::string library_version();

// CUDA version libstx was compiled against (e.g. 13000), or -1 without CUDA kernels.
STX_API int64_t cuda_version() noexcept;

namespace detail {
// Referencing a libstx symbol from every translation unit that includes this header keeps
// the linker from dropping libstx (and with it the operator registrations) from programs
// that only call operators through the dispatcher.
inline const int64_t keep_libstx_linked = ::stx::cuda_version();
}  // namespace detail

}  // namespace stx
