// Validators of screening matches (see validators.h). Everything works on the
// matched bytes in place: no allocation, no exceptions, no locale.
#include "engine/screen/validators.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace gavel {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsLetter(char c) { return IsUpper(c) || IsLower(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
char Upper(char c) { return IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// --- luhn ------------------------------------------------------------------

bool Luhn(std::string_view s) {
  int digits = 0, sum = 0;
  char first = 0;
  bool same = true, last_was_sep = true;  // a number starts with a digit
  // From the right: every second digit is doubled.
  for (size_t i = s.size(); i-- > 0;) {
    const char c = s[i];
    if (c == ' ' || c == '-') {
      if (last_was_sep) return false;  // leading, trailing or doubled separators
      last_was_sep = true;
      continue;
    }
    if (!IsDigit(c)) return false;
    last_was_sep = false;
    int d = c - '0';
    if (digits == 0) first = c;
    same = same && c == first;
    if (digits % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    if (++digits > 19) return false;
  }
  if (last_was_sep) return false;
  return digits >= 13 && !same && sum % 10 == 0;
}

// --- ssn -------------------------------------------------------------------

bool UsSsn(std::string_view s) {
  char d[9];
  int n = 0;
  for (char c : s) {
    if (!IsDigit(c)) continue;
    if (n == 9) return false;
    d[n++] = c;
  }
  if (n != 9) return false;
  const int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  const int group = (d[3] - '0') * 10 + (d[4] - '0');
  const int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
  if (area == 0 || area == 666 || area >= 900) return false;
  if (group == 0 || serial == 0) return false;
  bool same = true;
  for (int i = 1; i < 9; ++i) same = same && d[i] == d[0];
  if (same) return false;
  // Numbers printed in advertising and examples, voided by the Social Security Administration or never issued.
  static constexpr struct { int area, group, serial; } kSamples[] = {{78, 5, 1120}, {219, 9, 9999}, {123, 45, 6789}};
  for (const auto& k : kSamples)
    if (area == k.area && group == k.group && serial == k.serial) return false;
  return true;
}

// --- iban ------------------------------------------------------------------

// Registered IBAN lengths (SWIFT IBAN registry), by country code.
struct IbanCountry {
  char code[3];
  uint8_t length;
};
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
    {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
    {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};
constexpr size_t kIbanMax = 34;

int IbanLength(char a, char b) {
  for (const IbanCountry& c : kIbanCountries)
    if (c.code[0] == a && c.code[1] == b) return c.length;
  return 0;
}

bool Iban(std::string_view s) {
  char v[kIbanMax];
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ') {
      // Single spaces between groups only.
      if (n == 0 || i + 1 == s.size() || s[i + 1] == ' ') return false;
      continue;
    }
    if (!IsDigit(c) && !IsLetter(c)) return false;
    if (n == kIbanMax) return false;
    v[n++] = Upper(c);
  }
  if (n < 5 || !IsUpper(v[0]) || !IsUpper(v[1]) || !IsDigit(v[2]) || !IsDigit(v[3])) return false;
  if (static_cast<int>(n) != IbanLength(v[0], v[1])) return false;
  // Move the first four characters to the end, letters become 10..35, the number mod 97 must be 1.
  int rem = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = v[(k + 4) % n];
    if (IsDigit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else {
      const int x = c - 'A' + 10;
      rem = (rem * 100 + x) % 97;
    }
  }
  return rem == 1;
}

// --- entropy ---------------------------------------------------------------

constexpr size_t kMinSecret = 16;
constexpr size_t kMaxSecret = kMaxEntropyValue;
constexpr size_t kMinMixedRun = 8;  // letters and digits without a separator, both present
constexpr double kMinBitsPerByte = 3.5;
constexpr double kMinBitsPerByteHex = 3.0;  // a hex value draws on 16 symbols only (at most 4 bits per byte)

bool IsQuote(char c) { return c == '"' || c == '\'' || c == '`'; }

// The value of a `name = value` match: what follows the first `=` or `:` (the
// whole match if there is none), without the separator run (`=`, `:`, `:=`,
// `=>`), surrounding blanks and quotes, and a trailing `,` or `;`. When what
// remains still has blanks (`Bearer <token>`), its last word.
std::string_view EntropyValue(std::string_view m) {
  size_t sep = m.find_first_of("=:");
  std::string_view v = sep == std::string_view::npos ? m : m.substr(sep);
  size_t b = 0;
  while (b < v.size() && (v[b] == '=' || v[b] == ':' || v[b] == '>' || IsSpace(v[b]) || IsQuote(v[b]))) ++b;
  v.remove_prefix(b);
  while (!v.empty() && (IsSpace(v.back()) || IsQuote(v.back()) || v.back() == ',' || v.back() == ';'))
    v.remove_suffix(1);
  for (size_t i = v.size(); i-- > 0;)
    if (IsSpace(v[i])) {
      v.remove_prefix(i + 1);
      break;
    }
  return v;
}

// c * log2(c) for every count a value of at most kMaxSecret bytes can have,
// in fixed point: integer sums do not depend on the order of their terms, so
// a value counted whole and one counted by extension get the same bits.
constexpr double kFixedOne = 4294967296.0;  // 2^32
struct CountLogTable {
  uint64_t v[kMaxSecret + 2];
  CountLogTable() {
    for (size_t c = 0; c < kMaxSecret + 2; ++c)
      v[c] = c < 2 ? 0 : static_cast<uint64_t>(std::llround(static_cast<double>(c) * std::log2(double(c)) * kFixedOne));
  }
};
const CountLogTable& CountLog() {
  static const CountLogTable t;
  return t;
}

bool Entropy(std::string_view match) {
  EntropyCursor c;
  return c.Start(match);
}

}  // namespace

