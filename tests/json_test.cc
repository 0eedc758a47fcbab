// Tests for the strict JSON tape parser (engine/runtime/json.h): value types,
// tape layout, strictness, limits, buffer reuse without allocation, and a
// deterministic differential fuzz loop against a small recursive reference.

#include "engine/runtime/json.h"

#include <gtest/gtest.h>

#include <atomic>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// Counting global allocator, so the steady-state test can prove that a parse
// performs no heap allocation at all.
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// GCC inlines these into callers and then misreports malloc/free pairs seen
// through new/delete as mismatched.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace gavel::json {
namespace {

using namespace std::string_literals;

std::string_view Str(const Node& n) { return std::string_view(n.str, n.len); }

// Parses with default limits; returns the error (empty message on success).
Error ParseError(std::string_view text, const Limits& limits = Limits()) {
  Document doc;
  Error err;
  if (doc.parse(text, limits, &err)) return Error();
  EXPECT_EQ(doc.size(), 0u);
  EXPECT_FALSE(err.message.empty());
  return err;
}

void ExpectReject(std::string_view text, size_t offset, const std::string& message) {
  const Error err = ParseError(text);
  EXPECT_EQ(err.message, message) << "input: " << text;
  EXPECT_EQ(err.offset, offset) << "input: " << text;
}

void ExpectRejectMessage(std::string_view text, const std::string& message) {
  const Error err = ParseError(text);
  EXPECT_EQ(err.message, message) << "input: " << text;
}

// Checks the tape invariants on a successfully parsed document: every
// container's children, walked through `next`, number `count` (twice for
// objects) and end exactly at its own `next`; object keys are strings.
void CheckTape(const Document& doc) {
  ASSERT_GT(doc.size(), 0u);
  ASSERT_EQ(doc[0].next, doc.size());
  for (uint32_t i = 0; i < doc.size(); ++i) {
    const Node& n = doc[i];
    ASSERT_GT(n.next, i);
    ASSERT_LE(n.next, doc.size());
    if (n.type == Type::Array || n.type == Type::Object) {
      const uint32_t per = n.type == Type::Object ? 2 : 1;
      uint32_t c = i + 1;
      for (uint32_t k = 0; k < n.count * per; ++k) {
        ASSERT_LT(c, n.next);
        if (per == 2 && k % 2 == 0) {
          ASSERT_EQ(doc[c].type, Type::String);
        }
        c = doc[c].next;
      }
      ASSERT_EQ(c, n.next);
    } else {
      ASSERT_EQ(n.next, i + 1);
      ASSERT_EQ(n.count, 0u);
    }
  }
}

// Canonical text of the subtree at i (recursion is fine here: depth is
// bounded by the parser's limit).
void Serialize(const Document& doc, uint32_t i, std::string* out) {
  const Node& n = doc[i];
  switch (n.type) {
    case Type::Null:
      *out += "null";
      return;
    case Type::False:
      *out += "false";
      return;
    case Type::True:
      *out += "true";
      return;
    case Type::Number: {
      char buf[40];
      if (n.is_int && !std::signbit(n.num)) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n.i));
      } else {
        std::snprintf(buf, sizeof buf, "%.17g", n.num);
      }
      *out += buf;
      return;
    }
    case Type::String:
      *out += '"';
      for (uint32_t k = 0; k < n.len; ++k) {
        const unsigned char c = static_cast<unsigned char>(n.str[k]);
        if (c == '"' || c == '\\') {
          *out += '\\';
          *out += static_cast<char>(c);
        } else if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          *out += static_cast<char>(c);
        }
      }
      *out += '"';
      return;
    case Type::Array: {
      *out += '[';
      uint32_t e = i + 1;
      for (uint32_t k = 0; k < n.count; ++k) {
        if (k > 0) *out += ',';
        Serialize(doc, e, out);
        e = doc[e].next;
      }
      *out += ']';
      return;
    }
    case Type::Object: {
      *out += '{';
      uint32_t m = i + 1;
      for (uint32_t k = 0; k < n.count; ++k) {
        if (k > 0) *out += ',';
        Serialize(doc, m, out);
        *out += ':';
        Serialize(doc, m + 1, out);
        m = doc[m + 1].next;
      }
      *out += '}';
      return;
    }
  }
}

std::string Canonical(const Document& doc) {
  std::string out;
  Serialize(doc, 0, &out);
  return out;
}

// ---------------------------------------------------------------------------
// Scalars

TEST(JsonTest, TypeNames) {
  EXPECT_STREQ(type_name(Type::Null), "null");
  EXPECT_STREQ(type_name(Type::False), "boolean");
  EXPECT_STREQ(type_name(Type::True), "boolean");
  EXPECT_STREQ(type_name(Type::Number), "number");
  EXPECT_STREQ(type_name(Type::String), "string");
  EXPECT_STREQ(type_name(Type::Array), "array");
  EXPECT_STREQ(type_name(Type::Object), "object");
}

TEST(JsonTest, Literals) {
  Document doc;
  ASSERT_TRUE(doc.parse("null", Limits(), nullptr));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].type, Type::Null);
  EXPECT_EQ(doc[0].next, 1u);
  EXPECT_EQ(doc[0].count, 0u);
  EXPECT_EQ(doc[0].offset, 0u);

  ASSERT_TRUE(doc.parse(" \t\r\ntrue \n", Limits(), nullptr));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].type, Type::True);
  EXPECT_EQ(doc[0].offset, 4u);

  ASSERT_TRUE(doc.parse("false", Limits(), nullptr));
  EXPECT_EQ(doc[0].type, Type::False);

  ASSERT_TRUE(doc.parse("[true,false,null]", Limits(), nullptr));
  ASSERT_EQ(doc.size(), 4u);
  EXPECT_EQ(doc[1].type, Type::True);
  EXPECT_EQ(doc[2].type, Type::False);
  EXPECT_EQ(doc[3].type, Type::Null);
  EXPECT_EQ(doc[3].offset, 12u);
}

TEST(JsonTest, Integers) {
  struct Case {
    const char* text;
    int64_t value;
  };
  const Case cases[] = {
      {"0", 0},
      {"-0", 0},
      {"7", 7},
      {"-7", -7},
      {"1234567890", 1234567890},
      {"9007199254740993", 9007199254740993LL},  // Not exact as a double.
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
      {"-9223372036854775807", -INT64_MAX},
  };
  Document doc;
  for (const Case& c : cases) {
    ASSERT_TRUE(doc.parse(c.text, Limits(), nullptr)) << c.text;
    ASSERT_EQ(doc[0].type, Type::Number) << c.text;
    EXPECT_TRUE(doc[0].is_int) << c.text;
    EXPECT_EQ(doc[0].i, c.value) << c.text;
    EXPECT_EQ(doc[0].num, static_cast<double>(c.value)) << c.text;
  }
  ASSERT_TRUE(doc.parse("-0", Limits(), nullptr));
  EXPECT_TRUE(std::signbit(doc[0].num));
}

