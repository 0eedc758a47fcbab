// Strict RFC 8259 JSON parser producing a flat node tape (see json.h). It is
// iterative (explicit stack bounded by Limits::max_depth), allocates nothing
// once its buffers have grown, and never copies input bytes into errors.

#include "engine/runtime/json.h"

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace gavel::json {

const char* type_name(Type t) {
  switch (t) {
    case Type::Null:
      return "null";
    case Type::False:
    case Type::True:
      return "boolean";
    case Type::Number:
      return "number";
    case Type::String:
      return "string";
    case Type::Array:
      return "array";
    case Type::Object:
      return "object";
  }
  return "unknown";
}

namespace {

// Offsets and indices are uint32_t, so no input may reach 4 GiB.
constexpr size_t kMaxAddressable = 0xfffffffeu;

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

// Marks (high bit of the byte) each byte of w that is '"', '\\', a control
// character (< 0x20) or non-ASCII (>= 0x80): the bytes a string scan must
// stop at. The borrow tricks can also mark bytes above a real hit, but never
// below one, so the mask is nonzero exactly when w holds such a byte and its
// lowest mark is the first such byte.
inline uint64_t SpecialBytes(uint64_t w) {
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t t = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((w - kOnes * 0x20) & ~w) | w;
  return t & kHighBits;
}

// Bytes that can be copied through a string verbatim: printable ASCII other
// than '"' and '\\'.
struct PlainTable {
  bool v[256];
  constexpr PlainTable() : v() {
    for (int c = 0x20; c < 0x80; ++c) v[c] = (c != '"' && c != '\\');
  }
};
constexpr PlainTable kPlain;

inline bool IsPlain(char c) { return kPlain.v[static_cast<unsigned char>(c)]; }

// Index of the first special byte in the 8 bytes at p, given their nonzero
// SpecialBytes mask. On little-endian targets the lowest mark is the first
// byte; elsewhere fall back to scanning.
inline size_t FirstSpecial(const char* p, uint64_t mask) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  (void)p;
  return static_cast<size_t>(__builtin_ctzll(mask)) >> 3;
#else
  (void)mask;
  size_t k = 0;
  while (IsPlain(p[k])) ++k;
  return k;
#endif
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

inline const char* SkipWs(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
    ++p;
  }
  return p;
}

// Length of the well-formed UTF-8 sequence starting at p (whose first byte is
// >= 0x80), or 0 if it is ill-formed: stray continuation bytes, overlongs,
// UTF-16 surrogates, code points above U+10FFFF, truncation (Unicode 15,
// table 3-7).
inline size_t Utf8SequenceLength(const char* p, const char* end) {
  const auto b = [p](size_t k) { return static_cast<unsigned char>(p[k]); };
  const size_t avail = static_cast<size_t>(end - p);
  const unsigned b0 = b(0);
  const auto cont = [](unsigned c) { return (c & 0xc0) == 0x80; };
  if (b0 < 0xc2) return 0;
  if (b0 < 0xe0) return (avail >= 2 && cont(b(1))) ? 2 : 0;
  if (b0 < 0xf0) {
    if (avail < 3) return 0;
    const unsigned b1 = b(1);
    const unsigned lo = b0 == 0xe0 ? 0xa0 : 0x80;
    const unsigned hi = b0 == 0xed ? 0x9f : 0xbf;
    return (b1 >= lo && b1 <= hi && cont(b(2))) ? 3 : 0;
  }
  if (b0 < 0xf5) {
    if (avail < 4) return 0;
    const unsigned b1 = b(1);
    const unsigned lo = b0 == 0xf0 ? 0x90 : 0x80;
    const unsigned hi = b0 == 0xf4 ? 0x8f : 0xbf;
    return (b1 >= lo && b1 <= hi && cont(b(2)) && cont(b(3))) ? 4 : 0;
  }
  return 0;
}

// Four hex digits at p (caller checked they exist), or -1.
inline int32_t Hex4(const char* p) {
  int32_t v = 0;
  for (int k = 0; k < 4; ++k) {
    const char c = p[k];
    int32_t d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return -1;
    }
    v = (v << 4) | d;
  }
  return v;
}

