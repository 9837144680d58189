// parse_double / parse_int accept exactly the fields that strtod / strtoll consume whole (without
// a range error) and give the same value: the from_chars fast path must not change what a reader
// accepts or the value it reads.
#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <stx/data/text.h>

namespace {

std::optional<double> libc_double(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  return v;
}

std::optional<long long> libc_int(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE) return std::nullopt;
  return v;
}

template <typename F>
auto parsed(F parse, const std::string& s) -> std::optional<decltype(parse(s))> {
  try {
    return parse(s);
  } catch (const c10::Error&) {
    return std::nullopt;
  }
}

bool same_double(std::optional<double> a, std::optional<double> b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (std::isnan(*a) || std::isnan(*b)) return std::isnan(*a) && std::isnan(*b);
  return std::memcmp(&*a, &*b, sizeof(double)) == 0;  // bit-identical, so -0 stays -0
}

}  // namespace

TEST(NumberParsing, DoublesAgreeWithStrtod) {
  std::vector<std::string> fields = {
      "1", "-0", "0", "0.0", "+1.5", " 2", "2 ", "1e-310", "4.9e-324", "1e-400", "1e400", "-1e400", "inf", "-inf",
      "Infinity", "nan", "NAN", "0x1p3", "1.7976931348623157e308", "2.2250738585072014e-308",
      "2.2250738585072011e-308", "123456789012345678901234567890", "1e", "", "1,2", ".5", "5.", "-.5e-3", "1e+5",
      "0001.25", "1_0", "--1", "e5", "1.0.0", "40", "20.0532", "1205.3167"};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-300, 300);
  for (int i = 0; i < 2000; ++i) {
    char buf[64];
    const double v = std::pow(10.0, exponent(rng)) * (rng() % 2 ? 1 : -1) * (1 + (rng() % 1000) / 999.0);
    std::snprintf(buf, sizeof buf, i % 2 ? "%.17g" : "%.6f", v);
    fields.emplace_back(buf);
  }
  for (const std::string& s : fields) {
    const auto got = parsed([](const std::string& f) { return stx::data::parse_double(f, "x"); }, s);
    EXPECT_TRUE(same_double(got, libc_double(s))) << "field '" << s << "'";
  }
}

TEST(NumberParsing, IntegersAgreeWithStrtoll) {
  const std::vector<std::string> fields = {"0", "-0", "+7", " 7", "7 ", "9223372036854775807", "9223372036854775808",
                                           "-9223372036854775808", "-9223372036854775809", "12a", "", "1e3", "0x10",
                                           "007", "-", "281492156652070", "1.0"};
  for (const std::string& s : fields) {
    const auto got = parsed([](const std::string& f) { return stx::data::parse_int(f, "x"); }, s);
    const auto want = libc_int(s);
    EXPECT_EQ(got.has_value(), want.has_value()) << "field '" << s << "'";
    if (got && want) {
      EXPECT_EQ(*got, static_cast<int64_t>(*want)) << "field '" << s << "'";
    }
  }
}