TEST(JsonTest, IntegersOutsideInt64AreDoubles) {
  Document doc;
  ASSERT_TRUE(doc.parse("9223372036854775808", Limits(), nullptr));
  EXPECT_FALSE(doc[0].is_int);
  EXPECT_EQ(doc[0].num, 9223372036854775808.0);

  ASSERT_TRUE(doc.parse("-9223372036854775809", Limits(), nullptr));
  EXPECT_FALSE(doc[0].is_int);
  EXPECT_EQ(doc[0].num, -9223372036854775808.0);

  ASSERT_TRUE(doc.parse("18446744073709551616", Limits(), nullptr));
  EXPECT_FALSE(doc[0].is_int);
  EXPECT_EQ(doc[0].num, 18446744073709551616.0);

  ASSERT_TRUE(doc.parse("123456789012345678901234567890", Limits(), nullptr));
  EXPECT_FALSE(doc[0].is_int);
  EXPECT_EQ(doc[0].num, 1.2345678901234568e29);
}

TEST(JsonTest, Doubles) {
  struct Case {
    const char* text;
    double value;
  };
  const Case cases[] = {
      {"0.5", 0.5},
      {"-0.5", -0.5},
      {"0.1", 0.1},
      {"0.7", 0.7},
      {"3.14159", 3.14159},
      {"1.0", 1.0},
      {"1e2", 100.0},
      {"1E2", 100.0},
      {"1e+2", 100.0},
      {"1e-2", 0.01},
      {"2.5e-3", 0.0025},
      {"-1.5E+10", -1.5e10},
      {"1e22", 1e22},
      {"1e23", 1e23},  // Beyond exact powers of ten: slow path.
      {"0.000001234", 1.234e-6},
      {"123456789.123456789", 123456789.123456789},
      {"0.30000000000000004", 0.30000000000000004},
      {"1.7976931348623157e308", 1.7976931348623157e308},
      {"2.2250738585072014e-308", 2.2250738585072014e-308},
      {"4.9e-324", 4.9e-324},  // Smallest subnormal.
      {"0e99999999999", 0.0},
      {"0.0000e-5", 0.0},
      {"100000000000000000000000000000e-29", 1.0},
      {"9007199254740993.0", 9007199254740992.0},  // Ties to even.
      // 1 + 2^-53 is exactly halfway between 1 and the next double: ties go
      // to even; a hair either side decides.
      {"1.00000000000000011102230246251565404236316680908203125", 1.0},
      {"1.00000000000000011102230246251565404236316680908203126", 1.0000000000000002},
      {"1.00000000000000011102230246251565404236316680908203124", 1.0},
  };
  Document doc;
  for (const Case& c : cases) {
    ASSERT_TRUE(doc.parse(c.text, Limits(), nullptr)) << c.text;
    ASSERT_EQ(doc[0].type, Type::Number) << c.text;
    EXPECT_FALSE(doc[0].is_int) << c.text;
    EXPECT_EQ(doc[0].num, c.value) << c.text;
  }
}

// Node::integral: the exact value, not the way it is written, and not the
// rounded double.
TEST(JsonTest, IntegralNumbers) {
  struct Case {
    const char* text;
    int64_t value;
  };
  const Case whole[] = {
      {"300", 300},
      {"300.0", 300},
      {"3e2", 300},
      {"3E+2", 300},
      {"3.00e2", 300},
      {"30000e-2", 300},
      {"0.3e3", 300},
      {"-0.0", 0},
      {"0e-999999", 0},
      {"-12.5e1", -125},
      {"1.0e0", 1},
      {"9007199254740993.0", 9007199254740993},
      {"9.223372036854775807e18", INT64_MAX},
      {"-9.223372036854775808e18", INT64_MIN},
      {"100000000000000000000000000000e-29", 1},
  };
  Document doc;
  for (const Case& c : whole) {
    ASSERT_TRUE(doc.parse(c.text, Limits(), nullptr)) << c.text;
    EXPECT_TRUE(doc[0].integral) << c.text;
    EXPECT_EQ(doc[0].i, c.value) << c.text;
  }
  for (const char* text : {"300.5", "3.001e2", "300.00000000000000001", "3e-2", "0.5", "1e19",
                           "9.223372036854775808e18", "-9.223372036854775809e18", "9223372036854775808", "1e300"}) {
    ASSERT_TRUE(doc.parse(text, Limits(), nullptr)) << text;
    EXPECT_FALSE(doc[0].integral) << text;
  }
  // Written as an integer: both flags.
  ASSERT_TRUE(doc.parse("42", Limits(), nullptr));
  EXPECT_TRUE(doc[0].is_int && doc[0].integral);
  ASSERT_TRUE(doc.parse("42.0", Limits(), nullptr));
  EXPECT_TRUE(!doc[0].is_int && doc[0].integral);
  EXPECT_EQ(doc[0].num, 42.0);
}

TEST(JsonTest, UnderflowIsZeroOverflowIsError) {
  Document doc;
  ASSERT_TRUE(doc.parse("1e-400", Limits(), nullptr));
  EXPECT_EQ(doc[0].num, 0.0);
  EXPECT_FALSE(std::signbit(doc[0].num));
  ASSERT_TRUE(doc.parse("-1e-400", Limits(), nullptr));
  EXPECT_EQ(doc[0].num, 0.0);
  EXPECT_TRUE(std::signbit(doc[0].num));
  ASSERT_TRUE(doc.parse("-0.0", Limits(), nullptr));
  EXPECT_TRUE(std::signbit(doc[0].num));
  ASSERT_TRUE(doc.parse("0.00000000000000000000000000000000000000001e-300", Limits(), nullptr));
  EXPECT_EQ(doc[0].num, 0.0);

  ExpectReject("1e400", 0, "number out of range");
  ExpectReject("[0, -1e400]", 4, "number out of range");
  ExpectReject("1.8e308", 0, "number out of range");
  ExpectReject("123456789012345678901234567890e300", 0, "number out of range");
  ExpectReject("1e99999999999999999999", 0, "number out of range");
}

TEST(JsonTest, NumbersMatchStrtod) {
  // Pseudo-random decimal literals of every shape against the C library's
  // correctly rounded strtod (the test runs in the "C" locale).
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  Document doc;
  for (int k = 0; k < 20000; ++k) {
    std::string t;
    if (next() % 2) t += '-';
    const int int_digits = 1 + static_cast<int>(next() % 25);
    if (next() % 4 == 0) {
      t += '0';
    } else {
      t += static_cast<char>('1' + next() % 9);
      for (int d = 1; d < int_digits; ++d) {
        t += static_cast<char>('0' + next() % 10);
      }
    }
    if (next() % 2) {
      t += '.';
      const int frac_digits = 1 + static_cast<int>(next() % 25);
      for (int d = 0; d < frac_digits; ++d) {
        t += static_cast<char>('0' + next() % 10);
      }
    }
    if (next() % 2) {
      t += (next() % 2) ? 'e' : 'E';
      const uint64_t sign = next() % 3;
      if (sign == 1) t += '-';
      if (sign == 2) t += '+';
      t += std::to_string(next() % 330);
    }
    const double want = std::strtod(t.c_str(), nullptr);
    if (std::isinf(want)) {
      EXPECT_FALSE(doc.parse(t, Limits(), nullptr)) << t;
      continue;
    }
    ASSERT_TRUE(doc.parse(t, Limits(), nullptr)) << t;
    EXPECT_EQ(doc[0].num, want) << t;
    EXPECT_EQ(std::signbit(doc[0].num), std::signbit(want)) << t;
  }
}