inline char* EncodeUtf8(uint32_t cp, char* out) {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xc0 | (cp >> 6));
    *out++ = static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xe0 | (cp >> 12));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out++ = static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    *out++ = static_cast<char>(0xf0 | (cp >> 18));
    *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out++ = static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

// Powers of ten exactly representable as doubles (Clinger's fast path).
constexpr double kExactPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

constexpr uint64_t kTwoPow53 = uint64_t{1} << 53;
constexpr uint64_t kTwoPow63 = uint64_t{1} << 63;

}  // namespace

namespace internal {

class Parser {
 public:
  Parser(Document& doc, std::string_view input, const Limits& limits, Error* err)
      : doc_(doc), begin_(input.data()), end_(input.data() + input.size()), limits_(limits), err_(err) {}

  bool Run();

 private:
  bool Fail(const char* at, const char* message);
  bool FailLimit(const char* at, const char* prefix, uint64_t n, const char* suffix);
  bool FailTooLarge(size_t size, size_t limit);
  // Appends a zeroed node for the value starting at `at`; npos if the node
  // limit is hit (the error is already recorded).
  uint32_t AddNode(Type type, const char* at);
  // cur points at '"'. On success cur is one past the closing quote.
  bool ParseString(const char*& cur, uint32_t idx);
  // Continues a string whose raw bytes [content, s) are already validated and
  // which needs unescaping from s (a backslash) on.
  bool ParseEscapedString(const char*& cur, const char* content, const char* s, uint32_t idx);
  // cur points at '-' or a digit.
  bool ParseNumber(const char*& cur, uint32_t idx);
  bool SlowDouble(const char* start, const char* stop, int64_t sci_exp, bool neg, double* out);
  // cur points at the (whitespace-skipped) key of an object member; parses
  // key, ':' and the whitespace before the value.
  bool ParseMemberKey(const char*& cur, uint32_t object_idx);

  Document& doc_;
  const char* const begin_;
  const char* const end_;
  const Limits& limits_;
  Error* const err_;
  char* out_ = nullptr;  // Next free byte of doc_.buf_.
};

bool Parser::Fail(const char* at, const char* message) {
  if (err_ != nullptr) {
    err_->offset = static_cast<size_t>(at - begin_);
    err_->message = message;
  }
  doc_.nodes_.clear();
  doc_.stack_.clear();
  return false;
}

bool Parser::FailLimit(const char* at, const char* prefix, uint64_t n, const char* suffix) {
  if (err_ != nullptr) {
    err_->offset = static_cast<size_t>(at - begin_);
    err_->message = prefix;
    err_->message += std::to_string(n);
    err_->message += suffix;
  }
  doc_.nodes_.clear();
  doc_.stack_.clear();
  return false;
}

bool Parser::FailTooLarge(size_t size, size_t limit) {
  if (err_ != nullptr) {
    err_->offset = 0;
    err_->message =
        "input is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(limit) + " bytes";
    err_->too_large = true;
  }
  doc_.nodes_.clear();
  doc_.stack_.clear();
  return false;
}

inline uint32_t Parser::AddNode(Type type, const char* at) {
  const size_t idx = doc_.nodes_.size();
  if (idx >= limits_.max_nodes) {
    FailLimit(at, "more than ", limits_.max_nodes, " JSON values");
    return Document::npos;
  }
  Node& n = doc_.nodes_.emplace_back();
  n.type = type;
  n.is_int = false;
  n.integral = false;
  n.next = static_cast<uint32_t>(idx + 1);
  n.count = 0;
  n.offset = static_cast<uint32_t>(at - begin_);
  n.len = 0;
  n.str = nullptr;
  n.i = 0;
  n.num = 0;
  return static_cast<uint32_t>(idx);
}

bool Parser::ParseString(const char*& cur, uint32_t idx) {
  const char* const content = cur + 1;
  const char* s = content;
  for (;;) {
    // Most string bytes are plain ASCII: skip them a word at a time.
    if (end_ - s >= 8) {
      uint64_t w;
      std::memcpy(&w, s, 8);
      const uint64_t mask = SpecialBytes(w);
      if (mask == 0) {
        s += 8;
        continue;
      }
      s += FirstSpecial(s, mask);
    } else {
      while (s < end_ && IsPlain(*s)) ++s;
      if (s == end_) return Fail(cur, "unterminated string");
    }
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"') {
      Node& n = doc_.nodes_[idx];
      n.str = content;
      n.len = static_cast<uint32_t>(s - content);
      cur = s + 1;
      return true;
    }
    if (c == '\\') return ParseEscapedString(cur, content, s, idx);
    if (c < 0x20) return Fail(s, "control character in string");
    const size_t n = Utf8SequenceLength(s, end_);
    if (n == 0) return Fail(s, "invalid UTF-8 in string");
    s += n;
  }
}

