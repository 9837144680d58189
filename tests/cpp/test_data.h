#pragma once
// Where the C++ tests find the real third-party data: STX_DATA, else ../shared/data beside the checkout.
#include <cstdlib>
#include <filesystem>

namespace stx::testing {

inline std::filesystem::path data_root() {
  if (const char* env = std::getenv("STX_DATA")) return env;
  return std::filesystem::path(STX_SOURCE_DIR).parent_path() / "shared" / "data";
}

}  // namespace stx::testing