TEST(JsonTest, NumberParsingIgnoresLocale) {
  const char* old = std::setlocale(LC_NUMERIC, nullptr);
  const std::string saved = old != nullptr ? old : "C";
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") == nullptr && std::setlocale(LC_NUMERIC, "fr_FR.UTF-8") == nullptr) {
    GTEST_SKIP() << "no locale with a decimal comma installed";
  }
  Document doc;
  // 25 significant digits take the slow (library) path.
  const bool ok = doc.parse("[1.5, 0.1234567890123456789012345]", Limits(), nullptr);
  std::setlocale(LC_NUMERIC, saved.c_str());
  ASSERT_TRUE(ok);
  EXPECT_EQ(doc[1].num, 1.5);
  EXPECT_EQ(doc[2].num, 0.1234567890123456789012345);
}

TEST(JsonTest, NumberRejections) {
  ExpectReject("01", 0, "leading zeros are not allowed");
  ExpectReject("-01", 1, "leading zeros are not allowed");
  ExpectReject("00", 0, "leading zeros are not allowed");
  ExpectReject("[1, 007]", 4, "leading zeros are not allowed");
  ExpectReject("1.", 2, "expected digit after decimal point");
  ExpectReject("1.e5", 2, "expected digit after decimal point");
  ExpectReject("1e", 2, "expected digit in exponent");
  ExpectReject("1e+", 3, "expected digit in exponent");
  ExpectReject("1E-x", 3, "expected digit in exponent");
  ExpectReject("-", 1, "unexpected end of input");
  ExpectReject("-a", 1, "expected digit after '-'");
  ExpectReject("- 1", 1, "expected digit after '-'");
  ExpectReject(".5", 0, "expected a value");
  ExpectReject("+1", 0, "expected a value");
  ExpectReject("0x10", 1, "unexpected data after the value");
  ExpectReject("1.5.2", 3, "unexpected data after the value");
  ExpectReject("NaN", 0, "NaN and Infinity are not allowed");
  ExpectReject("Infinity", 0, "NaN and Infinity are not allowed");
  ExpectReject("-Infinity", 1, "NaN and Infinity are not allowed");
  ExpectReject("[1, nan]", 4, "invalid literal");
}

// ---------------------------------------------------------------------------
// Strings

TEST(JsonTest, PlainStringPointsIntoInput) {
  const std::string text = R"(  "hello, world")";
  Document doc;
  ASSERT_TRUE(doc.parse(text, Limits(), nullptr));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].type, Type::String);
  EXPECT_EQ(doc[0].offset, 2u);
  EXPECT_EQ(Str(doc[0]), "hello, world");
  EXPECT_EQ(doc[0].str, text.data() + 3);

  ASSERT_TRUE(doc.parse(R"("")", Limits(), nullptr));
  EXPECT_EQ(doc[0].len, 0u);
}

TEST(JsonTest, SimpleEscapes) {
  const std::string text = R"("a\"b\\c\/d\be\ff\ng\rh\ti")";
  Document doc;
  ASSERT_TRUE(doc.parse(text, Limits(), nullptr));
  EXPECT_EQ(Str(doc[0]), "a\"b\\c/d\be\ff\ng\rh\ti");
  // Unescaped text lives in the document's buffer, not the input.
  EXPECT_FALSE(doc[0].str >= text.data() && doc[0].str < text.data() + text.size());
}

TEST(JsonTest, UnicodeEscapes) {
  Document doc;
  ASSERT_TRUE(doc.parse(R"("\u0041\u00e9\u20AC\uFFFF")", Limits(), nullptr));
  EXPECT_EQ(Str(doc[0]), "A\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");

  // Surrogate pairs combine into one 4-byte code point.
  ASSERT_TRUE(doc.parse(R"("x\ud83d\ude00y")", Limits(), nullptr));
  EXPECT_EQ(Str(doc[0]), "x\xF0\x9F\x98\x80y");
  ASSERT_TRUE(doc.parse(R"("\uD800\uDC00\uDBFF\uDFFF")", Limits(), nullptr));
  EXPECT_EQ(Str(doc[0]), "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");

  // \u0000 yields an embedded NUL byte, counted in len.
  ASSERT_TRUE(doc.parse(R"("a\u0000b")", Limits(), nullptr));
  ASSERT_EQ(doc[0].len, 3u);
  EXPECT_EQ(Str(doc[0]), "a\0b"s);

  // The longest 1-, 2- and 3-byte forms.
  ASSERT_TRUE(doc.parse(R"("\u007f\u0080\u07ff\u0800")", Limits(), nullptr));
  EXPECT_EQ(Str(doc[0]), "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80");
}

TEST(JsonTest, RawUtf8AndLongStrings) {
  Document doc;
  // 2-, 3- and 4-byte sequences, boundary code points, DEL (allowed).
  const std::string valid =
      "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\x80 \xEF\xBF\xBF "
      "\xF4\x8F\xBF\xBF \x7F \xED\x9F\xBF \xEE\x80\x80\"";
  ASSERT_TRUE(doc.parse(valid, Limits(), nullptr));
  EXPECT_EQ(Str(doc[0]), valid.substr(1, valid.size() - 2));

  // Special characters at every position relative to 8-byte words, with and
  // without escapes earlier in the string.
  for (size_t pad = 0; pad < 20; ++pad) {
    const std::string a(pad, 'a');
    const std::string text = "[\"" + a + "\\n" + a + "\xC3\xA9" + a + "\",\"" + a + "\xE2\x82\xAC" + a + "\"]";
    ASSERT_TRUE(doc.parse(text, Limits(), nullptr)) << pad;
    EXPECT_EQ(Str(doc[1]), a + "\n" + a + "\xC3\xA9" + a);
    EXPECT_EQ(Str(doc[2]), a + "\xE2\x82\xAC" + a);
    EXPECT_EQ(doc[2].str, text.data() + doc[2].offset + 1);

    const std::string bad = "\"" + a + "\x01" + a + "\"";
    Error err;
    ASSERT_FALSE(doc.parse(bad, Limits(), &err));
    EXPECT_EQ(err.message, "control character in string");
    EXPECT_EQ(err.offset, pad + 1);

    const std::string bad_escaped = "\"\\t" + a + "\x1f" + a + "\"";
    ASSERT_FALSE(doc.parse(bad_escaped, Limits(), &err));
    EXPECT_EQ(err.message, "control character in string");
    EXPECT_EQ(err.offset, pad + 3);
  }

  const std::string big(100000, 'z');
  ASSERT_TRUE(doc.parse("\"" + big + "\"", Limits(), nullptr));
  EXPECT_EQ(doc[0].len, 100000u);
}