bool Parser::ParseEscapedString(const char*& cur, const char* content, const char* s, uint32_t idx) {
  char* const out_begin = out_;
  char* out = out_;
  // Never overflows: doc_.buf_ holds at least the input size and every
  // string's unescaped form is no longer than its literal.
  std::memcpy(out, content, static_cast<size_t>(s - content));
  out += s - content;
  for (;;) {
    if (end_ - s >= 8) {
      uint64_t w;
      std::memcpy(&w, s, 8);
      const uint64_t mask = SpecialBytes(w);
      // Storing all 8 bytes stays in bounds: out never runs ahead of s.
      std::memcpy(out, &w, 8);
      if (mask == 0) {
        s += 8;
        out += 8;
        continue;
      }
      const size_t k = FirstSpecial(s, mask);
      s += k;
      out += k;
    } else {
      while (s < end_ && IsPlain(*s)) *out++ = *s++;
      if (s == end_) return Fail(cur, "unterminated string");
    }
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"') break;
    if (c == '\\') {
      if (end_ - s < 2) return Fail(cur, "unterminated string");
      switch (s[1]) {
        case '"':
          *out++ = '"';
          break;
        case '\\':
          *out++ = '\\';
          break;
        case '/':
          *out++ = '/';
          break;
        case 'b':
          *out++ = '\b';
          break;
        case 'f':
          *out++ = '\f';
          break;
        case 'n':
          *out++ = '\n';
          break;
        case 'r':
          *out++ = '\r';
          break;
        case 't':
          *out++ = '\t';
          break;
        case 'u': {
          if (end_ - s < 6) return Fail(s, "invalid \\u escape");
          const int32_t hi = Hex4(s + 2);
          if (hi < 0) return Fail(s, "invalid \\u escape");
          uint32_t cp = static_cast<uint32_t>(hi);
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            return Fail(s, "unpaired surrogate in \\u escape");
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            // A high surrogate must be followed at once by an escaped low
            // surrogate; together they encode one supplementary code point.
            if (end_ - s < 12 || s[6] != '\\' || s[7] != 'u') {
              return Fail(s, "unpaired surrogate in \\u escape");
            }
            const int32_t lo = Hex4(s + 8);
            if (lo < 0xdc00 || lo > 0xdfff) {
              return Fail(s, "unpaired surrogate in \\u escape");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (static_cast<uint32_t>(lo) - 0xdc00);
            s += 6;
          }
          out = EncodeUtf8(cp, out);
          s += 6;
          continue;
        }
        default:
          return Fail(s, "invalid escape sequence");
      }
      s += 2;
      continue;
    }
    if (c < 0x20) return Fail(s, "control character in string");
    const size_t n = Utf8SequenceLength(s, end_);
    if (n == 0) return Fail(s, "invalid UTF-8 in string");
    std::memcpy(out, s, n);
    out += n;
    s += n;
  }
  Node& node = doc_.nodes_[idx];
  node.str = out_begin;
  node.len = static_cast<uint32_t>(out - out_begin);
  out_ = out;
  cur = s + 1;
  return true;
}

