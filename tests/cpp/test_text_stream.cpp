// The incremental delimited parser: any split of the text into pieces (inside quoted fields,
// between the quotes of "", between \r and \n) gives the rows, lines and errors of parsing the
// whole text at once; the file reader streams gzip in chunks with the same result.
#include <gtest/gtest.h>

#include <c10/util/Exception.h>
#include <zlib.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <stx/data/text.h>

using namespace stx::data;

namespace {

struct Rows {
  std::vector<std::vector<std::string>> fields;
  std::vector<size_t> lines;
  std::string error;
};

template <typename Run>
Rows collect(Run&& run) {
  Rows out;
  try {
    run([&](std::vector<std::string>& row, size_t line) {
      out.fields.push_back(row);
      out.lines.push_back(line);
    });
  } catch (const c10::Error& e) {
    out.error = e.what_without_backtrace();
  }
  return out;
}

Rows whole(const std::string& text) {
  return collect([&](auto on_row) { for_each_delimited_row(text, ',', "t.csv", on_row); });
}

Rows in_pieces(const std::string& text, const std::vector<size_t>& cuts) {
  return collect([&](auto on_row) {
    DelimitedParser parser(',', "t.csv", on_row);
    size_t start = 0;
    for (size_t cut : cuts) {
      parser.feed(std::string_view(text).substr(start, cut - start));
      start = cut;
    }
    parser.feed(std::string_view(text).substr(start));
    parser.finish();
  });
}

void expect_same(const Rows& a, const Rows& b, const std::string& what) {
  EXPECT_EQ(a.fields, b.fields) << what;
  EXPECT_EQ(a.lines, b.lines) << what;
  EXPECT_EQ(a.error, b.error) << what;
}

// Random CSV-ish text over an alphabet that makes quotes, "" escapes, CR/LF and blank lines common.
std::string random_text(std::mt19937& rng, size_t n) {
  static const char kAlphabet[] = {'a', 'b', ',', '"', '"', '\r', '\n', '\n', '1', ' '};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 1);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kAlphabet[pick(rng)];
  return s;
}

}  // namespace

TEST(DelimitedParser, EverySplitOfAFixedTextAgrees) {
  const std::string text = "id,name\r\n1,\"a,\"\"b\"\"\"\r\n\r\n2,\"multi\nline\"\n3,\"\"\n4,\"x\"\"\"\r";
  const Rows ref = whole(text);
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  ASSERT_EQ(ref.fields.size(), 5u);
  EXPECT_EQ(ref.fields[1], (std::vector<std::string>{"1", "a,\"b\""}));
  EXPECT_EQ(ref.fields[2], (std::vector<std::string>{"2", "multi\nline"}));
  EXPECT_EQ(ref.lines, (std::vector<size_t>{1, 2, 4, 6, 7}));
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); ++b) expect_same(in_pieces(text, {a, b}), ref, "cuts " + std::to_string(a) + "," + std::to_string(b));
  }
}

TEST(DelimitedParser, RandomTextsInRandomPiecesAgree) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    const std::string text = random_text(rng, 1 + rng() % 60);
    const Rows ref = whole(text);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < text.size(); ++i) {
      if (rng() % 3 == 0) cuts.push_back(i);
    }
    expect_same(in_pieces(text, cuts), ref, "text '" + text + "'");
    std::vector<size_t> every;
    for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
    expect_same(in_pieces(text, every), ref, "one char at a time: '" + text + "'");
  }
}

TEST(DelimitedParser, FileReaderStreamsGzipInChunks) {
  std::string text = "cell_id,x,y\n";
  for (int i = 0; i < 3000; ++i) text += "\"c" + std::to_string(i) + "\"," + std::to_string(i) + ".5,-" + std::to_string(i) + "\r\n";
  const std::string path = ::testing::TempDir() + "stx_stream.csv.gz";
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  const Table ref = parse_delimited(text, ',', true, "ref");
  for (size_t chunk : {size_t(1), size_t(7), size_t(4096), size_t(1) << 20}) {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
    for_each_record_in_file(
        path, ',', [&](const std::vector<std::string>& h) { header = h; },
        [&](const std::vector<std::string>& r, size_t) { rows.push_back(r); }, chunk);
    EXPECT_EQ(header, ref.header) << chunk;
    EXPECT_EQ(rows, ref.rows) << chunk;
  }
  // A truncated gzip stream is an error naming the file, whatever the chunk size.
  std::FILE* in = std::fopen(path.c_str(), "rb");
  std::string bytes(1 << 20, '\0');
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), in));
  std::fclose(in);
  const std::string cut = ::testing::TempDir() + "stx_stream_cut.csv.gz";
  std::FILE* out = std::fopen(cut.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size() / 2, out);
  std::fclose(out);
  try {
    for_each_record_in_file(cut, ',', [](const std::vector<std::string>&) {}, [](const std::vector<std::string>&, size_t) {}, 512);
    ADD_FAILURE() << "truncated gzip accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("stx_stream_cut.csv.gz"), std::string::npos) << e.what();
  }
}