TEST(JsonTest, StringRejections) {
  ExpectReject("\"abc", 0, "unterminated string");
  ExpectReject("[\"abc\\\"]", 1, "unterminated string");
  ExpectReject("\"ab\\", 0, "unterminated string");
  ExpectReject("\"a\nb\"", 2, "control character in string");
  ExpectReject("\"a\tb\"", 2, "control character in string");
  ExpectReject("\"\x1f\"", 1, "control character in string");
  ExpectReject("\"\0\""s, 1, "control character in string");
  ExpectReject(R"("a\x")", 2, "invalid escape sequence");
  ExpectReject(R"("\a")", 1, "invalid escape sequence");
  ExpectReject(R"("\U0041")", 1, "invalid escape sequence");
  ExpectReject(R"("\')", 1, "invalid escape sequence");
  ExpectReject(R"("\u12")", 1, "invalid \\u escape");
  ExpectReject(R"("\u12G4")", 1, "invalid \\u escape");
  ExpectReject(R"("\u-123")", 1, "invalid \\u escape");
  ExpectReject(R"("\u)", 1, "invalid \\u escape");
  ExpectReject(R"("ab\ud800")", 3, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\ud800x")", 1, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\ud800\u0041")", 1, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\ud800\ud800")", 1, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\ud800\n")", 1, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\udc00")", 1, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\uDFFF\uD800")", 1, "unpaired surrogate in \\u escape");
  ExpectReject(R"("\ud800\udc0")", 1, "unpaired surrogate in \\u escape");
  ExpectRejectMessage("'single'", "expected a value");
}

TEST(JsonTest, InvalidUtf8) {
  const char* const cases[] = {
      "\x80",              // Stray continuation byte.
      "\xBF",              //
      "\xC0\x80",          // Overlong NUL.
      "\xC1\xBF",          // Overlong 2-byte.
      "\xE0\x80\x80",      // Overlong 3-byte.
      "\xE0\x9F\xBF",      //
      "\xED\xA0\x80",      // Encoded surrogate U+D800.
      "\xED\xBF\xBF",      // Encoded surrogate U+DFFF.
      "\xF0\x80\x80\x80",  // Overlong 4-byte.
      "\xF0\x8F\xBF\xBF",  //
      "\xF4\x90\x80\x80",  // U+110000.
      "\xF5\x80\x80\x80",  // Lead byte beyond U+10FFFF.
      "\xF8\x88\x80\x80\x80",
      "\xFF",
      "\xFE",
      "\xC3",          // Truncated by the closing quote.
      "\xE2\x82",      //
      "\xF0\x9F\x98",  //
      "\xC3\x41",      // Non-continuation after a lead byte.
      "\xE2\x28\xA1",  //
  };
  for (const char* bytes : cases) {
    ExpectReject("\"ab" + std::string(bytes) + "\"", 3, "invalid UTF-8 in string");
    // Also after an escape (the copying path).
    ExpectReject("\"\\nab" + std::string(bytes) + "zz\"", 5, "invalid UTF-8 in string");
  }
  // Truncated at the very end of the input.
  ExpectReject("\"ab\xE2\x82", 3, "invalid UTF-8 in string");
  // Invalid UTF-8 outside strings is simply not a value.
  ExpectReject("\xC3\xA9", 0, "expected a value");
}

// ---------------------------------------------------------------------------
// Containers and layout

TEST(JsonTest, NestedLayout) {
  const std::string text = R"({"a":[1,2,{"b":null}],"c":"x"})";
  Document doc;
  ASSERT_TRUE(doc.parse(text, Limits(), nullptr));
  ASSERT_EQ(doc.size(), 10u);
  const struct {
    Type type;
    uint32_t next, count, offset;
  } want[] = {
      {Type::Object, 10, 2, 0},   // {
      {Type::String, 2, 0, 1},    // "a"
      {Type::Array, 8, 3, 5},     // [
      {Type::Number, 4, 0, 6},    // 1
      {Type::Number, 5, 0, 8},    // 2
      {Type::Object, 8, 1, 10},   // {
      {Type::String, 7, 0, 11},   // "b"
      {Type::Null, 8, 0, 15},     // null
      {Type::String, 9, 0, 22},   // "c"
      {Type::String, 10, 0, 26},  // "x"
  };
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(doc[i].type, want[i].type) << i;
    EXPECT_EQ(doc[i].next, want[i].next) << i;
    EXPECT_EQ(doc[i].count, want[i].count) << i;
    EXPECT_EQ(doc[i].offset, want[i].offset) << i;
  }
  EXPECT_EQ(Str(doc[1]), "a");
  EXPECT_EQ(doc[3].i, 1);
  EXPECT_EQ(doc[4].i, 2);
  EXPECT_EQ(Str(doc[6]), "b");
  EXPECT_EQ(Str(doc[9]), "x");
  CheckTape(doc);
}

TEST(JsonTest, IterationIdiom) {
  const std::string text = R"([ [1, [2, 3]], {"k": {"x": [4]}, "j": 5}, "s", [], {} ])";
  Document doc;
  ASSERT_TRUE(doc.parse(text, Limits(), nullptr));
  CheckTape(doc);
  ASSERT_EQ(doc[0].type, Type::Array);
  ASSERT_EQ(doc[0].count, 5u);
  std::vector<Type> types;
  std::vector<uint32_t> counts;
  uint32_t e = 1;
  for (uint32_t k = 0; k < doc[0].count; ++k) {
    types.push_back(doc[e].type);
    counts.push_back(doc[e].count);
    e = doc[e].next;
  }
  EXPECT_EQ(e, doc.size());
  EXPECT_EQ(types, (std::vector<Type>{Type::Array, Type::Object, Type::String, Type::Array, Type::Object}));
  EXPECT_EQ(counts, (std::vector<uint32_t>{2, 2, 0, 0, 0}));

  // Object member walk: key at m, value at m + 1, next at doc[m + 1].next.
  const uint32_t obj = doc[1].next;
  ASSERT_EQ(doc[obj].type, Type::Object);
  std::vector<std::string> keys;
  uint32_t m = obj + 1;
  for (uint32_t k = 0; k < doc[obj].count; ++k) {
    keys.emplace_back(Str(doc[m]));
    m = doc[m + 1].next;
  }
  EXPECT_EQ(m, doc[obj].next);
  EXPECT_EQ(keys, (std::vector<std::string>{"k", "j"}));
  EXPECT_EQ(doc[doc.find(obj, "j")].i, 5);
}

TEST(JsonTest, EmptyContainers) {
  Document doc;
  ASSERT_TRUE(doc.parse("[ [], {}, [[ ]], { } ]", Limits(), nullptr));
  ASSERT_EQ(doc.size(), 6u);
  EXPECT_EQ(doc[0].count, 4u);
  EXPECT_EQ(doc[1].type, Type::Array);
  EXPECT_EQ(doc[1].count, 0u);
  EXPECT_EQ(doc[1].next, 2u);
  EXPECT_EQ(doc[2].type, Type::Object);
  EXPECT_EQ(doc[2].next, 3u);
  EXPECT_EQ(doc[3].count, 1u);
  EXPECT_EQ(doc[3].next, 5u);
  EXPECT_EQ(doc[4].count, 0u);
  EXPECT_EQ(doc[5].type, Type::Object);
  EXPECT_EQ(doc[5].count, 0u);
  CheckTape(doc);

  ASSERT_TRUE(doc.parse("{}", Limits(), nullptr));
  EXPECT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc.find(0, "a"), Document::npos);
}

