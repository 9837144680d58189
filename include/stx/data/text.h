#pragma once
// Text formats the readers parse: delimited tables (CSV/TSV, optionally gzip-compressed) and
// JSON objects of scalars. Exposed so that the parsers can be fuzzed and reused; every
// failure is a c10::Error naming the source and the field.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// Longest line (row of a table) the text readers accept, in bytes after gzip inflation: a longer
// one is an error naming the file and line, raised before more of it is buffered (a 4 MB .csv.gz
// can inflate to one 4 GiB line). Far above any real row (a 60 000-gene counts row is ~1 MB).
constexpr size_t kMaxLineBytes = size_t(64) << 20;

// Whole file as text; gzip data (by its magic bytes, not the extension) is inflated. Lines are
// limited to kMaxLineBytes.
STX_API std::string read_text_file(const std::string& path);

// Errors unless `text` is valid UTF-8 (what Python's str needs); the message names `source`,
// the line (when non-zero), `what` and the first bad byte. Plain ASCII takes a fast path.
STX_API void check_utf8(std::string_view text, const std::string& source, size_t line, const char* what);
STX_API bool is_valid_utf8(std::string_view text);

// A delimited table of strings. `source` names the file in error messages.
struct Table {
  std::vector<std::string> header;             // empty when parsed without a header
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields (if any)

  // Index of a header column; the error names the column, the source and the header.
  int64_t column(const std::string& name, const std::string& source) const;
};

// Splits `text` into rows of fields. Handles \n and \r\n, double-quoted fields ("a,b" and ""),
// skips blank lines. With `has_header`, the first row is the header and every later row must
// have the same number of fields (else an error names the line). A row longer than
// kMaxLineBytes or a field that is not valid UTF-8 is an error naming the source and line.
STX_API Table parse_delimited(std::string_view text, char delimiter, bool has_header,
                              const std::string& source);

// The same parser, incremental: feed() the text in pieces of any size (a piece may end anywhere,
// even inside a quoted field or between \r and \n), then finish(). on_row(fields, line) is called
// for every non-blank row, `line` being the row's first line; the fields vector is reused between
// rows (copy what you keep), so a reader that converts fields as they come never holds the file
// as strings.
class STX_API DelimitedParser {
 public:
  using RowCallback = std::function<void(std::vector<std::string>&, size_t)>;
  DelimitedParser(char delimiter, std::string source, RowCallback on_row);
  void feed(std::string_view chunk);
  void finish();  // errors on an unterminated quoted field, then emits the last row

 private:
  std::string& field();
  void end_field();
  void end_row();
  void grow(size_t n);  // counts n more bytes of the current row against kMaxLineBytes

  char delimiter_;
  std::string source_;
  RowCallback on_row_;
  std::vector<std::string> row_;
  size_t n_fields_ = 0, line_ = 1, row_line_ = 1, row_bytes_ = 0;
  bool in_quotes_ = false, field_started_ = false, quoted_ = false;
  bool pending_quote_ = false, pending_cr_ = false;  // a chunk ended on '"' inside quotes / on '\r'
};

// The whole of `text` through a DelimitedParser.
STX_API void for_each_delimited_row(std::string_view text, char delimiter, const std::string& source,
                                    const std::function<void(std::vector<std::string>&, size_t)>& on_row);

// A headed table streamed from a file read (and gzip-inflated) in chunks of `chunk_bytes`:
// on_header(header) once, then on_row(fields, line) for every row, each of which must have the
// header's number of fields (else an error names the line). An empty file is an error. Memory
// stays O(chunk + one row) whatever the file's size. Errors name the file.
STX_API void for_each_record_in_file(const std::string& path, char delimiter,
                                     const std::function<void(const std::vector<std::string>&)>& on_header,
                                     const std::function<void(const std::vector<std::string>&, size_t)>& on_row,
                                     size_t chunk_bytes = size_t(1) << 20);

// Index of `name` in a header; -1 when absent and not `required`, else an error naming the
// column, the source and the header.
STX_API int64_t find_column(const std::vector<std::string>& header, const std::string& name,
                            const std::string& source, bool required = true);

// Strict number parsing: the whole field must be a number. `what` names the field in errors.
STX_API double parse_double(std::string_view field, const std::string& what);
STX_API int64_t parse_int(std::string_view field, const std::string& what);
// The same, for field `column` of row `line` of `source`; the name is only formatted on error.
STX_API double parse_double(std::string_view field, const std::string& source, size_t line, const char* column);
STX_API int64_t parse_int(std::string_view field, const std::string& source, size_t line, const char* column);

// A JSON object's scalar members: numbers (and booleans, as 0/1) in `numbers`, strings in
// `strings`; nested objects/arrays/null are skipped. Errors name the source.
struct JsonScalars {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
};
STX_API JsonScalars parse_json_scalars(std::string_view text, const std::string& source);

}  // namespace stx::data
