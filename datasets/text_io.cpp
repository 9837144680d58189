// Delimited-text and JSON parsing for the readers (see include/stx/data/text.h).
#include <stx/data/text.h>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>

namespace stx::data {

namespace {

// Calls on_chunk(data, n) for consecutive pieces of the file's content; gzip data (by its magic
// bytes) is inflated on the way (gzread passes plain files through unchanged).
void read_file_chunks(const std::string& path, size_t chunk_bytes,
                      const std::function<void(const char*, size_t)>& on_chunk) {
  std::error_code ec;
  TORCH_CHECK(std::filesystem::is_regular_file(path, ec), "file not found: ", path);
  gzFile f = gzopen(path.c_str(), "rb");
  TORCH_CHECK(f != nullptr, path, ": cannot open file");
  gzbuffer(f, 1 << 17);
  std::vector<char> buf(std::max<size_t>(chunk_bytes, 1));
  try {
    while (true) {
      const int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
      if (n < 0) {
        int errnum = 0;
        const std::string msg = gzerror(f, &errnum);
        TORCH_CHECK(false, path, ": corrupt or truncated gzip data (", msg, ")");
      }
      if (n == 0) break;
      on_chunk(buf.data(), static_cast<size_t>(n));
    }
  } catch (...) {
    gzclose(f);
    throw;
  }
  const int rc = gzclose(f);
  TORCH_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, path, ": corrupt or truncated gzip data");
  TORCH_CHECK(rc != Z_BUF_ERROR, path, ": truncated gzip data (the file ends mid-stream)");
}

}  // namespace

std::string read_text_file(const std::string& path) {
  std::string out;
  size_t line = 1, line_bytes = 0;
  read_file_chunks(path, 1 << 17, [&](const char* data, size_t n) {
    const char* p = data;
    const char* end = data + n;
    while (p < end) {
      const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      line_bytes += static_cast<size_t>((eol ? eol : end) - p);
      TORCH_CHECK(line_bytes <= kMaxLineBytes, path, ": line ", line, " is longer than ", kMaxLineBytes,
                  " bytes (the limit of the text readers; corrupt file or not a text table?)");
      if (!eol) break;
      ++line;
      line_bytes = 0;
      p = eol + 1;
    }
    out.append(data, n);
  });
  return out;
}

namespace {

// Offset of the first byte that breaks UTF-8 (no overlongs, surrogates or code points above
// U+10FFFF), or npos. ASCII runs are skipped eight bytes at a time.
size_t first_bad_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (s[i] >= 0xC2 && s[i] <= 0xDF) {
      len = 2;
    } else if (s[i] >= 0xE0 && s[i] <= 0xEF) {
      len = 3;
      if (s[i] == 0xE0) lo = 0xA0;
      if (s[i] == 0xED) hi = 0x9F;
    } else if (s[i] >= 0xF0 && s[i] <= 0xF4) {
      len = 4;
      if (s[i] == 0xF0) lo = 0x90;
      if (s[i] == 0xF4) hi = 0x8F;
    }
    bool ok = len > 0 && i + len <= n && s[i + 1] >= lo && s[i + 1] <= hi;
    for (size_t k = 2; ok && k < len; ++k) ok = s[i + k] >= 0x80 && s[i + k] <= 0xBF;
    if (!ok) return i;
    i += len;
  }
  return std::string_view::npos;
}

[[noreturn]] void bad_utf8(std::string_view text, size_t at, const std::string& source, size_t line,
                           const std::string& what) {
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[at])));
  TORCH_CHECK(false, source, line > 0 ? ": line " + std::to_string(line) : std::string(), ": ", what,
              " is not valid UTF-8 text (byte ", byte, " at offset ", at, "); stx reads text as UTF-8");
}

}  // namespace

bool is_valid_utf8(std::string_view text) { return first_bad_utf8(text) == std::string_view::npos; }

void check_utf8(std::string_view text, const std::string& source, size_t line, const char* what) {
  const size_t at = first_bad_utf8(text);
  if (at != std::string_view::npos) bad_utf8(text, at, source, line, what);
}

int64_t Table::column(const std::string& name, const std::string& source) const {
  return find_column(header, name, source);
}

DelimitedParser::DelimitedParser(char delimiter, std::string source, RowCallback on_row)
    : delimiter_(delimiter), source_(std::move(source)), on_row_(std::move(on_row)) {}

