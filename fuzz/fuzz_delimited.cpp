// libFuzzer target for the CSV/TSV parser and the strict number parsers (stx/data/text.h).
// Byte 0 picks the delimiter, byte 1 whether there is a header; the rest is the table text.
// A c10::Error is the expected answer to bad input; anything else (crash, sanitizer report,
// another exception type, a row whose width disagrees with the header) is a finding.
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <stx/data/text.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const char kDelims[] = {',', '\t', ' ', ';'};
  const char delim = kDelims[data[0] % 4];
  const bool header = data[1] & 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    const stx::data::Table t = stx::data::parse_delimited(text, delim, header, "fuzz");
    for (const auto& row : t.rows) {
      if (header && row.size() != t.header.size()) std::abort();
      for (const auto& field : row) {
        try {
          (void)stx::data::parse_double(field, "field");
        } catch (const c10::Error&) {
        }
        try {
          (void)stx::data::parse_int(field, "field");
        } catch (const c10::Error&) {
        }
      }
    }
    if (header && !t.header.empty()) {
      try {
        (void)t.column(t.header.back(), "fuzz");
      } catch (const c10::Error&) {
        std::abort();  // a header column must be found by its own name
      }
    }
  } catch (const c10::Error&) {
  }
  return 0;
}