TEST(JsonTest, Find) {
  const std::string text = R"({"model":"gpt-4o","n":1,"model":"dup","":"empty","k\u00e9y":2,)"
                           R"("nested":{"model":"inner"},"models":3})";
  Document doc;
  ASSERT_TRUE(doc.parse(text, Limits(), nullptr));
  CheckTape(doc);
  const uint32_t model = doc.find(0, "model");
  ASSERT_NE(model, Document::npos);
  EXPECT_EQ(Str(doc[model]), "gpt-4o");  // First of the duplicates.
  EXPECT_EQ(doc[doc.find(0, "n")].i, 1);
  EXPECT_EQ(Str(doc[doc.find(0, "")]), "empty");
  EXPECT_EQ(doc[doc.find(0, "k\xC3\xA9y")].i, 2);  // Matches unescaped keys.
  EXPECT_EQ(doc[doc.find(0, "models")].i, 3);
  EXPECT_EQ(doc.find(0, "mode"), Document::npos);
  EXPECT_EQ(doc.find(0, "missing"), Document::npos);
  const uint32_t nested = doc.find(0, "nested");
  ASSERT_NE(nested, Document::npos);
  EXPECT_EQ(Str(doc[doc.find(nested, "model")]), "inner");
  // Not an object, or out of range.
  EXPECT_EQ(doc.find(model, "model"), Document::npos);
  EXPECT_EQ(doc.find(doc.size(), "model"), Document::npos);
  EXPECT_EQ(doc.find(Document::npos, "model"), Document::npos);
}

TEST(JsonTest, StructuralRejections) {
  ExpectReject("", 0, "empty input");
  ExpectReject(std::string_view(), 0, "empty input");
  ExpectReject(" \n\t ", 0, "empty input");
  ExpectReject("[1,]", 3, "trailing comma in array");
  ExpectReject("[1, ]", 4, "trailing comma in array");
  ExpectReject(R"({"a":1,})", 7, "trailing comma in object");
  ExpectReject("[1 2]", 3, "expected ',' or ']' after array element");
  ExpectReject("[1}", 2, "expected ',' or ']' after array element");
  ExpectReject(R"({"a":1 "b":2})", 7, "expected ',' or '}' after object member");
  ExpectReject(R"({"a":1])", 6, "expected ',' or '}' after object member");
  ExpectReject(R"({"a" 1})", 5, "expected ':' after object key");
  ExpectReject(R"({"a")", 4, "unexpected end of input");
  ExpectReject(R"({"a":)", 5, "unexpected end of input");
  ExpectReject("{1:2}", 1, "expected string key in object");
  ExpectReject("{a:2}", 1, "expected string key in object");
  ExpectReject("{,}", 1, "expected string key in object");
  ExpectReject(R"({"a":1,,"b":2})", 7, "expected string key in object");
  ExpectReject("[,1]", 1, "expected a value");
  ExpectReject("[1,,2]", 3, "expected a value");
  ExpectReject("[", 1, "unexpected end of input");
  ExpectReject("[1,", 3, "unexpected end of input");
  ExpectReject("[1", 2, "unexpected end of input");
  ExpectReject("{", 1, "unexpected end of input");
  ExpectReject(R"({"a":1)", 6, "unexpected end of input");
  ExpectReject("[1]]", 3, "unexpected data after the value");
  ExpectReject("{}}", 2, "unexpected data after the value");
  ExpectReject("[1] x", 4, "unexpected data after the value");
  ExpectReject("1 2", 2, "unexpected data after the value");
  ExpectReject("\"a\" \"b\"", 4, "unexpected data after the value");
  ExpectReject("null\0"s, 4, "unexpected data after the value");
  ExpectReject("[1]\f", 3, "unexpected data after the value");  // Not JSON ws.
  ExpectReject("\xEF\xBB\xBF{}", 0, "expected a value");        // No BOM.
  ExpectReject("// c\n1", 0, "expected a value");
  ExpectReject("]", 0, "expected a value");
  ExpectReject("tru", 0, "invalid literal");
  ExpectReject("nul", 0, "invalid literal");
  ExpectReject("True", 0, "expected a value");
  ExpectReject("[fals]", 1, "invalid literal");
  ExpectReject("nulls", 4, "unexpected data after the value");
  ExpectReject("[truee]", 5, "expected ',' or ']' after array element");
}

TEST(JsonTest, NullErrorPointerAndEmptyAfterFailure) {
  Document doc;
  ASSERT_TRUE(doc.parse("[1,2,3]", Limits(), nullptr));
  EXPECT_EQ(doc.size(), 4u);
  EXPECT_FALSE(doc.parse("[1,2,", Limits(), nullptr));
  EXPECT_EQ(doc.size(), 0u);
  ASSERT_TRUE(doc.parse("[1,2,3]", Limits(), nullptr));
  EXPECT_EQ(doc[3].i, 3);
}

TEST(JsonTest, ErrorsDoNotEchoInput) {
  const std::string secret = "sk-SECRET0123456789";
  const std::string inputs[] = {
      R"({"api_key":")" + secret,
      R"({"api_key":")" + secret + "\x01\"}",
      R"({"api_key":")" + secret + R"(\q"})",
      R"({"api_key":")" + secret + R"("} )" + secret,
      R"({"api_key":)" + secret,
      R"({")" + secret + R"(" )" + secret,
  };
  for (const std::string& in : inputs) {
    const Error err = ParseError(in);
    ASSERT_FALSE(err.message.empty());
    EXPECT_EQ(err.message.find("SECRET"), std::string::npos) << err.message;
    EXPECT_EQ(err.message.find("sk-"), std::string::npos) << err.message;
  }
}

// ---------------------------------------------------------------------------
// Limits