std::string& DelimitedParser::field() {
  if (row_.size() <= n_fields_) row_.emplace_back();
  return row_[n_fields_];
}

void DelimitedParser::grow(size_t n) {
  row_bytes_ += n;
  TORCH_CHECK(row_bytes_ <= kMaxLineBytes, source_, ": line ", row_line_, " is longer than ", kMaxLineBytes,
              " bytes (the limit of the text readers; corrupt file or not a text table?)");
}

void DelimitedParser::end_field() {
  field();  // materialise an empty field
  ++n_fields_;
  field_started_ = quoted_ = false;
  grow(1);  // the delimiter: a line of only delimiters must not make unbounded empty fields
}

void DelimitedParser::end_row() {
  const bool blank = n_fields_ == 0 && field().empty() && !quoted_;
  end_field();
  if (!blank) {
    row_.resize(n_fields_);
    for (size_t k = 0; k < row_.size(); ++k) {
      const size_t at = first_bad_utf8(row_[k]);
      if (at != std::string_view::npos) bad_utf8(row_[k], at, source_, row_line_, "field " + std::to_string(k + 1));
    }
    on_row_(row_, row_line_);
  }
  for (auto& f : row_) f.clear();
  n_fields_ = 0;
  row_bytes_ = 0;
  row_line_ = line_;
}

void DelimitedParser::feed(std::string_view chunk) {
  size_t i = 0;
  // A chunk boundary may split the two characters of "" (inside quotes) or of \r\n.
  if (pending_quote_ && !chunk.empty()) {
    pending_quote_ = false;
    if (chunk[0] == '"') {
      field() += '"';
      i = 1;
    } else {
      in_quotes_ = false;
    }
  }
  if (pending_cr_ && !chunk.empty()) {
    pending_cr_ = false;
    if (chunk[0] == '\n') i = 1;
  }
  for (; i < chunk.size(); ++i) {
    const char c = chunk[i];
    if (in_quotes_) {
      if (c == '"') {
        if (i + 1 == chunk.size()) {
          pending_quote_ = true;  // closing quote or the first half of ""
        } else if (chunk[i + 1] == '"') {
          field() += '"';
          ++i;
        } else {
          in_quotes_ = false;
        }
      } else {  // the run up to the next quote, appended at once
        size_t j = i;
        for (; j < chunk.size() && chunk[j] != '"'; ++j) line_ += chunk[j] == '\n';
        grow(j - i);
        field().append(chunk.data() + i, j - i);
        i = j - 1;
      }
      continue;
    }
    if (c == '"' && !field_started_) {
      field();
      in_quotes_ = quoted_ = field_started_ = true;
    } else if (c == delimiter_) {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r') {
        if (i + 1 == chunk.size()) {
          pending_cr_ = true;
        } else if (chunk[i + 1] == '\n') {
          ++i;
        }
      }
      ++line_;
      end_row();
    } else {  // the run of ordinary characters (a '"' inside a started field is one), appended at once
      size_t j = i + 1;
      while (j < chunk.size() && chunk[j] != delimiter_ && chunk[j] != '\n' && chunk[j] != '\r') ++j;
      grow(j - i);
      field().append(chunk.data() + i, j - i);
      field_started_ = true;
      i = j - 1;
    }
  }
}

void DelimitedParser::finish() {
  if (pending_quote_) in_quotes_ = pending_quote_ = false;  // the file ended right after a closing quote
  pending_cr_ = false;
  TORCH_CHECK(!in_quotes_, source_, ": unterminated quoted field starting on line ", row_line_);
  if (n_fields_ > 0 || !field().empty() || quoted_) end_row();
}

void for_each_delimited_row(std::string_view text, char delimiter, const std::string& source,
                            const std::function<void(std::vector<std::string>&, size_t)>& on_row) {
  DelimitedParser parser(delimiter, source, on_row);
  parser.feed(text);
  parser.finish();
}

namespace {

// Wraps a record callback into a row callback: the first row is the header, every later row must
// have as many fields.
DelimitedParser::RowCallback record_rows(const std::string& source,
                                         const std::function<void(const std::vector<std::string>&)>& on_header,
                                         const std::function<void(const std::vector<std::string>&, size_t)>& on_row,
                                         size_t* n_header) {
  return [&source, &on_header, &on_row, n_header](std::vector<std::string>& row, size_t line) {
    if (*n_header == 0) {
      *n_header = row.size();
      on_header(row);
      return;
    }
    TORCH_CHECK(row.size() == *n_header, source, ": line ", line, " has ", row.size(), " fields, expected ", *n_header,
                " (as in the header)");
    on_row(row, line);
  };
}

}  // namespace

