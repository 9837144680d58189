// libFuzzer target for the JSON scalar reader (scalefactors_json.json, HEST metadata).
// A c10::Error is the expected answer to bad input; anything else is a finding.
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <string_view>

#include <stx/data/text.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto scalars = stx::data::parse_json_scalars(text, "fuzz.json");
    for (const auto& [key, value] : scalars.numbers) (void)std::isfinite(value);
  } catch (const c10::Error&) {
  }
  return 0;
}