TEST(JsonTest, DepthLimit) {
  for (const char* open_close : {"[]", "{}"}) {
    auto nest = [open_close](int depth) {
      std::string s;
      // Objects nest through one member each; the innermost is empty.
      for (int d = 0; d < depth; ++d) {
        s += open_close[0];
        if (open_close[0] == '{' && d + 1 < depth) s += "\"k\":";
      }
      for (int d = 0; d < depth; ++d) s += open_close[1];
      return s;
    };
    Document doc;
    Error err;
    const std::string at_limit = nest(64);
    ASSERT_TRUE(doc.parse(at_limit, Limits(), &err)) << err.message;
    CheckTape(doc);
    const std::string over = nest(65);
    ASSERT_FALSE(doc.parse(over, Limits(), &err));
    EXPECT_EQ(err.message, "nesting deeper than 64 levels");
    EXPECT_EQ(err.offset, over.find_last_of(open_close[0]));

    Limits three;
    three.max_depth = 3;
    EXPECT_TRUE(doc.parse(nest(3), three, nullptr));
    ASSERT_FALSE(doc.parse(nest(4), three, &err));
    EXPECT_EQ(err.message, "nesting deeper than 3 levels");
  }
  Limits flat;
  flat.max_depth = 0;
  Document doc;
  EXPECT_TRUE(doc.parse("\"scalar\"", flat, nullptr));
  EXPECT_FALSE(doc.parse("[]", flat, nullptr));

  // Hostile depth fails fast, without recursion.
  const std::string deep(1000000, '[');
  Error err;
  ASSERT_FALSE(doc.parse(deep, Limits(), &err));
  EXPECT_EQ(err.offset, 64u);
  std::string deep_objects;
  for (int k = 0; k < 100000; ++k) deep_objects += "{\"a\":";
  ASSERT_FALSE(doc.parse(deep_objects, Limits(), &err));
  EXPECT_EQ(err.message, "nesting deeper than 64 levels");
}

TEST(JsonTest, ByteLimit) {
  Limits limits;
  limits.max_bytes = 10;
  Document doc;
  Error err;
  EXPECT_TRUE(doc.parse("[1,2,3,45]", limits, &err));  // Exactly 10 bytes.
  ASSERT_FALSE(doc.parse("[1,2,3,456]", limits, &err));
  EXPECT_EQ(err.message, "input is 11 bytes, over the limit of 10 bytes");
  EXPECT_TRUE(err.too_large);
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(doc.size(), 0u);
  // The flag is the last parse's: a syntax error is not "too large".
  ASSERT_FALSE(doc.parse("[1,", limits, &err));
  EXPECT_FALSE(err.too_large);

  // The default is 8 MiB.
  const std::string exact = "\"" + std::string((8u << 20) - 2, 'a') + "\"";
  ASSERT_TRUE(doc.parse(exact, Limits(), &err));
  EXPECT_EQ(doc[0].len, (8u << 20) - 2);
  EXPECT_FALSE(doc.parse(exact + " ", Limits(), &err));
  EXPECT_EQ(err.message, "input is 8388609 bytes, over the limit of 8388608 bytes");
}

TEST(JsonTest, NodeLimit) {
  Limits limits;
  limits.max_nodes = 3;
  Document doc;
  Error err;
  EXPECT_TRUE(doc.parse("[1,2]", limits, &err));
  EXPECT_TRUE(doc.parse(R"({"a":1})", limits, &err));
  ASSERT_FALSE(doc.parse("[1,2,3]", limits, &err));
  EXPECT_EQ(err.message, "more than 3 JSON values");
  EXPECT_EQ(err.offset, 5u);
  ASSERT_FALSE(doc.parse(R"({"a":1,"b":2})", limits, &err));
  EXPECT_EQ(err.message, "more than 3 JSON values");
  EXPECT_EQ(err.offset, 7u);
}

// ---------------------------------------------------------------------------
// Reuse and allocation

std::string BigDocument() {
  std::string s = "{\"items\":[";
  for (int k = 0; k < 2000; ++k) {
    if (k > 0) s += ',';
    s += "{\"id\":" + std::to_string(k) + ",\"name\":\"item\\t" + std::to_string(k) + "\",\"plain\":\"p" +
         std::to_string(k) + "\",\"w\":" + std::to_string(k) + ".25}";
  }
  s += "],\"tail\":\"\\u00e9nd\"}";
  return s;
}

void CheckBigDocument(const Document& doc, const std::string& text) {
  CheckTape(doc);
  const uint32_t items = doc.find(0, "items");
  ASSERT_NE(items, Document::npos);
  ASSERT_EQ(doc[items].count, 2000u);
  uint32_t e = items + 1;
  for (uint32_t k = 0; k < 2000; ++k) {
    ASSERT_EQ(doc[doc.find(e, "id")].i, static_cast<int64_t>(k));
    ASSERT_EQ(Str(doc[doc.find(e, "name")]), "item\t" + std::to_string(k));
    const Node& plain = doc[doc.find(e, "plain")];
    ASSERT_EQ(Str(plain), "p" + std::to_string(k));
    ASSERT_EQ(plain.str, text.data() + plain.offset + 1);
    ASSERT_EQ(doc[doc.find(e, "w")].num, k + 0.25);
    e = doc[e].next;
  }
  EXPECT_EQ(Str(doc[doc.find(0, "tail")]), "\xC3\xA9nd");
}

TEST(JsonTest, ReuseBigSmallBig) {
  const std::string big = BigDocument();
  const std::string small = R"({"a":"\n","b":[true]})";
  Document doc;
  ASSERT_TRUE(doc.parse(big, Limits(), nullptr));
  CheckBigDocument(doc, big);
  ASSERT_TRUE(doc.parse(small, Limits(), nullptr));
  ASSERT_EQ(doc.size(), 6u);
  EXPECT_EQ(Str(doc[doc.find(0, "a")]), "\n");
  EXPECT_EQ(doc[doc.find(0, "b")].count, 1u);
  ASSERT_TRUE(doc.parse(big, Limits(), nullptr));
  CheckBigDocument(doc, big);
  // Growing the input after a small parse still keeps pointers valid.
  Document fresh;
  ASSERT_TRUE(fresh.parse(small, Limits(), nullptr));
  ASSERT_TRUE(fresh.parse(big, Limits(), nullptr));
  CheckBigDocument(fresh, big);
}

TEST(JsonTest, NoAllocationInSteadyState) {
  const std::string big = BigDocument();
  const std::string small = R"({"a":"\u00e9","b":[1.5,-2,"x"]})";
  Document doc;
  Error err;
  ASSERT_TRUE(doc.parse(big, Limits(), &err));
  ASSERT_TRUE(doc.parse(small, Limits(), &err));
  const uint64_t before = g_allocations.load();
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(doc.parse(big, Limits(), &err));
    ASSERT_TRUE(doc.parse(small, Limits(), &err));
    ASSERT_TRUE(doc.parse("[1e23, 0.1234567890123456789012]", Limits(), &err));
    ASSERT_FALSE(doc.parse("[1,", Limits(), nullptr));
  }
  EXPECT_EQ(g_allocations.load(), before);
  // And the counter does see allocations.
  std::vector<int>* v = new std::vector<int>(1000);
  EXPECT_GT(g_allocations.load(), before);
  delete v;
}

// ---------------------------------------------------------------------------
// Realistic body