Table parse_delimited(std::string_view text, char delimiter, bool has_header, const std::string& source) {
  Table table;
  const auto on_row = [&](const std::vector<std::string>& row, size_t) { table.rows.push_back(row); };
  if (has_header) {
    size_t n_header = 0;
    for_each_delimited_row(
        text, delimiter, source,
        record_rows(source, [&](const std::vector<std::string>& header) { table.header = header; }, on_row, &n_header));
  } else {
    for_each_delimited_row(text, delimiter, source, [&](std::vector<std::string>& row, size_t line) { on_row(row, line); });
  }
  return table;
}

void for_each_record_in_file(const std::string& path, char delimiter,
                             const std::function<void(const std::vector<std::string>&)>& on_header,
                             const std::function<void(const std::vector<std::string>&, size_t)>& on_row,
                             size_t chunk_bytes) {
  size_t n_header = 0;
  DelimitedParser parser(delimiter, path, record_rows(path, on_header, on_row, &n_header));
  read_file_chunks(path, chunk_bytes, [&](const char* data, size_t n) { parser.feed(std::string_view(data, n)); });
  parser.finish();
  TORCH_CHECK(n_header > 0, path, ": empty file (expected a header line)");
}

int64_t find_column(const std::vector<std::string>& header, const std::string& name, const std::string& source,
                    bool required) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int64_t>(i);
  }
  if (!required) return -1;
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
  TORCH_CHECK(false, source, ": missing column '", name, "' (header has: ", have, ")");
}

namespace {

// `what...` names the field in the error; it is only formatted when the field is bad, so a reader
// can describe a field by (source, line, column) without building a string per field.
// Fast path: std::from_chars (locale-free and correctly rounded, like strtod) when it takes the
// whole field and gives a normal number; anything else (a leading '+' or space, hex, zero,
// subnormal, out of range, inf) goes through strtod, whose acceptance rules the readers keep.
template <typename... What>
double parse_double_at(std::string_view field, const What&... what) {
  double fast = 0.0;
  const char* end_of_field = field.data() + field.size();
  const auto [stop, ec] = std::from_chars(field.data(), end_of_field, fast);
  if (ec == std::errc() && stop == end_of_field && std::isnormal(fast)) return fast;
  const std::string s(field);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  TORCH_CHECK(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, what..., ": expected a number, got '",
              s.substr(0, 64), "'");
  return v;
}

template <typename... What>
int64_t parse_int_at(std::string_view field, const What&... what) {
  int64_t fast = 0;
  const char* end_of_field = field.data() + field.size();
  const auto [stop, ec] = std::from_chars(field.data(), end_of_field, fast);
  if (ec == std::errc() && stop == end_of_field) return fast;  // else strtoll's rules
  const std::string s(field);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  TORCH_CHECK(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, what..., ": expected an integer, got '",
              s.substr(0, 64), "'");
  return static_cast<int64_t>(v);
}

}  // namespace

double parse_double(std::string_view field, const std::string& what) { return parse_double_at(field, what); }

int64_t parse_int(std::string_view field, const std::string& what) { return parse_int_at(field, what); }

double parse_double(std::string_view field, const std::string& source, size_t line, const char* column) {
  return parse_double_at(field, source, " line ", line, " ", column);
}

int64_t parse_int(std::string_view field, const std::string& source, size_t line, const char* column) {
  return parse_int_at(field, source, " line ", line, " ", column);
}

JsonScalars parse_json_scalars(std::string_view text, const std::string& source) {
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  TORCH_CHECK(!doc.is_discarded(), source, ": not valid JSON");
  TORCH_CHECK(doc.is_object(), source, ": expected a JSON object at the top level");
  JsonScalars out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const auto& v = it.value();
    if (v.is_number()) {
      out.numbers[it.key()] = v.get<double>();
    } else if (v.is_boolean()) {
      out.numbers[it.key()] = v.get<bool>() ? 1.0 : 0.0;
    } else if (v.is_string()) {
      out.strings[it.key()] = v.get<std::string>();
    }
  }
  return out;
}

}  // namespace stx::data
