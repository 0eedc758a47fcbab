// Unit tests of the screening validators (engine/screen/validators.h): Luhn
// for payment cards, issuable US SSNs, IBAN mod-97 with per-country lengths,
// and the entropy check of generic secrets.
#include "engine/screen/validators.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace gavel {
namespace {

bool V(Validator v, const std::string& s) { return Validate(v, s); }

TEST(Validators, Names) {
  Validator v;
  for (const char* n : {"luhn", "ssn", "iban", "entropy"}) {
    ASSERT_TRUE(ValidatorByName(n, &v)) << n;
    EXPECT_STREQ(ValidatorName(v), n);
  }
  EXPECT_FALSE(ValidatorByName("caseless", &v));
  EXPECT_FALSE(ValidatorByName("", &v));
  EXPECT_STREQ(ValidatorName(Validator::kNone), "");
  EXPECT_TRUE(V(Validator::kNone, "anything"));
}

TEST(Validators, Luhn) {
  for (const char* ok : {"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5500 0000 0000 0004",
                         "378282246310005", "3782 822463 10005", "6011111111111117", "4222222222222"})
    EXPECT_TRUE(V(Validator::kLuhn, ok)) << ok;
  for (const char* bad : {"4111111111111112", "4111 1111 1111 1112", "1234567890123", "0000000000000000",
                          "411111111111", "41111111111111111111", "4111  1111 1111 1111", "abcd efgh ijkl mnop"})
    EXPECT_FALSE(V(Validator::kLuhn, bad)) << bad;
}

TEST(Validators, UsSsn) {
  for (const char* ok : {"536-22-1498", "536 22 1498", "536221498", "SSN: 536221498", "001-01-0001"})
    EXPECT_TRUE(V(Validator::kUsSsn, ok)) << ok;
  for (const char* bad : {"000-12-3456", "666-12-3456", "900-12-3456", "999-99-9999", "536-00-1498", "536-22-0000",
                          "078-05-1120", "219-09-9999", "123-45-6789", "111-11-1111", "53622149", "5362214981"})
    EXPECT_FALSE(V(Validator::kUsSsn, bad)) << bad;
}

TEST(Validators, Iban) {
  for (const char* ok : {"DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819",
                         "GB29 NWBK 6016 1331 9268 19", "FR1420041010050500013M02606", "CH9300762011623852957",
                         "NL91ABNA0417164300", "NO9386011117947", "gb29nwbk60161331926819"})
    EXPECT_TRUE(V(Validator::kIban, ok)) << ok;
  for (const char* bad : {
           "DE88370400440532013000",     // wrong check digits
           "DE8937040044053201300",      // one digit short for DE
           "GB29NWBK6016133192681",      // short
           "XX89370400440532013000",     // unknown country
           "DE89 3704 0044 0532 0130 0"  // cut
       })
    EXPECT_FALSE(V(Validator::kIban, bad)) << bad;
}

TEST(Validators, Entropy) {
  for (const char* ok :
       {"api_key = \"q8Zr1xV0pL3mN7sT2wY5\"", "secret: Xk29fLq0Pz8vB3nR7tY1wE5c", "token=a1B2c3D4e5F6g7H8i9J0"})
    EXPECT_TRUE(V(Validator::kEntropy, ok)) << ok;
  for (const char* bad :
       {"password = correcthorsebatterystaple", "version: 1.2.3.4-beta", "token = 1234567890123456",
        "secret = aaaaaaaaaaaaaaaaaaaaaaaa", "api_key = short1A", "token: https://example.com/a/b/c/d/e/f/g/h"})
    EXPECT_FALSE(V(Validator::kEntropy, bad)) << bad;
}

// Validators read a bounded prefix of work whatever the match: longer matches
// are decided by their length (screening validates every end of a long run,
// so a validator that read it all made a decision quadratic in the text).
TEST(Validators, OverlongMatchesAreDecidedByLengthAlone) {
  // luhn's limit is exact: 19 digits with a separator between each pass at 37 bytes.
  const std::string digits = "4111111111111111110";  // Luhn-valid, 19 digits
  ASSERT_TRUE(V(Validator::kLuhn, digits));
  std::string spaced;
  for (char c : digits) spaced += std::string(spaced.empty() ? "" : " ") + c;
  ASSERT_EQ(spaced.size(), MaxValidatedLength(Validator::kLuhn));
  EXPECT_TRUE(V(Validator::kLuhn, spaced));
  EXPECT_FALSE(V(Validator::kLuhn, spaced + "0"));
  EXPECT_FALSE(V(Validator::kLuhn, std::string(100000, '4')));
  EXPECT_FALSE(V(Validator::kIban, "GB82 WEST 1234 5698 7654 32" + std::string(100000, ' ')));
  EXPECT_EQ(MaxValidatedLength(Validator::kIban), 67u);
  // ssn and entropy could accept a longer match (they skip or trim bytes), so
  // one over kMaxValidatedMatch counts as passing: fail closed.
  EXPECT_FALSE(V(Validator::kUsSsn, "ssn " + std::string(400, 'x') + " 000-00-0000"));
  EXPECT_TRUE(V(Validator::kUsSsn, "ssn " + std::string(kMaxValidatedMatch, 'x') + " 000-00-0000"));
  EXPECT_TRUE(V(Validator::kEntropy, "token = " + std::string(kMaxValidatedMatch, ' ') + "aaaaaaaaaaaaaaaa"));
  EXPECT_FALSE(V(Validator::kEntropy, "token = " + std::string(400, ' ') + "aaaaaaaaaaaaaaaa"));
}

// Screening rejects an entropy candidate unread when the kMaxEntropyValue + 1
// bytes before its end are all InsideEntropyValue. That must never reject a
// match the validator would accept: whatever precedes such a run (names,
// separators, quotes, blanks), the value is longer than entropy allows.
TEST(Validators, AnEntropyValueRunLongerThanTheLimitNeverPasses) {
  std::mt19937 rng(20261203);
  const std::string head_bytes = "abcXYZ019 \t=:>\"'`,;_-./+";
  const std::string value_bytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/_.~!@#$%^&*?-";
  int tails_that_pass = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string m;
    const size_t head = rng() % 200, run = kMaxEntropyValue + 1 + rng() % 50;
    for (size_t k = 0; k < head; ++k) m += head_bytes[rng() % head_bytes.size()];
    for (size_t k = 0; k < run; ++k) m += value_bytes[rng() % value_bytes.size()];
    if (m.size() > kMaxValidatedMatch) continue;
    size_t inside = 0;
    while (inside < m.size() && InsideEntropyValue(m[m.size() - 1 - inside])) ++inside;
    ASSERT_GT(inside, kMaxEntropyValue);
    EXPECT_FALSE(V(Validator::kEntropy, m)) << m;
    // The same bytes cut to the limit are a value the validator accepts:
    // only the length rejects the longer one.
    if (V(Validator::kEntropy, m.substr(m.size() - kMaxEntropyValue))) ++tails_that_pass;
  }
  EXPECT_GT(tails_that_pass, 1000);
}