TEST(JsonTest, OpenAiChatCompletion) {
  const std::string body = R"({
  "model": "gpt-4o-2024-08-06",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant.\nBe brief."},
    {"role": "user", "content": [
      {"type": "text", "text": "What's in this image? Caf\u00e9 \"menu\" \ud83c\udf55"},
      {"type": "image_url", "image_url": {"url": "https://example.com/menu.png", "detail": "high"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_abc123", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "18\u00b0C, cloudy"}
  ],
  "tools": [
    {"type": "function", "function": {
      "name": "get_weather",
      "description": "Current weather for a city",
      "parameters": {
        "type": "object",
        "properties": {
          "city": {"type": "string"},
          "unit": {"type": "string", "enum": ["c", "f"]}
        },
        "required": ["city"],
        "additionalProperties": false
      },
      "strict": true
    }}
  ],
  "tool_choice": "auto",
  "temperature": 0.7,
  "top_p": 1,
  "max_tokens": 1024,
  "presence_penalty": -0.5,
  "seed": -9007199254740993,
  "stream": false,
  "user": "user-1234"
})";
  Document doc;
  Error err;
  ASSERT_TRUE(doc.parse(body, Limits(), &err)) << err.message << " at " << err.offset;
  CheckTape(doc);
  ASSERT_EQ(doc[0].type, Type::Object);
  EXPECT_EQ(doc[0].count, 11u);
  EXPECT_EQ(Str(doc[doc.find(0, "model")]), "gpt-4o-2024-08-06");
  const Node& temperature = doc[doc.find(0, "temperature")];
  EXPECT_FALSE(temperature.is_int);
  EXPECT_EQ(temperature.num, 0.7);
  EXPECT_TRUE(doc[doc.find(0, "top_p")].is_int);
  EXPECT_EQ(doc[doc.find(0, "max_tokens")].i, 1024);
  EXPECT_EQ(doc[doc.find(0, "presence_penalty")].num, -0.5);
  EXPECT_EQ(doc[doc.find(0, "seed")].i, -9007199254740993LL);
  EXPECT_EQ(doc[doc.find(0, "stream")].type, Type::False);
  EXPECT_EQ(Str(doc[doc.find(0, "tool_choice")]), "auto");

  const uint32_t messages = doc.find(0, "messages");
  ASSERT_NE(messages, Document::npos);
  ASSERT_EQ(doc[messages].type, Type::Array);
  ASSERT_EQ(doc[messages].count, 4u);
  std::vector<std::string> roles;
  uint32_t msg = messages + 1;
  uint32_t user = 0, assistant = 0, tool = 0;
  for (uint32_t k = 0; k < doc[messages].count; ++k) {
    roles.emplace_back(Str(doc[doc.find(msg, "role")]));
    if (k == 1) user = msg;
    if (k == 2) assistant = msg;
    if (k == 3) tool = msg;
    msg = doc[msg].next;
  }
  EXPECT_EQ(msg, doc[messages].next);
  EXPECT_EQ(roles, (std::vector<std::string>{"system", "user", "assistant", "tool"}));
  EXPECT_EQ(Str(doc[doc.find(messages + 1, "content")]), "You are a helpful assistant.\nBe brief.");

  const uint32_t parts = doc.find(user, "content");
  ASSERT_EQ(doc[parts].type, Type::Array);
  ASSERT_EQ(doc[parts].count, 2u);
  const uint32_t part0 = parts + 1;
  const uint32_t part1 = doc[part0].next;
  EXPECT_EQ(Str(doc[doc.find(part0, "type")]), "text");
  EXPECT_EQ(Str(doc[doc.find(part0, "text")]), "What's in this image? Caf\xC3\xA9 \"menu\" \xF0\x9F\x8D\x95");
  EXPECT_EQ(Str(doc[doc.find(part1, "type")]), "image_url");
  const uint32_t image = doc.find(part1, "image_url");
  EXPECT_EQ(Str(doc[doc.find(image, "url")]), "https://example.com/menu.png");
  // The text part is 5 nodes, the image part 9 (its nested object is 5).
  EXPECT_EQ(doc[parts].next, parts + 1 + 5 + 9);

  EXPECT_EQ(doc[doc.find(assistant, "content")].type, Type::Null);
  const uint32_t calls = doc.find(assistant, "tool_calls");
  ASSERT_EQ(doc[calls].count, 1u);
  const uint32_t fn = doc.find(calls + 1, "function");
  EXPECT_EQ(Str(doc[doc.find(fn, "name")]), "get_weather");
  const Node& args = doc[doc.find(fn, "arguments")];
  EXPECT_EQ(Str(args), R"({"city":"Paris","unit":"c"})");
  // The arguments string is itself JSON; a second document parses it.
  Document inner;
  ASSERT_TRUE(inner.parse(Str(args), Limits(), nullptr));
  EXPECT_EQ(Str(inner[inner.find(0, "city")]), "Paris");
  EXPECT_EQ(Str(doc[doc.find(tool, "content")]), "18\xC2\xB0\x43, cloudy");

  const uint32_t tools = doc.find(0, "tools");
  ASSERT_EQ(doc[tools].count, 1u);
  const uint32_t tool_fn = doc.find(tools + 1, "function");
  const uint32_t params = doc.find(tool_fn, "parameters");
  const uint32_t props = doc.find(params, "properties");
  EXPECT_EQ(doc[props].count, 2u);
  const uint32_t unit_enum = doc.find(doc.find(props, "unit"), "enum");
  ASSERT_EQ(doc[unit_enum].count, 2u);
  EXPECT_EQ(Str(doc[unit_enum + 1]), "c");
  EXPECT_EQ(Str(doc[unit_enum + 2]), "f");
  EXPECT_EQ(doc[doc.find(params, "additionalProperties")].type, Type::False);
  EXPECT_EQ(doc[doc.find(tool_fn, "strict")].type, Type::True);
  EXPECT_EQ(doc.find(tool_fn, "parameters_"), Document::npos);
}

// ---------------------------------------------------------------------------
// Differential fuzzing against a deliberately simple recursive reference.

// Accept/reject only. Written independently of the parser: recursive descent,
// UTF-8 decoded to code points and range-checked rather than table-driven.
class Reference {
 public:
  explicit Reference(std::string_view s) : s_(s) {}
  bool Accepts() {
    Ws();
    if (p_ == s_.size()) return false;
    if (!Value(0)) return false;
    Ws();
    return p_ == s_.size();
  }

 private:
  int Peek() const { return p_ < s_.size() ? static_cast<unsigned char>(s_[p_]) : -1; }
  void Ws() {
    while (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r') ++p_;
  }
  bool Lit(std::string_view w) {
    if (s_.substr(p_, w.size()) != w) return false;
    p_ += w.size();
    return true;
  }
  bool Value(int depth) {
    switch (Peek()) {
      case '{':
      case '[': {
        if (depth >= 64) return false;
        const char close = Peek() == '{' ? '}' : ']';
        ++p_;
        Ws();
        if (Peek() == close) {
          ++p_;
          return true;
        }
        for (;;) {
          Ws();
          if (close == '}') {
            if (!String()) return false;
            Ws();
            if (Peek() != ':') return false;
            ++p_;
            Ws();
          }
          if (!Value(depth + 1)) return false;
          Ws();
          if (Peek() == ',') {
            ++p_;
            continue;
          }
          if (Peek() == close) {
            ++p_;
            return true;
          }
          return false;
        }
      }
      case '"':
        return String();
      case 't':
        return Lit("true");
      case 'f':
        return Lit("false");
      case 'n':
        return Lit("null");
      default:
        return Number();
    }
  }
  bool Digits() {
    if (Peek() < '0' || Peek() > '9') return false;
    while (Peek() >= '0' && Peek() <= '9') ++p_;
    return true;
  }
  bool Number() {
    const size_t start = p_;
    if (Peek() == '-') ++p_;
    if (Peek() == '0') {
      ++p_;
    } else if (!Digits()) {
      return false;
    }
    if (Peek() == '.') {
      ++p_;
      if (!Digits()) return false;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++p_;
      if (Peek() == '+' || Peek() == '-') ++p_;
      if (!Digits()) return false;
    }
    const std::string t(s_.substr(start, p_ - start));
    return !std::isinf(std::strtod(t.c_str(), nullptr));
  }
  bool Hex(uint32_t* v) {
    if (p_ + 4 > s_.size()) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[p_++];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return false;
      }
      *v = *v * 16 + d;
    }
    return true;
  }
  bool String() {
    if (Peek() != '"') return false;
    ++p_;
    for (;;) {
      const int c = Peek();
      if (c < 0) return false;
      ++p_;
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        const int e = Peek();
        ++p_;
        if (e < 0) return false;
        if (std::strchr("\"\\/bfnrt", e) != nullptr && e != 0) continue;
        if (e != 'u') return false;
        uint32_t u;
        if (!Hex(&u)) return false;
        if (u >= 0xdc00 && u <= 0xdfff) return false;
        if (u >= 0xd800 && u <= 0xdbff) {
          if (!Lit("\\u")) return false;
          uint32_t lo;
          if (!Hex(&lo) || lo < 0xdc00 || lo > 0xdfff) return false;
        }
        continue;
      }
      if (c < 0x80) continue;
      int extra;
      uint32_t cp;
      if ((c & 0xe0) == 0xc0) {
        extra = 1;
        cp = c & 0x1f;
      } else if ((c & 0xf0) == 0xe0) {
        extra = 2;
        cp = c & 0x0f;
      } else if ((c & 0xf8) == 0xf0) {
        extra = 3;
        cp = c & 0x07;
      } else {
        return false;
      }
      for (int k = 0; k < extra; ++k) {
        const int b = Peek();
        if (b < 0 || (b & 0xc0) != 0x80) return false;
        ++p_;
        cp = (cp << 6) | (b & 0x3f);
      }
      static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
      if (cp < kMin[extra] || cp > 0x10ffff) return false;
      if (cp >= 0xd800 && cp <= 0xdfff) return false;
    }
  }

  std::string_view s_;
  size_t p_ = 0;
};