namespace {

// Whether a number written with a fraction or an exponent (integer digits
// [ib, ie), fraction digits [fb, fe), both null without a fraction, and
// exponent exp) is exactly a whole number that fits int64; if so, *out is
// it. Decided on the digits, not on the double, which rounds
// (300.00000000000000001 is not whole, and 9007199254740993.0 is not
// 9007199254740992).
bool IntegralValue(bool neg, const char* ib, const char* ie, const char* fb, const char* fe, int64_t exp,
                   int64_t* out) {
  const size_t ni = static_cast<size_t>(ie - ib), n = ni + static_cast<size_t>(fe - fb);
  auto digit = [&](size_t k) { return k < ni ? ib[k] : fb[k - ni]; };
  size_t first = 0;
  while (first < n && digit(first) == '0') ++first;
  if (first == n) {
    *out = 0;
    return true;
  }
  size_t last = n;  // one past the last nonzero digit
  while (digit(last - 1) == '0') --last;
  // The value is digits [first, last) times 10^scale; exp is clamped far
  // below overflow, so this cannot overflow.
  const int64_t scale = exp - static_cast<int64_t>(fe - fb) + static_cast<int64_t>(n - last);
  if (scale < 0) return false;                                        // a nonzero digit after the point
  if (static_cast<int64_t>(last - first) + scale > 19) return false;  // 10^19 and up: not an int64
  uint64_t v = 0;
  for (size_t k = first; k < last; ++k) v = v * 10 + static_cast<uint64_t>(digit(k) - '0');
  for (int64_t k = 0; k < scale; ++k) v *= 10;  // at most 19 digits: fits uint64
  if (neg ? v > kTwoPow63 : v >= kTwoPow63) return false;
  *out = v == kTwoPow63 ? INT64_MIN : neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool Parser::ParseNumber(const char*& cur, uint32_t idx) {
  const char* const start = cur;
  const char* s = cur;
  const bool neg = *s == '-';
  if (neg) {
    ++s;
    if (s == end_) return Fail(s, "unexpected end of input");
    if (*s == 'I') return Fail(s, "NaN and Infinity are not allowed");
    if (!IsDigit(*s)) return Fail(s, "expected digit after '-'");
  }
  // Up to 19 significant digits go into mant exactly; `truncated` records
  // that more followed, which sends the number to the slow path.
  uint64_t mant = 0;
  int sig_digits = 0;
  bool truncated = false;
  int64_t frac_digits = 0;
  // Decimal exponent of the most significant nonzero digit, for telling
  // overflow from underflow when the slow path reports a range error.
  int64_t lead_exp = 0;
  bool seen_nonzero = false;
  const char* const int_begin = s;
  const char* frac_begin = nullptr;
  const char* frac_end = nullptr;
  if (*s == '0') {
    ++s;
    if (s < end_ && IsDigit(*s)) {
      return Fail(s - 1, "leading zeros are not allowed");
    }
  } else {
    seen_nonzero = true;
    while (s < end_ && IsDigit(*s)) {
      if (sig_digits < 19) {
        mant = mant * 10 + static_cast<uint64_t>(*s - '0');
        ++sig_digits;
      } else {
        truncated = true;
      }
      ++s;
    }
    lead_exp = (s - int_begin) - 1;
  }
  const char* const int_end = s;
  bool is_int = true;
  if (s < end_ && *s == '.') {
    is_int = false;
    ++s;
    if (s == end_ || !IsDigit(*s)) {
      return Fail(s, "expected digit after decimal point");
    }
    frac_begin = s;
    while (s < end_ && IsDigit(*s)) {
      const uint64_t d = static_cast<uint64_t>(*s - '0');
      if (!seen_nonzero && d != 0) {
        seen_nonzero = true;
        lead_exp = -((s - frac_begin) + 1);
      }
      if (seen_nonzero) {
        if (sig_digits < 19) {
          mant = mant * 10 + d;
          ++sig_digits;
          ++frac_digits;
        } else {
          truncated = true;
        }
      } else {
        ++frac_digits;  // Leading zeros only shift the exponent.
      }
      ++s;
    }
    frac_end = s;
  }
  int64_t exp = 0;
  if (s < end_ && (*s == 'e' || *s == 'E')) {
    is_int = false;
    ++s;
    bool exp_neg = false;
    if (s < end_ && (*s == '+' || *s == '-')) {
      exp_neg = *s == '-';
      ++s;
    }
    if (s == end_ || !IsDigit(*s)) return Fail(s, "expected digit in exponent");
    while (s < end_ && IsDigit(*s)) {
      // Clamp: far beyond anything an input of at most 4 GiB of digits can
      // offset, so the value over- or underflows regardless.
      if (exp < 100000000000000000) exp = exp * 10 + (*s - '0');
      ++s;
    }
    if (exp_neg) exp = -exp;
  }
  cur = s;
  Node& n = doc_.nodes_[idx];
  if (is_int && !truncated) {
    if (!neg && mant < kTwoPow63) {
      n.is_int = n.integral = true;
      n.i = static_cast<int64_t>(mant);
      n.num = static_cast<double>(mant);
      return true;
    }
    if (neg && mant <= kTwoPow63) {
      n.is_int = n.integral = true;
      n.i = mant == kTwoPow63 ? INT64_MIN : -static_cast<int64_t>(mant);
      n.num = -static_cast<double>(mant);  // "-0" gives -0.0.
      return true;
    }
  }
  if (!is_int) n.integral = IntegralValue(neg, int_begin, int_end, frac_begin, frac_end, exp, &n.i);
  if (!truncated) {
    if (mant == 0) {
      n.num = neg ? -0.0 : 0.0;
      return true;
    }
    // Both operands exact, so the one IEEE operation rounds correctly.
    const int64_t e10 = exp - frac_digits;
    if (mant <= kTwoPow53 && e10 >= -22 && e10 <= 22) {
      double v = static_cast<double>(mant);
      v = e10 < 0 ? v / kExactPow10[-e10] : v * kExactPow10[e10];
      n.num = neg ? -v : v;
      return true;
    }
  }
  double v;
  if (!SlowDouble(start, s, lead_exp + exp, neg, &v)) {
    return Fail(start, "number out of range");
  }
  doc_.nodes_[idx].num = v;
  return true;
}

// Correctly rounded conversion of a validated JSON number. Underflow yields a
// (signed) zero or subnormal; overflow fails.
bool Parser::SlowDouble(const char* start, const char* stop, int64_t sci_exp, bool neg, double* out) {
#if defined(__cpp_lib_to_chars)
  // Locale-independent and correctly rounded.
  double v = 0;
  const auto r = std::from_chars(start, stop, v);
  if (r.ec == std::errc::result_out_of_range) {
    if (sci_exp > 0) return false;
    v = neg ? -0.0 : 0.0;
  } else if (r.ec != std::errc() || r.ptr != stop) {
    return false;  // Unreachable: the grammar was validated already.
  }
  *out = v;
  return true;
#else
  // strtod needs a NUL-terminated copy, and its decimal point follows the C
  // locale, so substitute the locale's point for '.'.
  std::string& t = doc_.num_scratch_;
  t.assign(start, static_cast<size_t>(stop - start));
  const char* point = std::localeconv()->decimal_point;
  if (point != nullptr && std::strcmp(point, ".") != 0) {
    const size_t dot = t.find('.');
    if (dot != std::string::npos) t.replace(dot, 1, point);
  }
  char* parsed_end = nullptr;
  const double v = std::strtod(t.c_str(), &parsed_end);
  (void)sci_exp;
  (void)neg;
  if (parsed_end != t.c_str() + t.size()) return false;
  if (v == HUGE_VAL || v == -HUGE_VAL) return false;
  *out = v;
  return true;
#endif
}

bool Parser::ParseMemberKey(const char*& cur, uint32_t object_idx) {
  if (cur == end_) return Fail(cur, "unexpected end of input");
  if (*cur != '"') return Fail(cur, "expected string key in object");
  const uint32_t key = AddNode(Type::String, cur);
  if (key == Document::npos) return false;
  if (!ParseString(cur, key)) return false;
  ++doc_.nodes_[object_idx].count;
  cur = SkipWs(cur, end_);
  if (cur == end_) return Fail(cur, "unexpected end of input");
  if (*cur != ':') return Fail(cur, "expected ':' after object key");
  cur = SkipWs(cur + 1, end_);
  return true;
}

bool Parser::Run() {
  LocalVector<Node>& nodes = doc_.nodes_;
  LocalVector<uint32_t>& stack = doc_.stack_;
  nodes.clear();
  stack.clear();
  const size_t size = static_cast<size_t>(end_ - begin_);
  if (err_ != nullptr) err_->too_large = false;
  if (size > limits_.max_bytes) return FailTooLarge(size, limits_.max_bytes);
  if (size > kMaxAddressable) return FailTooLarge(size, kMaxAddressable);
  // Grow only: resizing down and up again would refill with zeros each time.
  if (doc_.buf_.size() < size) doc_.buf_.resize(size);
  out_ = doc_.buf_.data();

  const char* cur = SkipWs(begin_, end_);
  if (cur == end_) return Fail(begin_, "empty input");
  for (;;) {
    // Expecting a value at cur (whitespace already skipped).
    if (cur == end_) return Fail(cur, "unexpected end of input");
    const char c = *cur;
    switch (c) {
      case '[':
      case '{': {
        const bool is_array = c == '[';
        const uint32_t idx = AddNode(is_array ? Type::Array : Type::Object, cur);
        if (idx == Document::npos) return false;
        if (stack.size() >= limits_.max_depth) {
          return FailLimit(cur, "nesting deeper than ", limits_.max_depth, " levels");
        }
        stack.push_back(idx);
        cur = SkipWs(cur + 1, end_);
        if (cur < end_ && *cur == (is_array ? ']' : '}')) {
          stack.pop_back();
          nodes[idx].next = static_cast<uint32_t>(nodes.size());
          ++cur;
          break;  // An empty container is a complete value.
        }
        if (is_array) {
          nodes[idx].count = 1;
        } else if (!ParseMemberKey(cur, idx)) {
          return false;
        }
        continue;  // Parse the first element or member value.
      }
      case '"': {
        const uint32_t idx = AddNode(Type::String, cur);
        if (idx == Document::npos) return false;
        if (!ParseString(cur, idx)) return false;
        break;
      }
      case 't':
      case 'f':
      case 'n': {
        const char* word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        const size_t len = c == 'f' ? 5 : 4;
        if (static_cast<size_t>(end_ - cur) < len || std::memcmp(cur, word, len) != 0) {
          return Fail(cur, "invalid literal");
        }
        const uint32_t idx = AddNode(c == 't' ? Type::True : c == 'f' ? Type::False : Type::Null, cur);
        if (idx == Document::npos) return false;
        cur += len;
        break;
      }
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9': {
        const uint32_t idx = AddNode(Type::Number, cur);
        if (idx == Document::npos) return false;
        if (!ParseNumber(cur, idx)) return false;
        break;
      }
      case 'N':
      case 'I':
        return Fail(cur, "NaN and Infinity are not allowed");
      default:
        return Fail(cur, "expected a value");
    }
    // A value is complete: close finished containers until one wants another
    // element (back to the top of the loop) or the root is done.
    for (;;) {
      cur = SkipWs(cur, end_);
      if (stack.empty()) {
        if (cur != end_) return Fail(cur, "unexpected data after the value");
        return true;
      }
      if (cur == end_) return Fail(cur, "unexpected end of input");
      const uint32_t top = stack.back();
      const bool is_array = nodes[top].type == Type::Array;
      if (*cur == ',') {
        cur = SkipWs(cur + 1, end_);
        if (is_array) {
          if (cur < end_ && *cur == ']') {
            return Fail(cur, "trailing comma in array");
          }
          ++nodes[top].count;
        } else {
          if (cur < end_ && *cur == '}') {
            return Fail(cur, "trailing comma in object");
          }
          if (!ParseMemberKey(cur, top)) return false;
        }
        break;
      }
      if (*cur == (is_array ? ']' : '}')) {
        nodes[top].next = static_cast<uint32_t>(nodes.size());
        stack.pop_back();
        ++cur;
        continue;
      }
      return Fail(cur,
                  is_array ? "expected ',' or ']' after array element" : "expected ',' or '}' after object member");
    }
  }
}

}  // namespace internal

bool Document::parse(std::string_view input, const Limits& limits, Error* err) {
  return internal::Parser(*this, input, limits, err).Run();
}

uint32_t Document::find(uint32_t object_index, std::string_view key) const {
  if (object_index >= nodes_.size()) return npos;
  const Node& object = nodes_[object_index];
  if (object.type != Type::Object) return npos;
  uint32_t m = object_index + 1;
  for (uint32_t k = 0; k < object.count; ++k) {
    const Node& name = nodes_[m];
    if (name.len == key.size() && (key.empty() || std::memcmp(name.str, key.data(), key.size()) == 0)) {
      return m + 1;
    }
    m = nodes_[m + 1].next;
  }
  return npos;
}

}  // namespace gavel::json
