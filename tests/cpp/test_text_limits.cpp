// UTF-8 validation of the text readers against a reference that decodes each sequence to its code
// point and applies the Unicode rules (shortest form, no surrogates, at most U+10FFFF), over every
// 1-, 2- and 3-byte string and random longer ones; and the line limit of the delimited parser.
#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <random>
#include <string>

#include <stx/data/text.h>

using namespace stx::data;

namespace {

// Reference: decode greedily; a sequence is valid when its lead byte announces n bytes, n-1
// continuation bytes follow and the code point needs exactly n bytes and is a scalar value.
bool reference_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b : b & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const unsigned c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 0x2) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const size_t need = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (need != n || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST(TextLimits, Utf8MatchesReferenceOnAllShortStrings) {
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    ASSERT_EQ(is_valid_utf8(s), reference_utf8(s)) << a;
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      ASSERT_EQ(is_valid_utf8(s), reference_utf8(s)) << a << " " << b;
      if (a < 0xC0) continue;  // a 3-byte string starting below 0xC0 is decided by its first two
      for (int c = 0; c < 256; ++c) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        ASSERT_EQ(is_valid_utf8(s), reference_utf8(s)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(TextLimits, Utf8MatchesReferenceOnRandomText) {
  std::mt19937 rng(7);
  const std::string pieces[] = {"a", "bc", "\xC3\xA4", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xED\xA0\x80",
                                "\xF4\x90\x80\x80", "\xC0\xAF", "\x80", "\xF0\x9F", "12345678"};
  int valid = 0;
  for (int t = 0; t < 20000; ++t) {
    std::string s;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) s += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
    ASSERT_EQ(is_valid_utf8(s), reference_utf8(s)) << s;
    valid += reference_utf8(s);
  }
  EXPECT_GT(valid, 1000);  // both answers are exercised
  EXPECT_LT(valid, 19000);
}

TEST(TextLimits, Utf8ErrorNamesSourceLineAndByte) {
  try {
    check_utf8("ok\xFFno", "cells.csv", 12, "field 3");
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("cells.csv: line 12: field 3 is not valid UTF-8 text (byte "
                                                           "0xFF at offset 2)"),
              std::string::npos)
        << e.what_without_backtrace();
  }
}

TEST(TextLimits, RowLongerThanTheLimitIsAnError) {
  // A row just below the limit parses (fed in pieces); one byte more is an error naming the line.
  for (const size_t extra : {size_t(0), size_t(1)}) {
    size_t rows = 0;
    std::string error;
    DelimitedParser parser(',', "big.csv", [&](std::vector<std::string>&, size_t) { ++rows; });
    try {
      parser.feed("a\n");
      const std::string piece(1 << 20, 'x');
      size_t left = kMaxLineBytes - 1 + extra;  // the field; its end adds one delimiter byte
      while (left > 0) {
        const size_t n = std::min(left, piece.size());
        parser.feed(std::string_view(piece.data(), n));
        left -= n;
      }
      parser.feed("\n");
      parser.finish();
    } catch (const c10::Error& e) {
      error = e.what_without_backtrace();
    }
    if (extra == 0) {
      EXPECT_EQ(rows, 2u) << error;
    } else {
      EXPECT_NE(error.find("big.csv: line 2 is longer than 67108864 bytes"), std::string::npos) << error;
    }
  }
}