bool IsKnownMessage(const std::string& m) {
  static const std::set<std::string> kMessages = {
      "empty input",
      "unexpected end of input",
      "expected a value",
      "invalid literal",
      "NaN and Infinity are not allowed",
      "leading zeros are not allowed",
      "expected digit after '-'",
      "expected digit after decimal point",
      "expected digit in exponent",
      "number out of range",
      "unterminated string",
      "control character in string",
      "invalid escape sequence",
      "invalid \\u escape",
      "unpaired surrogate in \\u escape",
      "invalid UTF-8 in string",
      "expected string key in object",
      "expected ':' after object key",
      "trailing comma in array",
      "trailing comma in object",
      "expected ',' or ']' after array element",
      "expected ',' or '}' after object member",
      "unexpected data after the value",
      "nesting deeper than 64 levels",
  };
  return kMessages.count(m) > 0;
}

TEST(JsonTest, DifferentialFuzz) {
  const std::vector<std::string> seeds = {
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})",
      R"([1,-2.5e3,0,true,false,null,"a\"b\\c\/\b\f\n\r\t",{}])",
      R"({"a":{"b":{"c":[[],[{}],"\u00e9\ud83d\ude00"]}},"d":-0.0e-0})",
      "[\"caf\xC3\xA9\",\"\xE2\x82\xAC\xF0\x9F\x98\x80\","
      "123456789012345678901]",
      R"({"temperature":0.7,"max_tokens":1024,"stop":["\n","END"]})",
      R"("\u0000\u001f\u007f\uffff")",
      "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
      R"( { "k" : [ 1 , 2 ] , "k" : { } } )",
      "1e308",
      "-9223372036854775808",
  };
  // clang-format off
  const std::vector<std::string> tokens = {
      "{",   "}",     "[",    "]",       ",",      ":",     "\"",  "\\",
      "\\u", "d800",  "dc00", "\\ud83d", "\\ude00", "0",    "1",   "-",
      ".",   "e",     "E",    "+",       "9",      " ",     "\n",  "true",
      "nul", "false", "\x01", "\x7f",    "\x80",   "\xC3",  "\xA9", "\xED\xA0\x80",
      "\xF4\x90\x80\x80",     "\xF0\x9F\x98\x80",  "1e999", "\0"s,  "NaN", "00",
  };
  // clang-format on
  uint64_t state = 0x2545f4914f6cdd1dull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  Document reused;
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = seeds[next() % seeds.size()];
    const int mutations = 1 + static_cast<int>(next() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t pos = s.empty() ? 0 : next() % (s.size() + 1);
      switch (next() % 6) {
        case 0:  // Flip a byte.
          if (!s.empty() && pos < s.size()) {
            s[pos] = static_cast<char>(s[pos] ^ (1 << (next() % 8)));
          }
          break;
        case 1:  // Delete a byte.
          if (pos < s.size()) s.erase(pos, 1);
          break;
        case 2:  // Insert a token.
        case 3:
          s.insert(pos, tokens[next() % tokens.size()]);
          break;
        case 4:  // Duplicate a chunk.
          if (pos < s.size()) {
            s.insert(pos, s.substr(pos, next() % 16));
          }
          break;
        case 5:  // Truncate.
          s.resize(pos);
          break;
      }
    }
    Error err_reused, err_fresh;
    const bool ok = reused.parse(s, Limits(), &err_reused);
    Document fresh;
    const bool ok_fresh = fresh.parse(s, Limits(), &err_fresh);
    ASSERT_EQ(ok, ok_fresh) << s;
    ASSERT_EQ(ok, Reference(s).Accepts())
        << "input: " << s << "\nerror: " << err_reused.message << " at " << err_reused.offset;
    if (!ok) {
      ++rejected;
      ASSERT_EQ(err_reused.message, err_fresh.message);
      ASSERT_EQ(err_reused.offset, err_fresh.offset);
      ASSERT_LE(err_reused.offset, s.size());
      ASSERT_TRUE(IsKnownMessage(err_reused.message)) << err_reused.message;
      ASSERT_EQ(reused.size(), 0u);
      continue;
    }
    ++accepted;
    CheckTape(reused);
    const std::string canon = Canonical(reused);
    ASSERT_EQ(canon, Canonical(fresh));
    Document again;
    ASSERT_TRUE(again.parse(canon, Limits(), nullptr)) << canon;
    ASSERT_EQ(Canonical(again), canon);
  }
  std::printf("fuzz: %d accepted, %d rejected\n", accepted, rejected);
  // Both outcomes must be well represented for the loop to mean anything.
  EXPECT_GT(accepted, 2000);
  EXPECT_GT(rejected, 2000);
}

}  // namespace
}  // namespace gavel::json
