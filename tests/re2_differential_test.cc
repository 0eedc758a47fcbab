// Differential test of content screening against RE2: for every pattern of
// the standard library (std.pii, std.secrets, std.injection), of the example
// policies and of a set of extra regexes exercising the syntax a policy may
// use, gavel's detection (one Hyperscan scan over the normalized text) must
// agree with RE2's unanchored search of the same normalized bytes, on a
// generated corpus: the standard library's true positives and near misses,
// random mutations of them, random members of each regex and their mutations,
// strings drawn from each pattern's characters, and texts with newlines,
// multibyte UTF-8 and invisible characters.
//
// Validators (luhn, ssn, iban, entropy) exist only in gavel, so the patterns
// are compiled here without them: the comparison is of raw regex detection.
// Case folding (`caseless`) is kept. RE2 reads the bytes as Latin-1 (gavel
// matches bytes, never UTF-8 characters); RE2 then also folds the case of
// Latin-1 letters (bytes 0xC0-0xFE) where gavel folds ASCII only, so a
// caseless pattern with a byte outside ASCII is listed and skipped, like one
// RE2 cannot compile. Hyperscan's `\s` also matches the vertical tab (0x0B),
// RE2's does not; gavel keeps Hyperscan's reading (a vertical tab must not
// split a phrase past a pattern), so the RE2 side spells `\s`/`\S` out. A
// mismatch prints the pattern, the text (escaped), both
// answers and a shrunken text that still disagrees. Fixed seed: a failure
// reproduces exactly.
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/compiler.h"
#include "engine/compiler/screen_compile.h"
#include "engine/runtime/engine.h"
#include "engine/screen/normalize.h"
#include "engine/screen/screen.h"