bool EntropyCursor::Start(std::string_view match) {
  const std::string_view v = EntropyValue(match);
  std::fill(counts_, counts_ + 256, uint16_t(0));
  sum_ = 0;
  len_ = 0;
  last_[0] = last_[1] = 0;
  url_ = mixed_ = run_letter_ = run_digit_ = false;
  hex_ = true;
  run_ = 0;
  extendable_ = !v.empty() && v.data() + v.size() == match.data() + match.size();
  if (v.size() > kMaxSecret) {
    len_ = static_cast<uint32_t>(kMaxSecret + 1);  // too long now and after any extension
    return false;
  }
  for (char c : v) Add(c);
  return Passes();
}

bool EntropyCursor::Extend(std::string_view more) {
  for (char c : more) {
    if (len_ > kMaxSecret) return false;
    Add(c);
  }
  return Passes();
}

void EntropyCursor::Add(char c) {
  url_ = url_ || (last_[0] == ':' && last_[1] == '/' && c == '/');  // a URL, not a credential
  last_[0] = last_[1];
  last_[1] = c;
  hex_ = hex_ && (IsDigit(c) || (Upper(c) >= 'A' && Upper(c) <= 'F'));
  // Words, numbers, names, dates and versions (`prod-db-credentials-2024`,
  // `process.env.API_KEY`, `1.2.3.4-beta`, `sk-ant-api03-your-key-here`) are
  // runs of letters and digits that are all letters, all digits, or short. A
  // generated secret has a long run that mixes both.
  if (IsLetter(c) || IsDigit(c)) {
    run_letter_ = run_letter_ || IsLetter(c);
    run_digit_ = run_digit_ || IsDigit(c);
    ++run_;
  } else {
    mixed_ = mixed_ || (run_letter_ && run_digit_ && run_ >= kMinMixedRun);
    run_letter_ = run_digit_ = false;
    run_ = 0;
  }
  uint16_t& n = counts_[static_cast<unsigned char>(c)];
  sum_ += CountLog().v[n + 1] - CountLog().v[n];
  ++n;
  ++len_;
}

bool EntropyCursor::Passes() const {
  if (len_ < kMinSecret || len_ > kMaxSecret || url_) return false;
  if (!mixed_ && !(run_letter_ && run_digit_ && run_ >= kMinMixedRun)) return false;
  // Shannon entropy of the byte distribution: H = log2(n) - (1/n) * sum(c * log2(c)).
  const double n = static_cast<double>(len_);
  const double bits = std::log2(n) - static_cast<double>(sum_) / kFixedOne / n;
  return bits >= (hex_ ? kMinBitsPerByteHex : kMinBitsPerByte);
}

bool ValidatorByName(std::string_view name, Validator* v) {
  for (Validator x : {Validator::kLuhn, Validator::kUsSsn, Validator::kIban, Validator::kEntropy})
    if (name == ValidatorName(x)) {
      *v = x;
      return true;
    }
  return false;
}

const char* ValidatorName(Validator v) {
  switch (v) {
    case Validator::kNone:
      return "";
    case Validator::kLuhn:
      return "luhn";
    case Validator::kUsSsn:
      return "ssn";
    case Validator::kIban:
      return "iban";
    case Validator::kEntropy:
      return "entropy";
  }
  return "";
}

size_t MaxValidatedLength(Validator v) {
  switch (v) {
    case Validator::kLuhn:
      return 19 + 18;
    case Validator::kIban:
      return kIbanMax + kIbanMax - 1;
    case Validator::kNone:
    case Validator::kUsSsn:
    case Validator::kEntropy:
      break;
  }
  return kMaxValidatedMatch;
}

bool InsideEntropyValue(char c) {
  return !IsSpace(c) && !IsQuote(c) && c != '=' && c != ':' && c != '>' && c != ',' && c != ';';
}

bool OverlongMatchPasses(Validator v) { return v == Validator::kUsSsn || v == Validator::kEntropy; }

bool Validate(Validator v, std::string_view match) {
  if (v != Validator::kNone && match.size() > MaxValidatedLength(v)) return OverlongMatchPasses(v);
  switch (v) {
    case Validator::kNone:
      return true;
    case Validator::kLuhn:
      return Luhn(match);
    case Validator::kUsSsn:
      return UsSsn(match);
    case Validator::kIban:
      return Iban(match);
    case Validator::kEntropy:
      return Entropy(match);
  }
  return false;
}

}  // namespace gavel
