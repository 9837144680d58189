// Delimited-text and JSON parsing for the readers (see include/stx/data/text.h).
#include <stx/data/text.h>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>

namespace stx::data {

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  TORCH_CHECK(std::filesystem::is_regular_file(path, ec), "file not found: ", path);
  // gzread passes plain files through unchanged, so one path handles .gz and plain text.
  gzFile f = gzopen(path.c_str(), "rb");
  TORCH_CHECK(f != nullptr, path, ": cannot open file");
  gzbuffer(f, 1 << 17);
  std::string out;
  std::vector<char> buf(1 << 17);
  while (true) {
    const int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int errnum = 0;
      const std::string msg = gzerror(f, &errnum);
      gzclose(f);
      TORCH_CHECK(false, path, ": corrupt or truncated gzip data (", msg, ")");
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  const int rc = gzclose(f);
  TORCH_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, path, ": corrupt or truncated gzip data");
  TORCH_CHECK(rc != Z_BUF_ERROR, path, ": truncated gzip data (the file ends mid-stream)");
  return out;
}

int64_t Table::column(const std::string& name, const std::string& source) const {
  return find_column(header, name, source);
}

void for_each_delimited_row(std::string_view text, char delimiter, const std::string& source,
                            const std::function<void(std::vector<std::string>&, size_t)>& on_row) {
  std::vector<std::string> row;  // reused: its strings keep their capacity from row to row
  size_t n_fields = 0;
  size_t line = 1, row_line = 1;
  bool in_quotes = false, field_started = false, quoted = false;
  auto field = [&]() -> std::string& {
    if (row.size() <= n_fields) row.emplace_back();
    return row[n_fields];
  };
  auto end_field = [&] {
    field();  // materialise an empty field
    ++n_fields;
    field_started = quoted = false;
  };
  auto end_row = [&] {
    const bool blank = n_fields == 0 && field().empty() && !quoted;
    end_field();
    if (!blank) {
      row.resize(n_fields);
      on_row(row, row_line);
    }
    for (auto& f : row) f.clear();
    n_fields = 0;
    row_line = line;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field() += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field() += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      field();
      in_quotes = quoted = field_started = true;
    } else if (c == delimiter) {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      end_row();
    } else {
      field() += c;
      field_started = true;
    }
  }
  TORCH_CHECK(!in_quotes, source, ": unterminated quoted field starting on line ", row_line);
  if (n_fields > 0 || !field().empty() || quoted) end_row();
}

Table parse_delimited(std::string_view text, char delimiter, bool has_header, const std::string& source) {
  Table table;
  for_each_delimited_row(text, delimiter, source, [&](std::vector<std::string>& row, size_t line) {
    if (has_header && table.header.empty()) {
      table.header = row;
      return;
    }
    if (!table.header.empty()) {
      TORCH_CHECK(row.size() == table.header.size(), source, ": line ", line, " has ", row.size(),
                  " fields, expected ", table.header.size(), " (as in the header)");
    }
    table.rows.push_back(row);
  });
  return table;
}

void for_each_record(std::string_view text, char delimiter, const std::string& source,
                     const std::function<void(const std::vector<std::string>&)>& on_header,
                     const std::function<void(const std::vector<std::string>&, size_t)>& on_row) {
  size_t n_header = 0;
  for_each_delimited_row(text, delimiter, source, [&](std::vector<std::string>& row, size_t line) {
    if (n_header == 0) {
      n_header = row.size();
      on_header(row);
      return;
    }
    TORCH_CHECK(row.size() == n_header, source, ": line ", line, " has ", row.size(), " fields, expected ", n_header,
                " (as in the header)");
    on_row(row, line);
  });
  TORCH_CHECK(n_header > 0, source, ": empty file (expected a header line)");
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

double parse_double(std::string_view field, const std::string& what) {
  const std::string s(field);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  TORCH_CHECK(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, what, ": expected a number, got '",
              s.substr(0, 64), "'");
  return v;
}

int64_t parse_int(std::string_view field, const std::string& what) {
  const std::string s(field);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  TORCH_CHECK(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, what, ": expected an integer, got '",
              s.substr(0, 64), "'");
  return static_cast<int64_t>(v);
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