// EntropyCursor decides an extended match as the validator decides it whole,
// including the cases that stop extending (a blank, a quote, a separator).
TEST(Validators, EntropyCursorAgreesWithTheWholeMatch) {
  std::mt19937 rng(7);
  const std::string bytes = "aZ9kQ3xF0/:_-=\" .,;>";
  int extended = 0, passed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = (rng() % 2 ? "api_key = " : "sk-proj-");
    const size_t n = 8 + rng() % 120;
    for (size_t k = 0; k < n; ++k)
      m += rng() % 8 ? bytes[rng() % 6] : bytes[rng() % bytes.size()];  // mostly value bytes
    EntropyCursor c;
    size_t at = 12 + rng() % 10;
    c.Start(std::string_view(m).substr(0, at));
    while (at < m.size()) {
      const size_t to = std::min(m.size(), at + 1 + rng() % 8);
      bool inside = true;
      for (size_t k = at; k < to; ++k) inside = inside && InsideEntropyValue(m[k]);
      const std::string_view whole = std::string_view(m).substr(0, to);
      bool got;
      if (inside && c.CanExtend()) {
        got = c.Extend(std::string_view(m).substr(at, to - at));
        ++extended;
      } else {
        got = c.Start(whole);
      }
      ASSERT_EQ(got, V(Validator::kEntropy, std::string(whole))) << whole;
      passed += got;
      at = to;
    }
  }
  EXPECT_GT(extended, 10000);
  EXPECT_GT(passed, 300);
}

}  // namespace
}  // namespace gavel