namespace gavel {
namespace {

// `\s` as Hyperscan reads it, for RE2: [\t\n\v\f\r ] (inside a class, its
// members), and `\S` as its complement.
std::string SpellOutSpace(const std::string& re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char n = re[++i];
      if (n == 's') {
        out += in_class ? "\\t\\n\\v\\f\\r " : "[\\t\\n\\v\\f\\r ]";
      } else if (n == 'S' && !in_class) {
        out += "[^\\t\\n\\v\\f\\r ]";
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Deterministic randomness (SplitMix64: the same sequence on every platform).

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool Chance(int percent) { return Below(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  uint64_t s_;
};

// ---------------------------------------------------------------------------
// Patterns under test.

struct Pat {
  std::string source;
  bool regex = false;
  bool caseless = false;
  std::string origin;  // where the pattern comes from, for messages
};

// The patterns of a compiled program, labelled by the first set that holds
// them (a module's `any` set only when no other does).
void CollectPatterns(const Program& p, const std::string& where, std::vector<Pat>* out) {
  std::vector<std::string> label(p.screen_patterns.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (const PatternSet& ps : p.pattern_sets) {
      const bool any = ps.name.size() > 4 && ps.name.compare(ps.name.size() - 4, 4, ".any") == 0;
      if (any != (pass == 1)) continue;
      for (size_t k = 0; k < ps.ids.size(); ++k)
        if (label[ps.ids[k]].empty()) label[ps.ids[k]] = where + ps.name + "[" + std::to_string(k) + "]";
    }
  }
  for (size_t i = 0; i < p.screen_patterns.size(); ++i) {
    const ScreenPattern& sp = p.screen_patterns[i];
    out->push_back(Pat{sp.source, sp.regex, sp.caseless, label[i]});
  }
}

// Extra regexes and literals: classes, alternation, bounded repeats, word
// boundaries, anchors, inline and per-pattern case folding, the dot and
// newlines, hex escapes, and literals full of regex metacharacters.
struct Extra {
  const char* source;
  bool regex;
  bool caseless;
};
const Extra kExtras[] = {
    {R"([a-c]x[^a-z]y)", true, false},
    {R"(foo|bar|baz)", true, false},
    {R"(ab{2,4}c)", true, false},
    {R"((?:ab)+c)", true, false},
    {R"(colou?r\d{0,2}!)", true, false},
    {R"(\bword\b)", true, false},
    {R"(\Bing\b)", true, false},
    {R"(\b\d{3}\b)", true, false},
    {R"(^start)", true, false},
    {R"(end$)", true, false},
    {R"(^[a-z]+ [0-9]+$)", true, false},
    {R"(\d{3}(?:-\d{4})?$)", true, false},
    {R"(\Aabc)", true, false},
    {R"(xyz\z)", true, false},
    {R"((?i)MiXeD cAsE)", true, false},
    {R"(Pre(?i:FIX)post)", true, false},
    {R"(CaseLess\d+x)", true, true},
    {R"(a.c)", true, false},
    {R"(x.{2,5}y)", true, false},
    {R"((?s)p.q)", true, false},
    {R"((?m)^item\d$)", true, false},
    {R"([^\n]{3}\n[^\n]{2})", true, false},
    {R"(\x41\x42[\x30-\x39])", true, false},
    {R"(\.\*\+\?\(\)\[\]\{\}\|\^\$\\)", true, false},
    {R"(a\/b)", true, false},
    {R"(\s+tab\tend)", true, false},
    {R"(a\sb)", true, false},
    {R"(\S\s\S)", true, false},
    {R"(\w+@\w+)", true, false},
    {R"(\W\d\W)", true, false},
    {R"([\d\s]{4}x)", true, false},
    {R"([-_.@]{2}[[:alpha:]])", true, false},
    {R"((?:a|ab)(?:c|bcd)e)", true, false},
    {R"(z{3,})", true, true},
    {R"(caf[eé])", true, false},
    {"a.b*c", false, false},
    {"(x+y)?[z]|{1}^$\\", false, false},
    {"1+1=2? /o\\ $5", false, false},
    {"Case Folded.Literal", false, true},
    {"tab\there", false, false},
};

// Text as a C-like string for messages.
std::string Escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------
// Random members of a regex. A small parser of the syntax policies use
// (literals, escapes, classes, groups, alternation, quantifiers, anchors and
// inline flags) builds a tree; generation walks it, ignoring assertions (RE2
// decides afterwards whether a generated text really matches). A regex it
// cannot read simply gets no generated members.

struct Rx {
  enum Kind { kSet, kSeq, kAlt, kRep, kAssert };
  Kind kind = kSeq;
  std::bitset<256> set;  // kSet
  std::vector<Rx> kids;  // kSeq, kAlt: the parts; kRep: the body
  int min = 0, max = 0;  // kRep; max < 0: unbounded
};

class RxParser {
 public:
  RxParser(const std::string& s, bool caseless) : s_(s), caseless_(caseless) {}

  bool Parse(Rx* out) {
    *out = Alt();
    return ok_ && i_ == s_.size();
  }

 private:
  bool More() const { return ok_ && i_ < s_.size(); }

  Rx Alt() {
    Rx alt;
    alt.kind = Rx::kAlt;
    alt.kids.push_back(Seq());
    while (More() && s_[i_] == '|') {
      ++i_;
      alt.kids.push_back(Seq());
    }
    if (alt.kids.size() == 1) return alt.kids[0];
    return alt;
  }

  Rx Seq() {
    Rx seq;
    seq.kind = Rx::kSeq;
    while (More() && s_[i_] != '|' && s_[i_] != ')') {
      Rx atom;
      if (!Atom(&atom)) continue;
      Quantify(&atom);
      seq.kids.push_back(std::move(atom));
    }
    return seq;
  }

  Rx Char(unsigned char c) {
    Rx r;
    r.kind = Rx::kSet;
    r.set.set(c);
    Fold(&r.set);
    return r;
  }

  void Fold(std::bitset<256>* set) const {
    if (!caseless_) return;
    for (int c = 'a'; c <= 'z'; ++c)
      if ((*set)[c] || (*set)[c - 32]) set->set(c).set(c - 32);
  }

  static std::bitset<256> Range(int lo, int hi) {
    std::bitset<256> b;
    for (int c = lo; c <= hi; ++c) b.set(c);
    return b;
  }
  static std::bitset<256> Digits() { return Range('0', '9'); }
  static std::bitset<256> Word() { return Range('a', 'z') | Range('A', 'Z') | Digits() | Range('_', '_'); }
  static std::bitset<256> Space() {
    std::bitset<256> b;
    for (char c : std::string(" \t\n\r\f\v")) b.set(static_cast<unsigned char>(c));
    return b;
  }

  int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // After a backslash: a set (class escape or one character), or an assertion
  // (*assertion set) outside classes.
  std::bitset<256> Escape(bool* assertion) {
    *assertion = false;
    if (!More()) {
      ok_ = false;
      return {};
    }
    const char c = s_[i_++];
    switch (c) {
      case 'd':
        return Digits();
      case 'D':
        return ~Digits();
      case 'w':
        return Word();
      case 'W':
        return ~Word();
      case 's':
        return Space();
      case 'S':
        return ~Space();
      case 'b':
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
        *assertion = true;
        return {};
      case 'n':
        return Range('\n', '\n');
      case 't':
        return Range('\t', '\t');
      case 'r':
        return Range('\r', '\r');
      case 'f':
        return Range('\f', '\f');
      case 'v':
        return Range('\v', '\v');
      case 'e':
        return Range(0x1b, 0x1b);
      case 'a':
        return Range(0x07, 0x07);
      case 'x': {
        int v = 0;
        if (More() && s_[i_] == '{') {
          ++i_;
          while (More() && s_[i_] != '}' && Hex(s_[i_]) >= 0) v = v * 16 + Hex(s_[i_++]);
          if (!More() || s_[i_] != '}' || v > 255) ok_ = false;
          ++i_;
        } else {
          for (int k = 0; k < 2 && More() && Hex(s_[i_]) >= 0; ++k) v = v * 16 + Hex(s_[i_++]);
        }
        return Range(v, v);
      }
      default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ok_ = false;
        return Range(static_cast<unsigned char>(c), static_cast<unsigned char>(c));
    }
  }

  std::bitset<256> Class() {
    std::bitset<256> set;
    bool negate = false;
    if (More() && s_[i_] == '^') {
      negate = true;
      ++i_;
    }
    bool first = true;
    while (More() && (s_[i_] != ']' || first)) {
      first = false;
      if (s_.compare(i_, 2, "[:") == 0) {
        const size_t end = s_.find(":]", i_ + 2);
        if (end == std::string::npos) {
          ok_ = false;
          break;
        }
        const std::string name = s_.substr(i_ + 2, end - i_ - 2);
        i_ = end + 2;
        if (name == "digit") {
          set |= Digits();
        } else if (name == "alpha") {
          set |= Range('a', 'z') | Range('A', 'Z');
        } else if (name == "alnum") {
          set |= Range('a', 'z') | Range('A', 'Z') | Digits();
        } else if (name == "space") {
          set |= Space();
        } else if (name == "upper") {
          set |= Range('A', 'Z');
        } else if (name == "lower") {
          set |= Range('a', 'z');
        } else if (name == "xdigit") {
          set |= Digits() | Range('a', 'f') | Range('A', 'F');
        } else if (name == "punct") {
          for (int c = 0x21; c < 0x7f; ++c)
            if (!Word()[c] || c == '_') set.set(c);
        } else {
          ok_ = false;
        }
        continue;
      }
      std::bitset<256> item;
      int lo = -1;
      if (s_[i_] == '\\') {
        ++i_;
        bool assertion = false;
        item = Escape(&assertion);
        if (assertion) ok_ = false;
        if (item.count() == 1)
          for (int c = 0; c < 256; ++c)
            if (item[c]) lo = c;
      } else {
        lo = static_cast<unsigned char>(s_[i_++]);
        item.set(lo);
      }
      // A range lo-hi, unless the '-' ends the class.
      if (lo >= 0 && i_ + 1 < s_.size() && s_[i_] == '-' && s_[i_ + 1] != ']') {
        ++i_;
        int hi;
        if (s_[i_] == '\\') {
          ++i_;
          bool assertion = false;
          std::bitset<256> h = Escape(&assertion);
          hi = -1;
          for (int c = 0; c < 256; ++c)
            if (h[c]) hi = c;
          if (assertion || h.count() != 1) ok_ = false;
        } else {
          hi = static_cast<unsigned char>(s_[i_++]);
        }
        if (hi < lo) ok_ = false;
        if (ok_) item = Range(lo, hi);
      }
      set |= item;
    }
    if (!More() || s_[i_] != ']') {
      ok_ = false;
      return set;
    }
    ++i_;
    Fold(&set);
    return negate ? ~set : set;
  }

  // One atom; false when the text read was not one (an inline flag group).
  bool Atom(Rx* out) {
    const char c = s_[i_];
    if (c == '(') {
      ++i_;
      const bool saved = caseless_;
      const bool saved_dotall = dotall_;
      if (More() && s_[i_] == '?') {
        ++i_;
        // (?:, or flags (?i) (?i:...) (?s-i) ...
        bool on = true, changed = false;
        while (More() && s_[i_] != ':' && s_[i_] != ')') {
          const char f = s_[i_++];
          if (f == '-') {
            on = false;
          } else if (f == 'i') {
            caseless_ = on;
          } else if (f == 's') {
            dotall_ = on;
          } else if (f != 'm') {
            ok_ = false;
          }
          changed = true;
        }
        if (!More()) {
          ok_ = false;
          return false;
        }
        if (s_[i_] == ')') {  // flags for the rest of the enclosing group
          ++i_;
          if (!changed) ok_ = false;
          return false;
        }
        ++i_;  // ':'
      }
      *out = Alt();
      if (!More() || s_[i_] != ')') {
        ok_ = false;
        return false;
      }
      ++i_;
      caseless_ = saved;
      dotall_ = saved_dotall;
      return true;
    }
    ++i_;
    out->kind = Rx::kSet;
    switch (c) {
      case '[':
        out->set = Class();
        return true;
      case '.':
        out->set.set();
        if (!dotall_) out->set.reset('\n');
        return true;
      case '^':
      case '$':
        out->kind = Rx::kAssert;
        return true;
      case '\\': {
        bool assertion = false;
        out->set = Escape(&assertion);
        if (assertion) {
          out->kind = Rx::kAssert;
        } else {
          Fold(&out->set);
        }
        return true;
      }
      case '*':
      case '+':
      case '?':
        ok_ = false;
        return false;
      default:
        *out = Char(static_cast<unsigned char>(c));
        return true;
    }
  }

  // A bounded repeat {n}, {n,} or {n,m} at i_; anything else is literal text.
  bool Braces(int* min, int* max) {
    size_t j = i_ + 1;
    auto number = [&](int* v) {
      const size_t start = j;
      *v = 0;
      while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9') *v = *v * 10 + (s_[j++] - '0');
      return j > start;
    };
    if (!number(min)) return false;
    *max = *min;
    if (j < s_.size() && s_[j] == ',') {
      ++j;
      if (!number(max)) *max = -1;
    }
    if (j >= s_.size() || s_[j] != '}') return false;
    i_ = j + 1;
    return true;
  }

  void Quantify(Rx* atom) {
    while (More()) {
      int min, max;
      const char c = s_[i_];
      if (c == '?') {
        min = 0, max = 1, ++i_;
      } else if (c == '*') {
        min = 0, max = -1, ++i_;
      } else if (c == '+') {
        min = 1, max = -1, ++i_;
      } else if (c != '{' || !Braces(&min, &max)) {
        return;
      }
      if (More() && s_[i_] == '?') ++i_;  // lazy: the same members
      Rx rep;
      rep.kind = Rx::kRep;
      rep.min = min;
      rep.max = max;
      rep.kids.push_back(std::move(*atom));
      *atom = std::move(rep);
    }
  }

  const std::string& s_;
  size_t i_ = 0;
  bool caseless_;
  bool dotall_ = false;
  bool ok_ = true;
};

// One byte of a set, mostly printable ASCII when the set has some (a dot or a
// negated class), mostly a space for a whitespace class.
unsigned char PickByte(const std::bitset<256>& set, Rng& rng) {
  if (set.none()) return 'x';
  if (set[' '] && set['\t'] && !set['a'] && rng.Chance(60)) return ' ';
  std::vector<unsigned char> printable, all;
  for (int c = 0; c < 256; ++c) {
    if (!set[c]) continue;
    all.push_back(static_cast<unsigned char>(c));
    if (c >= 0x20 && c < 0x7f) printable.push_back(static_cast<unsigned char>(c));
  }
  if (!printable.empty() && rng.Chance(92)) return rng.Pick(printable);
  return rng.Pick(all);
}

void Generate(const Rx& r, Rng& rng, std::string* out) {
  switch (r.kind) {
    case Rx::kSet:
      out->push_back(static_cast<char>(PickByte(r.set, rng)));
      break;
    case Rx::kSeq:
      for (const Rx& k : r.kids) Generate(k, rng, out);
      break;
    case Rx::kAlt:
      Generate(r.kids[rng.Below(r.kids.size())], rng, out);
      break;
    case Rx::kRep: {
      int n = r.min;
      const int room = r.max < 0 ? 4 : std::min(r.max - r.min, 4);
      if (r.max >= 0 && r.max - r.min <= 64 && rng.Chance(20)) {
        n = r.max;
      } else if (room > 0) {
        n += static_cast<int>(rng.Below(static_cast<size_t>(room) + 1));
      }
      for (int k = 0; k < n; ++k) Generate(r.kids[0], rng, out);
      break;
    }
    case Rx::kAssert:
      break;
  }
}

void CollectAlphabet(const Rx& r, std::set<unsigned char>* out) {
  if (r.kind == Rx::kSet && r.set.count() <= 80) {
    for (int c = 0; c < 256; ++c)
      if (r.set[c]) out->insert(static_cast<unsigned char>(c));
  }
  for (const Rx& k : r.kids) CollectAlphabet(k, out);
}

// ---------------------------------------------------------------------------
// Corpus building blocks.

const std::vector<std::string> kProse = {
    "Hello, could you help me with this?",
    "The quarterly report is attached below.",
    "please summarize the following text:",
    "Thanks!",
    "ignore the typo in the previous line",
    "my order number is",
    "see https://example.com/a/b?x=1&y=2 for details",
    "Call me tomorrow at noon.",
    "the build failed with exit code 137",
    "café au lait, naïve résumé",
    "Привет, как дела?",
    "数据 is data",
};

// Characters that change, vanish or widen under normalization, and other
// bytes outside ASCII: zero-width space/joiner, byte-order mark, soft hyphen,
// no-break and ideographic spaces, a full-width digit, a Cyrillic a, an
// accented letter, an emoji, a mathematical bold letter, a lone continuation
// byte, a truncated sequence.
const std::vector<std::string> kSpecial = {
    "\xE2\x80\x8B", "\xE2\x80\x8D", "\xEF\xBB\xBF",     "\xC2\xAD",         "\xC2\xA0", "\xE3\x80\x80", "\xEF\xBC\x94",
    "\xD0\xB0",     "\xC3\xA9",     "\xF0\x9F\x98\x80", "\xF0\x9D\x90\x9A", "\x80",     "\xC3",         "\xFF",
};

const std::vector<std::string> kContextBefore = {
    "", "", "", " ", "x", "_", "9", "see ", "\n", "(", "\"", "a-", "\xC3\xA9 ", "\xE2\x80\x8B", "+", "."};
const std::vector<std::string> kContextAfter = {"",   "",          "",     " ", ".",  "x", "7",        "_",
                                                "\n", " and more", "\r\n", ")", "\v", "-", "\xC2\xA0", ":"};

// Whitespace and anchors at the edges, invisible and look-alike characters;
// each is also screened with a newline appended.
const std::vector<std::string> kEdgeTexts = {
    "",     " ",          "\v",    "\f",           "\r",       "start", "\nstart",
    "end",  "the end",    "end\r", "123",          "555-1234", "abc",   "xyz",
    "a\nc", "a\rc",       "p\nq",  "item1\nitem2", "a\vb",     "a\fb",  "x \v tab\tend",
    "word", "MIXED CASE", "cafe",  "a.b*c",        "a.bbc",    "A.B*C",
};
const std::vector<std::string> kEdgeUtf8 = {
    "\xE2\x80\x8Bword", "sta\xC2\xADrt", "\xEF\xBD\x93tart", "mixed\xE2\x80\x8B case", "caf\xC3\xA9",
};

const char kSeparators[] = " -._:/@\t\n\v\f";

std::string FullWidth(char c) {
  // U+FF01..U+FF5E mirror ASCII 0x21..0x7E.
  const unsigned cp = 0xFF01 + static_cast<unsigned char>(c) - 0x21;
  std::string out;
  out += static_cast<char>(0xE0 | (cp >> 12));
  out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out += static_cast<char>(0x80 | (cp & 0x3F));
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

char FlipCase(char c) {
  if (c >= 'a' && c <= 'z') return static_cast<char>(c - 32);
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c + 32);
  return c;
}

// One random edit of s; `alphabet` biases inserted and replaced characters.
void MutateOnce(std::string* s, const std::string& alphabet, Rng& rng) {
  auto any_char = [&]() -> char {
    if (!alphabet.empty() && rng.Chance(75)) return alphabet[rng.Below(alphabet.size())];
    return static_cast<char>(0x20 + rng.Below(0x5f));
  };
  auto find_pos = [&](bool (*pred)(char)) -> size_t {
    std::vector<size_t> at;
    for (size_t i = 0; i < s->size(); ++i)
      if (pred((*s)[i])) at.push_back(i);
    return at.empty() ? std::string::npos : rng.Pick(at);
  };
  const size_t n = s->size();
  const size_t pos = n ? rng.Below(n) : 0;
  switch (rng.Below(14)) {
    case 0:  // insert
      s->insert(s->begin() + static_cast<ptrdiff_t>(rng.Below(n + 1)), any_char());
      break;
    case 1:  // delete
      if (n) s->erase(pos, 1);
      break;
    case 2:  // replace
      if (n) (*s)[pos] = any_char();
      break;
    case 3:  // duplicate a character or a short run
      if (n) {
        const size_t len = 1 + rng.Below(std::min<size_t>(4, n - pos));
        s->insert(pos, s->substr(pos, len));
      }
      break;
    case 4:  // flip the case of one letter
      if (size_t p = find_pos(IsAlpha); p != std::string::npos) (*s)[p] = FlipCase((*s)[p]);
      break;
    case 5:  // the whole text upper or lower case
      if (rng.Chance(50)) {
        for (char& c : *s)
          if (c >= 'a' && c <= 'z') c = FlipCase(c);
      } else {
        for (char& c : *s)
          if (c >= 'A' && c <= 'Z') c = FlipCase(c);
      }
      break;
    case 6:  // change a digit
      if (size_t p = find_pos(IsDigit); p != std::string::npos) (*s)[p] = static_cast<char>('0' + rng.Below(10));
      break;
    case 7: {  // change a separator
      std::vector<size_t> at;
      for (size_t i = 0; i < n; ++i)
        if (std::string(kSeparators).find((*s)[i]) != std::string::npos) at.push_back(i);
      if (!at.empty()) (*s)[rng.Pick(at)] = kSeparators[rng.Below(sizeof kSeparators - 1)];
      break;
    }
    case 8:  // truncate at either end
      if (n > 1) {
        if (rng.Chance(50)) {
          s->resize(1 + rng.Below(n - 1));
        } else {
          s->erase(0, 1 + rng.Below(n - 1));
        }
      }
      break;
    case 9:  // an invisible or look-alike character, or a stray byte
      s->insert(rng.Below(n + 1), rng.Pick(kSpecial));
      break;
    case 10:  // a letter or digit written full-width
      if (size_t p = find_pos([](char c) { return IsAlpha(c) || IsDigit(c); }); p != std::string::npos)
        s->replace(p, 1, FullWidth((*s)[p]));
      break;
    case 11:  // a newline inside or at the end
      if (rng.Chance(50)) {
        s->push_back('\n');
      } else {
        s->insert(rng.Below(n + 1), "\n");
      }
      break;
    case 12:  // a vertical tab, form feed or carriage return for a space
      if (size_t p = find_pos([](char c) { return c == ' '; }); p != std::string::npos)
        (*s)[p] = "\v\f\r\t"[rng.Below(4)];
      break;
    default:  // swap two neighbours
      if (n > 1) {
        const size_t p = rng.Below(n - 1);
        std::swap((*s)[p], (*s)[p + 1]);
      }
      break;
  }
}

std::string Mutate(std::string s, const std::string& alphabet, Rng& rng) {
  const size_t edits = 1 + rng.Below(3);
  for (size_t k = 0; k < edits; ++k) MutateOnce(&s, alphabet, rng);
  return s;
}

// ---------------------------------------------------------------------------
// The two sides.

class Comparison {
 public:
  // Compiles `patterns` into one gavel policy (one set per pattern, no
  // validators) and one RE2 per pattern.
  void Build(const std::vector<Pat>& patterns) {
    std::string text = "package re2diff\n";
    for (size_t i = 0; i < patterns.size(); ++i) {
      const Pat& p = patterns[i];
      text += "patterns p" + std::to_string(i) + " { ";
      text += p.regex ? "/" + p.source + "/" : QuoteString(p.source);
      text += p.caseless ? " caseless }\n" : " }\n";
    }
    CompileResult r = CompileSource("re2_differential.policy", text);
    ASSERT_TRUE(r.ok()) << r.RenderDiagnostics();
    ids_.assign(patterns.size(), UINT32_MAX);
    for (const PatternSet& ps : r.program->pattern_sets) {
      if (ps.name.size() < 2 || ps.name[0] != 'p' || ps.ids.size() != 1) continue;
      const size_t i = std::stoul(ps.name.substr(1));
      if (i < ids_.size()) ids_[i] = ps.ids[0];
    }
    for (size_t i = 0; i < patterns.size(); ++i) ASSERT_NE(ids_[i], UINT32_MAX) << patterns[i].origin;
    engine_ = Engine::FromProgram(std::move(r.program));
    ASSERT_TRUE(engine_);

    for (const Pat& p : patterns) {
      RE2::Options o;
      o.set_encoding(RE2::Options::EncodingLatin1);
      o.set_case_sensitive(!p.caseless);
      o.set_log_errors(false);
      o.set_max_mem(int64_t{256} << 20);
      auto re = std::make_unique<RE2>(SpellOutSpace(ScreenExpression(p.source, p.regex)), o);
      const bool latin1_folding =
          p.caseless && std::any_of(p.source.begin(), p.source.end(), [](char c) { return c & 0x80; });
      if (!re->ok() || latin1_folding) {
        const std::string why = latin1_folding ? "caseless with bytes outside ASCII" : re->error();
        skipped_.push_back(p.origin + " " + (p.regex ? "/" + p.source + "/" : Escape(p.source)) + ": " + why);
        re.reset();
      }
      re2_.push_back(std::move(re));
    }
  }

  // gavel's answer for every pattern (bit i for pattern i).
  std::vector<bool> Gavel(const std::string& text) {
    std::string err;
    EXPECT_TRUE(state_.Begin(engine_->program().screen_patterns, engine_->program().screen, &err)) << err;
    const char* serr = nullptr;
    const uint64_t* bits = state_.Scan(text.data(), static_cast<uint32_t>(text.size()), &serr);
    std::vector<bool> out(ids_.size(), false);
    EXPECT_TRUE(bits) << (serr ? serr : "") << " on " << Escape(text);
    if (!bits) return out;
    for (size_t i = 0; i < ids_.size(); ++i) out[i] = bits[ids_[i] / 64] >> (ids_[i] % 64) & 1;
    return out;
  }

  // The text RE2 searches: normalized as gavel normalizes it.
  std::string Normalized(const std::string& text) {
    if (NormalizeForScreening(text.data(), text.size(), &norm_)) return norm_.text;
    return text;
  }

  bool Re2(size_t i, const std::string& normalized) const { return RE2::PartialMatch(normalized, *re2_[i]); }
  bool compared(size_t i) const { return re2_[i] != nullptr; }
  const std::vector<std::string>& skipped() const { return skipped_; }

  bool Disagrees(size_t i, const std::string& text) { return Gavel(text)[i] != Re2(i, Normalized(text)); }

  // A shorter text on which pattern i still disagrees: single bytes, then
  // runs, removed greedily.
  std::string Shrink(size_t i, std::string text) {
    for (size_t run : {size_t{8}, size_t{4}, size_t{2}, size_t{1}}) {
      bool progress = true;
      while (progress) {
        progress = false;
        for (size_t p = 0; p + run <= text.size(); ++p) {
          std::string t = text;
          t.erase(p, run);
          if (Disagrees(i, t)) {
            text = t;
            progress = true;
            --p;  // retry the same offset (p wraps to npos then back to 0)
          }
        }
      }
    }
    return text;
  }

 private:
  std::shared_ptr<const Engine> engine_;
  ScanState state_;
  NormalizedText norm_;
  std::vector<uint32_t> ids_;
  std::vector<std::unique_ptr<RE2>> re2_;
  std::vector<std::string> skipped_;
};

// ---------------------------------------------------------------------------

std::vector<Pat> AllPatterns() {
  std::vector<Pat> raw;
  {
    CompileResult r = CompileSource(
        "stdlib_modules.policy", "package re2diff.stdlib\nimport std.pii\nimport std.secrets\nimport std.injection\n");
    EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
    if (r.ok()) CollectPatterns(*r.program, "", &raw);
  }
  std::vector<fs::path> policies;
  for (const auto& e : fs::directory_iterator(fs::path(GAVEL_SOURCE_DIR) / "policies"))
    if (e.path().extension() == ".policy") policies.push_back(e.path());
  std::sort(policies.begin(), policies.end());
  EXPECT_FALSE(policies.empty());
  for (const fs::path& path : policies) {
    CompileResult r = CompileFile(path.string());
    EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
    if (r.ok()) CollectPatterns(*r.program, path.filename().string() + ": ", &raw);
  }
  for (size_t i = 0; i < sizeof kExtras / sizeof kExtras[0]; ++i)
    raw.push_back(Pat{kExtras[i].source, kExtras[i].regex, kExtras[i].caseless, "extra[" + std::to_string(i) + "]"});
  // One entry per distinct (source, regex, caseless): validators are dropped.
  std::vector<Pat> out;
  std::set<std::tuple<std::string, bool, bool>> seen;
  for (Pat& p : raw)
    if (seen.insert({p.source, p.regex, p.caseless}).second) out.push_back(std::move(p));
  return out;
}

// The standard library's corpus: every `match` and `no_match` text.
std::vector<std::string> StdlibCases() {
  std::vector<std::string> out;
  const fs::path path = fs::path(GAVEL_SOURCE_DIR) / "tests" / "screen" / "stdlib_cases.yaml";
  YAML::Node root = YAML::LoadFile(path.string());
  for (const auto& set : root)
    for (const char* key : {"match", "no_match"})
      if (set.second[key])
        for (const auto& t : set.second[key]) out.push_back(t.as<std::string>());
  return out;
}

struct PatInfo {
  Rx rx;
  bool generates = false;
  std::string alphabet;  // characters the pattern is made of, with repeats as weights
};

PatInfo Analyze(const Pat& p) {
  PatInfo info;
  std::set<unsigned char> chars;
  if (p.regex) {
    RxParser parser(p.source, p.caseless);
    info.generates = parser.Parse(&info.rx);
    if (info.generates) CollectAlphabet(info.rx, &chars);
  } else {
    info.generates = true;
    info.rx.kind = Rx::kSeq;
    for (unsigned char c : p.source) {
      Rx r;
      r.kind = Rx::kSet;
      r.set.set(c);
      if (p.caseless && IsAlpha(static_cast<char>(c))) r.set.set(static_cast<unsigned char>(FlipCase(c)));
      info.rx.kids.push_back(r);
      chars.insert(c);
    }
  }
  for (unsigned char c : chars) info.alphabet += static_cast<char>(c);
  // Weighted toward the characters the pattern spells out literally.
  for (char c : p.source)
    if (c != '\\' && c != '[' && c != ']' && c != '(' && c != ')' && c != '|' && c != '?' && c != '*' && c != '+')
      info.alphabet += c;
  return info;
}

TEST(Re2Differential, ScreeningAgreesWithRe2) {
  const std::vector<Pat> patterns = AllPatterns();
  ASSERT_GT(patterns.size(), 40u);
  Comparison cmp;
  cmp.Build(patterns);
  if (HasFatalFailure()) return;
  for (const std::string& s : cmp.skipped()) std::printf("RE2 cannot compile, skipped: %s\n", s.c_str());

  Rng rng(0x6A7E1D1FF5EEDull);
  std::vector<PatInfo> info;
  for (const Pat& p : patterns) info.push_back(Analyze(p));
  for (size_t i = 0; i < patterns.size(); ++i)
    if (patterns[i].regex && !info[i].generates)
      std::printf("note: no generated members for %s (syntax the generator does not read)\n",
                  patterns[i].origin.c_str());

  // --- corpus ---
  std::vector<std::string> corpus;
  const std::vector<std::string> cases = StdlibCases();
  EXPECT_GT(cases.size(), 100u);
  const std::string all_alphabet = "0123456789abcdefABCDEF-_.@:/ +=";
  for (const std::string& c : cases) {
    corpus.push_back(c);
    for (int k = 0; k < 2; ++k) corpus.push_back(Mutate(c, all_alphabet, rng));
    if (rng.Chance(40)) {
      const std::string& prose = rng.Pick(kProse);
      const char* glue = rng.Pick(std::vector<const char*>{" ", "\n", "", ". ", "\t"});
      corpus.push_back(rng.Chance(50) ? prose + glue + c : c + glue + prose);
    }
  }
  // Two texts joined, and texts that end in a newline.
  for (int k = 0; k < 150; ++k) corpus.push_back(rng.Pick(cases) + rng.Pick(kContextAfter) + rng.Pick(cases));
  for (int k = 0; k < 100; ++k)
    corpus.push_back(rng.Pick(cases) + rng.Pick(std::vector<std::string>{"\n", "\r\n", "\n\n"}));

  for (size_t i = 0; i < patterns.size(); ++i) {
    const PatInfo& pi = info[i];
    std::vector<std::string> members;
    if (pi.generates) {
      for (int k = 0; k < 6; ++k) {
        std::string m;
        Generate(pi.rx, rng, &m);
        members.push_back(m);
        corpus.push_back(rng.Pick(kContextBefore) + m + rng.Pick(kContextAfter));
      }
      // Near misses: edited members, and a member's prefix followed by characters of the pattern.
      for (int k = 0; k < 6; ++k) corpus.push_back(Mutate(rng.Pick(members), pi.alphabet, rng));
      for (int k = 0; k < 2; ++k) {
        const std::string& m = rng.Pick(members);
        std::string t = m.substr(0, m.empty() ? 0 : rng.Below(m.size()));
        const size_t tail = 1 + rng.Below(12);
        for (size_t j = 0; j < tail; ++j) t += pi.alphabet.empty() ? 'x' : pi.alphabet[rng.Below(pi.alphabet.size())];
        corpus.push_back(t);
      }
      // Alone (for anchored patterns), alone before a final newline, inside
      // prose with a newline before or after.
      corpus.push_back(members[0]);
      corpus.push_back(members[1] + "\n");
      corpus.push_back(rng.Pick(kProse) + "\n" + rng.Pick(members) + "\n");
      corpus.push_back(rng.Pick(members) + "\n" + rng.Pick(kProse));
    }
    // Strings of the pattern's own characters.
    const std::string alphabet = pi.alphabet.empty() ? all_alphabet : pi.alphabet;
    for (int k = 0; k < 4; ++k) {
      std::string t;
      const size_t len = 3 + rng.Below(40);
      for (size_t j = 0; j < len; ++j) {
        if (rng.Chance(85)) {
          t += alphabet[rng.Below(alphabet.size())];
        } else if (rng.Chance(80)) {
          t += static_cast<char>(0x20 + rng.Below(0x5f));
        } else {
          t += rng.Pick(kSpecial);
        }
      }
      corpus.push_back(t);
    }
  }
  for (const std::vector<std::string>* texts : {&kEdgeTexts, &kEdgeUtf8}) {
    for (const std::string& t : *texts) {
      corpus.push_back(t);
      corpus.push_back(t + "\n");
    }
  }

  // --- compare ---
  const size_t np = patterns.size();
  std::vector<size_t> positives(np, 0), negatives(np, 0);
  size_t mismatches = 0, total_positive = 0, compared = 0;
  std::set<size_t> reported;  // one printed mismatch per pattern
  for (const std::string& text : corpus) {
    const std::vector<bool> g = cmp.Gavel(text);
    const std::string norm = cmp.Normalized(text);
    for (size_t i = 0; i < np; ++i) {
      if (!cmp.compared(i)) continue;
      const bool r = cmp.Re2(i, norm);
      (r ? positives : negatives)[i]++;
      total_positive += g[i];
      if (g[i] == r) continue;
      ++mismatches;
      if (reported.size() >= 20 || !reported.insert(i).second) continue;
      const std::string small = cmp.Shrink(i, text);
      const bool small_gavel = cmp.Gavel(small)[i];
      ADD_FAILURE() << "gavel and RE2 disagree\n  pattern: " << patterns[i].origin << " "
                    << (patterns[i].regex ? "/" + patterns[i].source + "/" : Escape(patterns[i].source))
                    << (patterns[i].caseless ? " caseless" : "") << "\n  text:    " << Escape(text)
                    << "\n  gavel: " << (g[i] ? "match" : "no match") << ", RE2: " << (r ? "match" : "no match")
                    << "\n  shrunk:  " << Escape(small) << " (gavel: " << (small_gavel ? "match" : "no match")
                    << ", RE2: " << (small_gavel ? "no match" : "match") << ")";
    }
  }
  for (size_t i = 0; i < np; ++i) {
    if (!cmp.compared(i)) continue;
    ++compared;
    EXPECT_GT(positives[i], 0u) << "no text in the corpus matches " << patterns[i].origin << " /" << patterns[i].source
                                << "/";
    EXPECT_GT(negatives[i], 0u) << "every text matches " << patterns[i].origin;
  }
  EXPECT_EQ(mismatches, 0u) << "(pattern, text) pairs where gavel and RE2 disagree (at most one printed per pattern)";
  std::printf(
      "re2 differential: %zu patterns compared (%zu skipped), %zu texts, %zu positive detections, %zu mismatches\n",
      compared, cmp.skipped().size(), corpus.size(), total_positive, mismatches);
}

}  // namespace
}  // namespace gavel
